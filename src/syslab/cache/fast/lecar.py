"""LeCaR on dense ids: LRU list, LFU frequency buckets and ghost history as linked lists.

Same rules, step for step, as `policies/lecar.py`: the same splitmix64 draws (uint64 state
seeded with `seed`), the same float64 weight updates in the same order (`discount ** age`
through the C library's pow, as CPython does), LFU ties to the key that reached the lowest
frequency first. `links[x]` holds x's (prev, next) in the LRU list, in its frequency bucket
and in the history side by side; buckets are indexed by frequency (at most the busiest
key's request count).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from syslab.cache.trace import Trace

LRU, BUCKET, HIST = 0, 2, 4  # column of each list's prev link in `links` (next is one right)


@numba.njit(cache=True, nogil=True, inline="always")
def _append(links, heads, tails, k, b, x):
    """Put x at the tail of list b, whose links are columns k, k + 1."""
    t = tails[b]
    links[x, k] = t
    links[x, k + 1] = -1
    if t >= 0:
        links[t, k + 1] = x
    else:
        heads[b] = x
    tails[b] = x


@numba.njit(cache=True, nogil=True, inline="always")
def _unlink(links, heads, tails, k, b, x):
    a = links[x, k]
    c = links[x, k + 1]
    if a >= 0:
        links[a, k + 1] = c
    else:
        heads[b] = c
    if c >= 0:
        links[c, k] = a
    else:
        tails[b] = a


@numba.njit(cache=True, nogil=True)
def _lecar(
    ids: np.ndarray,
    sizes: np.ndarray,
    capacity: int,
    n_unique: int,
    max_freq: int,
    learning_rate: float,
    discount: float,
    seed: int,
) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    resident = np.zeros(n_unique, dtype=np.bool_)
    stored = np.zeros(n_unique, dtype=np.int64)
    freq = np.zeros(n_unique, dtype=np.int64)
    links = np.full((n_unique, 6), -1, dtype=np.int32)
    in_hist = np.zeros(n_unique, dtype=np.bool_)
    hist_by_lru = np.zeros(n_unique, dtype=np.bool_)
    hist_time = np.zeros(n_unique, dtype=np.int64)
    hist_size = np.zeros(n_unique, dtype=np.int64)
    # list heads/tails: slot 0 the LRU list, 1 the history; buckets by frequency
    heads = np.full(2, -1, dtype=np.int32)
    tails = np.full(2, -1, dtype=np.int32)
    bheads = np.full(max_freq + 2, -1, dtype=np.int32)
    btails = np.full(max_freq + 2, -1, dtype=np.int32)
    min_freq = 1
    used = 0
    hist_used = 0
    w_lru = 0.5
    w_lfu = 0.5
    state = np.uint64(seed)
    golden = np.uint64(0x9E3779B97F4A7C15)
    m1 = np.uint64(0xBF58476D1CE4E5B9)
    m2 = np.uint64(0x94D049BB133111EB)
    r30 = np.uint64(30)
    r27 = np.uint64(27)
    r31 = np.uint64(31)
    r11 = np.uint64(11)
    unit = 2.0**-53
    for i in range(n):
        now = i + 1
        x = ids[i]
        if resident[x]:
            hit[i] = True
            if tails[0] != x:
                _unlink(links, heads, tails, LRU, 0, x)
                _append(links, heads, tails, LRU, 0, x)
            f = freq[x]
            _unlink(links, bheads, btails, BUCKET, f, x)
            if bheads[f] < 0 and min_freq == f:
                min_freq = f + 1
            freq[x] = f + 1
            _append(links, bheads, btails, BUCKET, f + 1, x)
            continue

        if in_hist[x]:
            in_hist[x] = False
            _unlink(links, heads, tails, HIST, 1, x)
            hist_used -= hist_size[x]
            age = now - hist_time[x]
            penalty = math.exp(-learning_rate * discount ** float(age))
            if hist_by_lru[x]:
                w_lru *= penalty
            else:
                w_lfu *= penalty
            total = w_lru + w_lfu
            w_lru /= total
            w_lfu /= total
        s = sizes[i]
        if s > capacity:
            continue
        while used + s > capacity:
            state += golden
            z = state
            z = (z ^ (z >> r30)) * m1
            z = (z ^ (z >> r27)) * m2
            z ^= z >> r31
            by_lru = float(z >> r11) * unit < w_lru
            if by_lru:
                v = heads[0]
            else:
                while bheads[min_freq] < 0:  # only after evictions emptied it
                    min_freq += 1
                v = bheads[min_freq]
            _unlink(links, heads, tails, LRU, 0, v)
            _unlink(links, bheads, btails, BUCKET, freq[v], v)
            resident[v] = False
            vsize = stored[v]
            used -= vsize
            in_hist[v] = True
            hist_by_lru[v] = by_lru
            hist_time[v] = now
            hist_size[v] = vsize
            _append(links, heads, tails, HIST, 1, v)
            hist_used += vsize
            while hist_used > capacity:
                g = heads[1]
                _unlink(links, heads, tails, HIST, 1, g)
                in_hist[g] = False
                hist_used -= hist_size[g]
        resident[x] = True
        stored[x] = s
        freq[x] = 1
        _append(links, heads, tails, LRU, 0, x)
        _append(links, bheads, btails, BUCKET, 1, x)
        min_freq = 1
        used += s
    return hit


def hits(
    trace: Trace,
    sizes: np.ndarray,
    capacity: int,
    learning_rate: float = 0.45,
    discount: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    if discount is None:
        discount = 0.005 ** (1 / capacity)  # as the reference computes it
    ids = trace.ids
    max_freq = int(np.bincount(ids).max()) if len(ids) else 0
    return _lecar(
        ids, sizes, capacity, trace.n_unique, max_freq, float(learning_rate), float(discount), seed
    )
