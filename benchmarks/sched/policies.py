"""Scheduling policy results: Philly JCTs, placement, heterogeneity (issue 4's policy goals).

    .venv/bin/python benchmarks/sched/policies.py [--only philly,placement,hetero] [--quick]

- philly: the 82,247-job Philly trace on 512 V100s (8-GPU servers), 360 s rounds where a
  policy uses rounds. Goals: SRTF mean JCT <= 1/10 of FIFO's; LAS within 1.25x of SRTF.
- placement: Gavel's Philly-VC trace 0e4a51 (63 % multi-GPU jobs, job types from Gavel's
  table, so a gang spread over servers runs at its `_unconsolidated` rate) on 16 x 8 GPUs.
  Goal: consolidated placement >= 15 % lower mean JCT than random placement.
- hetero: Gavel-distributed jobs (`workloads.generate` with Gavel's throughput table) on
  36 V100 + 36 P100 + 36 K80 (`hetero-108`), several seeds and loads. Goal: the
  heterogeneity-aware LAS (Gavel's max-min fairness over per-type throughputs) >= 1.5x
  lower mean JCT than the type-blind one (same LP, every type treated alike).

Each section writes its own key of benchmarks/results/sched.json (other keys are kept).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from syslab.common.data import lab_data
from syslab.common.records import update_json
from syslab.common.report import Table
from syslab.sched.cluster import ClusterSpec, load_cluster
from syslab.sched.engine import SimConfig, Simulator
from syslab.sched.metrics import HOUR, finish_time_fairness, summarize
from syslab.sched.policies import make_policy
from syslab.sched.throughput import ThroughputTable
from syslab.sched.workloads import generate, read_trace

RESULTS = Path(__file__).resolve().parents[1] / "results"
COMMAND = "python benchmarks/sched/policies.py " + " ".join(sys.argv[1:])
ROUND_S = 360.0  # Gavel's round length, used for every round-mode run here
console = Console()


def run(trace, cluster, policy, mode="rounds", table=None, **cfg) -> dict:
    result = Simulator(trace, cluster, make_policy(policy),
                       SimConfig(mode=mode, round_s=ROUND_S, **cfg), table=table).run()
    s = summarize(result)
    s["mode"] = mode
    s["mean_jct_h"] = s["mean_jct_s"] / HOUR
    s["worst_job_ge_round"] = worst_job(result)
    return s


def worst_job(result) -> dict | None:
    """The job behind `worst_rho_ge_round`: why a policy is unfair shows here."""
    rho = finish_time_fairness(result)
    long = np.flatnonzero(result.exclusive >= result.config.round_s)
    if long.size == 0:
        return None
    j = int(long[np.argmax(rho[long])])
    return {"gpus": int(result.gpus[j]), "exclusive_h": float(result.exclusive[j] / HOUR),
            "wait_h": float((result.first_start[j] - result.arrival[j]) / HOUR),
            "jct_h": float(result.jct[j] / HOUR)}


def show(title: str, rows: list[dict], columns: list[str]) -> None:
    formats = {c: ".2f" for c in columns if c not in ("policy", "mode", "placement", "seed")}
    console.print(Table(title, columns, rows, formats).to_rich())


def philly(data: Path, quick: bool) -> None:
    trace = read_trace(data / "philly" / "philly.csv")
    if quick:
        trace.jobs[:] = trace.jobs[:20_000]
    cluster = load_cluster("philly-512")
    configs = [("fifo", "events"), ("sjf", "events"), ("srtf", "events"), ("srtf", "rounds"),
               ("las", "rounds"), ("las2d", "rounds"), ("gittins", "rounds"),
               ("max-min", "rounds"), ("ftf", "rounds"), ("themis", "rounds"),
               ("rho-guard", "rounds")]
    rows = [run(trace, cluster, p, m) for p, m in configs]
    by = {(r["policy"], r["mode"]): r["mean_jct_s"] for r in rows}
    fifo, srtf, las = by[("fifo", "events")], by[("srtf", "rounds")], by[("las", "rounds")]
    goals = {
        "srtf_over_fifo": srtf / fifo, "srtf_goal_met": srtf <= fifo / 10,
        "las_over_srtf": las / srtf, "las_goal_met": las <= 1.25 * srtf,
        "gittins_over_las": by[("gittins", "rounds")] / las,
    }
    # Fairness: the best fairness policy's worst ρ against SRTF's (same mode), over all
    # jobs and over jobs at least one round long.
    rho = {(r["policy"], r["mode"]): r for r in rows}
    for key in ("worst_rho", "worst_rho_ge_round"):
        fair = min(("max-min", "ftf", "themis"), key=lambda p: rho[(p, "rounds")][key])
        cut = rho[("srtf", "rounds")][key] / rho[(fair, "rounds")][key]
        goals[f"fairness_{key}"] = {"policy": fair, "srtf_over_fair": cut, "met": cut >= 1.5}
    show(f"Philly {len(trace):,} jobs on 512 GPUs", rows,
         ["policy", "mode", "mean_jct_h", "p99_jct_s", "worst_rho", "worst_rho_ge_round", "jain",
          "p99_slowdown_longest10", "sim_wall_s"])
    console.print(goals)
    update_json(RESULTS / "sched.json", "philly_policies", {
        "command": COMMAND, "trace": "philly/philly.csv", "jobs": len(trace),
        "cluster": cluster.describe(), "round_s": ROUND_S, "runs": rows, "goals": goals,
    })


def placement(data: Path, quick: bool) -> None:
    table = ThroughputTable.from_json(data / "gavel" / "simulation_throughputs.json")
    trace = read_trace(data / "gavel" / "traces_msr_seed0" / "0e4a51.trace")
    cluster = ClusterSpec.uniform(16, 8, name="16x8-v100")
    multi = sum(j.gpus > 1 for j in trace.jobs) / len(trace)
    rows = []
    for policy in ("fifo", "srtf", "las"):
        for where in ("consolidated", "first-fit", "random"):
            r = run(trace, cluster, policy, table=table, placement=where)
            r["placement"] = where
            rows.append(r)
    gains = {}
    for policy in ("fifo", "srtf", "las"):
        cons = next(r for r in rows if r["policy"] == policy and r["placement"] == "consolidated")
        rand = next(r for r in rows if r["policy"] == policy and r["placement"] == "random")
        gains[policy] = 1 - cons["mean_jct_s"] / rand["mean_jct_s"]
    show(f"placement on {trace.name} ({multi:.0%} multi-GPU) on {cluster.describe()}", rows,
         ["policy", "placement", "mean_jct_h", "makespan_s", "utilization"])
    console.print({"consolidated_vs_random_gain": gains})
    update_json(RESULTS / "sched.json", "placement", {
        "command": COMMAND, "trace": "gavel/traces_msr_seed0/0e4a51.trace",
        "multi_gpu_fraction": multi, "cluster": cluster.describe(), "runs": rows,
        "consolidated_vs_random_gain": gains,
        "goal_met": all(g >= 0.15 for g in gains.values()),
    })


# Gavel's two trace kinds: jobs of 1-8 GPUs ("continuous-multiple") and 1-GPU jobs only
# ("continuous-single"); mean inter-arrival times (s) that load hetero-108 alike.
HETERO_WORKLOADS = {"gavel": [2400.0, 1800.0, 1200.0], "gavel-single": [1200.0, 900.0, 600.0]}


def hetero(data: Path, quick: bool) -> None:
    table = ThroughputTable.from_json(data / "gavel" / "simulation_throughputs.json")
    cluster = load_cluster("hetero-108")
    jobs = 300 if quick else 1000
    seeds = [0] if quick else [0, 1, 2, 3, 4]  # type assignment is random: 5 seeds
    rows = []
    for workload, lams in HETERO_WORKLOADS.items():
        for lam in lams[1:2] if quick else lams:
            for seed in seeds:
                trace = generate(jobs, seed=seed, lam=lam, table=table, distribution=workload)
                for policy in ("max-min", "max-min-het", "las", "las-het"):
                    t0 = time.perf_counter()
                    r = run(trace, cluster, policy, table=table)
                    r |= {"workload": workload, "seed": seed, "lam_s": lam,
                          "jobs_per_hour": 3600 / lam, "wall_s": time.perf_counter() - t0}
                    rows.append(r)
                    console.print(f"{workload} lam {lam:.0f} seed {seed} {policy:12s} "
                                  f"{r['mean_jct_h']:.2f} h ({r['wall_s']:.1f} s)")
    ratios = {}
    for blind, aware in (("max-min", "max-min-het"), ("las", "las-het")):
        for workload, lam in dict.fromkeys((r["workload"], r["lam_s"]) for r in rows):
            per_seed = []
            for seed in seeds:
                b, a = (next(r for r in rows if r["policy"] == p and r["seed"] == seed
                             and r["workload"] == workload and r["lam_s"] == lam)
                        for p in (blind, aware))
                per_seed.append(b["mean_jct_s"] / a["mean_jct_s"])
            ratios[f"{blind}@{workload}@{3600 / lam:.1f}jobs/h"] = {
                "per_seed": per_seed, "median": statistics.median(per_seed)}
    show(f"heterogeneity: {jobs} Gavel-generated jobs on {cluster.describe()}", rows,
         ["policy", "workload", "seed", "jobs_per_hour", "mean_jct_h", "utilization",
          "wall_s"])
    console.print(ratios)
    update_json(RESULTS / "sched.json", "heterogeneity", {
        "command": COMMAND, "jobs": jobs, "seeds": seeds,
        "mean_interarrival_s": HETERO_WORKLOADS, "cluster": cluster.describe(),
        "table": "gavel/simulation_throughputs.json", "runs": rows,
        "blind_over_aware_mean_jct": ratios,
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="philly,placement,hetero")
    parser.add_argument("--quick", action="store_true", help="smaller traces, one seed")
    args = parser.parse_args()
    data = lab_data("sched")
    if data is None:
        sys.exit("needs the shared data (philly, gavel); set SYSLAB_DATA")
    sections = {"philly": philly, "placement": placement, "hetero": hetero}
    for name in args.only.split(","):
        if name not in sections:
            sys.exit(f"unknown section {name!r} (one of {', '.join(sections)})")
        sections[name](data, args.quick)


if __name__ == "__main__":
    main()
