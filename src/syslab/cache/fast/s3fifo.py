"""S3-FIFO on dense ids, step for step the rules of `policies/s3fifo.py` (libCacheSim's).

Small and main queues are rings of ids (moving an object to the head of main = pop + push).
The ghost loses keys from its middle (on a ghost hit), so it is a doubly linked list over ids.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.policies.s3fifo import GHOST_RATIO, MAX_FREQ, MOVE_TO_MAIN, SMALL_RATIO
from syslab.cache.trace import Trace

_NONE, _SMALL, _MAIN = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def _s3fifo(
    ids: np.ndarray,
    sizes: np.ndarray,
    capacity: int,
    n_unique: int,
    small_cap: int,
    ghost_cap: int,
) -> np.ndarray:
    n = len(ids)
    main_cap = capacity - small_cap
    hit = np.zeros(n, dtype=np.bool_)
    where = np.zeros(n_unique, dtype=np.int8)  # _NONE, _SMALL or _MAIN
    freq = np.zeros(n_unique, dtype=np.int8)
    stored = np.zeros(n_unique, dtype=np.int64)
    ring_len = n_unique + 1
    small = np.empty(ring_len, dtype=np.int32)
    main = np.empty(ring_len, dtype=np.int32)
    s_first = s_end = m_first = m_end = 0
    s_used = m_used = 0
    # ghost: linked list, newest at g_head; g_newer points towards the head
    in_ghost = np.zeros(n_unique, dtype=np.bool_)
    g_newer = np.full(n_unique, -1, dtype=np.int32)
    g_older = np.full(n_unique, -1, dtype=np.int32)
    g_size = np.zeros(n_unique, dtype=np.int64)
    g_head = -1
    g_tail = -1
    g_used = 0
    has_evicted = False

    for i in range(n):
        x = ids[i]
        if where[x] != _NONE:
            hit[i] = True
            if freq[x] < MAX_FREQ:
                freq[x] += 1
            continue
        ghost_hit = in_ghost[x]
        if ghost_hit:  # unlink x from the ghost
            a = g_newer[x]
            b = g_older[x]
            if a >= 0:
                g_older[a] = b
            else:
                g_head = b
            if b >= 0:
                g_newer[b] = a
            else:
                g_tail = a
            in_ghost[x] = False
            g_used -= g_size[x]
        s = sizes[i]
        if s > small_cap or s > capacity:
            continue
        while s_used + m_used + s > capacity:
            has_evicted = True
            if m_used > main_cap or s_used == 0:
                # evict from main: reinsert while freq >= 1
                while True:
                    v = main[m_first]
                    m_first = m_first + 1 if m_first + 1 < ring_len else 0
                    if freq[v] >= 1:
                        freq[v] -= 1
                        main[m_end] = v
                        m_end = m_end + 1 if m_end + 1 < ring_len else 0
                        continue
                    where[v] = _NONE
                    m_used -= stored[v]
                    break
            else:
                # evict from small: frequent objects move to main; stop at the first that leaves
                while s_used > 0:
                    v = small[s_first]
                    s_first = s_first + 1 if s_first + 1 < ring_len else 0
                    vs = stored[v]
                    s_used -= vs
                    if freq[v] >= MOVE_TO_MAIN:
                        freq[v] = 0
                        where[v] = _MAIN
                        main[m_end] = v
                        m_end = m_end + 1 if m_end + 1 < ring_len else 0
                        m_used += vs
                        continue
                    where[v] = _NONE
                    if vs <= ghost_cap:  # remember the key in the ghost
                        while g_used + vs > ghost_cap:
                            u = g_tail
                            g_tail = g_newer[u]
                            if g_tail >= 0:
                                g_older[g_tail] = -1
                            else:
                                g_head = -1
                            in_ghost[u] = False
                            g_used -= g_size[u]
                        g_newer[v] = -1
                        g_older[v] = g_head
                        if g_head >= 0:
                            g_newer[g_head] = v
                        else:
                            g_tail = v
                        g_head = v
                        in_ghost[v] = True
                        g_size[v] = vs
                        g_used += vs
                    break
        if ghost_hit or (s < small_cap and not has_evicted and s_used >= small_cap):
            where[x] = _MAIN
            main[m_end] = x
            m_end = m_end + 1 if m_end + 1 < ring_len else 0
            m_used += s
        elif s < small_cap:
            where[x] = _SMALL
            small[s_end] = x
            s_end = s_end + 1 if s_end + 1 < ring_len else 0
            s_used += s
        else:
            continue  # size == |S| and not a ghost hit: not admitted (libCacheSim)
        freq[x] = 0
        stored[x] = s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    small_cap = int(capacity * SMALL_RATIO)
    ghost_cap = int(capacity * GHOST_RATIO)
    return _s3fifo(trace.ids, sizes, capacity, trace.n_unique, small_cap, ghost_cap)
