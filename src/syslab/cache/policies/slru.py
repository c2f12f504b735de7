"""SLRU: segmented LRU (Karedla et al., 1994).

The cache is split into LRU segments, 0 (probationary) up to n-1 (most protected). A new
object enters the lowest segment with room; a hit promotes it one segment up. When a segment
overflows its LRU object is demoted one segment down ("cooled"), and overflowing segment 0
evicts. The victim is always the LRU object of the lowest non-empty segment, so an object
needs several hits before it outlives a scan.

Defaults follow libCacheSim's SLRU.c: 4 segments of capacity // 4 units each, including its
rules that a new object goes to the lowest segment with room (not always segment 0) and that
when all segments are full it enters segment 0, which may then exceed its share by the
rounding remainder. Only difference: each segment is at least 1 unit (libCacheSim caches
nothing below 4 objects) and an object larger than segment 0 but within capacity is admitted
(libCacheSim bypasses it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence

from syslab.cache.policies.base import Policy


class SLRU(Policy):
    name = "slru"

    def __init__(self, capacity: int, segments: Sequence[float] = (1, 1, 1, 1)) -> None:
        """`segments`: relative sizes, lowest (probationary) first."""
        super().__init__(capacity)
        total = sum(segments)
        if len(segments) == 1:
            self.seg_capacity = [capacity]
        elif all(s == segments[0] for s in segments):
            self.seg_capacity = [max(1, capacity // len(segments))] * len(segments)
        else:
            self.seg_capacity = [max(1, int(s / total * capacity)) for s in segments]
        self._segs: list[OrderedDict[Hashable, int]] = [OrderedDict() for _ in segments]
        self._seg_used = [0] * len(segments)
        self._where: dict[Hashable, int] = {}  # key -> its segment

    def request(self, key: Hashable, size: int = 1) -> bool:
        if key in self._where:
            self.hit(key)
            return True
        if size > self.capacity:
            return False
        while self.used + size > self.capacity:
            self.evict()
        self.insert(key, size)
        return False

    def remove(self, key: Hashable) -> bool:
        i = self._where.pop(key, None)
        if i is None:
            return False
        # The segment is left short; later inserts and promotions refill it, nothing moves now.
        size = self._segs[i].pop(key)
        self._seg_used[i] -= size
        self.used -= size
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._where

    def __len__(self) -> int:
        return len(self._where)

    # The pieces below are public so that W-TinyLFU can use an SLRU as its main cache.
    def hit(self, key: Hashable) -> None:
        """Promote a resident key one segment up (or refresh it in the top segment)."""
        i = self._where[key]
        top = len(self._segs) - 1
        if i == top:
            self._segs[i].move_to_end(key)
            return
        size = self._segs[i].pop(key)
        self._seg_used[i] -= size
        self._put(key, size, i + 1)
        while self._seg_used[i + 1] > self.seg_capacity[i + 1]:
            self._cool(i + 1)

    def insert(self, key: Hashable, size: int) -> None:
        """Add a new key; evicts only if every segment is full and capacity is short."""
        for i, cap in enumerate(self.seg_capacity):
            if self._seg_used[i] + size <= cap:
                break
        else:
            while self.used + size > self.capacity:
                self.evict()
            i = 0
        self._put(key, size, i)
        self.used += size

    def victim(self) -> Hashable:
        """The key `evict` would remove: LRU of the lowest non-empty segment."""
        for seg in self._segs:
            if seg:
                return next(iter(seg))
        raise LookupError("empty cache")

    def evict(self) -> None:
        for i, seg in enumerate(self._segs):
            if seg:
                victim, vsize = seg.popitem(last=False)
                self._seg_used[i] -= vsize
                del self._where[victim]
                self.used -= vsize
                self._evicted(victim)
                return
        raise LookupError("empty cache")

    def _put(self, key: Hashable, size: int, i: int) -> None:
        self._segs[i][key] = size
        self._seg_used[i] += size
        self._where[key] = i

    def _cool(self, i: int) -> None:
        """Demote segment i's LRU object one segment down; segment 0 evicts instead."""
        if i == 0:
            self.evict()
            return
        key, size = self._segs[i].popitem(last=False)
        self._seg_used[i] -= size
        self._put(key, size, i - 1)
        while self._seg_used[i - 1] > self.seg_capacity[i - 1]:
            self._cool(i - 1)
