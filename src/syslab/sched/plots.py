"""Figures of the scheduling lab, drawn the house way (`common.plotting`: PNG + SVG, no display).

Every function takes simulation results (`engine.SimResult`) or `metrics.summarize` dicts
and returns the paths it wrote (the PNG first, the SVG beside it):

- `jct_cdf`: the JCT distribution, one panel per trace (load), one line per policy;
- `utilization_over_time`: busy GPU fraction over the run (needs `record_timeline=True`);
- `allocation_timeline`: who held GPUs when, one bar row per job (≤ `max_jobs` sampled);
- `policy_bars`: mean JCT and worst finish-time fairness ρ per policy.

Results are grouped into panels by `SimResult.trace`; callers that run one trace at several
loads put the load into that name (the `compare` command does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from syslab.common import plotting
from syslab.sched.engine import SimResult
from syslab.sched.metrics import HOUR, utilization_timeline

Curve = tuple[np.ndarray, np.ndarray]  # (times in seconds, values)


def _short(name: str, width: int = 48) -> str:
    # Shockwave's trace names run to 70 characters: keep titles on one line, cutting the
    # middle so that both the job count in front and a load suffix at the end survive.
    if len(name) <= width:
        return name
    head = (width - 1) // 2
    return name[:head] + "…" + name[len(name) - (width - 1 - head):]


def _saved(png: Path) -> list[Path]:
    return [png, png.with_suffix(".svg")]


def _by_trace(results: Sequence[SimResult]) -> dict[str, list[SimResult]]:
    groups: dict[str, list[SimResult]] = {}
    for r in results:
        groups.setdefault(r.trace, []).append(r)
    return groups


def _cols(n: int) -> int:
    return 1 if n == 1 else 2 if n <= 4 else 3


def jct_cdf(results: Sequence[SimResult], path: Path) -> list[Path]:
    """Empirical JCT CDFs on a log time axis in hours; one panel per trace, a line per policy."""
    groups = _by_trace(results)
    if not groups:
        raise ValueError("jct_cdf needs at least one result")
    fig, axes = plotting.grid(len(groups), cols=_cols(len(groups)), width=5.2, height=3.6)
    for ax, (trace, runs) in zip(axes, groups.items(), strict=True):
        for r in runs:
            jct = np.sort(r.jct) / HOUR
            # A zero JCT cannot sit on a log axis; it never happens for real jobs.
            jct = np.maximum(jct, 1e-6)
            ax.step(jct, np.arange(1, jct.size + 1) / jct.size, where="post", label=r.policy)
        ax.set_xscale("log")
        # 0.1, 1, 10 read better than 10^-1, 10^0, 10^1 (and skip mathtext layout).
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set(xlabel="job completion time (hours, log)", ylabel="fraction of jobs",
               title=_short(trace), ylim=(0, 1.01))
        ax.legend(fontsize="small", loc="lower right")  # CDFs reach 1 there: empty
    return _saved(plotting.save(fig, path))


def utilization_curves(curves: Mapping[str, Mapping[str, Curve]], path: Path) -> list[Path]:
    """Busy-GPU fraction over time from precomputed curves: {panel: {policy: (t_s, frac)}}.

    `utilization_over_time` computes the curves from results; `compare` computes them in its
    worker processes so that the (large) per-run segment lists never travel back.
    """
    if not curves:
        raise ValueError("utilization_curves needs at least one curve")
    fig, axes = plotting.grid(len(curves), cols=_cols(len(curves)), width=5.2, height=3.6)
    for ax, (panel, lines) in zip(axes, curves.items(), strict=True):
        for policy, (t, frac) in lines.items():
            t = np.asarray(t, dtype=float)
            t0 = t[0] if t.size else 0.0
            ax.plot((t - t0) / HOUR, np.asarray(frac) * 100, label=policy, lw=1.2)
        ax.set(xlabel="time since the first arrival (hours)", ylabel="busy GPUs (%)",
               title=_short(panel), ylim=(0, 102))
        ax.legend(fontsize="small")
    return _saved(plotting.save(fig, path))


def utilization_over_time(results: Sequence[SimResult], path: Path, bins: int = 200) -> list[Path]:
    """Busy GPU fraction per time bin; one panel per trace, a line per policy.

    The runs must have been simulated with `SimConfig(record_timeline=True)`.
    """
    curves: dict[str, dict[str, Curve]] = {}
    for r in results:
        curves.setdefault(r.trace, {})[r.policy] = utilization_timeline(r, bins=bins)
    return utilization_curves(curves, path)


def allocation_timeline(result: SimResult, path: Path, max_jobs: int = 300,
                        seed: int = 0) -> list[Path]:
    """Gantt chart of GPU holdings: a row per job, a bar per run segment.

    Bars are coloured by GPU type on a mixed cluster, else by job; a thin grey line marks
    each job's whole life (arrival to finish), so waiting shows as grey without a bar.
    Traces with more than `max_jobs` jobs are sampled uniformly (the title says so).
    """
    if not result.segments:
        raise ValueError("run with SimConfig(record_timeline=True) to get an allocation timeline")
    n = result.arrival.size
    if n > max_jobs:
        rng = np.random.default_rng(seed)
        jobs = np.sort(rng.choice(n, size=max_jobs, replace=False))
    else:
        jobs = np.arange(n)
    row = np.full(n, -1)
    row[jobs] = np.arange(jobs.size)
    seg = np.asarray(result.segments, dtype=float).reshape(-1, 4)
    seg = seg[row[seg[:, 0].astype(int)] >= 0]
    seg_job = seg[:, 0].astype(int)
    t0 = float(result.arrival.min())

    fig, ax = plotting.figure(9.0, max(3.5, min(12.0, 1.5 + jobs.size * 0.03)))
    ax.grid(False)
    # A job's life, arrival to finish: the grey part no bar covers is time spent waiting.
    ax.hlines(row[jobs], (result.arrival[jobs] - t0) / HOUR, (result.finish[jobs] - t0) / HOUR,
              color="0.8", lw=0.6, zorder=1)
    height = 0.8 if jobs.size <= 60 else 1.0
    # One PolyCollection, not a barh call: thousands of Rectangle artists take seconds to
    # draw and bloat the SVG (LAS preempts every round, so segments outnumber jobs 20:1).
    y = row[seg_job].astype(float)
    x0, x1 = (seg[:, 1] - t0) / HOUR, (seg[:, 2] - t0) / HOUR
    lo, hi = y - height / 2, y + height / 2
    verts = np.stack([np.column_stack(p) for p in ((x0, lo), (x0, hi), (x1, hi), (x1, lo))], axis=1)
    if len(result.gpu_types) > 1:
        cmap = matplotlib.colormaps["tab10"]
        colors = cmap(seg[:, 3].astype(int) % 10)
        handles = [Patch(color=cmap(k % 10), label=gpu) for k, gpu in enumerate(result.gpu_types)]
        # A fixed corner: "best" would test every one of thousands of bars (seconds).
        # Late arrivals start late, so the lower left stays empty.
        ax.legend(handles=handles, title="GPU type", fontsize="small", loc="lower left")
    else:
        colors = matplotlib.colormaps["tab20"](row[seg_job] % 20)
    # Thousands of bars as SVG paths take seconds to write and to open: embed them as an
    # image in the SVG instead (axes, labels and the PNG are unaffected).
    # The same-coloured edge keeps bars narrower than a pixel (minutes in a 100-day trace)
    # visible.
    ax.add_collection(PolyCollection(verts, facecolors=colors, edgecolors=colors,
                                     linewidths=0.4, zorder=2, rasterized=len(seg) > 1000))
    ax.set_xlim(0, max(float(x1.max()), float((result.finish.max() - t0) / HOUR)) * 1.01)
    sampled = f"; {jobs.size} of {n} jobs sampled" if jobs.size < n else ""
    ax.set(xlabel="time since the first arrival (hours)", ylabel="job (arrival order)",
           title=f"{result.policy} on {_short(result.trace, 40)}: GPU holdings{sampled}")
    ax.set_ylim(-1, jobs.size)
    ax.invert_yaxis()  # first arrivals on top, like a queue
    return _saved(plotting.save(fig, path))


def policy_bars(summaries: Sequence[Mapping], path: Path) -> list[Path]:
    """Mean JCT (hours) and worst ρ per policy; grouped bars when several traces or loads.

    Each summary is a `metrics.summarize` dict; its "trace" names the group (plus "load",
    when present and not 1).
    """
    if not summaries:
        raise ValueError("policy_bars needs at least one summary")
    policies = list(dict.fromkeys(s["policy"] for s in summaries))
    groups = list(dict.fromkeys(_group(s) for s in summaries))
    value = {(_group(s), s["policy"]): s for s in summaries}
    bars = len(policies) * len(groups)
    # Many bars: the two panels go one above the other, each as wide as the page allows.
    fig, axes = plotting.grid(2, cols=2 if bars <= 12 else 1,
                              width=min(10.0, max(4.5, 0.35 * bars + 2)), height=3.8)
    x = np.arange(len(policies))
    width = 0.8 / len(groups)
    metrics = (("mean_jct_s", "mean JCT (hours)", HOUR), ("worst_rho", "worst ρ (JCT / fair)", 1))
    for ax, (key, label, scale) in zip(axes, metrics, strict=True):
        for g, group in enumerate(groups):
            ys = [value[(group, p)][key] / scale if (group, p) in value else np.nan
                  for p in policies]
            ax.bar(x - 0.4 + width * (g + 0.5), ys, width,
                   label=_short(group, 32) if len(groups) > 1 else None)
        ax.set_xticks(x, policies, rotation=30 if len(policies) > 4 else 0, ha="right"
                      if len(policies) > 4 else "center")
        ax.set(ylabel=label, title=label)
        if key == "worst_rho":
            ax.axhline(1.0, color="0.3", lw=0.8, ls="--")  # ρ ≤ 1 is fair
        if len(groups) > 1:
            ax.legend(fontsize="x-small")
    return _saved(plotting.save(fig, path))


def _group(summary: Mapping) -> str:
    load = summary.get("load")
    trace = str(summary.get("trace", ""))
    return trace if load in (None, 1, 1.0) else f"{trace} ×{load:g} load"
