"""W-TinyLFU (Einziger, Friedman & Manes, ACM TOS'17), step for step libCacheSim's WTinyLFU.c.

New objects enter a small LRU *window* (1 % of capacity, at least 1 unit). The rest is the
*main* cache, an SLRU with a 20 % probationary and an 80 % protected segment (`SLRU`, which
follows libCacheSim's SLRU.c). When room is needed, the window's LRU object is a candidate
for main: while main has room it simply moves there; otherwise it replaces main's victim only
if a frequency sketch estimates it was requested more often (strictly), else the candidate
is evicted.

The sketch is libCacheSim's minimalIncrementCBF: a counting Bloom filter sized for the main
capacity at a 0.001 error rate (10 hashes, ceil(14.38 x entries) unbounded counters). An
add increments all 10 counters (despite the name, not only the minimal ones); an estimate is
their minimum. The slots of a key are (a + i*b) mod counters in 32-bit arithmetic, with a and
b the low 32 bits of XXH64 of the key's 8 little-endian bytes under seeds 0x12345678 and
0x12344321, so that our counts, and hence our admissions, are exactly libCacheSim's. Counts
are added for a miss, a hit in main, and each window candidate when it leaves the window (a
hit in the window is not counted); all counters are halved after every 32 x main-capacity
*main hits*.

Differences from libCacheSim 0.3.5, chosen on purpose:

- The window keeps at least 1 unit. libCacheSim sizes it int(1 % x capacity), which is 0
  below 100 objects; it then admits nothing and reports a miss ratio of 1.0. Main is also at
  least 1 unit, so capacity 1 still caches.
- An object larger than the window (or than main's probationary segment) but within capacity
  is admitted (libCacheSim bypasses it), so byte capacity works with real object sizes.
- The sketch is sized for at most 2**20 entries (libCacheSim sizes it for main's capacity in
  units, i.e. ~14 counters per *byte* in byte mode). Up to that cap (main caches of at most
  ~1M objects, which covers every shared trace at 10 %) the sketch is libCacheSim's. Its
  halving period stays 32 x main capacity units of main hits, so in byte mode it rarely
  halves (as in libCacheSim).
- Keys that are not ints (the policy accepts any hashable) are first mapped to 64 bits with
  blake2b; trace keys are uint64 and hash exactly as in libCacheSim.

Which label is hashed matters. The sketch sees every key ever requested while it is sized
for main's capacity, so its counters are crowded and an estimate is mostly collisions: the
same trace under other labels (e.g. the dense ids 0..n-1 that `engine.reference_hits` feeds
policies) moves the miss ratio by hash noise, up to ~0.9 pp (arc_OLTP at 1 %).

Parity (object counts, sizes 1, vs libCacheSim 0.3.5): fed the trace's own keys (as
libCacheSim hashes obj_id), identical miss counts on every shared trace at 1 % and 10 % of
unique objects where libCacheSim's window is >= 1 object. `hashes_keys` tells the engine to
feed the trace's keys, and the kernel in `fast/wtinylfu.py` hashes the same keys.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections import OrderedDict
from collections.abc import Hashable

import numpy as np

from syslab.cache.policies.base import Policy
from syslab.cache.policies.slru import SLRU

_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1

# XXH64 primes
P1 = 0x9E3779B185EBCA87
P2 = 0xC2B2AE3D27D4EB4F
P3 = 0x165667B19E3779F9
P4 = 0x85EBCA77C2B2AE63
P5 = 0x27D4EB2F165667C5
SEED0 = 0x12345678  # libCacheSim's HASH_SEED0 / HASH_SEED1
SEED1 = 0x12344321

ERROR_RATE = 0.001  # libCacheSim's minimalIncrementCBF_init(CBF, main size, 0.001)
DECAY_FACTOR = 32  # halve after DECAY_FACTOR x main capacity main-cache hits
MAX_ENTRIES = 1 << 20  # our cap on the entries the sketch is sized for (byte mode)


def xxh64_u64(value: int, seed: int) -> int:
    """XXH64 of the 8 little-endian bytes of `value` (libCacheSim hashes obj_id this way)."""
    k = value * P2 & _MASK64
    k = ((k << 31) | (k >> 33)) & _MASK64
    k = k * P1 & _MASK64
    h = (seed + P5 + 8) & _MASK64 ^ k
    h = (((h << 27) | (h >> 37)) & _MASK64) * P1 + P4 & _MASK64
    h ^= h >> 33
    h = h * P2 & _MASK64
    h ^= h >> 29
    h = h * P3 & _MASK64
    return h ^ (h >> 32)


def key_u64(key: Hashable) -> int:
    """The 64-bit object id libCacheSim would see: ints as they are, others via blake2b."""
    if isinstance(key, int):
        return key & _MASK64
    return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "little")


def sketch_shape(entries: int) -> tuple[int, int]:
    """(hashes, counters) of libCacheSim's minimalIncrementCBF for `entries` at ERROR_RATE."""
    bpe = -math.log(ERROR_RATE) / 0.480453013918201  # ln(2)^2
    hashes = math.ceil(0.693147180559945 * bpe)
    counters = min(math.ceil(bpe * min(entries, MAX_ENTRIES)), 2**31 - 1)
    return hashes, max(counters, 2 * hashes)


