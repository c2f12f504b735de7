"""The plan against cache-everywhere LRU (and cooperative LRU) at equal hit ratio."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from syslab.cdn.plan.constants import LRU_SCALES, PLAN_BUDGETS
from syslab.cdn.plan.logs import RequestLog
from syslab.cdn.plan.planner import (
    Demand,
    Plan,
    _greedy_items,
    _problem,
    learn_demand,
    plan_placement,
)
from syslab.cdn.plan.prices import Prices, align
from syslab.cdn.plan.simulate import Outcome, simulate_lru, simulate_plan
from syslab.common.errors import UserError


def cost_at(points: Sequence[Outcome], target: float, metric: str = "hit_ratio") -> dict:
    """The plans' cost at hit ratio `target` (`metric`: hit_ratio or byte_hit_ratio).

    step: the cheapest point whose ratio is >= target (an actual plan), or None.
    interpolated: linear between the two neighbouring points of the cost frontier (the points
    no other point beats on both ratio and cost); None when target is above every point.
    on_curve: linear between the swept plans closest below and above `target` (the cheaper
    one at a tie) -- the plans' cost at exactly that ratio, not letting a plan with more hits
    stand in; None when target is outside the swept range.
    """
    pts = sorted(((getattr(o, metric), o.cost, o) for o in points), key=lambda p: (p[0], p[1]))
    above = [p for p in pts if p[0] >= target]
    below = [p for p in pts if p[0] <= target]
    on_curve = None
    if above and below:
        (r0, c0, _), (r1, c1, _) = below[-1], min(above, key=lambda p: (p[0], p[1]))
        lo = min((p for p in below if p[0] == r0), key=lambda p: p[1])
        c0 = lo[1]
        on_curve = c0 if r1 <= r0 else c0 + (c1 - c0) * (target - r0) / (r1 - r0)
    if not above:
        return {"step_cost": None, "step": None, "interpolated_cost": None, "on_curve_cost": None}
    best = min(above, key=lambda p: p[1])
    frontier: list[tuple[float, float]] = []
    for ratio, cost, _ in reversed(pts):  # highest ratio first; keep what gets cheaper
        if not frontier or cost < frontier[-1][1]:
            frontier.append((ratio, cost))
    frontier.reverse()
    interp = best[1]
    for (r0, c0), (r1, c1) in zip(frontier, frontier[1:], strict=False):
        if r0 <= target <= r1 and r1 > r0:
            interp = min(best[1], c0 + (c1 - c0) * (target - r0) / (r1 - r0))
            break
    return {
        "step_cost": best[1],
        "step": best[2].summary(),
        "interpolated_cost": interp,
        "on_curve_cost": on_curve,
    }


def _saving(base: float, other: float | None) -> float | None:
    return None if other is None or base <= 0 else 100.0 * (base - other) / base


def equal_hit(points: Sequence[Outcome], base: Outcome) -> dict:
    """Per metric: the plans' cost at `base`'s hit ratio and the saving against it."""
    out = {}
    egress = float(base.egress_cost.sum())  # the same for every strategy on one window
    for metric in ("hit_ratio", "byte_hit_ratio"):
        target = getattr(base, metric)
        at = cost_at(points, target, metric)
        out[metric] = {
            "baseline": base.name,
            "lru_ratio": target,
            "lru_cost": base.cost,
            **at,
            "step_saving_pct": _saving(base.cost, at["step_cost"]),
            "interpolated_saving_pct": _saving(base.cost, at["interpolated_cost"]),
            "on_curve_saving_pct": _saving(base.cost, at["on_curve_cost"]),
            # Egress is the same for all; this is the saving on what placement can change.
            "step_saving_pct_excl_egress": _saving(
                base.cost - egress, None if at["step_cost"] is None else at["step_cost"] - egress
            ),
        }
    return out


def _curve(points: Sequence[Outcome], sweep: Sequence[Outcome]) -> list[dict]:
    curve = []
    for o in sweep:
        at = cost_at(points, o.hit_ratio)
        curve.append(
            {
                "lru_scale": o.params["scale"],
                "lru_hit_ratio": o.hit_ratio,
                "lru_byte_hit_ratio": o.byte_hit_ratio,
                "lru_cost": o.cost,
                "plan_step_cost": at["step_cost"],
                "plan_interpolated_cost": at["interpolated_cost"],
                "step_saving_pct": _saving(o.cost, at["step_cost"]),
                "interpolated_saving_pct": _saving(o.cost, at["interpolated_cost"]),
            }
        )
    return curve


@dataclass
class Comparison:
    log_name: str
    prices: Prices
    train_s: float
    eval_s: float
    n_train: int
    n_eval: int
    plan: Plan
    plan_outcome: Outcome
    lru: Outcome
    plan_sweep: list[Outcome]
    lru_sweep: list[Outcome]
    equal: dict  # metric -> cost_at result plus savings, at the LRU's configured capacity
    curve: list[dict]  # per LRU capacity: LRU point, plan cost at its hit ratio, saving
    coop: Outcome | None = None  # cooperative LRU at capacity (None: no inter-node network)
    coop_sweep: list[Outcome] = field(default_factory=list)
    equal_coop: dict | None = None
    curve_coop: list[dict] = field(default_factory=list)
    local_only: bool = False

    def saving(self, metric: str = "hit_ratio", how: str = "step") -> float | None:
        return self.equal[metric][f"{how}_saving_pct"]

    def saving_coop(self, metric: str = "hit_ratio", how: str = "step") -> float | None:
        return None if self.equal_coop is None else self.equal_coop[metric][f"{how}_saving_pct"]

    def node_rows(self) -> list[dict]:
        """Per-node summary of the default plan, with its simulated outcome."""
        out = self.plan_outcome
        rows = []
        for i, (p, node) in enumerate(zip(self.plan.nodes, self.prices.nodes, strict=True)):
            rows.append(
                {
                    "region": p.region,
                    "capacity_MB": node.capacity / 1e6,
                    "objects_stored": len(p.keys),
                    "stored_MB": p.bytes / 1e6,
                    "used_pct": 100.0 * p.bytes / node.capacity,
                    "candidates": p.candidates,
                    "unprofitable": p.unprofitable,
                    "no_room": p.no_room,
                    "expected_requests": p.expected_requests,
                    "expected_remote": p.expected_remote,
                    "expected_saving": p.expected_saving,
                    "hit_ratio": float(out.hits[i] / max(1, out.requests[i])),
                    "local_hit_ratio": float(out.local_hits[i] / max(1, out.requests[i])),
                    "byte_hit_ratio": float(out.hit_bytes[i] / max(1, out.bytes[i])),
                    "cost": float(
                        out.storage_cost[i] + out.fill_cost[i] + out.transfer_cost[i]
                        + out.egress_cost[i]
                    ),
                }
            )  # fmt: skip
        return rows

    def to_dict(self) -> dict:
        def plan_nodes(plan: Plan) -> list[dict]:
            skip = ("keys", "key_sizes", "push_prices")
            out = []
            for p in plan.nodes:
                row = {k: v for k, v in vars(p).items() if k not in skip}
                paid = p.push_prices if p.push_prices is not None else np.zeros(0)
                sizes = p.key_sizes[: len(paid)].astype(np.float64)
                row["objects"] = len(p.keys)
                # $/GB of the copies (0 for resident ones), weighted by bytes
                row["mean_push_price"] = float((paid * sizes).sum() / max(1.0, sizes.sum()))
                out.append(row)
            return out

        return {
            "log": self.log_name,
            "prices": self.prices.to_dict(),
            "local_only": self.local_only,
            "train_s": self.train_s,
            "eval_s": self.eval_s,
            "train_requests": self.n_train,
            "eval_requests": self.n_eval,
            "plan": {
                "budget": self.plan.budget,
                "min_saving": self.plan.min_saving,
                "nodes": plan_nodes(self.plan),
            },
            "plan_outcome": self.plan_outcome.to_dict(),
            "lru": self.lru.to_dict(),
            "coop_lru": None if self.coop is None else self.coop.to_dict(),
            "equal_hit_ratio": self.equal,
            "equal_hit_ratio_coop": self.equal_coop,
            "curve": self.curve,
            "curve_coop": self.curve_coop,
            "plan_sweep": [_point(o) for o in self.plan_sweep],
            "lru_sweep": [_point(o) for o in self.lru_sweep],
            "coop_sweep": [_point(o) for o in self.coop_sweep],
        }


def _point(o: Outcome) -> dict:
    """A sweep point: its settings and where it lands (hit ratios, cost)."""
    keep = ("budget", "min_saving", "scale")
    return {k: v for k, v in o.params.items() if k in keep} | {
        "hit_ratio": o.hit_ratio,
        "local_hit_ratio": o.local_hit_ratio,
        "byte_hit_ratio": o.byte_hit_ratio,
        "total_cost": o.cost,
    }


def saving_thresholds(
    demand: Demand,
    prices: Prices,
    period_s: float,
    quantiles: Sequence[float] = (0.5, 0.75, 0.9, 0.95, 0.98, 0.99),
) -> list[float]:
    """Bars on saving per GB ($/GB) at quantiles of the profitable additions' savings (the
    uncapacitated greedy's, on the training window's demand)."""
    p = _problem(demand, prices, period_s, None)
    none = np.zeros(p.n_hat.shape, dtype=bool)
    gains = _greedy_items(p, none, none, 0.0).gain
    if len(gains) == 0:
        return []
    return sorted({float(q) for q in np.quantile(gains, quantiles)})


def compare(
    log: RequestLog,
    prices: Prices,
    *,
    train_fraction: float = 0.5,
    prior_fraction: float = 0.0,
    budgets: Sequence[float] = PLAN_BUDGETS,
    lru_scales: Sequence[float] = LRU_SCALES,
    remainder: float = 0.0,
    warm: bool = True,
    local_only: bool = False,
    cooperative_lru: bool = True,
) -> Comparison:
    """Learn on a training window, replay the next window against the default plan, a plan
    sweep and two LRU sweeps (cache everywhere; cooperative), and price the plan at the LRUs'
    hit ratios.

    Windows are fractions of the log's time span: an optional prior window
    (`prior_fraction`), the training window (`train_fraction`), then evaluation to the end.
    `warm`: the LRUs start the evaluation window with what they hold after the earlier
    windows, for free. Without a prior window the plan then pays its whole push (conservative
    for the plan). With one, the steady state of a rolling plan is modelled: the plan learned
    on the prior window (same settings) is what the edges hold, so only new placements are
    pushed. `warm=False`: every edge starts empty and the LRUs pay their warm-up misses.
    `local_only`: drop the inter-node network (the single-region model: every region served
    by its own node or the origin; no cooperative LRU).
    """
    if local_only:
        prices = prices.local_only()
    log = align(log, prices)
    fractions = [prior_fraction, train_fraction] if prior_fraction > 0 else [train_fraction]
    if not 0 < train_fraction < 1:
        raise UserError(f"train fraction must be between 0 and 1, got {train_fraction}")
    windows = log.windows(fractions)
    (train, train_s), (ev, eval_s) = windows[-2], windows[-1]
    n_nodes, n_obj = len(prices.nodes), log.n_objects
    demand = learn_demand(train, n_nodes, n_obj, train_s)
    before = None
    if prior_fraction > 0:
        prior, prior_s = windows[0]
        before = learn_demand(prior, n_nodes, n_obj, prior_s)
    history = log.slice(0, len(log) - len(ev)) if warm else None

    def run(budget: float, min_saving: float) -> tuple[Plan, Outcome]:
        resident = None
        if before is not None:
            resident = plan_placement(before, prices, eval_s, budget=budget, min_saving=min_saving)
        plan = plan_placement(
            demand, prices, eval_s, budget=budget, min_saving=min_saving, resident=resident
        )
        outcome = simulate_plan(
            plan, ev, prices, remainder=remainder, warm=history, resident=resident
        )
        return plan, outcome

    plan, plan_outcome = run(1.0, 0.0)
    # Two families of plans: the same budget fraction on every node, with min_saving 0 (only
    # profitable placements) or -inf (any placement that serves demand more cheaply: buys hit
    # ratio at a loss); and the whole capacity with a rising bar on saving per GB, which
    # moves bytes to the placements that save most. All thresholds come from the training
    # window.
    settings = [(b, m) for m in (0.0, -math.inf) for b in budgets]
    settings += [(1.0, m) for m in saving_thresholds(demand, prices, eval_s)]
    sweep = [run(b, m)[1] for b, m in settings]
    scales = sorted(set(lru_scales) | {1.0})
    lru_sweep = [simulate_lru(history, ev, prices, eval_s, scale=s) for s in scales]
    lru = next(o for o in lru_sweep if o.params["scale"] == 1.0)
    coop_sweep: list[Outcome] = []
    coop = None
    if cooperative_lru and prices.cooperative:
        coop_sweep = [
            simulate_lru(history, ev, prices, eval_s, scale=s, cooperative=True) for s in scales
        ]
        coop = next(o for o in coop_sweep if o.params["scale"] == 1.0)
    points = [*sweep, plan_outcome]
    return Comparison(
        log.name,
        prices,
        train_s,
        eval_s,
        len(train),
        len(ev),
        plan,
        plan_outcome,
        lru,
        sweep,
        lru_sweep,
        equal_hit(points, lru),
        _curve(points, lru_sweep),
        coop=coop,
        coop_sweep=coop_sweep,
        equal_coop=None if coop is None else equal_hit(points, coop),
        curve_coop=_curve(points, coop_sweep),
        local_only=local_only,
    )


def plot_comparison(comp: Comparison, path: Path | str, title: str | None = None) -> Path:
    """Cost against hit ratio (and byte hit ratio) for the plan sweep and the LRU sweeps."""
    from syslab.common.plotting import grid, save

    fig, axes = grid(2, cols=2, width=5.2, height=3.8)
    for ax, metric, label in zip(
        axes, ("hit_ratio", "byte_hit_ratio"), ("hit ratio", "byte hit ratio"), strict=True
    ):
        families = {
            "plan, budget share, profitable only": lambda o: o.params["min_saving"] == 0.0,
            "plan, budget share, any demand": lambda o: o.params["min_saving"] == -math.inf,
            "plan, full capacity, bar on saving/GB": lambda o: (
                o.params["budget"] == 1.0 and math.isfinite(o.params["min_saving"])
                and o.params["min_saving"] != 0.0
            ),
        }  # fmt: skip
        for (name, member), style in zip(families.items(), ("o-", "s--", "d:"), strict=True):
            pts = sorted((getattr(o, metric), o.cost) for o in comp.plan_sweep if member(o))
            if pts:
                ax.plot(*zip(*pts, strict=True), style, ms=3, label=name)
        lru = sorted((getattr(o, metric), o.cost) for o in comp.lru_sweep)
        ax.plot(*zip(*lru, strict=True), "^-", color="black", ms=5, label="LRU everywhere")
        ax.plot(getattr(comp.lru, metric), comp.lru.cost, "k*", ms=12, label="LRU at capacity")
        if comp.coop is not None:
            coop = sorted((getattr(o, metric), o.cost) for o in comp.coop_sweep)
            ax.plot(*zip(*coop, strict=True), "v-", color="tab:purple", ms=5,
                    label="cooperative LRU")  # fmt: skip
            ax.plot(getattr(comp.coop, metric), comp.coop.cost, "*", color="tab:purple", ms=12)
        ax.plot(
            getattr(comp.plan_outcome, metric),
            comp.plan_outcome.cost,
            "r*",
            ms=12,
            label="default plan",
        )
        ax.set_xlabel(f"{label} = origin offload (evaluation window)")
        ax.set_ylabel("total cost ($)")
    axes[0].legend(fontsize=7)
    fig.suptitle(title or f"placement plan vs LRU: {comp.log_name}", fontsize=10)
    return save(fig, Path(path))
