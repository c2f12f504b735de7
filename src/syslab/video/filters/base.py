"""The one interface every frame filter implements, and the profile filters learn from.

A filter is a plain object (no I/O): the camera, the offline evaluator and the tests all
drive it the same way, frame by frame, with the frame's small brightness image (and, for
filters that want colour, a small colour thumbnail, or a function that makes it: the
camera makes a thumbnail only when a filter looks at it). For each frame it decides:

- `SEND`: send the frame to the server, which runs the detector on it;
- `REUSE`: don't send; the answer is the last answer the camera has;
- `Decision(send=False, answer=v)`: don't send; the filter knows the answer itself (an
  empty-scene filter says 0, a cascade says what its small model predicts).

Whoever drives the filter calls `sent(index, small)` for every frame that went out, so a
filter that compares with the last frame sent knows it even when a guard forced the send,
and `answered(index, answer)` when the server's answer for it is back.

Filters that learn (thresholds, a background, a small model) do so in `fit`, from the
first part of the clip and the reference's answers on it (Reducto's profiling).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

# A frame's colour thumbnail, or a function that makes it. Live, the camera hands over the
# function: decoding with colour costs about 1.4x decoding brightness alone at 768x432
# (benchmarks/video/decode.py, "pyav bgr" against "pyav gray"), and most frames never
# reach a filter's CNN.
Thumb = np.ndarray | Callable[[], np.ndarray] | None


def resolve(thumb: Thumb) -> np.ndarray | None:
    """The thumbnail itself, made now if it was handed over as a function."""
    return thumb() if callable(thumb) else thumb


@dataclass(frozen=True)
class Decision:
    send: bool
    answer: int | None = None  # known answer for a frame not sent; None = reuse the last


SEND = Decision(True)
REUSE = Decision(False)
EMPTY = Decision(False, 0)


@dataclass
class Profile:
    """What a filter may learn from: the first part of a clip, with the reference's answers."""

    small: np.ndarray  # (n, h, w) uint8 brightness frames, downscaled
    labels: np.ndarray  # (n,) reference answers (smoothed counts; presence = count > 0)
    fps: float
    kind: str  # the query kind: "count", "presence" or "boxes"
    target: float  # accuracy the filter must keep
    thumbs: np.ndarray | None = None  # (n, th, tw, 3) uint8 colour thumbnails, if asked for


class Filter(ABC):
    """Decides, frame by frame, whether the camera sends the frame."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    # Wants colour thumbnails besides the brightness frames (the cascade's CNN does).
    needs_thumbs: ClassVar[bool] = False

    def fit(self, profile: Profile) -> None:  # noqa: B027 (optional: most filters learn)
        """Learn from the profile (the first part of the clip); called before `reset`."""

    def reset(self) -> None:  # noqa: B027 (optional)
        """Forget the stream so far (the last sent frame); called before each run."""

    @abstractmethod
    def decide(self, index: int, small: np.ndarray, thumb: Thumb = None) -> Decision:
        """The decision for frame `index` (frames come in order, none skipped)."""

    def sent(self, index: int, small: np.ndarray) -> None:  # noqa: B027 (optional)
        """Frame `index` was sent (whoever decided it: a guard may override the filter)."""

    def answered(self, index: int, answer: int) -> None:  # noqa: B027 (optional)
        """The server's answer for sent frame `index` came back (live: some time later)."""

    def describe(self) -> str:
        """The filter with its learned settings, for tables."""
        return self.name
