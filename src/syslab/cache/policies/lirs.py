"""LIRS: Low Inter-reference Recency Set (Jiang & Zhang, SIGMETRICS'02).

Objects with a short reuse distance are LIR and stay resident; the rest are HIR, of which
only a small share (`hir_ratio` of capacity, at least 1 unit) is resident. Two structures:

- stack S, in recency order, holds LIR objects, resident HIR objects and *non-resident* HIR
  keys (ghosts) seen more recently than the oldest LIR object. "Pruning" keeps an LIR object
  at the bottom of S, so "in S" means "reused sooner than some LIR object".
- queue Q, FIFO of the resident HIR objects; its front is always the next victim.

A HIR object hit while in S (resident or not) has proved a short reuse distance: it becomes
LIR and the bottom LIR object is demoted to the end of Q. Non-resident keys in S are bounded:
S (all entries, by size) is kept within 2x capacity by dropping its oldest ghosts.

Sizes: the LIR and HIR shares and S are measured in capacity units, so count and byte mode are
one code path.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from syslab.cache.policies.base import Policy

LIR, HIR, GHOST = 0, 1, 2  # status of a key: LIR, resident HIR, non-resident HIR


class LIRS(Policy):
    """LIRS as in the paper, with libCacheSim's defaults (HIR share 1 %, S bounded by 2c).

    Parity (sizes 1): within 0.03 percentage points of libCacheSim 0.3.5 on the shared traces
    at 1 % and 10 % of objects, exact on several. libCacheSim's LIRS.c departs from the paper in
    corner cases, which explains the rest: a hit on a resident HIR object that is not in S
    also demotes the bottom LIR object when the LIR share is full, and with a 1-unit Q that can
    evict the object just hit while it is still reported resident. We keep the paper's rule.
    """

    name = "lirs"

    def __init__(self, capacity: int, hir_ratio: float = 0.01) -> None:
        super().__init__(capacity)
        self.hir_limit = max(1, int(capacity * hir_ratio))
        self.lir_limit = max(1, capacity - self.hir_limit)
        self._s: OrderedDict[Hashable, None] = OrderedDict()  # bottom (oldest) first
        self._q: OrderedDict[Hashable, None] = OrderedDict()  # front (next victim) first
        self._ghosts: OrderedDict[Hashable, None] = OrderedDict()  # non-resident keys in S
        self._status: dict[Hashable, int] = {}  # every key in S or Q
        self._size: dict[Hashable, int] = {}  # every key in S or Q
        self._lir_used = 0
        self._s_used = 0  # sizes of all entries of S, ghosts included
        self._resident = 0

    # ---------------------------------------------------------------- public API
    def request(self, key: Hashable, size: int = 1) -> bool:
        status = self._status.get(key)
        if status == LIR:
            self._touch_s(key)
            self._prune()
            return True
        if status == HIR:
            if key in self._s:
                # Reused while in S: its reuse distance beats the bottom LIR object.
                self._touch_s(key)
                del self._q[key]
                self._make_lir(key)
            else:
                self._push_s(key)
                self._q.move_to_end(key)
                self._limit_s()
            return True

        # A miss: a new key, or a ghost (status GHOST, still in S).
        if size > self.capacity:
            return False
        if status == GHOST:
            self._s_used -= self._size[key]  # it re-enters S with this request's size
            self._size[key] = 0
        while self.used + size > self.capacity:
            self._evict_one()
        status = self._status.get(key)  # evicting may have pruned the ghost away
        self._size[key] = size
        self._resident += 1
        self.used += size
        if status == GHOST:
            del self._ghosts[key]
            self._s_used += size
            self._touch_s(key)
            self._make_lir(key)
        elif self._lir_used + size <= self.lir_limit:
            # Warm-up: until the LIR share is full every object is LIR.
            self._status[key] = LIR
            self._lir_used += size
            self._push_s(key)
        else:
            self._status[key] = HIR
            self._push_s(key)
            self._q[key] = None
        self._limit_s()
        return False

    def remove(self, key: Hashable) -> bool:
        status = self._status.get(key)
        if status is None or status == GHOST:
            return False
        # Forgotten entirely rather than left in S as a ghost: a ghost's next miss would make
        # it LIR straight away, a reward for a reuse distance the purge cut short.
        size = self._size.pop(key)
        del self._status[key]
        if status == LIR:
            self._lir_used -= size  # the LIR share refills from new misses (warm-up rule)
        else:
            del self._q[key]
        if key in self._s:
            self._s.pop(key)
            self._s_used -= size
            # An LIR key may have been S's bottom; HIR entries now below the next LIR object
            # must go, or S would claim they were reused sooner than some LIR object.
            self._prune()
        self._resident -= 1
        self.used -= size
        return True

    def __contains__(self, key: Hashable) -> bool:
        status = self._status.get(key)
        return status is not None and status != GHOST

    def __len__(self) -> int:
        return self._resident

    # ----------------------------------------------------------------- internals
    def _push_s(self, key: Hashable) -> None:
        """Put a key not yet in S on top of S."""
        self._s[key] = None
        self._s_used += self._size[key]

    def _touch_s(self, key: Hashable) -> None:
        self._s.move_to_end(key)

    def _make_lir(self, key: Hashable) -> None:
        """Turn a key on top of S into LIR; demote bottom LIR objects while over the share."""
        self._status[key] = LIR
        self._lir_used += self._size[key]
        while self._lir_used > self.lir_limit:
            self._demote_bottom_lir()

    def _demote_bottom_lir(self) -> None:
        self._prune()  # S may have gained HIR entries below its first LIR object
        bottom = next(iter(self._s))
        self._s.pop(bottom)
        bsize = self._size[bottom]
        self._s_used -= bsize
        self._lir_used -= bsize
        self._status[bottom] = HIR
        self._q[bottom] = None
        self._prune()

    def _prune(self) -> None:
        """Drop HIR entries from the bottom of S until an LIR object is there."""
        s, status = self._s, self._status
        while s:
            bottom = next(iter(s))
            st = status[bottom]
            if st == LIR:
                return
            s.pop(bottom)
            self._s_used -= self._size[bottom]
            if st == GHOST:  # forgotten entirely
                del self._ghosts[bottom], status[bottom], self._size[bottom]

    def _evict_one(self) -> None:
        """Evict the front of Q; with Q empty (byte mode), demote an LIR object first."""
        if not self._q:
            self._demote_bottom_lir()
        victim, _ = self._q.popitem(last=False)
        vsize = self._size[victim]
        self.used -= vsize
        self._resident -= 1
        if victim in self._s:
            self._status[victim] = GHOST
            self._ghosts[victim] = None
        else:
            del self._status[victim], self._size[victim]
        self._evicted(victim)

    def _limit_s(self) -> None:
        """Bound S to 2x capacity by dropping its oldest ghosts."""
        while self._s_used > 2 * self.capacity and self._ghosts:
            ghost, _ = self._ghosts.popitem(last=False)
            self._s.pop(ghost)
            self._s_used -= self._size.pop(ghost)
            del self._status[ghost]
