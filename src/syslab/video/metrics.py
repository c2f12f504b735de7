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
