"""ARC on dense ids, step for step the rules of `policies/arc.py` (libCacheSim's ARC.c).

T1, T2 and the ghosts B1, B2 are disjoint, so one row per id, `node[x] = (older, newer, size,
list)`, holds all four lists (oldest first; list -1: none) in a single cache line, and the list
ends and sizes are scalars. Ghost hits unlink from the middle in O(1). `p` is a float64 moved by
exactly the reference's operations (int / int true division, then `* size`), so every REPLACE
decision is the same bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace

T1, T2, B1, B2 = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True)
def _arc(ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    # per id, in one cache line: (older, newer) links, size on admission, which list (-1: none)
    node = np.full((n_unique, 4), -1, dtype=np.int64)
    # (oldest, newest, units) of each list
    f1 = l1 = f2 = l2 = fb1 = lb1 = fb2 = lb2 = -1
    u1 = u2 = ub1 = ub2 = 0
    cap = capacity
    cap2 = 2 * capacity
    fcap = float(capacity)
    used = 0
    p = 0.0
    for i in range(n):
        x = ids[i]
        w = node[x, 3]
        if w == T2:
            hit[i] = True
            if l2 != x:  # x has a newer neighbour: move it to the newest end
                a = node[x, 0]
                b = node[x, 1]
                if a >= 0:
                    node[a, 1] = b
                else:
                    f2 = b
                node[b, 0] = a
                node[x, 0] = l2
                node[x, 1] = -1
                node[l2, 1] = x
                l2 = x
            continue
        if w == T1:  # second access: promote to the frequency side
            hit[i] = True
            s = node[x, 2]
            a = node[x, 0]
            b = node[x, 1]
            if a >= 0:
                node[a, 1] = b
            else:
                f1 = b
            if b >= 0:
                node[b, 0] = a
            else:
                l1 = a
            u1 -= s
            node[x, 0] = l2
            node[x, 1] = -1
            if l2 >= 0:
                node[l2, 1] = x
            else:
                f2 = x
            l2 = x
            u2 += s
            node[x, 3] = T2
            continue
        size = sizes[i]
        ghost_hit = w >= 0
        in_b2 = w == B2
        if ghost_hit:
            a = node[x, 0]
            b = node[x, 1]
            if in_b2:
                step = ub1 / ub2
                if step < 1.0:
                    step = 1.0
                q = p - step * size
                p = 0.0 if q < 0.0 else q
                if a >= 0:
                    node[a, 1] = b
                else:
                    fb2 = b
                if b >= 0:
                    node[b, 0] = a
                else:
                    lb2 = a
                ub2 -= node[x, 2]
            else:
                step = ub2 / ub1
                if step < 1.0:
                    step = 1.0
                q = p + step * size
                p = fcap if fcap < q else q
                if a >= 0:
                    node[a, 1] = b
                else:
                    fb1 = b
                if b >= 0:
                    node[b, 0] = a
                else:
                    lb1 = a
                ub1 -= node[x, 2]
            node[x, 3] = -1
        if size > cap:
            continue
        while used + size > cap:
            replace = True
            if not ghost_hit:  # the paper's case IV for a brand-new key
                if u1 + ub1 + size > cap:  # case A: L1 = T1 + B1 is full
                    if fb1 >= 0:  # forget B1's oldest, then REPLACE
                        g = fb1
                        fb1 = node[g, 1]
                        if fb1 >= 0:
                            node[fb1, 0] = -1
                        else:
                            lb1 = -1
                        ub1 -= node[g, 2]
                        node[g, 3] = -1
                    else:  # T1 alone fills L1: evict its LRU without remembering it
                        replace = False
                elif u1 + u2 + ub1 + ub2 + size > cap2 and fb2 >= 0:  # case B, directory full
                    g = fb2
                    fb2 = node[g, 1]
                    if fb2 >= 0:
                        node[fb2, 0] = -1
                    else:
                        lb2 = -1
                    ub2 -= node[g, 2]
                    node[g, 3] = -1
            if f1 >= 0 and (not replace or u1 > p or (u1 == p and in_b2) or f2 < 0):
                v = f1  # T1's LRU goes to B1 (or nowhere)
                f1 = node[v, 1]
                if f1 >= 0:
                    node[f1, 0] = -1
                else:
                    l1 = -1
                vs = node[v, 2]
                u1 -= vs
                if replace:
                    node[v, 0] = lb1
                    node[v, 1] = -1
                    if lb1 >= 0:
                        node[lb1, 1] = v
                    else:
                        fb1 = v
                    lb1 = v
                    ub1 += vs
                    node[v, 3] = B1
                else:
                    node[v, 3] = -1
            else:
                v = f2  # T2's LRU goes to B2
                f2 = node[v, 1]
                if f2 >= 0:
                    node[f2, 0] = -1
                else:
                    l2 = -1
                vs = node[v, 2]
                u2 -= vs
                node[v, 0] = lb2
                node[v, 1] = -1
                if lb2 >= 0:
                    node[lb2, 1] = v
                else:
                    fb2 = v
                lb2 = v
                ub2 += vs
                node[v, 3] = B2
            used -= vs
        if ghost_hit:  # seen before: straight to the frequency side
            node[x, 0] = l2
            node[x, 1] = -1
            if l2 >= 0:
                node[l2, 1] = x
            else:
                f2 = x
            l2 = x
            u2 += size
            node[x, 3] = T2
            extra = size  # the reference trims the ghosts before this insertion
        else:
            node[x, 0] = l1
            node[x, 1] = -1
            if l1 >= 0:
                node[l1, 1] = x
            else:
                f1 = x
            l1 = x
            u1 += size
            node[x, 3] = T1
            extra = 0
        while u1 + u2 + ub1 + ub2 - extra > cap2:  # keep the directory within 2c
            if fb2 >= 0:
                g = fb2
                fb2 = node[g, 1]
                if fb2 >= 0:
                    node[fb2, 0] = -1
                else:
                    lb2 = -1
                ub2 -= node[g, 2]
            elif fb1 >= 0:
                g = fb1
                fb1 = node[g, 1]
                if fb1 >= 0:
                    node[fb1, 0] = -1
                else:
                    lb1 = -1
                ub1 -= node[g, 2]
            else:
                break
            node[g, 3] = -1
        node[x, 2] = size
        used += size
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _arc(trace.ids, sizes, capacity, trace.n_unique)
