"""libCacheSim (the GPL `libcachesim` wheel) driven on our traces: benchmark-only, never in src/.

Both simulators see the same requests: we write the trace as oracleGeneral (sizes 1 for object
caches, so libCacheSim counts objects exactly as we do) and give both the same integer capacity.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import libcachesim
import numpy as np

from syslab.cache.trace import Trace

# our registry name -> libcachesim class name
CLASSES = {
    "fifo": "FIFO",
    "lru": "LRU",
    "clock": "Clock",
    "sieve": "Sieve",
    "belady": "Belady",
    "s3fifo": "S3FIFO",
    "arc": "ARC",
    "lirs": "LIRS",
    "wtinylfu": "WTinyLFU",
    "2q": "TwoQ",
    "slru": "SLRU",
    "lecar": "LeCaR",
    "lfu": "LFU",
    "gdsf": "GDSF",
}

ORACLE = np.dtype([("ts", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])


def write_oracle(trace: Trace, path: Path, *, unit_sizes: bool = True) -> Path:
    records = np.zeros(len(trace), dtype=ORACLE)
    records["ts"] = np.arange(len(trace), dtype=np.uint32)
    records["id"] = trace.keys
    records["size"] = 1 if unit_sizes else trace.unit_sizes
    records["next"] = trace.next_access
    records.tofile(path)
    return path


class Oracle:
    """One trace, written once, simulated by many libCacheSim policies."""

    def __init__(self, trace: Trace, *, unit_sizes: bool = True) -> None:
        self.trace = trace
        self._dir = tempfile.TemporaryDirectory(prefix="syslab-lcs-")
        self.path = write_oracle(
            trace, Path(self._dir.name) / f"{trace.name}.oracleGeneral.bin", unit_sizes=unit_sizes
        )

    def run(self, policy: str, capacity: int) -> tuple[int, float]:
        """(misses, seconds) of libCacheSim's `policy` with `capacity` objects (or bytes)."""
        reader = libcachesim.TraceReader(
            trace=str(self.path), trace_type=libcachesim.TraceType.ORACLE_GENERAL_TRACE
        )
        cache = getattr(libcachesim, CLASSES[policy])(cache_size=int(capacity))
        start = time.perf_counter()
        miss_ratio, _ = cache.process_trace(reader)
        seconds = time.perf_counter() - start
        return round(miss_ratio * len(self.trace)), seconds

    def close(self) -> None:
        self._dir.cleanup()
