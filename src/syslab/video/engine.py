"""Replay a filter over a clip against the reference: what it sends and what it answers.

The reference answers (the detector on every frame, smoothed) stand in for what the
server would say on any frame it is sent, so a replay is exact and costs only the
filter's own work: Reducto's and NoScope's evaluation method.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from syslab.common.errors import UserError
from syslab.video.decode import downscale, frames, probe
from syslab.video.detectors import Detector
from syslab.video.filters.base import Filter, Profile
from syslab.video.filters.replay import estimates, replay
from syslab.video.metrics import summarize
from syslab.video.query import Query
from syslab.video.reference import CACHE_DIR, reference_answers

PROFILE_FRACTION = 0.2  # thresholds and models learn on the first 20 % of a clip only
SMALL_WIDTH = 160  # filters see brightness frames this wide (features cost µs here)
THUMB_WIDTH = 64  # the cascade's colour thumbnails are at least this wide


def profile_split(n: int, fraction: float = PROFILE_FRACTION) -> int:
    """Index of the first frame after the profile part of an `n`-frame clip."""
    return max(1, min(n - 1, round(n * fraction)))


@dataclass
class ClipData:
    """A clip reduced to what filters and metrics read."""

    name: str
    small: np.ndarray  # (n, h, w) uint8 downscaled brightness frames
    labels: np.ndarray  # (n,) smoothed reference answers (counts)
    fps: float
    kind: str
    thumbs: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def split(self, fraction: float = PROFILE_FRACTION) -> int:
        """Index of the first frame after the profile part."""
        return profile_split(len(self), fraction)

    def profile(self, target: float, fraction: float = PROFILE_FRACTION) -> Profile:
        k = self.split(fraction)
        return Profile(small=self.small[:k], labels=self.labels[:k], fps=self.fps,
                       kind=self.kind, target=target,
                       thumbs=None if self.thumbs is None else self.thumbs[:k])


def evaluate(flt: Filter, clip: ClipData, target: float,
             fraction: float = PROFILE_FRACTION) -> dict:
    """Fit on the profile part, replay on the rest, and score the rest only."""
    k = clip.split(fraction)
    t0 = time.process_time()
    flt.fit(clip.profile(target, fraction))
    fit_s = time.process_time() - t0
    small = clip.small[k:]
    thumbs = None if clip.thumbs is None else clip.thumbs[k:]
    t0 = time.process_time()
    labels = clip.labels[k:]
    sent, known = replay(flt, small, labels, thumbs)
    run_s = time.process_time() - t0
    est = estimates(labels, sent, known)
    out = summarize(clip.kind, labels, est, sent, clip.fps, target)
    out |= {"clip": clip.name, "filter": flt.describe(), "fit_cpu_s": fit_s,
            "filter_cpu_ms_per_frame": 1e3 * run_s / max(1, len(small)),
            "settled_locally": int(np.count_nonzero(known >= 0))}
    return out


def load_clip(path: Path, detector: Detector, query: Query, *, smooth_window: int = 9,
              thumbs: bool = True, progress: bool = True,
              cache_dir: Path = CACHE_DIR) -> ClipData:
    """Decode a clip into what filters see, with the reference's smoothed answers.

    The reference run (the detector on every frame) is cached (`reference`), so only the
    decode is paid again.
    """
    info = probe(path)
    labels = reference_answers(Path(path), detector, query, smooth_window, progress=progress,
                               cache_dir=cache_dir)
    small, thumb = [], []
    for f in frames(path, color=thumbs):
        small.append(f.small(SMALL_WIDTH))
        if thumbs:
            thumb.append(downscale(f.bgr, THUMB_WIDTH))
    n = min(len(small), len(labels))
    if n == 0:
        raise UserError(f"{path}: no frames decoded")
    return ClipData(
        name=Path(path).stem, small=np.stack(small[:n]), labels=labels[:n], fps=info.fps,
        kind=query.judged_as,
        thumbs=np.stack(thumb[:n]) if thumbs else None,
    )


def uniform_curve(clip: ClipData, fraction: float = PROFILE_FRACTION, max_every: int = 60
                  ) -> list[dict]:
    """Uniform sampling at every rate 1-in-1 .. 1-in-`max_every`, scored on the part after
    the profile: the baseline curve filters are compared with at equal accuracy."""
    from syslab.video.filters.uniform import Uniform

    k = clip.split(fraction)
    labels, small = clip.labels[k:], clip.small[k:]
    out = []
    for every in range(1, max_every + 1):
        sent, known = replay(Uniform(every), small, labels)
        acc = summarize(clip.kind, labels, estimates(labels, sent, known), sent, clip.fps, 1.0)
        out.append({"every": every, "accuracy": acc["accuracy"],
                    "fraction_filtered": acc["fraction_filtered"]})
    return out


def best_uniform_at(curve: list[dict], accuracy: float) -> dict | None:
    """The uniform rate that filters most while at least as accurate as `accuracy`."""
    ok = [c for c in curve if c["accuracy"] >= accuracy - 1e-12]
    return max(ok, key=lambda c: c["fraction_filtered"]) if ok else None
