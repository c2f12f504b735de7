"""The training sweep: models x batch sizes x worker counts, medians of interleaved repeats.

    .venv/bin/python benchmarks/train/sweep.py [--repeats 3] [--iterations 5] [--warmup 2]

4 models spanning compute-bound to communication-bound (mobilenet_v2 14 MB in 158 tensors,
resnet18 47 MB, resnet50 102 MB, mlp 42 MB with little compute; 1000 classes, 3x32x32
synthetic images) x per-worker batch {8, 32, 64} x N {1..4} workers, SGD with momentum.
Each (model, batch) runs

- `local`: one process, no data parallelism (the scaling baseline and the compute profile
  the performance model replays),
- `ddp`: torch DDP with its defaults, N = 2..4,
- `ddp-nosync`: DDP inside no_sync(), N = 2 and 4: the same processes competing for the
  cores, no communication (so ddp minus ddp-nosync is what communication costs).

All in one private network namespace (exact loopback byte counts), 1 thread per worker
(OMP_NUM_THREADS=1), each run `--warmup` steps then `--iterations` measured steps; every
configuration runs once per round, `--repeats` rounds (interleaved, so a slow spell on this
shared 2-core machine spreads over all of them). Rows (one per run) are appended to
benchmarks/results/train_sweep.jsonl as they finish; `--resume` skips runs already there.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from syslab.common.records import read_jsonl, write_jsonl
from syslab.common.sweep import progress_bar
from syslab.train.launcher import launch
from syslab.train.metrics import summarize
from syslab.train.worker import RunConfig

ROOT = Path(__file__).resolve().parents[2]
ROWS = ROOT / "benchmarks" / "results" / "train_sweep.jsonl"
MODELS = ("mobilenet_v2", "resnet18", "resnet50", "mlp")
BATCHES = (8, 32, 64)
WORKERS = (1, 2, 3, 4)


def plan(models, batches, workers) -> list[tuple[str, int, str, int]]:
    """One round: (model, batch, impl, workers)."""
    runs = []
    for model in models:
        for batch in batches:
            runs.append((model, batch, "local", 1))
            runs += [(model, batch, "ddp", n) for n in workers if n > 1]
            runs += [(model, batch, "ddp-nosync", n) for n in workers if n in (2, 4)]
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    ap.add_argument("--workers", default=",".join(map(str, WORKERS)))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROWS)
    ap.add_argument("--resume", action="store_true", help="skip runs already in --out")
    args = ap.parse_args()
    console = Console()
    runs = plan(args.models.split(","), [int(b) for b in args.batches.split(",")],
                [int(n) for n in args.workers.split(",")])
    done: set[tuple] = set()
    if args.resume and args.out.exists():
        done = {(r["model"], r["batch"], r["impl"], r["workers"], r["repeat"])
                for r in read_jsonl(args.out)}
    elif args.out.exists():
        args.out.unlink()
    done &= {(*run, rep) for run in runs for rep in range(args.repeats)}
    todo = [(run, rep) for rep in range(args.repeats) for run in runs if (*run, rep) not in done]
    console.print(f"{len(todo)} runs ({len(runs)} configurations x {args.repeats} repeats, "
                  f"{len(runs) * args.repeats - len(todo)} already done); load "
                  f"{os.getloadavg()[0]:.1f}")
    with progress_bar() as bar:
        task = bar.add_task("sweep", total=len(todo))
        for (model, batch, impl, n), rep in todo:
            bar.update(task, description=f"{model} b{batch} {impl} N{n} r{rep}")
            cfg = RunConfig(model=model, batch=batch, impl=impl, iterations=args.iterations,
                            warmup=args.warmup, timeout_s=300)
            result = launch(cfg, n, network="loopback")
            row = {**summarize(result), "repeat": rep, "wall_s": result.wall_s,
                   "load": os.getloadavg()[0]}
            write_jsonl(args.out, [row], append=True)
            bar.advance(task)
    console.print(f"rows: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
