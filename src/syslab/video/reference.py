"""The reference run: a detector on every frame of a clip, cached, and its de-flickered answers.

Ground truth in NoScope and Reducto is the reference model run on every frame. Running
Yolo-Fastest-XL costs ~30 ms CPU per frame, so each (clip, detector) run is cached under
`out/cache/video/` as an .npz, keyed by the clip's size and sha256 and by the detector's
signature (name and thresholds): a rerun, or another filter evaluated on the same clip,
reads it back instantly, and a changed clip or threshold never reads a stale run.
"""

from __future__ import annotations

import hashlib
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from syslab.common.errors import UserError
from syslab.video import decode
from syslab.video.detectors import Detector
from syslab.video.query import Query, counts

CACHE_DIR = Path("out/cache/video")
FORMAT = 1  # bump when the cache layout changes: old files then miss instead of misreading


@dataclass
class ReferenceRun:
    """A detector's output on every frame of one clip, and what it cost."""

    dets: list[np.ndarray]  # per frame, (k, 6) float32
    cpu_s: np.ndarray  # per frame, CPU seconds of detector.detect alone (decode excluded)
    cache: Path  # the .npz it was read from or written to
    cached: bool  # True when read back rather than computed


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as src:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(path: Path, detector: Detector) -> str:
    """What a cached run must match: cache format, clip size + sha256, detector signature."""
    return f"v{FORMAT}|{path.stat().st_size}|{file_sha256(path)}|{detector.signature}"


def reference_run(path: Path, detector: Detector, *, cache_dir: Path = CACHE_DIR,
                  progress: bool = True) -> ReferenceRun:
    """`detector` on every frame of `path`, from the cache when an identical run is there."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"video file {path} does not exist")
    key = cache_key(path, detector)
    tag = hashlib.sha256(key.encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"{path.stem}.{_safe(detector.name)}.{tag}.npz"
    hit = _load(cache, key)
    if hit is not None:
        return ReferenceRun(hit[0], hit[1], cache, True)
    dets, cpu = _run(path, detector, progress)
    _save(cache, key, detector, dets, cpu)
    return ReferenceRun(dets, cpu, cache, False)


def reference_detections(path: Path, detector: Detector, *, cache_dir: Path = CACHE_DIR,
                         progress: bool = True) -> list[np.ndarray]:
    """Per frame of `path`, the detector's (k, 6) detections (cached; see module doc)."""
    return reference_run(path, detector, cache_dir=cache_dir, progress=progress).dets


def smooth(values: np.ndarray, window: int = 9) -> np.ndarray:
    """Centred running median over `window` frames (odd); near the ends the window shrinks
    symmetrically (to 1 at the first and last frame) so it stays centred.

    Why: tiny detectors flicker. On video02 Yolo-Fastest-XL's vehicle count changes between
    consecutive frames on 47% of frames; a 9-frame median cuts that to 11%
    (research/video.md §4), so answers judged against the smoothed count measure a filter,
    not the detector's noise. A median, unlike a mean, keeps a real step where it is and
    returns a value the input had (integers stay integers, same dtype).
    """
    values = np.asarray(values)
    if values.ndim != 1:
        raise UserError(f"smoothing needs a 1-d sequence, got shape {values.shape}")
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1 \
            or window % 2 == 0:
        raise UserError(f"smoothing window must be an odd number of frames >= 1, got {window}")
    n, half = len(values), int(window) // 2
    if half == 0 or n <= 2:
        return values.copy()
    out = values.copy()
    h = min(half, (n - 1) // 2)
    # An odd window's median is its middle element after a partial sort: exact, no float
    # round trip.
    windows = np.lib.stride_tricks.sliding_window_view(values, 2 * h + 1)
    out[h:n - h] = np.partition(windows, h, axis=1)[:, h]
    for i in range(h):  # the ends: windows of 1, 3, ..., 2h - 1 frames
        out[i] = np.partition(values[: 2 * i + 1], i)[i]
        j = n - 1 - i
        out[j] = np.partition(values[j - i:], i)[i]
    return out


def reference_answers(path: Path, detector: Detector, query: Query, smooth_window: int = 9, *,
                      cache_dir: Path = CACHE_DIR, progress: bool = True) -> np.ndarray:
    """Per frame, the smoothed count of the query's classes (int64).

    Every query kind is judged by this count: a presence answer is `counts > 0` taken
    *after* smoothing (smoothing the 0/1 presence bits would be a different, cruder
    filter), a boxes query by its number of boxes.
    """
    dets = reference_detections(path, detector, cache_dir=cache_dir, progress=progress)
    return smooth(counts(query, dets), smooth_window)


# --- running and caching ----------------------------------------------------------------------


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def _run(path: Path, detector: Detector, progress: bool) -> tuple[list[np.ndarray], np.ndarray]:
    dets: list[np.ndarray] = []
    cpu: list[float] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    console = Console(stderr=True)
    with Progress(*columns, console=console, transient=True, disable=not progress) as bar:
        # The container's frame count is only for the bar (None: unknown, a spinner).
        task = bar.add_task(f"{detector.name} on {path.name}",
                            total=decode.probe(path).frames or None)
        for frame in decode.frames(path, color=True):
            bgr = frame.bgr
            # process_time: CPU of this process, so other load on the shared machine does
            # not inflate it; the detectors run single-threaded, so it is the detector's.
            t0 = time.process_time()
            out = detector.detect(bgr)
            cpu.append(time.process_time() - t0)
            dets.append(np.asarray(out, np.float32).reshape(-1, 6))
            bar.advance(task)
    if not dets:
        raise UserError(f"video {path} has no decodable frames")
    return dets, np.array(cpu, np.float64)


def _save(cache: Path, key: str, detector: Detector, dets: list[np.ndarray],
          cpu: np.ndarray) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in dets])]).astype(np.int64)
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, key=np.array(key), detector=np.array(detector.signature),
             dets=np.concatenate(dets).astype(np.float32), offsets=offsets, cpu_s=cpu)
    os.replace(tmp, cache)  # whole or nothing: a reader never sees half a cache file


def _load(cache: Path, key: str) -> tuple[list[np.ndarray], np.ndarray] | None:
    if not cache.is_file():
        return None
    try:
        with np.load(cache, allow_pickle=False) as data:
            if str(data["key"]) != key:
                return None
            flat, offsets, cpu = data["dets"], data["offsets"], data["cpu_s"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # unreadable cache (interrupted write, old layout): recompute
    dets = [flat[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    return dets, cpu
