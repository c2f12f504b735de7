"""Policies as plain objects: keys and allocations on hand-made states."""

from __future__ import annotations

import numpy as np
import pytest

from syslab.sched.cluster import ClusterSpec
from syslab.sched.engine import SimConfig, SimState, Simulator
from syslab.sched.jobs import Job, Trace
from syslab.sched.policies import make_policy
from syslab.sched.policies.gittins import gittins_table
from syslab.sched.policies.las2d import Las2d
from syslab.sched.policies.rho_guard import RhoGuard
from syslab.sched.policies.themis import Themis


def state_of(specs, gpus_total=4):
    jobs = [Job(i, a, g, w) for i, (a, g, w) in enumerate(specs)]
    return SimState(Trace("t", jobs, unit="seconds"), ClusterSpec.uniform(1, gpus_total), None)


def test_gittins_prefers_jobs_past_the_short_mode_less():
    # half the jobs take 10 GPU-s, half 1000: a fresh job is likely short (high index);
    # one that has passed 10 GPU-s is surely long (low index)
    grid, index = gittins_table(np.array([10.0] * 50 + [1000.0] * 50))
    fresh = index[np.searchsorted(grid, 0.0, side="right") - 1]
    past = index[np.searchsorted(grid, 20.0, side="right") - 1]
    assert fresh > past
    assert fresh == pytest.approx(0.5 / (0.5 * 10 + 0.5 * 10), rel=1e-9)


def test_gittins_index_of_an_exponential_distribution_is_flat():
    rng = np.random.default_rng(0)
    grid, index = gittins_table(rng.exponential(100.0, 20_000))
    middle = index[(grid > 10) & (grid < 200)]
    # memoryless: the index is 1/mean everywhere; sampling noise (a max over Δ) stays
    # within 2x, where taking Δ at the nearest sample used to spike it 450x
    assert middle.max() / middle.min() < 2.0
    assert np.median(middle) == pytest.approx(1 / 100.0, rel=0.2)


def test_las2d_orders_by_queue_then_arrival():
    s = state_of([(0, 1, 100), (5, 4, 100), (9, 1, 100)])
    s.service[:] = [0, 1000, 10]  # job 1 has 4000 GPU-s: queue 1 with a 3600 threshold
    keys = Las2d(thresholds=(3600.0,)).keys(s, np.arange(3), now=20.0)
    assert list(np.argsort(keys)) == [0, 2, 1]


def test_rho_guard_ranks_fresh_jobs_like_srtf_and_ages_waiting_ones():
    s = state_of([(0, 1, 100), (0, 1, 50), (900, 1, 60)], gpus_total=4)
    policy = RhoGuard()
    keys = policy.keys(s, np.arange(3), now=0.0)
    assert keys[1] < keys[0]  # at the start: shorter remaining time first, as SRTF
    # at t = 1000 job 0 has waited 1000 s for 100 s of work (ρ_now = 11): it now goes
    # before job 2, which has less work but has waited only 100 s (ρ_now = 8/3)
    keys = policy.keys(s, np.array([0, 2]), now=1000.0)
    assert keys[0] == pytest.approx(100 / 11)
    assert keys[1] == pytest.approx(60 / (160 / 60))
    assert keys[0] < keys[1]


def test_rho_guard_lets_the_long_jobs_share_their_place_worst_rho_first():
    # 9 jobs on 4 GPUs (contention 2.25): six short ones (2-7), and three long ones, the
    # longest 30 % by remaining time: job 0 has 700 s left of 1000 (it ran before),
    # job 1 has 1000 and has waited since 0, job 8 has 1000 and arrived at 300
    specs = [(0, 1, 1000), (0, 1, 1000)] + [(0, 1, w) for w in (10, 20, 30, 40, 50, 300)]
    s = state_of(specs + [(300, 1, 1000)])
    s.remaining[0] = 700.0
    ids = np.arange(9)
    order = list(np.lexsort((ids, RhoGuard().keys(s, ids, now=3000.0))))
    # ρ_now at 3000 s: job 1 (3000 + 1000) / 2250 = 1.78, jobs 0 and 8 3700 / 2250 = 1.64.
    # SRTF aged by ρ_now alone would run job 0 first (700 / 1.64 < 1000 / 1.78); in the
    # shared place the worst ρ_now goes first, then jobs 0 and 8 in arrival order
    assert order[:6] == [2, 3, 4, 5, 6, 7]
    assert order[6:] == [1, 0, 8]
    # a running long job keeps its place unless a waiting one is `hold` worse off
    s.running_type[0] = 0
    held = type("Held", (RhoGuard,), {"hold": 0.2})()
    assert list(np.lexsort((ids, held.keys(s, ids, now=3000.0))))[6:] == [0, 1, 8]


