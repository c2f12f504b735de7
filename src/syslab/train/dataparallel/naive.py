"""Rung 1: one allreduce per parameter, after backward.

The simplest correct data parallelism: when backward has finished, every gradient is launched
as its own asynchronous allreduce (in reverse parameter order, the order DDP expects gradients
to become ready), then all are waited for. Nothing overlaps with computation, and a model with
many small tensors pays the per-collective latency once per tensor: the baseline that
bucketing and overlap improve on.
"""

from __future__ import annotations

import torch

from syslab.train.dataparallel.base import DataParallel, InFlight


class NaiveDataParallel(DataParallel):
    """Per-parameter allreduce after backward; gradients are averaged in place."""

    def _reduce_gradients(self) -> None:
        in_flight: list[tuple[torch.Tensor, InFlight]] = []
        for launch_index, i in enumerate(reversed(range(len(self.params)))):
            grad = self.params[i].grad
            assert grad is not None  # every parameter was ready, checked by the base
            # Pre-divided in place (gloo wants contiguous tensors: a strided one is copied).
            flat = grad if grad.is_contiguous() else torch.empty(
                grad.shape, dtype=grad.dtype, device=grad.device)
            self._copy_in(grad, flat)
            in_flight.append((grad, self._launch(launch_index, flat)))
        for grad, pending in in_flight:
            pending.finish()
            if pending.flat is not grad:
                grad.copy_(pending.flat)

