"""Variants of ρ-guard's ranking against the baselines of the all-traces sweep.

    .venv/bin/python benchmarks/sched/rho_guard_variants.py [--workers 2]

Without its long-job sharing (`no-share`), ρ-guard lost to Themis on Pollux's light-load
workloads (docs/sched.md). This script records what we tried to close that gap, and how
sensitive the kept answer is to its two knobs, so the trade-off is measured rather than
told: each variant keeps ρ-guard's mechanisms (server repacking, GPU types dealt per GPU)
and changes only the ranking key. Each runs on every shared trace but Philly (where the
question is settled by the round length, see the doc), with each trace's published
cluster, round length and restart overhead (`all_traces.families`), and is scored as
ρ-guard is in the doc: worst ρ against the best baseline of the all-traces sweep
(better / equal within 1 % / worse) and mean JCT against the fastest baseline.

Needs the "all_traces" key of benchmarks/results/sched.json (run all_traces.py first; the
simulations are deterministic, so its baselines are the ones these runs would get).
Writes the "rho_guard_variants" key (other keys are kept).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from all_traces import families, run_one
from rich.console import Console

from syslab.common.data import lab_data
from syslab.common.records import update_json
from syslab.common.report import Table
from syslab.common.sweep import sweep
from syslab.sched.policies import POLICIES
from syslab.sched.policies.rho_guard import RhoGuard
from syslab.sched.policies.themis import Themis

RESULTS = Path(__file__).resolve().parents[1] / "results"
LIGHT = 1.5  # "light load": GPUs asked for by active jobs at most this many times the cluster


def _light(state, ids: np.ndarray) -> bool:
    return state.gpus[ids].sum() <= LIGHT * state.capacity.sum()


def _themis_first(state, ids: np.ndarray, now: float, key: np.ndarray) -> np.ndarray:
    """Themis' offer inside ρ-guard: the jobs Themis offers the GPUs first (its worst-ρ
    fifth, keyed below 0, worst first) keep Themis' key; the rest keep `key`."""
    themis = Themis().keys(state, ids, now)
    offered = themis < 0
    key = key.copy()
    key[offered] = themis[offered]
    return key


class NoShare(RhoGuard):
    """ρ-guard's key before the long jobs shared a place: remaining / ρ_now."""

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        remaining, _, rho_now = RhoGuard.projection(state, ids, now)
        return remaining / rho_now


class Aging(NoShare):
    """remaining / ρ_now^k: stronger aging, everywhere or only under light load."""

    power, light_only = 1.0, False

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        remaining, _, rho_now = RhoGuard.projection(state, ids, now)
        if self.light_only and not _light(state, ids):
            return remaining / rho_now
        return remaining / rho_now ** self.power


class ThemisInside(NoShare):
    light_only = False

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        key = super().keys(state, ids, now)
        if self.light_only and not _light(state, ids):
            return key
        return _themis_first(state, ids, now, key)


class Deadline(NoShare):
    """Earliest deadline first, deadline = arrival + R·T_fair: the job that would pass
    ρ = R soonest runs first (EDF is optimal for the largest lateness on one machine)."""

    target = 2.0

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        _, fair, _ = RhoGuard.projection(state, ids, now)
        return state.arrival[ids] + self.target * fair


def _variant(base: type, label: str, **attrs) -> type:
    return type(base.__name__, (base,), {"label": label, **attrs})


