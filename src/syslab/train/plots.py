"""The lab's figures: where a step's time goes, how it scales, what it moves, what we predict."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from syslab.common.plotting import figure, grid, save
from syslab.train.timers import PHASES

PHASE_COLOURS = {"data": "#bbbbbb", "forward": "#4c72b0", "backward_compute": "#55a868",
                 "exposed_comm": "#c44e52", "optimizer": "#8172b2"}


def _stacked_phases(ax, rows: list[dict]) -> range:
    """One bar per row, its phases stacked in ms; returns the bars' x positions."""
    x = range(len(rows))
    bottom = [0.0] * len(rows)
    for phase in PHASES:
        heights = [r[f"{phase}_s"] * 1e3 for r in rows]
        ax.bar(x, heights, bottom=bottom, color=PHASE_COLOURS[phase],
               label=phase.replace("_", " "))
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    return x


def breakdown(rows: list[dict], path: Path, title: str = "") -> Path:
    """Stacked phase times per (batch, workers), one panel per model; a bar names its
    implementation when several share a (batch, workers)."""
    panels: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        panels[r["model"]].append(r)
    fig, axes = grid(len(panels), cols=min(2, len(panels)), width=6.4, height=3.4)
    for ax, (label, rs) in zip(axes, sorted(panels.items()), strict=True):
        rs.sort(key=lambda r: (r["batch"], r["workers"], r["impl"]))
        shared = {(r["batch"], r["workers"]) for r in rs
                  if sum((x["batch"], x["workers"]) == (r["batch"], r["workers"])
                         for x in rs) > 1}
        x = _stacked_phases(ax, rs)
        ax.set_xticks(list(x), [f"b{r['batch']}\nN{r['workers']}"
                                + (f"\n{r['impl']}" if (r["batch"], r["workers"]) in shared
                                   else "") for r in rs], fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("ms per step")
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return save(fig, path)


def scaling(rows: list[dict], path: Path) -> Path:
    """Scaling efficiency and samples/s against workers, one line per (model, batch)."""
    fig, (eff, thr) = grid(2, cols=2, width=4.6, height=3.4)
    lines: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r.get("scaling_efficiency") is not None and r["impl"] != "local":
            lines[(r["model"], r["batch"], r["impl"])].append(r)
    for (model, batch, impl), rs in sorted(lines.items()):
        rs.sort(key=lambda r: r["workers"])
        n = [r["workers"] for r in rs]
        line, = eff.plot(n, [r["scaling_efficiency"] for r in rs], marker="o",
                         label=f"{model} b{batch} {impl}")
        thr.plot(n, [r["samples_per_s"] for r in rs], marker="o", color=line.get_color())
    counts = sorted({r["workers"] for rs in lines.values() for r in rs})
    for ax in (eff, thr):
        ax.set_xlabel("workers (N)")
        ax.set_xticks(counts, [str(n) for n in counts])
    eff.set_ylabel("samples/s ÷ (N × one worker)")
    thr.set_ylabel("samples / s (all workers)")
    eff.legend(fontsize=6)
    return save(fig, path)


def bytes_and_compute(rows: list[dict], path: Path) -> Path:
    """Payload and wire bytes per step against batch size (flat), and backward compute time
    (growing), one line per model at the largest worker count measured."""
    fig, (moved, compute) = grid(2, cols=2, width=4.6, height=3.4)
    lines: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        if r["impl"] == "ddp" and r["workers"] > 1:
            lines[r["model"]].append(r)
    for model, rs in sorted(lines.items()):
        top = max(r["workers"] for r in rs)
        rs = sorted((r for r in rs if r["workers"] == top), key=lambda r: r["batch"])
        b = [r["batch"] for r in rs]
        line, = moved.plot(b, [r["payload_bytes"] / 1e6 for r in rs], marker="o",
                           label=f"{model} payload (N={top})")
        if all(r.get("wire_tx_per_rank") for r in rs):
            moved.plot(b, [r["wire_tx_per_rank"] / 1e6 for r in rs], ls="--", marker="x",
                       color=line.get_color(), label=f"{model} wire/rank")
        compute.plot(b, [r["backward_compute_s"] * 1e3 for r in rs], marker="o",
                     color=line.get_color(), label=model)
    batches = sorted({r["batch"] for rs in lines.values() for r in rs})
    for ax in (moved, compute):
        ax.set_xlabel("batch size per worker")
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
    moved.set_ylabel("MB per step")
    compute.set_ylabel("backward compute ms per step")
    moved.legend(fontsize=6)
    compute.legend(fontsize=6)
    return save(fig, path)


def implementations(rows: list[dict], path: Path, title: str = "") -> Path:
    """Step time per implementation (phases stacked), one group per (model, batch, workers)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["model"], r["batch"], r["workers"])].append(r)
    fig, axes = grid(len(groups), cols=min(2, len(groups)), width=5.2, height=3.4)
    for ax, (key, rs) in zip(axes, sorted(groups.items()), strict=True):
        x = _stacked_phases(ax, rs)
        ax.set_xticks(list(x), [r["impl"] for r in rs], rotation=30, ha="right", fontsize=7)
        ax.set_title(f"{key[0]} b{key[1]} N{key[2]}", fontsize=9)
        ax.set_ylabel("ms per step")
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return save(fig, path)


def allreduce_fit(rows: list[dict], fit, path: Path) -> Path:
    """Measured allreduce time against size per worker count, with the fitted alpha-beta."""
    fig, ax = figure()
    by_n: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        by_n[r["workers"]].append(r)
    for n, rs in sorted(by_n.items()):
        rs.sort(key=lambda r: r["bytes"])
        s = [r["bytes"] for r in rs]
        line, = ax.plot(s, [r["median_s"] * 1e3 for r in rs], "o", label=f"N={n} measured")
        ax.plot(s, [fit.time(b, n) * 1e3 for b in s], "-", color=line.get_color(),
                label=f"N={n} alpha-beta")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("allreduce size (bytes)")
    ax.set_ylabel("ms")
    ax.legend(fontsize=7)
    return save(fig, path)


def predicted_vs_measured(points: list[dict], path: Path) -> Path:
    """Each held-out configuration: predicted against measured step time, y = x for reference."""
    fig, ax = figure(5.0, 4.4)
    kinds: dict[str, list[dict]] = defaultdict(list)
    for p in points:
        kinds[p.get("held_out", "")].append(p)
    top = max(max(p["measured_s"], p["predicted_s"]) for p in points) * 1e3 * 1.1
    ax.plot([0, top], [0, top], color="#999999", lw=1)
    ax.fill_between([0, top], [0, top * 0.8], [0, top * 1.2], color="#dddddd", alpha=0.5,
                    label="±20 %")
    for kind, ps in sorted(kinds.items()):
        ax.plot([p["measured_s"] * 1e3 for p in ps], [p["predicted_s"] * 1e3 for p in ps], "o",
                label=kind or "held out")
    ax.set_xlabel("measured ms per step")
    ax.set_ylabel("predicted ms per step")
    ax.legend(fontsize=7)
    return save(fig, path)
