"""In-cache LFU on dense ids, the rules of `policies/lfu.py`: least frequent first, ties LRU.

O(1) per request: the non-empty frequency buckets form a doubly linked list in increasing
frequency (its head is the minimum, what the reference's heap finds), and each bucket is a
doubly linked list of ids, oldest first (`node[x] = (older, newer, size, bucket)`, one cache
line per id). Buckets come from a pool with a free stack; there are never more than one per
resident object plus one. A hit that leaves its bucket empty and finds no bucket for f + 1 just
renumbers its bucket.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True)
def _lfu(ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    # per id, in one cache line: (older, newer) links in its bucket, size, bucket (-1: none)
    node = np.full((n_unique, 4), -1, dtype=np.int64)
    nb = min(n_unique, capacity) + 2
    bfreq = np.zeros(nb, dtype=np.int64)
    bfirst = np.full(nb, -1, dtype=np.int32)  # oldest id in the bucket
    blast = np.full(nb, -1, dtype=np.int32)  # newest id in the bucket
    bnext = np.full(nb, -1, dtype=np.int32)  # next bucket, higher frequency
    bprev = np.full(nb, -1, dtype=np.int32)  # previous bucket, lower frequency
    free = np.arange(nb - 1, -1, -1).astype(np.int32)  # stack of unused buckets
    n_free = nb
    bhead = -1  # bucket of the minimum frequency
    used = 0
    for i in range(n):
        x = ids[i]
        b = node[x, 3]
        if b >= 0:
            hit[i] = True
            f1 = bfreq[b] + 1
            c = bnext[b]
            has_next = c >= 0 and bfreq[c] == f1
            if bfirst[b] == blast[b] and not has_next:
                bfreq[b] = f1  # alone in its bucket: the bucket moves up with it
                continue
            if not has_next:  # new bucket f + 1 right after b
                n_free -= 1
                c = free[n_free]
                bfreq[c] = f1
                bfirst[c] = -1
                blast[c] = -1
                bprev[c] = b
                bnext[c] = bnext[b]
                if bnext[b] >= 0:
                    bprev[bnext[b]] = c
                bnext[b] = c
            # leave b
            a = node[x, 0]
            d = node[x, 1]
            if a >= 0:
                node[a, 1] = d
            else:
                bfirst[b] = d
            if d >= 0:
                node[d, 0] = a
            else:
                blast[b] = a
            # join c at its newest end
            t = blast[c]
            node[x, 0] = t
            node[x, 1] = -1
            if t >= 0:
                node[t, 1] = x
            else:
                bfirst[c] = x
            blast[c] = x
            node[x, 3] = c
            if bfirst[b] < 0:  # b is empty: unlink and free it
                a = bprev[b]
                bprev[c] = a
                if a >= 0:
                    bnext[a] = c
                else:
                    bhead = c
                free[n_free] = b
                n_free += 1
            continue
        s = sizes[i]
        if s > capacity:
            continue
        while used + s > capacity:
            b = bhead
            v = bfirst[b]
            d = node[v, 1]
            bfirst[b] = d
            if d >= 0:
                node[d, 0] = -1
            else:  # b is empty: unlink and free it
                blast[b] = -1
                c = bnext[b]
                bhead = c
                if c >= 0:
                    bprev[c] = -1
                free[n_free] = b
                n_free += 1
            node[v, 3] = -1
            used -= node[v, 2]
        b = bhead
        if b < 0 or bfreq[b] != 1:  # new bucket of frequency 1 at the head
            n_free -= 1
            c = free[n_free]
            bfreq[c] = 1
            bfirst[c] = -1
            blast[c] = -1
            bprev[c] = -1
            bnext[c] = b
            if b >= 0:
                bprev[b] = c
            bhead = c
            b = c
        t = blast[b]
        node[x, 0] = t
        node[x, 1] = -1
        if t >= 0:
            node[t, 1] = x
        else:
            bfirst[b] = x
        blast[b] = x
        node[x, 3] = b
        node[x, 2] = s
        used += s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _lfu(trace.ids, sizes, capacity, trace.n_unique)
