"""Rung 3: buckets launched during backward, as soon as they are full.

Each parameter's post-accumulate-grad hook copies its gradient (pre-divided) into its bucket
slot; when a bucket's last gradient arrives, the bucket is ready. Ready buckets are launched
strictly in bucket-index order: a bucket that fills early waits for its predecessors, as in
DDP, because every rank must issue the same sequence of collectives (gloo matches them by
order, and a rank whose gradients arrive in a different order would otherwise pair unrelated
buckets). The allreduces then run while autograd keeps computing earlier layers' gradients;
the callback at the end of backward only waits for the last ones and copies results back.

Options, both DDP's:

- `rebuild_buckets`: DDP's bucket schedule. The first synchronised iteration reduces one
  bucket of all parameters (DDP's first iteration, when it does not yet know the order);
  before the next forward the buckets are rebuilt, with the caps, from the gradient-ready
  order observed then (rank 0's order, broadcast so all ranks agree), so that a bucket's
  members really do become ready together. DDP always does this, once.
- `gradient_as_bucket_view`: make each `.grad` a view into its bucket, so there is no
  copy-out, and with `zero_grad(set_to_none=False)` backward accumulates straight into the
  bucket from the second iteration on, so no copy-in either (the gradient is divided in
  place, DDP's `div_`). With the default `set_to_none=True` autograd allocates a fresh
  gradient every iteration, which is copied in and then replaced by the view, as in DDP.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from syslab.train.dataparallel.base import InFlight
from syslab.train.dataparallel.bucketed import BucketedDataParallel
from syslab.train.dataparallel.bucketing import bucket_limits


class OverlapDataParallel(BucketedDataParallel):
    """Buckets allreduced from gradient hooks during backward, in bucket-index order."""

    def __init__(self, module: nn.Module, *, rebuild_buckets: bool = False,
                 gradient_as_bucket_view: bool = False, **kwargs: Any) -> None:
        self.rebuild_buckets = rebuild_buckets
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.has_rebuilt_buckets = False
        self.ready_order: list[int] = []
        self._locator: list[tuple[int, int]] = []
        self._pending: list[int] = []
        self._bucket_ready: list[bool] = []
        self._next_launch = 0
        self._in_flight: list[InFlight] = []
        super().__init__(module, **kwargs)

    def _initial_layout(self) -> tuple[list[int], list[int]]:
        """With `rebuild_buckets`, DDP's whole schedule: its first iteration (with
        find_unused_parameters=False) reduces one bucket holding every parameter in
        `parameters()` order, and only the rebuilt buckets are capped. Matching it makes the
        flat layouts, hence gloo's summation order, equal to DDP's at any world size."""
        if self.rebuild_buckets:
            return list(range(len(self.params))), [sys.maxsize]
        return super()._initial_layout()

    def _set_buckets(self, order: list[int], limits: list[int]) -> None:
        super()._set_buckets(order, limits)
        self._locator = [(0, 0)] * len(self.params)
        for bucket in self.buckets:
            for k, i in enumerate(bucket.params):
                self._locator[i] = (bucket.index, k)
        if self.gradient_as_bucket_view:
            self._point_grads_at_buckets()

    def _point_grads_at_buckets(self) -> None:
        """Existing gradients move into their bucket slots and become views of them."""
        with torch.no_grad():
            for bucket in self.buckets:
                for i, view in zip(bucket.params, bucket.views, strict=True):
                    param = self.params[i]
                    if param.grad is not None and param.grad.data_ptr() != view.data_ptr():
                        view.copy_(param.grad)
                        param.grad = view

    def _before_forward(self) -> None:
        """Rebuild once, before the forward after the first complete synchronised backward
        (DDP's moment: new buckets are allocated before the activations' peak)."""
        if (self.rebuild_buckets and not self.has_rebuilt_buckets
                and len(self.ready_order) == len(self.params)):
            order = torch.tensor(self.ready_order, dtype=torch.int64)
            dist.broadcast(order, group=self.process_group, group_src=0)
            self._set_buckets(order.tolist(),
                              bucket_limits(self.first_bucket_bytes, self.bucket_bytes_cap))
            self.has_rebuilt_buckets = True

    def _on_arm(self) -> None:
        self._abandon()  # a backward that raised midway may have left allreduces running
        self._pending = [len(b.params) for b in self.buckets]
        self._bucket_ready = [False] * len(self.buckets)
        self._next_launch = 0
        if self.rebuild_buckets and not self.has_rebuilt_buckets:
            self.ready_order = []

    def _on_grad_ready(self, index: int, param: nn.Parameter) -> None:
        if self.rebuild_buckets and not self.has_rebuilt_buckets:
            self.ready_order.append(index)
        b, k = self._locator[index]
        bucket = self.buckets[b]
        view, grad = bucket.views[k], param.grad
        if grad.data_ptr() == view.data_ptr():
            self._divide_in_place(view)  # accumulated straight into the bucket
        else:
            self._copy_in(grad, view)
            if self.gradient_as_bucket_view:
                param.grad = view
        self._pending[b] -= 1
        if self._pending[b] == 0:
            self._bucket_ready[b] = True
            while (self._next_launch < len(self.buckets)
                   and self._bucket_ready[self._next_launch]):
                ready = self.buckets[self._next_launch]
                self._in_flight.append(self._launch(ready.index, ready.flat))
                self._next_launch += 1

    def _reduce_gradients(self) -> None:
        in_flight, self._in_flight = self._in_flight, []
        for bucket, pending in zip(self.buckets, in_flight, strict=True):
            pending.finish()
            self._copy_out(bucket)

    def _abandon(self) -> None:
        in_flight, self._in_flight = self._in_flight, []
        for pending in in_flight:
            pending.future.wait()
