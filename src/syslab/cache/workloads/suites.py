"""The built-in synthetic suite: one workload per family, small enough for the tour and CI."""

from __future__ import annotations

from syslab.cache.compare import TraceSource, synthetic_source


def synthetic_suite(n_requests: int = 200_000, n_objects: int = 20_000) -> list[TraceSource]:
    """Four families a policy should be judged on, seeded so every run sees the same requests."""
    common = {"n_requests": n_requests, "n_objects": n_objects}
    return [
        # web/CDN-like: moderate skew plus many objects requested once
        synthetic_source("zipf0.8-onehit", alpha=0.8, one_hit_fraction=0.2, seed=1, **common),
        # key-value-like: strong skew, little else
        synthetic_source("zipf1.2", alpha=1.2, seed=2, **common),
        # block-like: a skewed hot set interrupted by long sequential scans
        synthetic_source("zipf1.0-scans", alpha=1.0, scan_fraction=0.3, seed=3, **common),
        # half the requests loop over key ranges: the pattern LRU handles worst
        synthetic_source(
            "zipf0.9-loops", alpha=0.9, scan_fraction=0.5, loop=True, seed=4, **common
        ),
    ]
