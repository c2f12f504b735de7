"""2Q on dense ids, step for step the rules of `policies/twoq.py` (libCacheSim's TwoQ.c).

A1in (FIFO), A1out (ghost FIFO) and Am (LRU) are disjoint, so one pair of link arrays over
ids holds all three (oldest first) and one int8 per id says which list it is on (-1: none);
a ghost hit unlinks from the middle of A1out in O(1). Kin, Kout and Am's bound come from the
reference class itself, so the rounding is the same.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.fast.arc import _append, _unlink
from syslab.cache.policies.twoq import TwoQ
from syslab.cache.trace import Trace

A1IN, A1OUT, AM = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def _evict_am(first, last, nxt, prv, where, stored, lu):
    v = first[AM]
    _unlink(AM, v, first, last, nxt, prv)
    vs = stored[v]
    lu[AM] -= vs
    where[v] = -1
    return vs


@numba.njit(cache=True, nogil=True)
def _twoq(
    ids: np.ndarray,
    sizes: np.ndarray,
    capacity: int,
    n_unique: int,
    kin: int,
    kout: int,
    am_cap: int,
) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    where = np.full(n_unique, -1, dtype=np.int8)  # A1IN, A1OUT, AM or -1
    stored = np.zeros(n_unique, dtype=np.int64)  # size on admission (kept while a ghost)
    nxt = np.full(n_unique, -1, dtype=np.int32)  # towards the newest
    prv = np.full(n_unique, -1, dtype=np.int32)  # towards the oldest
    first = np.full(3, -1, dtype=np.int32)
    last = np.full(3, -1, dtype=np.int32)
    lu = np.zeros(3, dtype=np.int64)  # units on each list
    used = 0
    for i in range(n):
        x = ids[i]
        w = where[x]
        if w == A1IN:
            hit[i] = True
            continue
        if w == AM:
            hit[i] = True
            if last[AM] != x:
                _unlink(AM, x, first, last, nxt, prv)
                _append(AM, x, first, last, nxt, prv)
            continue
        seen = w == A1OUT
        if seen:
            _unlink(A1OUT, x, first, last, nxt, prv)
            lu[A1OUT] -= stored[x]
            where[x] = -1
        size = sizes[i]
        if size > capacity:
            continue
        while used + size > capacity:
            if lu[A1IN] > kin or first[AM] < 0:
                v = first[A1IN]
                _unlink(A1IN, v, first, last, nxt, prv)
                vs = stored[v]
                lu[A1IN] -= vs
                where[v] = -1
                if vs <= kout:  # remember the key in A1out
                    while lu[A1OUT] + vs > kout:
                        g = first[A1OUT]
                        _unlink(A1OUT, g, first, last, nxt, prv)
                        lu[A1OUT] -= stored[g]
                        where[g] = -1
                    _append(A1OUT, v, first, last, nxt, prv)
                    lu[A1OUT] += vs
                    where[v] = A1OUT
                used -= vs
            else:
                used -= _evict_am(first, last, nxt, prv, where, stored, lu)
        if seen and size <= am_cap:
            while lu[AM] + size > am_cap:
                used -= _evict_am(first, last, nxt, prv, where, stored, lu)
            dst = AM
        else:
            dst = A1IN
        _append(dst, x, first, last, nxt, prv)
        lu[dst] += size
        where[x] = dst
        stored[x] = size
        used += size
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    ref = TwoQ(capacity)  # only for its parameters
    return _twoq(trace.ids, sizes, capacity, trace.n_unique, ref.kin, ref.kout, ref.am_capacity)
