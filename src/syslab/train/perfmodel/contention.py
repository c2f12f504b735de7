"""CPU contention: n ranks of t threads each on a machine with C cores.

First-order model: the machine offers C/k effective cores (k = 1: every core is a full
core; k > 1: fewer, e.g. SMT siblings, memory bandwidth or other tenants taking their share).
Compute demand is n*t threads; while it fits, nothing slows, beyond that every thread gets
its share, so compute stretches by

    factor = max(1, k * n * t / C)

Assumptions, stated because predictions inherit them: the slowdown is uniform over the
iteration (no phase-dependent contention), threads scale perfectly within a rank, and the
ranks' communication work (gloo's reduction and copies run on the same cores, mostly while
backward runs) is not modelled separately. Its cost lands in k when k is calibrated on
measured multi-rank runs (`fit_contention_k`); to charge it explicitly instead, count the
communication thread in `threads`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy.optimize import minimize_scalar


def contention(n: int, cores: int, threads: float, k: float = 1.0) -> float:
    """Compute stretch factor (>= 1) for `n` ranks of `threads` threads on `cores` cores."""
    if n < 1 or cores < 1 or threads <= 0 or k <= 0:
        raise ValueError(f"need n >= 1, cores >= 1, threads > 0, k > 0; got {n}, {cores}, "
                         f"{threads}, {k}")
    return max(1.0, k * n * threads / cores)


def fit_contention_k(samples: Sequence[tuple[int, int, float, float]]) -> float:
    """Calibrate k from measured slowdowns `(n, cores, threads, measured_factor)`.

    `measured_factor` is per-rank compute time with n ranks over that with one rank alone
    (for instance a no_sync DDP run against a single process). k minimises the squared log
    error, so a 2x miss counts the same whichever way it goes; it is searched in [0.1, 10],
    wide enough for any machine that is not broken.
    """
    if not samples:
        raise ValueError("need at least one sample")
    rows = [(n, cores, threads, math.log(measured)) for n, cores, threads, measured in samples
            if measured > 0]
    if len(rows) != len(samples):
        raise ValueError("measured factors must be > 0")

    def loss(k: float) -> float:
        return sum((math.log(contention(n, c, t, k)) - y) ** 2 for n, c, t, y in rows)

    return float(minimize_scalar(loss, bounds=(0.1, 10.0), method="bounded",
                                 options={"xatol": 1e-6}).x)
