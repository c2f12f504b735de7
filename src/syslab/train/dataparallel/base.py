"""The interface every rung shares: a module wrapper that averages gradients like torch DDP.

What DDP does, and so what this base does, apart from how gradients are grouped and when they
are sent (the rungs differ only there):

- On construction, parameters and buffers are broadcast from rank 0, so every replica starts
  identical whatever each rank's seed was.
- `forward` broadcasts buffers (BatchNorm running statistics) from rank 0 before calling the
  module, but only when the previous forward was a synchronised one (grad enabled, outside
  `no_sync`): DDP tracks this as `require_forward_param_sync`, and we copy the rule so that
  buffers stay bit-identical with DDP's too.
- A synchronised forward *arms* the wrapper, as DDP's `prepare_for_backward` arms its reducer.
  The first gradient hook of the following backward queues a callback at the end of the
  autograd graph task (`Variable._execution_engine.queue_callback`), where the rung finishes
  its communication, so when `loss.backward()` returns every `.grad` is the average over ranks.
- `no_sync()` keeps the wrapper from arming: gradients accumulate locally and the next
  synchronised backward reduces the sum. Because arming happens in forward, `no_sync` must wrap
  the forward too. DDP has the same gotcha: with only the backward inside `no_sync`, the
  forward already armed the reducer and the backward still allreduces.
- Averaging pre-divides. DDP (without a comm hook) multiplies each gradient by 1/world_size
  while copying it into its bucket (`at::mul_out(bucket_view, grad, 1/div_factor)`), or divides
  a gradient already living in its bucket in place (`div_`), then allreduces the sum. Both
  rounding steps are reproduced here, so results are bit-identical whenever the summation order
  is (always at 2 ranks, where a sum has one addition). With fp16 compression the gradient is
  copied unscaled, cast to float16, divided by world_size in float16, allreduced and copied
  back, exactly as torch's `fp16_compress_hook`.
- Every parameter must get a gradient in every synchronised backward (DDP's default,
  `find_unused_parameters=False`). Where one does not, the callback raises a RuntimeError
  naming it instead of waiting for a bucket that never fills.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from syslab.common.errors import UserError
from syslab.train.hooks import BucketEvent, CommLog

MIB = 1024 * 1024  # DDP's bucket_cap_mb is MiB
COMPRESSIONS = ("fp16",)


@dataclass
class InFlight:
    """One launched allreduce: the future to wait for, and where its result belongs.

    `payload` is the tensor handed to allreduce; when it is not `flat` itself (fp16) the
    result is cast back into `flat` on completion.
    """

    future: torch.futures.Future
    flat: torch.Tensor
    payload: torch.Tensor

    def finish(self) -> None:
        """Wait for the allreduce and leave the averaged values in `flat`."""
        self.future.wait()
        if self.payload is not self.flat:
            self.flat.copy_(self.payload)


def _mark_done(event: BucketEvent, _future: torch.futures.Future) -> None:
    """Completion callback (gloo's thread): stamps the bucket's done time."""
    CommLog.done(event)


class DataParallel(nn.Module, ABC):
    """Wraps `module` so that, after `loss.backward()`, each `.grad` is the mean over ranks.

    Subclasses (the rungs) decide how gradients become allreduces: `_on_grad_ready` sees each
    parameter as its gradient is accumulated, `_reduce_gradients` runs at the end of backward
    and must leave the averages in `.grad`.
    """

    def __init__(self, module: nn.Module, *, process_group: dist.ProcessGroup | None = None,
                 bucket_cap_mb: float = 25.0, first_bucket_mb: float | None = None,
                 compression: str | None = None, broadcast_buffers: bool = True,
                 comm_log: CommLog | None = None) -> None:
        super().__init__()
        if compression is not None and compression not in COMPRESSIONS:
            raise UserError(f"unknown compression {compression!r}; known: "
                            f"{', '.join(COMPRESSIONS)} (or none)")
        if bucket_cap_mb <= 0 or (first_bucket_mb is not None and first_bucket_mb <= 0):
            raise UserError("bucket sizes must be positive (MiB)")
        if not dist.is_available() or not dist.is_initialized():
            raise RuntimeError("DataParallel needs an initialised torch.distributed "
                               "process group (dist.init_process_group)")
        self.module = module
        self.process_group = process_group
        self.world_size = dist.get_world_size(process_group)
        self.bucket_bytes_cap = int(bucket_cap_mb * MIB)
        # DDP's rule: the first bucket is as large as the others unless asked otherwise.
        self.first_bucket_bytes = (int(first_bucket_mb * MIB) if first_bucket_mb is not None
                                   else self.bucket_bytes_cap)
        self.compression = compression
        self.broadcast_buffers = broadcast_buffers
        self.comm_log = comm_log
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self.param_names: list[str] = [n for n, _ in named]
        self.params: list[nn.Parameter] = [p for _, p in named]
        self.require_backward_grad_sync = True
        self._require_forward_param_sync = True
        self._armed = False
        self._callback_queued = False
        self._ready: list[bool] = [False] * len(self.params)
        self._sync_module_states()
        self._hook_handles = [p.register_post_accumulate_grad_hook(partial(self._grad_hook, i))
                              for i, p in enumerate(self.params)]

    # -- what the rungs provide ------------------------------------------------------------

    def _on_arm(self) -> None:  # noqa: B027 - optional hook, most rungs keep no state
        """Reset per-iteration state; called by every synchronised forward."""

    def _on_grad_ready(self, index: int, param: nn.Parameter) -> None:  # noqa: B027
        """Parameter `index` has its full gradient for this backward (armed iterations only)."""

    def _before_forward(self) -> None:  # noqa: B027 - only overlap rebuilds its buckets
        """Runs at the start of every forward with grad enabled, before buffers are synced."""

    def _abandon(self) -> None:  # noqa: B027 - only overlap launches during backward
        """Wait for allreduces already launched in a backward that is about to fail."""

    @abstractmethod
    def _reduce_gradients(self) -> None:
        """End of an armed backward, every parameter ready: leave the averages in `.grad`."""

    # -- the public surface ------------------------------------------------------------------

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        """Sync buffers (as DDP does), run the module, and arm for backward when syncing."""
        grad_enabled = torch.is_grad_enabled()
        if grad_enabled:
            self._before_forward()
        if self.broadcast_buffers and self._require_forward_param_sync:
            self._sync_buffers()
        output = self.module(*inputs, **kwargs)
        if grad_enabled and self.require_backward_grad_sync:
            self._require_forward_param_sync = True
            self._arm()
        else:
            self._require_forward_param_sync = False
        return output

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Accumulate gradients locally, with no communication, for forwards run inside.

        Wrap forward *and* backward: the wrapper (like DDP's reducer) is armed in forward, so a
        forward outside followed by a backward inside still allreduces.
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # -- machinery -----------------------------------------------------------------------------

    def _arm(self) -> None:
        self._armed = True
        self._callback_queued = False
        self._ready = [False] * len(self.params)
        self._on_arm()

    def _grad_hook(self, index: int, param: nn.Parameter) -> None:
        """Post-accumulate-grad hook of parameter `index` (on the autograd thread)."""
        if not self._armed:
            return
        if param.grad is None or param.grad.layout != torch.strided:
            raise RuntimeError(f"DataParallel supports dense gradients only "
                               f"(parameter {self.param_names[index]!r})")
        if not self._callback_queued:
            self._callback_queued = True
            torch.autograd.Variable._execution_engine.queue_callback(self._finalize_backward)
        self._ready[index] = True
        self._on_grad_ready(index, param)

    def _finalize_backward(self) -> None:
        """Queued at the end of the armed backward: check readiness, then finish reducing."""
        self._armed = False
        missing = [name for name, ready in zip(self.param_names, self._ready, strict=True)
                   if not ready]
        if missing:
            self._abandon()
            raise RuntimeError(
                f"DataParallel: {len(missing)} parameter(s) received no gradient in this "
                f"backward: {', '.join(missing)}. Every parameter must take part in the loss "
                "of every synchronised iteration (like DDP with find_unused_parameters=False); "
                "remove unused parameters or set requires_grad=False on them.")
        self._reduce_gradients()

    def _copy_in(self, grad: torch.Tensor, view: torch.Tensor) -> None:
        """Copy a gradient into its bucket slot, pre-divided as DDP does (see module doc)."""
        if self.compression is None:
            torch.mul(grad, 1.0 / self.world_size, out=view)
        else:
            view.copy_(grad)

    def _divide_in_place(self, view: torch.Tensor) -> None:
        """Pre-divide a gradient that already lives in its bucket (DDP's `div_` branch)."""
        if self.compression is None:
            view.div_(self.world_size)

    def _launch(self, index: int, flat: torch.Tensor) -> InFlight:
        """Allreduce `flat` (pre-divided, or raw when compressing) asynchronously, logged."""
        if self.compression == "fp16":
            payload = flat.to(torch.float16).div_(self.world_size)
        else:
            payload = flat
        event = None
        if self.comm_log is not None:
            event = self.comm_log.launch(index, payload.numel() * payload.element_size())
        work = dist.all_reduce(payload, group=self.process_group, async_op=True)
        future = work.get_future()
        if event is not None:
            future = future.then(partial(_mark_done, event))
        return InFlight(future, flat, payload)

    def _broadcast_from_rank0(self, tensors: list[torch.Tensor]) -> None:
        """Overwrite `tensors` with rank 0's values: one flat broadcast per dtype."""
        by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
        for t in tensors:
            by_dtype.setdefault(t.dtype, []).append(t)
        with torch.no_grad():
            for group in by_dtype.values():
                flat = torch.cat([t.detach().reshape(-1) for t in group])
                dist.broadcast(flat, group=self.process_group, group_src=0)
                offset = 0
                for t in group:
                    t.copy_(flat[offset:offset + t.numel()].view_as(t))
                    offset += t.numel()

    def _sync_module_states(self) -> None:
        states = [p.detach() for p in self.module.parameters()]
        states += [b.detach() for b in self.module.buffers()]
        if states:
            self._broadcast_from_rank0(states)

    def _sync_buffers(self) -> None:
        # Collected every time, as DDP does, in case the module reassigned a buffer.
        buffers = [b.detach() for b in self.module.buffers()]
        if not buffers:
            return
        # Like DDP: a buffer saved for backward (eval-mode BatchNorm) must not look modified.
        with torch.autograd._unsafe_preserve_version_counter(tuple(buffers)):
            self._broadcast_from_rank0(buffers)

