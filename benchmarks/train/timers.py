"""What our timers cost, and whether they agree with DDP's own logging data.

    .venv/bin/python benchmarks/train/timers.py [--iterations 5]

1. Cost. The timers are a perf_counter at each phase boundary, a post-accumulate-grad hook
   per parameter (`GradReadyClock`) and, under DDP, a Python communication hook per bucket
   (`CommLog`). The hook's cost is measured in-process: backward through a chain of 256
   tiny Linear layers (512 parameters, almost no arithmetic) with and without the clock,
   400 interleaved repeats; the difference per parameter is the cost of one hook call. A
   step's timer cost is then parameters x that + buckets x the comm hook's extra cost
   (a Python call and a future callback, priced the same way) against each sweep
   configuration's measured step time. (benchmarks/train/impls.py also runs DDP with and
   without our instrumentation side by side: the `instrumentation_cost` there.)
2. Agreement. torch DDP runs with its logger sampling every step; per step and rank, our
   forward, backward compute and communication span are divided by DDP's forward_compute,
   backward_compute and backward_comm times: mobilenet_v2, resnet18, resnet50 and mlp at
   batch 32, N = 2 and 4, in a private loopback namespace.

Writes the "timers" key of benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch

from syslab.common.records import machine_record, read_jsonl, update_json
from syslab.common.report import Table, table_console
from syslab.train.bench import aggregate
from syslab.train.hooks import CommLog
from syslab.train.launcher import launch
from syslab.train.metrics import TIMER_PAIRS, summarize
from syslab.train.timers import GradReadyClock
from syslab.train.worker import RunConfig

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "train.json"
SWEEP = ROOT / "benchmarks" / "results" / "train_sweep.jsonl"
MODELS = ("mobilenet_v2", "resnet18", "resnet50", "mlp")


def hook_cost_s(repeats: int = 400, layers: int = 256) -> dict:
    """Seconds per gradient-ready hook call and per CommLog launch+done pair."""
    torch.set_num_threads(1)
    model = torch.nn.Sequential(*[torch.nn.Linear(1, 1) for _ in range(layers)])
    params = list(model.parameters())
    x = torch.ones(1, 1)
    with_clock, without = [], []
    for i in range(repeats):
        clock = GradReadyClock(params) if i % 2 else None
        start = time.perf_counter()
        model(x).sum().backward()
        (with_clock if clock else without).append(time.perf_counter() - start)
        if clock:
            clock.remove()
        model.zero_grad(set_to_none=True)
    per_hook = (statistics.median(with_clock) - statistics.median(without)) / len(params)
    log = CommLog()
    start = time.perf_counter()
    for i in range(100_000):
        CommLog.done(log.launch(i, 1))
        if i % 100 == 0:
            log.take()
    per_bucket = (time.perf_counter() - start) / 100_000
    return {"per_hook_s": per_hook, "per_bucket_log_s": per_bucket,
            "backward_with_s": statistics.median(with_clock),
            "backward_without_s": statistics.median(without), "parameters": len(params)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=5)
    args = ap.parse_args()
    console = table_console()
    load = os.getloadavg()
    cost = hook_cost_s()
    # a Python comm hook adds about one more Python call per bucket than the CommLog pair
    per_bucket = cost["per_bucket_log_s"] + cost["per_hook_s"]
    overhead = []
    if SWEEP.exists():
        for r in aggregate(list(read_jsonl(SWEEP))):
            if r["impl"] != "ddp" or r["workers"] < 2:
                continue
            spent = len(r["param_sizes"]) * cost["per_hook_s"] + r["buckets"] * per_bucket
            overhead.append({"model": r["model"], "batch": r["batch"],
                             "workers": r["workers"], "timer_cost_s": spent,
                             "share": spent / r["iteration_s"]})
    agreement = []
    for model in MODELS:
        for n in (2, 4):
            cfg = RunConfig(model=model, batch=32, impl="ddp", iterations=args.iterations,
                            warmup=2, timeout_s=300)
            row = summarize(launch(cfg, n, network="loopback"))
            agreement.append({"model": model, "workers": n, "batch": 32,
                              **{f"ratio_{k}": row[f"timer_ratio_{k}"] for k in TIMER_PAIRS}})
            console.print(agreement[-1])
    deviation = {k: max(abs(a[f"ratio_{k}"] - 1) for a in agreement) for k in TIMER_PAIRS}
    summary = {
        "per_hook_us": cost["per_hook_s"] * 1e6,
        "per_bucket_us": per_bucket * 1e6,
        "max_timer_share": max(o["share"] for o in overhead) if overhead else None,
        "agreement_max_deviation": deviation,
    }
    update_json(RESULTS, "timers", {
        "date": date.today().isoformat(),
        "command": "python benchmarks/train/timers.py", "iterations": args.iterations,
        "summary": summary, "hook_cost": cost, "overhead": overhead,
        "agreement": agreement, "machine": machine_record(load)})
    console.print(Table("ours / DDP's logger, per step (median)", [
        "model", "workers", *[f"ratio_{k}" for k in TIMER_PAIRS]], agreement,
        {f"ratio_{k}": ".3f" for k in TIMER_PAIRS}).to_rich())
    console.print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
