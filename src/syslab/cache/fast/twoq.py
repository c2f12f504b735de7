"""2Q on dense ids, step for step the rules of `policies/twoq.py` (libCacheSim's TwoQ.c).

A1in (FIFO), A1out (ghost FIFO) and Am (LRU) are disjoint, so one row per id, `node[x] = (older,
newer, size, list)`, holds all three (oldest first; list -1: none) in a single cache line, and
the list ends and sizes are scalars; a ghost hit unlinks from the middle of A1out in O(1). Kin,
Kout and Am's bound come from the reference class itself, so the rounding is the same.
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
    # per id, in one cache line: (older, newer) links, size on admission, which list (-1: none)
    node = np.full((n_unique, 4), -1, dtype=np.int64)
    # (oldest, newest, units) of each list
    f_in = l_in = f_out = l_out = f_am = l_am = -1
    u_in = u_out = u_am = 0
    used = 0
    for i in range(n):
        x = ids[i]
        w = node[x, 3]
        if w == A1IN:
            hit[i] = True
            continue
        if w == AM:
            hit[i] = True
            if l_am != x:  # x has a newer neighbour: move it to the newest end
                a = node[x, 0]
                b = node[x, 1]
                if a >= 0:
                    node[a, 1] = b
                else:
                    f_am = b
                node[b, 0] = a
                node[x, 0] = l_am
                node[x, 1] = -1
                node[l_am, 1] = x
                l_am = x
            continue
        seen = w == A1OUT
        if seen:
            a = node[x, 0]
            b = node[x, 1]
            if a >= 0:
                node[a, 1] = b
            else:
                f_out = b
            if b >= 0:
                node[b, 0] = a
            else:
                l_out = a
            u_out -= node[x, 2]
            node[x, 3] = -1
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
                f_in = node[v, 1]
                if f_in >= 0:
                    node[f_in, 0] = -1
                else:
                    l_in = -1
                vs = node[v, 2]
                u_in -= vs
                node[v, 3] = -1
                if vs <= kout:
                    while u_out + vs > kout:
                        g = f_out
                        f_out = node[g, 1]
                        if f_out >= 0:
                            node[f_out, 0] = -1
                        else:
                            l_out = -1
                        u_out -= node[g, 2]
                        node[g, 3] = -1
                    node[v, 0] = l_out
                    node[v, 1] = -1
                    if l_out >= 0:
                        node[l_out, 1] = v
                    else:
                        f_out = v
                    l_out = v
                    u_out += vs
                    node[v, 3] = A1OUT
            else:  # Am's LRU leaves
                v = f_am
                f_am = node[v, 1]
                if f_am >= 0:
                    node[f_am, 0] = -1
                else:
                    l_am = -1
                vs = node[v, 2]
                u_am -= vs
                node[v, 3] = -1
            used -= vs
        if to_am:
            node[x, 0] = l_am
            node[x, 1] = -1
            if l_am >= 0:
                node[l_am, 1] = x
            else:
                f_am = x
            l_am = x
            u_am += size
            node[x, 3] = AM
        else:
            node[x, 0] = l_in
            node[x, 1] = -1
            if l_in >= 0:
                node[l_in, 1] = x
            else:
                f_in = x
            l_in = x
            u_in += size
            node[x, 3] = A1IN
        node[x, 2] = size
        used += size
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    ref = TwoQ(capacity)  # only for its parameters
    return _twoq(trace.ids, sizes, capacity, trace.n_unique, ref.kin, ref.kout, ref.am_capacity)
