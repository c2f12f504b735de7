"""Per-iteration timers: where one data-parallel training step spends its time.

One step is split into five phases that add up to the step:

    data | forward | backward compute | exposed communication | optimizer

- *forward* runs the model and the loss (DDP's forward also broadcasts buffers);
- *backward compute* ends when the last parameter's gradient is accumulated (a
  post-accumulate-grad hook on every parameter notes the time: `GradReadyClock`);
- *exposed communication* is the rest of `loss.backward()`: waiting for the allreduces that
  did not finish under the backward computation (DDP and our DataParallel both block at the
  end of backward until gradients are averaged);
- communication hidden under backward shows as bucket intervals (`CommLog`) that end
  before the last gradient is ready.

The timers' own cost is counted too (`TimerCost`), so a report can say what measuring cost.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch

from syslab.train.hooks import BucketEvent

PHASES = ("data", "forward", "backward_compute", "exposed_comm", "optimizer")


class GradReadyClock:
    """Notes, for every parameter, when its gradient was last accumulated (perf_counter s)."""

    def __init__(self, params: Sequence[torch.nn.Parameter]) -> None:
        self.ready = [0.0] * len(params)
        self.calls = 0
        self._handles = [p.register_post_accumulate_grad_hook(self._hook(i))
                         for i, p in enumerate(params)]

    def _hook(self, index: int):
        ready = self.ready

        def note(_param: torch.Tensor) -> None:
            ready[index] = time.perf_counter()

        return note

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def union_length(intervals: Sequence[tuple[float, float]]) -> float:
    """Total time covered by possibly overlapping [start, end) intervals (gloo may run
    collectives on several threads at once)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


@dataclass
class IterationTimes:
    """One training step, in seconds, with its communication per bucket.

    `comm_busy` is the time some allreduce was running; `comm_span` runs from the first
    launch to the last completion and `overlap` from the first launch to the end of the
    backward computation (DDP's logger measures these two the same way).

    `buckets` holds (payload bytes, launch, completion) relative to the start of backward;
    `ready` each parameter's gradient-ready time relative to the start of backward (None
    when it got no gradient).
    """

    data: float
    forward: float
    backward_compute: float
    exposed_comm: float
    optimizer: float
    comm_busy: float
    comm_span: float
    overlap: float
    payload_bytes: int
    buckets: list[tuple[int, float, float]] = field(default_factory=list)
    ready: list[float | None] = field(default_factory=list)
    # The same step cut where DDP's logger cuts it, for the cross-check: its backward compute
    # ends with the autograd graph, after the reducer copied the last gradients into their
    # bucket and launched it; its communication runs from the first bucket's launch to the
    # end of backward, when the averaged gradients have been copied back.
    logger_backward_compute: float = 0.0
    logger_comm: float = 0.0

    @property
    def total(self) -> float:
        return sum(getattr(self, phase) for phase in PHASES)

    @property
    def hidden_comm(self) -> float:
        """Communication time that ran under the backward computation."""
        return max(0.0, self.comm_busy - self.exposed_comm)

    def to_dict(self) -> dict:
        return {**asdict(self), "total": self.total}

    @classmethod
    def from_dict(cls, d: dict) -> IterationTimes:
        return cls(**{k: v for k, v in d.items() if k != "total"})


def iteration_times(marks: dict[str, float], ready: Sequence[float],
                    events: Sequence[BucketEvent]) -> IterationTimes:
    """Build one step's record from its phase boundaries (perf_counter s), the gradient-ready
    times and the bucket events. `marks` holds start, data, forward, backward, optimizer (the
    end of each phase); a parameter whose gradient never arrived (ready <= forward end) is
    left out of the last-ready time."""
    start, bwd_start = marks["start"], marks["forward"]
    got = [t for t in ready if t > bwd_start]
    last_ready = min(max(got), marks["backward"]) if got else marks["backward"]
    intervals = [(e.launched, e.done if e.done is not None else marks["backward"])
                 for e in events]
    return IterationTimes(
        data=marks["data"] - start,
        forward=marks["forward"] - marks["data"],
        backward_compute=last_ready - bwd_start,
        exposed_comm=marks["backward"] - last_ready,
        optimizer=marks["optimizer"] - marks["backward"],
        comm_busy=union_length(intervals),
        comm_span=(max(b for _, b in intervals) - min(a for a, _ in intervals)
                   if intervals else 0.0),
        overlap=(max(0.0, last_ready - min(a for a, _ in intervals)) if intervals else 0.0),
        payload_bytes=sum(e.payload_bytes for e in events),
        buckets=[(e.payload_bytes, a - bwd_start, b - bwd_start) for e, (a, b)
                 in zip(events, intervals, strict=True)],
        ready=[t - bwd_start if t > bwd_start else None for t in ready],
        logger_backward_compute=(min(max(last_ready, max(e.launched for e in events)),
                                     marks["backward"]) - bwd_start
                                 if events else last_ready - bwd_start),
        logger_comm=(marks["backward"] - min(a for a, _ in intervals) if intervals else 0.0),
    )
