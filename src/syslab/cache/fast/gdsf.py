"""GDSF on dense ids: an indexed min-heap of residents keyed by (H, sequence number).

Same rules as `policies/gdsf.py`: H = L + freq / size in float64 (the same two operations in
the same order), ties on H go to the entry set earliest. The reference keeps a lazy heap where
only an object's latest entry is live; its live entries are exactly this heap's, and the key
(H, seq) is a total order, so popping the minimum picks the same victim. A hit only raises
its object's key (L never falls, freq grows, seq grows), which needs only a sift down.
Heap slots carry their own H and seq, so comparisons touch contiguous memory.
"""

from __future__ import annotations

import numba
import numpy as np

from syslab.cache.trace import Trace


@numba.njit(cache=True, nogil=True, inline="always")
def _sift_down(heap, hh, hs, pos, j, count):
    x = heap[j]
    h = hh[j]
    s = hs[j]
    while True:
        c = 2 * j + 1
        if c >= count:
            break
        if c + 1 < count and (hh[c + 1] < hh[c] or (hh[c + 1] == hh[c] and hs[c + 1] < hs[c])):
            c += 1
        if hh[c] > h or (hh[c] == h and hs[c] > s):
            break
        heap[j] = heap[c]
        hh[j] = hh[c]
        hs[j] = hs[c]
        pos[heap[j]] = j
        j = c
    heap[j] = x
    hh[j] = h
    hs[j] = s
    pos[x] = j


@numba.njit(cache=True, nogil=True, inline="always")
def _sift_up(heap, hh, hs, pos, j):
    x = heap[j]
    h = hh[j]
    s = hs[j]
    while j > 0:
        parent = (j - 1) >> 1
        if hh[parent] < h or (hh[parent] == h and hs[parent] < s):
            break
        heap[j] = heap[parent]
        hh[j] = hh[parent]
        hs[j] = hs[parent]
        pos[heap[j]] = j
        j = parent
    heap[j] = x
    hh[j] = h
    hs[j] = s
    pos[x] = j


@numba.njit(cache=True, nogil=True)
def _gdsf(ids: np.ndarray, sizes: np.ndarray, capacity: int, n_unique: int) -> np.ndarray:
    n = len(ids)
    hit = np.zeros(n, dtype=np.bool_)
    resident = np.zeros(n_unique, dtype=np.bool_)
    stored = np.zeros(n_unique, dtype=np.int64)
    freq = np.zeros(n_unique, dtype=np.int64)
    pos = np.zeros(n_unique, dtype=np.int32)
    slots = min(n_unique, capacity) + 1  # every resident has size >= 1
    heap = np.empty(slots, dtype=np.int32)
    hh = np.empty(slots, dtype=np.float64)  # H of the entry in each slot
    hs = np.empty(slots, dtype=np.int64)  # its sequence number
    count = 0
    used = 0
    seq = 0
    inflation = 0.0
    for i in range(n):
        x = ids[i]
        if resident[x]:
            hit[i] = True
            freq[x] += 1
            j = pos[x]
            hh[j] = inflation + float(freq[x]) / float(stored[x])
            hs[j] = seq
            seq += 1
            _sift_down(heap, hh, hs, pos, j, count)
            continue
        s = sizes[i]
        if s > capacity:
            continue
        while used + s > capacity:
            victim = heap[0]
            inflation = hh[0]
            count -= 1
            if count > 0:
                heap[0] = heap[count]
                hh[0] = hh[count]
                hs[0] = hs[count]
                pos[heap[0]] = 0
                _sift_down(heap, hh, hs, pos, 0, count)
            resident[victim] = False
            used -= stored[victim]
        resident[x] = True
        stored[x] = s
        freq[x] = 1
        used += s
        heap[count] = x
        hh[count] = inflation + 1.0 / float(s)
        hs[count] = seq
        seq += 1
        count += 1
        _sift_up(heap, hh, hs, pos, count - 1)
    return hit


def hits(trace: Trace, sizes: np.ndarray, capacity: int) -> np.ndarray:
    return _gdsf(trace.ids, sizes, capacity, trace.n_unique)
