"""The lab's figures: what depth buys each system, and what skew costs it."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from syslab.common.plotting import grid, save


def _by_system(rows: list[dict], x: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["system"]].append(r)
    return {s: sorted(rs, key=lambda r: r[x]) for s, rs in out.items()}


def depth_curves(rows: list[dict], path: Path, title: str = "") -> Path:
    """Throughput, p50/p99 latency and issue-order violation rate against depth, one line
    per system (rows of one Zipf value)."""
    fig, (thr, lat, vio) = grid(3, cols=3, width=4.2, height=3.2)
    for system, rs in _by_system(rows, "depth").items():
        d = [r["depth"] for r in rs]
        line, = thr.plot(d, [r["throughput"] for r in rs], marker="o", label=system)
        lat.plot(d, [r["p50_ms"] for r in rs], marker="o", color=line.get_color())
        lat.plot(d, [r["p99_ms"] for r in rs], ls="--", color=line.get_color())
        if any(r.get("violation_rate") is not None for r in rs):
            vio.plot(d, [r.get("violation_rate") or 0.0 for r in rs], marker="o",
                     color=line.get_color())
    depths = sorted({r["depth"] for r in rows})
    for ax in (thr, lat, vio):
        ax.set_xscale("log", base=2)
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.set_xlabel("transactions in flight per client (depth)")
    thr.set_ylabel("transactions / s")
    lat.set_ylabel("latency ms (p50 solid, p99 dashed)")
    lat.set_yscale("log")
    vio.set_ylabel("issue-order violations / probe pair")
    thr.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return save(fig, path)


def zipf_curves(rows: list[dict], path: Path, title: str = "") -> Path:
    """Goodput and abort rate against Zipf skew, one line per system (and depth)."""
    fig, (good, aborts) = grid(2, cols=2, width=4.6, height=3.4)
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[f"{r['system']} d{r['depth']}"].append(r)
    for label, rs in groups.items():
        rs.sort(key=lambda r: r["zipf"])
        z = [r["zipf"] for r in rs]
        line, = good.plot(z, [r.get("request_goodput", r["goodput"]) for r in rs], marker="o",
                          label=label)
        aborts.plot(z, [r["abort_rate"] for r in rs], marker="o", color=line.get_color())
    good.set_xlabel("Zipf skew")
    aborts.set_xlabel("Zipf skew")
    good.set_ylabel("committed per s (requests if fan-out)")
    aborts.set_ylabel("abort rate")
    good.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return save(fig, path)


__all__ = ["depth_curves", "zipf_curves"]
