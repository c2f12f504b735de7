"""2Q, the full version (Johnson & Shasha, VLDB'94).

A new object enters A1in, a FIFO of recent first-timers. When A1in holds more than `Kin`
units its oldest object is evicted and its key is remembered in A1out, a FIFO ghost list of
`Kout` units. A miss on a key in A1out proves reuse at a distance, so that object goes to
Am, an LRU holding the hot set. Hits in A1in change nothing: a burst of correlated
references must not make an object look hot.

Defaults follow libCacheSim's TwoQ.c: Kin = 25 % and Kout = 50 % of capacity, and Am is
bounded by capacity - Kin (a ghost hit that finds Am full evicts Am's LRU even when A1in
leaves room). Differences from libCacheSim, both invisible on traces with sizes 1 and
capacity >= 4: Kin and Kout are at least 1 unit (libCacheSim rounds Kin to 0 below 4 objects
and then caches nothing), and an object larger than Kin but within capacity is admitted
(libCacheSim bypasses it) -- it simply leaves A1in first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from syslab.cache.policies.base import Policy


class TwoQ(Policy):
    name = "2q"

    def __init__(self, capacity: int, kin: float = 0.25, kout: float = 0.5) -> None:
        super().__init__(capacity)
        self.kin = max(1, int(capacity * kin))
        self.kout = max(1, int(capacity * kout))
        self.am_capacity = max(1, capacity - self.kin)
        self._a1in: OrderedDict[Hashable, int] = OrderedDict()  # FIFO, oldest first
        self._a1out: OrderedDict[Hashable, int] = OrderedDict()  # ghost FIFO: key -> size
        self._am: OrderedDict[Hashable, int] = OrderedDict()  # LRU, oldest first
        self._a1in_used = self._a1out_used = self._am_used = 0

    def request(self, key: Hashable, size: int = 1) -> bool:
        if key in self._a1in:
            return True
        if key in self._am:
            self._am.move_to_end(key)
            return True

        seen_before = key in self._a1out
        if seen_before:
            self._a1out_used -= self._a1out.pop(key)
        if size > self.capacity:
            return False
        while self.used + size > self.capacity:
            self._evict_one()

        if seen_before and size <= self.am_capacity:
            # Am has its own bound, so admitting here may cost one more eviction.
            while self._am_used + size > self.am_capacity:
                self._evict_am()
            self._am[key] = size
            self._am_used += size
        else:
            self._a1in[key] = size
            self._a1in_used += size
        self.used += size
        return False

    def remove(self, key: Hashable) -> bool:
        # Not remembered in A1out: a ghost hit would promote the key to Am as proven reuse.
        if key in self._a1in:
            size = self._a1in.pop(key)
            self._a1in_used -= size
        elif key in self._am:
            size = self._am.pop(key)
            self._am_used -= size
        else:
            return False
        self.used -= size
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._a1in or key in self._am

    def __len__(self) -> int:
        return len(self._a1in) + len(self._am)

    def _evict_one(self) -> None:
        # A1in may overshoot Kin while Am is not yet full; it gives the room back first.
        if self._a1in_used > self.kin or not self._am:
            victim, vsize = self._a1in.popitem(last=False)
            self._a1in_used -= vsize
            self._remember(victim, vsize)
            self.used -= vsize
            self._evicted(victim)
        else:
            self._evict_am()

    def _evict_am(self) -> None:
        victim, vsize = self._am.popitem(last=False)
        self._am_used -= vsize
        self.used -= vsize
        self._evicted(victim)

    def _remember(self, key: Hashable, size: int) -> None:
        if size > self.kout:
            return
        while self._a1out_used + size > self.kout:
            self._a1out_used -= self._a1out.popitem(last=False)[1]
        self._a1out[key] = size
        self._a1out_used += size
