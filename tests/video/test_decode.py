"""Decoding, the simulated camera, the clip writer, and every bad-input path."""

from __future__ import annotations

import os
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from syslab.common.data import lab_data
from syslab.common.errors import UserError
from syslab.video.decode import (
    Frame,
    downscale,
    downscale_reference,
    frames,
    paced,
    probe,
    write_video,
)
from syslab.video.workloads import CLIPS

from .conftest import FPS, GOP, HEIGHT, WIDTH


def user_error(call, *args, **kwargs) -> str:
    """Run `call` (draining it if it returns an iterator) and return its UserError line."""
    with pytest.raises(UserError) as info:
        result = call(*args, **kwargs)
        if hasattr(result, "__next__"):
            list(result)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- probe and decode --------------------------------------------------------------------


def test_probe_reports_the_written_clip(clip) -> None:
    info = probe(clip.path)
    n = len(clip.images)
    assert (info.codec, info.width, info.height, info.fps) == ("h264", WIDTH, HEIGHT, FPS)
    assert info.frames == n
    assert info.duration_s == pytest.approx(n / FPS, abs=0.15)
    assert probe(str(clip.avi)).codec == "mpeg4"


@pytest.mark.parametrize("which", ["path", "avi"])
def test_decode_gives_every_frame_with_full_range_gray(clip, which) -> None:
    decoded = list(frames(getattr(clip, which)))
    assert [f.index for f in decoded] == list(range(len(clip.images)))
    assert [f.t for f in decoded] == pytest.approx([i / FPS for i in range(len(decoded))])
    for f in decoded:
        assert f.gray.shape == (HEIGHT, WIDTH) and f.gray.dtype == np.uint8
        assert f.bgr.shape == (HEIGHT, WIDTH, 3)
        # The Y plane, stretched to full range, is the BGR frame's brightness: within
        # 2 levels (swscale rounds fast, not exactly) except at the edges of saturated
        # objects, where the BGR conversion clips colours out of gamut.
        diff = np.abs(f.gray.astype(int) - cv2.cvtColor(f.bgr, cv2.COLOR_BGR2GRAY))
        assert np.percentile(diff, 99.9) <= 3 and diff.mean() < 1.5 and diff.max() <= 12
    # Compression loses detail, not content: close to what was rendered.
    err = np.abs(decoded[-1].bgr.astype(int) - clip.images[-1]).mean()
    assert err < 8


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_colour_is_made_on_demand_in_the_gray_path(clip, backend) -> None:
    coloured = [f.bgr for f in frames(clip.path, backend=backend, color=True)]
    for f, bgr in zip(frames(clip.path, backend=backend, color=False), coloured, strict=True):
        assert f.bgr is None
        assert np.array_equal(f.to_bgr(), bgr)
        assert f.to_bgr() is f.bgr  # converted once


def test_small_frames_stretch_after_shrinking_as_if_before(clip) -> None:
    decoded = list(frames(clip.path, color=False))
    assert any(f.limited for f in decoded)  # H.264 in yuv420p: limited range, stretched
    for f in decoded:
        for width in (160, 64, WIDTH):
            a, b = f.small(width).astype(int), downscale(f.gray, width).astype(int)
            assert a.shape == b.shape
            assert np.abs(a - b).max() <= 2 and np.abs(a - b).mean() < 0.6


def test_gray_only_path_matches_the_colour_path(clip) -> None:
    colour = list(frames(clip.path, color=True))
    gray = list(frames(clip.path, color=False))
    assert len(gray) == len(colour)
    for g, c in zip(gray, colour, strict=True):
        assert g.bgr is None
        assert np.array_equal(g.gray, c.gray)


@pytest.mark.parametrize("which", ["path", "avi"])
def test_pyav_and_opencv_agree(clip, which) -> None:
    path = getattr(clip, which)
    ours = list(frames(path, color=False))
    cv = list(frames(path, backend="opencv"))
    assert len(cv) == len(ours) == len(clip.images)
    assert [f.index for f in cv] == [f.index for f in ours]
    for a, b in zip(ours, cv, strict=True):
        assert np.abs(a.gray.astype(int) - b.gray).mean() < 1.5
    assert all(f.bgr is None for f in frames(path, backend="opencv", color=False))


