"""Difference detector: send a frame when it differs enough from the last frame sent.

NoScope compares with an earlier frame, Glimpse and Reducto with the last frame sent;
the last *sent* one is what the server's answer describes, so small changes cannot pile
up unnoticed. The feature is one of `features.FEATURES`; the threshold is learned on the
profile as the highest that keeps the target (one global threshold: `adaptive` picks one
per segment).
"""

from __future__ import annotations

import numpy as np

from syslab.common.errors import UserError
from syslab.video.features import FEATURES
from syslab.video.filters.base import REUSE, SEND, Decision, Filter, Profile, Thumb
from syslab.video.filters.tuning import diff_candidates, most_filtering


def consecutive(feature: str, small: np.ndarray) -> np.ndarray:
    """The feature between each frame and the one before it."""
    f = FEATURES[feature]
    return np.array([f(small[i - 1], small[i]) for i in range(1, len(small))])


class Difference(Filter):
    name = "diff"
    description = "send when the frame differs from the last sent one by more than a threshold"

    def __init__(self, feature: str = "pixel", threshold: float | None = None):
        if feature not in FEATURES:
            raise UserError(f"unknown difference feature {feature!r} "
                            f"(one of {', '.join(FEATURES)})")
        self.feature = feature
        self.fn = FEATURES[feature]
        self.threshold = threshold
        self.last: np.ndarray | None = None

    def fit(self, profile: Profile) -> None:
        if self.threshold is None:
            self.threshold = most_filtering(
                lambda t: Difference(self.feature, t),
                diff_candidates(consecutive(self.feature, profile.small)),
                profile.small, profile.labels, profile.kind, profile.target)

    def reset(self) -> None:
        self.last = None

    def decide(self, index: int, small: np.ndarray, thumb: Thumb = None) -> Decision:
        if self.last is None or self.fn(self.last, small) > (self.threshold or 0.0):
            return SEND
        return REUSE

    def sent(self, index: int, small: np.ndarray) -> None:
        self.last = small

    def describe(self) -> str:
        t = "?" if self.threshold is None else f"{self.threshold:.4g}"
        return f"diff-{self.feature}(>{t})"
