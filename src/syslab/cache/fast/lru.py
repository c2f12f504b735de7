"""LRU on dense ids: a doubly linked list, most recent at the head.

Each id's links and size sit together in one row, `node[x] = (newer, older[, size])`, so a
request touches one cache line of x's state instead of one per array; `newer == -2` marks an
id that is not resident (no separate residency array). The list's ends live in locals.
In count mode (every size 1) the row is two int32s and the sizes are never read: `unit`
selects that branch, which is the same for every request and so predicts perfectly.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace

OUT = -2  # node[x, 0] of an id that is not in the cache (-1 is "no newer": the head)


@numba.njit(cache=True, nogil=True)
def _lru(
    ids: np.ndarray, sizes: np.ndarray, capacity: int, node: np.ndarray, unit: bool
) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    head = -1  # most recent
    tail = -1  # least recent, the next victim
    used = 0
    for i in range(n):
        x = ids[i]
        a = node[x, 0]  # towards the head
        if a != OUT:
            hit[i] = True
            if a >= 0:  # not already the head: unlink, then push at the head
                b = node[x, 1]  # towards the tail
                node[a, 1] = b
                if b >= 0:
                    node[b, 0] = a
                else:
                    tail = a
                node[x, 0] = -1
                node[x, 1] = head
                node[head, 0] = x
                head = x
            continue
        s = 1 if unit else sizes[i]
        if s > capacity:
            continue
        while used + s > capacity:
            victim = tail
            tail = node[victim, 0]
            if tail >= 0:
                node[tail, 1] = -1
            else:
                head = -1
            node[victim, 0] = OUT
            used -= 1 if unit else node[victim, 2]
        node[x, 0] = -1
        node[x, 1] = head
        if not unit:
            node[x, 2] = s
        if head >= 0:
            node[head, 0] = x
        else:
            tail = x
        head = x
        used += s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    unit = bool(np.all(sizes == 1))
    # count mode: (newer, older) as int32 (8 bytes); byte mode also keeps the admitted size
    # (int64, as sizes may exceed 2**31) in a 4-wide row so rows never straddle cache lines
    node = np.full((trace.n_unique, 2 if unit else 4), OUT, dtype=np.int32 if unit else np.int64)
    return _lru(trace.ids, sizes, capacity, node, unit)
