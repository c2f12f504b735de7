"""Regenerate the measured parts of docs/cache.md from the benchmark's results.

    .venv/bin/python benchmarks/cache/write_doc.py

Replaces each block between `<!-- results:NAME -->` and `<!-- /results:NAME -->` in
docs/cache.md with a table built from benchmarks/results/cache.json and cache_sweep.jsonl.
The prose around the blocks is written by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from syslab.common.report import markdown_table as markdown
from syslab.common.report import regenerate_doc

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "cache.md"


def speed(res: dict, _sweep: list[dict]) -> str:
    s = res["speed"]
    rows = [
        [
            k["policy"],
            f"{k['ours_req_per_s'] / 1e6:.1f} M",
            f"{k['libcachesim_req_per_s'] / 1e6:.1f} M" if k["libcachesim_req_per_s"] else "-",
            f"{k['speedup']:.1f}x" if k["speedup"] else "-",
            k["ours_mr"],
            k["libcachesim_mr"] if k["libcachesim_mr"] is not None else "-",
        ]
        for k in s["kernels"]
    ]
    t = s["trace"]
    head = (
        f"{t['requests']:,} requests, Zipf alpha {t['alpha']}, {t['objects']:,} objects, "
        f"cache {s['capacity']:,} objects, one core, best of 3 for both, interleaved.\n\n"
    )
    ref = "\n\nPython reference LRU (`Policy.request` per request): " + (
        f"{s['reference_lru_req_per_s'] / 1e6:.2f} M req/s."
    )
    cols = ["policy", "ours req/s", "libCacheSim req/s", "ratio", "ours MR", "libCacheSim MR"]
    return head + markdown(cols, rows) + ref


def parity(res: dict, _sweep: list[dict]) -> str:
    p = res["parity"]
    rows = [
        [
            name,
            s["target"],
            s["cells"],
            s["identical"],
            s["within_target"] if s["target"] != "-" else "-",
            s["excluded"],
            f"{s['max_abs_diff_pp']:.3f}",
        ]
        for name, s in p["by_policy"].items()
    ]
    cols = [
        "policy",
        "target",
        "cells",
        "identical misses",
        "within target",
        "excluded",
        "max abs diff (pp)",
    ]
    out = markdown(cols, rows)
    misses = [c for c in p["cells"] if c["ok"] is False]
    if misses:
        out += "\n\nCells outside the target:\n\n" + markdown(
            ["trace", "size", "policy", "ours MR", "libCacheSim MR", "diff (pp)"],
            [
                [
                    c["trace"],
                    c["size"],
                    c["policy"],
                    c["ours_mr"],
                    c["libcachesim_mr"],
                    f"{c['diff_pp']:+.3f}",
                ]
                for c in misses
            ],
        )
    return out


def quality(res: dict, _sweep: list[dict]) -> str:
    q = res["quality"]
    rows = [
        [r["policy"], r["all_traces"], r["target_family"], r["worst_vs_lru"]] for r in q["policies"]
    ]
    cols = ["policy", "all traces", "target family", "worst trace"]
    w = q["ours_worst_vs_lru"]
    sw = res["sweep"]
    return (
        markdown(cols, rows)
        + f"\n\nOurs vs the best baseline on the target family ({q['best_baseline_on_family']}): "
        f"{100 * q['ours_vs_best_on_family']:+.2f} %. Worst case vs LRU: {w['ratio']:.3f} "
        f"({w['trace']} at {w['size']}).\n\nFull sweep ({sw['traces']} traces x "
        f"{len(sw['policies'])} policies x {len(sw['sizes'])} sizes) on {sw['workers']} "
        f"workers: {sw['seconds']:.0f} s."
    )


def per_trace(_res: dict, sweep: list[dict]) -> str:
    policies = ["lru", "s3fifo", "sieve", "arc", "lirs", "wtinylfu", "as3fifo", "belady"]
    base = {(r["trace"], r["size"]): r["miss_ratio"] for r in sweep if r["policy"] == "lru"}
    cells = {(r["trace"], r["size"], r["policy"]): r["miss_ratio"] for r in sweep}
    keys = sorted({(r["trace"], r["size"]) for r in sweep}, key=lambda k: (k[0], float(k[1])))
    rows = [
        [t, z, f"{base[(t, z)]:.4f}"]
        + [f"{cells[(t, z, p)] / base[(t, z)]:.3f}" if base[(t, z)] else "-" for p in policies[1:]]
        for t, z in keys
    ]
    return markdown(["trace", "size", "LRU MR", *policies[1:]], rows)


def byte_mr(res: dict, _sweep: list[dict]) -> str:
    """Byte miss ratio per (trace, size), a column per policy (object caches, sizes counted)."""
    cells = {(r["trace"], r["size"], r["policy"]): r for r in res["quality"]["byte_miss_ratio"]}
    policies = list(dict.fromkeys(p for _, _, p in cells))
    keys = sorted({(t, z) for t, z, _ in cells}, key=lambda k: (k[0], float(k[1])))
    rows = [[t, z, *(cells[(t, z, p)]["byte_miss_ratio"] for p in policies)] for t, z in keys]
    return markdown(["trace", "size", *policies], rows)


BLOCKS: dict[str, Callable[[dict, list[dict]], str]] = {
    "speed": speed,
    "parity": parity,
    "quality": quality,
    "per-trace": per_trace,
    "byte": byte_mr,
}


def main() -> None:
    res = json.loads((RESULTS / "cache.json").read_text())
    sweep = [json.loads(line) for line in (RESULTS / "cache_sweep.jsonl").read_text().splitlines()]
    blocks = {name: render(res, sweep) for name, render in BLOCKS.items()}
    regenerate_doc(DOC, blocks)


if __name__ == "__main__":
    main()