def test_themis_offers_the_worst_treated_fifth_first_then_shortest_remaining():
    # 10 jobs of 1 GPU on 4 GPUs (contention 2.5), round 100 s; at t = 1000 job 0
    # (600 s of work, arrived at 0) and job 1 (50 s, arrived at 700) have the worst
    # projected ρ: (1000 + 600) / (600 * 2.5) = 1.07 and (300 + 50) / (100 * 2.5) = 1.4
    # (a job shorter than a round counts as one round). The other eight arrived at 990.
    specs = [(0, 1, 600), (700, 1, 50)] + [(990, 1, 10 * (k + 1)) for k in range(8)]
    s = state_of(specs, gpus_total=4)
    s.round_s = 100.0
    keys = Themis().keys(s, np.arange(10), now=1000.0)
    order = list(np.argsort(keys, kind="stable"))
    assert order[:2] == [1, 0]  # the offered 20 %: worst ρ first
    assert keys[1] == pytest.approx(-350 / 250)
    assert order[2:] == list(range(2, 10))  # the rest: shortest remaining first
    assert keys[2] == pytest.approx(10.0)


def test_ftf_earns_isolated_time_as_it_runs():
    # one job alone on the cluster: its isolated rate is its own rate, so the isolated
    # time it earns equals the time it has run
    trace = Trace("t", [Job(0, 0, 1, 1000.0), Job(1, 300, 1, 100.0)], unit="seconds")
    policy = make_policy("ftf")
    sim = Simulator(trace, ClusterSpec.uniform(1, 1), policy,
                    SimConfig(mode="rounds", round_s=100.0, alloc_reset_s=0.0))
    result = sim.run()
    # alone until 300 s (iso = its rate: 300 s earned); then N = 2 (iso = half its rate:
    # 2 s earned per step) until job 1, which needs 100 s of the GPU, is done; the
    # earnings are booked when the job set changes (at the next allocation)
    steps_while_shared = result.finish[1] - 300 - 100
    assert policy.iso_elapsed[0] == pytest.approx(300 + 2 * steps_while_shared)
    assert policy.iso_elapsed[1] == 0.0  # finished before any later solve could book it


def test_max_throughput_sees_a_dynamic_jobs_steps_per_second_now():
    from syslab.sched.throughput import ThroughputTable

    table = ThroughputTable({("v100", True): {("A", 1): 1.0, ("B", 1): 1.5, ("C", 1): 0.1}})
    # B is the fastest in steps/s until half its work is done, then half as fast (as a
    # job whose batch size grew); C's arrival at 60 s makes the LP solve again.
    slows_down = ((0.0, 1.0), (0.5, 0.5))

    def finishes(speed):
        jobs = [Job(0, 0, 1, 100.0, "A"), Job(1, 0, 1, 150.0, "B", speed=speed),
                Job(2, 60, 1, 1.0, "C")]
        return Simulator(Trace("t", jobs), ClusterSpec.uniform(1, 1),
                         make_policy("max-throughput"),
                         SimConfig(mode="rounds", round_s=10.0, alloc_reset_s=0.0),
                         table=table).run().finish

    steady = finishes(())
    assert steady[1] < steady[0]  # B (1.5 steps/s) runs to the end first
    dynamic = finishes(slows_down)
    # at 60 s B is 60 % done and at 0.75 steps/s: A (1.0) goes first from then on
    assert dynamic[0] == pytest.approx(160.0)
    assert dynamic[0] < dynamic[1]
