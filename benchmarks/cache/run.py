"""Cache-lab benchmark, side by side with libCacheSim in the same run.

    .venv/bin/python benchmarks/cache/run.py [--only parity,speed,sweep] [--workers 2]

Writes benchmarks/results/cache.json (summary) and benchmarks/results/cache_sweep.jsonl (every
sweep cell). Needs the shared traces ($SYSLAB_DATA or ../shared/data) for parity and sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console

sys.path.insert(0, str(Path(__file__).parent))
from libcachesim_oracle import Oracle  # noqa: E402

from syslab.cache import compare as cmp  # noqa: E402
from syslab.cache.engine import capacity_for, hits, simulate  # noqa: E402
from syslab.cache.fast import fast_hits  # noqa: E402
from syslab.cache.policies import POLICIES  # noqa: E402
from syslab.cache.workloads import read_trace, shared_traces, zipf  # noqa: E402
from syslab.common.records import write_jsonl  # noqa: E402
from syslab.common.report import Table  # noqa: E402
from syslab.common.sweep import progress_bar  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"
EXACT = ["fifo", "lru", "clock", "sieve", "belady"]  # identical miss counts required
CLOSE = ["s3fifo", "arc", "lirs", "wtinylfu"]  # within 0.1 percentage points
OTHERS = ["2q", "slru", "lecar", "lfu", "gdsf"]  # reported, no target
SIZES = [0.01, 0.1]
OURS = "as3fifo"  # our policy (docs/cache.md)
# The family our policy targets (docs/cache.md): web and database object traces.
TARGET_FAMILY = ("arc_OLTP", "cache2k_web07", "cache2k_orm-busy")
BASELINES = ["lru", "s3fifo", "sieve", "arc", "lirs", "wtinylfu"]
console = Console()


def parity() -> dict:
    rows = []
    paths = shared_traces(samples=True)
    with progress_bar() as progress:
        bar = progress.add_task("parity vs libCacheSim", total=len(paths))
        for path in paths:
            trace = read_trace(path)
            oracle = Oracle(trace)
            for size in SIZES:
                capacity = capacity_for(trace, size)
                for policy in EXACT + CLOSE + OTHERS:
                    if policy == "s3fifo" and capacity < 10:
                        continue  # libCacheSim's S3FIFO aborts the process below 10 objects
                    ours = simulate(trace, policy, capacity)
                    theirs, _ = oracle.run(policy, capacity)
                    diff_pp = 100 * (ours.misses - theirs) / len(trace)
                    rows.append(
                        {
                            "trace": trace.name,
                            "size": size,
                            "capacity": capacity,
                            "policy": policy,
                            "ours_misses": ours.misses,
                            "libcachesim_misses": theirs,
                            "ours_mr": ours.miss_ratio,
                            "libcachesim_mr": theirs / len(trace),
                            "diff_pp": diff_pp,
                            "target": "exact"
                            if policy in EXACT
                            else "0.1pp"
                            if policy in CLOSE
                            else "-",
                            # libCacheSim's W-TinyLFU window rounds to 0 below ~100 objects: MR 1.0
                            "ok": None
                            if policy == "wtinylfu" and theirs == len(trace)
                            else (ours.misses == theirs)
                            if policy in EXACT
                            else abs(diff_pp) <= 0.1
                            if policy in CLOSE
                            else None,
                        }
                    )
            oracle.close()
            progress.advance(bar)
    failures = [r for r in rows if r["ok"] is False]
    console.print(
        Table(
            "parity failures (ours vs libCacheSim)",
            ["trace", "size", "capacity", "policy", "ours_mr", "libcachesim_mr", "diff_pp"],
            failures,
            {"ours_mr": ".4f", "libcachesim_mr": ".4f", "diff_pp": "+.3f"},
        ).to_rich()
    )
    return {"by_policy": summarize_parity(rows), "cells": rows}


def summarize_parity(cells: list[dict]) -> dict:
    """Per policy: cells compared, identical miss counts, within target, excluded, max gap."""
    summary: dict[str, dict] = {}
    for c in cells:
        s = summary.setdefault(
            c["policy"],
            {
                "target": c["target"],
                "cells": 0,
                "identical": 0,
                "within_target": 0,
                "excluded": 0,
                "max_abs_diff_pp": 0.0,
            },
        )
        s["cells"] += 1
        s["identical"] += c["ours_misses"] == c["libcachesim_misses"]
        if c["target"] != "-" and c["ok"] is None:
            s["excluded"] += 1  # a documented libCacheSim artefact, not a comparison
            continue
        s["within_target"] += bool(c["ok"])
        s["max_abs_diff_pp"] = max(s["max_abs_diff_pp"], abs(c["diff_pp"]))
    return summary


def speed(n_requests: int = 10_000_000, n_objects: int = 1_000_000, capacity: int = 10_000) -> dict:
    trace = zipf(n_requests, n_objects, 1.0, seed=42, name="zipf1.0-10M")
    trace.ids, trace.next_access  # noqa: B018 -- renumber once, outside the timed region
    oracle = Oracle(trace)
    sizes = np.ones(len(trace), dtype=np.int64)
    rows = []
    for policy in ["lru", "sieve", "s3fifo", "fifo", "clock", OURS]:
        kernel = fast_hits(policy)
        kernel(trace.head(1000), sizes[:1000], 100)  # JIT
        # Best of 3 for both, interleaved, so a noisy neighbour hurts both sides alike.
        best, theirs_s, theirs_misses = float("inf"), None, None
        for _ in range(3):
            start = time.perf_counter()
            hit = kernel(trace, sizes, capacity)
            best = min(best, time.perf_counter() - start)
            if policy != OURS:
                theirs_misses, seconds = oracle.run(policy, capacity)
                theirs_s = min(theirs_s or seconds, seconds)
        rows.append(
            {
                "policy": policy,
                "ours_req_per_s": n_requests / best,
                "libcachesim_req_per_s": n_requests / theirs_s if theirs_s else None,
                "speedup": theirs_s / best if theirs_s else None,
                "ours_mr": 1 - hit.mean(),
                "libcachesim_mr": theirs_misses / n_requests if theirs_misses is not None else None,
            }
        )
    oracle.close()
    ref_n = 2_000_000
    ref_trace = trace.head(ref_n)
    ref_trace.ids  # noqa: B018 -- renumber outside the timed region
    ref_s = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        hits(ref_trace, "lru", capacity, impl="reference")
        ref_s = min(ref_s, time.perf_counter() - start)
    ref_rps = ref_n / ref_s
    console.print(
        Table(
            f"speed: {n_requests:,} Zipf(1.0) requests, {capacity:,}-object cache, 1 core",
            [
                "policy",
                "ours_req_per_s",
                "libcachesim_req_per_s",
                "speedup",
                "ours_mr",
                "libcachesim_mr",
            ],
            rows,
            {
                "ours_req_per_s": ",.0f",
                "libcachesim_req_per_s": ",.0f",
                "speedup": ".1f",
                "ours_mr": ".4f",
                "libcachesim_mr": ".4f",
            },
        ).to_rich()
    )
    console.print(f"Python reference LRU (Policy.request per request): {ref_rps:,.0f} req/s")
    return {
        "trace": {"requests": n_requests, "objects": n_objects, "alpha": 1.0, "seed": 42},
        "capacity": capacity,
        "repeats": 3,
        "kernels": rows,
        "reference_lru_req_per_s": ref_rps,
    }


def sweep(workers: int) -> tuple[dict, list[dict]]:
    sources = [cmp.file_source(p) for p in shared_traces(samples=True)]
    start = time.perf_counter()
    records = cmp.run_compare(sources, list(POLICIES), SIZES, workers=workers)
    seconds = time.perf_counter() - start
    console.print(
        f"full sweep: {len(sources)} traces x {len(POLICIES)} policies x {len(SIZES)} "
        f"sizes on {workers} workers in {seconds:.1f} s"
    )
    return {
        "seconds": seconds,
        "workers": workers,
        "traces": len(sources),
        "policies": list(POLICIES),
        "sizes": SIZES,
    }, records


def quality(records: list[dict]) -> dict:
    """Miss ratio / LRU: per policy over all traces and the target family; worst case."""
    rel = cmp.relative_to(records)
    key = "miss_ratio_vs_lru"
    policies = [*BASELINES, "belady", OURS]

    def mean(policy: str, traces: tuple[str, ...] | None = None) -> float:
        vals = [
            r[key]
            for r in rel
            if r["policy"] == policy and (traces is None or r["trace"] in traces)
        ]
        return float(np.mean(vals))

    rows = [
        {
            "policy": p,
            "all_traces": mean(p),
            "target_family": mean(p, TARGET_FAMILY),
            "worst_vs_lru": max(r[key] for r in rel if r["policy"] == p),
        }
        for p in policies
    ]
    console.print(
        Table(
            "mean miss ratio / LRU over traces x sizes (lower is better)",
            ["policy", "all_traces", "target_family", "worst_vs_lru"],
            rows,
            dict.fromkeys(["all_traces", "target_family", "worst_vs_lru"], ".3f"),
        ).to_rich()
    )
    best = min((r for r in rows if r["policy"] in BASELINES[1:]), key=lambda r: r["target_family"])
    ours = next(r for r in rows if r["policy"] == OURS)
    worst = max((r for r in rel if r["policy"] == OURS), key=lambda r: r[key])
    sized = [
        {k: r[k] for k in ("trace", "size", "policy", "miss_ratio", "byte_miss_ratio")}
        for r in records
        if r["bytes_requested"] != r["requests"] and r["policy"] in policies
    ]
    return {
        "policies": rows,
        "target_family": list(TARGET_FAMILY),
        "best_baseline_on_family": best["policy"],
        "ours_vs_best_on_family": ours["target_family"] / best["target_family"] - 1,
        "ours_worst_vs_lru": {"trace": worst["trace"], "size": worst["size"], "ratio": worst[key]},
        "byte_miss_ratio": sized,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="parity,speed,sweep")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    parts = set(args.only.split(","))
    out = RESULTS / "cache.json"
    result = json.loads(out.read_text()) if out.exists() else {}
    result["machine"] = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg": os.getloadavg(),
    }
    result["command"] = "python benchmarks/cache/run.py --only " + args.only
    if "speed" in parts:
        result["speed"] = speed()
    if "parity" in parts:
        result["parity"] = parity()
    if "sweep" in parts:
        result["sweep"], records = sweep(args.workers)
        write_jsonl(RESULTS / "cache_sweep.jsonl", records)
        result["quality"] = quality(records)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True, default=float) + "\n")
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