@pytest.mark.parametrize("which", ["path", "avi"])
def test_keyframes_only_is_a_subset_with_true_indices(clip, which) -> None:
    path = getattr(clip, which)
    full = {f.index: f.gray for f in frames(path, color=False)}
    keys = list(frames(path, keyframes_only=True))
    indices = [f.index for f in keys]
    assert indices == sorted(set(indices))
    assert set(range(0, len(full), GOP)) <= set(indices) < set(full)
    for f in keys:
        # A keyframe decodes alone to exactly the picture the full decode shows there.
        assert np.array_equal(f.gray, full[f.index])
        assert f.t == pytest.approx(f.index / FPS)
        assert f.bgr is not None


def test_limit(clip) -> None:
    assert [f.index for f in frames(clip.path, limit=5)] == [0, 1, 2, 3, 4]
    assert len(list(frames(clip.path, backend="opencv", limit=3))) == 3
    assert list(frames(clip.path, limit=0)) == []
    assert len(list(frames(clip.path, keyframes_only=True, limit=2))) == 2


def test_downscale_keeps_the_aspect_ratio() -> None:
    gray = np.random.default_rng(0).integers(0, 256, (360, 640), dtype=np.uint8)
    assert downscale(gray).shape == (90, 160)
    assert downscale(gray, 320).shape == (180, 320)
    # a non-integer factor rounds down to an integer one: at least `width` wide
    assert downscale(np.zeros((432, 768), np.uint8)).shape == (108, 192)
    assert downscale(np.zeros((432, 768, 3), np.uint8), 64).shape == (36, 64, 3)
    small = downscale(np.full((240, 320), 77, np.uint8), 100)
    assert small.shape == (80, 106) and small.dtype == np.uint8 and (small == 77).all()
    assert downscale(gray, 640) is gray


@pytest.mark.parametrize("shape, width", [
    ((720, 1280), 160),     # factor 8: three halvings
    ((432, 768, 3), 64),    # factor 12: two halvings, then 3
    ((366, 645), 160),      # factor 4 with a ragged border to cut
    ((240, 321), 100),      # factor 3: one odd step
    ((1080, 1920), 160),    # factor 12
])
def test_downscale_by_halvings_is_the_block_mean(shape, width) -> None:
    rng = np.random.default_rng(len(shape) + width)
    image = cv2.GaussianBlur(rng.integers(0, 256, shape, dtype=np.uint8), (5, 5), 2)
    fast, ref = downscale(image, width), downscale_reference(image, width)
    assert fast.shape == ref.shape and fast.dtype == np.uint8
    # each halving rounds to whole levels: at most one level from the one-step mean
    assert np.abs(fast.astype(int) - ref.astype(int)).max() <= 1
    k = shape[1] // width
    block = image[:k, :k].astype(float).mean(axis=(0, 1))
    assert np.abs(fast[0, 0].astype(float) - block).max() <= 1.5


# --- the simulated camera ----------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.now += seconds


def fake_frames(indices) -> list[Frame]:
    return [Frame(index=i, t=i / 10, luma=np.zeros((2, 2), np.uint8), bgr=None)
            for i in indices]


def test_paced_releases_frames_at_the_clip_rate() -> None:
    clock = FakeClock()
    out = [(f.index, t) for f, t in paced(fake_frames(range(5)), 10.0, clock=clock,
                                          sleep=clock.sleep)]
    assert [i for i, _ in out] == [0, 1, 2, 3, 4]
    assert [t for _, t in out] == pytest.approx([100.0, 100.1, 100.2, 100.3, 100.4])
    assert clock.slept == pytest.approx([0.1] * 4)


def test_paced_slow_consumer_gets_frames_late_not_dropped() -> None:
    clock = FakeClock()
    released = []
    for frame, t in paced(fake_frames(range(4)), 10.0, clock=clock, sleep=clock.sleep):
        released.append((frame.index, t))
        clock.now += 0.25  # the consumer works 2.5 frame times per frame
    assert [i for i, _ in released] == [0, 1, 2, 3]
    assert [t for _, t in released] == pytest.approx([100.0, 100.25, 100.5, 100.75])
    assert clock.slept == []


def test_paced_uses_frame_numbers_so_keyframes_keep_their_time() -> None:
    clock = FakeClock(5.0)
    times = [t for _, t in paced(fake_frames([0, 10, 20]), 10.0, clock=clock,
                                 sleep=clock.sleep)]
    assert times == pytest.approx([5.0, 6.0, 7.0])
    assert "rate" in user_error(paced, fake_frames([0]), 0.0)


