"""Accuracy and cost of a filtered run, defined once (research/video.md §1).

- Counting accuracy (Reducto): per frame min(gt, est) / max(gt, est), 1 when both are 0;
  the run's accuracy is the mean over frames.
- Tagging accuracy: per frame 1 when presence (count > 0) agrees, else 0.
- A frame the camera does not send is answered with the last answer it has (Reducto:
  "filtered frames reuse the last sent frame's result"), or with the answer a filter
  gave for it (an empty-scene filter says 0, a cascade says what its model predicts).
- Fraction filtered: frames not sent to the detector / all frames.
- Segments: consecutive 5-second pieces of the clip; a segment meets the target when its
  mean accuracy is at least the target.
"""

from __future__ import annotations

import numpy as np

SEGMENT_S = 5.0


def counting_accuracy(gt: np.ndarray, est: np.ndarray) -> np.ndarray:
    """Reducto's per-frame counting accuracy."""
    gt = np.asarray(gt, dtype=np.float64)
    est = np.asarray(est, dtype=np.float64)
    hi = np.maximum(gt, est)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.minimum(gt, est) / hi
    return np.where(hi == 0, 1.0, acc)


def tagging_accuracy(gt: np.ndarray, est: np.ndarray) -> np.ndarray:
    """Per frame: 1 when both see something or both see nothing."""
    return ((np.asarray(gt) > 0) == (np.asarray(est) > 0)).astype(np.float64)


def frame_accuracy(kind: str, gt: np.ndarray, est: np.ndarray) -> np.ndarray:
    """The per-frame accuracy a query kind is judged by (boxes are judged by their count)."""
    return tagging_accuracy(gt, est) if kind == "presence" else counting_accuracy(gt, est)


def segment_means(values: np.ndarray, fps: float, seconds: float = SEGMENT_S) -> np.ndarray:
    """Mean of `values` over consecutive segments of `seconds` (the last one may be short)."""
    size = max(1, round(fps * seconds))
    n = len(values)
    starts = np.arange(0, n, size)
    return np.add.reduceat(np.asarray(values, dtype=np.float64), starts) / np.diff(
        np.append(starts, n))


def summarize(kind: str, gt: np.ndarray, est: np.ndarray, sent: np.ndarray, fps: float,
              target: float) -> dict:
    """Headline numbers of one filtered run over the frames given."""
    acc = frame_accuracy(kind, gt, est)
    segments = segment_means(acc, fps)
    return {
        "frames": int(len(gt)),
        "sent": int(np.count_nonzero(sent)),
        "fraction_filtered": float(1.0 - np.count_nonzero(sent) / max(1, len(gt))),
        "accuracy": float(acc.mean()) if len(acc) else float("nan"),
        "segments": int(len(segments)),
        "segments_meeting_target": float(np.mean(segments >= target)) if len(segments) else
        float("nan"),
        "target": target,
    }


def fewest_sends(kind: str, labels: np.ndarray, target: float) -> tuple[int, float]:
    """The fewest frames a filter that reuses the last answer must send for a mean accuracy
    of at least `target` over `labels`, if it knew every answer in advance, and the accuracy
    it then reaches. The first frame is always sent. No filter that answers the frames it
    does not send with the last answer can beat it (a filter that answers some frames
    itself, as the empty-scene gate or a CNN does, can).

    Dynamic programming: after k sends, `best[i]` is the highest total accuracy over the
    frames before i when the k-th send is frame i; a send at j answers frames j .. i-1.
    Numpy over (j, i) pairs, O(k n²) for k sends; `fewest_sends_reference` is the plain
    search it is tested against.
    """
    gt = np.asarray(labels)
    n = len(gt)
    if n == 0:
        return 0, 1.0
    # acc[j, t]: frame t answered with frame j's answer
    acc = frame_accuracy(kind, np.broadcast_to(gt[None, :], (n, n)).ravel(),
                         np.broadcast_to(gt[:, None], (n, n)).ravel()).reshape(n, n)
    before = np.concatenate([np.zeros((n, 1)), np.cumsum(acc, axis=1)], axis=1)
    # run[j, i]: total accuracy of frames j .. i-1 answered by frame j (i > j)
    run = before - before[np.arange(n), np.arange(n)][:, None]
    later = np.triu(np.ones((n, n), bool), 1)
    best = np.full(n, -np.inf)
    best[0] = 0.0
    for k in range(1, n + 1):
        total = float(np.max(best + run[:, n]))
        if total >= target * n - 1e-9:
            return k, total / n
        best = np.max(np.where(later, best[:, None] + run[:, :n], -np.inf), axis=0)
    return n, 1.0


def fewest_sends_reference(kind: str, labels: np.ndarray, target: float) -> tuple[int, float]:
    """`fewest_sends` by trying every set of sent frames, smallest first (tiny clips only)."""
    from itertools import combinations

    gt = np.asarray(labels)
    n = len(gt)
    if n == 0:
        return 0, 1.0
    for k in range(1, n + 1):
        best = -1.0
        for rest in combinations(range(1, n), k - 1):
            sent = np.zeros(n, bool)
            sent[[0, *rest]] = True
            last = np.maximum.accumulate(np.where(sent, np.arange(n), 0))
            best = max(best, float(frame_accuracy(kind, gt, gt[last]).mean()))
        if best >= target - 1e-9:
            return k, best
    return n, 1.0
