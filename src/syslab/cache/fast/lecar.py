"""LeCaR on dense ids: an LRU list, O(1) LFU frequency buckets and an array for the history.

Same rules, step for step, as `policies/lecar.py`: the same splitmix64 draws (uint64 state
seeded with `seed`), the same float64 weight updates in the same order (`discount ** age`
through the C library's pow, as CPython does), LFU ties to the key that reached the lowest
frequency first. Where each key is takes one byte (`where`), the rest of its state one
row of `node`. The LFU side is the classic O(1) structure: a list of the nonempty frequency
buckets in increasing frequency, each a list of keys in arrival order (the reference's
lowest nonempty bucket is this list's first).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from syslab.cache.trace import Trace

# columns of a key's row in `node`: (prev, next) in the LRU list while resident or (prev
# only) its place in the history once evicted, (prev, next) in its frequency bucket, that bucket,
# size, eviction time
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


@numba.njit(cache=True, nogil=True, inline="always")
def _new_bucket(fq, fprev, fnext, bheads, btails, free, first, nfree, after, f):
    """A new empty bucket for frequency f, right after bucket `after` (-1: at the front).

    Returns it and the new (first bucket, number of free buckets)."""
    nfree -= 1
    c = free[nfree]
    fq[c] = f
    bheads[c] = -1
    btails[c] = -1
    nxt = fnext[after] if after >= 0 else first
    fprev[c] = after
    fnext[c] = nxt
    if nxt >= 0:
        fprev[nxt] = c
    if after >= 0:
        fnext[after] = c
    else:
        first = c
    return c, first, nfree


@numba.njit(cache=True, nogil=True, inline="always")
def _drop_bucket(fprev, fnext, free, first, nfree, a):
    p = fprev[a]
    q = fnext[a]
    if p >= 0:
        fnext[p] = q
    else:
        first = q
    if q >= 0:
        fprev[q] = p
    free[nfree] = a
    return first, nfree + 1


@numba.njit(cache=True, nogil=True)
def _lecar(
    ids: np.ndarray,
    sizes: np.ndarray,
    capacity: int,
    n_unique: int,
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
    lhead = -1  # the LRU list's ends, in registers
    ltail = -1
    # the history, oldest first: an array of keys and sizes with holes where a key left it
    # early; it holds at most min(n_unique, capacity) keys, so closing the holes when the
    # end is reached leaves room for as many again
    hkey = np.empty(2 * min(n_unique, capacity) + 2, dtype=np.int64)
    hsize = np.empty(len(hkey), dtype=np.int64)
    hhead = 0
    htail = 0
    # nonempty frequency buckets, a list in increasing frequency kept in a small pool (one
    # bucket per resident at most, plus one made before the one it replaces is dropped)
    pool = min(n_unique, capacity) + 2
    fq = np.zeros(pool, dtype=np.int64)  # each bucket's frequency
    fprev = np.full(pool, -1, dtype=np.int64)
    fnext = np.full(pool, -1, dtype=np.int64)
    bheads = np.full(pool, -1, dtype=np.int64)  # each bucket's keys, in arrival order
    btails = np.full(pool, -1, dtype=np.int64)
    free = np.arange(pool - 1, -1, -1).astype(np.int64)
    first = -1  # the lowest bucket
    nfree = pool
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
            if ltail != x:
                a = node[x, LIST]
                b = node[x, LIST + 1]
                if a >= 0:
                    node[a, LIST + 1] = b
                else:
                    lhead = b
                if b >= 0:
                    node[b, LIST] = a
                else:
                    ltail = a
                node[x, LIST] = ltail
                node[x, LIST + 1] = -1
                if ltail >= 0:
                    node[ltail, LIST + 1] = x
                else:
                    lhead = x
                ltail = x
            a = node[x, FREQ]
            b = fnext[a]
            if b < 0 or fq[b] != fq[a] + 1:
                b, first, nfree = _new_bucket(
                    fq, fprev, fnext, bheads, btails, free, first, nfree, a, fq[a] + 1
                )
            _unlink(node, bheads, btails, BUCKET, a, x)
            _append(node, bheads, btails, BUCKET, b, x)
            node[x, FREQ] = b
            if bheads[a] < 0:
                first, nfree = _drop_bucket(fprev, fnext, free, first, nfree, a)
            continue

        if w != NOWHERE:  # in the history: regret
            where[x] = NOWHERE
            hkey[node[x, LIST]] = -1  # a hole, skipped when it reaches the front
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
            # LFU: the first key to reach the lowest frequency
            v = lhead if by_lru else bheads[first]
            a = node[v, LIST]
            b = node[v, LIST + 1]
            if a >= 0:
                node[a, LIST + 1] = b
            else:
                lhead = b
            if b >= 0:
                node[b, LIST] = a
            else:
                ltail = a
            a = node[v, FREQ]
            _unlink(node, bheads, btails, BUCKET, a, v)
            if bheads[a] < 0:
                first, nfree = _drop_bucket(fprev, fnext, free, first, nfree, a)
            vsize = node[v, SIZE]
            used -= vsize
            where[v] = BY_LRU if by_lru else BY_LFU
            node[v, TIME] = now
            if htail == len(hkey):  # full: close the holes
                j = 0
                for k in range(hhead, htail):
                    g = hkey[k]
                    if g >= 0:
                        hkey[j] = g
                        hsize[j] = hsize[k]
                        node[g, LIST] = j
                        j += 1
                hhead = 0
                htail = j
            hkey[htail] = v
            hsize[htail] = vsize
            node[v, LIST] = htail
            htail += 1
            hist_used += vsize
            while hist_used > capacity:
                while hkey[hhead] < 0:
                    hhead += 1
                where[hkey[hhead]] = NOWHERE
                hist_used -= hsize[hhead]
                hhead += 1
        where[x] = RESIDENT
        node[x, SIZE] = s
        b = first
        if b < 0 or fq[b] != 1:
            b, first, nfree = _new_bucket(
                fq, fprev, fnext, bheads, btails, free, first, nfree, -1, 1
            )
        node[x, FREQ] = b
        node[x, LIST] = ltail
        node[x, LIST + 1] = -1
        if ltail >= 0:
            node[ltail, LIST + 1] = x
        else:
            lhead = x
        ltail = x
        _append(node, bheads, btails, BUCKET, b, x)
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
    return _lecar(ids, sizes, capacity, trace.n_unique, float(learning_rate), float(discount), seed)
