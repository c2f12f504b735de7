"""LIRS on dense ids: stack S, queue Q and the ghost order as three linked lists in one array.

Same rules, step for step, as `policies/lirs.py` (see there for the algorithm): each
OrderedDict of the reference is a doubly linked list whose head is its first (oldest) entry.
`links[x]` holds x's (prev, next) in S, Q and the ghost list side by side, so one cache line
serves every list; `ends` holds each list's (head, tail); `acc` the running totals.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace

LIR, HIR, GHOST, NONE = 0, 1, 2, -1
S, Q, G = 0, 2, 4  # column of each list's prev link in `links` (next is one to the right)
USED, LIR_USED, S_USED = 0, 1, 2  # slots of `acc`


@numba.njit(cache=True, nogil=True, inline="always")
def _append(links, ends, k, x):
    """Put x at the tail (newest end) of list k."""
    t = ends[k + 1]
    links[x, k] = t
    links[x, k + 1] = -1
    if t >= 0:
        links[t, k + 1] = x
    else:
        ends[k] = x
    ends[k + 1] = x


@numba.njit(cache=True, nogil=True, inline="always")
def _unlink(links, ends, k, x):
    a = links[x, k]
    b = links[x, k + 1]
    if a >= 0:
        links[a, k + 1] = b
    else:
        ends[k] = b
    if b >= 0:
        links[b, k] = a
    else:
        ends[k + 1] = a


@numba.njit(cache=True, nogil=True, inline="always")
def _to_tail(links, ends, k, x):
    if ends[k + 1] != x:
        _unlink(links, ends, k, x)
        _append(links, ends, k, x)


@numba.njit(cache=True, nogil=True)
def _prune(status, in_s, size, links, ends, acc):
    """Drop HIR entries from the bottom of S until an LIR object is there."""
    while ends[S] >= 0:
        b = ends[S]
        st = status[b]
        if st == LIR:
            return
        _unlink(links, ends, S, b)
        in_s[b] = False
        acc[S_USED] -= size[b]
        if st == GHOST:
            _unlink(links, ends, G, b)
            status[b] = NONE


@numba.njit(cache=True, nogil=True)
def _demote_bottom_lir(status, in_s, size, links, ends, acc):
    _prune(status, in_s, size, links, ends, acc)
    b = ends[S]
    _unlink(links, ends, S, b)
    in_s[b] = False
    acc[S_USED] -= size[b]
    acc[LIR_USED] -= size[b]
    status[b] = HIR
    _append(links, ends, Q, b)
    _prune(status, in_s, size, links, ends, acc)


@numba.njit(cache=True, nogil=True, inline="always")
def _make_lir(x, status, in_s, size, links, ends, acc, lir_limit):
    status[x] = LIR
    acc[LIR_USED] += size[x]
    while acc[LIR_USED] > lir_limit:
        _demote_bottom_lir(status, in_s, size, links, ends, acc)


@numba.njit(cache=True, nogil=True, inline="always")
def _limit_s(status, in_s, size, links, ends, acc, capacity):
    while acc[S_USED] > 2 * capacity and ends[G] >= 0:
        g = ends[G]
        _unlink(links, ends, G, g)
        _unlink(links, ends, S, g)
        in_s[g] = False
        acc[S_USED] -= size[g]
        status[g] = NONE


@numba.njit(cache=True, nogil=True)
def _lirs(
    ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int, lir_limit: int
) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    status = np.full(n_unique, NONE, dtype=np.int8)
    in_s = np.zeros(n_unique, dtype=np.bool_)
    size = np.zeros(n_unique, dtype=np.int64)
    links = np.full((n_unique, 6), -1, dtype=np.int32)
    ends = np.full(6, -1, dtype=np.int64)
    acc = np.zeros(3, dtype=np.int64)
    for i in range(n):
        x = ids[i]
        st = status[x]
        if st == LIR:
            hit[i] = True
            _to_tail(links, ends, S, x)
            if status[ends[S]] != LIR:
                _prune(status, in_s, size, links, ends, acc)
            continue
        if st == HIR:
            hit[i] = True
            if in_s[x]:
                _to_tail(links, ends, S, x)
                _unlink(links, ends, Q, x)
                _make_lir(x, status, in_s, size, links, ends, acc, lir_limit)
            else:
                _append(links, ends, S, x)
                in_s[x] = True
                acc[S_USED] += size[x]
                _to_tail(links, ends, Q, x)
                _limit_s(status, in_s, size, links, ends, acc, capacity)
            continue

        s = sizes[i]
        if s > capacity:
            continue
        if st == GHOST:
            acc[S_USED] -= size[x]  # it re-enters S with this request's size
            size[x] = 0
        while acc[USED] + s > capacity:
            # evict the front of Q; with Q empty (byte mode), demote an LIR object first
            if ends[Q] < 0:
                _demote_bottom_lir(status, in_s, size, links, ends, acc)
            v = ends[Q]
            _unlink(links, ends, Q, v)
            acc[USED] -= size[v]
            if in_s[v]:
                status[v] = GHOST
                _append(links, ends, G, v)
            else:
                status[v] = NONE
        st = status[x]  # evicting may have pruned the ghost away
        size[x] = s
        acc[USED] += s
        if st == GHOST:
            _unlink(links, ends, G, x)
            acc[S_USED] += s
            _to_tail(links, ends, S, x)
            _make_lir(x, status, in_s, size, links, ends, acc, lir_limit)
        elif acc[LIR_USED] + s <= lir_limit:
            status[x] = LIR
            acc[LIR_USED] += s
            _append(links, ends, S, x)
            in_s[x] = True
            acc[S_USED] += s
        else:
            status[x] = HIR
            _append(links, ends, S, x)
            in_s[x] = True
            acc[S_USED] += s
            _append(links, ends, Q, x)
        _limit_s(status, in_s, size, links, ends, acc, capacity)
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int, hir_ratio: float = 0.01) -> np.ndarray:
    hir_limit = max(1, int(capacity * hir_ratio))  # as the reference computes them
    lir_limit = max(1, capacity - hir_limit)
    return _lirs(trace.ids, sizes, capacity, trace.n_unique, lir_limit)
