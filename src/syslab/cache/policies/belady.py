"""Belady's MIN (offline OPT): on a miss, evict the resident object whose next use is farthest.

It must be built with the trace's future: `next_access[i]` is the index of the next request
to request i's key, or -1 if there is none; the policy counts requests itself, so it must be
fed the trace in order, every request once.

As libCacheSim's Belady (for identical miss counts): every object that fits is admitted --
even one never requested again, or one whose next use is farther than every resident's -- and
victims are chosen among the residents only, before the new object is inserted.
Ties: objects never used again rank beyond every real next use, ordered among themselves by
their last request (the most recent is evicted first). Which one goes cannot change the count
when sizes are 1; with sizes it is simply a fixed, documented rule.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence

from syslab.cache.policies.base import Policy
from syslab.common.errors import UserError


class Belady(Policy):
    name = "belady"
    needs_future = True

    def __init__(self, capacity: int, next_access: Sequence[int]) -> None:
        super().__init__(capacity)
        self._next = next_access
        self._never = len(next_access)  # ranks of "never again" start here
        self._t = 0  # index of the current request
        self._sizes: dict[Hashable, int] = {}
        self._rank: dict[Hashable, int] = {}  # key -> rank of its current heap entry
        self._heap: list[tuple[int, Hashable]] = []  # (-rank, key); stale entries skipped

    def _rank_now(self) -> int:
        """Farther next use = larger rank; every rank is distinct."""
        nxt = self._next[self._t]
        return nxt if nxt >= 0 else self._never + self._t

    def request(self, key: Hashable, size: int = 1) -> bool:
        rank = self._rank_now()
        self._t += 1
        if key in self._sizes:
            self._push(key, rank)
            return True
        if size > self.capacity:
            return False
        while self.used + size > self.capacity:
            self._evict_one()
        self._sizes[key] = size
        self.used += size
        self._push(key, rank)
        return False

    def _push(self, key: Hashable, rank: int) -> None:
        self._rank[key] = rank
        heapq.heappush(self._heap, (-rank, key))

    def _evict_one(self) -> None:
        while True:
            neg, key = heapq.heappop(self._heap)
            if self._rank.get(key) == -neg:
                break  # a live entry (stale ones belong to earlier requests)
        del self._rank[key]
        self.used -= self._sizes.pop(key)
        self._evicted(key)

    def remove(self, key: Hashable) -> bool:
        raise UserError(
            "belady is an offline policy replaying a fixed trace with its known future; "
            "it cannot serve purges (use an online policy)"
        )

    def __contains__(self, key: Hashable) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)
