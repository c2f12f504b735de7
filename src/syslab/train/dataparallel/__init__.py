"""Our own DataParallel, in rungs, each compared bit for bit with torch DDP.

- `naive`: one allreduce per parameter after backward.
- `bucketed`: DDP-layout flat buckets, one allreduce each, after backward.
- `overlap`: buckets launched from gradient hooks during backward, in bucket-index order;
  options `rebuild_buckets` and `gradient_as_bucket_view` as DDP's.

All take `compression="fp16"` (torch's `fp16_compress_hook`), `no_sync()`, buffer broadcast
and a `CommLog`; see `base.py` for what they share with DDP and why.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from syslab.common.errors import UserError
from syslab.train.dataparallel.base import DataParallel
from syslab.train.dataparallel.bucketed import BucketedDataParallel
from syslab.train.dataparallel.naive import NaiveDataParallel
from syslab.train.dataparallel.overlap import OverlapDataParallel

RUNGS: dict[str, type[DataParallel]] = {
    "naive": NaiveDataParallel,
    "bucketed": BucketedDataParallel,
    "overlap": OverlapDataParallel,
}


def make_dataparallel(rung: str, module: nn.Module, **kwargs: Any) -> DataParallel:
    """`module` wrapped by the rung called `rung` (keyword options as the rung's class)."""
    try:
        cls = RUNGS[rung]
    except KeyError:
        raise UserError(f"unknown DataParallel rung {rung!r}; known: "
                        f"{', '.join(RUNGS)}") from None
    return cls(module, **kwargs)


__all__ = [
    "RUNGS",
    "BucketedDataParallel",
    "DataParallel",
    "NaiveDataParallel",
    "OverlapDataParallel",
    "make_dataparallel",
]
