"""The sans-I/O performance model: ring arithmetic, the alpha-beta fit, DDP's bucket rule,
the replay's timelines, contention and prediction."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syslab.train.perfmodel import (
    MIB,
    AlphaBeta,
    ComputeProfile,
    assign_buckets,
    bucket_bytes,
    contention,
    ddp_bucket_caps,
    ddp_initial_buckets,
    fit_alpha_beta,
    fit_contention_k,
    mape,
    predict,
    replay,
)


def resnet18_param_bytes(classes: int = 10) -> list[int]:
    """float32 bytes of torchvision's ResNet-18 parameters, in `parameters()` order."""
    numels = [3 * 64 * 7 * 7, 64, 64]  # conv1, bn1
    for cin, cout, stride in [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]:
        for block in range(2):
            first_in = cin if block == 0 else cout
            numels += [first_in * cout * 9, cout, cout, cout * cout * 9, cout, cout]
            if block == 0 and (stride != 1 or cin != cout):
                numels += [cin * cout, cout, cout]  # downsample conv 1x1, bn
    numels += [512 * classes, classes]  # fc
    return [4 * n for n in numels]


# Gradient-ready order of that model (10 classes) as torch 2.13 DDP's logger recorded it
# (`prev_iteration_grad_ready_order_indices`, gloo, one rank): downsample branches finish
# after their block's main path, and BatchNorm weights before their biases.
RESNET18_READY_ORDER = [
    61, 60, 58, 59, 57, 55, 56, 54, 49, 50, 48, 46, 47, 45, 52, 53, 51, 43, 44, 42, 40, 41, 39,
    34, 35, 33, 31, 32, 30, 37, 38, 36, 28, 29, 27, 25, 26, 24, 19, 20, 18, 16, 17, 15, 22, 23,
    21, 13, 14, 12, 10, 11, 9, 7, 8, 6, 4, 5, 3, 1, 2, 0,
]


# --- allreduce -----------------------------------------------------------------------------


def test_ring_time_is_exact_arithmetic() -> None:
    model = AlphaBeta(alpha_s=1e-3, beta_s_per_byte=1e-9)
    assert model.time(10**6, 1) == 0.0
    assert model.time(10**6, 2) == pytest.approx(2 * 1e-3 + 1 * 1e6 * 1e-9)
    assert model.time(10**6, 4) == pytest.approx(6 * 1e-3 + 1.5 * 1e6 * 1e-9)
    assert model.time(0, 3) == pytest.approx(4e-3)
    assert model.bus_bandwidth_bytes_per_s == pytest.approx(1e9)
    with pytest.raises(ValueError):
        model.time(10, 0)
    with pytest.raises(ValueError):
        AlphaBeta(-1.0, 0.0)


def test_with_bandwidth_slows_only_when_the_link_is_the_bottleneck() -> None:
    model = AlphaBeta(alpha_s=5e-4, beta_s_per_byte=1e-9)  # CPU ring at 1 GB/s
    fast = model.with_bandwidth(1e10)
    assert fast == model
    slow = model.with_bandwidth(1e8)  # 100 MB/s link
    assert slow.beta_s_per_byte == pytest.approx(1e-8)
    assert slow.alpha_s == model.alpha_s
    assert slow.time(0, 4) == model.time(0, 4)  # latency-only message: unchanged
    big = 64 * MIB
    assert slow.time(big, 2) == pytest.approx(1e-3 + big * 1e-8)  # ~10x the CPU-bound time
    assert slow.time(big, 2) > 9 * model.time(big, 2)
    with pytest.raises(ValueError):
        model.with_bandwidth(0)


def synthetic_samples(alpha: float, beta: float, noise: float, seed: int
                      ) -> list[tuple[int, int, float]]:
    rng = np.random.default_rng(seed)
    truth = AlphaBeta(alpha, beta)
    return [(n, 1 << e, truth.time(1 << e, n) * float(np.exp(rng.normal(0, noise))))
            for n in (2, 3, 4) for e in range(16, 27)]


def test_fit_recovers_alpha_beta_from_noisy_samples() -> None:
    alpha, beta = 4e-4, 1 / 0.58e9  # the research note's loopback: 0.58 GB/s bus bandwidth
    fit = fit_alpha_beta(synthetic_samples(alpha, beta, noise=0.05, seed=1))
    assert fit.alpha_s == pytest.approx(alpha, rel=0.05)
    assert fit.beta_s_per_byte == pytest.approx(beta, rel=0.05)
    assert fit.fit_samples == 33
    assert fit.fit_mape is not None and 0.0 < fit.fit_mape < 0.08


