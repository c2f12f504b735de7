"""The one small interface every eviction policy implements.

A policy is a plain object with no I/O: feed it requests, it answers hit or miss and keeps
its own books. The simulator, the tests and (later) the CDN drive the same object.
Capacity and sizes share one unit: objects (every size 1) or bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from typing import ClassVar


class Policy(ABC):
    """An eviction policy over a cache of `capacity` units.

    Contract, shared by every policy so that results are comparable:
    - `request(key, size)` returns True on a hit. A hit does not change the stored size.
    - On a miss the object is admitted unless `size > capacity` (it then bypasses the cache)
      or the policy's own admission rule says no; victims are evicted until it fits.
    - `on_evict`, if set, is called with each evicted key (a CDN frees the bytes).
    - `remove(key)` forgets a resident object (a purge) without calling `on_evict`: the
      caller asked for it, so it already knows. A later request for it is a cold miss.
    """

    name: ClassVar[str]
    #: True for offline policies that must be built with the trace's future (Belady).
    needs_future: ClassVar[bool] = False
    #: True when decisions depend on the key's value (hashed sketches): simulators must then
    #: feed the trace's own keys, not renumbered ids, to reproduce other simulators exactly.
    hashes_keys: ClassVar[bool] = False

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"cache capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self.used = 0
        self.on_evict: Callable[[Hashable], None] | None = None

    @abstractmethod
    def request(self, key: Hashable, size: int = 1) -> bool:
        """Serve one request; True if it was a hit."""

    @abstractmethod
    def remove(self, key: Hashable) -> bool:
        """Forget `key` (a purge): frees its size from `used`; True if it was resident.

        Does not call `on_evict`. A purge is not an eviction decision, so policies neither put
        the key in their ghost lists nor adapt to it (a ghost hit would claim "evicted too
        early"); what they remember of earlier evictions and requests (ghosts, sketches) is
        kept. Removing an absent key returns False and changes nothing.
        """

    @abstractmethod
    def __contains__(self, key: Hashable) -> bool: ...

    @abstractmethod
    def __len__(self) -> int: ...

    def _evicted(self, key: Hashable) -> None:
        if self.on_evict is not None:
            self.on_evict(key)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(capacity={self.capacity}, used={self.used}, objects={len(self)})"
