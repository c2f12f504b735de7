"""Reducto's per-segment thresholds: profile segments, then pick a threshold per segment.

Reducto (SIGCOMM'20) profiles segments of the video offline: for each it finds the
highest difference threshold that still meets the accuracy target, and keys a table by
the segment's distribution of frame differences; at run time the camera looks up the
threshold of the most similar profiled segment. Reducto looks at the segment it is about
to filter, which means holding a whole segment (5 s) before sending any of it. A live
camera that must not add 5 s of lag can only look at the segment that just ended: that
is what this filter does (`causal`), and the difference is measured in the docs.
"""

from __future__ import annotations

import numpy as np

from syslab.video.features import FEATURES
from syslab.video.filters.base import REUSE, SEND, Decision, Filter, Profile, Thumb
from syslab.video.filters.difference import Difference, consecutive
from syslab.video.filters.tuning import diff_candidates, most_filtering
from syslab.video.metrics import SEGMENT_S

QUANTILES = (0.5, 0.75, 0.9, 1.0)
NEIGHBOURS = 3


def describe_segment(diffs: np.ndarray) -> np.ndarray:
    """A segment's key: quantiles of the feature between consecutive frames."""
    return np.quantile(diffs, QUANTILES) if len(diffs) else np.zeros(len(QUANTILES))


class Adaptive(Filter):
    name = "adaptive"
    description = ("Reducto: a difference threshold per 5-s segment, from the most similar "
                   "profiled segment")

    def __init__(self, feature: str = "pixel"):
        self.feature = feature
        self.fn = FEATURES[feature]
        self.keys = np.zeros((0, len(QUANTILES)))
        self.thresholds = np.zeros(0)
        self.fallback = 0.0
        self.segment = 1
        self.scale = np.ones(len(QUANTILES))

    def fit(self, profile: Profile) -> None:
        self.segment = max(2, round(SEGMENT_S * profile.fps))
        keys, thresholds = [], []
        for s in range(0, len(profile.small), self.segment):
            small = profile.small[s:s + self.segment]
            labels = profile.labels[s:s + self.segment]
            if len(small) < 2:
                continue
            diffs = consecutive(self.feature, small)
            keys.append(describe_segment(diffs))
            thresholds.append(most_filtering(
                lambda t: Difference(self.feature, t), diff_candidates(diffs),
                small, labels, profile.kind, profile.target))
        self.keys = np.array(keys).reshape(-1, len(QUANTILES))
        self.thresholds = np.array(thresholds)
        self.fallback = float(np.min(self.thresholds)) if len(thresholds) else 0.0
        self.scale = np.maximum(self.keys.std(axis=0), 1e-9) if len(keys) > 1 else \
            np.maximum(np.abs(self.keys).max(axis=0), 1e-9) if len(keys) else self.scale

    def reset(self) -> None:
        self.last: np.ndarray | None = None
        self.prev: np.ndarray | None = None
        self.diffs: list[float] = []
        self.threshold = self.fallback

    def _lookup(self) -> float:
        if len(self.keys) == 0:
            return self.fallback
        key = describe_segment(np.array(self.diffs))
        dist = np.abs((self.keys - key) / self.scale).sum(axis=1)
        nearest = np.argsort(dist)[:NEIGHBOURS]
        return float(np.min(self.thresholds[nearest]))  # the most careful of the neighbours

    def decide(self, index: int, small: np.ndarray, thumb: Thumb = None) -> Decision:
        if index % self.segment == 0 and self.diffs:
            self.threshold = self._lookup()
            self.diffs = []
        if self.prev is not None:
            self.diffs.append(self.fn(self.prev, small))
        self.prev = small
        if self.last is None or self.fn(self.last, small) > self.threshold:
            return SEND
        return REUSE

    def sent(self, index: int, small: np.ndarray) -> None:
        self.last = small

    def describe(self) -> str:
        return f"adaptive-{self.feature}({len(self.thresholds)} profiled segments)"
