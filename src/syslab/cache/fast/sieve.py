"""SIEVE on dense ids: a doubly linked list with a visited bit per object and a resting hand.

Each id's state sits together in one row, `node[x] = (newer, older, visited, size)`, so a
request touches one cache line of x's state instead of one per array; `newer == -2` marks an
id that is not resident (no separate residency array). The list's ends live in locals.
In count mode (every size 1) the row is int32 and the sizes are never read: `unit` selects
that branch, which is the same for every request and so predicts perfectly.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace

OUT = -2  # node[x, NEWER] of an id that is not in the cache (-1 is "no newer": the head)
NEWER, OLDER, VISITED, SIZE = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True)
def _sieve(
    ids: np.ndarray, sizes: np.ndarray, capacity: int, node: np.ndarray, unit: bool
) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    head = -1  # newest
    tail = -1  # oldest
    hand = -1  # -1: start at the tail
    used = 0
    for i in range(n):
        x = ids[i]
        if node[x, NEWER] != OUT:
            hit[i] = True
            node[x, VISITED] = 1
            continue
        s = 1 if unit else sizes[i]
        if s > capacity:
            continue
        while used + s > capacity:
            v = tail if hand < 0 else hand
            while node[v, VISITED]:  # visited objects stay, with the bit cleared
                node[v, VISITED] = 0
                v = node[v, NEWER]
                if v < 0:
                    v = tail  # past the head: wrap
            a = node[v, NEWER]
            b = node[v, OLDER]
            hand = a
            if a >= 0:
                node[a, OLDER] = b
            else:
                head = b
            if b >= 0:
                node[b, NEWER] = a
            else:
                tail = a
            node[v, NEWER] = OUT
            used -= 1 if unit else node[v, SIZE]
        node[x, NEWER] = -1
        node[x, OLDER] = head
        node[x, VISITED] = 0
        if not unit:
            node[x, SIZE] = s
        if head >= 0:
            node[head, NEWER] = x
        else:
            tail = x
        head = x
        used += s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    unit = bool(np.all(sizes == 1))
    # 4-wide rows (16 bytes as int32) never straddle a cache line; byte mode needs int64 sizes
    node = np.full((trace.n_unique, 4), OUT, dtype=np.int32 if unit else np.int64)
    return _sieve(trace.ids, sizes, capacity, node, unit)
