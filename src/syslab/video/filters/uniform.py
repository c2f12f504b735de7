"""Uniform sampling: send every k-th frame (the baseline to beat, Chameleon's frame-rate knob)."""

from __future__ import annotations

import numpy as np

from syslab.video.filters.base import REUSE, SEND, Decision, Filter, Profile, Thumb
from syslab.video.filters.tuning import most_filtering

MAX_EVERY = 120


class Uniform(Filter):
    name = "uniform"
    description = "every k-th frame; k learned on the profile (the most filtering that meets it)"

    def __init__(self, every: int | None = None):
        self.every = every  # None: learn it in `fit`

    def fit(self, profile: Profile) -> None:
        if self.every is None:
            candidates = [k for k in range(1, MAX_EVERY + 1) if k <= max(1, len(profile.small))]
            self.every = int(most_filtering(
                lambda k: Uniform(int(k)), candidates, profile.small, profile.labels,
                profile.kind, profile.target))

    def decide(self, index: int, small: np.ndarray, thumb: Thumb = None) -> Decision:
        return SEND if index % (self.every or 1) == 0 else REUSE

    def describe(self) -> str:
        return f"uniform(1 in {self.every})"
