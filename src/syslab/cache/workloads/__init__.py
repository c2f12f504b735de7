"""Workloads for the cache lab: real trace readers, synthetic generators, key sampling."""

from syslab.cache.workloads.generators import synthetic, zipf
from syslab.cache.workloads.readers import (
    FORMATS,
    detect_format,
    read_trace,
    shared_traces,
    write_oracle,
    write_txt,
)
from syslab.cache.workloads.sampling import hash_keys, sample_keys

__all__ = [
    "FORMATS",
    "detect_format",
    "hash_keys",
    "read_trace",
    "sample_keys",
    "shared_traces",
    "synthetic",
    "write_oracle",
    "write_txt",
    "zipf",
]
