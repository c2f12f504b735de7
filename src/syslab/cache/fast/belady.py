"""Belady on dense ids: an indexed max-heap of residents keyed by the rank of their next use.

Same rules as `policies/belady.py` (admit everything that fits, never-again objects rank
beyond any real next use, most recently requested first). Ranks are distinct, so the order
is total and the result is exactly the reference's. A hit only raises its object's rank (the
next use is later than now), which in a max-heap needs only a sift up; an eviction pops the root.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True, inline="always")
def _sift_up(heap, pos, rank, j):
    x = heap[j]
    r = rank[x]
    while j > 0:
        parent = (j - 1) >> 1
        p = heap[parent]
        if rank[p] >= r:
            break
        heap[j] = p
        pos[p] = j
        j = parent
    heap[j] = x
    pos[x] = j


@numba.njit(cache=True, nogil=True, inline="always")
def _sift_down(heap, pos, rank, j, count):
    x = heap[j]
    r = rank[x]
    while True:
        c = 2 * j + 1
        if c >= count:
            break
        if c + 1 < count and rank[heap[c + 1]] > rank[heap[c]]:
            c += 1
        child = heap[c]
        if rank[child] <= r:
            break
        heap[j] = child
        pos[child] = j
        j = c
    heap[j] = x
    pos[x] = j


@numba.njit(cache=True, nogil=True)
def _belady(
    ids: np.ndarray, nxt: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int
) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    resident = np.zeros(n_unique, dtype=np.bool_)
    stored = np.zeros(n_unique, dtype=np.int64)
    rank = np.zeros(n_unique, dtype=np.int64)
    heap = np.empty(n_unique, dtype=np.int32)
    pos = np.zeros(n_unique, dtype=np.int32)
    count = 0
    used = 0
    for i in range(n):
        x = ids[i]
        r = nxt[i] if nxt[i] >= 0 else n + i
        if resident[x]:
            hit[i] = True
            rank[x] = r  # larger than before: the old rank was "now"
            _sift_up(heap, pos, rank, pos[x])
            continue
        s = sizes[i]
        if s > capacity:
            continue
        while used + s > capacity:
            victim = heap[0]
            count -= 1
            if count > 0:
                heap[0] = heap[count]
                pos[heap[0]] = 0
                _sift_down(heap, pos, rank, 0, count)
            resident[victim] = False
            used -= stored[victim]
        rank[x] = r
        heap[count] = x
        pos[x] = count
        count += 1
        _sift_up(heap, pos, rank, count - 1)
        resident[x] = True
        stored[x] = s
        used += s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _belady(trace.ids, trace.next_access, sizes, capacity, trace.n_unique)