def test_fit_is_exact_without_noise_and_ignores_single_rank_samples() -> None:
    samples = synthetic_samples(2e-4, 2e-9, noise=0.0, seed=0) + [(1, 1 << 20, 0.5)]
    fit = fit_alpha_beta(samples)
    assert fit.alpha_s == pytest.approx(2e-4, rel=1e-6)
    assert fit.beta_s_per_byte == pytest.approx(2e-9, rel=1e-6)
    assert fit.fit_mape == pytest.approx(0.0, abs=1e-9)
    assert fit.fit_samples == 33


def test_fit_keeps_parameters_non_negative() -> None:
    # Bandwidth-only data with a little noise would pull an unconstrained alpha below zero.
    samples = [(2, 1 << 20, 1.00e-3), (2, 1 << 22, 4.10e-3), (2, 1 << 24, 16.0e-3)]
    fit = fit_alpha_beta(samples)
    assert fit.alpha_s >= 0.0 and fit.beta_s_per_byte > 0.0


def test_fit_rejects_samples_that_cannot_separate_alpha_from_beta() -> None:
    with pytest.raises(ValueError):
        fit_alpha_beta([(1, 100, 1.0), (1, 200, 2.0)])
    with pytest.raises(ValueError):
        fit_alpha_beta([(2, 1 << 20, 1e-3), (2, 1 << 20, 1.1e-3)])


# --- buckets -------------------------------------------------------------------------------


def test_buckets_hand_worked() -> None:
    sizes = [4, 4, 4, 4, 4]
    assert assign_buckets(sizes, 8) == [[4, 3], [2, 1], [0]]  # closes on reaching 8
    assert assign_buckets(sizes, 8, first_cap_bytes=4) == [[4], [3, 2], [1, 0]]
    assert assign_buckets(sizes, 9) == [[4, 3, 2], [1, 0]]  # 12 >= 9 overshoots; rest stays
    assert assign_buckets(sizes, 0) == [[4], [3], [2], [1], [0]]
    assert assign_buckets(sizes, 8, order=[0, 1, 2, 3, 4]) == [[0, 1], [2, 3], [4]]
    # A big tensor does not start a bucket of its own: it closes the one it lands in.
    assert assign_buckets([100, 1, 1], 10) == [[2, 1, 0]]
    assert bucket_bytes([[2, 1, 0]], [100, 1, 1]) == [102]
    assert assign_buckets([], 8) == []


def test_buckets_match_torch_compute_bucket_assignment() -> None:
    # Outputs of torch 2.13's dist._compute_bucket_assignment_by_size for these sizes
    # (float32 numels 10, 300000, 5, 7000000, 2, 100) with limits [1 MiB, 25 MiB].
    sizes = [40, 1_200_000, 20, 28_000_000, 8, 400]
    cap, first = ddp_bucket_caps(None)
    # Rebuild (ready order given, buckets kept in walk order).
    assert assign_buckets(sizes, cap, first) == [[5, 4, 3], [2, 1, 0]]
    # Iteration 1 with find_unused_parameters: forward walk [[0, 1], [2, 3], [4, 5]], reversed.
    assert ddp_initial_buckets(sizes, cap, first) == [[4, 5], [2, 3], [0, 1]]


def test_ddp_caps_first_bucket_is_small_only_by_default() -> None:
    assert ddp_bucket_caps(None) == (25 * MIB, MIB)
    assert ddp_bucket_caps(25) == (25 * MIB, 25 * MIB)
    assert ddp_bucket_caps(0.5) == (MIB // 2, MIB // 2)


def test_resnet18_buckets_match_ddp() -> None:
    sizes = resnet18_param_bytes()
    assert sum(resnet18_param_bytes(1000)) == 4 * 11_689_512  # torchvision's count
    assert sum(sizes) == 44_726_568  # the research note's hook payload per iteration
    # Reverse index order, explicit 25 MiB: the note's 28.9 + 15.9 MB.
    assert bucket_bytes(assign_buckets(sizes, 25 * MIB), sizes) == [28_872_744, 15_853_824]
    # DDP's defaults (first bucket 1 MiB): fc + the last 3x3 conv already pass 1 MiB.
    cap, first = ddp_bucket_caps(None)
    assert bucket_bytes(assign_buckets(sizes, cap, first), sizes) == [
        9_461_800, 26_494_976, 8_769_792]
    # The observed ready order gives what torch DDP's logger reported as rebuilt_bucket_sizes.
    rebuilt = {
        25: [28_344_360, 16_382_208],
        1: [9_461_800, 9_441_280, 9_441_280, 4_722_688, 2_889_728, 2_361_344, 2_361_344,
            1_181_696, 1_314_816, 1_068_544, 482_048],
        5: [9_461_800, 9_441_280, 9_441_280, 5_251_072, 7_084_032, 4_047_104],
    }
    for cap_mb, expected in rebuilt.items():
        cap, first = ddp_bucket_caps(cap_mb)
        buckets = assign_buckets(sizes, cap, first, order=RESNET18_READY_ORDER)
        assert bucket_bytes(buckets, sizes) == expected


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.integers(0, 10**7), max_size=40), cap=st.integers(0, 3 * 10**7),
       first=st.none() | st.integers(0, 3 * 10**7), data=st.data())
