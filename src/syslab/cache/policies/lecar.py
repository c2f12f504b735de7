"""LeCaR: Learning Cache Replacement (Vietri et al., HotStorage'18).

Two experts, LRU and LFU, each propose a victim; one is picked at random with probability
given by the experts' weights. Evicted keys are remembered in a ghost history, tagged with
the expert that evicted them. A miss that hits the history is *regret*: the expert that
evicted the key is penalised, w <- w * exp(-learning_rate * discount ** age), where age is
the number of requests since that eviction, and the weights are renormalised.

Settings as in the paper and libCacheSim's LeCaR.c: learning rate 0.45, discount
0.005 ** (1 / capacity), weights start at 0.5/0.5, one shared history of `capacity` units,
LFU ties broken by insertion order, a re-admitted object starts again at frequency 1.
Randomness comes from a splitmix64 generator seeded with `seed` (0 by default), so runs are
reproducible and the numba kernel (fast/lecar.py) can draw the very same numbers;
libCacheSim draws from its own generator (and in steps of 1/100), so miss ratios agree only
statistically, not request by request. We also skip libCacheSim's 1e-10 weight floor.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable

from syslab.cache.policies.base import Policy

_MASK = (1 << 64) - 1


class SplitMix64:
    """splitmix64 (Steele et al. 2014) on a uint64 state; floats in [0, 1) from the top 53 bits."""

    def __init__(self, seed: int = 0) -> None:
        self.state = seed & _MASK

    def random(self) -> float:
        self.state = z = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        z ^= z >> 31
        return (z >> 11) * 2.0**-53


class LeCaR(Policy):
    name = "lecar"

    def __init__(
        self,
        capacity: int,
        learning_rate: float = 0.45,
        discount: float | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(capacity)
        self.learning_rate = learning_rate
        self.discount = 0.005 ** (1 / capacity) if discount is None else discount
        self.w_lru = self.w_lfu = 0.5
        self._rng = SplitMix64(seed)
        self._time = 0  # requests seen, the clock for regret ages
        self._lru: OrderedDict[Hashable, int] = OrderedDict()  # key -> size, oldest first
        self._freq: dict[Hashable, int] = {}
        # freq -> keys with that frequency, in the order they reached it (LFU tie-break)
        self._buckets: dict[int, OrderedDict[Hashable, None]] = {}
        self._min_freq = 1
        # ghost history: key -> (evicted by LRU?, eviction time, size), oldest first
        self._history: OrderedDict[Hashable, tuple[bool, int, int]] = OrderedDict()
        self._history_used = 0

    def request(self, key: Hashable, size: int = 1) -> bool:
        self._time += 1
        if key in self._lru:
            self._lru.move_to_end(key)
            self._bump(key)
            return True

        ghost = self._history.pop(key, None)
        if ghost is not None:
            by_lru, evicted_at, gsize = ghost
            self._history_used -= gsize
            self._regret(by_lru, self._time - evicted_at)
        if size > self.capacity:
            return False
        while self.used + size > self.capacity:
            self._evict_one()
        self._lru[key] = size
        self._freq[key] = 1
        self._buckets.setdefault(1, OrderedDict())[key] = None
        self._min_freq = 1
        self.used += size
        return False

    def remove(self, key: Hashable) -> bool:
        size = self._lru.pop(key, None)
        if size is None:
            return False
        # No history entry: regret on its return would punish an expert that did not choose
        # it. `_min_freq` may now name an empty bucket; _lfu_victim skips ahead lazily.
        f = self._freq.pop(key)
        bucket = self._buckets[f]
        del bucket[key]
        if not bucket:
            del self._buckets[f]
        self.used -= size
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._lru

    def __len__(self) -> int:
        return len(self._lru)

    # ----------------------------------------------------------------- internals
    def _regret(self, by_lru: bool, age: int) -> None:
        """Penalise the expert whose eviction we just regretted; recent regret costs more."""
        penalty = math.exp(-self.learning_rate * self.discount**age)
        if by_lru:
            self.w_lru *= penalty
        else:
            self.w_lfu *= penalty
        total = self.w_lru + self.w_lfu
        self.w_lru /= total
        self.w_lfu /= total

    def _bump(self, key: Hashable) -> None:
        f = self._freq[key]
        bucket = self._buckets[f]
        del bucket[key]
        if not bucket:
            del self._buckets[f]
            if self._min_freq == f:
                self._min_freq = f + 1  # key itself now sits at f + 1
        self._freq[key] = f + 1
        self._buckets.setdefault(f + 1, OrderedDict())[key] = None

    def _lfu_victim(self) -> Hashable:
        while self._min_freq not in self._buckets:  # only after evictions emptied it
            self._min_freq += 1
        return next(iter(self._buckets[self._min_freq]))

    def _evict_one(self) -> None:
        by_lru = self._rng.random() < self.w_lru
        victim = next(iter(self._lru)) if by_lru else self._lfu_victim()
        vsize = self._lru.pop(victim)
        f = self._freq.pop(victim)
        bucket = self._buckets[f]
        del bucket[victim]
        if not bucket:
            del self._buckets[f]
        self.used -= vsize
        self._evicted(victim)

        self._history[victim] = (by_lru, self._time, vsize)
        self._history_used += vsize
        while self._history_used > self.capacity:
            self._history_used -= self._history.popitem(last=False)[1][2]
