"""Frames from video files (PyAV or OpenCV), a simulated live camera, and a clip writer.

Two decoding backends yield the same `Frame` records:
- `pyav` (default): one decoding thread; with `color=False` the brightness plane is the
  decoder's own Y plane (no colour conversion at all), and `keyframes_only=True` hands
  the decoder the keyframe packets alone (CoVA-style: decode only what is needed);
- `opencv`: `cv2.VideoCapture` (its FFmpeg backend, one thread), brightness through
  `cv2.cvtColor`; kept as the baseline every video-analytics prototype starts from.

`gray` always holds full-range brightness (0-255, BT.601 weights), whatever the backend
or the `color` flag, so that thresholds tuned on one path hold on the others. Filters only
ever look at a shrunken frame, so `Frame.small` shrinks the decoder's own Y plane first
and stretches it to full range after: the stretch then touches a few thousand pixels
instead of a whole frame (benchmarks/video/decode.py times both: "pyav gray" is the
full-size stretch, "pyav gray small" the filters' whole path, shrink included).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from syslab.common.errors import UserError

BACKENDS = ("pyav", "opencv")

# Limited ("TV") range luma maps 16..235 onto 0..255; one saturating multiply-add in
# OpenCV is the cheapest way found (0.38 ms at 720p vs 0.59 ms for cv2.LUT and 1.4 ms
# for PyAV's own gray conversion, which goes through swscale and a new frame).
_Y_ALPHA = 255.0 / 219.0
_Y_BETA = -16.0 * _Y_ALPHA
# Pixel formats whose plane 0 is 8-bit luma, and those already in full range.
_Y_PLANE_FORMATS = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
                    "nv12", "nv21", "gray"}
_FULL_RANGE_FORMATS = {"yuvj420p", "yuvj422p", "yuvj444p", "gray"}
_JPEG_RANGE = 2  # AVColorRange AVCOL_RANGE_JPEG


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a file's first video stream."""

    path: Path
    codec: str
    width: int
    height: int
    fps: float  # 0.0 when the container gives no rate
    frames: int  # the container's frame count, 0 if unknown
    duration_s: float  # 0.0 when unknown


@dataclass
class Frame:
    """One decoded frame."""

    index: int  # frame number in the full stream, from 0
    t: float  # presentation time, seconds from the first frame
    luma: np.ndarray  # (H, W) uint8 brightness (Y) plane as decoded
    bgr: np.ndarray | None  # (H, W, 3) uint8, None in the gray-only fast path
    limited: bool = False  # luma is in limited ("TV") range, 16..235
    # What `to_bgr` converts when `bgr` was not made: the decoder's frame (PyAV) or the
    # BGR array OpenCV decodes anyway.
    source: av.VideoFrame | np.ndarray | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def gray(self) -> np.ndarray:
        """(H, W) uint8 full-range brightness."""
        return _full_range(self.luma) if self.limited else self.luma

    def to_bgr(self) -> np.ndarray:
        """The frame in BGR, converted on first use in the gray-only path (a camera needs
        colour only for the frames it sends or shows a CNN)."""
        if self.bgr is None:
            if self.source is None:
                raise ValueError(f"frame {self.index} was decoded without colour")
            self.bgr = (self.source if isinstance(self.source, np.ndarray)
                        else self.source.to_ndarray(format="bgr24"))
        return self.bgr

    def small(self, width: int) -> np.ndarray:
        """Full-range brightness shrunk as `downscale(gray, width)` would (within a level
        of rounding), stretched after shrinking."""
        shrunk = downscale(self.luma, width)
        return _full_range(shrunk) if self.limited else shrunk


def _error_text(err: BaseException) -> str:
    """FFmpeg's message without the errno and the file name PyAV appends."""
    text = getattr(err, "strerror", None) or str(err)
    return " ".join(str(text).split())


