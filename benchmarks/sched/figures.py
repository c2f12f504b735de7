"""The figures of docs/sched.md, drawn from fresh runs and from benchmarks/results/sched.json.

    .venv/bin/python benchmarks/sched/figures.py

Writes docs/figures/sched/*.png (+ .svg):
- philly_jct_cdf: JCT distribution of FIFO, SJF, SRTF, LAS and Gittins on the full Philly
  trace (82,247 jobs, 512 GPUs; ~30 s of simulation);
- fidelity: our mean JCT and makespan next to Shockwave's published simulated and
  physical ones, from the "fidelity" section of sched.json (run fidelity.py first);
- shockwave_timeline_max-min, shockwave_timeline_srtf: who held GPUs when on Shockwave's
  120-job trace, under Gavel's max-min round mechanism and under SRTF;
- shockwave_utilization: busy GPUs over time on that trace, per policy.
Needs the shared data (`syslab data` says where it is looked up).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from syslab.common import plotting
from syslab.common.data import lab_data
from syslab.sched import plots
from syslab.sched.cluster import load_cluster
from syslab.sched.dynamic import apply_dynamic_modes
from syslab.sched.engine import SimConfig, Simulator
from syslab.sched.metrics import HOUR
from syslab.sched.policies import make_policy
from syslab.sched.throughput import ThroughputTable
from syslab.sched.workloads import read_trace

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "figures" / "sched"
RESULTS = ROOT / "benchmarks" / "results" / "sched.json"
SHOCKWAVE_TRACE = "traces/120_0.2_5_100_40_25_0,0.5,0.5_0.6,0.3,0.09,0.01_multigpu_dynamic.trace"


def philly(data: Path) -> None:
    trace = read_trace(data / "philly" / "philly.csv")
    cluster = load_cluster("philly-512")
    results = [Simulator(trace, cluster, make_policy(p), SimConfig(mode=m)).run()
               for p, m in (("fifo", "events"), ("sjf", "events"), ("srtf", "rounds"),
                            ("las", "rounds"), ("gittins", "rounds"))]
    print(plots.jct_cdf(results, OUT / "philly_jct_cdf.png")[0])


def shockwave(data: Path) -> None:
    folder = data / "shockwave"
    table = ThroughputTable.from_json(folder / "tacc_throughputs.json")
    trace = apply_dynamic_modes(read_trace(folder / SHOCKWAVE_TRACE), table)
    cluster = load_cluster("tacc-32")
    config = dict(mode="rounds", round_s=120.0, restart_s=20.0, record_timeline=True)
    results = {p: Simulator(trace, cluster, make_policy(p), SimConfig(**config), table=table).run()
               for p in ("max-min", "ftf", "srtf", "rho-guard")}
    for p in ("max-min", "srtf"):
        print(plots.allocation_timeline(results[p], OUT / f"shockwave_timeline_{p}.png")[0])
    print(plots.utilization_over_time(list(results.values()),
                                      OUT / "shockwave_utilization.png")[0])


def fidelity() -> None:
    section = json.loads(RESULTS.read_text()).get("fidelity") if RESULTS.exists() else None
    if section is None:
        print("no fidelity results: run benchmarks/sched/fidelity.py first")
        return
    rows = [r for r in section["rows"] if not r.get("ablation")]
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    ref = {(r["policy"], r["against"]): r for r in rows}
    fig, axes = plotting.plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    x = np.arange(len(policies))
    for ax, (key, ref_key, label) in zip(axes, (
            ("avg_jct_s", "ref_avg_jct_s", "mean JCT (hours)"),
            ("makespan_s", "ref_makespan_s", "makespan (hours)")), strict=True):
        ours = [ref[(p, "simulation")][key] / HOUR for p in policies]
        sim = [ref[(p, "simulation")][ref_key] / HOUR for p in policies]
        phys = [ref[(p, "physical")][ref_key] / HOUR for p in policies]
        for k, (vals, name) in enumerate(((ours, "syslab"), (sim, "Shockwave simulator"),
                                          (phys, "Shockwave physical, 32 V100"))):
            ax.bar(x + (k - 1) * 0.27, vals, 0.27, label=name)
        ax.set_xticks(x, policies, fontsize="small")
        ax.set_ylabel(label)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.suptitle("Shockwave's 120-job trace, 120 s rounds, 20 s restart: ours vs published")
    print(plotting.save(fig, OUT / "fidelity.png"))


def main() -> None:
    data = lab_data("sched")
    if data is None:
        sys.exit("needs the shared data; set SYSLAB_DATA")
    fidelity()
    shockwave(data)
    philly(data)


if __name__ == "__main__":
    main()
