"""Predicting an unmeasured configuration: contention, buckets, link, then replay.

One measured single-rank `ComputeProfile` and one fitted `AlphaBeta` give the iteration
time and overlap for any rank count, bucket cap and link bandwidth: compute is stretched by
CPU contention, gradients are bucketed by DDP's rule in their ready order, the allreduce
model is slowed to the link, and the bucket timeline is replayed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from syslab.train.perfmodel.allreduce import AlphaBeta
from syslab.train.perfmodel.buckets import assign_buckets
from syslab.train.perfmodel.contention import contention
from syslab.train.perfmodel.profile import ComputeProfile
from syslab.train.perfmodel.replay import Replay, replay


def predict(profile: ComputeProfile, *, n: int, cores: int, threads_per_rank: float,
            comm: AlphaBeta, bucket_cap_bytes: int, first_bucket_bytes: int | None = None,
            bandwidth_bytes_per_s: float | None = None, overlap: bool = True,
            contention_k: float = 1.0, launch_overhead_s: float = 0.0,
            order: Sequence[int] | None = None, cpu_steal: float = 0.0,
            comm_slowdown: float = 1.0) -> Replay:
    """Predicted iteration of `n` data-parallel ranks from a single-rank `profile`.

    `first_bucket_bytes` None gives the first bucket the common cap (DDP with an explicit
    `bucket_cap_mb`; use `ddp_bucket_caps(None)` for DDP's defaults). Buckets are assigned in
    `order`, by default the profile's gradient-ready order, which is what DDP's rebuilt
    buckets use from iteration 2 on. `bandwidth_bytes_per_s` None keeps the fitted link.
    On CPUs, where training and communication share cores: `comm_slowdown` stretches the
    fitted allreduce times (measured alone) to what they take beside training, and
    `cpu_steal` slows backward while an allreduce runs (`replay`).
    """
    factor = contention(n, cores, threads_per_rank, contention_k)
    stretched = profile.scaled(factor) if factor != 1.0 else profile
    walk = profile.ready_order() if order is None else order
    buckets = assign_buckets(profile.param_bytes, bucket_cap_bytes, first_bucket_bytes, walk)
    if comm_slowdown != 1.0:
        comm = AlphaBeta(comm.alpha_s * comm_slowdown, comm.beta_s_per_byte * comm_slowdown)
    link = comm if bandwidth_bytes_per_s is None else comm.with_bandwidth(bandwidth_bytes_per_s)
    return replay(stretched, buckets, link, n, launch_overhead_s=launch_overhead_s,
                  overlap=overlap, cpu_steal=cpu_steal)


def mape(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Mean absolute percentage error, as a fraction (0.2 is 20 %), relative to `measured`."""
    p = np.asarray(predicted, dtype=float)
    m = np.asarray(measured, dtype=float)
    if p.shape != m.shape or p.ndim != 1 or p.size == 0:
        raise ValueError(f"need two equally long, non-empty sequences; got {p.shape}, {m.shape}")
    if np.any(m == 0):
        raise ValueError("measured values must be non-zero")
    return float(np.mean(np.abs(p - m) / np.abs(m)))
