"""SLRU on dense ids, step for step the rules of `policies/slru.py` (libCacheSim's SLRU.c).

The segments are disjoint LRU lists (oldest first) sharing one row per id, `node[x] = (older,
newer, size, segment)` (segment -1: not resident), one cache line per id. The reference's
recursive cooling (`_cool`) runs here as a loop over a current level that walks down while a
segment overflows and back up once it fits, which performs the same moves in the same order.
Segment capacities come from the reference class itself, so the rounding is the same.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.policies.slru import SLRU
from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True)
def _slru(
    ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int, seg_cap: np.ndarray
) -> np.ndarray:
    n = len(ids)
    nseg = len(seg_cap)
    top = nseg - 1
    hit = np.zeros(n, dtype=np.bool_)
    # per id, in one cache line: (older, newer) links, size on admission, which list (-1: none)
    node = np.full((n_unique, 4), -1, dtype=np.int64)
    first = np.full(nseg, -1, dtype=np.int32)
    last = np.full(nseg, -1, dtype=np.int32)
    lu = np.zeros(nseg, dtype=np.int64)  # units in each segment
    used = 0
    for i in range(n):
        x = ids[i]
        w = np.int64(node[x, 3])
        size = sizes[i]
        if w >= 0:
            hit[i] = True
            if w == top and last[w] == x:
                continue
            # unlink x from segment w
            a = node[x, 0]
            b = node[x, 1]
            if a >= 0:
                node[a, 1] = b
            else:
                first[w] = b
            if b >= 0:
                node[b, 0] = a
            else:
                last[w] = a
            # append it to segment j: w + 1, or w itself at the top
            j = w if w == top else w + 1
            t = last[j]
            node[x, 0] = t
            node[x, 1] = -1
            if t >= 0:
                node[t, 1] = x
            else:
                first[j] = x
            last[j] = x
            if j == w:
                continue
            s = node[x, 2]
            lu[w] -= s
            lu[j] += s
            node[x, 3] = j
            # while segment j overflows: cool(j); cool(k) moves k's LRU to k - 1 and then
            # cools k - 1 until it fits; cool(0) evicts (segment 0 is then the lowest)
            k = j
            while k <= j:
                if lu[k] <= seg_cap[k]:
                    k += 1
                    continue
                v = first[k]
                c = node[v, 1]
                first[k] = c
                if c >= 0:
                    node[c, 0] = -1
                else:
                    last[k] = -1
                vs = node[v, 2]
                lu[k] -= vs
                if k == 0:
                    node[v, 3] = -1
                    used -= vs
                    continue
                k -= 1
                t = last[k]
                node[v, 0] = t
                node[v, 1] = -1
                if t >= 0:
                    node[t, 1] = v
                else:
                    first[k] = v
                last[k] = v
                lu[k] += vs
                node[v, 3] = k
            continue
        if size > capacity:
            continue
        j = -1
        while True:
            if used + size > capacity:
                pass  # evict
            elif j >= 0:
                break
            else:
                for k in range(nseg):  # the lowest segment with room
                    if lu[k] + size <= seg_cap[k]:
                        j = k
                        break
                if j >= 0:
                    break
                j = 0  # every segment full: segment 0 takes it
                continue
            # evict the LRU object of the lowest non-empty segment
            for k in range(nseg):
                v = first[k]
                if v >= 0:
                    c = node[v, 1]
                    first[k] = c
                    if c >= 0:
                        node[c, 0] = -1
                    else:
                        last[k] = -1
                    vs = node[v, 2]
                    lu[k] -= vs
                    node[v, 3] = -1
                    used -= vs
                    break
        t = last[j]
        node[x, 0] = t
        node[x, 1] = -1
        if t >= 0:
            node[t, 1] = x
        else:
            first[j] = x
        last[j] = x
        lu[j] += size
        node[x, 3] = j
        node[x, 2] = size
        used += size
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    seg_cap = np.array(SLRU(capacity).seg_capacity, dtype=np.int64)  # the reference's rounding
    return _slru(trace.ids, sizes, capacity, trace.n_unique, seg_cap)
