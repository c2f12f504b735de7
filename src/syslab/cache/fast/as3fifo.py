"""AS3-FIFO on dense ids (see syslab.cache.policies.as3fifo for the rules).

Two ring buffers (small S, main M) of resident ids, a 2-bit counter per id, and per id one
eviction stamp for each ghost: an id is in ghost GS (GM) while the total size evicted from S
(M) since its own eviction is at most 90 % of the capacity. All arithmetic is on integers, so the
hits equal the reference policy's exactly.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True)
def _as3fifo(ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    resident = np.zeros(n_unique, dtype=np.bool_)
    freq = np.zeros(n_unique, dtype=np.int8)
    stored = np.zeros(n_unique, dtype=np.int64)
    stamp_s = np.full(n_unique, -1, dtype=np.int64)  # ghost GS stamp, -1 = none
    stamp_m = np.full(n_unique, -1, dtype=np.int64)  # ghost GM stamp
    ring = n_unique + 1
    small = np.empty(ring, dtype=np.int64)
    main = np.empty(ring, dtype=np.int64)
    sh = 0
    st = 0
    mh = 0
    mt = 0
    used_s = 0
    used_m = 0
    clock_s = 0
    clock_m = 0
    c = capacity
    t_min = c // 100
    t_max = c - c // 10
    target = c // 10
    span = c - c // 10  # ghost window, as S3-FIFO's ghost (90 % of capacity)
    for i in range(n):
        x = ids[i]
        if resident[x]:
            hit[i] = True
            if freq[x] < 3:
                freq[x] += 1
            continue
        s = sizes[i]
        if s > c:
            continue
        in_gs = stamp_s[x] >= 0 and clock_s - stamp_s[x] <= span
        in_gm = stamp_m[x] >= 0 and clock_m - stamp_m[x] <= span
        if in_gs:
            target = min(t_max, target + s)
        elif in_gm:
            target = max(t_min, target - s)
        room = used_s + used_m + s <= c and used_s + s > target
        while used_s + used_m + s > c:
            if used_s > 0 and (used_s > target or used_m == 0):
                while sh != st:  # pop S until one object leaves the cache
                    y = small[sh]
                    sh = sh + 1 if sh + 1 < ring else 0
                    used_s -= stored[y]
                    if freq[y] >= 1:
                        freq[y] = 0
                        main[mt] = y
                        mt = mt + 1 if mt + 1 < ring else 0
                        used_m += stored[y]
                    else:
                        resident[y] = False
                        clock_s += stored[y]
                        stamp_s[y] = clock_s
                        break
            else:
                while True:  # CLOCK over M
                    y = main[mh]
                    mh = mh + 1 if mh + 1 < ring else 0
                    if freq[y] > 0:
                        freq[y] -= 1
                        main[mt] = y
                        mt = mt + 1 if mt + 1 < ring else 0
                    else:
                        resident[y] = False
                        used_m -= stored[y]
                        clock_m += stored[y]
                        stamp_m[y] = clock_m
                        break
        stamp_s[x] = -1
        stamp_m[x] = -1
        resident[x] = True
        freq[x] = 0
        stored[x] = s
        if in_gs or in_gm or room:
            main[mt] = x
            mt = mt + 1 if mt + 1 < ring else 0
            used_m += s
        else:
            small[st] = x
            st = st + 1 if st + 1 < ring else 0
            used_s += s
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _as3fifo(
        trace.ids, np.ascontiguousarray(sizes, dtype=np.int64), capacity, trace.n_unique
    )
