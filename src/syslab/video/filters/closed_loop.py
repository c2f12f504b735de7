"""Ours: a filter that steers its own sending rate by the answers that come back.

Hypothesis. Reducto and NoScope fix their thresholds from a profile of the first minutes
and are then open-loop: when the rest of the clip is busier than the profile, accuracy
falls below the target with nothing to notice it; when it is calmer, frames are sent for
nothing. But the camera does learn something about every frame it skipped: the server's
answers for the frames it sent. If the answers before and after a run of skipped frames
are equal, the skipped frames were (most likely) answered right; if they differ, about
half of them were wrong by the difference. More precisely, every pair of recent answers
d frames apart measures how well an answer still holds d frames later; from that curve
the filter picks, after each answer, the widest gap between sent frames whose expected
accuracy meets the target (plus a margin), growing it at most twofold at a time. No
profile is needed for this part. Three more mechanisms handle what the answers cannot
see:

- a difference trigger: a frame that differs a lot from the last one sent goes out at
  once, whatever the gap (an object entering between two samples);
- an empty-scene gate (`filters.empty`), learned on the profile when it has empty
  frames: frames that look like the empty scene are answered "nothing" unseen;
- the gap never exceeds `max_gap_s`, so an answer can never be staler than that;
- a frame the loop would send goes first to the cascade's tiny CNN (`filters.cascade`,
  trained and calibrated on the profile), which answers it unseen when it is confident
  enough to agree with the reference 99 % of the time; when it never is (too few
  profile frames, too many classes) every such frame goes out.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from syslab.video.features import FEATURES
from syslab.video.filters.base import REUSE, SEND, Decision, Filter, Profile, Thumb
from syslab.video.filters.cascade import Cascade
from syslab.video.filters.difference import Difference, consecutive
from syslab.video.filters.empty import EmptyScene
from syslab.video.filters.tuning import diff_candidates, most_filtering
from syslab.video.metrics import frame_accuracy


class ClosedLoop(Filter):
    name = "ours"
    description = ("ours: the sending gap steered by the answers that come back, a difference "
                   "trigger, an empty-scene gate, a tiny CNN for the frames it would send")

    def __init__(self, feature: str = "pixel", margin: float = 0.05, max_gap_s: float = 4.0,
                 window_s: float = 5.0, trigger_factor: float = 2.0, prior_pairs: float = 20.0,
                 empty_gate: bool = True, cnn: bool = True):
        self.feature = feature
        self.fn = FEATURES[feature]
        self.margin = margin  # aim this far above the target: the estimate is optimistic
        self.max_gap_s = max_gap_s
        self.window_s = window_s  # how far back answers count (one segment)
        self.trigger_factor = trigger_factor
        self.prior_pairs = prior_pairs
        self.prior = np.ones(2)
        self.gate = EmptyScene() if empty_gate else None
        # the CNN sees every frame the loop would send: no MSE pre-filter of its own
        self.cnn = Cascade(diff_mse=-1.0) if cnn else None
        self.needs_thumbs = cnn
        self.kind = "count"
        self.target = 0.9
        self.trigger = float("inf")
        self.max_gap = 1

    def fit(self, profile: Profile) -> None:
        self.kind, self.target = profile.kind, profile.target
        self.max_gap = max(1, round(self.max_gap_s * profile.fps))
        self.window = max(2, round(self.window_s * profile.fps))
        if self.gate is not None:
            self.gate.fit(profile)
        if self.cnn is not None and profile.thumbs is not None:
            self.cnn.fit(profile)
        # the trigger only catches big changes (an object entering between two samples):
        # twice the threshold a difference filter alone would need on the profile
        labels = profile.labels
        self.prior = np.ones(self.max_gap + 1)
        for d in range(1, min(self.max_gap, len(labels) - 1) + 1):
            self.prior[d] = frame_accuracy(self.kind, labels[d:], labels[:-d]).mean()
        self.prior[len(labels):] = self.prior[min(len(labels), self.max_gap + 1) - 1]
        diffs = consecutive(self.feature, profile.small)
        self.trigger = self.trigger_factor * most_filtering(
            lambda t: Difference(self.feature, t), diff_candidates(diffs),
            profile.small, profile.labels, profile.kind, profile.target)

    def reset(self) -> None:
        if self.gate is not None:
            self.gate.reset()
        if self.cnn is not None:
            self.cnn.reset()
        self.gap = 1
        self.last: np.ndarray | None = None
        self.last_index = -1
        self.history: deque[tuple[int, int]] = deque()  # recent (frame, answer) pairs

    def decide(self, index: int, small: np.ndarray, thumb: Thumb = None) -> Decision:
        if self.gate is not None:
            d = self.gate.decide(index, small, thumb)
            if not d.send:
                return d
        if (self.last is None or index - self.last_index >= self.gap
                or self.fn(self.last, small) > self.trigger):
            if self.last is not None and self.cnn is not None and thumb is not None:
                return self.cnn.decide(index, small, thumb)
            return SEND
        return REUSE

    def sent(self, index: int, small: np.ndarray) -> None:
        # the gap counts from the last frame *sent*: live, its answer comes back later,
        # and counting from the last answer would make every frame look overdue
        self.last = small
        self.last_index = index

    def answered(self, index: int, answer: int) -> None:
        self.history.append((index, answer))
        while self.history and self.history[0][0] < index - self.window:
            self.history.popleft()
        self.gap = self._best_gap()

    def _best_gap(self) -> int:
        """The widest gap whose expected accuracy meets the aim.

        D(d), how well an answer still holds d frames later, is measured on every pair of
        recent answers d frames apart, blended with the profile's D(d) (exact there: every
        frame's answer is known) weighted as `prior_pairs` pairs per distance, so that a few
        noisy pairs cannot swing the gap, while a scene that turns busier or calmer than
        the profile moves it within a window. A frame d after the last one sent is
        answered with accuracy D(d), so a gap g gives the mean of D(0 .. g-1).
        """
        curve = self.prior.copy()
        if len(self.history) >= 2:
            idx = np.fromiter((i for i, _ in self.history), dtype=np.int64)
            ans = np.fromiter((a for _, a in self.history), dtype=np.int64)
            i, j = np.triu_indices(len(idx), 1)
            dist = idx[j] - idx[i]
            near = dist <= self.max_gap
            acc = frame_accuracy(self.kind, ans[j][near], ans[i][near])
            n = np.bincount(dist[near], minlength=self.max_gap + 1)
            total = np.bincount(dist[near], weights=acc, minlength=self.max_gap + 1)
            curve = (self.prior_pairs * self.prior + total) / (self.prior_pairs + n)
        # an answer does not get better the older it is
        curve = np.minimum.accumulate(curve)
        expected = np.cumsum(curve)[:-1] / np.arange(1, self.max_gap + 1)
        ok = np.flatnonzero(expected >= self.target + self.margin)
        best = int(ok[-1]) + 1 if ok.size else 1
        # grow by at most 2x per answer: distances beyond twice the gap are barely seen
        return max(1, min(best, 2 * self.gap, self.max_gap))

    def describe(self) -> str:
        cnn = ", cnn" if self.cnn is not None and self.cnn.confidence <= 1.0 else ""
        return f"ours-{self.feature}(trigger>{self.trigger:.3g}{cnn})"
