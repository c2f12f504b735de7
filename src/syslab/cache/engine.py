"""Run a policy over a trace: the fast kernel when there is one, else the reference object."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass

import numpy as np

from syslab.cache.fast import fast_hits
from syslab.cache.policies import make_policy, policy_class
from syslab.cache.trace import Trace
from syslab.common.errors import UserError


@dataclass(frozen=True)
class SimResult:
    """One (trace, policy, cache size) run. Byte counts use the trace's sizes (1 if none)."""

    trace: str
    policy: str
    size: str  # as the user asked: "0.01" (fraction of the footprint) or "5000" (units)
    capacity: int  # in units
    unit: str  # "objects" or "bytes"
    requests: int
    misses: int
    bytes_requested: int
    bytes_missed: int
    seconds: float
    impl: str  # "fast" or "reference"

    @property
    def miss_ratio(self) -> float:
        return self.misses / self.requests

    @property
    def byte_miss_ratio(self) -> float:
        return self.bytes_missed / self.bytes_requested

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else float("inf")

    def record(self) -> dict:
        """A flat dict for JSON-lines result files and tables."""
        return asdict(self) | {
            "miss_ratio": self.miss_ratio,
            "byte_miss_ratio": self.byte_miss_ratio,
        }


_SIZE = re.compile(r"^\s*(?:(\d+(?:\.\d*)?|\.\d+)\s*(%)?)\s*$")


def parse_size(text: str) -> float | int:
    """A cache size as written: a fraction ("0.01", "1%") or a count of units ("5000")."""
    m = _SIZE.match(text)
    if not m:
        raise UserError(
            f"bad cache size {text!r}: give a fraction like 0.01 or 1% or a count like 5000"
        )
    number, percent = m.groups()
    value = float(number) / 100 if percent else float(number)
    if value <= 0:
        raise UserError(f"cache size must be positive, got {text!r}")
    if percent or "." in number:
        if value > 1:
            raise UserError(f"cache size {text!r} is a fraction above 1 (100 %)")
        return value
    return int(number)


def capacity_for(trace: Trace, size: float | int, use_bytes: bool = False) -> int:
    """Units of capacity for a size: fractions are of unique objects (or of the byte footprint)."""
    if isinstance(size, int):
        return size
    footprint = trace.footprint_bytes if use_bytes else trace.n_unique
    return max(1, int(footprint * size))


def reference_hits(trace: Trace, policy: str, capacity: int, sizes: np.ndarray) -> np.ndarray:
    """Drive the readable reference policy one request at a time."""
    cache = make_policy(policy, capacity, next_access=_future(trace, policy))
    # Dense ids where the key's value does not matter: small ints hash faster in dicts.
    keys = (trace.keys if cache.hashes_keys else trace.ids).tolist()
    if np.all(sizes == 1):  # object caches: the default size keeps the per-request call cheap
        served = map(cache.request, keys)
    else:
        served = map(cache.request, keys, sizes.tolist())
    return np.array(list(served), dtype=bool)  # list() first: fromiter is slower per item


def _future(trace: Trace, policy: str) -> list[int] | None:
    return trace.next_access.tolist() if policy_class(policy).needs_future else None


def hits(
    trace: Trace, policy: str, capacity: int, *, use_bytes: bool = False, impl: str = "auto"
) -> tuple[np.ndarray, str]:
    """Per-request hits and which implementation produced them ("fast" or "reference")."""
    if capacity <= 0:
        raise UserError(f"cache capacity must be positive, got {capacity}")
    if use_bytes and not trace.has_sizes:
        raise UserError(f"{trace.name}: --bytes needs a trace with object sizes")
    sizes = trace.unit_sizes if use_bytes else np.ones(len(trace), dtype=np.int64)
    kernel = fast_hits(policy) if impl in ("auto", "fast") else None
    if kernel is None and impl == "fast":
        raise UserError(f"policy {policy!r} has no fast kernel")
    policy_class(policy)  # validates the name either way
    if kernel is not None:
        return kernel(trace, sizes, capacity), "fast"
    return reference_hits(trace, policy, capacity, sizes), "reference"


def simulate(
    trace: Trace,
    policy: str,
    size: float | int,
    *,
    use_bytes: bool = False,
    impl: str = "auto",
) -> SimResult:
    """Simulate `policy` with a cache of `size` (fraction or units) over `trace`."""
    capacity = capacity_for(trace, size, use_bytes)
    start = time.perf_counter()
    hit, used = hits(trace, policy, capacity, use_bytes=use_bytes, impl=impl)
    seconds = time.perf_counter() - start
    nbytes = trace.unit_sizes
    miss = ~hit
    return SimResult(
        trace=trace.name,
        policy=policy.lower(),
        size=str(size),
        capacity=capacity,
        unit="bytes" if use_bytes else "objects",
        requests=len(trace),
        misses=int(miss.sum()),
        bytes_requested=int(nbytes.sum()),
        bytes_missed=int(nbytes[miss].sum()),
        seconds=seconds,
        impl=used,
    )
