"""LeCaR on dense ids: LRU list, LFU frequency buckets and ghost history as linked lists.

Same rules, step for step, as `policies/lecar.py`: the same splitmix64 draws (uint64 state
seeded with `seed`), the same float64 weight updates in the same order (`discount ** age`
through the C library's pow, as CPython does), LFU ties to the key that reached the lowest
frequency first. Where each key is takes one byte (`where`), the rest of its state one
row of `node`; the buckets' ends are
indexed by frequency (at most the busiest key's request count).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from syslab.cache.trace import Trace

# columns of a key's row in `node`: (prev, next) in the LRU list while resident or in the
# history once evicted (never both), (prev, next) in its frequency bucket, frequency, size,
# eviction time
LIST, BUCKET, FREQ, SIZE, TIME = 0, 2, 4, 5, 6
NOWHERE, RESIDENT, BY_LRU, BY_LFU = 0, 1, 2, 3  # values of `where` (BY_*: in the history)


@numba.njit(cache=True, nogil=True, inline="always")
def _append(node, heads, tails, k, b, x):
    """Put x at the tail of list b, whose links are columns k, k + 1."""
    t = tails[b]
    node[x, k] = t
    node[x, k + 1] = -1
    if t >= 0:
        node[t, k + 1] = x
    else:
        heads[b] = x
    tails[b] = x


@numba.njit(cache=True, nogil=True, inline="always")
def _unlink(node, heads, tails, k, b, x):
    a = node[x, k]
    c = node[x, k + 1]
    if a >= 0:
        node[a, k + 1] = c
    else:
        heads[b] = c
    if c >= 0:
        node[c, k] = a
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
    # where each key is, one byte per key: the first look of every request stays in cache
    where = np.zeros(n_unique, dtype=np.int8)
    # the rest of a key's state in one row, so a request touches one cache line of its own
    node = np.zeros((n_unique, 7), dtype=np.int64)
    node[:, :4] = -1
    # list heads/tails: slot 0 the LRU list, 1 the history; buckets by frequency
    heads = np.full(2, -1, dtype=np.int64)
    tails = np.full(2, -1, dtype=np.int64)
    bheads = np.full(max_freq + 2, -1, dtype=np.int64)
    btails = np.full(max_freq + 2, -1, dtype=np.int64)
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
        w = where[x]
        if w == RESIDENT:
            hit[i] = True
            if tails[0] != x:
                _unlink(node, heads, tails, LIST, 0, x)
                _append(node, heads, tails, LIST, 0, x)
            f = node[x, FREQ]
            _unlink(node, bheads, btails, BUCKET, f, x)
            if bheads[f] < 0 and min_freq == f:
                min_freq = f + 1
            node[x, FREQ] = f + 1
            _append(node, bheads, btails, BUCKET, f + 1, x)
            continue

        if w != NOWHERE:  # in the history: regret
            where[x] = NOWHERE
            _unlink(node, heads, tails, LIST, 1, x)
            hist_used -= node[x, SIZE]
            age = now - node[x, TIME]
            penalty = math.exp(-learning_rate * discount ** float(age))
            if w == BY_LRU:
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
            _unlink(node, heads, tails, LIST, 0, v)
            _unlink(node, bheads, btails, BUCKET, node[v, FREQ], v)
            vsize = node[v, SIZE]
            used -= vsize
            where[v] = BY_LRU if by_lru else BY_LFU
            node[v, TIME] = now
            _append(node, heads, tails, LIST, 1, v)
            hist_used += vsize
            while hist_used > capacity:
                g = heads[1]
                _unlink(node, heads, tails, LIST, 1, g)
                where[g] = NOWHERE
                hist_used -= node[g, SIZE]
        where[x] = RESIDENT
        node[x, SIZE] = s
        node[x, FREQ] = 1
        _append(node, heads, tails, LIST, 0, x)
        _append(node, bheads, btails, BUCKET, 1, x)
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
