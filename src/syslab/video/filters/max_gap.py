"""Max-gap guard: whatever the inner filter says, send at least one frame every `max_gap_s`.

A difference filter never sends while nothing changes in its feature, so a slow change
(an object creeping in, light changing) or a detector answer that drifts can go stale for
ever; the guard bounds how stale an answer can be (Chameleon's and MIRIS's frame-rate
floor).
"""

from __future__ import annotations

import numpy as np

from syslab.video.filters.base import SEND, Decision, Filter, Profile, Thumb


class MaxGap(Filter):
    name = "max-gap"
    description = "wraps a filter: sends at least one frame every max_gap_s"

    def __init__(self, inner: Filter, max_gap_s: float = 2.0):
        self.inner = inner
        self.max_gap_s = max_gap_s
        self.max_gap = 1
        self.last_sent = -(10**9)
        self.needs_thumbs = inner.needs_thumbs

    def fit(self, profile: Profile) -> None:
        self.max_gap = max(1, round(self.max_gap_s * profile.fps))
        self.inner.fit(profile)

    def reset(self) -> None:
        self.inner.reset()
        self.last_sent = -(10**9)

    def decide(self, index: int, small: np.ndarray, thumb: Thumb = None) -> Decision:
        d = self.inner.decide(index, small, thumb)
        return SEND if not d.send and index - self.last_sent >= self.max_gap else d

    def sent(self, index: int, small: np.ndarray) -> None:
        self.last_sent = index
        self.inner.sent(index, small)

    def describe(self) -> str:
        return f"{self.inner.describe()}+gap{self.max_gap_s:g}s"