# --- the writer ----------------------------------------------------------------------------


def test_write_video_fastdecode_leaves_out_cabac_and_deblocking(tmp_path: Path) -> None:
    images = [np.full((64, 96, 3), 40 * k, np.uint8) for k in range(5)]
    plain, fast = tmp_path / "plain.mp4", tmp_path / "fast.mp4"
    write_video(plain, images, 10)
    write_video(fast, images, 10, tune="fastdecode")
    # x264 writes its settings into the stream as text
    assert b"cabac=1" in plain.read_bytes() and b"deblock=1" in plain.read_bytes()
    assert b"cabac=0" in fast.read_bytes() and b"deblock=0" in fast.read_bytes()
    assert len(list(frames(fast))) == 5


def test_write_video_roundtrip_mpeg4(tmp_path: Path) -> None:
    images = [np.full((64, 96, 3), 40 * k, np.uint8) for k in range(5)]
    path = tmp_path / "sub" / "flat.avi"
    assert write_video(path, iter(images), 12.5, codec="mpeg4") == 5
    info = probe(path)
    assert (info.codec, info.width, info.height, info.fps) == ("mpeg4", 96, 64, 12.5)
    grays = [f.gray for f in frames(path, color=False)]
    assert [int(np.median(g)) for g in grays] == pytest.approx([0, 40, 80, 120, 160], abs=3)


def test_write_video_refuses_bad_frames(tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    frame = np.zeros((64, 64, 3), np.uint8)
    assert "odd" in user_error(write_video, out, [np.zeros((63, 64, 3), np.uint8)], 10)
    assert "first was" in user_error(write_video, out, [frame, np.zeros((32, 32, 3), np.uint8)],
                                     10)
    assert "uint8" in user_error(write_video, out, [frame.astype(np.float32)], 10)
    assert "uint8" in user_error(write_video, out, [frame[:, :, 0]], 10)
    assert "no frames" in user_error(write_video, out, [], 10)
    assert "rate" in user_error(write_video, out, [frame], 0)
    assert "encoder" in user_error(write_video, out, [frame], 10, codec="nosuchcodec")
    assert "refused its settings" in user_error(write_video, out, [frame], 10, tune="nosuch")
    assert not out.exists()
    odd_name = tmp_path / "x.notaformat"
    assert user_error(write_video, odd_name, [frame], 10).startswith(f"{odd_name}: cannot write")


# --- bad input: one UserError line naming the file ---------------------------------------


def test_missing_file_and_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    assert user_error(probe, missing) == f"{missing}: no such file"
    assert user_error(frames, missing) == f"{missing}: no such file"
    assert user_error(frames, tmp_path) == f"{tmp_path}: not a file"


@pytest.mark.parametrize("content", ["random", "empty", "header40", "header500", "header1000"])
def test_not_a_video(clip, tmp_path: Path, content: str) -> None:
    path = tmp_path / f"{content}.mp4"
    if content.startswith("header"):  # cut inside the MP4 header (index at the front)
        data = clip.path.read_bytes()[:int(content.removeprefix("header"))]
    else:
        data = np.random.default_rng(1).bytes(20_000) if content == "random" else b""
    path.write_bytes(data)
    for backend in ("pyav", "opencv"):
        message = user_error(frames, path, backend=backend)
        assert message.startswith(f"{path}: not a readable video")


def test_audio_only_file(tmp_path: Path) -> None:
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    assert user_error(probe, path) == f"{path}: no video stream (found: audio)"


def test_no_decoder_for_the_codec(clip, tmp_path: Path) -> None:
    data = clip.avi.read_bytes()
    tag = next(t for t in (b"FMP4", b"XVID", b"DIVX") if t in data)
    path = tmp_path / "unknown.avi"
    path.write_bytes(data.replace(tag, b"QQQQ"))  # a FourCC no FFmpeg decoder claims
    assert user_error(frames, path) == (
        f"{path}: no decoder for the video codec in this FFmpeg build")


def test_stream_without_frames(tmp_path: Path) -> None:
    path = tmp_path / "empty.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 64
        container.start_encoding()  # header and trailer, not a single packet
    assert probe(path).codec == "mpeg4"
    for backend in ("pyav", "opencv"):
        message = user_error(frames, path, backend=backend)
        assert message == f"{path}: the video stream has no decodable frames"


def avi_chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, size) of each video chunk ('00dc') in an AVI's movi list."""
    chunks, at = [], data.index(b"movi") + 4
    while data[at:at + 4] == b"00dc":
        size = int.from_bytes(data[at + 4:at + 8], "little")
        chunks.append((at + 8, size))
        at += 8 + size + (size & 1)
    return chunks


