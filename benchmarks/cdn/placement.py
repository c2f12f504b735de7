"""CDN placement: a demand/cost-aware plan against "cache everywhere with LRU", same requests.

    .venv/bin/python benchmarks/cdn/placement.py [--quick]

Goal (docs/research notes, CDN 5): the plan at least 10 % cheaper than LRU everywhere at equal
hit ratio on a replayed trace. Model (`syslab.cdn.plan`): four regional nodes; a client
enters at its region's node, which serves from its own store (local hit), from the cheapest
other node holding the object (remote hit, inter-node transfer price) or from the origin
(miss, the origin's egress); hit ratio = origin offload. Baselines: LRU everywhere (no
cooperation) and cooperative LRU (a local miss is fetched from a sibling that holds it).
Every plan is learned on one window and evaluated on the next (`compare`); nothing is tuned
on the evaluation window.

Prices, fixed before any measurement (`syslab.cdn.plan`): **cloud** = public cloud list
prices (EBS gp3 storage, CloudFront first-tier egress, $0.09/GB origin egress, inter-region
transfer billed at the sender: $0.02 from US/EU, $0.09 from Singapore, $0.138 from Sao
Paulo) -- the headline; **colo** = the example self-hosted prices (cheap colocation egress,
$0.02/GB backbone between nodes).

Workloads:

* **synthetic**: `synthetic_log`, 300,000 requests over 21 days, 4 regions, Zipf 0.9 with
  50 % regional popularity, 10 % one-hit wonders, Pareto sizes (mean 64 KB); windows of
  7 days; capacities of the price set (256/256/128/128 MB).
* **cloudphysics** (replayed, when the shared data is present): the cache lab's CloudPhysics
  block I/O trace (libCacheSim sample, oracleGeneral: 113,872 requests over 2 h with real
  timestamps and sizes 512 B-68 KiB; a *block* trace, not CDN traffic), spread over the four
  regions by `regionalize` (home region = hash(object), 75 % of requests local); windows of
  40 min; capacity per node 10 % of the bytes of the distinct objects its region requests.
* **tencent** (replayed): the Tencent photo-CDN sample -- a 10,000-request, 12 s *format
  example* (95-97 % of its objects requested once): windows of 4 s, nothing recurs to learn
  from, so its result says nothing about placement; kept to show that.

Accounting modes: *full* (LRU warm for free, the plan pays its whole push: conservative for
the plan) and *steady* (the previous window's plan is already on the nodes; only new
placements are pushed). Extra rows: synthetic in the single-region model (`--local-only`:
the earlier model), CloudPhysics with an LRU over the unplanned capacity, and -- as headroom,
NOT a result -- a plan learned on the evaluation window itself (oracle demand).

Writes key "placement" of benchmarks/results/cdn.json (other keys kept: read-modify-write) and
docs/figures/cdn/placement_*.png/.svg.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from syslab.cdn import plan as pl
from syslab.common.data import lab_data
from syslab.common.records import update_json
from syslab.common.report import Table

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "docs" / "figures" / "cdn"
TENCENT = "tencent_photo_cdn_sample.txt.bz2"
CLOUDPHYSICS = "cloudPhysicsIO.oracleGeneral.bin"
GOAL_PCT = 10.0
PRICE_SETS = {"cloud": pl.CLOUD_PRICES, "colo": pl.EXAMPLE_PRICES}
console = Console(width=260)


def priced(name: str, capacities: list[int] | None = None) -> pl.Prices:
    data = copy.deepcopy(PRICE_SETS[name])
    if capacities is not None:
        for node, cap in zip(data["nodes"], capacities, strict=True):
            node["capacity"] = cap
    return pl.parse_prices(data, f"{name} prices")


def region_footprints(log: pl.RequestLog) -> list[int]:
    """Bytes of the distinct objects each region requests."""
    out = []
    for r in range(len(log.region_names)):
        mask = log.regions == r
        _, first = np.unique(log.keys[mask], return_index=True)
        out.append(int(log.sizes[mask][first].sum()))
    return out


def run(
    workload: str, log: pl.RequestLog, prices_name: str, prices: pl.Prices, mode: str, **kw
) -> tuple[dict, pl.Comparison]:
    """One comparison; mode full / steady picks the windows and the accounting. The same
    training and evaluation windows (the second and last thirds) in both modes."""
    t = time.perf_counter()
    if mode == "steady":  # windows: prior | train | eval, equal thirds
        comp = pl.compare(log, prices, prior_fraction=1 / 3, train_fraction=1 / 3, **kw)
    else:  # drop the first third
        rest = log.windows([1 / 3])[1][0]
        comp = pl.compare(rest, prices, train_fraction=0.5, **kw)
    eq, eqb = comp.equal["hit_ratio"], comp.equal["byte_hit_ratio"]
    co = comp.equal_coop["hit_ratio"] if comp.equal_coop else {}
    out = comp.plan_outcome
    row = {
        "workload": workload,
        "prices": prices_name,
        "mode": mode,
        "model": "local-only" if kw.get("local_only") else "multi-node",
        "remainder": kw.get("remainder", 0.0),
        "lru_hit": comp.lru.hit_ratio,
        "lru_byte_hit": comp.lru.byte_hit_ratio,
        "lru_cost": comp.lru.cost,
        "lru_egress_share_pct": 100 * float(comp.lru.egress_cost.sum()) / comp.lru.cost,
        "coop_hit": comp.coop.hit_ratio if comp.coop else None,
        "coop_cost": comp.coop.cost if comp.coop else None,
        "plan_hit": out.hit_ratio,
        "plan_local_hit": out.local_hit_ratio,
        "plan_cost": out.cost,
        "plan_mean_source_price": out.summary()["mean_source_price"],
        "best_plan_hit": max(o.hit_ratio for o in comp.plan_sweep),
        "vs_lru_pct": eq["step_saving_pct"],
        "vs_lru_interp_pct": eq["interpolated_saving_pct"],
        "vs_lru_on_curve_pct": eq["on_curve_saving_pct"],
        "vs_lru_excl_egress_pct": eq["step_saving_pct_excl_egress"],
        "vs_lru_byte_hit_pct": eqb["step_saving_pct"],
        "vs_coop_pct": co.get("step_saving_pct"),
        "vs_coop_interp_pct": co.get("interpolated_saving_pct"),
        "vs_coop_on_curve_pct": co.get("on_curve_saving_pct"),
        "vs_coop_excl_egress_pct": co.get("step_saving_pct_excl_egress"),
        "step_plan_hit": (eq["step"] or {}).get("hit_ratio"),
        "step_plan_cost": eq["step_cost"],
        "seconds": time.perf_counter() - t,
    }
    console.print(
        f"  {workload} / {prices_name} / {mode}{' / local-only' if kw.get('local_only') else ''}"
        f"{' / +LRU remainder' if kw.get('remainder') else ''}: {pl.verdict(comp)} "
        f"[{row['seconds']:.0f} s]"
    )
    return row, comp


def oracle_headroom(log: pl.RequestLog, prices: pl.Prices) -> dict:
    """NOT a result: plans learned on the evaluation window itself (perfect demand), full
    push, against LRU everywhere on the same windows as `run(..., "full")`. It bounds what any
    demand estimate could reach with this planner and these prices."""
    rest = pl.align(log.windows([1 / 3])[1][0], prices)
    (_, _), (ev, eval_s) = rest.windows([0.5])
    history = rest.slice(0, len(rest) - len(ev))
    lru = pl.simulate_lru(history, ev, prices, eval_s)
    coop = pl.simulate_lru(history, ev, prices, eval_s, cooperative=True)
    demand = pl.learn_demand(ev, len(prices.nodes), rest.n_objects, eval_s)
    points = []
    for budget in pl.PLAN_BUDGETS:
        for bar in (0.0, -math.inf):
            plan = pl.plan_placement(demand, prices, eval_s, budget=budget, min_saving=bar)
            points.append(pl.simulate_plan(plan, ev, prices))
    vs_lru = pl.cost_at(points, lru.hit_ratio)
    vs_coop = pl.cost_at(points, coop.hit_ratio)
    return {
        "note": "plan learned on the evaluation window itself: an upper bound, not a result",
        "vs_lru_pct": _pct(lru.cost, vs_lru["step_cost"]),
        "vs_coop_pct": _pct(coop.cost, vs_coop["step_cost"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k synthetic requests")
    args = parser.parse_args()
    start = time.perf_counter()
    rows: list[dict] = []
    details: dict = {}
    figures: list[str] = []
    workloads: dict = {}

    def figure(comp: pl.Comparison, name: str, title: str) -> None:
        path = pl.plot_comparison(comp, FIGURES / f"placement_{name}.png", title)
        figures.append(str(path.relative_to(ROOT)))

    # --- synthetic ----------------------------------------------------------------------------
    n = 100_000 if args.quick else 300_000
    syn = pl.synthetic_log(pl.cloud_prices().regions, n_requests=n, duration_s=21 * 86400.0)
    workloads["synthetic"] = {"requests": n, "days": 21, "objects": syn.n_objects, "seed": 0,
                              "window_days": 7}  # fmt: skip
    console.print("[bold]synthetic")
    for prices_name in PRICE_SETS:
        for mode in ("full", "steady"):
            row, comp = run("synthetic", syn, prices_name, priced(prices_name), mode)
            rows.append(row)
            if mode == "steady":
                details[f"synthetic/{prices_name}/steady"] = comp.to_dict()
                figure(comp, f"synthetic_{prices_name}_steady",
                       f"synthetic, 4 regions, {prices_name} prices, steady state")  # fmt: skip
    rows.append(run("synthetic", syn, "cloud", priced("cloud"), "steady", local_only=True)[0])
    headroom = {p: oracle_headroom(syn, priced(p)) for p in PRICE_SETS}

    # --- replayed traces ----------------------------------------------------------------------
    data_dir = lab_data("cache")
    for name, file, locality_note in (
        ("cloudphysics", CLOUDPHYSICS, "block I/O trace (VMware VM), real timestamps, 2 h"),
        ("tencent", TENCENT, "12 s, 10,000-request format example; ~95 % one-hit objects"),
    ):
        path = data_dir / file if data_dir else None
        if path is None or not path.is_file():
            console.print(f"[yellow]shared data not found: no {name} replay")
            workloads[name] = None
            continue
        console.print(f"[bold]{name}")
        log = pl.replay_trace(path, pl.cloud_prices().regions)
        caps = [max(1, int(0.1 * b)) for b in region_footprints(log)]
        keys, counts = np.unique(log.keys, return_counts=True)
        workloads[name] = {
            "file": file,
            "what": locality_note,
            "requests": len(log),
            "objects": log.n_objects,
            "one_hit_object_share": float(np.mean(counts == 1)),
            "span_s": float(log.times[-1] - log.times[0]),
            "regions": "regionalize(): home = splitmix64(key) mod 4; 75 % of requests local, "
            "the rest to splitmix64(request index) mod 4",
            "capacity_bytes": caps,
            "requests_per_region": np.bincount(log.regions, minlength=4).tolist(),
        }
        price_sets = PRICE_SETS if name == "cloudphysics" else {"cloud": None}
        for prices_name in price_sets:
            for mode in ("full", "steady"):
                row, comp = run(name, log, prices_name, priced(prices_name, caps), mode)
                rows.append(row)
                if prices_name == "cloud" and mode == "steady":
                    details[f"{name}/cloud/steady"] = comp.to_dict()
                    title = f"{name} replayed into 4 regions, cloud prices, steady state"
                    figure(comp, f"{name}_cloud_steady", title)
        if name == "cloudphysics":
            rows.append(run(name, log, "cloud", priced("cloud", caps), "steady", remainder=1.0)[0])

    # --- report ---------------------------------------------------------------------------
    pct = "+.1f"
    table = Table(
        "plan vs LRU everywhere and cooperative LRU at equal hit ratio (origin offload); "
        "saving % > 0: the plan is cheaper",
        ["workload", "prices", "mode", "model", "remainder", "lru_hit", "coop_hit", "plan_hit",
         "plan_local_hit", "lru_cost", "coop_cost", "plan_cost", "lru_egress_share_pct",
         "vs_lru_pct", "vs_lru_on_curve_pct", "vs_lru_excl_egress_pct", "vs_coop_pct",
         "vs_coop_on_curve_pct", "vs_coop_excl_egress_pct"],
        rows,
        {"lru_hit": ".3f", "coop_hit": ".3f", "plan_hit": ".3f", "plan_local_hit": ".3f",
         "lru_cost": ".4f", "coop_cost": ".4f", "plan_cost": ".4f",
         "lru_egress_share_pct": ".0f", "vs_lru_pct": pct, "vs_lru_on_curve_pct": pct,
         "vs_lru_excl_egress_pct": pct, "vs_coop_pct": pct, "vs_coop_on_curve_pct": pct,
         "vs_coop_excl_egress_pct": pct,
         "remainder": "g"},
    )  # fmt: skip
    console.print(table.to_rich())

    def find(workload: str, prices: str, mode: str) -> dict | None:
        return next(
            (r for r in rows
             if r["workload"] == workload and r["prices"] == prices and r["mode"] == mode
             and r["model"] == "multi-node" and not r["remainder"]),
            None,
        )  # fmt: skip

    goal = {}
    for workload in ("synthetic", "cloudphysics", "tencent"):
        for prices_name in PRICE_SETS:
            entry = {}
            for mode in ("full", "steady"):
                r = find(workload, prices_name, mode)
                if r is None:
                    continue
                entry[mode] = {
                    "vs_lru_pct": r["vs_lru_pct"],
                    "vs_coop_pct": r["vs_coop_pct"],
                    "vs_lru_on_curve_pct": r["vs_lru_on_curve_pct"],
                    "vs_coop_on_curve_pct": r["vs_coop_on_curve_pct"],
                    "met_vs_lru": r["vs_lru_pct"] is not None and r["vs_lru_pct"] >= GOAL_PCT,
                    "met_vs_coop": r["vs_coop_pct"] is not None and r["vs_coop_pct"] >= GOAL_PCT,
                }
            if entry:
                goal[f"{workload}/{prices_name}"] = entry
    for key, entry in goal.items():
        parts = [
            f"{mode}: vs LRU {_fmt(e['vs_lru_pct'])}, vs coop {_fmt(e['vs_coop_pct'])}"
            for mode, e in entry.items()
        ]
        console.print(f"goal ({GOAL_PCT:g} %) {key}: " + "; ".join(parts))
    for p, h in headroom.items():
        console.print(
            f"headroom (oracle demand, NOT a result) synthetic/{p}/full: vs LRU "
            f"{_fmt(h['vs_lru_pct'])}, vs coop {_fmt(h['vs_coop_pct'])}"
        )
    replay_met = any(
        e.get("met_vs_lru") for k, v in goal.items() if k.startswith("cloudphysics/cloud")
        for e in v.values()
    )  # fmt: skip

    result = {
        "command": "python benchmarks/cdn/placement.py" + (" --quick" if args.quick else ""),
        "goal": f"plan >= {GOAL_PCT:g}% cheaper than LRU everywhere at equal hit ratio on a "
        "replayed trace",
        "headline": {
            "goal_met_on_a_replayed_trace": replay_met,
            "replayed_trace": "cloudphysics (block I/O trace, regionalized); the Tencent "
            "sample is a 12 s format example and not evidence either way",
            "per_workload": goal,
            "note": "vs_*_pct: percent saving at equal hit ratio as the goal is measured (the "
            "cheapest swept plan with origin offload >= the baseline's, at the same per-node "
            "capacity; None: no swept plan reaches it); vs_*_on_curve_pct: the plans' cost "
            "curve at exactly the baseline's hit ratio (linear between the bracketing swept "
            "plans) -- near 0 means the saving comes from more offload out of the same "
            "capacity, not from cheaper hits",
        },
        "headroom_oracle_not_a_result": headroom,
        "method": {
            "units": "storage $/GB-month (GB = 1e9 B, month = 30 d); egress, fill and "
            "transfer $/GB",
            "routing": "client -> its region's node (egress E_r, same for every strategy); the "
            "node serves from its store (local hit), from the cheapest other holder h when "
            "X[h,r] < F_r (remote hit, X[h,r] $/GB), else from the origin (miss, F_r $/GB)",
            "hit_ratio": "origin offload = (local + remote hits) / requests",
            "cost": "storage = S_h * stored byte-seconds / (GB * month); fill = F_r * (origin "
            "pushes + misses) / GB; transfer = X * (remote-hit bytes + sibling pushes) / GB; "
            "egress = E_r * requested bytes / GB",
            "planner": "per object, greedy facility location: add the node with the largest "
            "saving of s/GB*[sum_h (S_h*T/month + push_h) + sum_r n_hat_r * min(F_r, "
            "min_{h in H} X[h,r])] while it beats the bar; push_h = cheapest source "
            "(origin or a holder), 0 if resident; all additions fitted best saving per byte "
            "first into budget * capacity, blocked objects re-planned without full nodes",
            "baselines": "LRU everywhere (local miss -> origin, cached); cooperative LRU (local "
            "miss -> cheapest sibling holding it, then cached locally; else origin)",
            "equal_hit_ratio": "cheapest swept plan (budget share x {profitable, any demand}, "
            "plus bars on saving/GB at quantiles of the training window's savings) whose hit "
            "ratio on the evaluation window is >= the baseline's at node capacity",
            "windows": "thirds of the span; full uses windows 2 (train) and 3 (eval), LRU warm "
            "on 1-2; steady also plans on window 1 and keeps that plan resident",
        },
        "prices": {name: data for name, data in PRICE_SETS.items()},
        "workloads": workloads,
        "rows": rows,
        "figures": figures,
        "details": details,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "seconds": time.perf_counter() - start,
    }

    out = update_json(RESULTS / "cdn.json", "placement", pl.clean_json(result))
    console.print(
        f"wrote {out} (key placement) and {', '.join(figures)} in {result['seconds']:.0f} s"
    )


def _pct(base: float, other: float | None) -> float | None:
    return None if other is None else 100.0 * (base - other) / base


def _fmt(value: float | None) -> str:
    return "n/a (no plan reaches its hit ratio)" if value is None else f"{value:+.1f} %"


if __name__ == "__main__":
    main()
