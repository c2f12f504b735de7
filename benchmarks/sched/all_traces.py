"""Every policy on every shared trace: does it run, how long does it take, what comes out.

    .venv/bin/python benchmarks/sched/all_traces.py [--workers 2] [--skip-philly-lp]

Trace families and the cluster each was published with:
- Philly (82,247 jobs, durations): `philly-512`, 360 s rounds.
- Gavel's 15 msr Philly-VC traces (job types, Gavel's throughputs): `gavel-500`, 360 s.
- Gavel's 8 physical-cluster traces: `hetero-108` (36 V100 + 36 P100 + 36 K80), 360 s.
- Shockwave's 120/220/460-job traces (TACC throughputs, Accordion/GNS as equivalent
  static work): 32/64/128 V100s (the sizes of its configurations), 120 s rounds, 20 s
  restart.
- Pollux's 16 workloads (`workloads/` and `workloads-realistic/`, durations from
  `sched.pollux`): `pollux-64`, 60 s rounds, 30 s restart.
- Tiresias' 60-job trace: 16 nodes × 4 GPUs (its `cluster_spec.csv`), 360 s rounds.

A run that fails is recorded with its one-line error instead of stopping the sweep.
Writes the "all_traces" key of benchmarks/results/sched.json (other keys are kept).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console

from syslab.common.data import lab_data
from syslab.common.errors import UserError
from syslab.common.records import update_json
from syslab.common.report import Table
from syslab.common.sweep import sweep
from syslab.sched.cluster import ClusterSpec, load_cluster
from syslab.sched.dynamic import apply_dynamic_modes
from syslab.sched.engine import SimConfig, Simulator
from syslab.sched.metrics import HOUR, summarize
from syslab.sched.policies import HET_SUFFIX, POLICIES, make_policy, policy_names
from syslab.sched.pollux import read_pollux_workload
from syslab.sched.throughput import ThroughputTable
from syslab.sched.workloads import read_trace

RESULTS = Path(__file__).resolve().parents[1] / "results"
LP_POLICIES = {"max-min", "ftf", "min-makespan", "max-throughput"}


def families(data: Path) -> list[dict]:
    """(family, trace path, cluster, config, table) for every shared trace."""
    gavel_table = str(data / "gavel" / "simulation_throughputs.json")
    tacc_table = str(data / "shockwave" / "tacc_throughputs.json")
    out = [{"family": "philly", "path": str(data / "philly" / "philly.csv"),
            "cluster": "philly-512", "round_s": 360.0, "restart_s": 0.0, "table": None}]
    for p in sorted((data / "gavel" / "traces_msr_seed0").glob("*.trace")):
        out.append({"family": "gavel-msr", "path": str(p), "cluster": "gavel-500",
                    "round_s": 360.0, "restart_s": 0.0, "table": gavel_table})
    for p in sorted((data / "gavel" / "physical_cluster").glob("*.trace")):
        out.append({"family": "gavel-physical", "path": str(p), "cluster": "hetero-108",
                    "round_s": 360.0, "restart_s": 0.0, "table": gavel_table})
    for p in sorted((data / "shockwave" / "traces").glob("*.trace")):
        gpus = {120: 32, 220: 64, 460: 128}[int(p.name.split("_")[0])]
        out.append({"family": "shockwave", "path": str(p), "cluster": f"v100x{gpus}",
                    "round_s": 120.0, "restart_s": 20.0, "table": tacc_table})
    for folder in ("workloads", "workloads-realistic"):
        for p in sorted((data / "pollux" / folder).glob("workload-*.csv")):
            out.append({"family": f"pollux-{folder}", "path": str(p), "cluster": "pollux-64",
                        "round_s": 60.0, "restart_s": 30.0, "table": None})
    out.append({"family": "tiresias", "path": str(data / "tiresias" / "60_job.csv"),
                "cluster": "pollux-64", "round_s": 360.0, "restart_s": 0.0, "table": None})
    return out


def cluster_of(name: str) -> ClusterSpec:
    if name.startswith("v100x"):
        return ClusterSpec.uniform(int(name[5:]) // 4, 4, name=name)
    return load_cluster(name)


def run_one(task: tuple[dict, str]) -> dict:
    spec, policy = task
    row = {"family": spec["family"], "trace": Path(spec["path"]).name, "policy": policy,
           "cluster": spec["cluster"]}
    t0 = time.perf_counter()
    try:
        table = ThroughputTable.from_json(spec["table"]) if spec["table"] else None
        if spec["family"].startswith("pollux"):
            trace = read_pollux_workload(spec["path"])
        else:
            trace = read_trace(spec["path"])
        if spec["family"] == "shockwave":
            trace = apply_dynamic_modes(trace, table)
        config = SimConfig(mode="rounds", round_s=spec["round_s"], restart_s=spec["restart_s"])
        result = Simulator(trace, cluster_of(spec["cluster"]), make_policy(policy), config,
                           table=table).run()
        s = summarize(result)
        row |= {"status": "ok", "jobs": s["jobs"], "mean_jct_h": s["mean_jct_s"] / HOUR,
                "makespan_h": s["makespan_s"] / HOUR, "worst_rho": s["worst_rho"],
                "worst_rho_ge_round": s["worst_rho_ge_round"],
                "unfair_1_1": s["unfair_1_1"],
                "p99_slowdown_longest10": s["p99_slowdown_longest10"]}
    except UserError as e:
        row |= {"status": f"error: {e}"}
    row["seconds"] = time.perf_counter() - t0
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--skip-philly-lp", action="store_true",
                        help="leave out the LP policies on the 82k-job Philly trace")
    args = parser.parse_args()
    data = lab_data("sched")
    if data is None:
        sys.exit("needs the shared data; set SYSLAB_DATA")
    # On a mixed cluster the heterogeneity-aware variants are baselines too.
    het = [p for p in policy_names() if p.endswith(HET_SUFFIX)]
    tasks = [(spec, p) for spec in families(data)
             for p in list(POLICIES) + (het if len(cluster_of(spec["cluster"]).gpu_types) > 1
                                        else [])
             if not (args.skip_philly_lp and spec["family"] == "philly"
                     and p.removesuffix(HET_SUFFIX) in LP_POLICIES)]
    weights = [100.0 if s["family"] == "philly" else 1.0 for s, _ in tasks]
    t0 = time.perf_counter()
    rows = sweep(run_one, tasks, workers=args.workers, description="policies x traces",
                 weights=weights)
    wall = time.perf_counter() - t0
    failed = [r for r in rows if r["status"] != "ok"]
    console = Console(width=max(Console().width, 140))
    console.print(Table(
        f"{len(rows)} runs in {wall:.0f} s; {len(failed)} failed",
        ["family", "trace", "policy", "status", "mean_jct_h", "worst_rho", "seconds"],
        failed or sorted(rows, key=lambda r: -r["seconds"])[:15],
        {"mean_jct_h": ".2f", "worst_rho": ".2f", "seconds": ".1f"},
    ).to_rich())
    update_json(RESULTS / "sched.json", "all_traces", {
        "command": "python benchmarks/sched/all_traces.py " + " ".join(sys.argv[1:]),
        "runs": rows, "failed": len(failed), "wall_s": wall,
        "traces": len({(r["family"], r["trace"]) for r in rows}),
        "policies": sorted({r["policy"] for r in rows}),
    })


if __name__ == "__main__":
    main()