def _open(path: Path) -> av.container.InputContainer:
    """Open `path` for reading; every way this can fail becomes one UserError line."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError) as err:
        raise UserError(f"{path}: not a readable video ({_error_text(err)})") from None


def _video_stream(path: Path, container: av.container.InputContainer) -> av.VideoStream:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        container.close()
        if not kinds:  # e.g. an MP4 cut inside its header
            raise UserError(f"{path}: not a readable video (no streams in it)")
        raise UserError(f"{path}: no video stream (found: {', '.join(kinds)})")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise UserError(f"{path}: no decoder for the video codec in this FFmpeg build")
    return stream


def _rate(stream: av.VideoStream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    return 0.0


def _info(path: Path, container: av.container.InputContainer,
          stream: av.VideoStream) -> VideoInfo:
    fps = _rate(stream)
    frames = int(stream.frames or 0)
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    elif frames and fps:
        duration = frames / fps
    else:
        duration = 0.0
    ctx = stream.codec_context
    return VideoInfo(path=path, codec=ctx.name, width=ctx.width, height=ctx.height, fps=fps,
                     frames=frames, duration_s=duration)


def probe(path: Path | str) -> VideoInfo:
    """Codec, size, rate, frame count and duration of the first video stream of `path`."""
    path = Path(path)
    container = _open(path)
    try:
        return _info(path, container, _video_stream(path, container))
    finally:
        container.close()


def frames(
    path: Path | str,
    *,
    backend: str = "pyav",
    color: bool = True,
    keyframes_only: bool = False,
    limit: int | None = None,
) -> Iterator[Frame]:
    """The frames of `path`, in order.

    `color=False` skips the colour conversion (`bgr` is None until `to_bgr` makes it);
    `keyframes_only` decodes the keyframes alone (PyAV only), each keeping its number in
    the full stream; `limit` stops after that many frames.
    """
    path = Path(path)
    if backend not in BACKENDS:
        raise UserError(f"{path}: unknown decoding backend {backend!r} (known: "
                        f"{', '.join(BACKENDS)})")
    if limit is not None and limit < 0:
        raise UserError(f"{path}: frame limit must be >= 0, got {limit}")
    if keyframes_only and backend != "pyav":
        raise UserError(f"{path}: keyframes_only needs the pyav backend "
                        "(cv2.VideoCapture cannot skip non-key frames)")
    info = probe(path)  # the same checks and messages for both backends
    if backend == "pyav":
        return _pyav_frames(info, color, keyframes_only, limit)
    return _opencv_frames(info, color, limit)


def _full_range(y: np.ndarray) -> np.ndarray:
    return cv2.convertScaleAbs(y, alpha=_Y_ALPHA, beta=_Y_BETA)


def _luma(frame: av.VideoFrame) -> tuple[np.ndarray, bool]:
    """A decoded frame's brightness plane and whether it is in limited range."""
    fmt = frame.format.name
    if fmt not in _Y_PLANE_FORMATS:
        return frame.to_ndarray(format="gray"), False  # e.g. RGB codecs: swscale converts
    plane = frame.planes[0]
    # The plane is padded to its line size; a view of the first `width` bytes per row
    # costs nothing (it keeps the frame's buffer alive, which the decoder never reuses
    # while referenced).
    y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
    return y, not (fmt in _FULL_RANGE_FORMATS or frame.color_range == _JPEG_RANGE)


