"""Counters and a latency histogram, exposed in the Prometheus text format.

Hand-written rather than prometheus_client: the hit path bumps these on every request and
a plain int add costs ~30 ns where the client library takes a lock; and workers share
nothing, so the admin API sums the workers' snapshots itself.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

# Latency bucket upper bounds in seconds: 50 µs … 10 s.
BUCKETS = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    10.0,
)

COUNTERS = {
    "requests": "client requests",
    "hits": "requests answered from the cache without contacting upstream",
    "stale_hits": "stale responses served (stale-while-revalidate or stale-if-error)",
    "revalidated": "stored responses confirmed by a 304 from upstream",
    "misses": "requests that needed an upstream fetch",
    "coalesced": "misses that waited for another request's upstream fetch",
    "passes": "requests forwarded without caching (unsafe methods, uncacheable responses)",
    "origin_fetches": "requests sent upstream (origin or parent)",
    "origin_errors": "upstream fetches that failed (connection, timeout, bad response)",
    "prefetches": "upstream fetches started by manifest-aware prefetch",
    "bytes_out": "response bytes sent to clients",
    "bytes_in": "body bytes received from upstream",
    "bad_requests": "requests rejected as malformed (4xx before routing)",
    "purged": "objects removed by purge/invalidation",
    "stored": "responses stored",
}


@dataclass
class Metrics:
    """One worker's counters; `merge` sums workers for the admin API."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    latency_sum: float = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def snapshot(self) -> dict:
        return {"counts": dict(self.counts), "buckets": list(self.buckets), "sum": self.latency_sum}

    @staticmethod
    def merge(snapshots: list[dict]) -> dict:
        counts = dict.fromkeys(COUNTERS, 0)
        buckets = [0] * (len(BUCKETS) + 1)
        total = 0.0
        for snap in snapshots:
            for k, v in snap["counts"].items():
                counts[k] = counts.get(k, 0) + v
            buckets = [a + b for a, b in zip(buckets, snap["buckets"], strict=True)]
            total += snap["sum"]
        return {"counts": counts, "buckets": buckets, "sum": total}


def prometheus_text(snapshot: dict, gauges: dict[str, tuple[float, str]]) -> str:
    """The text exposition format (version 0.0.4) for a merged snapshot and some gauges."""
    lines = []
    for name, help_text in COUNTERS.items():
        metric = f"syslab_cdn_{name}_total"
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter"]
        lines.append(f"{metric} {snapshot['counts'].get(name, 0)}")
    for name, (value, help_text) in gauges.items():
        metric = f"syslab_cdn_{name}"
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge", f"{metric} {value}"]
    metric = "syslab_cdn_request_duration_seconds"
    lines += [
        f"# HELP {metric} time from request parsed to response written",
        f"# TYPE {metric} histogram",
    ]
    cumulative = 0
    for bound, count in zip((*BUCKETS, float("inf")), snapshot["buckets"], strict=True):
        cumulative += count
        le = "+Inf" if bound == float("inf") else repr(bound)
        lines.append(f'{metric}_bucket{{le="{le}"}} {cumulative}')
    lines.append(f"{metric}_sum {snapshot['sum']}")
    lines.append(f"{metric}_count {cumulative}")
    return "\n".join(lines) + "\n"
