"""Tiresias' 2D-Gittins index: knows the distribution of job sizes, not each job's size.

For attained GPU-time a, the Gittins index is
    G(a) = max_Δ P(S − a ≤ Δ | S > a) / E[min(S − a, Δ) | S > a]
over the service distribution S: the best ratio of "chance to finish within the next
Δ" to "service spent trying". Highest index runs first. The distribution is the
trace's own GPU-time distribution (Tiresias uses history; same information).
"""

from __future__ import annotations

import numpy as np

from syslab.sched.policies.base import Policy

GRID_POINTS = 256
MAX_SAMPLES = 20_000


def gittins_table(samples: np.ndarray, points: int = GRID_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(grid of attained service, index at each grid point), for a step-function lookup."""
    s = np.sort(np.asarray(samples, dtype=np.float64))
    s = s[s > 0]
    if s.size > MAX_SAMPLES:  # quantiles keep the shape; the table stays cheap to build
        s = np.quantile(s, np.linspace(0, 1, MAX_SAMPLES))
    grid = np.unique(np.concatenate([[0.0], np.quantile(s, np.linspace(0, 1, points))]))
    grid = grid[grid < s[-1]]  # past the largest size nobody survives: no index to give
    index = np.empty(grid.size)
    for k, a in enumerate(grid):
        r = s[s > a] - a  # residual sizes of the jobs still running at attained a
        m = np.arange(1, r.size + 1)
        csum = np.cumsum(r)
        # Δ = r[m-1]: P(R ≤ Δ) = m/N; E[min(R, Δ)] = (sum of first m + Δ·(N − m)) / N
        expected = csum + r * (r.size - m)
        # A Δ that only the nearest sample finishes within is noise (1/(N·r1) blows up
        # when r1 happens to be tiny): look at least 1 % of the survivors ahead.
        first = max(0, r.size // 100 - 1)
        index[k] = np.max(m[first:] / expected[first:])
    return grid, index


class Gittins(Policy):
    name = "gittins"
    description = "Tiresias 2D-Gittins index on attained GPU-seconds (knows the size distribution)"
    rerank = "rounds"

    def __init__(self, samples: np.ndarray | None = None):
        self.samples = samples
        self.grid = self.index = None

    def reset(self, state) -> None:
        samples = self.samples if self.samples is not None else state.exclusive * state.gpus
        self.grid, self.index = gittins_table(samples)

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        at = np.searchsorted(self.grid, state.attained_gpu_s(ids, now), side="right") - 1
        return -self.index[at]
