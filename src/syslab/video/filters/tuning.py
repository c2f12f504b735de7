"""Choosing a filter's knob on the profile: the most filtering that still meets the target."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from syslab.video.filters.base import Filter
from syslab.video.filters.replay import estimates, replay
from syslab.video.metrics import frame_accuracy


def score(flt: Filter, small: np.ndarray, labels: np.ndarray, kind: str,
          thumbs: np.ndarray | None = None) -> tuple[float, float]:
    """(accuracy, fraction filtered) of `flt` replayed over the given frames."""
    sent, known = replay(flt, small, labels, thumbs)
    acc = frame_accuracy(kind, labels, estimates(labels, sent, known)).mean()
    return float(acc), 1.0 - sent.mean()


def most_filtering(make: Callable[[float], Filter], candidates: Sequence[float],
                   small: np.ndarray, labels: np.ndarray, kind: str, target: float,
                   thumbs: np.ndarray | None = None) -> float:
    """The candidate knob with the highest fraction filtered whose accuracy meets `target`
    on these frames; if none does, the one with the highest accuracy."""
    best, best_key = candidates[0], (-1, -1.0, -1.0)
    for c in candidates:
        acc, filtered = score(make(c), small, labels, kind, thumbs)
        key = (1, filtered, acc) if acc >= target else (0, acc, filtered)
        if key > best_key:
            best, best_key = c, key
    return best


def diff_candidates(values: np.ndarray, n: int = 24) -> list[float]:
    """Thresholds to try for a difference feature: 0 (send every changed frame) and the
    quantiles of the feature between consecutive frames."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return [0.0]
    qs = np.quantile(values, np.linspace(0.0, 1.0, n)[1:])
    return sorted({0.0, *(float(q) for q in qs)})
