"""AS3-FIFO: S3-FIFO with an adaptive small queue and credit for ghost returns (ours).

S3-FIFO (SOSP'23) splits the cache into a small FIFO S (10 %) that filters one-hit wonders
and a main FIFO M with a 2-bit CLOCK counter; objects evicted unread from S are remembered
in a ghost so that their next request goes straight to M. AS3-FIFO keeps that structure and
adds two things:

* **Adaptive split** (ARC's rule). A miss on an object recently evicted *unread from S*
  (ghost GS) means S was too short to see its second request: the small target T grows by
  the object's size. A miss on an object recently evicted *from M* (ghost GM) means M was
  too small: T shrinks by the object's size. T starts at C // 10 (S3-FIFO's split) and
  stays within [C // 20, C - C // 10] (5 %..90 % of capacity).
* **Return credit.** Each object counts how many times in a row it came back from a ghost
  (`returns`, kept in the ghost entry while it is remembered, reset by a cold miss). An
  object admitted from a ghost starts in M with CLOCK counter `min(3, returns - 1)`: the
  first return earns nothing (as in S3-FIFO), each further return one more trip round M.
  An object whose reuse distance keeps landing just beyond the cache is thus held longer,
  without any frequency sketch: the evidence is the ghost's own memory.

All quantities are integers in capacity units, so object-count and byte caches share one
code path and the fast kernel can agree with this reference exactly.

Rules, in order, for a request of `key` with `size` units (capacity C):

1. Hit (in S or M): its counter `freq` goes up by one, saturating at 3. Nothing moves.
2. Miss with size > C: bypass, no state changes.
3. Miss: look the key up in the ghosts. A ghost is a record of evictions: every eviction
   from S (resp. M) advances that ghost's clock by the victim's size and stamps the victim
   with the new clock (and its return count); the key is "in" the ghost while
   clock - stamp <= C - C // 10, i.e. while at most 90 % of C units were evicted from that
   queue after it. Adapt T as above (GS first; a key is never live in both ghosts).
4. If the key was in a ghost, or the small queue is at its target while the cache still has
   room (warm-up: `used + size <= C` and `used_S + size > T`), it is admitted to M;
   otherwise to S. Before that, while `used + size > C`, one object is evicted:
   - from S when `used_S > T` or M is empty: pop S's head; if it was read (freq >= 1) it
     moves to M's tail with freq 0 and we keep popping S; else it leaves (stamp GS);
   - else from M: pop M's head; if freq > 0 it goes back to M's tail with freq - 1 and we
     keep popping; else it leaves (stamp GM).
   Both ghost entries of the new object are dropped. From a ghost: returns = min(4, carried
   returns + 1) and freq = min(3, returns - 1); otherwise returns = 0 and freq = 0.

Metadata: per resident object a queue slot, its size, a 2-bit counter, a 3-bit return count
and a 1-bit queue tag; per ghost entry one integer stamp and the 3-bit return count.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable

from syslab.cache.policies.base import Policy

MAX_FREQ = 3
MAX_RETURNS = MAX_FREQ + 1  # returns beyond this earn no more credit


def _drop_dead(dead: dict[Hashable, int], key: Hashable) -> bool:
    """True if this popped queue slot of `key` is a dead one (and count it as gone)."""
    n = dead.get(key)
    if n is None:
        return False
    if n == 1:
        del dead[key]
    else:
        dead[key] = n - 1
    return True


class _Ghost:
    """Keys evicted from one queue, remembered while at most `span` units were evicted since.

    Each entry also carries the key's return count (see rule 4), so that it survives the
    eviction for as long as the ghost remembers the key.
    """

    def __init__(self, span: int) -> None:
        self.span = span
        self.clock = 0
        self._stamps: OrderedDict[Hashable, tuple[int, int]] = OrderedDict()  # oldest first

    def add(self, key: Hashable, size: int, returns: int) -> None:
        self.clock += size
        self._stamps.pop(key, None)
        self._stamps[key] = (self.clock, returns)
        stamps = self._stamps
        while stamps:  # forget entries that fell out of the window (keeps memory bounded)
            old_key, (stamp, _) = next(iter(stamps.items()))
            if self.clock - stamp <= self.span:
                break
            del stamps[old_key]

    def get(self, key: Hashable) -> int | None:
        """The key's return count if the ghost still remembers it, else None."""
        entry = self._stamps.get(key)
        if entry is None or self.clock - entry[0] > self.span:
            return None
        return entry[1]

    def __contains__(self, key: Hashable) -> bool:
        return self.get(key) is not None

    def discard(self, key: Hashable) -> None:
        self._stamps.pop(key, None)

    def __len__(self) -> int:
        return len(self._stamps)


