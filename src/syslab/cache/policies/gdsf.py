"""GDSF, Greedy-Dual-Size-Frequency (Cherkasova 1998) with cost 1: H = L + freq / size.

Each resident object has a priority H; the smallest H is evicted and the cache-wide
"inflation" L rises to the victim's H, so objects that were valuable long ago age out.
A hit increments freq (kept only while resident) and recomputes H with the current L.
Small, frequently used objects are favoured: the policy minimises object misses, not bytes.
Ties on H go to the entry set earliest. Heap with lazy deletion: an entry is live only if
its sequence number is still the object's current one.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable

from syslab.cache.policies.base import Policy


class GDSF(Policy):
    name = "gdsf"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.inflation = 0.0  # L
        self._sizes: dict[Hashable, int] = {}
        self._freq: dict[Hashable, int] = {}
        self._seq: dict[Hashable, int] = {}  # key -> sequence number of its live heap entry
        self._heap: list[tuple[float, int, Hashable]] = []  # (H, seq, key)
        self._counter = itertools.count()

    def request(self, key: Hashable, size: int = 1) -> bool:
        if key in self._sizes:
            self._freq[key] += 1
            self._push(key)
            return True
        if size > self.capacity:
            return False
        while self.used + size > self.capacity:
            self._evict_one()
        self._sizes[key] = size
        self._freq[key] = 1
        self.used += size
        self._push(key)
        return False

    def _push(self, key: Hashable) -> None:
        h = self.inflation + self._freq[key] / self._sizes[key]
        seq = next(self._counter)
        self._seq[key] = seq
        heapq.heappush(self._heap, (h, seq, key))
        if len(self._heap) > 2 * len(self._seq) + 64:
            # Hits leave stale entries behind; a long-running cache that rarely evicts (a CDN
            # node) would grow without bound, so drop them once they outnumber live ones.
            self._heap = [e for e in self._heap if self._seq.get(e[2]) == e[1]]
            heapq.heapify(self._heap)

    def _evict_one(self) -> None:
        while True:
            h, seq, key = heapq.heappop(self._heap)
            if self._seq.get(key) == seq:
                break
        self.inflation = h
        del self._seq[key], self._freq[key]
        self.used -= self._sizes.pop(key)
        self._evicted(key)

    def remove(self, key: Hashable) -> bool:
        size = self._sizes.pop(key, None)
        if size is None:
            return False
        # Its heap entry goes stale (no live sequence number) and _evict_one skips it; the
        # inflation L stays, since L only rises with real evictions.
        del self._seq[key], self._freq[key]
        self.used -= size
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)
