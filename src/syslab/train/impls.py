"""The data-parallel implementations a benchmark can run, by name.

torch DDP variants carry a counting communication hook (`hooks.py`) so their payload bytes and
per-bucket times are recorded the same way as our DataParallel's. `local` is one process with
no wrapper (the single-worker baseline); `ddp-nosync` runs DDP under `no_sync()` (N processes
competing for the cores, no communication: the cost of contention alone).
"""

from __future__ import annotations

import difflib
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch

from syslab.common.errors import UserError
from syslab.train.hooks import CommLog, counting_allreduce_hook, counting_fp16_hook

DDP_DEFAULT_CAP_MB = 25.0  # torch.distributed's bucket cap when bucket_cap_mb is None
DDP_DEFAULT_FIRST_BUCKET_MB = 1.0  # dist._DEFAULT_FIRST_BUCKET_BYTES


@dataclass(frozen=True)
class Impl:
    """How to wrap a model: torch DDP (with options) or one of our rungs."""

    name: str
    summary: str
    kind: str  # "local", "ddp" or "ours"
    rung: str = ""
    fp16: bool = False
    no_sync: bool = False
    grad_views: bool = False
    rebuild: bool = False


IMPLS: dict[str, Impl] = {i.name: i for i in (
    Impl("local", "one process, no data parallelism (needs 1 worker)", "local"),
    Impl("ddp", "torch DDP (C++ reducer, buckets, overlap, rebuild)", "ddp"),
    Impl("ddp-fp16", "torch DDP with its fp16 compression hook", "ddp", fp16=True),
    Impl("ddp-views", "torch DDP with gradient_as_bucket_view", "ddp", grad_views=True),
    Impl("ddp-nosync", "torch DDP inside no_sync(): compute only, no communication", "ddp",
         no_sync=True),
    Impl("ours-naive", "ours: one allreduce per parameter after backward", "ours", "naive"),
    Impl("ours-bucketed", "ours: flat buckets, allreduced after backward", "ours", "bucketed"),
    Impl("ours-overlap", "ours: buckets launched from gradient hooks during backward", "ours",
         "overlap"),
    Impl("ours-rebuild", "ours-overlap, buckets rebuilt from the observed ready order", "ours",
         "overlap", rebuild=True),
    Impl("ours-views", "ours-overlap, gradients as views into the buckets", "ours", "overlap",
         grad_views=True),
    Impl("ours-fp16", "ours-overlap with fp16 compression", "ours", "overlap", fp16=True),
)}


def get_impl(name: str) -> Impl:
    """The implementation called `name`; a one-line error with close matches otherwise."""
    try:
        return IMPLS[name]
    except KeyError:
        close = difflib.get_close_matches(name, IMPLS, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(f"unknown implementation {name!r}{hint}; known: "
                        f"{', '.join(IMPLS)}") from None


def wrap(impl: Impl, module: torch.nn.Module, log: CommLog, *, bucket_cap_mb: float | None,
         instrument: bool = True) -> torch.nn.Module:
    """`module` wrapped for data parallelism as `impl` says, writing its buckets to `log`.

    `instrument=False` leaves torch DDP as it comes (its C++ allreduce, logger sampling every
    100 steps), to measure what the counting hook and per-step logging cost.

    `bucket_cap_mb` follows DDP: None is its default layout (25 MiB buckets, the first one
    1 MiB, so communication starts early); a number is the cap of every bucket, the first
    included. Our rungs get the same layout.
    """
    if impl.kind == "local":
        return module
    if impl.kind == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(module, bucket_cap_mb=bucket_cap_mb,
                                      gradient_as_bucket_view=impl.grad_views)
        if instrument:
            ddp.register_comm_hook(log, counting_fp16_hook if impl.fp16
                                   else counting_allreduce_hook)
            ddp._set_ddp_runtime_logging_sample_rate(1)  # its timers on every step
        elif impl.fp16:
            from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

            ddp.register_comm_hook(None, default_hooks.fp16_compress_hook)
        return ddp
    from syslab.train.dataparallel import make_dataparallel

    options = {"rebuild_buckets": True} if impl.rebuild else {}
    if impl.grad_views:
        options["gradient_as_bucket_view"] = True
    return make_dataparallel(impl.rung, module,
                             bucket_cap_mb=DDP_DEFAULT_CAP_MB if bucket_cap_mb is None
                             else bucket_cap_mb,
                             first_bucket_mb=DDP_DEFAULT_FIRST_BUCKET_MB if bucket_cap_mb is None
                             else None,
                             compression="fp16" if impl.fp16 else None, comm_log=log,
                             **options)


def sync_context(impl: Impl, model: torch.nn.Module) -> AbstractContextManager:
    """`model.no_sync()` for the no-communication variant, else nothing. It must wrap the
    forward as well as the backward: DDP arms its reducer in forward."""
    return model.no_sync() if impl.no_sync else nullcontext()
