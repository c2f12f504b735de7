"""From measured rows to a calibrated model: profiles, the CPU-sharing terms, predictions.

Rows are `syslab.train.metrics.summarize` rows (dicts): a `local` row (one process) or a
`ddp-nosync` row (N processes computing, no communication) gives a `ComputeProfile`; DDP rows
are what gets predicted. On this CPU machine the N workers share the cores, so per-worker
compute at N workers is an input, measured without communication (on a cluster with one
device per worker it would be the single-device profile); what the model adds is the
communication: bucket-ready times replayed against an alpha-beta allreduce, with two terms
for sharing the CPU (`comm_slowdown`, `cpu_steal`) fitted on a calibration subset.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from syslab.train.perfmodel.allreduce import AlphaBeta
from syslab.train.perfmodel.buckets import ddp_bucket_caps
from syslab.train.perfmodel.predict import mape, predict
from syslab.train.perfmodel.profile import ComputeProfile
from syslab.train.perfmodel.replay import Replay


def profile_from_row(row: dict) -> ComputeProfile:
    """The compute profile of a measured run: median phase times and ready times (clamped
    into backward: a median over steps can land a hair outside)."""
    backward = row["backward_compute_s"]
    ready = [min(max(t or 0.0, 0.0), backward) for t in row["ready_s"]]
    return ComputeProfile(data_s=row["data_s"], forward_s=row["forward_s"],
                          backward_s=backward, optimizer_s=row["optimizer_s"], ready_s=ready,
                          param_bytes=row["param_sizes"])


def _blend(a: ComputeProfile, b: ComputeProfile, w: float) -> ComputeProfile:
    """(1 - w) a + w b, phase by phase and ready time by ready time."""
    mix = lambda x, y: (1 - w) * x + w * y  # noqa: E731
    backward = mix(a.backward_s, b.backward_s)
    return ComputeProfile(
        data_s=mix(a.data_s, b.data_s), forward_s=mix(a.forward_s, b.forward_s),
        backward_s=backward, optimizer_s=mix(a.optimizer_s, b.optimizer_s),
        ready_s=[min(mix(x, y), backward) for x, y in zip(a.ready_s, b.ready_s, strict=True)],
        param_bytes=a.param_bytes)


def compute_profile(rows: Sequence[dict], model: str, batch: int, n: int) -> ComputeProfile:
    """Per-worker compute of (model, batch) at n workers: the `local` row for n = 1, the
    `ddp-nosync` row at n, else a linear blend of the nearest measured counts around n."""
    measured = {r["workers"]: r for r in rows if r["impl"] in ("local", "ddp-nosync")
                and (r["model"], r["batch"]) == (model, batch)}
    if n in measured:
        return profile_from_row(measured[n])
    below = [k for k in measured if k < n]
    above = [k for k in measured if k > n]
    if not below or not above:
        raise ValueError(f"no compute profile of {model} batch {batch} around {n} workers")
    lo, hi = max(below), min(above)
    return _blend(profile_from_row(measured[lo]), profile_from_row(measured[hi]),
                  (n - lo) / (hi - lo))


@dataclass(frozen=True)
class CpuSharing:
    """The two CPU-sharing terms: allreduce slowdown beside training, backward's lost share
    while an allreduce runs."""

    comm_slowdown: float = 1.0
    cpu_steal: float = 0.0


def predict_row(row: dict, profile: ComputeProfile, comm: AlphaBeta,
                sharing: CpuSharing = CpuSharing(), *, cores: int = 2) -> Replay:
    """The predicted step of a DDP row's configuration (workers, bucket cap, bandwidth)."""
    cap, first = ddp_bucket_caps(row.get("bucket_cap_mb"))
    rate = row.get("rate_mbit")
    return predict(profile, n=row["workers"], cores=cores, threads_per_rank=1, comm=comm,
                   bucket_cap_bytes=cap, first_bucket_bytes=first,
                   bandwidth_bytes_per_s=rate * 1e6 / 8 if rate else None,
                   contention_k=1e-9,  # the profile at n already holds the contention
                   comm_slowdown=sharing.comm_slowdown, cpu_steal=sharing.cpu_steal,
                   overlap=row.get("impl") != "ours-bucketed")


def fit_sharing(rows: Sequence[dict], profile_of: Callable[[dict], ComputeProfile],
                comm: AlphaBeta, *, cores: int = 2) -> tuple[CpuSharing, float]:
    """The CpuSharing that minimises the step-time MAPE over `rows` (a grid search: two
    bounded parameters, a few dozen rows), and that MAPE."""
    measured = [r["iteration_s"] for r in rows]
    best: tuple[float, CpuSharing] | None = None
    slowdowns = [1 + 0.1 * i for i in range(41)]  # 1 .. 5
    steals = [0.025 * i for i in range(41)]  # 0 .. 1
    profiles = [profile_of(r) for r in rows]
    for u, s in itertools.product(slowdowns, steals):
        sharing = CpuSharing(u, s)
        err = mape([predict_row(r, p, comm, sharing, cores=cores).iteration_s
                    for r, p in zip(rows, profiles, strict=True)], measured)
        if best is None or err < best[0]:
            best = (err, sharing)
    assert best is not None
    return best[1], best[0]
