"""Policies × sizes × traces in parallel, and the plots that summarise them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from syslab.cache.engine import simulate
from syslab.cache.trace import Trace
from syslab.common import plotting
from syslab.common.sweep import sweep


@dataclass(frozen=True)
class TraceSource:
    """How a worker process gets a trace: a file (path, format) or a synthetic recipe."""

    name: str
    path: str | None = None
    fmt: str | None = None
    synthetic: tuple[tuple[str, object], ...] = field(default=())  # kwargs of workloads.synthetic

    def load(self) -> Trace:
        return _load(self)


@lru_cache(maxsize=4)  # each worker process keeps the traces it is simulating
def _load(source: TraceSource) -> Trace:
    from syslab.cache.workloads import read_trace, synthetic

    if source.path is not None:
        return read_trace(source.path, source.fmt, name=source.name)
    return synthetic(**dict(source.synthetic), name=source.name)


def file_source(path: Path | str, fmt: str | None = None) -> TraceSource:
    from syslab.cache.workloads import read_trace

    trace = read_trace(path, fmt, limit=1)  # fail fast, in this process, on a bad file
    return TraceSource(name=trace.name, path=str(path), fmt=fmt)


def synthetic_source(name: str, **kwargs: object) -> TraceSource:
    return TraceSource(name=name, synthetic=tuple(sorted(kwargs.items())))


def _run(task: tuple[TraceSource, str, float | int, bool]) -> dict:
    source, policy, size, use_bytes = task
    return simulate(source.load(), policy, size, use_bytes=use_bytes).record()


def run_compare(
    sources: list[TraceSource],
    policies: list[str],
    sizes: list[float | int],
    *,
    use_bytes: bool = False,
    workers: int | None = None,
) -> list[dict]:
    """Every (trace, policy, size) result as a record; one task per cell of the grid."""
    tasks = [(s, p, z, use_bytes) for s in sources for z in sizes for p in policies]
    # Longest traces first, so the pool does not end waiting on one big trace.
    weights = [_weight(s) for (s, _, _, _) in tasks]
    return sweep(_run, tasks, workers=workers, description="simulating", weights=weights)


def _weight(source: TraceSource) -> float:
    """Roughly how long a source takes to simulate: file bytes, or requests to generate."""
    if source.path is not None:
        return float(Path(source.path).stat().st_size)
    return float(dict(source.synthetic).get("n_requests", 0))


def relative_to(
    records: list[dict], baseline: str = "lru", metric: str = "miss_ratio"
) -> list[dict]:
    """Each record with `<metric>_vs_<baseline>`: its metric divided by the baseline's."""
    base = {(r["trace"], r["size"]): r[metric] for r in records if r["policy"] == baseline}
    out = []
    for r in records:
        b = base.get((r["trace"], r["size"]))
        ratio = r[metric] / b if b else float("nan")
        out.append(r | {f"{metric}_vs_{baseline}": ratio})
    return out


def mean_relative(records: list[dict], baseline: str = "lru", metric: str = "miss_ratio") -> dict:
    """Per (policy, size): mean over traces of metric / baseline metric."""
    acc: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in relative_to(records, baseline, metric):
        value = r[f"{metric}_vs_{baseline}"]
        if np.isfinite(value):
            acc[(r["policy"], r["size"])].append(value)
    return {key: float(np.mean(v)) for key, v in acc.items()}


def plot_miss_ratio_curves(records: list[dict], out: Path, metric: str = "miss_ratio") -> Path:
    """One small panel per trace: metric against cache size, a line per policy."""
    traces = sorted({r["trace"] for r in records})
    policies = sorted({r["policy"] for r in records})
    cmap = plt.get_cmap("tab20")  # distinct colours for up to 20 policies
    colors = {p: cmap(i % 20) for i, p in enumerate(policies)}
    fig, axes = plotting.grid(len(traces))
    for ax, trace in zip(axes, traces, strict=True):
        rows = [r for r in records if r["trace"] == trace]
        for policy in policies:
            pts = sorted((r["capacity"], r[metric]) for r in rows if r["policy"] == policy)
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, marker="o", ms=3, label=policy, color=colors[policy])
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on short ranges
        ax.set_title(trace, fontsize=9)
        ax.set_xlabel(f"cache size ({rows[0]['unit']})", fontsize=8)
        ax.set_ylabel(metric.replace("_", " "), fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].legend(fontsize=6, ncol=2)
    return plotting.save(fig, out)


def plot_relative_to_lru(records: list[dict], out: Path, metric: str = "miss_ratio") -> Path:
    """Heat map: traces × policies, metric relative to LRU (per size: one panel each)."""
    rel = relative_to(records, "lru", metric)
    sizes = sorted({r["size"] for r in rel}, key=float)
    traces = sorted({r["trace"] for r in rel})
    policies = sorted({r["policy"] for r in rel})
    cols = min(2, len(sizes))
    fig, axes = plotting.grid(
        len(sizes), cols=cols, width=0.42 * len(policies) + 2.5, height=0.3 * len(traces) + 1.8
    )
    key = f"{metric}_vs_lru"
    for ax, size in zip(axes, sizes, strict=True):
        grid = np.full((len(traces), len(policies)), np.nan)
        for r in rel:
            if r["size"] == size:
                grid[traces.index(r["trace"]), policies.index(r["policy"])] = r[key]
        im = ax.imshow(grid, cmap="RdYlGn_r", vmin=0.5, vmax=1.5, aspect="auto")
        ax.grid(False)
        ax.set_xticks(range(len(policies)), policies, rotation=60, fontsize=7)
        ax.set_yticks(range(len(traces)), traces, fontsize=7)
        ax.set_title(f"{metric.replace('_', ' ')} / LRU, size {size}", fontsize=9)
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=axes, shrink=0.6)
    return plotting.save(fig, out)