def _pyav_frames(info: VideoInfo, color: bool, keyframes_only: bool,
                 limit: int | None) -> Iterator[Frame]:
    path = info.path
    container = _open(path)
    try:
        stream = _video_stream(path, container)
        ctx = stream.codec_context
        # One thread: a camera has a core or less to spare, and the benchmark measures
        # frames per second per core. Frame threading would also delay every frame.
        ctx.thread_count = 1
        ctx.thread_type = "NONE"
        if keyframes_only:
            ctx.skip_frame = "NONKEY"
        fps = info.fps
        # AVI stores no presentation times (ffmpeg numbers its packets, and the 1-byte
        # packets for dropped frames shift those numbers), so there a keyframe's number
        # is the count of frame-bearing packets before it; other containers carry real
        # presentation times, exact also for open GOPs.
        count_packets = "avi" in container.format.name or not fps
        time_base = stream.time_base
        key_index: dict[int | None, int] = {}  # keyframe packet pts -> frame number
        origin: int | None = None  # pts of the first keyframe
        packets_seen = 0
        n = 0
        demux = container.demux(stream)
        while limit is None or n < limit:
            try:
                packet = next(demux)
            except StopIteration:
                break
            except av.error.FFmpegError as err:
                raise UserError(f"{path}: unreadable container data after frame "
                                f"{n} ({_error_text(err)})") from None
            if keyframes_only and packet.size:  # (size 0: the final flush packet)
                if packet.size == 1:
                    continue  # AVI marks a dropped frame with a 1-byte packet: no picture in it
                if not packet.is_keyframe:
                    packets_seen += 1
                    continue
                key_index[packet.pts] = packets_seen
                packets_seen += 1
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:
                # A corrupt packet: skip it and go on, as ffmpeg itself does (it conceals
                # damage inside a frame and drops a frame it cannot decode). A camera
                # stream with a damaged packet should not end the analysis; the frame
                # numbers then count the frames actually decoded.
                continue
            for frame in decoded:
                if keyframes_only:
                    if count_packets or frame.pts is None or time_base is None:
                        index = key_index.get(frame.pts, n)
                    else:
                        if origin is None:  # streams start with a keyframe
                            origin = frame.pts
                        index = round(float((frame.pts - origin) * time_base) * fps)
                else:
                    index = n
                bgr = frame.to_ndarray(format="bgr24") if color else None
                # t from the frame number: AVI's guessed timestamps are not monotonic,
                # and all clips here are constant-rate.
                t = index / fps if fps else float(frame.time or 0.0)
                luma, limited = _luma(frame)
                yield Frame(index=index, t=t, luma=luma, bgr=bgr, limited=limited,
                            source=None if color else frame)
                n += 1
                if limit is not None and n >= limit:
                    break
        if n == 0 and limit != 0:
            raise UserError(f"{path}: the video stream has no decodable frames")
    finally:
        container.close()


def _opencv_frames(info: VideoInfo, color: bool, limit: int | None) -> Iterator[Frame]:
    path = info.path
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    try:
        if not cap.isOpened():
            raise UserError(f"{path}: OpenCV cannot open this video")
        fps = info.fps or float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n = 0
        while limit is None or n < limit:
            ok, bgr = cap.read()
            if not ok:
                break
            gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
            yield Frame(index=n, t=n / fps if fps else 0.0, luma=gray,
                        bgr=bgr if color else None, source=None if color else bgr)
            n += 1
        if n == 0 and limit != 0:
            raise UserError(f"{path}: the video stream has no decodable frames")
    finally:
        cap.release()


def paced(
    source: Iterable[Frame],
    fps: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[Frame, float]]:
    """A simulated live camera: each frame with the time it was released.

    Frame k (by `Frame.index`, counted from the first frame's) is released no earlier
    than start + k / fps, sleeping until then. A consumer that falls behind gets frames
    late, never dropped: the lag (capture time minus due time) is what it measures.
    """
    if not fps > 0:
        raise UserError(f"camera rate must be > 0 frames/s, got {fps}")
    start: float | None = None
    first = 0
    for frame in source:
        if start is None:
            start, first = clock(), frame.index
        due = start + (frame.index - first) / fps
        now = clock()
        if now < due:
            sleep(due - now)
            now = clock()
        yield frame, now


