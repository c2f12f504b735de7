"""The alpha-beta cost of a ring allreduce, and its fit to measured allreduce times.

A bandwidth-optimal ring allreduce of S bytes over n ranks is a reduce-scatter and an
allgather, each n-1 steps that move S/n bytes per rank (Thakur, Rabenseifner, Gropp 2005;
NCCL-tests' busbw). Each step pays a latency alpha, each byte sent a cost beta:

    T(S, n) = 2(n-1) * alpha + 2(n-1)/n * S * beta

Gloo over loopback measured exactly this volume (wire bytes / S = 1.00, 1.33, 1.50 at n = 2,
3, 4; research/ddp.md section 2), so the model's shape is right; only alpha and beta are fitted.

Why there is no third parameter gamma (reduction compute per byte, (n-1)/n * S * gamma):
its feature (n-1)/n * S is exactly half of beta's 2(n-1)/n * S for every n and S, so
allreduce timings cannot tell them apart and a three-parameter least-squares fit is singular.
The fitted beta is therefore beta + gamma/2: the whole per-byte cost of the CPU ring, copies,
reduction and loopback together. Separating them would take a different benchmark (a
reduce-only or send-only sweep), which the predictions here do not need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import nnls


@dataclass(frozen=True)
class AlphaBeta:
    """Ring-allreduce cost: `alpha_s` per step (latency), `beta_s_per_byte` per byte sent.

    `fit_mape` and `fit_samples` describe the fit this model came from (None and 0 for a
    model written by hand or derived with `with_bandwidth`); they take no part in equality.
    """

    alpha_s: float
    beta_s_per_byte: float
    fit_mape: float | None = field(default=None, compare=False)
    fit_samples: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.alpha_s < 0 or self.beta_s_per_byte < 0:
            raise ValueError(f"alpha and beta must be >= 0, got {self.alpha_s}, "
                             f"{self.beta_s_per_byte}")

    def time(self, nbytes: float, n: int) -> float:
        """Seconds for one allreduce of `nbytes` over `n` ranks; 0 for a single rank, which
        has nothing to exchange."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, got {nbytes}")
        if n == 1:
            return 0.0
        steps = 2 * (n - 1)
        return steps * self.alpha_s + steps / n * nbytes * self.beta_s_per_byte

    @property
    def bus_bandwidth_bytes_per_s(self) -> float:
        """1 / beta: the per-rank rate the ring sustains for large messages (NCCL's busbw)."""
        return float("inf") if self.beta_s_per_byte == 0 else 1.0 / self.beta_s_per_byte

    def with_bandwidth(self, bytes_per_s: float) -> AlphaBeta:
        """This model on a link of `bytes_per_s` per rank (each rank's outgoing direction).

        Assumption: the CPU side of a step (copy, reduce) and the wire transfer are
        pipelined over chunks, so the slower of the two sets the per-byte cost:
        beta' = max(beta, 1 / bandwidth). A fast link therefore changes nothing (the
        measured CPU-bound beta stays), and a slow one replaces it. Latency alpha is kept:
        a rate limiter (tbf) adds no per-step latency at the sizes that matter.
        """
        if bytes_per_s <= 0:
            raise ValueError(f"bandwidth must be > 0, got {bytes_per_s}")
        beta = max(self.beta_s_per_byte, 1.0 / bytes_per_s)
        return replace(self, beta_s_per_byte=beta, fit_mape=None, fit_samples=0)


def _features(n: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Design matrix of the ring model: columns 2(n-1) and 2(n-1)/n * S."""
    steps = 2.0 * (n - 1)
    return np.column_stack([steps, steps / n * nbytes])


def fit_alpha_beta(samples: Sequence[tuple[int, int, float]]) -> AlphaBeta:
    """Fit alpha and beta to measured allreduces `(n, nbytes, seconds)`.

    Non-negative least squares, because a negative latency or per-byte cost is physically
    meaningless and an unconstrained fit on noisy loopback data does produce one. Each row
    is weighted by 1/seconds, so the fit minimises relative error: unweighted, the 64 MiB
    messages (tens of ms) would swamp the 64 KiB ones (under a ms) and alpha would be
    whatever the large messages' noise left over. Columns are scaled to unit norm before
    the solve (alpha ~1e-4, beta ~1e-9 differ by five orders of magnitude).

    Samples with n == 1 are ignored (the model says 0 s; nothing to fit). The samples must
    vary the message size or the rank count, else alpha and beta cannot be told apart and
    the split between them would be arbitrary. The returned model carries
    `fit_mape`, its mean absolute percentage error on the fitting samples (a fraction).
    """
    rows = [(n, b, t) for n, b, t in samples if n >= 2]
    if len(rows) < 2:
        raise ValueError("need at least two samples with n >= 2")
    arr = np.asarray(rows, dtype=float)
    n, nbytes, seconds = arr[:, 0], arr[:, 1], arr[:, 2]
    if np.any(seconds <= 0):
        raise ValueError("measured seconds must be > 0")
    if np.any(nbytes < 0):
        raise ValueError("nbytes must be >= 0")
    a = _features(n, nbytes) / seconds[:, None]
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1.0
    if np.linalg.matrix_rank(a / scale) < 2:
        raise ValueError("samples cannot separate alpha from beta: vary nbytes or n")
    coef, _ = nnls(a / scale, np.ones_like(seconds))
    alpha, beta = coef / scale
    predicted = _features(n, nbytes) @ np.array([alpha, beta])
    fit_mape = float(np.mean(np.abs(predicted - seconds) / seconds))
    return AlphaBeta(float(alpha), float(beta), fit_mape=fit_mape, fit_samples=len(rows))
