"""The performance model against configurations it was not fitted on.

    .venv/bin/python benchmarks/train/predict.py [--repeats 3] [--iterations 5]

Inputs (measured, never the predicted runs themselves):
- the allreduce fit: alpha and beta from N = 2 loopback only (benchmarks/train/comm.py);
- per-worker compute: the `local` run (N = 1) and the `ddp-nosync` runs (N workers
  computing, no communication; N = 3 is blended from N = 2 and 4) of each model and batch;
- the two CPU-sharing terms (allreduce slowdown beside training, backward's lost share under
  an allreduce), fitted on one calibration group: resnet18 at N = 2, batches 8, 32, 64.

Held out, and predicted (iteration time per step, DDP with its default buckets unless said):
- every other model, batch and N of the sweep (benchmarks/train/sweep.py);
- bucket sizes: resnet18 batch 32, N = 2, every bucket capped at 1, 5 and 100 MiB;
- bandwidth: the same on veth links limited to 100, 300 and 1000 Mbit/s (tbf, per worker).
The bucket and bandwidth runs, with their own local and no-sync profiles, run here,
`--repeats` rounds interleaved. Writes the "predict" key of benchmarks/results/train.json
and docs/figures/train/predicted_vs_measured.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

from syslab.common.records import machine_record, read_jsonl, update_json, write_jsonl
from syslab.common.report import Table, table_console
from syslab.common.sweep import progress_bar
from syslab.train.bench import aggregate
from syslab.train.launcher import launch
from syslab.train.metrics import summarize
from syslab.train.perfmodel import AlphaBeta, mape
from syslab.train.perfmodel.calibrate import compute_profile, fit_sharing, predict_row
from syslab.train.plots import predicted_vs_measured
from syslab.train.worker import RunConfig

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "train.json"
SWEEP = ROOT / "benchmarks" / "results" / "train_sweep.jsonl"
EXTRA = ROOT / "benchmarks" / "results" / "train_heldout.jsonl"
FIGURES = ROOT / "docs" / "figures" / "train"
MODEL, BATCH = "resnet18", 32
# (impl, workers, bucket cap, network, rate)
RUNS = [("local", 1, None, "loopback", None), ("ddp-nosync", 2, None, "loopback", None),
        *[("ddp", 2, cap, "loopback", None) for cap in (1.0, 5.0, 100.0)],
        *[("ddp", 2, None, "veth", rate) for rate in (100.0, 300.0, 1000.0)]]


def measure(repeats: int, iterations: int) -> list[dict]:
    """The bucket and bandwidth runs, interleaved; rows appended to EXTRA as they finish."""
    if EXTRA.exists():
        EXTRA.unlink()
    rows = []
    with progress_bar() as bar:
        task = bar.add_task("held-out runs", total=len(RUNS) * repeats)
        for rep in range(repeats):
            for impl, n, cap, network, rate in RUNS:
                bar.update(task, description=f"{impl} N{n} cap {cap} {network} {rate} r{rep}")
                cfg = RunConfig(model=MODEL, batch=BATCH, impl=impl, iterations=iterations,
                                warmup=2, bucket_cap_mb=cap, timeout_s=300)
                row = {**summarize(launch(cfg, n, network=network, rate_mbit=rate)),
                       "repeat": rep}
                rows.append(row)
                write_jsonl(EXTRA, [row], append=True)
                bar.advance(task)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--reuse", action="store_true", help="use the rows already in "
                    f"{EXTRA.name} instead of measuring again")
    args = ap.parse_args()
    console = table_console()
    load = os.getloadavg()
    comm_fit = json.loads(RESULTS.read_text())["comm"]["summary"]
    comm = AlphaBeta(comm_fit["alpha_us"] * 1e-6, 1 / (comm_fit["bus_bandwidth_gb_s"] * 1e9))
    extra = list(read_jsonl(EXTRA)) if args.reuse else measure(args.repeats, args.iterations)
    sweep = aggregate(list(read_jsonl(SWEEP)))
    here = aggregate(extra)

    def held(row: dict) -> str:
        if row.get("rate_mbit"):
            return "bandwidth"
        if row.get("bucket_cap_mb") is not None:
            return "bucket size"
        return f"N={row['workers']}"

    calib = [r for r in sweep if r["impl"] == "ddp" and r["model"] == MODEL
             and r["workers"] == 2]
    sharing, calib_err = fit_sharing(
        calib, lambda r: compute_profile(sweep, r["model"], r["batch"], r["workers"]), comm)
    points = []
    for pool, rows in ((sweep, [r for r in sweep if r not in calib]), (here, here)):
        for r in rows:
            if r["impl"] != "ddp" or r["workers"] < 2:
                continue
            profile = compute_profile(pool, r["model"], r["batch"], r["workers"])
            p = predict_row(r, profile, comm, sharing)
            points.append({"model": r["model"], "batch": r["batch"], "workers": r["workers"],
                           "bucket_cap_mb": r.get("bucket_cap_mb"),
                           "rate_mbit": r.get("rate_mbit"), "held_out": held(r),
                           "measured_s": r["iteration_s"], "predicted_s": p.iteration_s,
                           "measured_exposed_s": r["exposed_comm_s"],
                           "predicted_exposed_s": p.exposed_comm_s,
                           "error": p.iteration_s / r["iteration_s"] - 1})
    groups = sorted({p["held_out"] for p in points})
    summary = {
        "alpha_us": comm_fit["alpha_us"], "bus_bandwidth_gb_s": comm_fit["bus_bandwidth_gb_s"],
        "comm_slowdown": sharing.comm_slowdown, "cpu_steal": sharing.cpu_steal,
        "calibration_mape": calib_err,
        "heldout_mape": mape([p["predicted_s"] for p in points],
                             [p["measured_s"] for p in points]),
        "heldout_points": len(points),
        "mape_by_group": {g: mape([p["predicted_s"] for p in points if p["held_out"] == g],
                                  [p["measured_s"] for p in points if p["held_out"] == g])
                          for g in groups},
        "max_abs_error": max(abs(p["error"]) for p in points),
    }
    update_json(RESULTS, "predict", {
        "date": date.today().isoformat(),
        "command": "python benchmarks/train/predict.py", "repeats": args.repeats,
        "iterations": args.iterations, "summary": summary, "points": points,
        "machine": machine_record(load)})
    predicted_vs_measured(points, FIGURES / "predicted_vs_measured.png")
    console.print(Table("held-out predictions", ["held_out", "model", "batch", "workers",
                                                 "bucket_cap_mb", "rate_mbit", "measured_s",
                                                 "predicted_s", "error"], points,
                        {"measured_s": ".3f", "predicted_s": ".3f", "error": "+.1%"}).to_rich())
    console.print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