def test_buckets_partition_and_follow_the_threshold_rule(sizes: list[int], cap: int,
                                                         first: int | None,
                                                         data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(len(sizes))))
    buckets = assign_buckets(sizes, cap, first, order)
    assert all(buckets)
    assert [i for b in buckets for i in b] == list(order)  # each once, in walk order
    totals = bucket_bytes(buckets, sizes)
    assert sum(totals) == sum(sizes)
    limits = [cap if first is None else first] + [cap] * len(buckets)
    for position, (bucket, total) in enumerate(zip(buckets, totals, strict=True)):
        limit = limits[position]
        if position < len(buckets) - 1:
            assert total >= limit  # closed on reaching its limit...
        # ...and not one tensor earlier (a one-tensor bucket had nothing earlier).
        assert len(bucket) == 1 or total - sizes[bucket[-1]] < limit


def test_buckets_reject_a_bad_order() -> None:
    with pytest.raises(ValueError):
        assign_buckets([1, 2, 3], 4, order=[0, 1, 1])
    with pytest.raises(ValueError):
        assign_buckets([1, 2], -1)


# --- profile -------------------------------------------------------------------------------


def profile_of(ready: list[float], sizes: list[int], backward: float = 0.2) -> ComputeProfile:
    return ComputeProfile(data_s=0.01, forward_s=0.1, backward_s=backward, optimizer_s=0.02,
                          ready_s=ready, param_bytes=sizes)


def test_profile_round_trips_through_json() -> None:
    profile = profile_of([0.2, 0.05, 0.125], [4000, 8, 1 << 20])
    again = ComputeProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again == profile
    assert profile.compute_s == pytest.approx(0.33)
    assert profile.total_bytes == 4008 + (1 << 20)
    assert profile.ready_order() == [1, 2, 0]


def test_profile_scaled_stretches_time_not_bytes() -> None:
    profile = profile_of([0.2, 0.05], [100, 200])
    slow = profile.scaled(1.5)
    assert slow.forward_s == pytest.approx(0.15)
    assert slow.ready_s == pytest.approx([0.3, 0.075])
    assert slow.compute_s == pytest.approx(1.5 * profile.compute_s)
    assert slow.param_bytes == profile.param_bytes


def test_profile_validates() -> None:
    with pytest.raises(ValueError):
        profile_of([0.3], [10])  # ready after backward ends
    with pytest.raises(ValueError):
        profile_of([0.1, 0.1], [10])
    with pytest.raises(ValueError):
        profile_of([0.1], [10]).scaled(0)


# --- replay --------------------------------------------------------------------------------

# 2 ranks: T(S) = 2 * 1 ms + S * 1 ns.
COMM = AlphaBeta(alpha_s=1e-3, beta_s_per_byte=1e-9)


def test_replay_one_bucket_waits_for_the_last_gradient() -> None:
    profile = profile_of([0.2, 0.05], [6_000_000, 4_000_000])
    r = replay(profile, [[1, 0]], COMM, 2)
    (b,) = r.buckets
    assert (b.ready_s, b.start_s, b.end_s, b.nbytes) == pytest.approx(
        (0.2, 0.2, 0.212, 10_000_000))
    assert r.comm_s == pytest.approx(0.012)
    assert r.exposed_comm_s == pytest.approx(0.012)
    assert r.overlap_s == pytest.approx(0.0)
    assert r.iteration_s == pytest.approx(0.01 + 0.1 + 0.212 + 0.02)


