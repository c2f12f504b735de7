"""Replay a filter over a clip against the reference: what it sends and what it answers.

The reference answers (the detector on every frame, smoothed) stand in for what the
server would say on any frame it is sent, so a replay is exact and costs only the
filter's own work: Reducto's and NoScope's evaluation method.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from syslab.video.filters.base import Filter, Profile
from syslab.video.filters.replay import estimates, replay
from syslab.video.metrics import summarize

PROFILE_FRACTION = 0.2  # thresholds and models learn on the first 20 % of a clip only


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
        return max(1, min(len(self) - 1, round(len(self) * fraction)))

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
