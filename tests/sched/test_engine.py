"""The scheduling engine: hand-checked schedules, invariants, and fast paths = reference."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from syslab.common.errors import UserError
from syslab.sched.cluster import ClusterSpec, GpuPool, ServerGroup
from syslab.sched.engine import SimConfig, Simulator
from syslab.sched.jobs import Job, Trace
from syslab.sched.policies import make_policy, policy_names
from syslab.sched.throughput import ThroughputTable


def trace_of(specs, unit="seconds", name="t"):
    """specs: (arrival, gpus, work[, job_type])"""
    jobs = [Job(i, a, g, w, *(rest or ())) for i, (a, g, w, *rest) in enumerate(specs)]
    return Trace(name, jobs, unit=unit)


def run(specs, policy, cluster=None, **cfg):
    cluster = cluster or ClusterSpec.uniform(1, 1)
    return Simulator(trace_of(specs), cluster, make_policy(policy), SimConfig(**cfg)).run()


def random_trace(seed, n=120, max_gpus=8, span=5_000.0):
    rng = np.random.default_rng(seed)
    arrivals = np.sort(rng.uniform(0, span, n)).round()
    gpus = rng.choice([1, 1, 1, 1, 2, 4, max_gpus], size=n)
    work = np.round(60 * 10 ** rng.uniform(0.5, 2.5, n))
    return [(float(a), int(g), float(w)) for a, g, w in zip(arrivals, gpus, work, strict=True)]


# ---- hand-checked schedules ------------------------------------------------------------
def test_fifo_events_serves_in_arrival_order_on_one_gpu():
    r = run([(0, 1, 100), (10, 1, 50), (20, 1, 10)], "fifo", mode="events")
    assert r.first_start.tolist() == [0, 100, 150]
    assert r.finish.tolist() == [100, 150, 160]


def test_fifo_head_of_line_blocks_but_sjf_skips():
    cluster = ClusterSpec.uniform(1, 2)
    specs = [(0, 1, 100), (1, 2, 10), (2, 1, 10)]
    fifo = run(specs, "fifo", cluster, mode="events")
    assert fifo.first_start.tolist() == [0, 100, 110]  # the 1-GPU job waits behind the gang
    sjf = run(specs, "sjf", cluster, mode="events")
    assert sjf.first_start[2] == 2  # skips past the gang that does not fit
    assert sjf.first_start[1] == 100


def test_srtf_preempts_for_a_shorter_job_and_resumes_progress():
    r = run([(0, 1, 100), (10, 1, 20)], "srtf", mode="events")
    assert r.finish[1] == 30
    assert r.finish[0] == 120  # 10 s done before, 90 s after
    assert r.preemptions.tolist() == [1, 0]


def test_restart_overhead_is_paid_on_every_start():
    r = run([(0, 1, 100), (10, 1, 20)], "srtf", mode="events", restart_s=5)
    assert r.finish[1] == 10 + 5 + 20
    # job 0: starts at 0 (5 s overhead, 5 s of work), resumes at 35 (+5 s), 95 s left
    assert r.finish[0] == pytest.approx(35 + 5 + 95)


def test_rounds_mode_waits_for_the_round_boundary_and_idles_freed_gpus():
    r = run([(0, 1, 50), (10, 1, 50)], "fifo", mode="rounds", round_s=100)
    assert r.first_start.tolist() == [0, 100]  # job 0 ends at 50, its GPU idles to 100
    assert r.finish.tolist() == [50, 150]


def test_las_shares_one_gpu_round_robin():
    r = run([(0, 1, 300), (0, 1, 300)], "las", mode="rounds", round_s=100)
    # alternate rounds: 0 runs [0,100), 1 [100,200), 0 [200,300) ...
    assert r.finish.tolist() == [500, 600]
    assert r.preemptions.sum() >= 2


def test_max_min_alternates_two_jobs_on_one_gpu_by_their_share():
    r = run([(0, 1, 300), (0, 1, 300)], "max-min", mode="rounds", round_s=100)
    # X = 1/2 each; the job furthest behind its share runs next: strict alternation
    assert r.finish.tolist() == [500, 600]


def test_allocation_waits_for_the_reset_interval_before_admitting_a_new_job():
    specs = [(0, 1, 5000), (100, 1, 5000), (250, 1, 100)]
    cluster = ClusterSpec.uniform(1, 3)
    # Gavel re-solves freely until its first reset after the start (t = 100), then not
    # again until 1000 s later: job 2 holds a GPU it is not given before t = 1100
    gated = run(specs, "max-min", cluster, mode="rounds", round_s=100)
    assert gated.first_start.tolist() == [0, 100, 1100]
    eager = run(specs, "max-min", cluster, mode="rounds", round_s=100, alloc_reset_s=0)
    assert eager.first_start.tolist() == [0, 100, 300]


def test_las2d_demotes_at_the_gpu_time_threshold():
    from syslab.sched.policies.las2d import Las2d

    trace = trace_of([(0, 1, 10_000), (100, 1, 50)])
    policy = Las2d(thresholds=(500.0,))
    r = Simulator(trace, ClusterSpec.uniform(1, 1), policy, SimConfig(mode="events")).run()
    # job 1 arrives at 100 while job 0 (100 GPU-s) is still in queue 0: FIFO inside the
    # queue, so job 1 waits until job 0 crosses 500 GPU-s at t=500.
    assert r.first_start[1] == pytest.approx(500, abs=1e-3)
    assert r.finish[1] == pytest.approx(550, abs=1e-3)


def test_heterogeneity_aware_variant_picks_the_fast_type_and_blind_any_type():
    table = ThroughputTable({
        ("v100", True): {("A", 1): 10.0, ("B", 1): 2.0},
        ("k80", True): {("A", 1): 1.0, ("B", 1): 1.0},
    })
    cluster = ClusterSpec("two", (ServerGroup("k80", 1, 100), ServerGroup("v100", 1, 100)))
    trace = trace_of([(0, 1, 100, "A")] * 100, unit="steps")
    config = SimConfig(mode="events", record_timeline=True)
    aware = Simulator(trace, cluster, make_policy("fifo-het"), config, table=table).run()
    assert aware.finish.tolist() == [10.0] * 100  # all on the v100s: there is room
    blind = Simulator(trace, cluster, make_policy("fifo"), replace(config), table=table).run()
    # type-blind: each job tries the types in its own random order, not the file's order
    on_v100 = sum(ty == 1 for _, _, _, ty in blind.segments) / 100
    assert 0.3 < on_v100 < 0.7
    assert sorted(set(blind.finish.tolist())) == [10.0, 100.0]


def test_heterogeneity_aware_policy_deals_types_by_gain_and_upgrades_running_jobs():
    table = ThroughputTable({
        ("v100", True): {("A", 1): 10.0, ("B", 1): 2.0},
        ("k80", True): {("A", 1): 1.0, ("B", 1): 1.0},
    })
    cluster = ClusterSpec("two", (ServerGroup("k80", 1, 1), ServerGroup("v100", 1, 1)))
    # job 0 (B, 2x on the v100) ranks first as the shorter one, but job 1 (A) gains 10x:
    # A gets the v100; once it is done (t = 20) B moves up to the v100
    trace = trace_of([(0, 1, 60, "B"), (0, 1, 200, "A")], unit="steps")
    for policy in ("srtf-het", "rho-guard"):
        r = Simulator(trace, cluster, make_policy(policy), SimConfig(mode="events"),
                      table=table).run()
        assert r.finish[1] == pytest.approx(20.0)
        assert r.finish[0] == pytest.approx(20 + (60 - 20) / 2.0)
        assert r.preemptions[0] == 1  # the move to the v100


def test_types_are_dealt_by_gain_per_gpu_and_a_job_tied_to_one_type_keeps_its_place():
    table = ThroughputTable({
        ("v100", True): {("G", 2): 6.0, ("S", 1): 2.5, ("R", 1): 5.0},
        ("k80", True): {("G", 2): 2.0, ("S", 1): 1.0},  # R does not run on a k80
    })
    cluster = ClusterSpec("two", (ServerGroup("k80", 1, 2), ServerGroup("v100", 1, 2)))
    # The gang G gains 3x on the v100s but takes two of them: 1x more per GPU; S gains
    # 1.5x on its one GPU, so S gets a v100. R runs only on a v100, so the gang goes to
    # the k80s (taking both v100s would leave R nowhere) and moves up when R is done.
    specs = [(0, 2, 60, "G"), (0, 1, 25, "S"), (0, 1, 100, "R")]
    r = Simulator(trace_of(specs, unit="steps"), cluster, make_policy("srtf-het"),
                  SimConfig(mode="events"), table=table).run()
    assert r.finish[1] == pytest.approx(10.0)  # S: 25 steps at 2.5/s on a v100
    assert r.finish[2] == pytest.approx(20.0)  # R: 100 steps at 5/s
    assert r.finish[0] == pytest.approx(20.0 + (60 - 20 * 2.0) / 6.0)  # k80s, then v100s
    assert r.preemptions[0] == 1


# A 2-GPU gang of type A runs 4x slower spread over two servers than on one.
SPREAD_TABLE = ThroughputTable({
    ("v100", True): {("A", 1): 1.0, ("A", 2): 2.0},
    ("v100", False): {("A", 2): 0.5},
})


def test_spread_gang_runs_at_the_unconsolidated_rate_then_moves():
    table, cluster = SPREAD_TABLE, ClusterSpec.uniform(2, 2)
    # best fit puts jobs 0 and 2 on server 0, job 1 on server 1; job 0 ends at 50, so
    # the gang arriving at 60 finds one free GPU per server and must spread
    specs = [(0, 1, 50, "A"), (0, 1, 1000, "A"), (0, 1, 100, "A"), (60, 2, 200, "A")]
    r = Simulator(trace_of(specs, unit="steps"), cluster, make_policy("srtf"),
                  SimConfig(mode="events", placement="first-fit"), table=table).run()
    assert r.finish[3] == pytest.approx(60 + 200 / 0.5)  # first-fit never moves it
    r = Simulator(trace_of(specs, unit="steps"), cluster, make_policy("srtf"),
                  SimConfig(mode="events", placement="consolidated"), table=table).run()
    # consolidated: at t=100 job 2 frees server 0 and the gang moves there with
    # 200 - 0.5*40 = 180 steps left at 2 steps/s
    assert r.finish[3] == pytest.approx(100 + 180 / 2.0)


def test_repacking_policy_moves_a_single_gpu_job_to_consolidate_a_gang():
    table, cluster = SPREAD_TABLE, ClusterSpec.uniform(2, 2)
    # best fit puts jobs 0 and 1 on server 0, job 2 on server 1; job 0 ends at 50, so the
    # gang arriving at 60 finds one free GPU per server, and no server ever frees up
    specs = [(0, 1, 50, "A"), (0, 1, 5000, "A"), (0, 1, 5000, "A"), (60, 2, 400, "A")]
    trace = trace_of(specs, unit="steps")
    config = SimConfig(mode="events", restart_s=5.0)
    srtf = Simulator(trace, cluster, make_policy("srtf"), config, table=table).run()
    assert srtf.finish[3] == pytest.approx(60 + 5 + 400 / 0.5)  # spread to the end
    ours = Simulator(trace, cluster, make_policy("rho-guard"), config, table=table).run()
    # job 1 moves to server 1 (a 5 s restart), the gang takes server 0 whole
    assert ours.finish[3] == pytest.approx(60 + 5 + 400 / 2.0)
    assert ours.preemptions.tolist() == [0, 1, 0, 0]
    assert ours.finish[1] == pytest.approx(60 + 5 + (5000 - 55))
    assert ours.finish[2] == pytest.approx(5 + 5000)


# ---- invariants on random traces ------------------------------------------------------
@pytest.mark.parametrize("policy", [p for p in policy_names() if not p.endswith("-het")])
@pytest.mark.parametrize("mode", ["events", "rounds"])
def test_invariants_hold_for_every_policy(policy, mode):
    specs = random_trace(seed=len(policy) + (mode == "events"))
    cluster = ClusterSpec.uniform(4, 4)
    r = Simulator(trace_of(specs), cluster, make_policy(policy),
                  SimConfig(mode=mode, round_s=120, restart_s=10, record_timeline=True)).run()
    work = np.array([w for _, _, w in specs])
    assert not np.isnan(r.finish).any()
    assert (r.first_start >= r.arrival).all()
    assert (r.finish >= r.arrival + work - 1e-6).all()  # nobody beats exclusive time
    assert (r.busy[:, 1] <= 16).all()
    # GPU-seconds held = work + overhead per start, never less than the work
    assert ((r.service - work) >= -1e-6).all()
    # ... and at most one full overhead per start (less if preempted during one)
    # (1-GPU jobs: gangs may also migrate, which restarts them without a preemption)
    one = r.gpus == 1
    assert (r.service[one] <= work[one] + 10 * (r.preemptions[one] + 1) + 1e-6).all()
    # segments never overlap beyond capacity: check at every segment start
    segs = np.array([(s, e, r.gpus[j]) for j, s, e, _ in r.segments])
    for t in segs[:, 0][::7]:
        live = (segs[:, 0] <= t) & (segs[:, 1] > t)
        assert segs[live, 2].sum() <= 16


# ---- fast paths agree with the reference ----------------------------------------------
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("policy,mode", [
    ("fifo", "events"), ("sjf", "events"), ("fifo", "rounds"), ("sjf", "rounds"),
    ("srtf", "rounds"), ("las", "rounds"), ("srtf", "events"), ("gittins", "rounds"),
    ("las2d", "events"),
])
def test_fast_paths_match_the_reference_job_by_job(seed, policy, mode):
    specs = random_trace(seed)
    cluster = ClusterSpec.uniform(3, 4)
    results = []
    for reference in (False, True):
        cfg = SimConfig(mode=mode, round_s=200, restart_s=5, reference=reference,
                        placement="first-fit")
        results.append(Simulator(trace_of(specs), cluster, make_policy(policy), cfg).run())
    fast, ref = results
    np.testing.assert_allclose(fast.finish, ref.finish, rtol=0, atol=1e-6)
    np.testing.assert_allclose(fast.first_start, ref.first_start, rtol=0, atol=1e-6)


# ---- bad input -------------------------------------------------------------------------
def test_job_larger_than_any_gpu_type_is_a_user_error():
    with pytest.raises(UserError, match="asks for 8 GPUs"):
        Simulator(trace_of([(0, 8, 10)]), ClusterSpec.uniform(1, 4), make_policy("fifo"))


def test_job_type_without_throughput_entry_is_a_user_error():
    table = ThroughputTable({("v100", True): {("A", 1): 1.0}})
    trace = trace_of([(0, 1, 10, "A"), (0, 1, 10, "Nope")], unit="steps")
    with pytest.raises(UserError, match="'Nope' with 1 GPUs has no throughput"):
        Simulator(trace, ClusterSpec.uniform(1, 1), make_policy("fifo"), table=table)


def test_steps_trace_without_table_is_a_user_error():
    with pytest.raises(UserError, match="throughput table"):
        Simulator(trace_of([(0, 1, 10, "A")], unit="steps"), ClusterSpec.uniform(1, 1),
                  make_policy("fifo"))


@pytest.mark.parametrize("cfg,match", [
    ({"mode": "weekly"}, "unknown mode"),
    ({"round_s": 0}, "round length"),
    ({"restart_s": -1}, "restart overhead"),
    ({"placement": "anywhere"}, "unknown placement"),
    ({"alloc_reset_s": -5}, "allocation reset"),
])
def test_bad_config_is_a_user_error(cfg, match):
    with pytest.raises(UserError, match=match):
        Simulator(trace_of([(0, 1, 10)]), ClusterSpec.uniform(1, 1), make_policy("fifo"),
                  SimConfig(**cfg))


def test_het_suffix_on_a_heterogeneity_aware_policy_is_a_user_error():
    with pytest.raises(UserError, match="heterogeneity-aware already"):
        make_policy("rho-guard-het")


def test_unknown_policy_lists_the_known_ones():
    with pytest.raises(UserError, match="unknown policy 'lottery'.*fifo"):
        make_policy("lottery")


# ---- cluster bookkeeping ---------------------------------------------------------------
def test_best_fit_keeps_whole_servers_free_for_gangs():
    pool = GpuPool([4, 4])
    a, _ = pool.allocate(1)
    b, _ = pool.allocate(1)
    assert a[0][0] == b[0][0]  # both on the same server
    parts, consolidated = pool.allocate(4)
    assert consolidated and len(parts) == 1
    assert pool.free_total == 2
    assert not pool.can_consolidate(3) and pool.can_consolidate(2)


def test_random_placement_spreads_and_release_restores():
    pool = GpuPool([4] * 8, seed=1)
    spread = 0
    allocations = []
    for _ in range(6):
        parts, consolidated = pool.allocate(4, "random")
        spread += not consolidated
        allocations.append(parts)
        assert sum(n for _, n in parts) == 4
    assert spread >= 4  # 4 random GPUs out of 32 rarely share a server
    for parts in allocations:
        pool.release(parts)
    assert pool.free == [4] * 8 and pool.free_total == 32


def test_large_gang_takes_whole_servers():
    pool = GpuPool([8] * 4)
    parts, consolidated = pool.allocate(16)
    assert consolidated and sorted(n for _, n in parts) == [8, 8]


def test_throughput_interpolates_per_gpu_rate_between_measured_counts():
    table = ThroughputTable({("v100", True): {("A", 1): 10.0, ("A", 4): 32.0}})
    assert table.rate("A", "v100", 2) == pytest.approx(2 * (10 + (8 - 10) / 3))
    assert table.rate("A", "v100", 8) == pytest.approx(64.0)  # per-GPU rate held
    assert table.rate("A", "k80", 1) == 0.0
    assert table.rate("Nope", "v100", 1) == 0.0


def _fits_by_brute_force(gangs, free):
    """Every way to put each (size, types) gang on one of its types."""
    if not gangs:
        return True
    (size, types), rest = gangs[0], gangs[1:]
    for t in types:
        if free[t] >= size:
            free[t] -= size
            ok = _fits_by_brute_force(rest, free)
            free[t] += size
            if ok:
                return True
    return False


def test_packing_check_never_says_yes_wrongly_and_is_exact_for_power_of_two_gangs():
    from syslab.sched.engine import _packing_order, _packs

    rng = np.random.default_rng(3)
    for _ in range(400):
        restricted = rng.random() < 0.5
        gangs = []
        for _ in range(int(rng.integers(1, 7))):
            types = (0, 1, 2)
            if restricted and rng.random() < 0.3:
                types = tuple(sorted(rng.choice(3, size=int(rng.integers(1, 3)), replace=False)))
            gangs.append((int(rng.choice([1, 2, 4, 8])), tuple(int(t) for t in types)))
        free = [int(f) for f in rng.integers(0, 12, size=3)]
        count: dict = {}
        for key in gangs:
            count[key] = count.get(key, 0) + 1
        says = _packs(_packing_order(count), free)
        truth = _fits_by_brute_force(gangs, list(free))
        assert truth or not says  # never yes to a set that does not fit
        if not restricted:
            assert says == truth
