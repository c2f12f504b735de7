"""AS3-FIFO on dense ids (see syslab.cache.policies.as3fifo for the rules).

Two ring buffers (small S, main M) of (id, size) pairs, so that evictions read sizes
sequentially. Per id only two words, to keep a miss at few random memory accesses:

* `freq` (int8): the CLOCK counter 0..3 of a resident id, -1 when it is not resident;
* `ghost` (int64): -1 for an id never evicted; else `stamp << 4 | returns << 1 | queue`,
  where `stamp` is the eviction clock of `queue` (0 = S, 1 = M) when the id was evicted. An
  id is in that ghost while the total size evicted from the queue since then is at most
  90 % of the capacity. While the id is resident the word holds just `returns << 1`.

All arithmetic is on integers, so the hits equal the reference policy's exactly.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.policies.as3fifo import MAX_FREQ, MAX_RETURNS
from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True)
def _as3fifo(ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    freq = np.full(n_unique, -1, dtype=np.int8)  # -1: not resident
    ghost = np.full(n_unique, -1, dtype=np.int64)
    ring = n_unique + 1
    small = np.empty(ring, dtype=np.int32)
    small_sz = np.empty(ring, dtype=np.int64)
    main = np.empty(ring, dtype=np.int32)
    main_sz = np.empty(ring, dtype=np.int64)
    sh = 0
    st = 0
    mh = 0
    mt = 0
    used_s = 0
    used_m = 0
    clock_s = 0
    clock_m = 0
    c = capacity
    t_min = c // 20
    t_max = c - c // 10
    target = c // 10
    span = c - c // 10  # ghost window, as S3-FIFO's ghost (90 % of capacity)
    for i in range(n):
        x = ids[i]
        f = freq[x]
        if f >= 0:
            hit[i] = True
            if f < MAX_FREQ:
                freq[x] = f + 1
            continue
        s = sizes[i]
        if s > c:
            continue
        g = ghost[x]
        returns = 0
        from_ghost = False
        if g >= 0:
            if g & 1:
                if clock_m - (g >> 4) <= span:
                    from_ghost = True
                    target = max(t_min, target - s)
            elif clock_s - (g >> 4) <= span:
                from_ghost = True
                target = min(t_max, target + s)
            if from_ghost:
                returns = min(MAX_RETURNS, ((g >> 1) & 7) + 1)
        room = used_s + used_m + s <= c and used_s + s > target
        while used_s + used_m + s > c:
            if used_s > 0 and (used_s > target or used_m == 0):
                while sh != st:  # pop S until one object leaves the cache
                    y = small[sh]
                    ys = small_sz[sh]
                    sh = sh + 1 if sh + 1 < ring else 0
                    used_s -= ys
                    if freq[y] >= 1:
                        freq[y] = 0
                        main[mt] = y
                        main_sz[mt] = ys
                        mt = mt + 1 if mt + 1 < ring else 0
                        used_m += ys
                    else:
                        freq[y] = -1
                        clock_s += ys
                        ghost[y] = (clock_s << 4) | (ghost[y] & 14)
                        break
            else:
                while True:  # CLOCK over M
                    y = main[mh]
                    ys = main_sz[mh]
                    mh = mh + 1 if mh + 1 < ring else 0
                    fy = freq[y]
                    if fy > 0:
                        freq[y] = fy - 1
                        main[mt] = y
                        main_sz[mt] = ys
                        mt = mt + 1 if mt + 1 < ring else 0
                    else:
                        freq[y] = -1
                        used_m -= ys
                        clock_m += ys
                        ghost[y] = (clock_m << 4) | (ghost[y] & 14) | 1
                        break
        ghost[x] = returns << 1
        if from_ghost or room:
            freq[x] = min(MAX_FREQ, returns - 1) if returns > 0 else 0
            main[mt] = x
            main_sz[mt] = s
            mt = mt + 1 if mt + 1 < ring else 0
            used_m += s
        else:
            freq[x] = 0
            small[st] = x
            small_sz[st] = s
            st = st + 1 if st + 1 < ring else 0
            used_s += s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _as3fifo(
        trace.ids, np.ascontiguousarray(sizes, dtype=np.int64), capacity, trace.n_unique
    )
