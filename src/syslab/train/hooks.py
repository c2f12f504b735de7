"""Counting what data-parallel training hands to the network, bucket by bucket.

`CommLog` is the one record both torch DDP (through a communication hook) and our own
DataParallel write: for every bucket, its payload bytes, when its allreduce was launched and
when it completed. Payload bytes are exact (the bytes of the tensors handed to allreduce);
wire bytes come from interface counters (`netns.py`).
"""

# No `from __future__ import annotations`: DDP checks a hook's return annotation at runtime
# against torch.futures.Future[torch.Tensor], and a string would fail that check.

import time
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class BucketEvent:
    """One allreduce: bucket index, payload bytes, launch and completion (perf_counter s)."""

    index: int
    payload_bytes: int
    launched: float
    done: float | None = None


class CommLog:
    """Bucket events since the last `take()`, and the payload bytes ever handed to allreduce.

    `done` is called from the communication library's completion callback (another thread);
    appending to a list and assigning a float are atomic under the GIL, so no lock is needed.
    """

    def __init__(self) -> None:
        self.events: list[BucketEvent] = []
        self.payload_bytes = 0

    def launch(self, index: int, payload_bytes: int) -> BucketEvent:
        event = BucketEvent(index, payload_bytes, time.perf_counter())
        self.events.append(event)
        self.payload_bytes += payload_bytes
        return event

    @staticmethod
    def done(event: BucketEvent) -> None:
        event.done = time.perf_counter()

    def take(self) -> list[BucketEvent]:
        """The events since the last call (one iteration's), oldest first."""
        events, self.events = self.events, []
        return events


def counting_allreduce_hook(log: CommLog, bucket) -> torch.futures.Future[torch.Tensor]:
    """torch DDP's default `allreduce_hook` (pre-divide, sum, same result), plus a CommLog
    entry per bucket: payload bytes and launch-to-completion time."""
    tensor = bucket.buffer()
    event = log.launch(bucket.index(), tensor.numel() * tensor.element_size())
    tensor.div_(dist.get_world_size())

    def finished(fut: torch.futures.Future) -> torch.Tensor:
        CommLog.done(event)
        return fut.value()[0]

    return dist.all_reduce(tensor, async_op=True).get_future().then(finished)


def counting_fp16_hook(log: CommLog, bucket) -> torch.futures.Future[torch.Tensor]:
    """torch DDP's `fp16_compress_hook` (cast to half, pre-divide, sum, cast back), plus a
    CommLog entry: the payload is the half-precision tensor, so half the bytes."""
    buffer = bucket.buffer()
    compressed = buffer.to(torch.float16).div_(dist.get_world_size())
    event = log.launch(bucket.index(), compressed.numel() * compressed.element_size())

    def finished(fut: torch.futures.Future) -> torch.Tensor:
        CommLog.done(event)
        buffer.copy_(fut.value()[0])
        return buffer

    return dist.all_reduce(compressed, async_op=True).get_future().then(finished)
