"""Tables, verdict and results files for `syslab cdn plan` and the benchmark."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from syslab.cdn.plan.compare import Comparison, _saving, plot_comparison
from syslab.cdn.plan.logs import RequestLog, read_log
from syslab.cdn.plan.prices import Prices
from syslab.cdn.plan.simulate import Outcome
from syslab.cdn.plan.workloads import replay_trace


def load_log(path: Path | str, prices: Prices, *, locality: float = 0.75) -> RequestLog:
    """A request log CSV, or a sized cache trace (Tencent photo, oracleGeneral) replayed into
    the prices file's regions."""
    from syslab.cache.workloads.readers import detect_format_or_none

    path = Path(path)
    if path.is_file() and detect_format_or_none(path) in ("tencent", "oracle"):
        return replay_trace(path, prices.regions, locality=locality)
    return read_log(path)


def tables(comp: Comparison) -> list:
    """The per-node plan summary and the plan-vs-LRU table (syslab.common.report.Table)."""
    from syslab.common.report import Table

    node_rows = [
        {
            "region": r["region"],
            "cap MB": r["capacity_MB"],
            "stored": r["objects_stored"],
            "MB": r["stored_MB"],
            "used %": r["used_pct"],
            "cand": r["candidates"],
            "unprof": r["unprofitable"],
            "no room": r["no_room"],
            "exp. req": r["expected_requests"],
            "exp. remote": r["expected_remote"],
            "exp. save $": r["expected_saving"],
            "hit": r["hit_ratio"],
            "local hit": r["local_hit_ratio"],
            "byte hit": r["byte_hit_ratio"],
            "cost $": r["cost"],
        }
        for r in comp.node_rows()
    ]
    nodes = Table(
        f"plan per node: learned on {comp.n_train:,} requests ({_duration(comp.train_s)}), "
        f"replayed on the next {comp.n_eval:,} ({_duration(comp.eval_s)}). cand = objects "
        "with demand in the region, unprof = of those, placed nowhere (no placement pays), "
        "no room = placements here that did not fit, exp. req / remote = requests this node "
        "is expected to serve / of them for other regions; hit = the region's requests served "
        "by any node, local hit = by its own",
        list(node_rows[0]) if node_rows else [],
        node_rows,
        {"cap MB": ".0f", "MB": ".1f", "used %": ".0f", "exp. req": ".0f",
         "exp. remote": ".0f", "exp. save $": ".4f", "hit": ".3f", "local hit": ".3f",
         "byte hit": ".3f", "cost $": ".4f"},
    )  # fmt: skip

    def row(name: str, summary: dict | None, vs_lru: float | None, vs_coop=None) -> dict:
        summary = summary or {}
        return {
            "strategy": name,
            "hit": summary.get("hit_ratio", ""),
            "local hit": summary.get("local_hit_ratio", ""),
            "byte hit": summary.get("byte_hit_ratio", ""),
            "storage $": summary.get("storage_cost", ""),
            "fill $": summary.get("fill_cost", ""),
            "transfer $": summary.get("transfer_cost", ""),
            "egress $": summary.get("egress_cost", ""),
            "total $": summary.get("total_cost", ""),
            "vs LRU %": "" if vs_lru is None else vs_lru,
            "vs coop %": "" if vs_coop is None else vs_coop,
        }

    lru, coop = comp.lru, comp.coop
    rows = [row("LRU everywhere", lru.summary(), 0.0)]
    if coop is not None:
        rows.append(row("cooperative LRU", coop.summary(), _saving(lru.cost, coop.cost), 0.0))
    out = comp.plan_outcome
    rows.append(row("plan (default)", out.summary(), _saving(lru.cost, out.cost),
                    None if coop is None else _saving(coop.cost, out.cost)))  # fmt: skip
    for label, eq in (("LRU", comp.equal["hit_ratio"]),
                      ("coop", (comp.equal_coop or {}).get("hit_ratio"))):  # fmt: skip
        if eq is None or eq["step"] is None:
            continue
        vs = {"vs_lru": eq["step_saving_pct"]} if label == "LRU" else {}
        rows.append(row(f"plan, hit >= {label}", eq["step"], vs.get("vs_lru"),
                        None if label == "LRU" else eq["step_saving_pct"]))  # fmt: skip
        interp = {"hit_ratio": eq["lru_ratio"], "total_cost": eq["interpolated_cost"]}
        saving = eq["interpolated_saving_pct"]
        rows.append(row(f"plan, interpolated at {label}", interp,
                        saving if label == "LRU" else None,
                        saving if label != "LRU" else None))  # fmt: skip
    money = ".4f"
    model = "single-region model (--local-only)" if comp.local_only else (
        "hit = served by any node (origin offload)")  # fmt: skip
    versus = Table(
        f"plan vs LRU on the evaluation window; {model}; vs % = saving against that baseline",
        list(rows[0]),
        rows,
        {"hit": ".4f", "local hit": ".4f", "byte hit": ".4f", "storage $": money,
         "fill $": money, "transfer $": money, "egress $": money, "total $": money,
         "vs LRU %": "+.1f", "vs coop %": "+.1f"},
    )  # fmt: skip
    return [nodes, versus]


def _verdict_one(eq: dict, name: str, plan_sweep: Sequence[Outcome]) -> str:
    if eq["step"] is None:
        best = max((o.hit_ratio for o in plan_sweep), default=0.0)
        return (
            f"no swept plan reaches {name}'s hit ratio {eq['lru_ratio']:.4f} "
            f"(best plan: {best:.4f}): no saving at equal hit ratio"
        )
    step = eq["step_saving_pct"]
    word = "cheaper" if step >= 0 else "more expensive"
    curve = eq.get("on_curve_saving_pct")
    at = "n/a" if curve is None else f"{curve:+.1f}%"
    return (
        f"at {name}'s hit ratio ({eq['lru_ratio']:.4f}) the plan is {abs(step):.1f}% {word} "
        f"(cheapest swept plan with hit ratio >= {name}'s; interpolated: "
        f"{eq['interpolated_saving_pct']:+.1f}%; excluding egress: "
        f"{eq['step_saving_pct_excl_egress']:+.1f}%; the plans' curve at exactly that hit "
        f"ratio: {at})"
    )


def verdict(comp: Comparison) -> str:
    """The saving at equal hit ratio against each baseline, or why there is none."""
    text = _verdict_one(comp.equal["hit_ratio"], "LRU everywhere", comp.plan_sweep)
    if comp.equal_coop is not None:
        coop = _verdict_one(comp.equal_coop["hit_ratio"], "cooperative LRU", comp.plan_sweep)
        text += f"; {coop}"
    return text


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def write_results(comp: Comparison, out: Path | str, extra: dict | None = None) -> list[Path]:
    """results.json and the cost/hit-ratio figure (PNG + SVG) in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = comp.to_dict() | (extra or {})
    path = out / "results.json"
    path.write_text(json.dumps(clean_json(data), indent=1, allow_nan=False) + "\n")
    return [path, plot_comparison(comp, out / "cost_vs_hit_ratio.png")]


def clean_json(value: object) -> object:
    """Plain JSON values: numpy scalars/arrays unwrapped, inf and nan as strings."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return clean_json(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else str(float(value))
    return value
