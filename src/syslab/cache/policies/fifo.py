"""FIFO: evict the object that entered first; hits change nothing."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from syslab.cache.policies.base import Policy


class FIFO(Policy):
    name = "fifo"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        # OrderedDict, not dict: popping the oldest of a dict with many deletions is O(holes).
        self._sizes: OrderedDict[Hashable, int] = OrderedDict()  # oldest first

    def request(self, key: Hashable, size: int = 1) -> bool:
        sizes = self._sizes
        if key in sizes:
            return True
        if size > self.capacity:
            return False
        while self.used + size > self.capacity:
            victim, vsize = sizes.popitem(last=False)
            self.used -= vsize
            self._evicted(victim)
        sizes[key] = size
        self.used += size
        return False

    def remove(self, key: Hashable) -> bool:
        size = self._sizes.pop(key, None)
        if size is None:
            return False
        self.used -= size
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)
