"""S3-FIFO on dense ids, step for step the rules of `policies/s3fifo.py` (libCacheSim's).

Small and main queues are rings of ids (moving an object to the head of main = pop + push).
One int8 per id holds the frequency, -1 when not resident (one memory access per hit).
The ghost loses keys from its middle on a ghost hit; rather than a linked list (which costs
several random accesses per eviction) it is a ring of (id, size) whose entries are live only
while `ghost_at[id]` still holds that entry's sequence number. Dead entries are skipped when
the ring is popped, and squeezed out when the ring fills up.

In count mode (every size 1) `unit` skips the per-id and per-ghost-entry sizes altogether (no
random reads of them on eviction); the branch is the same for every request, so it predicts
perfectly. Ghost sequence numbers are int32 (half the cache footprint) whenever the trace is
too short for them to overflow: a sequence number never exceeds the number of requests.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.policies.s3fifo import GHOST_RATIO, MAX_FREQ, MOVE_TO_MAIN, SMALL_RATIO
from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True)
def _compact_ghost(ring, ring_size, ghost_at, g_first, g_end, unit):
    """Keep only the live ghost entries, renumbered from 0; returns the new end."""
    length = len(ring)
    live = np.empty(g_end - g_first, dtype=ring.dtype)
    live_size = np.empty(0 if unit else g_end - g_first, dtype=ring_size.dtype)
    keep = 0
    for seq in range(g_first, g_end):  # copy out first: the ring may wrap
        u = ring[seq % length]
        if ghost_at[u] == seq:
            live[keep] = u
            if not unit:
                live_size[keep] = ring_size[seq % length]
            keep += 1
    for j in range(keep):
        ring[j] = live[j]
        if not unit:
            ring_size[j] = live_size[j]
        ghost_at[live[j]] = j
    return keep


@numba.njit(cache=True, nogil=True)
def _s3fifo(
    ids: np.ndarray,
    sizes: np.ndarray,
    capacity: int,
    n_unique: int,
    small_cap: int,
    ghost_cap: int,
    ghost_at: np.ndarray,
    unit: bool,
) -> np.ndarray:
    n = len(ids)
    main_cap = capacity - small_cap
    hit = np.zeros(n, dtype=np.bool_)
    freq = np.full(n_unique, -1, dtype=np.int8)  # -1: not resident
    stored = np.zeros(0 if unit else n_unique, dtype=np.int64)  # byte mode only
    ring_len = n_unique + 1
    small = np.empty(ring_len, dtype=np.int32)
    main = np.empty(ring_len, dtype=np.int32)
    s_first = s_end = m_first = m_end = 0
    s_used = m_used = 0
    # ghost ring: entry `seq` lives at seq % g_len; live ones number at most min(cap, n_unique)
    g_len = 2 * min(ghost_cap, n_unique) + 16
    g_ring = np.empty(g_len, dtype=np.int32)
    g_ring_size = np.empty(0 if unit else g_len, dtype=np.int64)  # byte mode only
    # ghost_at[id]: seq of the id's live entry, or -1 (allocated by `hits`)
    g_first = g_end = 0
    g_used = 0
    has_evicted = False

    for i in range(n):
        x = ids[i]
        f = freq[x]
        if f >= 0:
            hit[i] = True
            if f < MAX_FREQ:
                freq[x] = f + 1
            continue
        ghost_hit = ghost_at[x] >= 0
        if ghost_hit:  # the ghost entry dies; its ring slot is skipped later
            g_used -= 1 if unit else g_ring_size[ghost_at[x] % g_len]
            ghost_at[x] = -1
        s = 1 if unit else sizes[i]
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
                    freq[v] = -1
                    m_used -= 1 if unit else stored[v]
                    break
            else:
                # evict from small: frequent objects move to main; stop at the first that leaves
                while s_used > 0:
                    v = small[s_first]
                    s_first = s_first + 1 if s_first + 1 < ring_len else 0
                    vs = 1 if unit else stored[v]
                    s_used -= vs
                    if freq[v] >= MOVE_TO_MAIN:
                        freq[v] = 0
                        main[m_end] = v
                        m_end = m_end + 1 if m_end + 1 < ring_len else 0
                        m_used += vs
                        continue
                    freq[v] = -1
                    if vs <= ghost_cap:  # remember the key in the ghost
                        while g_used + vs > ghost_cap:  # pop the oldest live entry
                            u = g_ring[g_first % g_len]
                            if ghost_at[u] == g_first:
                                ghost_at[u] = -1
                                g_used -= 1 if unit else g_ring_size[g_first % g_len]
                            g_first += 1
                        if g_end - g_first == g_len:
                            g_end = _compact_ghost(
                                g_ring, g_ring_size, ghost_at, g_first, g_end, unit
                            )
                            g_first = 0
                        g_ring[g_end % g_len] = v
                        if not unit:
                            g_ring_size[g_end % g_len] = vs
                        ghost_at[v] = g_end
                        g_end += 1
                        g_used += vs
                    break
        if ghost_hit or (s < small_cap and not has_evicted and s_used >= small_cap):
            main[m_end] = x
            m_end = m_end + 1 if m_end + 1 < ring_len else 0
            m_used += s
        elif s < small_cap:
            small[s_end] = x
            s_end = s_end + 1 if s_end + 1 < ring_len else 0
            s_used += s
        else:
            continue  # size == |S| and not a ghost hit: not admitted (libCacheSim)
        freq[x] = 0
        if not unit:
            stored[x] = s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    small_cap = int(capacity * SMALL_RATIO)
    ghost_cap = int(capacity * GHOST_RATIO)
    unit = bool(np.all(sizes == 1))
    # sequence numbers only grow by one per ghost insertion, at most one per request
    seq_type = np.int32 if len(trace) < 2**31 - 1 else np.int64
    ghost_at = np.full(trace.n_unique, -1, dtype=seq_type)
    return _s3fifo(trace.ids, sizes, capacity, trace.n_unique, small_cap, ghost_cap, ghost_at, unit)
