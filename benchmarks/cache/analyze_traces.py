"""The workload table behind docs/cache.md's policy section, from the shared traces.

    .venv/bin/python benchmarks/cache/analyze_traces.py

Prints, per trace: one-hit objects, Zipf alpha, top-1 % request share (`syslab cache analyze`)
and the share of requests whose LRU stack distance falls in bands of the unique-object count N.
Writes benchmarks/results/cache_traces.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from syslab.cache.analysis import analyze
from syslab.cache.mrc import stack_distances
from syslab.cache.workloads import read_trace, shared_traces
from syslab.common.report import Table

BANDS = [(0.0, 0.01), (0.01, 0.1), (0.1, 0.3), (0.3, float("inf"))]
OUT = Path(__file__).resolve().parents[1] / "results" / "cache_traces.json"


def bands(trace) -> dict[str, float]:
    d = stack_distances(trace)
    n = trace.n_unique
    share = {}
    for lo, hi in BANDS:
        inside = (d > lo * n) & (d <= hi * n)
        share[f"reuse {lo:g}-{hi:g}N"] = float(inside.sum() / len(d))
    share["cold"] = float((d < 0).sum() / len(d))
    return share


def main() -> None:
    rows = []
    for path in shared_traces(samples=True):
        trace = read_trace(path)
        stats = analyze(trace).to_record()
        rows.append(
            {
                "trace": trace.name,
                "requests": len(trace),
                "objects": trace.n_unique,
                "one_hit_objects": stats["one_hit_object_fraction"],
                "zipf_alpha": stats["zipf_alpha"],
                "top1_share": stats["top1_share"],
                **bands(trace),
            }
        )
    columns = list(rows[0])
    Console().print(
        Table("shared cache traces", columns, rows, {c: ".2f" for c in columns[3:]}).to_rich()
    )
    OUT.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
