"""FIFO on dense ids: a ring buffer of resident ids and a resident flag per id."""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True)
def _fifo(ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    resident = np.zeros(n_unique, dtype=np.bool_)
    stored = np.zeros(n_unique, dtype=np.int64)  # size each resident object was admitted with
    ring = np.empty(n_unique + 1, dtype=np.int64)  # at most n_unique residents at once
    head = 0
    tail = 0
    used = 0
    for i in range(n):
        x = ids[i]
        if resident[x]:
            hit[i] = True
            continue
        s = sizes[i]
        if s > capacity:
            continue
        while used + s > capacity:
            victim = ring[head]
            head = head + 1 if head + 1 < len(ring) else 0
            resident[victim] = False
            used -= stored[victim]
        ring[tail] = x
        tail = tail + 1 if tail + 1 < len(ring) else 0
        resident[x] = True
        stored[x] = s
        used += s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _fifo(trace.ids, sizes, capacity, trace.n_unique)
