"""Per-step timers: phases add up, communication is measured as DDP's logger measures it."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from syslab.train.hooks import BucketEvent, CommLog
from syslab.train.timers import GradReadyClock, IterationTimes, iteration_times, union_length


def test_union_length_merges_overlaps_and_skips_contained() -> None:
    assert union_length([]) == 0
    assert union_length([(0, 1), (2, 3)]) == 2
    assert union_length([(0, 2), (1, 3)]) == 3
    assert union_length([(0, 5), (1, 2), (3, 4)]) == 5


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 10)), max_size=20))
def test_union_length_is_bounded_by_span_and_sum(raw: list[tuple[float, float]]) -> None:
    intervals = [(a, a + d) for a, d in raw]
    total = union_length(intervals)
    assert total <= sum(d for _, d in raw) + 1e-9
    if intervals:
        assert total <= max(b for _, b in intervals) - min(a for a, _ in intervals) + 1e-9
        assert total >= max(d for _, d in raw) - 1e-9


def test_iteration_times_splits_backward_at_the_last_ready_gradient() -> None:
    marks = {"start": 0.0, "data": 0.01, "forward": 0.11, "backward": 0.51, "optimizer": 0.55}
    ready = [0.45, 0.30, 0.20]  # the last gradient is ready at 0.45
    events = [BucketEvent(0, 100, 0.21, 0.35), BucketEvent(1, 50, 0.45, 0.50)]
    t = iteration_times(marks, ready, events)
    assert (t.data, t.forward) == (0.01, 0.1)
    assert abs(t.backward_compute - 0.34) < 1e-12
    assert abs(t.exposed_comm - 0.06) < 1e-12
    assert abs(t.optimizer - 0.04) < 1e-12
    assert abs(t.total - 0.55) < 1e-12  # the phases add up to the step
    assert abs(t.comm_busy - (0.14 + 0.05)) < 1e-12
    assert abs(t.comm_span - (0.50 - 0.21)) < 1e-12
    assert abs(t.overlap - (0.45 - 0.21)) < 1e-12  # first launch to end of backward compute
    assert t.payload_bytes == 150
    assert [round(b[1], 6) for b in t.buckets] == [0.1, 0.34]
    assert IterationTimes.from_dict(t.to_dict()) == t
    # cut where DDP's logger cuts: communication from the first launch to backward's end
    assert abs(t.logger_comm - (0.51 - 0.21)) < 1e-12
    assert abs(t.logger_backward_compute - 0.34) < 1e-12


def test_the_logger_cut_counts_the_last_bucket_copy_and_launch_as_compute() -> None:
    """The reducer copies the last gradients into their bucket after they are ready; DDP's
    logger ends backward compute after that launch, our phase split at the last gradient."""
    marks = {"start": 0.0, "data": 0.0, "forward": 0.1, "backward": 0.6, "optimizer": 0.6}
    t = iteration_times(marks, [0.4, 0.3], [BucketEvent(0, 8, 0.35, 0.45),
                                            BucketEvent(1, 8, 0.47, 0.58)])
    assert abs(t.backward_compute - 0.3) < 1e-12  # last gradient at 0.4
    assert abs(t.logger_backward_compute - 0.37) < 1e-12  # last launch at 0.47
    assert abs(t.exposed_comm - 0.2) < 1e-12


def test_a_parameter_without_gradient_is_none_and_not_the_last() -> None:
    marks = {"start": 0.0, "data": 0.0, "forward": 1.0, "backward": 2.0, "optimizer": 2.0}
    t = iteration_times(marks, [1.5, 0.2], [])  # 0.2: stale, from before this backward
    assert t.ready == [0.5, None]
    assert t.backward_compute == 0.5 and t.exposed_comm == 0.5
    assert t.comm_busy == t.comm_span == t.overlap == 0.0


def test_grad_ready_clock_sees_every_parameter_in_backward_order() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    clock = GradReadyClock(list(model.parameters()))
    model(torch.randn(3, 4)).sum().backward()
    assert all(t > 0 for t in clock.ready)
    # the last layer's gradients are computed first
    assert max(clock.ready[2:]) <= min(clock.ready[:2])
    clock.remove()
    before = list(clock.ready)
    model(torch.randn(3, 4)).sum().backward()
    assert clock.ready == before  # hooks removed


def test_comm_log_takes_one_steps_events() -> None:
    log = CommLog()
    event = log.launch(0, 10)
    CommLog.done(event)
    log.launch(1, 5)
    assert [e.index for e in log.take()] == [0, 1] and log.take() == []
    assert log.payload_bytes == 15 and event.done is not None and event.done >= event.launched
