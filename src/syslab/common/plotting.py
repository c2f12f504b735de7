"""Plots every lab draws the same way: matplotlib without a display, saved as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here, in CI or over ssh

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def figure(width: float = 6.4, height: float = 4.0) -> tuple[Figure, plt.Axes]:
    """A new figure with one axes and the house style."""
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    ax.grid(True, alpha=0.3)
    return fig, ax


def grid(
    n: int,
    cols: int = 3,
    size: float = 3.2,
    *,
    width: float | None = None,
    height: float | None = None,
) -> tuple[Figure, list[plt.Axes]]:
    """A figure with n axes in rows of `cols` (each `width` x `height` inches); spares hidden."""
    width = width or size
    height = height or size * 0.8
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), layout="constrained", squeeze=False
    )
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    for ax in flat[:n]:
        ax.grid(True, alpha=0.3)
    return fig, flat[:n]


def save(fig: Figure, path: Path, *, svg: bool = True) -> Path:
    """Save `fig` to `path` (.png) and beside it as .svg; returns the PNG path."""
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    if svg:
        fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)
    return path
