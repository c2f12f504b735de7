"""The metrics of research/sched.md §3 on a schedule small enough to check by hand."""

from __future__ import annotations

import pytest

from syslab.sched.cluster import ClusterSpec
from syslab.sched.engine import SimConfig, Simulator
from syslab.sched.jobs import Job, Trace
from syslab.sched.metrics import finish_time_fairness, jain, summarize
from syslab.sched.policies import make_policy


def test_metrics_of_a_hand_checked_schedule():
    # one GPU, 100 s rounds, FIFO: job 0 (300 s) runs 0-300; job 1 (5 s) arrives at 10 and
    # waits for the round at 300, finishing at 305
    trace = Trace("t", [Job(0, 0.0, 1, 300.0), Job(1, 10.0, 1, 5.0)], unit="seconds")
    result = Simulator(trace, ClusterSpec.uniform(1, 1), make_policy("fifo"),
                       SimConfig(mode="rounds", round_s=100.0)).run()
    assert result.finish.tolist() == [300.0, 305.0]
    # N̄: job 0 sees 1 job for 10 s, 2 for 290 s; job 1 sees 2 for 290 s, 1 for 5 s
    rho = finish_time_fairness(result)
    assert rho[0] == pytest.approx(300 / (300 * (10 + 2 * 290) / 300))
    assert rho[1] == pytest.approx(295 / (5 * (2 * 290 + 5) / 295))
    s = summarize(result)
    assert s["mean_jct_s"] == pytest.approx((300 + 295) / 2)
    assert s["makespan_s"] == 305.0
    assert s["mean_wait_s"] == pytest.approx((0 + 290) / 2)
    assert s["worst_rho"] == pytest.approx(rho[1]) and rho[1] > 29
    # only job 0 is at least a round long: the short job's wait for the round is left out
    assert s["worst_rho_ge_round"] == pytest.approx(rho[0])
    assert s["unfair_1_1"] == 0.5
    assert s["jain"] == pytest.approx(jain(1 / rho))
    assert jain([1.0, 1.0]) == 1.0 and jain([1.0, 0.0]) == 0.5
