"""Replaying one iteration's backward against a serial communication stream (Daydream-lite).

DDP launches a bucket's allreduce once every gradient in it is ready, and launches buckets
strictly in bucket-index order (every rank must issue the same collectives in the same
order); gloo then runs them one after another. So the timeline is a single-server queue:

    ready_b = max(ready_s of b's parameters)
    start_b = max(ready_b, end_{b-1})
    end_b   = start_b + launch_overhead + T_allreduce(bytes_b, n)

and the iteration ends when both backward and the last allreduce are done, plus optimizer.
Times in the timeline are seconds from the start of backward.

On a CPU the allreduce's copies and reductions run on the same cores as backward, so an
overlapped bucket is not free: with `cpu_steal` s, backward computes at rate 1 - s while an
allreduce is running (s = 0: a GPU with its own copy engines; the profile's ready times are
then wall times, as before). Ready times are positions in the backward *work*, and the
replay maps them to wall time through the communication intervals seen so far (`_Compute`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syslab.train.perfmodel.allreduce import AlphaBeta
from syslab.train.perfmodel.buckets import bucket_bytes
from syslab.train.perfmodel.profile import ComputeProfile


@dataclass(frozen=True)
class BucketTiming:
    """One bucket's allreduce in the replay: seconds from backward start."""

    index: int
    nbytes: int
    ready_s: float
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Replay:
    """A predicted iteration.

    `comm_s` is the communication stream's busy time (sum of bucket durations, launch
    overheads included). `overlap_s` is the part of it that runs while backward is still
    computing (hidden), `exposed_comm_s` = max(0, last end - backward_s) the part the
    iteration waits for. Because every gradient is ready by the end of backward, the stream
    never idles after it, so overlap_s + exposed_comm_s == comm_s (DDP's logger reports the
    same split as backward_comm and backward_compute_comm_overlap).
    """

    iteration_s: float
    data_s: float
    forward_s: float
    backward_s: float
    optimizer_s: float
    comm_s: float
    exposed_comm_s: float
    overlap_s: float
    buckets: tuple[BucketTiming, ...]

    @property
    def overlap_fraction(self) -> float:
        """Share of communication hidden under backward (0 when there is none)."""
        return self.overlap_s / self.comm_s if self.comm_s > 0 else 0.0


class _Compute:
    """Backward's progress in work-seconds against wall time, slowed inside the allreduce
    intervals added so far (each added interval starts no earlier than the current time)."""

    def __init__(self, steal: float) -> None:
        self.rate_under_comm = 1.0 - steal
        self.t = 0.0
        self.work = 0.0
        self.intervals: list[tuple[float, float]] = []

    def reach(self, work: float) -> float:
        """Wall time at which backward has done `work` seconds of its (uncontended) work."""
        while self.work < work:
            rate, until = 1.0, float("inf")
            for start, end in self.intervals:
                if start <= self.t < end:
                    rate, until = self.rate_under_comm, end
                    break
                if start > self.t:
                    until = min(until, start)
            needed = (work - self.work) / rate if rate > 0 else float("inf")
            if self.t + needed <= until:
                self.t, self.work = self.t + needed, work
            else:
                self.work += (until - self.t) * rate
                self.t = until
        return self.t


def replay(profile: ComputeProfile, buckets: Sequence[Sequence[int]], comm: AlphaBeta, n: int,
           *, launch_overhead_s: float = 0.0, overlap: bool = True,
           cpu_steal: float = 0.0) -> Replay:
    """Replay `profile`'s backward with `buckets` (bucket 0 launched first) on `n` ranks.

    `launch_overhead_s` is a fixed per-bucket cost that occupies the stream before the
    transfer (enqueue, copy into the flat bucket buffer: about 4 ms per bucket in the CPU
    traces). `overlap=False` holds every bucket until backward ends: the bucketed,
    after-backward rung. With n == 1 there is no communication at all; `buckets` is then
    only checked, and the result is the bare compute time. `cpu_steal` in [0, 1] is the
    share of backward's speed an allreduce takes while both run (see the module docstring;
    1: backward waits while an allreduce runs, the two never share time).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if launch_overhead_s < 0:
        raise ValueError(f"launch_overhead_s must be >= 0, got {launch_overhead_s}")
    if not 0.0 <= cpu_steal <= 1.0:
        raise ValueError(f"cpu_steal must be in [0, 1], got {cpu_steal}")
    count = len(profile.param_bytes)
    members = sorted(i for bucket in buckets for i in bucket)
    if members != list(range(count)) or any(len(bucket) == 0 for bucket in buckets):
        raise ValueError("buckets must be non-empty and hold every parameter exactly once")

    compute = _Compute(cpu_steal)
    timings: list[BucketTiming] = []
    if n > 1:
        stream_free = 0.0
        # Without overlap nothing runs under backward: its end is known before any launch.
        backward_end = None if overlap else compute.reach(profile.backward_s)
        for index, (bucket, nbytes) in enumerate(
                zip(buckets, bucket_bytes(buckets, profile.param_bytes), strict=True)):
            ready = compute.reach(max(profile.ready_s[i] for i in bucket))
            start = max(ready if backward_end is None else backward_end, stream_free)
            end = start + launch_overhead_s + comm.time(nbytes, n)
            compute.intervals.append((start, end))
            timings.append(BucketTiming(index, nbytes, ready, start, end))
            stream_free = end
    backward = compute.reach(profile.backward_s)

    comm_s = sum(t.duration_s for t in timings)
    overlap_s = sum(max(0.0, min(t.end_s, backward) - min(t.start_s, backward))
                    for t in timings)
    last_end = timings[-1].end_s if timings else 0.0
    exposed = max(0.0, last_end - backward)
    iteration = (profile.data_s + profile.forward_s + max(backward, last_end)
                 + profile.optimizer_s)
    return Replay(iteration_s=iteration, data_s=profile.data_s, forward_s=profile.forward_s,
                  backward_s=backward, optimizer_s=profile.optimizer_s, comm_s=comm_s,
                  exposed_comm_s=exposed, overlap_s=overlap_s, buckets=tuple(timings))
