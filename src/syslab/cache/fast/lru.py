"""LRU on dense ids: a doubly linked list in two int arrays, most recent at the head."""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True)
def _lru(ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    resident = np.zeros(n_unique, dtype=np.bool_)
    stored = np.zeros(n_unique, dtype=np.int64)  # size each resident object was admitted with
    newer = np.full(n_unique, -1, dtype=np.int32)  # towards the head (most recent)
    older = np.full(n_unique, -1, dtype=np.int32)  # towards the tail (least recent)
    head = -1
    tail = -1
    used = 0
    for i in range(n):
        x = ids[i]
        if resident[x]:
            hit[i] = True
            if x != head:  # unlink, then push at the head
                a = newer[x]
                b = older[x]
                older[a] = b
                if b >= 0:
                    newer[b] = a
                else:
                    tail = a
                newer[x] = -1
                older[x] = head
                newer[head] = x
                head = x
            continue
        s = sizes[i]
        if s > capacity:
            continue
        while used + s > capacity:
            victim = tail
            tail = newer[victim]
            if tail >= 0:
                older[tail] = -1
            else:
                head = -1
            resident[victim] = False
            used -= stored[victim]
        newer[x] = -1
        older[x] = head
        if head >= 0:
            newer[head] = x
        else:
            tail = x
        head = x
        resident[x] = True
        stored[x] = s
        used += s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _lru(trace.ids, sizes, capacity, trace.n_unique)