class CountingBloomFilter:
    """libCacheSim's minimalIncrementCBF: min of k unbounded counters, halved on `decay`."""

    def __init__(self, entries: int) -> None:
        self.hashes, self.n_counters = sketch_shape(entries)
        self._counters = array("I", bytes(4 * self.n_counters))

    def _slots(self, key: Hashable) -> list[int]:
        v = key_u64(key)
        a = xxh64_u64(v, SEED0) & _MASK32
        b = xxh64_u64(v, SEED1) & _MASK32
        n = self.n_counters
        return [(a + i * b & _MASK32) % n for i in range(self.hashes)]

    def estimate(self, key: Hashable) -> int:
        c = self._counters
        return min(c[x] for x in self._slots(key))

    def add(self, key: Hashable) -> None:
        c = self._counters
        for x in self._slots(key):  # every slot, repeats included (as in libCacheSim)
            c[x] += 1

    def decay(self) -> None:
        view = np.frombuffer(self._counters, dtype=np.uint32)
        view >>= 1


class WTinyLFU(Policy):
    name = "wtinylfu"
    hashes_keys = True  # the sketch hashes keys: identical results need identical keys

    def __init__(self, capacity: int, window: float = 0.01) -> None:
        super().__init__(capacity)
        self.window_capacity = max(1, int(capacity * window))
        self._window: OrderedDict[Hashable, int] = OrderedDict()  # LRU, oldest first
        self._window_used = 0
        self._main = SLRU(max(1, capacity - self.window_capacity), segments=(1, 4))
        self._main.on_evict = self._evicted  # main's evictions are ours
        self.sketch = CountingBloomFilter(self._main.capacity)
        self.decay_after = DECAY_FACTOR * self._main.capacity
        self._main_hits = 0

    def request(self, key: Hashable, size: int = 1) -> bool:
        if key in self._window:
            self._window.move_to_end(key)
            return True
        main = self._main
        if key in main:
            main.hit(key)  # a promotion can overflow segment 0, which evicts
            self.sketch.add(key)
            self._main_hits += 1
            if self._main_hits >= self.decay_after:
                self._main_hits = 0
                self.sketch.decay()
            self.used = self._window_used + main.used
            return True
        if size > self.capacity:
            return False
        while self.used + size > self.capacity:
            self._evict_one()
        self._window[key] = size
        self._window_used += size
        self.used += size
        self.sketch.add(key)
        return False

    def remove(self, key: Hashable) -> bool:
        # The sketch keeps its counts: they estimate how popular the key is, which a purge
        # does not change (and a counting Bloom filter cannot forget one key exactly anyway).
        if key in self._window:
            self._leave_window(key)
        elif not self._main.remove(key):
            return False
        self.used = self._window_used + self._main.used
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._window or key in self._main

    def __len__(self) -> int:
        return len(self._window) + len(self._main)

    def _evict_one(self) -> None:
        """Free room for one eviction; window objects move to main while main has room."""
        main, sketch = self._main, self.sketch
        while self._window:
            cand, csize = next(iter(self._window.items()))
            if main.used + csize <= main.capacity:
                self._leave_window(cand)
                main.insert(cand, csize)
                sketch.add(cand)
                continue
            if csize <= main.capacity and sketch.estimate(cand) > sketch.estimate(main.victim()):
                main.evict()
                self._leave_window(cand)
                main.insert(cand, csize)  # evicts more if cand is bigger (byte mode)
            else:
                self._leave_window(cand)
                self._evicted(cand)
            sketch.add(cand)
            self.used = self._window_used + main.used
            return
        main.evict()
        self.used = self._window_used + main.used

    def _leave_window(self, key: Hashable) -> None:
        self._window_used -= self._window.pop(key)