class AS3FIFO(Policy):
    name = "as3fifo"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        c = self.capacity
        self.t_min = c // 20
        self.t_max = c - c // 10
        self.target = c // 10  # T: the small queue's share, in units
        self._small: deque[Hashable] = deque()
        self._main: deque[Hashable] = deque()
        self._in_small: dict[Hashable, int] = {}  # key -> size
        self._in_main: dict[Hashable, int] = {}
        self._freq: dict[Hashable, int] = {}
        self._returns: dict[Hashable, int] = {}  # resident key -> ghost returns in a row
        # remove() leaves a key's queue slot behind (deque.remove would be O(n)): key -> how
        # many dead slots it has in that queue. They always precede its live slot, since
        # queues only grow at the tail, so the first slots of the key popped are the dead ones.
        self._dead_small: dict[Hashable, int] = {}
        self._dead_main: dict[Hashable, int] = {}
        self.used_small = 0
        self.used_main = 0
        span = c - c // 10  # each ghost remembers 90 % of capacity, like S3-FIFO's ghost
        self.ghost_small = _Ghost(span)
        self.ghost_main = _Ghost(span)

    def request(self, key: Hashable, size: int = 1) -> bool:
        if key in self._freq:
            if self._freq[key] < MAX_FREQ:
                self._freq[key] += 1
            return True
        c = self.capacity
        if size > c:
            return False
        from_gs = self.ghost_small.get(key)
        from_gm = self.ghost_main.get(key)
        if from_gs is not None:
            self.target = min(self.t_max, self.target + size)
        elif from_gm is not None:
            self.target = max(self.t_min, self.target - size)
        carried = from_gs if from_gs is not None else from_gm
        room = self.used + size <= c and self.used_small + size > self.target
        while self.used + size > c:
            if self.used_small > 0 and (self.used_small > self.target or self.used_main == 0):
                self._evict_small()
            else:
                self._evict_main()
        self.ghost_small.discard(key)
        self.ghost_main.discard(key)
        if carried is not None:  # back from a ghost: rule 4, credit for repeated returns
            returns = min(MAX_RETURNS, carried + 1)
            self._returns[key] = returns
            self._freq[key] = min(MAX_FREQ, returns - 1)
        else:
            self._returns[key] = 0
            self._freq[key] = 0
        if carried is not None or room:
            self._main.append(key)
            self._in_main[key] = size
            self.used_main += size
        else:
            self._small.append(key)
            self._in_small[key] = size
            self.used_small += size
        self.used += size
        return False

    def _evict_small(self) -> None:
        """Pop S until one object leaves the cache; read ones move to M on the way."""
        while self._small:
            key = self._small.popleft()
            if _drop_dead(self._dead_small, key):
                continue
            size = self._in_small.pop(key)
            self.used_small -= size
            if self._freq[key] >= 1:
                self._freq[key] = 0
                self._main.append(key)
                self._in_main[key] = size
                self.used_main += size
            else:
                del self._freq[key]
                self.used -= size
                self.ghost_small.add(key, size, self._returns.pop(key))
                self._evicted(key)
                return

    def _evict_main(self) -> None:
        """CLOCK over M: read objects go round again with one count less."""
        while True:
            key = self._main.popleft()
            if _drop_dead(self._dead_main, key):
                continue
            if self._freq[key] > 0:
                self._freq[key] -= 1
                self._main.append(key)
                continue
            size = self._in_main.pop(key)
            del self._freq[key]
            self.used_main -= size
            self.used -= size
            self.ghost_main.add(key, size, self._returns.pop(key))
            self._evicted(key)
            return

    def remove(self, key: Hashable) -> bool:
        if key not in self._freq:
            return False
        # Not stamped into a ghost and T is left alone: ghosts are evidence about this
        # policy's own evictions, and a purge is not one.
        del self._freq[key], self._returns[key]
        if key in self._in_small:
            size = self._in_small.pop(key)
            self.used_small -= size
            queue, live, dead = self._small, self._in_small, self._dead_small
        else:
            size = self._in_main.pop(key)
            self.used_main -= size
            queue, live, dead = self._main, self._in_main, self._dead_main
        self.used -= size
        dead[key] = dead.get(key, 0) + 1
        if len(queue) > 2 * len(live) + 64:
            # Mostly dead slots (purges on a cache that rarely evicts): sweep them out, so
            # memory stays O(residents); amortised O(1) per remove.
            for _ in range(len(queue)):
                k = queue.popleft()
                if not _drop_dead(dead, k):
                    queue.append(k)
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._freq

    def __len__(self) -> int:
        return len(self._freq)