def test_every_packet_garbage_decodes_nothing(clip, tmp_path: Path) -> None:
    data = bytearray(clip.avi.read_bytes())
    rng = np.random.default_rng(2)
    chunks = avi_chunks(bytes(data))
    assert len(chunks) == len(clip.images)
    for offset, size in chunks:
        data[offset:offset + size] = rng.bytes(size)
    path = tmp_path / "garbage.avi"
    path.write_bytes(bytes(data))
    assert user_error(frames, path) == f"{path}: the video stream has no decodable frames"


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_corrupt_middle_is_skipped_not_fatal(clip, tmp_path: Path, damage: str) -> None:
    # Decision (decode.py): a packet the decoder rejects is skipped, as ffmpeg does; the
    # iteration never ends in a raw av exception.
    data = bytearray(clip.path.read_bytes())
    middle = len(data) // 2
    if damage == "truncated":
        data = data[:middle]
    else:
        data[middle:middle + 3000] = np.random.default_rng(3).bytes(3000)
    path = tmp_path / f"{damage}.mp4"
    path.write_bytes(bytes(data))
    n = len(clip.images)
    decoded = list(frames(path, color=False))
    assert 0 < len(decoded) <= n
    if damage == "truncated":
        assert len(decoded) < n
    assert [f.index for f in decoded] == list(range(len(decoded)))
    assert 0 < len(list(frames(path, backend="opencv"))) <= n
    assert len(list(frames(path, keyframes_only=True))) >= 1


def test_bad_arguments(clip) -> None:
    assert "unknown decoding backend 'ffmpeg'" in user_error(frames, clip.path,
                                                             backend="ffmpeg")
    message = user_error(frames, clip.path, backend="opencv", keyframes_only=True)
    assert message.startswith(f"{clip.path}: keyframes_only needs the pyav backend")
    assert "limit" in user_error(frames, clip.path, limit=-1)


# --- real clips, when the shared data is there -------------------------------------------

DATA = lab_data("video")
needs_data = pytest.mark.skipif(DATA is None, reason="no shared video data")


@needs_data
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_real_clips_decode_with_both_backends(name: str) -> None:
    path = DATA / CLIPS[name].file
    info = probe(path)
    assert info.fps > 0 and info.width > 0
    ours = list(frames(path, limit=5))
    theirs = list(frames(path, backend="opencv", limit=5))
    for a, b in zip(ours, theirs, strict=True):
        assert a.gray.shape == (info.height, info.width)
        assert np.abs(a.gray.astype(int) - b.gray).mean() < 2


@needs_data
def test_real_avi_keyframes_keep_their_frame_numbers() -> None:
    # The highway AVI has placeholder packets for dropped frames and no presentation
    # times: ffmpeg's guessed times put its keyframes at 302 and 749 instead of 300, 600.
    path = DATA / CLIPS["highway"].file
    full = [f.gray for f in frames(path, color=False)]
    assert len(full) == 748
    keys = list(frames(path, color=False, keyframes_only=True))
    assert [f.index for f in keys] == [0, 300, 600]
    assert all(np.array_equal(f.gray, full[f.index]) for f in keys)


def test_no_stray_output_files(tmp_path: Path) -> None:
    # A refused write leaves nothing behind but what the caller asked for.
    before = set(os.listdir(tmp_path))
    frame = np.zeros((32, 32, 3), np.uint8)
    user_error(write_video, tmp_path / "odd.mp4", [np.zeros((3, 3, 3), np.uint8)], 10)
    user_error(write_video, tmp_path / "codec.mp4", [frame], 10, codec="nosuchcodec")
    user_error(write_video, tmp_path / "late.mp4", [frame] * 3 + [frame[:16]], 10)
    assert set(os.listdir(tmp_path)) == before
