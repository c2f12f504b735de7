"""Empty-scene filter: skip frames that look like the learned empty scene, answer "nothing".

Background subtraction that learns continuously (OpenCV's MOG2) absorbs people who stop
and then calls them background: on the person clip it skipped half the frames at a
tagging accuracy of 0.62 (research/video.md §4). Here the background is learned once,
from profile frames the reference calls empty (their median), and afterwards only
refreshed from frames this filter itself judges empty, so a person who stands still
stays foreground; the slow refresh follows daylight and exposure drift.

A frame is empty when the share of pixels that differ from the background by more than
`delta` levels, after a 3×3 opening that drops sensor-noise specks, is at most `tau`.
`tau` is learned on the profile: the largest value that still sends `recall` of the
frames in which the reference sees something (99.5 %: a little above the 99 % a user
asks for, since the profile is only the first fifth of the clip). Brightness is matched
to the background before comparing (exposure control, fades). After a busy frame the
next `hold` frames go out unexamined: an object leaving or entering at the edge is still
seen by the detector, and the reference's running median keeps "present" for half its
window after the object is gone.
"""

from __future__ import annotations

import cv2
import numpy as np

from syslab.video.filters.base import EMPTY, SEND, Decision, Filter, Profile, Thumb

KERNEL = np.ones((3, 3), np.uint8)


def changed_share(small: np.ndarray, background: np.ndarray, delta: int) -> float:
    """Share of pixels that differ from the background (blurred, thresholded, opened),
    after matching the frame's brightness to the background's: a camera's exposure
    control darkens or brightens the whole frame, which is no object."""
    frame = cv2.blur(small, (3, 3))
    gain = (float(background.mean()) + 1.0) / (float(frame.mean()) + 1.0)
    if abs(gain - 1.0) > 0.02:
        frame = cv2.convertScaleAbs(frame, alpha=gain)
    d = cv2.absdiff(frame, background)
    mask = cv2.morphologyEx(cv2.threshold(d, delta, 255, cv2.THRESH_BINARY)[1],
                            cv2.MORPH_OPEN, KERNEL)
    return cv2.countNonZero(mask) / mask.size


class EmptyScene(Filter):
    name = "empty"
    description = "skip frames that match the learned empty scene (answer: nothing there)"

    def __init__(self, inner: Filter | None = None, delta: int = 25, recall: float = 0.995,
                 refresh: float = 0.02, hold: int = 4):
        self.inner = inner
        self.delta = delta
        self.recall = recall
        self.refresh = refresh  # weight of an empty frame in the running background
        self.hold = hold  # frames that still go out after a busy one
        self.learned: np.ndarray | None = None
        self.background: np.ndarray | None = None
        self.tau = -1.0  # below 0: nothing learned, every frame counts as non-empty
        self.needs_thumbs = bool(inner and inner.needs_thumbs)

    def fit(self, profile: Profile) -> None:
        if self.inner is not None:
            self.inner.fit(profile)
        empty = profile.labels == 0
        if not empty.any():
            return  # no empty frame to learn from: never skip
        bg = np.median(profile.small[empty], axis=0).astype(np.uint8)
        self.learned = cv2.blur(bg, (3, 3))
        busy = profile.small[~empty]
        if len(busy) == 0:
            self.tau = 0.0  # nothing but empty frames seen: skip only exact matches
            return
        shares = np.array([changed_share(f, self.learned, self.delta) for f in busy])
        # the largest tau that keeps `recall` of the busy frames above it
        self.tau = float(np.quantile(shares, 1.0 - self.recall, method="lower")) * 0.999

    def reset(self) -> None:
        if self.inner is not None:
            self.inner.reset()
        self.background = None if self.learned is None else self.learned.astype(np.float32)
        self.busy_until = -1

    def decide(self, index: int, small: np.ndarray, thumb: Thumb = None) -> Decision:
        if self.background is not None and index > self.busy_until:
            bg = self.background.astype(np.uint8)
            if changed_share(small, bg, self.delta) <= self.tau:
                cv2.accumulateWeighted(cv2.blur(small, (3, 3)).astype(np.float32),
                                       self.background, self.refresh)
                return EMPTY
        if self.background is not None and index > self.busy_until:
            self.busy_until = index + self.hold
        return self.inner.decide(index, small, thumb) if self.inner is not None else SEND

    def sent(self, index: int, small: np.ndarray) -> None:
        if self.inner is not None:
            self.inner.sent(index, small)

    def describe(self) -> str:
        gate = f"empty(≤{self.tau:.4f})" if self.tau >= 0 else "empty(unlearned)"
        return gate if self.inner is None else f"{gate}+{self.inner.describe()}"
