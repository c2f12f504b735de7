"""LFU: evict the least frequently used object; ties go to the least recently used.

Frequencies are kept only while an object is resident (an evicted object that comes back
starts again at 1) -- "in-cache LFU", so old popularity cannot pin the cache forever.
Structure: one LRU-ordered bucket per frequency and a heap of the frequencies in use, so a
hit is O(1) and an eviction O(log #frequencies).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Hashable

from syslab.cache.policies.base import Policy


class LFU(Policy):
    name = "lfu"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._sizes: dict[Hashable, int] = {}
        self._freq: dict[Hashable, int] = {}
        # freq -> keys with that freq, least recently used first. Only non-empty buckets.
        self._buckets: dict[int, OrderedDict[Hashable, None]] = {}
        self._freqs: list[int] = []  # heap of bucket frequencies; absent buckets are skipped

    def request(self, key: Hashable, size: int = 1) -> bool:
        if key in self._sizes:
            f = self._freq[key]
            self._leave(key, f)
            self._join(key, f + 1)
            return True
        if size > self.capacity:
            return False
        while self.used + size > self.capacity:
            self._evict_one()
        self._sizes[key] = size
        self.used += size
        self._join(key, 1)
        return False

    def _join(self, key: Hashable, f: int) -> None:
        self._freq[key] = f
        bucket = self._buckets.get(f)
        if bucket is None:
            bucket = self._buckets[f] = OrderedDict()
            heapq.heappush(self._freqs, f)
            if len(self._freqs) > 2 * len(self._buckets) + 64:
                # Emptied buckets leave their frequency behind; without evictions to skip
                # them (a CDN node that rarely fills) the heap would grow with every hit.
                self._freqs = list(self._buckets)
                heapq.heapify(self._freqs)
        bucket[key] = None

    def _leave(self, key: Hashable, f: int) -> None:
        bucket = self._buckets[f]
        del bucket[key]
        if not bucket:
            del self._buckets[f]

    def _evict_one(self) -> None:
        while self._freqs[0] not in self._buckets:
            heapq.heappop(self._freqs)
        f = self._freqs[0]
        victim = next(iter(self._buckets[f]))
        self._leave(victim, f)
        del self._freq[victim]
        self.used -= self._sizes.pop(victim)
        self._evicted(victim)

    def remove(self, key: Hashable) -> bool:
        size = self._sizes.pop(key, None)
        if size is None:
            return False
        # An emptied bucket's frequency stays in the heap; _evict_one skips it lazily.
        self._leave(key, self._freq.pop(key))
        self.used -= size
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)
