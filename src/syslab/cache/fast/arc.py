"""ARC on dense ids, step for step the rules of `policies/arc.py` (libCacheSim's ARC.c).

T1, T2 and the ghosts B1, B2 are disjoint, so one pair of link arrays over ids holds all four
lists (oldest first) and one int8 per id says which list the id is on (-1: none). Ghost hits
unlink from the middle in O(1). `p` is a float64 moved by exactly the reference's operations
(int / int true division, then `* size`), so every REPLACE decision is the same bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace

T1, T2, B1, B2 = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True, inline="always")
def _append(lst, x, first, last, nxt, prv):
    t = last[lst]
    prv[x] = t
    nxt[x] = -1
    if t >= 0:
        nxt[t] = x
    else:
        first[lst] = x
    last[lst] = x


@numba.njit(cache=True, nogil=True, inline="always")
def _unlink(lst, x, first, last, nxt, prv):
    a = prv[x]
    b = nxt[x]
    if a >= 0:
        nxt[a] = b
    else:
        first[lst] = b
    if b >= 0:
        prv[b] = a
    else:
        last[lst] = a


@numba.njit(cache=True, nogil=True)
def _pop_ghost(lst, first, last, nxt, prv, where, stored, lu):
    g = first[lst]
    _unlink(lst, g, first, last, nxt, prv)
    where[g] = -1
    lu[lst] -= stored[g]


@numba.njit(cache=True, nogil=True)
def _replace(in_b2, p, first, last, nxt, prv, where, stored, lu):
    """The paper's REPLACE; returns the size it freed."""
    t1u = lu[T1]
    if first[T1] >= 0 and (t1u > p or (t1u == p and in_b2) or first[T2] < 0):
        src, dst = T1, B1
    else:
        src, dst = T2, B2
    v = first[src]
    _unlink(src, v, first, last, nxt, prv)
    vs = stored[v]
    lu[src] -= vs
    _append(dst, v, first, last, nxt, prv)
    lu[dst] += vs
    where[v] = dst
    return vs


@numba.njit(cache=True, nogil=True)
def _trim_ghosts(cap2, first, last, nxt, prv, where, stored, lu):
    while lu[T1] + lu[T2] + lu[B1] + lu[B2] > cap2:
        if first[B2] >= 0:
            _pop_ghost(B2, first, last, nxt, prv, where, stored, lu)
        elif first[B1] >= 0:
            _pop_ghost(B1, first, last, nxt, prv, where, stored, lu)
        else:
            break


@numba.njit(cache=True, nogil=True)
def _arc(ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    where = np.full(n_unique, -1, dtype=np.int8)  # T1, T2, B1, B2 or -1
    stored = np.zeros(n_unique, dtype=np.int64)  # size on admission (kept while a ghost)
    nxt = np.full(n_unique, -1, dtype=np.int32)  # towards the newest
    prv = np.full(n_unique, -1, dtype=np.int32)  # towards the oldest
    first = np.full(4, -1, dtype=np.int32)
    last = np.full(4, -1, dtype=np.int32)
    lu = np.zeros(4, dtype=np.int64)  # units on each list
    cap = np.int64(capacity)
    cap2 = 2 * cap
    fcap = float(capacity)
    used = 0
    p = 0.0
    for i in range(n):
        x = ids[i]
        w = where[x]
        if w == T2:
            hit[i] = True
            if last[T2] != x:
                _unlink(T2, x, first, last, nxt, prv)
                _append(T2, x, first, last, nxt, prv)
            continue
        if w == T1:  # second access: promote to the frequency side
            hit[i] = True
            s = stored[x]
            _unlink(T1, x, first, last, nxt, prv)
            lu[T1] -= s
            _append(T2, x, first, last, nxt, prv)
            lu[T2] += s
            where[x] = T2
            continue
        size = sizes[i]
        if w >= 0:  # ghost hit (B1 or B2)
            in_b2 = w == B2
            if in_b2:
                step = lu[B1] / lu[B2]
                if step < 1.0:
                    step = 1.0
                q = p - step * size
                p = 0.0 if q < 0.0 else q
            else:
                step = lu[B2] / lu[B1]
                if step < 1.0:
                    step = 1.0
                q = p + step * size
                p = fcap if fcap < q else q
            _unlink(w, x, first, last, nxt, prv)
            lu[w] -= stored[x]
            where[x] = -1
            if size > cap:
                continue
            while used + size > cap:
                used -= _replace(in_b2, p, first, last, nxt, prv, where, stored, lu)
            _trim_ghosts(cap2, first, last, nxt, prv, where, stored, lu)
            _append(T2, x, first, last, nxt, prv)
            lu[T2] += size
            where[x] = T2
        else:
            if size > cap:
                continue
            while used + size > cap:
                if lu[T1] + lu[B1] + size > cap:  # case A: L1 = T1 + B1 is full
                    if first[B1] >= 0:
                        _pop_ghost(B1, first, last, nxt, prv, where, stored, lu)
                        used -= _replace(False, p, first, last, nxt, prv, where, stored, lu)
                    else:  # T1 alone fills L1: evict its LRU without remembering it
                        v = first[T1]
                        _unlink(T1, v, first, last, nxt, prv)
                        vs = stored[v]
                        lu[T1] -= vs
                        where[v] = -1
                        used -= vs
                else:  # case B: trim B2 when the whole directory is at 2c
                    total = lu[T1] + lu[T2] + lu[B1] + lu[B2]
                    if total + size > cap2 and first[B2] >= 0:
                        _pop_ghost(B2, first, last, nxt, prv, where, stored, lu)
                    used -= _replace(False, p, first, last, nxt, prv, where, stored, lu)
            _append(T1, x, first, last, nxt, prv)
            lu[T1] += size
            where[x] = T1
            _trim_ghosts(cap2, first, last, nxt, prv, where, stored, lu)
        stored[x] = size
        used += size
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _arc(trace.ids, sizes, capacity, trace.n_unique)
