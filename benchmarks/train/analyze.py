"""What the training sweep says: bytes, compute, communication, scaling, and our timers
against DDP's own.

    .venv/bin/python benchmarks/train/analyze.py

Reads benchmarks/results/train_sweep.jsonl (written by sweep.py), folds the repeats into
medians per configuration, and answers:

- bytes: is the payload handed to allreduce exactly the model's bytes, at every batch and N?
  Is the wire traffic per rank 2(N-1)/N of it (gloo's ring)?
- compute: how does backward compute grow with the batch (per sample)?
- communication: what DDP costs over the same workers without communication (ddp-nosync),
  how much of the step is exposed communication, and when it dominates;
- scaling: samples/s over N x one process;
- timers: our forward / backward-compute / communication split against DDP's logging data
  (the ratio of the two medians per configuration; benchmarks/train/timers.py compares them
  step by step).

Writes the "sweep" key of benchmarks/results/train.json and docs/figures/train/
breakdown.png, scaling.png and bytes_compute.png.
"""

from __future__ import annotations

import statistics
import sys
from datetime import date
from pathlib import Path

from syslab.common.records import read_jsonl, update_json
from syslab.common.report import Table, table_console
from syslab.train.bench import aggregate, with_baseline
from syslab.train.metrics import TIMER_PAIRS
from syslab.train.plots import breakdown, bytes_and_compute, scaling

sys.path.insert(0, str(Path(__file__).parent))
from sweep import BATCHES, MODELS, WORKERS, plan  # noqa: E402  (the sweep's own grid)

ROOT = Path(__file__).resolve().parents[2]
ROWS = ROOT / "benchmarks" / "results" / "train_sweep.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "train.json"
FIGURES = ROOT / "docs" / "figures" / "train"
SLIM = ("ready_s", "param_sizes", "repeat", "wall_s", "load", "checksum")


def main() -> int:
    planned = set(plan(MODELS, BATCHES, WORKERS))
    raw = [r for r in read_jsonl(ROWS)  # rows of an earlier plan are left out
           if (r["model"], r["batch"], r["impl"], r["workers"]) in planned]
    rows = with_baseline(aggregate(raw))
    rows.sort(key=lambda r: (r["model"], r["batch"], r["impl"], r["workers"]))
    ddp = [r for r in rows if r["impl"] == "ddp" and r["workers"] > 1]
    local = {(r["model"], r["batch"]): r for r in rows if r["impl"] == "local"}
    nosync = {(r["model"], r["batch"], r["workers"]): r for r in rows
              if r["impl"] == "ddp-nosync"}

    payload_exact = all(r["payload_bytes"] == r["param_bytes"] and r["payload_constant"]
                        for r in raw if r["impl"] == "ddp" and r["workers"] > 1)
    wire = {n: [r["wire_ratio"] for r in ddp if r["workers"] == n] for n in (2, 3, 4)}
    per_sample = {m: {b: local[(m, b)]["backward_compute_s"] / b * 1e3
                      for (mm, b) in local if mm == m} for m in {m for m, _ in local}}
    for r in ddp:
        base = nosync.get((r["model"], r["batch"], r["workers"]))
        r["ddp_over_nosync"] = r["iteration_s"] / base["iteration_s"] - 1 if base else None
        r["exposed_share"] = r["exposed_comm_s"] / r["iteration_s"]
        r["comm_over_compute"] = r["comm_busy_s"] / (r["forward_s"] + r["backward_compute_s"])
        # medians against medians, our phases as defined (the last gradient ends backward
        # compute; see timers.py); benchmarks/train/timers.py compares step by step, cut
        # where DDP's logger cuts
        for name, ours in (("forward", "forward_s"), ("backward_compute", "backward_compute_s"),
                           ("communication", "comm_span_s")):
            theirs_s = r.get(f"ddp_{TIMER_PAIRS[name][1]}_s")
            r[f"timer_ratio_{name}"] = r[ours] / theirs_s if theirs_s else None
    deviations = {name: [abs(r[f"timer_ratio_{name}"] - 1) for r in ddp
                         if r.get(f"timer_ratio_{name}") is not None]
                  for name in TIMER_PAIRS}
    summary = {
        "payload_equals_model_bytes_every_run": payload_exact,
        "wire_ratio_by_workers": {n: [min(v), max(v)] for n, v in wire.items() if v},
        "wire_ratio_max_deviation": max(abs(x - 1) for v in wire.values() for x in v),
        "backward_ms_per_sample": per_sample,
        "timer_agreement_max_deviation": {k: max(v) for k, v in deviations.items() if v},
        "timer_agreement_within_15pct": {k: sum(d <= 0.15 for d in v) / len(v)
                                         for k, v in deviations.items() if v},
        "timer_agreement_median_deviation": {k: statistics.median(v)
                                             for k, v in deviations.items() if v},
        "repeats": min(r["repeats"] for r in rows),
        "runs": len(raw),
        "run_minutes": sum(r.get("wall_s", 0.0) for r in raw) / 60,
    }
    slim = [{k: v for k, v in r.items() if k not in SLIM} for r in rows]
    update_json(RESULTS, "sweep", {
        "date": date.today().isoformat(),
        "command": "python benchmarks/train/sweep.py && python benchmarks/train/analyze.py",
        "summary": summary, "rows": slim})
    shown = [r for r in rows if r["impl"] in ("local", "ddp")]
    breakdown(shown, FIGURES / "breakdown.png",
              "step time by phase: local (N=1) and torch DDP (N=2..4)")
    scaling([r for r in rows if r["impl"] in ("local", "ddp")], FIGURES / "scaling.png")
    bytes_and_compute(rows, FIGURES / "bytes_compute.png")
    console = table_console()
    console.print(Table("DDP sweep (medians of repeats)", [
        "model", "batch", "workers", "iteration_s", "exposed_comm_s", "comm_busy_s",
        "ddp_over_nosync", "exposed_share", "scaling_efficiency", "wire_ratio",
        "timer_ratio_backward_compute", "timer_ratio_communication"], ddp,
        {"iteration_s": ".3f", "exposed_comm_s": ".3f", "comm_busy_s": ".3f",
         "ddp_over_nosync": ".2f", "exposed_share": ".2f", "scaling_efficiency": ".2f",
         "wire_ratio": ".4f", "timer_ratio_backward_compute": ".3f",
         "timer_ratio_communication": ".3f"}).to_rich())
    console.print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
