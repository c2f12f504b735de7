"""Real stores under multi-dispatch: what depth buys, what it breaks, and what skew costs.

    .venv/bin/python benchmarks/txn/stores.py [--duration 2] [--probe 1] [--quick]

Each system is started by the harness on loopback (PostgreSQL 15, Redis 7, etcd 3.4,
ZooKeeper 3.8, SQLite; `syslab.txn.servers`), then driven by 4 closed-loop clients with
the Elle list-append workload (100 keys, Zipf 0.99, 1-4 reads/appends per transaction):

1. depth sweep, D in 1, 2, 4, ..., 64 transactions in flight per client: throughput,
   p50/p99 latency of committed transactions, and the issue-order violation rate of a
   write-then-read probe run at the same depth (reads that miss the write their client
   issued just before);
2. skew sweep at depth 8, Zipf 0, 0.5, 0.7, 0.9, 0.99, 1.2: goodput and abort rate.

Each point runs 0.5 s of warm-up before its measured `--duration`: every client fills its
D slots at once at the start, and that first wave (4 x 64 transactions at once at depth 64)
contends in a way the steady state does not. The warm-up is left out of the numbers, not
out of the checked history.

Every history is checked (`syslab.txn.checker`) against the model the system claims for
single-dispatch clients, and against MDSS, whose issue-order rule is what multi-dispatch
breaks; PostgreSQL REPEATABLE READ is also checked against serializability (write skew
shows as G2-item). The machine has 2 cores shared by clients and servers: absolute
numbers are loopback numbers; the shape against depth is the point.

Writes the "stores" key of benchmarks/results/txn.json and the figures
docs/figures/txn/stores_depth.png and stores_zipf.png.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from syslab.common.records import machine_record, update_json
from syslab.common.report import Table
from syslab.common.sweep import progress_bar
from syslab.txn.bench import BenchConfig, run_bench
from syslab.txn.checker import check
from syslab.txn.history import read_history
from syslab.txn.plots import depth_curves, zipf_curves

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "txn.json"
FIGURES = ROOT / "docs" / "figures" / "txn"
SYSTEMS = ("pg-serializable-pooled", "pg-serializable-pipelined", "pg-repeatable-read-pooled",
           "redis", "redis-pooled", "etcd", "zookeeper", "sqlite")
DEPTHS = (1, 2, 4, 8, 16, 32, 64)
ZIPFS = (0.0, 0.5, 0.7, 0.9, 0.99, 1.2)
EXTRA_MODELS = {"pg-repeatable-read-pooled": ("serializable",)}


def extra_checks(row: dict) -> None:
    """Check the point's history against MDSS (and the extra models) too."""
    history = read_history(row["history"])
    for model in ("mdss", *EXTRA_MODELS.get(row["system"], ())):
        report = check(history, model=model)
        row[f"valid_{model}"] = report.valid
        row[f"anomalies_{model}"] = report.counts()


def sweep(cfg: BenchConfig, console: Console, label: str) -> list[dict]:
    with progress_bar(console) as bar:
        task = bar.add_task(label, total=len(cfg.systems) * len(cfg.depths) * len(cfg.zipfs))

        def done(row: dict) -> None:
            extra_checks(row)
            bar.advance(task)

        return asyncio.run(run_bench(cfg, on_point=done))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per point")
    parser.add_argument("--probe", type=float, default=1.0, help="probe seconds per point")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--quick", action="store_true", help="depths 1, 8, 64; zipf 0, 1.2")
    args = parser.parse_args()
    console = Console(width=max(Console().width, 200))
    systems = [s for s in args.systems.split(",") if s]
    depths = (1, 8, 64) if args.quick else DEPTHS
    zipfs = (0.0, 1.2) if args.quick else ZIPFS
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="syslab-txn-bench-") as tmp:
        common = dict(systems=systems, workload="list-append", clients=4, keys=100,
                      duration=args.duration, probe_s=args.probe, check=True,
                      out_dir=Path(tmp))
        rows = sweep(BenchConfig(depths=depths, zipfs=(0.99,), **common), console, "depth")
        zrows = sweep(BenchConfig(depths=(8,), zipfs=zipfs, probe=False, **common), console,
                      "zipf")
    for r in rows + zrows:
        r.pop("history", None)  # temp files: gone
    cols = ["system", "depth", "committed", "throughput", "abort_rate", "p50_ms", "p99_ms",
            "violation_rate", "valid", "valid_mdss"]
    fmt = {"throughput": ".0f", "abort_rate": ".3f", "p50_ms": ".2f", "p99_ms": ".1f",
           "violation_rate": ".3f", "goodput": ".0f"}
    console.print(Table("list-append, 4 clients, Zipf 0.99: depth sweep", cols, rows,
                        fmt).to_rich())
    console.print(Table("list-append, 4 clients, depth 8: skew sweep",
                        ["system", "zipf", "goodput", "abort_rate", "cascade_rate", "valid"],
                        zrows, fmt | {"cascade_rate": ".3f"}).to_rich())
    figures = [depth_curves(rows, FIGURES / "stores_depth.png",
                            "real stores, list-append, 4 clients, Zipf 0.99"),
               zipf_curves(zrows, FIGURES / "stores_zipf.png",
                           "real stores, list-append, 4 clients, depth 8")]
    update_json(RESULTS, "stores", {
        "command": " ".join(["python benchmarks/txn/stores.py", *sys.argv[1:]]),
        "workload": "list-append", "clients": 4, "keys": 100, "duration_s": args.duration,
        "probe_s": args.probe, "depth_rows": rows, "zipf_rows": zrows,
        "figures": [str(f.relative_to(ROOT)) for f in figures],
        "machine": machine_record(load_before),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    })
    console.print(f"figures: {', '.join(str(f) for f in figures)}")


if __name__ == "__main__":
    main()
