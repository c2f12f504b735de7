"""Fast numba kernels on dense ids, for the policies that decide a benchmark's speed.

Each module here exposes `hits(trace, sizes, capacity) -> np.ndarray[bool]`, the hit/miss of
every request, and must agree exactly with the readable reference policy of the same name in
`syslab.cache.policies` (tests/cache/test_fast_agrees.py checks this with hypothesis).
`sizes` is the per-request size in capacity units (all ones for object-count caches).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import numpy as np

from syslab.cache.trace import Trace

HitsFn = Callable[[Trace, np.ndarray, int], np.ndarray]

# policy name -> module under syslab.cache.fast
_KERNELS: dict[str, str] = {
    "fifo": "fifo",
    "lru": "lru",
    "clock": "clock",
    "sieve": "sieve",
    "s3fifo": "s3fifo",
    "belady": "belady",
    "as3fifo": "as3fifo",
    "wtinylfu": "wtinylfu",
    "arc": "arc",
    "2q": "twoq",
    "slru": "slru",
    "lfu": "lfu",
    "gdsf": "gdsf",
    "lirs": "lirs",
    "lecar": "lecar",
}

FAST_POLICIES: tuple[str, ...] = tuple(_KERNELS)


def fast_hits(name: str) -> HitsFn | None:
    """The fast kernel for policy `name`, or None if it only has a reference implementation."""
    module = _KERNELS.get(name.lower())
    return None if module is None else import_module(f"syslab.cache.fast.{module}").hits
