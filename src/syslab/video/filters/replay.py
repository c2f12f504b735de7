"""Driving a filter over frames whose answers are known: what it sends, what it answers."""

from __future__ import annotations

import numpy as np

from syslab.video.filters.base import Filter


def replay(flt: Filter, small: np.ndarray, labels: np.ndarray,
           thumbs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run `flt` over frames: (sent mask, known answer per frame or -1 = reuse). A sent
    frame's answer, the reference's, comes back to the filter at once."""
    flt.reset()
    n = len(small)
    sent = np.zeros(n, dtype=bool)
    known = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        d = flt.decide(i, small[i], None if thumbs is None else thumbs[i])
        if d.send:
            sent[i] = True
            flt.sent(i, small[i])
            flt.answered(i, int(labels[i]))
        elif d.answer is not None:
            known[i] = d.answer
    return sent, known


def estimates(labels: np.ndarray, sent: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each frame's answer: the reference's where sent, the filter's where it knew, else the
    last answer (the first frame counts as sent: the camera has no answer before it)."""
    n = len(labels)
    est = np.where(sent, labels, known).astype(np.int64)
    have = sent | (known >= 0)
    have[0] = True
    if not sent[0] and known[0] < 0:
        est[0] = labels[0]
    # forward-fill from the last frame with an answer
    idx = np.where(have, np.arange(n), 0)
    np.maximum.accumulate(idx, out=idx)
    return est[idx]
