"""LIRS on dense ids: stack S, queue Q and the ghost order as three linked lists in one array.

Same rules, step for step, as `policies/lirs.py` (see there for the algorithm): each
OrderedDict of the reference is a doubly linked list whose head is its first (oldest) entry.
`links[x]` holds x's (prev, next) in S, Q and the ghost list side by side, so one cache line
serves every list; the lists' ends and the running totals are locals (helpers take and
return them), which keeps them in registers.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace

LIR, HIR, GHOST, NONE = 0, 1, 2, -1
S, Q, G = 0, 2, 4  # column of each list's prev link in `links` (next is one to the right)


@numba.njit(cache=True, nogil=True, inline="always")
def _append(links, k, x, head, tail):
    """Put x at the tail (newest end) of list k; returns the list's new (head, tail)."""
    links[x, k] = tail
    links[x, k + 1] = -1
    if tail >= 0:
        links[tail, k + 1] = x
    else:
        head = x
    return head, x


@numba.njit(cache=True, nogil=True, inline="always")
def _unlink(links, k, x, head, tail):
    a = links[x, k]
    b = links[x, k + 1]
    if a >= 0:
        links[a, k + 1] = b
    else:
        head = b
    if b >= 0:
        links[b, k] = a
    else:
        tail = a
    return head, tail


@numba.njit(cache=True, nogil=True, inline="always")
def _prune(status, in_s, size, links, sh, st, gh, gt, s_used):
    """Drop HIR entries from the bottom of S until an LIR object is there."""
    while sh >= 0:
        b = sh
        stat = status[b]
        if stat == LIR:
            break
        sh, st = _unlink(links, S, b, sh, st)
        in_s[b] = False
        s_used -= size[b]
        if stat == GHOST:
            gh, gt = _unlink(links, G, b, gh, gt)
            status[b] = NONE
    return sh, st, gh, gt, s_used


@numba.njit(cache=True, nogil=True, inline="always")
def _demote_bottom_lir(status, in_s, size, links, sh, st, qh, qt, gh, gt, s_used, lir_used):
    sh, st, gh, gt, s_used = _prune(status, in_s, size, links, sh, st, gh, gt, s_used)
    b = sh
    sh, st = _unlink(links, S, b, sh, st)
    in_s[b] = False
    s_used -= size[b]
    lir_used -= size[b]
    status[b] = HIR
    qh, qt = _append(links, Q, b, qh, qt)
    sh, st, gh, gt, s_used = _prune(status, in_s, size, links, sh, st, gh, gt, s_used)
    return sh, st, qh, qt, gh, gt, s_used, lir_used


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
    # the lists' ends (S: bottom, top) and the running totals live in locals
    sh = st = qh = qt = gh = gt = np.int64(-1)
    used = lir_used = s_used = np.int64(0)
    for i in range(n):
        x = ids[i]
        stat = status[x]
        if stat == LIR:
            hit[i] = True
            if st != x:
                sh, st = _unlink(links, S, x, sh, st)
                sh, st = _append(links, S, x, sh, st)
            if status[sh] != LIR:
                sh, st, gh, gt, s_used = _prune(status, in_s, size, links, sh, st, gh, gt, s_used)
            continue
        if stat == HIR:
            hit[i] = True
            if in_s[x]:
                if st != x:
                    sh, st = _unlink(links, S, x, sh, st)
                    sh, st = _append(links, S, x, sh, st)
                qh, qt = _unlink(links, Q, x, qh, qt)
                status[x] = LIR  # make it LIR, demoting bottom LIR objects while over the share
                lir_used += size[x]
                while lir_used > lir_limit:
                    sh, st, qh, qt, gh, gt, s_used, lir_used = _demote_bottom_lir(
                        status, in_s, size, links, sh, st, qh, qt, gh, gt, s_used, lir_used
                    )
            else:
                sh, st = _append(links, S, x, sh, st)
                in_s[x] = True
                s_used += size[x]
                if qt != x:
                    qh, qt = _unlink(links, Q, x, qh, qt)
                    qh, qt = _append(links, Q, x, qh, qt)
                while s_used > 2 * capacity and gh >= 0:  # bound S by dropping old ghosts
                    g = gh
                    gh, gt = _unlink(links, G, g, gh, gt)
                    sh, st = _unlink(links, S, g, sh, st)
                    in_s[g] = False
                    s_used -= size[g]
                    status[g] = NONE
            continue

        s = sizes[i]
        if s > capacity:
            continue
        if stat == GHOST:
            s_used -= size[x]  # it re-enters S with this request's size
            size[x] = 0
        while used + s > capacity:
            # evict the front of Q; with Q empty (byte mode), demote an LIR object first
            if qh < 0:
                sh, st, qh, qt, gh, gt, s_used, lir_used = _demote_bottom_lir(
                    status, in_s, size, links, sh, st, qh, qt, gh, gt, s_used, lir_used
                )
            v = qh
            qh, qt = _unlink(links, Q, v, qh, qt)
            used -= size[v]
            if in_s[v]:
                status[v] = GHOST
                gh, gt = _append(links, G, v, gh, gt)
            else:
                status[v] = NONE
        stat = status[x]  # evicting may have pruned the ghost away
        size[x] = s
        used += s
        if stat == GHOST:
            gh, gt = _unlink(links, G, x, gh, gt)
            s_used += s
            if st != x:
                sh, st = _unlink(links, S, x, sh, st)
                sh, st = _append(links, S, x, sh, st)
            status[x] = LIR
            lir_used += s
            while lir_used > lir_limit:
                sh, st, qh, qt, gh, gt, s_used, lir_used = _demote_bottom_lir(
                    status, in_s, size, links, sh, st, qh, qt, gh, gt, s_used, lir_used
                )
        elif lir_used + s <= lir_limit:
            status[x] = LIR
            lir_used += s
            sh, st = _append(links, S, x, sh, st)
            in_s[x] = True
            s_used += s
        else:
            status[x] = HIR
            sh, st = _append(links, S, x, sh, st)
            in_s[x] = True
            s_used += s
            qh, qt = _append(links, Q, x, qh, qt)
        while s_used > 2 * capacity and gh >= 0:  # bound S by dropping old ghosts
            g = gh
            gh, gt = _unlink(links, G, g, gh, gt)
            sh, st = _unlink(links, S, g, sh, st)
            in_s[g] = False
            s_used -= size[g]
            status[g] = NONE
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int, hir_ratio: float = 0.01) -> np.ndarray:
    hir_limit = max(1, int(capacity * hir_ratio))  # as the reference computes them
    lir_limit = max(1, capacity - hir_limit)
    return _lirs(trace.ids, sizes, capacity, trace.n_unique, lir_limit)
