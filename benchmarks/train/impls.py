"""Our DataParallel rung by rung against torch DDP, and what each of DDP's optimisations buys.

    .venv/bin/python benchmarks/train/impls.py [--repeats 3] [--iterations 5]

resnet18 (47 MB in 62 tensors) and mobilenet_v2 (14 MB in 158 tensors), batch 32 per worker,
N = 2 workers in a private loopback namespace, 1 thread each. Every configuration below runs
once per round, `--repeats` rounds interleaved; medians over the measured steps, then over
repeats. All start from the same seed and see the same data, so the final weights can be
compared across implementations (sum of all weights after the run).

| label            | what it isolates |
|------------------|------------------|
| ddp              | torch DDP as it comes by default (25 MiB buckets, first 1 MiB) |
| ddp-bare         | the same without our counting hook and per-step logger: what measuring costs |
| ddp-25           | DDP with every bucket 25 MiB: what the small first bucket buys |
| ddp-views        | DDP with gradient_as_bucket_view: what skipping the copies buys |
| ddp-fp16         | DDP with its fp16 compression hook: half the bytes |
| ours-naive       | one allreduce per parameter after backward |
| ours-bucketed    | DDP's buckets, allreduced after backward: what bucketing buys (vs naive) |
| ours-overlap     | buckets launched from gradient hooks during backward: what overlap buys |
| ours-rebuild     | overlap with buckets rebuilt from the observed ready order |
| ours-views       | overlap with gradients as views into the buckets |
| ours-fp16        | overlap with fp16 compression |

Writes the "impls" key of benchmarks/results/train.json and docs/figures/train/impls.png.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from syslab.common.records import machine_record, update_json
from syslab.common.report import Table, table_console
from syslab.common.sweep import progress_bar
from syslab.train.bench import aggregate
from syslab.train.launcher import launch
from syslab.train.metrics import summarize
from syslab.train.plots import implementations
from syslab.train.worker import RunConfig

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "train.json"
FIGURES = ROOT / "docs" / "figures" / "train"
MODELS = ("resnet18", "mobilenet_v2")
# label -> (impl, bucket_cap_mb, instrument)
CONFIGS = {
    "ddp": ("ddp", None, True),
    "ddp-bare": ("ddp", None, False),
    "ddp-25": ("ddp", 25.0, True),
    "ddp-views": ("ddp-views", None, True),
    "ddp-fp16": ("ddp-fp16", None, True),
    "ours-naive": ("ours-naive", None, True),
    "ours-bucketed": ("ours-bucketed", None, True),
    "ours-overlap": ("ours-overlap", None, True),
    "ours-rebuild": ("ours-rebuild", None, True),
    "ours-views": ("ours-views", None, True),
    "ours-fp16": ("ours-fp16", None, True),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    console = table_console()
    load = os.getloadavg()
    runs: list[dict] = []
    plan = [(m, label) for m in MODELS for label in CONFIGS]
    with progress_bar() as bar:
        task = bar.add_task("implementations", total=len(plan) * args.repeats)
        for rep in range(args.repeats):
            for model, label in plan:
                impl, cap, instrument = CONFIGS[label]
                bar.update(task, description=f"{model} {label} r{rep}")
                cfg = RunConfig(model=model, batch=args.batch, impl=impl,
                                iterations=args.iterations, warmup=args.warmup,
                                bucket_cap_mb=cap, instrument=instrument, timeout_s=300)
                row = summarize(launch(cfg, args.workers, network="loopback"))
                runs.append({**row, "label": label})
                bar.advance(task)
    # repeats folded into medians (ddp and ddp-bare differ only in `instrument`)
    rows = [{k: v for k, v in r.items() if k not in ("ready_s", "param_sizes")}
            for r in aggregate(runs)]
    per_model: dict[str, dict] = {}
    for model in MODELS:
        at = {r["label"]: r for r in rows if r["model"] == model}
        ddp = at["ddp"]["iteration_s"]
        for r in at.values():
            r["vs_ddp"] = r["iteration_s"] / ddp
            ref = at["ddp-fp16" if "fp16" in r["label"] else "ddp"]["checksum"]
            r["weights_rel_diff"] = abs(r["checksum"] - ref) / abs(ref)
        per_model[model] = {
            "overlap_vs_ddp": at["ours-overlap"]["iteration_s"] / ddp,
            "bucketed_speedup_vs_naive": at["ours-naive"]["iteration_s"]
            / at["ours-bucketed"]["iteration_s"] - 1,
            "overlap_gain_vs_bucketed": at["ours-bucketed"]["iteration_s"]
            / at["ours-overlap"]["iteration_s"] - 1,
            "rebuild_gain": at["ours-overlap"]["iteration_s"] / at["ours-rebuild"]["iteration_s"]
            - 1,
            "views_gain_ours": at["ours-overlap"]["iteration_s"] / at["ours-views"]["iteration_s"]
            - 1,
            "views_gain_ddp": ddp / at["ddp-views"]["iteration_s"] - 1,
            "first_bucket_gain_ddp": at["ddp-25"]["iteration_s"] / ddp - 1,
            "instrumentation_cost": ddp / at["ddp-bare"]["iteration_s"] - 1,
            "fp16_wire_ratio": {k: at[k]["wire_ratio"] for k in ("ddp-fp16", "ours-fp16")},
            "fp16_payload_ratio": {k: at[k]["payload_bytes"] / at[k]["param_bytes"]
                                   for k in ("ddp-fp16", "ours-fp16")},
            "max_weights_rel_diff": max(r["weights_rel_diff"] for r in at.values()),
        }
    update_json(RESULTS, "impls", {
        "date": date.today().isoformat(),
        "command": "python benchmarks/train/impls.py", "batch": args.batch,
        "workers": args.workers, "repeats": args.repeats, "iterations": args.iterations,
        "warmup": args.warmup, "summary": per_model, "rows": rows,
        "machine": machine_record(load)})
    shown = [{**r, "impl": r["label"]} for r in rows]
    implementations(shown, FIGURES / "impls.png",
                    f"batch {args.batch}, N={args.workers}, medians of {args.repeats} repeats")
    console.print(Table("implementations", ["model", "label", "iteration_s", "vs_ddp",
                                            "exposed_comm_s", "buckets", "wire_ratio",
                                            "weights_rel_diff"], rows,
                        {"iteration_s": ".3f", "vs_ddp": ".3f", "exposed_comm_s": ".3f",
                         "wire_ratio": ".4f", "weights_rel_diff": ".1e"}).to_rich())
    console.print(per_model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
