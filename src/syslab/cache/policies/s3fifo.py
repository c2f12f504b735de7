"""S3-FIFO (Yang et al., SOSP'23), following libCacheSim's S3FIFO.c with its defaults.

Three FIFO queues, all measured in capacity units:
- small S: floor(10 % of capacity); new objects enter here,
- main M: the rest; a FIFO with reinsertion (a 2-bit CLOCK),
- ghost G: floor(90 % of capacity) of *keys only*, recently evicted from S.

A hit increments the object's frequency (capped at 3). Evicting from S: an object with freq
>= 2 moves to M (freq reset to 0), otherwise it leaves the cache and its key goes to G.
Evicting from M: an object with freq >= 1 is reinserted at M's head with freq - 1, otherwise
it leaves. A miss whose key is in G goes straight to M.

libCacheSim details kept for exact parity (they are its behaviour, not the paper's):
- we evict from M when M is over its share or S is empty, else from S; one eviction step
  stops at the first object that really leaves (moves to M don't count);
- until the first eviction ever, a new object goes to M once S is full;
- admission: an object must fit in S (size <= |S|), and a new object (not a ghost hit) with
  size >= |S| is dropped *after* room was made for it. So a count cache below 20 objects
  (|S| <= 1) admits nothing (libCacheSim aborts below 10), and byte caches bypass objects of
  10 % of the capacity or more;
- the ghost key is removed when looked up on a miss, even if the object is then not admitted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from syslab.cache.policies.base import Policy

SMALL_RATIO = 0.10
GHOST_RATIO = 0.90
MOVE_TO_MAIN = 2  # hits while in S needed to move to M instead of leaving
MAX_FREQ = 3


class S3FIFO(Policy):
    name = "s3fifo"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.small_cap = int(self.capacity * SMALL_RATIO)
        self.main_cap = self.capacity - self.small_cap
        self.ghost_cap = int(self.capacity * GHOST_RATIO)
        # key -> size, oldest (tail) first
        self._small: OrderedDict[Hashable, int] = OrderedDict()
        self._main: OrderedDict[Hashable, int] = OrderedDict()
        self._ghost: OrderedDict[Hashable, int] = OrderedDict()
        self._small_used = self._main_used = self._ghost_used = 0
        self._freq: dict[Hashable, int] = {}
        self._has_evicted = False

    def request(self, key: Hashable, size: int = 1) -> bool:
        if key in self._freq:
            self._freq[key] = min(self._freq[key] + 1, MAX_FREQ)
            return True
        ghost_hit = self._ghost_remove(key)
        if size > self.small_cap or size > self.capacity:
            return False
        while self._small_used + self._main_used + size > self.capacity:
            self._evict()
        if ghost_hit:
            self._main_insert(key, size, 0)
        elif size >= self.small_cap:
            pass  # libCacheSim: an object filling all of S is not admitted (room was made anyway)
        elif not self._has_evicted and self._small_used >= self.small_cap:
            self._main_insert(key, size, 0)
        else:
            self._small[key] = size
            self._small_used += size
            self._freq[key] = 0
        self.used = self._small_used + self._main_used
        return False

    # ------------------------------------------------------------------ queues
    def _main_insert(self, key: Hashable, size: int, freq: int) -> None:
        self._main[key] = size
        self._main_used += size
        self._freq[key] = freq

    def _ghost_remove(self, key: Hashable) -> bool:
        size = self._ghost.pop(key, None)
        if size is None:
            return False
        self._ghost_used -= size
        return True

    def _ghost_add(self, key: Hashable, size: int) -> None:
        if size > self.ghost_cap:
            return
        while self._ghost_used + size > self.ghost_cap:
            self._ghost_used -= self._ghost.popitem(last=False)[1]
        self._ghost[key] = size
        self._ghost_used += size

    # ---------------------------------------------------------------- eviction
    def _evict(self) -> None:
        self._has_evicted = True
        if self._main_used > self.main_cap or not self._small:
            self._evict_main()
        else:
            self._evict_small()

    def _evict_small(self) -> None:
        while self._small:
            key, size = self._small.popitem(last=False)
            self._small_used -= size
            if self._freq[key] >= MOVE_TO_MAIN:
                self._main_insert(key, size, 0)
                continue
            del self._freq[key]
            self._ghost_add(key, size)
            self._gone(key, size)
            return

    def _evict_main(self) -> None:
        while self._main:
            key, size = self._main.popitem(last=False)
            freq = self._freq[key]
            if freq >= 1:
                self._main[key] = size  # reinsert at the head
                self._freq[key] = freq - 1
                continue
            self._main_used -= size
            del self._freq[key]
            self._gone(key, size)
            return

    def _gone(self, key: Hashable, size: int) -> None:
        self.used = self._small_used + self._main_used
        self._evicted(key)

    def remove(self, key: Hashable) -> bool:
        if key not in self._freq:
            return False
        # Not added to the ghost: a ghost hit sends the key straight to M, which a purge has
        # not earned. `_has_evicted` stays as it is: a purge is not an eviction.
        del self._freq[key]
        if key in self._small:
            self._small_used -= self._small.pop(key)
        else:
            self._main_used -= self._main.pop(key)
        self.used = self._small_used + self._main_used
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._freq

    def __len__(self) -> int:
        return len(self._freq)
