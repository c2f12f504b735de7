"""Rung 2: flat buckets, allreduced after backward.

When backward has finished, gradients are copied (pre-divided) into flat buckets laid out as
DDP's (`bucketing.py`), one allreduce per bucket is launched as soon as its bucket is filled,
and the averages are copied back into `.grad`. Fewer, larger collectives amortise the
per-collective latency; the price is two copies of every gradient and no overlap with
backward.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from syslab.train.dataparallel.base import DataParallel, InFlight
from syslab.train.dataparallel.bucketing import (
    Bucket,
    assign_buckets,
    bucket_limits,
    build_buckets,
)


class BucketedDataParallel(DataParallel):
    """Gradients copied into DDP-layout buckets after backward, one allreduce per bucket."""

    def __init__(self, module: nn.Module, **kwargs: Any) -> None:
        super().__init__(module, **kwargs)
        self.buckets: list[Bucket] = []
        self._set_buckets(*self._initial_layout())

    def _initial_layout(self) -> tuple[list[int], list[int]]:
        """Parameter order and size limits of the first buckets: gradients expected in
        reverse `parameters()` order, DDP's caps (see `bucketing.py`)."""
        return (list(reversed(range(len(self.params)))),
                bucket_limits(self.first_bucket_bytes, self.bucket_bytes_cap))

    def _set_buckets(self, order: list[int], limits: list[int]) -> None:
        """Lay the buckets out for gradients arriving in `order` (parameter indices)."""
        self.buckets = build_buckets(self.params, assign_buckets(self.params, order, limits))

    @property
    def bucket_sizes(self) -> list[int]:
        """Bytes per bucket, in launch order (compare DDP's logging data `bucket_sizes`)."""
        return [b.nbytes for b in self.buckets]

    def _reduce_gradients(self) -> None:
        in_flight: list[InFlight] = []
        for bucket in self.buckets:
            for i, view in zip(bucket.params, bucket.views, strict=True):
                self._copy_in(self.params[i].grad, view)
            in_flight.append(self._launch(bucket.index, bucket.flat))
        for bucket, pending in zip(self.buckets, in_flight, strict=True):
            pending.finish()
            self._copy_out(bucket)

    def _copy_out(self, bucket: Bucket) -> None:
        for i, view in zip(bucket.params, bucket.views, strict=True):
            grad = self.params[i].grad
            if grad.data_ptr() != view.data_ptr():
                grad.copy_(view)
