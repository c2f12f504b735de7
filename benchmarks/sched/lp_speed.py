"""Allocation-LP speed: ms per solve of each Gavel-style policy vs active jobs and GPU types.

    .venv/bin/python benchmarks/sched/lp_speed.py [--solves 12] [--quick]

Inputs are realistic snapshots of a contended cluster: job types and gang sizes drawn as
Gavel's generator does (scale factor 1/2/4/8 w.p. .70/.10/.15/.05, type uniform) with
steps/s from Gavel's throughput table ("null" entries of k80, p100, v100; T = 1 is v100
alone), capacity 1.5 GPUs per job split evenly over the types (mean gang 1.9: demand
exceeds supply), durations from Gavel's generator, a random fraction of each job done,
time since arrival up to twice its duration, and Gavel's cumulative isolated time for the
work done. A second table uses synthetic log-normal rates, every job distinct, which
defeats the merging of identical jobs (the worst case for the fairness LPs). Without the
shared data only the synthetic table is run.

"ftf_gavel_objective" is finish_time_fairness(hold_hopeless=False): Gavel's min max rho
alone, without holding the jobs that cannot reach the common level at their best.

Each cell: one warm-up solve, then `--solves` solves on fresh random instances; median and
p95 of the wall time of the policy call (validation, LP build, every LP, X). Goal (issue):
<= 50 ms per solve at 500 active jobs x 3 GPU types, for each policy.

Writes the "lp_speed" key of benchmarks/results/sched.json (other keys are kept).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from syslab.common.data import lab_data
from syslab.common.records import update_json
from syslab.common.report import Table
from syslab.sched.policies import allocation as alloc

RESULTS = Path(__file__).resolve().parents[1] / "results"
TYPES = ["k80", "p100", "v100"]
SIZES = [50, 100, 200, 500, 1000]
GOAL_MS = 50.0


def gavel_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(rates (keys, 3) steps/s on k80/p100/v100, scale factor per key) from the table."""
    raw = json.loads(path.read_text())
    keys = sorted(set.intersection(*(set(raw[t]) for t in TYPES)))
    rates = np.array([[float(raw[t][k]["null"]) for t in TYPES] for k in keys])
    sf = np.array([ast.literal_eval(k)[1] for k in keys])
    keep = rates[:, 2] > 0  # a job type must at least run on the V100
    return rates[keep], sf[keep]


def instance(rng: np.random.Generator, n: int, T: int, table) -> dict:
    """One snapshot of n active jobs on T GPU types (see the module docstring)."""
    if table is not None:
        rates, sf = table
        g = rng.choice([1, 2, 4, 8], n, p=[0.70, 0.10, 0.15, 0.05])
        pick = np.array([rng.choice(np.flatnonzero(sf == s)) for s in g])
        tput = rates[pick][:, 3 - T:]  # T = 1: v100; T = 3: k80, p100, v100
        gpus = sf[pick]
    else:
        gpus = rng.choice([1, 2, 4, 8], n, p=[0.70, 0.10, 0.15, 0.05])
        speed = np.array([0.25, 0.8, 1.0])[3 - T:]
        tput = np.exp(rng.normal(2.5, 1.0, (n, 1)) + rng.normal(0, 0.4, (n, T))) * speed
        tput = tput * gpus[:, None] ** 0.9
    per_type = max(8, int(round(1.5 * n / T)))
    capacity = np.full(T, per_type)
    long = rng.random(n) < 0.2
    duration = 60 * 10 ** np.where(long, rng.uniform(3, 4, n), rng.uniform(1.5, 3, n))
    total = duration * tput.max(axis=1)
    remaining = total * rng.uniform(0.05, 1.0, n)
    elapsed = np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0, 2, n) * duration)
    iso = alloc.isolated_throughput(tput, gpus, capacity)
    return dict(tput=tput, gpus=gpus, capacity=capacity, remaining=remaining,
                elapsed=elapsed, isolated_elapsed=(total - remaining) / iso)


