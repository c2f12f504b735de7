"""SLRU on dense ids, step for step the rules of `policies/slru.py` (libCacheSim's SLRU.c).

The segments are disjoint LRU lists sharing one pair of link arrays over ids (oldest first);
one int8 per id holds its segment (-1: not resident). The reference's recursive cooling
(`_cool`) runs here as a loop over a current level that walks down while a segment overflows
and back up once it fits, which performs the same moves in the same order. Segment
capacities come from the reference class itself, so the rounding is the same.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.fast.arc import _append, _unlink
from syslab.cache.policies.slru import SLRU
from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True)
def _evict(nseg, first, last, nxt, prv, where, stored, lu):
    """Evict the LRU object of the lowest non-empty segment; returns its size."""
    for k in range(nseg):
        v = first[k]
        if v >= 0:
            _unlink(k, v, first, last, nxt, prv)
            vs = stored[v]
            lu[k] -= vs
            where[v] = -1
            return vs
    return 0  # unreachable: callers only evict from a non-empty cache


@numba.njit(cache=True, nogil=True)
def _slru(
    ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int, seg_cap: np.ndarray
) -> np.ndarray:
    n = len(ids)
    nseg = len(seg_cap)
    top = nseg - 1
    hit = np.zeros(n, dtype=np.bool_)
    where = np.full(n_unique, -1, dtype=np.int8)  # segment, -1: not resident
    stored = np.zeros(n_unique, dtype=np.int64)
    nxt = np.full(n_unique, -1, dtype=np.int32)  # towards the newest
    prv = np.full(n_unique, -1, dtype=np.int32)  # towards the oldest
    first = np.full(nseg, -1, dtype=np.int32)
    last = np.full(nseg, -1, dtype=np.int32)
    lu = np.zeros(nseg, dtype=np.int64)  # units in each segment
    used = 0
    for i in range(n):
        x = ids[i]
        w = np.int64(where[x])
        if w >= 0:
            hit[i] = True
            if w == top:
                if last[w] != x:
                    _unlink(w, x, first, last, nxt, prv)
                    _append(w, x, first, last, nxt, prv)
                continue
            s = stored[x]
            _unlink(w, x, first, last, nxt, prv)
            lu[w] -= s
            j = w + 1
            _append(j, x, first, last, nxt, prv)
            lu[j] += s
            where[x] = j
            # while seg j overflows: cool(j); cool(k) moves k's LRU to k - 1 (k = 0 evicts)
            # and then cools k - 1 until it fits.
            k = j
            while k <= j:
                if lu[k] > seg_cap[k]:
                    if k == 0:
                        used -= _evict(nseg, first, last, nxt, prv, where, stored, lu)
                    else:
                        v = first[k]
                        _unlink(k, v, first, last, nxt, prv)
                        vs = stored[v]
                        lu[k] -= vs
                        _append(k - 1, v, first, last, nxt, prv)
                        lu[k - 1] += vs
                        where[v] = k - 1
                        k -= 1
                else:
                    k += 1
            continue
        size = sizes[i]
        if size > capacity:
            continue
        while used + size > capacity:
            used -= _evict(nseg, first, last, nxt, prv, where, stored, lu)
        j = -1
        for k in range(nseg):  # the lowest segment with room
            if lu[k] + size <= seg_cap[k]:
                j = k
                break
        if j < 0:
            while used + size > capacity:
                used -= _evict(nseg, first, last, nxt, prv, where, stored, lu)
            j = 0
        _append(j, x, first, last, nxt, prv)
        lu[j] += size
        where[x] = j
        stored[x] = size
        used += size
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    seg_cap = np.array(SLRU(capacity).seg_capacity, dtype=np.int64)  # the reference's rounding
    return _slru(trace.ids, sizes, capacity, trace.n_unique, seg_cap)
