"""The scheduling lab's quick experiment: every policy on one synthetic trace, in seconds.

A Gavel-distributed trace (Poisson arrivals, Philly-like durations and GPU counts, no
throughput table: work is seconds) on a 64-GPU cluster (16 servers × 4), run in
Gavel's round mode (360 s rounds, 30 s restart overhead) by each policy.
"""

from __future__ import annotations

from pathlib import Path

from syslab.common.report import Section, Table
from syslab.sched import plots
from syslab.sched.cluster import load_cluster
from syslab.sched.engine import SimConfig, Simulator
from syslab.sched.metrics import HOUR, summarize
from syslab.sched.policies import make_policy
from syslab.sched.workloads import generate

POLICIES = ["fifo", "sjf", "srtf", "las", "las2d", "gittins", "max-min", "ftf", "themis",
            "rho-guard"]
JOBS = 400
MEAN_INTERARRIVAL_S = 600.0  # a busy but stable cluster for these distributions


def tour(out: Path) -> Section:
    """Simulate every policy; a table of headline metrics and three figures."""
    trace = generate(JOBS, seed=1, lam=MEAN_INTERARRIVAL_S)
    cluster = load_cluster("pollux-64")
    config = SimConfig(mode="rounds", round_s=360.0, restart_s=30.0, record_timeline=True)
    results = [Simulator(trace, cluster, make_policy(p), config).run() for p in POLICIES]
    summaries = [summarize(r) for r in results]
    rows = [
        {
            "policy": s["policy"],
            "mean JCT h": s["mean_jct_s"] / HOUR,
            "p99 JCT h": s["p99_jct_s"] / HOUR,
            "makespan h": s["makespan_s"] / HOUR,
            "util": s["utilization"],
            "worst rho": s["worst_rho"],
            "rho>1.1": s["unfair_1_1"],
            "Jain": s["jain"],
            "jobs/s": s["jobs_per_s"],
        }
        for s in summaries
    ]
    columns = list(rows[0])
    formats = dict.fromkeys(columns[1:], ".2f") | {"jobs/s": ",.0f"}
    out.mkdir(parents=True, exist_ok=True)
    srtf = next(r for r in results if r.policy == "srtf")
    return Section(
        title="sched: GPU-cluster scheduling policies on a synthetic trace",
        text=(
            f"{JOBS} jobs drawn from Gavel's distributions (mean inter-arrival "
            f"{MEAN_INTERARRIVAL_S:.0f} s) on {cluster.describe()}, 360 s rounds, 30 s restart "
            "overhead. ρ is finish-time fairness (JCT over the time on a 1/N share). Run "
            "`syslab sched compare` on the shared Philly, Gavel and Shockwave traces for more."
        ),
        tables=[Table("scheduling policies (lower JCT and ρ are better)", columns, rows,
                      formats)],
        figures=[
            plots.jct_cdf(results, out / "jct_cdf")[0],
            plots.policy_bars(summaries, out / "policy_bars")[0],
            plots.allocation_timeline(srtf, out / "allocation_timeline_srtf")[0],
        ],
    )
