"""CLOCK (1-bit, as libCacheSim's Clock) on dense ids: the FIFO ring plus a reference bit.

A second chance is "pop the oldest, push it back as the newest", which a ring does in O(1).
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True)
def _clock(ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    resident = np.zeros(n_unique, dtype=np.bool_)
    referenced = np.zeros(n_unique, dtype=np.bool_)
    stored = np.zeros(n_unique, dtype=np.int64)
    ring = np.empty(n_unique + 1, dtype=np.int32)  # oldest at `first`, newest before `end`
    size = len(ring)
    first = 0
    end = 0
    used = 0
    for i in range(n):
        x = ids[i]
        if resident[x]:
            hit[i] = True
            referenced[x] = True
            continue
        s = sizes[i]
        if s > capacity:
            continue
        while used + s > capacity:
            victim = ring[first]
            first = first + 1 if first + 1 < size else 0
            if referenced[victim]:
                referenced[victim] = False
                ring[end] = victim
                end = end + 1 if end + 1 < size else 0
                continue
            resident[victim] = False
            used -= stored[victim]
        ring[end] = x
        end = end + 1 if end + 1 < size else 0
        resident[x] = True
        stored[x] = s
        used += s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _clock(trace.ids, sizes, capacity, trace.n_unique)