def downscale(image: np.ndarray, width: int = 160) -> np.ndarray:
    """`image` (brightness or colour) shrunk by the integer factor that leaves it at least
    `width` columns wide (area averaging; a border of fewer than factor pixels is cut).

    An integer factor, not an exact width: OpenCV's area resize has a fast path for
    integer factors, and 768×432 → 160×90 (factor 4.8) takes 1.13 ms of CPU where
    768×432 → 192×108 (factor 4) takes well under 0.2 ms. The factor is applied as
    halvings, then one resize by what is left (odd): OpenCV's 2× area resize is the fastest
    of all, and three halvings take 1280×720 → 160×90 in about a third of the CPU of one
    8× step (benchmarks/video/decode.py, `shrink_720p_ms`). Each halving rounds to whole
    levels, so pixels may differ from the one-step average (`downscale_reference`) by one.
    """
    h, w = image.shape[:2]
    k = max(1, w // width)
    if k == 1:
        return image
    shrunk = image[: (h // k) * k, : (w // k) * k]
    while k % 2 == 0:
        shrunk = cv2.resize(shrunk, (shrunk.shape[1] // 2, shrunk.shape[0] // 2),
                            interpolation=cv2.INTER_AREA)
        k //= 2
    if k > 1:
        shrunk = cv2.resize(shrunk, (shrunk.shape[1] // k, shrunk.shape[0] // k),
                            interpolation=cv2.INTER_AREA)
    return shrunk


def downscale_reference(image: np.ndarray, width: int = 160) -> np.ndarray:
    """What `downscale` computes, as one area resize: the mean of each k×k block."""
    h, w = image.shape[:2]
    k = max(1, w // width)
    if k == 1:
        return image
    h2, w2 = h // k, w // k
    return cv2.resize(image[: h2 * k, : w2 * k], (w2, h2), interpolation=cv2.INTER_AREA)


def write_video(
    path: Path | str,
    frames_bgr: Iterable[np.ndarray],
    fps: float,
    *,
    codec: str = "libx264",
    crf: int = 23,
    preset: str = "medium",
    gop: int | None = None,
    profile: str | None = None,
    tune: str | None = None,
) -> int:
    """Encode BGR frames (all one even size) into `path`; returns the frames written.

    libx264 uses constant quality `crf` at `preset` (and H.264 `profile`, e.g. "baseline",
    and x264 `tune`, e.g. "fastdecode", when given); other codecs (mpeg4) a fixed quantizer
    crf / 6 (ffmpeg's -q:v, 2..31).
    `gop` is the keyframe interval in frames (encoder default when None). MP4/MOV files
    get their index at the front, so a clip cut short stays readable.
    """
    path = Path(path)
    if not fps > 0:
        raise UserError(f"{path}: frame rate must be > 0, got {fps}")
    rate = Fraction(fps).limit_denominator(1001)
    it = iter(frames_bgr)
    first = next(it, None)
    if first is None:
        raise UserError(f"{path}: no frames to write")
    shape = _check_frame(path, 0, first, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "+faststart"} if path.suffix.lower() in (".mp4", ".mov") else {}
    try:
        container = av.open(str(path), mode="w", options=options)
    except (av.error.FFmpegError, ValueError, OSError) as err:
        raise UserError(f"{path}: cannot write a video here ({_error_text(err)})") from None
    n = 0
    try:
        try:
            stream = container.add_stream(codec, rate=rate)
        except (av.error.FFmpegError, ValueError) as err:
            raise UserError(f"{path}: unknown encoder {codec!r} ({_error_text(err)})") from None
        stream.height, stream.width = shape[:2]
        stream.pix_fmt = "yuv420p"
        if gop:
            stream.codec_context.gop_size = int(gop)
        if codec == "libx264":
            options = {"crf": str(crf), "preset": preset}
            if profile:
                options["profile"] = profile
            if tune:
                options["tune"] = tune
            stream.codec_context.options = options
        else:
            q = min(31, max(2, round(crf / 6)))
            stream.codec_context.options = {"flags": "+qscale", "global_quality": str(q * 118)}
        time_base = 1 / rate
        frame = first
        while frame is not None:
            if n:
                _check_frame(path, n, frame, shape)
            # OpenCV's BT.601 limited-range conversion: as swscale's (within one level),
            # twice as fast.
            video_frame = av.VideoFrame.from_ndarray(
                cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
            video_frame.pts = n
            video_frame.time_base = time_base
            try:
                container.mux(stream.encode(video_frame))
            except av.error.FFmpegError as err:  # the encoder opens on the first frame
                raise UserError(f"{path}: {codec} refused its settings "
                                f"({_error_text(err)})") from None
            n += 1
            frame = next(it, None)
        container.mux(stream.encode(None))
    except BaseException:
        container.close()
        path.unlink(missing_ok=True)  # no half-written clip that looks like a result
        raise
    container.close()
    return n


def _check_frame(path: Path, i: int, frame: object, shape: tuple | None) -> tuple:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 \
            or frame.shape[2] != 3:
        got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame)
        raise UserError(f"{path}: frame {i} is not an (H, W, 3) uint8 BGR image ({got})")
    if shape is None and (frame.shape[0] % 2 or frame.shape[1] % 2):
        raise UserError(f"{path}: frame size {frame.shape[1]}x{frame.shape[0]} is odd; "
                        "yuv420p needs even width and height")
    if shape is not None and frame.shape != shape:
        raise UserError(f"{path}: frame {i} is {frame.shape[1]}x{frame.shape[0]}, the "
                        f"first was {shape[1]}x{shape[0]}")
    return frame.shape
