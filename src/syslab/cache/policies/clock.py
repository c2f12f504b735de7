"""CLOCK (1-bit), as libCacheSim's Clock: FIFO that gives referenced objects a second chance.

New objects enter at the head with the bit clear; a hit sets it. To evict, look at the tail:
an object whose bit is set has it cleared and is moved back to the head (libCacheSim moves it,
rather than sweeping a hand over a fixed ring -- same order, simpler to mirror in arrays).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from syslab.cache.policies.base import Policy


class Clock(Policy):
    name = "clock"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._sizes: OrderedDict[Hashable, int] = OrderedDict()  # tail (oldest) first
        self._referenced: set[Hashable] = set()

    def request(self, key: Hashable, size: int = 1) -> bool:
        if key in self._sizes:
            self._referenced.add(key)
            return True
        if size > self.capacity:
            return False
        while self.used + size > self.capacity:
            self._evict_one()
        self._sizes[key] = size
        self.used += size
        return False

    def _evict_one(self) -> None:
        sizes = self._sizes
        while True:
            victim = next(iter(sizes))
            if victim not in self._referenced:
                break
            self._referenced.discard(victim)
            sizes.move_to_end(victim)  # second chance: back to the head
        self.used -= sizes.pop(victim)
        self._evicted(victim)

    def remove(self, key: Hashable) -> bool:
        size = self._sizes.pop(key, None)
        if size is None:
            return False
        self._referenced.discard(key)  # a re-admitted key must not inherit the bit
        self.used -= size
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)