POLICIES = {
    "max_min_fairness": lambda x: alloc.max_min_fairness(x["tput"], x["gpus"], x["capacity"]),
    "finish_time_fairness": lambda x: alloc.finish_time_fairness(
        x["tput"], x["gpus"], x["capacity"], remaining_steps=x["remaining"],
        elapsed_s=x["elapsed"], isolated_elapsed_s=x["isolated_elapsed"]),
    "ftf_gavel_objective": lambda x: alloc.finish_time_fairness(
        x["tput"], x["gpus"], x["capacity"], remaining_steps=x["remaining"],
        elapsed_s=x["elapsed"], isolated_elapsed_s=x["isolated_elapsed"],
        hold_hopeless=False),
    "min_makespan": lambda x: alloc.min_makespan(x["tput"], x["gpus"], x["capacity"],
                                                 remaining_steps=x["remaining"]),
    "max_throughput": lambda x: alloc.max_throughput(x["tput"], x["gpus"], x["capacity"],
                                                     normalise=False),  # the policy default
}


def measure(table, solves: int, sizes: list[int], seed: int) -> list[dict]:
    rows = []
    for T in (1, 3):
        for n in sizes:
            for name, solve in POLICIES.items():
                rng = np.random.default_rng([seed, n, T])
                solve(instance(rng, n, T, table))  # warm-up: imports, allocator
                walls, classes = [], []
                for _ in range(solves):
                    x = instance(rng, n, T, table)
                    t0 = time.perf_counter()
                    solve(x)
                    walls.append((time.perf_counter() - t0) * 1e3)
                    key = np.column_stack([x["tput"], x["gpus"]])
                    classes.append(len(np.unique(key, axis=0)))
                walls = np.array(walls)
                rows.append({
                    "policy": name, "jobs": n, "gpu_types": T,
                    "median_ms": float(np.median(walls)),
                    "p95_ms": float(np.percentile(walls, 95)),
                    "max_ms": float(walls.max()),
                    "distinct_jobs": float(np.mean(classes)),
                    "goal_ms": GOAL_MS if (n, T) == (500, 3) else None,
                })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solves", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3 solves, up to 500 jobs")
    args = parser.parse_args()
    solves = 3 if args.quick else max(10, args.solves)
    sizes = SIZES[:-1] if args.quick else SIZES
    console = Console()
    data = lab_data("sched")
    path = data / "gavel" / "simulation_throughputs.json" if data else None
    load_before = os.getloadavg()
    tables = {}
    if path is not None and path.exists():
        tables["gavel_table"] = measure(gavel_table(path), solves, sizes, args.seed)
    else:
        console.print("no shared data: synthetic inputs only")
    tables["synthetic_lognormal"] = measure(None, solves, sizes, args.seed)
    load_after = os.getloadavg()
    columns = ["policy", "jobs", "gpu_types", "median_ms", "p95_ms", "max_ms", "distinct_jobs"]
    for name, rows in tables.items():
        console.print(Table(f"allocation LP ms per solve ({name})", columns, rows,
                            {"median_ms": ".1f", "p95_ms": ".1f", "max_ms": ".1f",
                             "distinct_jobs": ".0f"}).to_rich())
    at_goal = {name: {r["policy"]: r["median_ms"] <= GOAL_MS for r in rows
                      if r["goal_ms"] is not None} for name, rows in tables.items()}
    console.print(f"median <= {GOAL_MS:g} ms at 500 jobs x 3 types: {at_goal}")
    command = "python benchmarks/sched/lp_speed.py" + (" --quick" if args.quick else
                                                        f" --solves {solves}")
    value = {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "solver": (f"highspy {alloc.HIGHSPY_VERSION}" if alloc.BACKEND == "highspy"
                   else "scipy.optimize.linprog(method='highs')"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, python "
                   f"{platform.python_version()}",
        "load_avg_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "solves_per_cell": solves,
        "goal": f"median <= {GOAL_MS:g} ms per solve at 500 active jobs x 3 GPU types",
        "goal_met": at_goal,
        **tables,
    }
    out = update_json(RESULTS / "sched.json", "lp_speed", value)
    console.print(f"wrote {out} (key lp_speed)")


if __name__ == "__main__":
    sys.exit(main())