def test_replay_two_buckets_comm_bound() -> None:
    # Bucket 0 (param 1, 298 MB) is ready at 0.05 and takes 0.3 s, so bucket 1 (ready at 0.2)
    # queues behind it until 0.35.
    profile = profile_of([0.2, 0.05], [8_000_000, 298_000_000])
    r = replay(profile, [[1], [0]], COMM, 2)
    b0, b1 = r.buckets
    assert (b0.start_s, b0.end_s) == pytest.approx((0.05, 0.35))
    assert (b1.ready_s, b1.start_s, b1.end_s) == pytest.approx((0.2, 0.35, 0.36))
    assert r.comm_s == pytest.approx(0.31)
    assert r.overlap_s == pytest.approx(0.15)
    assert r.exposed_comm_s == pytest.approx(0.16)
    assert r.iteration_s == pytest.approx(0.01 + 0.1 + 0.36 + 0.02)


def test_replay_fully_hidden_comm() -> None:
    profile = profile_of([0.15, 0.05], [8_000_000, 8_000_000])
    r = replay(profile, [[1], [0]], COMM, 2)
    assert [b.end_s for b in r.buckets] == pytest.approx([0.06, 0.16])
    assert r.exposed_comm_s == 0.0
    assert r.overlap_s == pytest.approx(r.comm_s) and r.overlap_fraction == pytest.approx(1.0)
    assert r.iteration_s == pytest.approx(profile.compute_s)


def test_replay_without_overlap_starts_after_backward() -> None:
    profile = profile_of([0.15, 0.05], [8_000_000, 8_000_000])
    r = replay(profile, [[1], [0]], COMM, 2, overlap=False)
    assert [(b.start_s, b.end_s) for b in r.buckets] == [
        pytest.approx((0.2, 0.21)), pytest.approx((0.21, 0.22))]
    assert r.overlap_s == 0.0 and r.exposed_comm_s == pytest.approx(0.02)
    assert r.iteration_s == pytest.approx(profile.compute_s + 0.02)


def test_replay_launch_overhead_occupies_the_stream() -> None:
    profile = profile_of([0.15, 0.05], [8_000_000, 8_000_000])
    r = replay(profile, [[1], [0]], COMM, 2, launch_overhead_s=0.004)
    assert [b.end_s for b in r.buckets] == pytest.approx([0.064, 0.164])
    assert r.comm_s == pytest.approx(0.028)


def test_replay_single_rank_has_no_communication() -> None:
    profile = profile_of([0.2, 0.05], [8_000_000, 8_000_000])
    r = replay(profile, [[1], [0]], COMM, 1, launch_overhead_s=0.004)
    assert r.buckets == () and r.comm_s == 0.0 and r.exposed_comm_s == 0.0
    assert r.iteration_s == pytest.approx(profile.compute_s)


def test_replay_rejects_buckets_that_are_not_a_partition() -> None:
    profile = profile_of([0.2, 0.05], [8, 8])
    for bad in ([[0]], [[0, 1], []], [[0, 1], [1]]):
        with pytest.raises(ValueError):
            replay(profile, bad, COMM, 2)


@st.composite
def profiles(draw: st.DrawFn) -> ComputeProfile:
    count = draw(st.integers(1, 12))
    backward = draw(st.floats(1e-3, 1.0))
    ready = draw(st.lists(st.floats(0.0, 1.0), min_size=count, max_size=count))
    sizes = draw(st.lists(st.integers(0, 10**8), min_size=count, max_size=count))
    phases = draw(st.lists(st.floats(0.0, 0.5), min_size=3, max_size=3))
    return ComputeProfile(phases[0], phases[1], backward, phases[2],
                          [t * backward for t in ready], sizes)


@settings(max_examples=100, deadline=None)
@given(profile=profiles(), n=st.integers(1, 8), cap=st.integers(0, 2 * 10**8),
       alpha=st.floats(0.0, 1e-2), beta=st.floats(0.0, 1e-8), overlap=st.booleans(),
       overhead=st.floats(0.0, 1e-2))
def test_replay_invariants(profile: ComputeProfile, n: int, cap: int, alpha: float,
                          beta: float, overlap: bool, overhead: float) -> None:
    buckets = assign_buckets(profile.param_bytes, cap, order=profile.ready_order())
    r = replay(profile, buckets, AlphaBeta(alpha, beta), n, launch_overhead_s=overhead,
               overlap=overlap)
    tol = 1e-9
    assert r.iteration_s >= profile.compute_s - tol
    assert r.exposed_comm_s <= r.comm_s + tol
    assert r.overlap_s + r.exposed_comm_s == pytest.approx(r.comm_s, abs=tol)
    assert r.iteration_s == pytest.approx(profile.compute_s + r.exposed_comm_s, abs=tol)
    starts = [b.start_s for b in r.buckets]
    assert starts == sorted(starts)
    assert all(b.start_s >= b.ready_s for b in r.buckets)
    if not overlap:
        assert r.overlap_s == 0.0


# --- contention and prediction -------------------------------------------------------------


