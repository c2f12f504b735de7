"""Counting what data-parallel training hands to the network, bucket by bucket.

`CommLog` is the one record both torch DDP (through a communication hook) and our own
DataParallel write: for every bucket, its payload bytes, when its allreduce was launched and
when it completed. Payload bytes are exact (the bytes of the tensors handed to allreduce);
wire bytes come from interface counters (`netns.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass


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
