"""Scheduling simulator speed: jobs simulated per second on the full Philly trace.

    .venv/bin/python benchmarks/sched/speed.py [--repeats 3] [--quick]

The 82,247-job Philly trace (shared data, `philly/philly.csv`) on 512 V100s in 8-GPU
servers (`philly-512`), every classic policy, the simulation loop timed alone (trace
reading and setup excluded, as Gavel's ~25 jobs/s figure is its simulation loop). Each
configuration runs `--repeats` times in this process and the median is kept: the
machine is shared and noisy, so the load average before and after is recorded too.
Goals (issue 4): FIFO >= 100k jobs/s; SRTF and LAS with 360 s rounds >= 10k jobs/s.

A second table runs Gavel's own trace format (the 15 msr Philly-VC traces, job types
drawn from Gavel's throughput table) on Gavel's 500-GPU cluster, next to the ~25 jobs/s
measured for Gavel's simulator (research/sched.md: one ~5k-job sweep point in ~3.6 min).

Writes the "speed" key of benchmarks/results/sched.json (other keys are kept).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console

from syslab.common.data import lab_data
from syslab.common.records import update_json
from syslab.common.report import Table
from syslab.sched.cluster import load_cluster
from syslab.sched.engine import SimConfig, Simulator
from syslab.sched.policies import make_policy
from syslab.sched.throughput import ThroughputTable
from syslab.sched.workloads import read_trace

RESULTS = Path(__file__).resolve().parents[1] / "results"
GAVEL_JOBS_PER_S = 25.0  # research/sched.md §1: Gavel's simulator, one sweep point

# (policy, mode) as the issue states them; SRTF also event-driven for reference.
CONFIGS = [
    ("fifo", "events", 100_000), ("sjf", "events", None),
    ("srtf", "rounds", 10_000), ("srtf", "events", None), ("las", "rounds", 10_000),
    ("las2d", "rounds", None), ("gittins", "rounds", None),
]


def time_run(trace, cluster, policy: str, mode: str, table=None) -> tuple[float, dict]:
    sim = Simulator(trace, cluster, make_policy(policy),
                    SimConfig(mode=mode, round_s=360.0), table=table)
    result = sim.run()
    return result.wall_s, {"decisions": result.decisions,
                           "mean_jct_h": float(result.jct.mean() / 3600)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one repeat, first 20k jobs")
    args = parser.parse_args()
    data = lab_data("sched")
    if data is None:
        sys.exit("needs the shared data (philly/philly.csv); set SYSLAB_DATA")
    console = Console()
    repeats = 1 if args.quick else args.repeats
    load_before = os.getloadavg()
    trace = read_trace(data / "philly" / "philly.csv")
    if args.quick:
        trace.jobs[:] = trace.jobs[:20_000]
    cluster = load_cluster("philly-512")
    rows = []
    for policy, mode, goal in CONFIGS:
        walls = []
        for _ in range(repeats):
            wall, info = time_run(trace, cluster, policy, mode)
            walls.append(wall)
        wall = statistics.median(walls)
        rate = len(trace) / wall
        rows.append({
            "policy": policy, "mode": mode, "jobs": len(trace), "wall_s": wall,
            "jobs_per_s": rate, "goal_jobs_per_s": goal,
            "met": None if goal is None else rate >= goal,
            "vs_gavel": rate / GAVEL_JOBS_PER_S, "runs_s": walls, **info,
        })
        console.print(f"{policy:8s} {mode:6s} {rate:10,.0f} jobs/s  ({wall:.2f} s)")

    table = ThroughputTable.from_json(data / "gavel" / "simulation_throughputs.json")
    gavel_cluster = load_cluster("gavel-500")
    gavel_rows = []
    traces = sorted((data / "gavel" / "traces_msr_seed0").glob("*.trace"))
    gavel_traces = [read_trace(p) for p in traces]
    n_gavel = sum(len(t) for t in gavel_traces)
    for policy, mode in (("fifo", "events"), ("srtf", "rounds"), ("las", "rounds")):
        t0 = time.perf_counter()
        sim_wall = 0.0
        for tr in gavel_traces:
            sim_wall += time_run(tr, gavel_cluster, policy, mode, table)[0]
        total = time.perf_counter() - t0
        gavel_rows.append({
            "policy": policy, "mode": mode, "traces": len(gavel_traces), "jobs": n_gavel,
            "sim_wall_s": sim_wall, "with_setup_s": total,
            "jobs_per_s": n_gavel / sim_wall, "jobs_per_s_with_setup": n_gavel / total,
            "vs_gavel": n_gavel / total / GAVEL_JOBS_PER_S,
        })

    columns = ["policy", "mode", "jobs", "wall_s", "jobs_per_s", "goal_jobs_per_s", "met",
               "vs_gavel", "mean_jct_h"]
    console.print(Table(
        f"Philly {len(trace):,} jobs on 512 GPUs (median of {repeats})", columns, rows,
        {"wall_s": ".2f", "jobs_per_s": ",.0f", "vs_gavel": ",.0f", "mean_jct_h": ".2f"},
    ).to_rich())
    console.print(Table(
        "Gavel msr traces on gavel-500 (with job types and throughputs)",
        ["policy", "mode", "traces", "jobs", "jobs_per_s", "jobs_per_s_with_setup", "vs_gavel"],
        gavel_rows,
        {"jobs_per_s": ",.0f", "jobs_per_s_with_setup": ",.0f", "vs_gavel": ",.0f"},
    ).to_rich())
    update_json(RESULTS / "sched.json", "speed", {
        "command": "python benchmarks/sched/speed.py " + " ".join(sys.argv[1:]),
        "trace": "philly/philly.csv", "cluster": cluster.describe(), "repeats": repeats,
        "philly": rows, "gavel_traces": gavel_rows,
        "gavel_reference_jobs_per_s": GAVEL_JOBS_PER_S,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_before": load_before, "load_after": os.getloadavg()},
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    })


if __name__ == "__main__":
    main()
