"""The reference run's cache and the median smoothing of its answers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from syslab.common.data import lab_data
from syslab.common.errors import UserError
from syslab.video.decode import frames, write_video
from syslab.video.detectors import COCO_NAMES, Detector, load_detector
from syslab.video.query import parse_query
from syslab.video.reference import (
    reference_answers,
    reference_detections,
    reference_run,
    smooth,
)

# --- smooth --------------------------------------------------------------------------------


def brute_median(values: np.ndarray, window: int) -> np.ndarray:
    n, half = len(values), window // 2
    out = []
    for i in range(n):
        h = min(half, i, n - 1 - i)
        out.append(np.median(values[i - h:i + h + 1]))
    return np.array(out)


def test_window_one_is_identity() -> None:
    x = np.array([3, 0, 7, 1, 1, 9], np.int64)
    np.testing.assert_array_equal(smooth(x, 1), x)


def test_removes_short_spikes_and_dips() -> None:
    x = np.array([2] * 8 + [6] + [2] * 8 + [0, 0] + [2] * 8)
    np.testing.assert_array_equal(smooth(x, 9), np.full(len(x), 2))
    # A blip of 4 frames is flicker to a 9-frame median, one of 5 frames is not.
    np.testing.assert_array_equal(smooth(np.array([0] * 10 + [1] * 4 + [0] * 10), 9), 0)
    kept = np.array([0] * 10 + [1] * 5 + [0] * 10)
    np.testing.assert_array_equal(smooth(kept, 9), kept)


def test_keeps_steps_in_place() -> None:
    x = np.array([0] * 12 + [3] * 12 + [1] * 12)
    np.testing.assert_array_equal(smooth(x, 9), x)


def test_integers_stay_integers_and_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    for n in (0, 1, 2, 3, 4, 8, 9, 10, 57):
        x = rng.integers(0, 6, n)
        for window in (1, 3, 5, 9, 21):
            got = smooth(x, window)
            assert got.dtype == x.dtype
            np.testing.assert_array_equal(got, brute_median(x, window) if n else x)
    f = rng.normal(size=30)
    np.testing.assert_allclose(smooth(f, 7), brute_median(f, 7))


def test_ends_shrink_the_window_symmetrically() -> None:
    # The first and last frames have a window of one: kept as they are.
    x = np.array([5, 0, 0, 0, 0, 0, 0, 0, 4])
    np.testing.assert_array_equal(smooth(x, 9), [5, 0, 0, 0, 0, 0, 0, 0, 4])


@pytest.mark.parametrize("window", [0, 2, 8, -3, 2.5])
def test_bad_window(window) -> None:
    with pytest.raises(UserError, match="odd number of frames"):
        smooth(np.zeros(5, np.int64), window)


def test_not_one_dimensional() -> None:
    with pytest.raises(UserError, match="1-d"):
        smooth(np.zeros((3, 3)), 3)


# --- the cached reference run --------------------------------------------------------------


class CountingDetector(Detector):
    """One car per 64 grey levels of the frame's mean; counts its calls."""

    name = "counting"

    def __init__(self, conf: float = 0.5) -> None:
        self.conf, self.calls = conf, 0

    @property
    def signature(self) -> str:
        return f"{self.name} conf={self.conf}"

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        self.calls += 1
        k = int(bgr.mean() // 64)
        return np.tile(np.array([[0, 0, 4, 4, 0.9, COCO_NAMES.index("car")]], np.float32),
                       (k, 1))


LEVELS = [10, 10, 200, 10, 10, 10, 130, 130, 130, 130, 130, 130, 70, 70]  # per frame


def write_clip(path: Path, levels: list[int]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for level in levels:
        writer.write(np.full((48, 64, 3), level, np.uint8))
    writer.release()
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_clip(tmp_path / "flat.avi", LEVELS)


def test_second_run_reads_the_cache(clip: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    det = CountingDetector()
    first = reference_run(clip, det, cache_dir=cache, progress=False)
    assert not first.cached and det.calls == len(LEVELS)
    assert [len(d) for d in first.dets] == [v // 64 for v in LEVELS]
    assert first.cpu_s.shape == (len(LEVELS),) and (first.cpu_s >= 0).all()
    assert first.cache.is_file() and first.cache.parent == cache

    again = CountingDetector()
    second = reference_run(clip, again, cache_dir=cache, progress=False)
    assert second.cached and again.calls == 0
    for a, b in zip(first.dets, second.dets, strict=True):
        assert b.dtype == np.float32 and b.shape[1] == 6
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.cpu_s, second.cpu_s)
    dets = reference_detections(clip, again, cache_dir=cache, progress=False)
    assert again.calls == 0 and len(dets) == len(LEVELS)


def test_cache_misses_on_other_thresholds_or_other_bytes(clip: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    reference_run(clip, CountingDetector(), cache_dir=cache, progress=False)
    other = CountingDetector(conf=0.3)
    assert not reference_run(clip, other, cache_dir=cache, progress=False).cached
    assert other.calls == len(LEVELS)
    write_clip(clip, LEVELS[::-1])  # same name, same size class, different content
    again = CountingDetector()
    run = reference_run(clip, again, cache_dir=cache, progress=False)
    assert not run.cached and again.calls == len(LEVELS)
    assert [len(d) for d in run.dets] == [v // 64 for v in LEVELS[::-1]]


def test_unreadable_cache_is_recomputed(clip: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run = reference_run(clip, CountingDetector(), cache_dir=cache, progress=False)
    run.cache.write_bytes(b"not an npz")
    det = CountingDetector()
    assert not reference_run(clip, det, cache_dir=cache, progress=False).cached
    assert det.calls == len(LEVELS)


def test_reference_answers_are_smoothed_counts(clip: Path, tmp_path: Path) -> None:
    q = parse_query("count:car,truck", COCO_NAMES)
    raw = np.array([v // 64 for v in LEVELS])
    got = reference_answers(clip, CountingDetector(), q, 3, cache_dir=tmp_path,
                            progress=False)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, smooth(raw, 3))
    assert got[2] == 0  # the one-frame spike is gone
    none = reference_answers(clip, CountingDetector(), parse_query("presence:person",
                                                                    COCO_NAMES),
                             cache_dir=tmp_path, progress=False)
    assert not none.any()


def test_missing_video(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        reference_detections(tmp_path / "nope.mp4", CountingDetector(), cache_dir=tmp_path)


def test_not_a_video(tmp_path: Path) -> None:
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"definitely not a video" * 50)
    with pytest.raises(UserError, match="clip.mp4"):
        reference_detections(bad, CountingDetector(), cache_dir=tmp_path, progress=False)


DATA = lab_data("video")


@pytest.mark.skipif(DATA is None or not (DATA / "models").is_dir(),
                    reason="needs the video lab's shared data (models and clips)")
def test_reference_on_a_real_clip(tmp_path: Path) -> None:
    # The first 16 frames of the highway clip, re-encoded: the real decode -> Yolo-Fastest-XL
    # -> count -> median path, small enough for a unit test.
    head = [f.bgr for f in frames(DATA / "highway_bgslibrary_video02.avi", limit=16)]
    clip = tmp_path / "head.mp4"
    write_video(clip, head, 25)
    det = load_detector("yolo-fastest-xl")
    q = parse_query("count:car,truck,bus", det.classes)
    run = reference_run(clip, det, cache_dir=tmp_path, progress=False)
    assert len(run.dets) == 16 and run.cpu_s.shape == (16,) and run.cpu_s.sum() > 0
    got = reference_answers(clip, det, q, cache_dir=tmp_path, progress=False)
    assert got.shape == (16,) and (got >= 1).all()  # the road is never empty