def test_contention_factor() -> None:
    assert contention(1, 2, 1) == 1.0
    assert contention(2, 2, 1) == 1.0
    assert contention(4, 2, 1) == 2.0
    assert contention(3, 2, 2) == 3.0
    assert contention(2, 2, 1, k=1.35) == pytest.approx(1.35)
    assert contention(1, 2, 1, k=1.35) == 1.0
    with pytest.raises(ValueError):
        contention(0, 2, 1)


def test_fit_contention_k_recovers_k() -> None:
    samples = [(n, 2, 1, contention(n, 2, 1, k=1.3)) for n in (1, 2, 3, 4)]
    assert fit_contention_k(samples) == pytest.approx(1.3, rel=1e-3)


def test_predict_combines_contention_buckets_and_link() -> None:
    profile = profile_of([0.2, 0.05], [8_000_000, 8_000_000])
    alone = predict(profile, n=1, cores=2, threads_per_rank=1, comm=COMM,
                    bucket_cap_bytes=25 * MIB)
    assert alone.iteration_s == pytest.approx(profile.compute_s)
    # 4 ranks of 1 thread on 2 cores: compute doubles; ready order puts param 1 first, and
    # an 8 MB cap splits the two 8 MB gradients into two buckets.
    four = predict(profile, n=4, cores=2, threads_per_rank=1, comm=COMM,
                   bucket_cap_bytes=8_000_000)
    assert four.backward_s == pytest.approx(0.4)
    assert [b.nbytes for b in four.buckets] == [8_000_000, 8_000_000]
    assert four.buckets[0].ready_s == pytest.approx(0.1)
    assert four.iteration_s == pytest.approx(2 * profile.compute_s + COMM.time(8_000_000, 4))
    slow = predict(profile, n=4, cores=2, threads_per_rank=1, comm=COMM,
                   bucket_cap_bytes=8_000_000, bandwidth_bytes_per_s=1e8)
    assert slow.iteration_s > four.iteration_s
    no_overlap = predict(profile, n=4, cores=2, threads_per_rank=1, comm=COMM,
                         bucket_cap_bytes=8_000_000, overlap=False)
    assert no_overlap.iteration_s == pytest.approx(2 * profile.compute_s + four.comm_s)


def test_mape() -> None:
    assert mape([110, 90], [100, 100]) == pytest.approx(0.1)
    assert mape([1.0], [1.0]) == 0.0
    assert math.isclose(mape([3.0, 1.0], [2.0, 2.0]), 0.5)
    with pytest.raises(ValueError):
        mape([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        mape([], [])
    with pytest.raises(ValueError):
        mape([1.0], [0.0])


def test_cpu_steal_slows_backward_while_an_allreduce_runs() -> None:
    """Hand-worked: bucket 0 (p1, ready at 0.5) runs 0.2 s, during which backward computes
    at half speed, so backward ends at 1.1 instead of 1.0; bucket 1 then runs 1.1..1.3."""
    profile = ComputeProfile(data_s=0.0, forward_s=0.1, backward_s=1.0, optimizer_s=0.05,
                             ready_s=[1.0, 0.5], param_bytes=[100, 100])
    comm = AlphaBeta(alpha_s=0.0, beta_s_per_byte=0.002)  # 0.2 s per bucket at n = 2
    plain = replay(profile, [[1], [0]], comm, 2)
    stolen = replay(profile, [[1], [0]], comm, 2, cpu_steal=0.5)
    assert plain.backward_s == pytest.approx(1.0)
    assert stolen.backward_s == pytest.approx(1.1)
    assert [(b.start_s, b.end_s) for b in stolen.buckets] == [
        pytest.approx((0.5, 0.7)), pytest.approx((1.1, 1.3))]
    assert stolen.iteration_s == pytest.approx(0.1 + 1.3 + 0.05)
    assert stolen.overlap_s == pytest.approx(0.2) and stolen.exposed_comm_s == pytest.approx(0.2)
    # nothing overlaps without overlap, so nothing is stolen
    after = replay(profile, [[1], [0]], comm, 2, overlap=False, cpu_steal=0.5)
    assert after.backward_s == pytest.approx(1.0) and after.exposed_comm_s == pytest.approx(0.4)
    with pytest.raises(ValueError, match="cpu_steal"):
        replay(profile, [[1], [0]], comm, 2, cpu_steal=1.5)
    # steal 1: backward waits out each allreduce (0.5..0.7), so it ends at 1.2
    assert replay(profile, [[1], [0]], comm, 2, cpu_steal=1.0).backward_s == pytest.approx(1.2)
