"""W-TinyLFU on dense ids, step for step the rules of `policies/wtinylfu.py` (libCacheSim's).

The window LRU and main's two SLRU segments are doubly linked lists sharing one pair of
`newer`/`older` arrays (an id is in at most one list); `where[id]` says which (-1: none,
0: window, 1: probationary, 2: protected). The counting Bloom filter is an array of uint32
counters; each id's two XXH64 words are computed once, up front, from the trace key it stands
for, as libCacheSim hashes obj_id, so admissions match libCacheSim's exactly.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.policies.wtinylfu import (
    DECAY_FACTOR,
    P1,
    P2,
    P3,
    P4,
    P5,
    SEED0,
    SEED1,
    sketch_shape,
)
from syslab.cache.trace import Trace

_U = np.uint64
_P1, _P2, _P3, _P4, _P5 = _U(P1), _U(P2), _U(P3), _U(P4), _U(P5)
_M32 = _U(0xFFFFFFFF)

WINDOW = 0
PROBATION = 1
PROTECTED = 2


@numba.njit(cache=True, nogil=True)
def _xxh64_u64(v, seed):
    k = v * _P2
    k = (k << _U(31)) | (k >> _U(33))
    k = k * _P1
    h = (seed + _P5 + _U(8)) ^ k
    h = ((h << _U(27)) | (h >> _U(37))) * _P1 + _P4
    h ^= h >> _U(33)
    h = h * _P2
    h ^= h >> _U(29)
    h = h * _P3
    return h ^ (h >> _U(32))


@numba.njit(cache=True, nogil=True, inline="always")
def _slot(x, n, m):
    """x % n for x, n < 2**32 without a division (Lemire's fastmod, m = 2**64 // n + 1)."""
    low = m * x
    hi = low >> _U(32)
    lo = low & _M32
    return (hi * n + ((lo * n) >> _U(32))) >> _U(32)


@numba.njit(cache=True, nogil=True)
def _estimate(cbf, a, b, n_hashes, n, m):
    best = np.uint32(0xFFFFFFFF)
    for j in range(n_hashes):
        c = cbf[_slot((a + _U(j) * b) & _M32, n, m)]
        if c < best:
            best = c
    return best


@numba.njit(cache=True, nogil=True)
def _add(cbf, a, b, n_hashes, n, m):
    for j in range(n_hashes):
        cbf[_slot((a + _U(j) * b) & _M32, n, m)] += np.uint32(1)


@numba.njit(cache=True, nogil=True)
def _wtinylfu(
    ids: np.ndarray,
    labels: np.ndarray,
    sizes: np.ndarray,
    capacity: int,
    window_cap: int,
    main_cap: int,
    seg_caps: np.ndarray,
    n_hashes: int,
    n_counters: int,
    decay_after: int,
) -> np.ndarray:
    n = len(ids)
    n_unique = len(labels)
    hit = np.zeros(n, dtype=np.bool_)
    ha = np.empty(n_unique, dtype=np.uint64)  # low 32 bits of XXH64 under each seed
    hb = np.empty(n_unique, dtype=np.uint64)
    for u in range(n_unique):
        ha[u] = _xxh64_u64(labels[u], _U(SEED0)) & _M32
        hb[u] = _xxh64_u64(labels[u], _U(SEED1)) & _M32
    cbf = np.zeros(n_counters, dtype=np.uint32)
    nc = _U(n_counters)
    fm = _U(0xFFFFFFFFFFFFFFFF) // nc + _U(1)  # fastmod constant
    where = np.full(n_unique, -1, dtype=np.int8)
    stored = np.zeros(n_unique, dtype=np.int64)
    newer = np.full(n_unique, -1, dtype=np.int32)  # towards the list's head (MRU)
    older = np.full(n_unique, -1, dtype=np.int32)  # towards the list's tail (LRU)
    head = np.full(3, -1, dtype=np.int64)
    tail = np.full(3, -1, dtype=np.int64)
    used = np.zeros(3, dtype=np.int64)  # window, probationary, protected
    main_hits = 0

    for i in range(n):
        x = ids[i]
        w = where[x]
        if w == WINDOW:
            hit[i] = True
            _unlink(x, w, newer, older, head, tail)
            _push(x, w, newer, older, head, tail)
            continue
        if w > WINDOW:
            hit[i] = True
            if w == PROTECTED:
                _unlink(x, w, newer, older, head, tail)
                _push(x, w, newer, older, head, tail)
            else:  # promote; an overflowing protected segment cools into probation
                _unlink(x, w, newer, older, head, tail)
                used[PROBATION] -= stored[x]
                _push(x, PROTECTED, newer, older, head, tail)
                where[x] = PROTECTED
                used[PROTECTED] += stored[x]
                _cool(where, stored, newer, older, head, tail, used, seg_caps)
            _add(cbf, ha[x], hb[x], n_hashes, nc, fm)
            main_hits += 1
            if main_hits >= decay_after:
                main_hits = 0
                for j in range(n_counters):
                    cbf[j] >>= np.uint32(1)
            continue
        s = sizes[i]
        if s > capacity:
            continue
        while used[0] + used[1] + used[2] + s > capacity:
            # free room for one eviction; window objects move to main while main has room
            evicted = False
            while tail[WINDOW] >= 0:
                c = tail[WINDOW]
                cs = stored[c]
                if used[PROBATION] + used[PROTECTED] + cs <= main_cap:
                    _unlink(c, WINDOW, newer, older, head, tail)
                    used[WINDOW] -= cs
                    _main_insert(
                        c, cs, main_cap, where, stored, newer, older, head, tail, used, seg_caps
                    )
                    _add(cbf, ha[c], hb[c], n_hashes, nc, fm)
                    continue
                admit = False
                if cs <= main_cap:
                    v = tail[PROBATION] if used[PROBATION] > 0 else tail[PROTECTED]
                    admit = _estimate(cbf, ha[c], hb[c], n_hashes, nc, fm) > _estimate(
                        cbf, ha[v], hb[v], n_hashes, nc, fm
                    )
                _unlink(c, WINDOW, newer, older, head, tail)
                used[WINDOW] -= cs
                if admit:
                    _main_evict(where, stored, newer, older, head, tail, used)
                    _main_insert(
                        c, cs, main_cap, where, stored, newer, older, head, tail, used, seg_caps
                    )
                else:
                    where[c] = -1
                _add(cbf, ha[c], hb[c], n_hashes, nc, fm)
                evicted = True
                break
            if not evicted:
                _main_evict(where, stored, newer, older, head, tail, used)
        _push(x, WINDOW, newer, older, head, tail)
        where[x] = WINDOW
        stored[x] = s
        used[WINDOW] += s
        _add(cbf, ha[x], hb[x], n_hashes, nc, fm)
    return hit


@numba.njit(cache=True, nogil=True, inline="always")
def _unlink(x, lst, newer, older, head, tail):
    a = newer[x]
    b = older[x]
    if a >= 0:
        older[a] = b
    else:
        head[lst] = b
    if b >= 0:
        newer[b] = a
    else:
        tail[lst] = a


@numba.njit(cache=True, nogil=True, inline="always")
def _push(x, lst, newer, older, head, tail):
    h = head[lst]
    newer[x] = -1
    older[x] = h
    if h >= 0:
        newer[h] = x
    else:
        tail[lst] = x
    head[lst] = x


@numba.njit(cache=True, nogil=True)
def _main_evict(where, stored, newer, older, head, tail, used):
    """Evict the LRU object of main's lowest non-empty segment."""
    seg = PROBATION if used[PROBATION] > 0 else PROTECTED
    v = tail[seg]
    _unlink(v, seg, newer, older, head, tail)
    used[seg] -= stored[v]
    where[v] = -1


@numba.njit(cache=True, nogil=True)
def _cool(where, stored, newer, older, head, tail, used, seg_caps):
    """While protected overflows, demote its LRU object; probation overflowing evicts."""
    while used[PROTECTED] > seg_caps[1]:
        v = tail[PROTECTED]
        _unlink(v, PROTECTED, newer, older, head, tail)
        used[PROTECTED] -= stored[v]
        _push(v, PROBATION, newer, older, head, tail)
        where[v] = PROBATION
        used[PROBATION] += stored[v]
        while used[PROBATION] > seg_caps[0]:
            _main_evict(where, stored, newer, older, head, tail, used)


@numba.njit(cache=True, nogil=True)
def _main_insert(x, s, main_cap, where, stored, newer, older, head, tail, used, seg_caps):
    """SLRU insert: the lowest segment with room, else probation after evicting to fit."""
    if used[PROBATION] + s <= seg_caps[0]:
        seg = PROBATION
    elif used[PROTECTED] + s <= seg_caps[1]:
        seg = PROTECTED
    else:
        while used[PROBATION] + used[PROTECTED] + s > main_cap:
            _main_evict(where, stored, newer, older, head, tail, used)
        seg = PROBATION
    _push(x, seg, newer, older, head, tail)
    where[x] = seg
    stored[x] = s
    used[seg] += s


def _run(trace: Trace, labels: np.ndarray, sizes: np.ndarray, capacity: int) -> np.ndarray:
    window_cap = max(1, int(capacity * 0.01))
    main_cap = max(1, capacity - window_cap)
    seg_caps = np.array([max(1, int(s / 5 * main_cap)) for s in (1, 4)], dtype=np.int64)
    n_hashes, n_counters = sketch_shape(main_cap)
    return _wtinylfu(
        trace.ids,
        np.ascontiguousarray(labels, dtype=np.uint64),
        sizes,
        capacity,
        window_cap,
        main_cap,
        seg_caps,
        n_hashes,
        n_counters,
        DECAY_FACTOR * main_cap,
    )


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    """Per-request hits, the sketch hashing the trace's keys (libCacheSim's obj_id).

    Keys, not dense ids: the sketch's collisions depend on the labels hashed, and hashing the
    same keys as the reference drive and libCacheSim is what makes the results identical.
    """
    labels = np.empty(trace.n_unique, dtype=np.uint64)
    labels[trace.ids] = trace.keys
    return _run(trace, labels, sizes, capacity)
