"""ARC: Adaptive Replacement Cache (Megiddo & Modha, FAST'03).

Two resident LRU lists -- T1 (seen once recently) and T2 (seen at least twice) -- and two
ghost lists of keys only -- B1 and B2 -- remembering what each of them evicted lately. A hit
in B1 means T1 was too small, so the target size `p` of T1 grows; a hit in B2 shrinks it.

Sizes: every list is measured in capacity units (objects or bytes), so the count and byte
variants are one code path. The paper's per-ghost-hit step "max(|B2|/|B1|, 1)" becomes that
ratio times the size of the requested object, which is the paper's rule when sizes are 1.

Parity: with sizes 1 this follows libCacheSim's ARC.c step for step (same REPLACE tie rule,
same "case A / case B" ghost trimming, and `p` a float moved by the ratio of the ghost
sizes), and gives the same miss counts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from syslab.cache.policies.base import Policy


class ARC(Policy):
    name = "arc"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        # Each list maps key -> size, oldest (LRU end) first.
        self._t1: OrderedDict[Hashable, int] = OrderedDict()
        self._t2: OrderedDict[Hashable, int] = OrderedDict()
        self._b1: OrderedDict[Hashable, int] = OrderedDict()
        self._b2: OrderedDict[Hashable, int] = OrderedDict()
        self._t1_used = self._t2_used = self._b1_used = self._b2_used = 0
        self.p = 0.0  # target size of T1, in capacity units (a float, as in libCacheSim)

    # ---------------------------------------------------------------- public API
    def request(self, key: Hashable, size: int = 1) -> bool:
        if key in self._t1:  # second access: promote to the frequency side
            s = self._t1.pop(key)
            self._t1_used -= s
            self._t2[key] = s
            self._t2_used += s
            return True
        if key in self._t2:
            self._t2.move_to_end(key)
            return True

        in_b1, in_b2 = key in self._b1, key in self._b2
        if in_b1:
            # T1 evicted it too early: give T1 more room.
            step = max(self._b2_used / self._b1_used, 1.0) * size
            self.p = min(self.p + step, self.capacity)
        elif in_b2:
            # T2 evicted it too early: give T2 more room.
            step = max(self._b1_used / self._b2_used, 1.0) * size
            self.p = max(self.p - step, 0)

        if in_b1 or in_b2:
            self._drop_ghost(key)
            if size > self.capacity:
                return False
            # The paper runs REPLACE on a ghost hit (the cache is full then).
            while self.used + size > self.capacity:
                self._replace(in_b2)
            self._trim_ghosts()
            self._t2[key] = size  # seen before: goes straight to the frequency side
            self._t2_used += size
        else:
            if size > self.capacity:
                return False
            while self.used + size > self.capacity:
                self._make_room(size)
            self._t1[key] = size
            self._t1_used += size
            self._trim_ghosts()
        self.used += size
        return False

    def remove(self, key: Hashable) -> bool:
        # Not moved to B1/B2 and `p` is left alone: a later ghost hit would tell ARC that its
        # own choice was wrong, and a purge is not ARC's choice.
        if key in self._t1:
            size = self._t1.pop(key)
            self._t1_used -= size
        elif key in self._t2:
            size = self._t2.pop(key)
            self._t2_used -= size
        else:
            return False
        self.used -= size
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._t1 or key in self._t2

    def __len__(self) -> int:
        return len(self._t1) + len(self._t2)

    # ----------------------------------------------------------------- internals
    def _make_room(self, size: int) -> None:
        """One eviction for a brand-new key (the paper's case IV, A and B)."""
        c = self.capacity
        if self._t1_used + self._b1_used + size > c:
            # Case A: L1 = T1 + B1 is full.
            if self._b1:
                self._pop_ghost(self._b1, "b1")
                self._replace(in_b2=False)
            else:
                # T1 alone fills L1: evict its LRU without remembering it.
                victim, vsize = self._t1.popitem(last=False)
                self._t1_used -= vsize
                self._evict_done(victim, vsize)
        else:
            # Case B: L1 has room; trim B2 when the whole directory is at 2c.
            total = self._t1_used + self._t2_used + self._b1_used + self._b2_used
            if total + size > 2 * c and self._b2:
                self._pop_ghost(self._b2, "b2")
            self._replace(in_b2=False)

    def _replace(self, in_b2: bool) -> None:
        """The paper's REPLACE: evict from T1 or T2 into the matching ghost list."""
        t1_used = self._t1_used
        if self._t1 and (t1_used > self.p or (t1_used == self.p and in_b2) or not self._t2):
            victim, vsize = self._t1.popitem(last=False)
            self._t1_used -= vsize
            self._b1[victim] = vsize
            self._b1_used += vsize
        else:
            victim, vsize = self._t2.popitem(last=False)
            self._t2_used -= vsize
            self._b2[victim] = vsize
            self._b2_used += vsize
        self._evict_done(victim, vsize)

    def _evict_done(self, victim: Hashable, vsize: int) -> None:
        self.used -= vsize
        self._evicted(victim)

    def _pop_ghost(self, ghost: OrderedDict[Hashable, int], which: str) -> None:
        _, gsize = ghost.popitem(last=False)
        if which == "b1":
            self._b1_used -= gsize
        else:
            self._b2_used -= gsize

    def _trim_ghosts(self) -> None:
        """Keep the directory within 2c. A no-op with sizes 1; bounds ghosts with bytes."""
        while self._t1_used + self._t2_used + self._b1_used + self._b2_used > 2 * self.capacity:
            if self._b2:
                self._pop_ghost(self._b2, "b2")
            elif self._b1:
                self._pop_ghost(self._b1, "b1")
            else:
                break

    def _drop_ghost(self, key: Hashable) -> None:
        if key in self._b1:
            self._b1_used -= self._b1.pop(key)
        elif key in self._b2:
            self._b2_used -= self._b2.pop(key)
