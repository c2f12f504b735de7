"""Bucket assignment and flat bucket storage, as torch DDP's reducer lays them out.

`assign_buckets` is DDP's `compute_bucket_assignment_by_size` for the case where the order is
given (its rebuild path): walk the parameters in that order, keep one open bucket per
(dtype, device), and close it as soon as it holds at least its limit. The first bucket of each
key gets `limits[0]`, every later one the last limit. A bucket therefore overshoots its cap by
less than its last tensor, and a tensor larger than the cap closes the bucket it lands in.

DDP's first iteration differs: with find_unused_parameters=False it uses one bucket for all
parameters, in `parameters()` order, then rebuilds from the observed gradient-ready order
(the overlap rung's `rebuild_buckets` does the same). The bucketed and overlap rungs otherwise
start from the layout that rebuild produces when gradients arrive in reverse `parameters()`
order, the usual case for a feed-forward model, so the small first bucket (if any) holds the
last layers, whose gradients are ready first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from syslab.train.perfmodel.buckets import assign_buckets as buckets_by_size


def assign_buckets(params: Sequence[torch.Tensor], order: Sequence[int],
                   limits: Sequence[int]) -> list[list[int]]:
    """Parameter indices per bucket, buckets in launch order, each in `order`'s order: the
    performance model's `assign_buckets` (one rule for what runs and what is replayed), with
    each tensor's (dtype, device) as its key and `limits` = [first cap, cap]."""
    first, cap = limits[0], limits[-1]
    return buckets_by_size([p.numel() * p.element_size() for p in params], cap, first, order,
                           keys=[(p.dtype, p.device) for p in params])


@dataclass
class Bucket:
    """One flat gradient buffer and its parameters' slots in it."""

    index: int
    params: list[int]
    flat: torch.Tensor
    views: list[torch.Tensor]

    @property
    def nbytes(self) -> int:
        return self.flat.numel() * self.flat.element_size()


def build_buckets(params: Sequence[torch.Tensor], assignment: Sequence[Sequence[int]]
                  ) -> list[Bucket]:
    """Allocate one zeroed flat tensor per bucket, with a view shaped like each parameter."""
    buckets = []
    for b, indices in enumerate(assignment):
        first = params[indices[0]]
        total = sum(params[i].numel() for i in indices)
        flat = torch.zeros(total, dtype=first.dtype, device=first.device)
        views, offset = [], 0
        for i in indices:
            n = params[i].numel()
            views.append(flat[offset:offset + n].view(params[i].shape))
            offset += n
        buckets.append(Bucket(b, list(indices), flat, views))
    return buckets


def bucket_limits(first_bucket_bytes: int, bucket_bytes_cap: int) -> list[int]:
    """DDP's `bucket_size_limits`: the first bucket's cap, then every other bucket's."""
    return [first_bucket_bytes, bucket_bytes_cap]
