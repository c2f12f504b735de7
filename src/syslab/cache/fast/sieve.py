"""SIEVE on dense ids: a doubly linked list in int arrays, a visited bit and a resting hand."""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True)
def _sieve(ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    resident = np.zeros(n_unique, dtype=np.bool_)
    visited = np.zeros(n_unique, dtype=np.bool_)
    stored = np.zeros(n_unique, dtype=np.int64)
    newer = np.full(n_unique, -1, dtype=np.int32)  # towards the head (newest)
    older = np.full(n_unique, -1, dtype=np.int32)  # towards the tail (oldest)
    head = -1
    tail = -1
    hand = -1  # -1: start at the tail
    used = 0
    for i in range(n):
        x = ids[i]
        if resident[x]:
            hit[i] = True
            visited[x] = True
            continue
        s = sizes[i]
        if s > capacity:
            continue
        while used + s > capacity:
            v = tail if hand < 0 else hand
            while visited[v]:
                visited[v] = False
                v = newer[v]
                if v < 0:
                    v = tail  # past the head: wrap
            hand = newer[v]
            a = newer[v]
            b = older[v]
            if a >= 0:
                older[a] = b
            else:
                head = b
            if b >= 0:
                newer[b] = a
            else:
                tail = a
            resident[v] = False
            used -= stored[v]
        newer[x] = -1
        older[x] = head
        if head >= 0:
            newer[head] = x
        else:
            tail = x
        head = x
        resident[x] = True
        visited[x] = False
        stored[x] = s
        used += s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _sieve(trace.ids, sizes, capacity, trace.n_unique)