SHIPPED = f"q {RhoGuard.long_quantile}, hold {RhoGuard.hold}"
VARIANTS: dict[str, type] = {
    "rho-guard": _variant(RhoGuard, "ρ-guard as shipped: remaining / ρ_now, the longest "
                          f"30 % sharing one place, worst ρ_now first ({SHIPPED})"),
    "share-q0.6": _variant(RhoGuard, "the same, long = top 40 %", long_quantile=0.6),
    "share-q0.75": _variant(RhoGuard, "the same, long = top 25 %", long_quantile=0.75),
    "share-q0.8": _variant(RhoGuard, "the same, long = top 20 %", long_quantile=0.8),
    "share-hold0": _variant(RhoGuard, "the same, no hold for running jobs", hold=0.0),
    "share-hold0.05": _variant(RhoGuard, "the same, hold 0.05", hold=0.05),
    "share-hold0.1": _variant(RhoGuard, "the same, hold 0.1", hold=0.1),
    "no-share": _variant(NoShare, "remaining / ρ_now (ρ-guard before the sharing)"),
    "aging-2": _variant(Aging, "remaining / ρ_now²", power=2.0),
    "aging-3": _variant(Aging, "remaining / ρ_now³", power=3.0),
    "aging-4-light": _variant(Aging, f"remaining / ρ_now⁴ while demand ≤ {LIGHT}× the GPUs",
                              power=4.0, light_only=True),
    "themis-fifth": _variant(ThemisInside, "Themis' worst-ρ fifth first, then ρ-guard"),
    "themis-fifth-light": _variant(ThemisInside, f"the same, only while demand ≤ {LIGHT}× "
                                   "the GPUs", light_only=True),
    "deadline-2": _variant(Deadline, "earliest deadline, arrival + 2·T_fair", target=2.0),
    "deadline-4": _variant(Deadline, "earliest deadline, arrival + 4·T_fair", target=4.0),
}


def run_variant(task: tuple[dict, str]) -> dict:
    spec, name = task
    POLICIES[f"variant:{name}"] = VARIANTS[name]  # in the worker process, by name
    row = run_one((spec, f"variant:{name}"))
    row["variant"] = name
    return row


def score(rows: list[dict], baselines: list[dict]) -> list[dict]:
    """Per variant: worst ρ against the best baseline, mean JCT against the fastest."""
    base: dict[tuple[str, str], list[dict]] = {}
    for r in baselines:
        if r["status"] == "ok" and r["policy"] != "rho-guard":
            base.setdefault((r["family"], r["trace"]), []).append(r)
    out = []
    for name, cls in VARIANTS.items():
        tally = {"better": 0, "equal": 0, "worse": 0}
        over_budget, losses = 0, []
        for r in rows:
            if r["variant"] != name or r["status"] != "ok":
                continue
            others = base[r["family"], r["trace"]]
            best = min(x["worst_rho"] for x in others)
            fastest = min(x["mean_jct_h"] for x in others)
            verdict = ("equal" if abs(r["worst_rho"] - best) <= 0.01 * best
                       else "better" if r["worst_rho"] < best else "worse")
            tally[verdict] += 1
            over_budget += r["mean_jct_h"] > 1.05 * fastest
            if verdict == "worse":
                losses.append(f"{r['family']}/{r['trace']}")
        out.append({"variant": name, "label": cls.label, **tally,
                    "jct_over_5pct": over_budget, "traces": sum(tally.values()),
                    "worse_on": losses})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    data = lab_data("sched")
    if data is None:
        sys.exit("needs the shared data; set SYSLAB_DATA")
    results = RESULTS / "sched.json"
    sweep_results = json.loads(results.read_text()).get("all_traces") if results.exists() \
        else None
    if not sweep_results:
        sys.exit("needs the all-traces sweep: run benchmarks/sched/all_traces.py first")
    tasks = [(spec, name) for spec in families(data) if spec["family"] != "philly"
             for name in VARIANTS]
    t0 = time.perf_counter()
    rows = sweep(run_variant, tasks, workers=args.workers, description="variants x traces")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        sys.exit(f"{len(failed)} runs failed, first: {failed[0]['status']}")
    scores = score(rows, sweep_results["runs"])
    Console().print(Table(
        "ρ-guard variants: worst ρ against the best baseline, mean JCT against the fastest",
        ["variant", "label", "better", "equal", "worse", "jct_over_5pct"], scores, {},
    ).to_rich())
    update_json(results, "rho_guard_variants", {
        "command": "python benchmarks/sched/rho_guard_variants.py " + " ".join(sys.argv[1:]),
        "baselines": sweep_results["command"], "light_demand": LIGHT,
        "wall_s": time.perf_counter() - t0, "scores": scores, "runs": rows,
    })


if __name__ == "__main__":
    main()
