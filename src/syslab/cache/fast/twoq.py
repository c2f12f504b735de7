"""2Q on dense ids, step for step the rules of `policies/twoq.py` (libCacheSim's TwoQ.c).

A1in (FIFO), A1out (ghost FIFO) and Am (LRU) are disjoint, so one pair of link arrays over
ids holds all three (oldest first) and one int8 per id says which list it is on (-1: none);
a ghost hit unlinks from the middle of A1out in O(1). Kin, Kout and Am's bound come from the
reference class itself, so the rounding is the same.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.policies.twoq import TwoQ
from syslab.cache.trace import Trace

A1IN, A1OUT, AM = 0, 1, 2


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
    # (oldest, newest, units) of each list
    f_in = l_in = f_out = l_out = f_am = l_am = -1
    u_in = u_out = u_am = 0
    used = 0
    for i in range(n):
        x = ids[i]
        w = where[x]
        if w == A1IN:
            hit[i] = True
            continue
        if w == AM:
            hit[i] = True
            if l_am != x:  # x has a newer neighbour: move it to the newest end
                a = prv[x]
                b = nxt[x]
                if a >= 0:
                    nxt[a] = b
                else:
                    f_am = b
                prv[b] = a
                prv[x] = l_am
                nxt[x] = -1
                nxt[l_am] = x
                l_am = x
            continue
        seen = w == A1OUT
        if seen:
            a = prv[x]
            b = nxt[x]
            if a >= 0:
                nxt[a] = b
            else:
                f_out = b
            if b >= 0:
                prv[b] = a
            else:
                l_out = a
            u_out -= stored[x]
            where[x] = -1
        size = sizes[i]
        if size > capacity:
            continue
        to_am = seen and size <= am_cap
        while True:
            if used + size > capacity:
                from_in = u_in > kin or f_am < 0
            elif to_am and u_am + size > am_cap:  # Am has its own bound
                from_in = False
            else:
                break
            if from_in:  # A1in's oldest leaves; its key goes to A1out
                v = f_in
                f_in = nxt[v]
                if f_in >= 0:
                    prv[f_in] = -1
                else:
                    l_in = -1
                vs = stored[v]
                u_in -= vs
                where[v] = -1
                if vs <= kout:
                    while u_out + vs > kout:
                        g = f_out
                        f_out = nxt[g]
                        if f_out >= 0:
                            prv[f_out] = -1
                        else:
                            l_out = -1
                        u_out -= stored[g]
                        where[g] = -1
                    prv[v] = l_out
                    nxt[v] = -1
                    if l_out >= 0:
                        nxt[l_out] = v
                    else:
                        f_out = v
                    l_out = v
                    u_out += vs
                    where[v] = A1OUT
            else:  # Am's LRU leaves
                v = f_am
                f_am = nxt[v]
                if f_am >= 0:
                    prv[f_am] = -1
                else:
                    l_am = -1
                vs = stored[v]
                u_am -= vs
                where[v] = -1
            used -= vs
        if to_am:
            prv[x] = l_am
            nxt[x] = -1
            if l_am >= 0:
                nxt[l_am] = x
            else:
                f_am = x
            l_am = x
            u_am += size
            where[x] = AM
        else:
            prv[x] = l_in
            nxt[x] = -1
            if l_in >= 0:
                nxt[l_in] = x
            else:
                f_in = x
            l_in = x
            u_in += size
            where[x] = A1IN
        stored[x] = size
        used += size
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    ref = TwoQ(capacity)  # only for its parameters
    return _twoq(trace.ids, sizes, capacity, trace.n_unique, ref.kin, ref.kout, ref.am_capacity)
