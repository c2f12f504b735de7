"""What bucketing saves against a per-parameter allreduce, as the batch grows.

    .venv/bin/python benchmarks/train/bucketing.py [--repeats 3]

Our naive rung (one allreduce per parameter, after backward) against our bucketed rung
(DDP's buckets, after backward) on resnet18 (62 tensors) and mobilenet_v2 (158 tensors),
N = 2 workers, per-worker batch 8, 32 and 64, in a private loopback namespace; every
configuration once per round, `--repeats` rounds interleaved. Bucketing removes a roughly
fixed cost per step (one collective's latency per tensor), so its share of the step should
fall as the batch, and with it the compute, grows. Writes the "bucketing" key of
benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from datetime import date
from pathlib import Path

from syslab.common.records import machine_record, update_json
from syslab.common.report import Table, table_console
from syslab.common.sweep import progress_bar
from syslab.train.launcher import launch
from syslab.train.metrics import summarize
from syslab.train.worker import RunConfig

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "train.json"
MODELS = ("resnet18", "mobilenet_v2")
BATCHES = (8, 32, 64)
IMPLS = ("ours-naive", "ours-bucketed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=5)
    args = ap.parse_args()
    load = os.getloadavg()
    runs: dict[tuple, list[float]] = {}
    plan = [(m, b, i) for m in MODELS for b in BATCHES for i in IMPLS]
    with progress_bar() as bar:
        task = bar.add_task("bucketing", total=len(plan) * args.repeats)
        for _ in range(args.repeats):
            for model, batch, impl in plan:
                cfg = RunConfig(model=model, batch=batch, impl=impl,
                                iterations=args.iterations, warmup=2, timeout_s=300)
                row = summarize(launch(cfg, 2, network="loopback"))
                runs.setdefault((model, batch, impl), []).append(row["iteration_s"])
                bar.advance(task)
    rows = []
    for model in MODELS:
        for batch in BATCHES:
            naive = statistics.median(runs[(model, batch, "ours-naive")])
            bucketed = statistics.median(runs[(model, batch, "ours-bucketed")])
            rows.append({"model": model, "batch": batch, "naive_s": naive,
                         "bucketed_s": bucketed, "saved_ms": (naive - bucketed) * 1e3,
                         "speedup": naive / bucketed - 1})
    update_json(RESULTS, "bucketing", {
        "date": date.today().isoformat(),
        "command": "python benchmarks/train/bucketing.py", "repeats": args.repeats,
        "iterations": args.iterations, "workers": 2, "rows": rows,
        "machine": machine_record(load)})
    table_console().print(Table("naive against bucketed, N = 2", list(rows[0]), rows,
                                {"naive_s": ".3f", "bucketed_s": ".3f", "saved_ms": ".1f",
                                 "speedup": "+.1%"}).to_rich())
    return 0


if __name__ == "__main__":
    sys.exit(main())
