"""The CDN lab's quick experiment: a small origin, one edge, a replayed trace, in seconds.

A synthetic web-like trace is replayed as HTTP against a live edge (one per eviction
policy) in front of an origin 5 ms away; the table sets the live hit ratios beside the cache
lab's simulator on the same trace, and the figure shows what a hit is worth in latency.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from syslab.cache.engine import hits as simulate_hits
from syslab.cache.trace import Trace
from syslab.cache.workloads.generators import synthetic
from syslab.cdn.node import NodeConfig
from syslab.cdn.origin import Origin
from syslab.cdn.replay import ReplayResult, object_sizes, run_replay
from syslab.cdn.store import OBJECT_OVERHEAD
from syslab.common.plotting import grid, save
from syslab.common.report import Section, Table

POLICIES = ("lru", "s3fifo", "as3fifo")
ORIGIN_DELAY = 0.005
HEAD_BYTES = 230  # status line and fields of a generated object, as stored (measured)


def tour_trace(n_requests: int = 4000) -> Trace:
    return synthetic(
        n_requests,
        1500,
        0.9,
        one_hit_fraction=0.1,
        size_dist="lognormal",
        size_mean=8192,
        seed=1,
        name="web-like",
    )


def run_policy(trace: Trace, policy: str, capacity: int) -> tuple[ReplayResult, int]:
    from syslab.cdn.server import BackgroundNode

    with (
        Origin(delay=ORIGIN_DELAY) as origin,
        BackgroundNode(NodeConfig(origin=origin.url, capacity=capacity, policy=policy)) as edge,
    ):
        result = run_replay([edge.url], trace, concurrency=4)
        return result, origin.bytes_sent


def tour(out: Path) -> Section:
    trace = tour_trace()
    sizes = object_sizes(trace)
    stored = sizes + HEAD_BYTES + OBJECT_OVERHEAD  # what the edge's byte budget counts
    footprint = int(np.bincount(trace.ids, weights=stored).sum()) if len(trace.keys) else 0
    capacity = footprint // 10
    sim_trace = Trace(trace.name, trace.keys, stored, trace.meta)
    rows, results = [], {}
    for policy in POLICIES:
        result, origin_bytes = run_policy(trace, policy, capacity)
        results[policy] = result
        simulated, _ = simulate_hits(sim_trace, policy, capacity, use_bytes=True)
        lat = result.latency * 1e3
        rows.append(
            {
                "policy": policy,
                "requests": len(trace.keys),
                "errors": result.errors,
                "hit_ratio": result.hit_ratio,
                "simulated": float(simulated.mean()),
                "byte_hit_ratio": result.byte_hit_ratio,
                "origin_MB": origin_bytes / 1e6,
                "hit_p50_ms": float(np.median(lat[result.hit])) if result.hit.any() else None,
                "miss_p50_ms": float(np.median(lat[~result.hit])) if (~result.hit).any() else None,
                "p99_ms": float(np.percentile(lat, 99)),
            }
        )
    figure = plot(results, out / "cdn_replay")
    return Section(
        title="cdn: one edge in front of an origin, replaying a web-like trace",
        text=(
            f"{len(trace.keys):,} requests for {trace.n_unique:,} objects (Zipf 0.9, 10 % one-hit "
            f"wonders, lognormal sizes, mean 8 KiB) replayed by 4 HTTP clients against a live "
            f"`syslab cdn` edge with {capacity / 2**20:.1f} MiB (10 % of the footprint) in front "
            f"of an origin {ORIGIN_DELAY * 1e3:.0f} ms away. `simulated` is the cache lab's "
            "simulator on the same trace and byte budget; live and simulated differ only "
            "by the reordering of 4 concurrent clients."
        ),
        tables=[
            Table(
                "live edge vs simulator",
                list(rows[0]),
                rows,
                {
                    "hit_ratio": ".3f",
                    "simulated": ".3f",
                    "byte_hit_ratio": ".3f",
                    "origin_MB": ".1f",
                    "hit_p50_ms": ".2f",
                    "miss_p50_ms": ".2f",
                    "p99_ms": ".2f",
                },
            )
        ],
        figures=[figure],
    )


def plot(results: dict[str, ReplayResult], path: Path) -> Path:
    fig, (ax_cdf, ax_roll) = grid(2, cols=2, width=5.5, height=4)
    for policy, r in results.items():
        ms = np.sort(r.latency * 1e3)
        ax_cdf.plot(ms, np.linspace(0, 1, len(ms)), label=policy)
        window = 250
        rolling = np.convolve(r.hit.astype(float), np.ones(window) / window, mode="valid")
        ax_roll.plot(np.arange(len(rolling)) + window, rolling, label=policy)
    ax_cdf.set_xscale("log")
    ax_cdf.set_xlabel("response time (ms, log)")
    ax_cdf.set_ylabel("fraction of requests")
    ax_cdf.set_title("latency: hits (left step) vs misses")
    ax_roll.set_xlabel("request")
    ax_roll.set_ylabel(f"hit ratio (rolling {window})")
    ax_roll.set_title("warming up")
    for ax in (ax_cdf, ax_roll):
        ax.grid(alpha=0.3)
        ax.legend()
    return save(fig, path)
