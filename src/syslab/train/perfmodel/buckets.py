"""DDP's gradient bucket assignment, reproduced without torch.

The rule is `compute_bucket_assignment_by_size` in torch/csrc/distributed/c10d/reducer.cpp
(torch 2.13), for tensors of one dtype on one device:

- walk the tensors in the given order, appending each to the open bucket;
- *after* appending, close the bucket once its size reaches the limit (`size >= limit`), so
  a bucket exceeds its cap by less than its last tensor, and everything but the last
  tensor stays under the cap;
- the limits are a list consumed one per closed bucket, the last one repeating: DDP passes
  `[first_bucket_bytes_cap, bucket_bytes_cap]`, so only the first bucket is small;
- whatever is left open at the end becomes the last bucket (possibly tiny).

Which order and which first cap DDP uses depends on the iteration:

- Steady state (iteration 2 on, what every timing run measures): `Reducer::rebuild_buckets`
  walks the parameters in the gradient-ready order observed in iteration 1, limits
  `[first_bucket_bytes_cap, bucket_bytes_cap]`, and keeps the buckets in walk order (no
  sort). Bucket 0 thus holds the first-ready gradients and is reduced first.
- Iteration 1: one bucket for everything (limit `sys.maxsize`) unless
  `find_unused_parameters=True`; then the parameters are walked in *forward* index order
  and the bucket list is reversed (`ddp_initial_buckets`), which puts the small bucket last.
- `first_bucket_bytes_cap` is 1 MiB (`dist._DEFAULT_FIRST_BUCKET_BYTES`) only when
  `bucket_cap_mb` is left at None; passing any value, even 25, makes the first cap equal to
  the cap (`ddp_bucket_caps`).

Sparse gradients (own bucket) and mixed dtypes/devices (one accumulator per kind) are not
modelled: every model in the lab is dense float32 on one device.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

MIB = 1 << 20
DDP_DEFAULT_CAP_MB = 25
DDP_DEFAULT_FIRST_BUCKET_BYTES = 1 * MIB


def ddp_bucket_caps(bucket_cap_mb: float | None) -> tuple[int, int]:
    """`(cap_bytes, first_cap_bytes)` that torch 2.13 DDP uses for a `bucket_cap_mb` argument.

    None means the defaults, 25 MiB with a 1 MiB first bucket; any explicit value gives that
    cap for every bucket, the first included (`_BucketCapacityConfig.create`).
    """
    if bucket_cap_mb is None:
        return DDP_DEFAULT_CAP_MB * MIB, DDP_DEFAULT_FIRST_BUCKET_BYTES
    if bucket_cap_mb < 0:
        raise ValueError(f"bucket_cap_mb must be >= 0, got {bucket_cap_mb}")
    cap = int(bucket_cap_mb * MIB)
    return cap, cap


def _check_order(order: Sequence[int], count: int) -> list[int]:
    walk = [int(i) for i in order]
    if sorted(walk) != list(range(count)):
        raise ValueError(f"order must be a permutation of range({count})")
    return walk


def assign_buckets(param_bytes: Sequence[int], cap_bytes: int,
                   first_cap_bytes: int | None = None,
                   order: Sequence[int] | None = None,
                   keys: Sequence[Hashable] | None = None) -> list[list[int]]:
    """Group parameter indices into buckets by DDP's rule; bucket 0 is reduced first.

    `order` is the walk order: DDP's gradient-ready order (its logger's
    `prev_iteration_grad_ready_order_indices`), with which this reproduces DDP's rebuilt
    buckets exactly. The default, reverse parameter index order, approximates it for models
    whose layers run in definition order; branches (a ResNet's downsample runs before the
    block it was defined after) and the order within a layer (weight or bias first) make the
    real order differ, and the bucket boundaries move with it. `first_cap_bytes` None means the
    first bucket has the same cap as the others (DDP with an explicit `bucket_cap_mb`).
    Every parameter lands in exactly one bucket, every bucket is non-empty, and within a
    bucket the indices keep walk order. `keys` (e.g. each tensor's dtype and device) keep
    tensors of different kinds in different buckets, each kind with its own first cap.
    """
    if cap_bytes < 0:
        raise ValueError(f"cap_bytes must be >= 0, got {cap_bytes}")
    if first_cap_bytes is None:
        first_cap_bytes = cap_bytes
    if first_cap_bytes < 0:
        raise ValueError(f"first_cap_bytes must be >= 0, got {first_cap_bytes}")
    if any(b < 0 for b in param_bytes):
        raise ValueError("parameter sizes must be >= 0")
    count = len(param_bytes)
    walk = list(reversed(range(count))) if order is None else _check_order(order, count)
    if keys is None:
        keys = [None] * count
    # One open bucket per key, as DDP keeps one per (dtype, device); a key's first closed
    # bucket gets the first cap, every later one the cap.
    buckets: list[list[int]] = []
    open_buckets: dict[Hashable, tuple[list[int], int]] = {}
    closed: dict[Hashable, int] = {}
    for index in walk:
        key = keys[index]
        current, size = open_buckets.get(key, ([], 0))
        current.append(index)
        size += param_bytes[index]
        if size >= (cap_bytes if closed.get(key) else first_cap_bytes):
            buckets.append(current)
            closed[key] = closed.get(key, 0) + 1
            open_buckets.pop(key, None)
        else:
            open_buckets[key] = (current, size)
    # Left-over partial buckets, in the order they were opened (DDP's order here is an
    # unordered_map's; with one dtype, as usual, there is only one).
    buckets.extend(current for current, _ in open_buckets.values())
    return buckets


def ddp_initial_buckets(param_bytes: Sequence[int], cap_bytes: int,
                        first_cap_bytes: int | None = None) -> list[list[int]]:
    """DDP's iteration-1 buckets with `find_unused_parameters=True`: walk forward index
    order, then reverse the bucket list (distributed.py `_ddp_init_helper`).

    The small first-cap bucket then holds parameters 0.. and is reduced *last*, which keeps
    the tail after backward short. Only iteration 1 uses it; `assign_buckets` models the
    rebuilt buckets every later iteration runs with.
    """
    forward = assign_buckets(param_bytes, cap_bytes, first_cap_bytes,
                             order=range(len(param_bytes)))
    return list(reversed(forward))


def bucket_bytes(buckets: Sequence[Sequence[int]], param_bytes: Sequence[int]) -> list[int]:
    """Payload bytes of each bucket: the sum of its parameters' sizes (what allreduce sends)."""
    return [sum(param_bytes[i] for i in bucket) for bucket in buckets]
