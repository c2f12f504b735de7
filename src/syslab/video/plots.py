"""The lab's figure: accuracy kept against frames filtered, uniform sampling as the curve."""

from __future__ import annotations

from pathlib import Path

from syslab.common.plotting import figure, save

OURS = "ours"


def tradeoff(title: str, curve: list[dict], rows: list[dict], target: float, path: Path
             ) -> Path:
    """Uniform sampling's curve and one point per filter run (`rows` need `name`)."""
    fig, ax = figure(6.4, 4.2)
    ax.plot([c["fraction_filtered"] for c in curve], [c["accuracy"] for c in curve], "-o",
            ms=3, color="0.55", label="uniform sampling (1 in k)")
    for r in rows:
        ours = r["name"] == OURS
        ax.plot(r["fraction_filtered"], r["accuracy"], "*" if ours else "o",
                ms=13 if ours else 6, label=r["name"])
    ax.axhline(target, color="red", lw=0.8, ls="--", label=f"target {target:g}")
    ax.set_xlabel("fraction of frames filtered (not sent to the detector)")
    ax.set_ylabel("accuracy on the scored part")
    ax.set_title(title)
    low = min([c["accuracy"] for c in curve] + [r["accuracy"] for r in rows])
    ax.set_ylim(max(0.0, min(low, target) - 0.03), 1.005)
    ax.set_xlim(-0.02, 1.0)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    return save(fig, path)
