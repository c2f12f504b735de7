"""SIEVE (Zhang et al., NSDI'24): FIFO order, a visited bit, and a hand that stays put.

Objects enter at the head and never move. A hit only sets the visited bit. To evict, the hand
walks from where it stopped last time towards the head (starting at the tail, wrapping back to
the tail past the head), clearing visited bits, and evicts the first unvisited object; the hand
then rests on that object's newer neighbour. Unlike CLOCK, survivors keep their place, so new
objects are sifted out quickly while old popular ones stay behind the hand.
"""

from __future__ import annotations

from collections.abc import Hashable

from syslab.cache.policies.base import Policy


class Sieve(Policy):
    name = "sieve"

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self._sizes: dict[Hashable, int] = {}
        self._visited: set[Hashable] = set()
        # Doubly linked list: `_newer[k]` points towards the head, `_older[k]` towards the tail.
        self._newer: dict[Hashable, Hashable | None] = {}
        self._older: dict[Hashable, Hashable | None] = {}
        self._head: Hashable | None = None  # newest
        self._tail: Hashable | None = None  # oldest
        self._hand: Hashable | None = None  # None: start from the tail

    def request(self, key: Hashable, size: int = 1) -> bool:
        if key in self._sizes:
            self._visited.add(key)
            return True
        if size > self.capacity:
            return False
        while self.used + size > self.capacity:
            self._evict_one()
        self._push_head(key)
        self._sizes[key] = size
        self.used += size
        return False

    def _push_head(self, key: Hashable) -> None:
        self._newer[key] = None
        self._older[key] = self._head
        if self._head is not None:
            self._newer[self._head] = key
        self._head = key
        if self._tail is None:
            self._tail = key

    def _unlink(self, key: Hashable) -> None:
        newer, older = self._newer.pop(key), self._older.pop(key)
        if newer is None:
            self._head = older
        else:
            self._older[newer] = older
        if older is None:
            self._tail = newer
        else:
            self._newer[older] = newer

    def _evict_one(self) -> None:
        hand = self._tail if self._hand is None else self._hand
        while hand in self._visited:
            self._visited.discard(hand)
            hand = self._newer[hand]
            if hand is None:  # walked past the head: wrap to the tail
                hand = self._tail
        self._hand = self._newer[hand]
        self._unlink(hand)
        self.used -= self._sizes.pop(hand)
        self._evicted(hand)

    def remove(self, key: Hashable) -> bool:
        size = self._sizes.pop(key, None)
        if size is None:
            return False
        if self._hand == key:
            # The hand moves on to the newer neighbour, exactly as after evicting this key
            # (None: the next eviction starts from the tail).
            self._hand = self._newer[key]
        self._unlink(key)
        self._visited.discard(key)
        self.used -= size
        return True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._sizes

    def __len__(self) -> int:
        return len(self._sizes)
