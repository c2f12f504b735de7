"""Allocation LPs (syslab.sched.policies.allocation): constraints, closed forms, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from syslab.common.errors import UserError
from syslab.sched.policies import allocation as alloc
from syslab.sched.policies.allocation import (
    agnostic,
    effective_throughput,
    finish_time_fairness,
    finish_time_ratios,
    isolated_throughput,
    max_min_fairness,
    max_throughput,
    min_makespan,
    normalised_throughput,
    proportional_throughput,
)

BACKENDS = ["highspy", "linprog"] if alloc._Highs is not None else ["linprog"]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    monkeypatch.setattr(alloc, "BACKEND", request.param)
    return request.param


def check_feasible(X: np.ndarray, tput: np.ndarray, gpus, capacity) -> None:
    gpus = np.asarray(gpus, float)
    capacity = np.asarray(capacity, float)
    assert X.shape == tput.shape
    assert np.all(X >= 0) and np.all(X <= 1)
    assert np.all(X.sum(axis=1) <= 1 + 1e-12)
    assert np.all(gpus @ X <= capacity + 1e-9)
    runnable = (tput > 0) & (gpus[:, None] <= capacity[None, :])
    assert np.all(X[~runnable] == 0)


def ftf_inputs(tput, gpus, capacity, remaining, elapsed):
    iso = isolated_throughput(tput, gpus, capacity)
    return dict(remaining_steps=remaining, elapsed_s=elapsed), np.asarray(remaining) / iso


# ----------------------------------------------------------------------------- random instances


@st.composite
def instances(draw):
    n = draw(st.integers(1, 9))
    T = draw(st.integers(1, 3))
    capacity = np.array(draw(st.lists(st.integers(0, 12), min_size=T, max_size=T)))
    if capacity.sum() == 0:
        capacity[0] = 4
    gpus = np.array(draw(st.lists(st.sampled_from([1, 1, 2, 4, 8]), min_size=n, max_size=n)))
    rates = draw(st.lists(st.floats(0.1, 200.0), min_size=n * T, max_size=n * T))
    zeros = draw(st.lists(st.booleans(), min_size=n * T, max_size=n * T))
    tput = np.where(np.array(zeros).reshape(n, T), 0.0, np.array(rates).reshape(n, T))
    # every job must run somewhere: give it its best-fitting type if it has none
    fits = gpus[:, None] <= capacity[None, :]
    for i in range(n):
        if not ((tput[i] > 0) & fits[i]).any():
            ok = np.flatnonzero(capacity >= gpus[i])
            if ok.size == 0:
                gpus[i] = 1
                ok = np.flatnonzero(capacity >= 1)
            tput[i, ok[0]] = rates[i * T]
    remaining = np.array(draw(st.lists(st.floats(10.0, 1e6), min_size=n, max_size=n)))
    elapsed = np.array(draw(st.lists(st.floats(0.0, 1e4), min_size=n, max_size=n)))
    return tput, gpus, capacity, remaining, elapsed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_every_policy_returns_a_feasible_allocation(inst):
    tput, gpus, capacity, remaining, elapsed = inst
    for X in (
        max_min_fairness(tput, gpus, capacity),
        max_min_fairness(tput, gpus, capacity, levels=3),
        min_makespan(tput, gpus, capacity, remaining_steps=remaining),
        finish_time_fairness(tput, gpus, capacity, remaining_steps=remaining,
                             elapsed_s=elapsed, levels=2),
        finish_time_fairness(tput, gpus, capacity, remaining_steps=remaining,
                             elapsed_s=elapsed, hold_hopeless=False),
    ):
        check_feasible(X, tput, gpus, capacity)
        assert np.all(effective_throughput(X, tput) > 0)  # fairness: every job progresses
    for X in (max_throughput(tput, gpus, capacity),
              max_throughput(tput, gpus, capacity, normalise=False)):
        check_feasible(X, tput, gpus, capacity)  # may starve a job: that is its objective


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_optima_match_independent_linprog_formulations(inst):
    """Each objective value equals that of a dense, per-job linprog written separately."""
    tput, gpus, capacity, remaining, elapsed = inst
    n, T = tput.shape
    runnable = ((tput > 0) & (gpus[:, None] <= capacity[None, :])).ravel()
    prop = proportional_throughput(tput, capacity)

    def ref_max_min(coef):  # max z s.t. coef_i . x_i >= z, base constraints
        nv = n * T + 1
        A, b = [], []
        for i in range(n):
            row = np.zeros(nv)
            row[i * T:(i + 1) * T] = 1
            A.append(row), b.append(1.0)
            row = np.zeros(nv)
            row[i * T:(i + 1) * T] = -coef[i]
            row[-1] = 1
            A.append(row), b.append(0.0)
        for t in range(T):
            row = np.zeros(nv)
            row[t:n * T:T] = gpus
            A.append(row), b.append(capacity[t])
        bounds = [(0, 1 if ok else 0) for ok in runnable] + [(0, None)]
        c = np.zeros(nv)
        c[-1] = -1
        res = linprog(c, A_ub=np.array(A), b_ub=b, bounds=bounds, method="highs")
        assert res.status == 0
        return -res.fun

    nt_coef = tput * gpus[:, None] / prop[:, None]
    X = max_min_fairness(tput, gpus, capacity)
    got = normalised_throughput(X, tput, gpus, capacity).min()
    assert got == pytest.approx(ref_max_min(nt_coef), rel=1e-5)

    X = min_makespan(tput, gpus, capacity, remaining_steps=remaining)
    got = (remaining / effective_throughput(X, tput)).max()
    assert got == pytest.approx(1 / ref_max_min(tput / remaining[:, None]), rel=1e-5)

    X = max_throughput(tput, gpus, capacity)
    c = -(nt_coef.ravel() * runnable)
    A = np.zeros((n + T, n * T))
    for i in range(n):
        A[i, i * T:(i + 1) * T] = 1
    for t in range(T):
        A[n + t, t::T] = gpus
    res = linprog(c, A_ub=A, b_ub=np.concatenate([np.ones(n), capacity]),
                  bounds=[(0, 1 if ok else 0) for ok in runnable], method="highs")
    got = normalised_throughput(X, tput, gpus, capacity).sum()
    assert got == pytest.approx(-res.fun, rel=1e-6)


def min_max_rho_by_bisection(tput, gpus, capacity, r, a, D, *, hold_hopeless):
    """max rho (of the jobs that can still be helped, if hold_hopeless) by LP bisection."""
    n, T = tput.shape
    runnable = ((tput > 0) & (gpus[:, None] <= capacity[None, :])).ravel()
    best = np.where(runnable.reshape(n, T), tput, 0).max(axis=1)
    rho_min = (a + r / best) / D

    def feasible(lam):
        need = np.where(rho_min >= lam, best * (1 - 1e-9), r / np.maximum(lam * D - a, 1e-300))
        if not hold_hopeless and np.any(rho_min >= lam):
            return False
        A = np.zeros((2 * n + T, n * T))
        b = np.zeros(2 * n + T)
        for i in range(n):
            A[i, i * T:(i + 1) * T] = 1
            b[i] = 1
            A[n + i, i * T:(i + 1) * T] = -tput[i]
            b[n + i] = -need[i]
        for t in range(T):
            A[2 * n + t, t::T] = gpus
            b[2 * n + t] = capacity[t]
        res = linprog(np.zeros(n * T), A_ub=A, b_ub=b,
                      bounds=[(0, 1 if ok else 0) for ok in runnable], method="highs")
        return res.status == 0

    lo, hi = 0.0, 1.0
    while not feasible(hi):
        lo, hi = hi, hi * 2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if feasible(mid) else (mid, hi)
    return hi, rho_min


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_ftf_is_exact_against_bisection(inst):
    """max rho is Gavel's optimum; below the hopeless jobs it is the leximin level."""
    tput, gpus, capacity, r, a = inst
    kw, D = ftf_inputs(tput, gpus, capacity, r, a)
    X = finish_time_fairness(tput, gpus, capacity, **kw)
    rho = finish_time_ratios(X, tput, remaining_steps=r, elapsed_s=a, isolated_time_s=D)
    plain, rho_min = min_max_rho_by_bisection(tput, gpus, capacity, r, a, D,
                                              hold_hopeless=False)
    assert rho.max() == pytest.approx(plain, rel=1e-5)
    level, _ = min_max_rho_by_bisection(tput, gpus, capacity, r, a, D, hold_hopeless=True)
    helped = rho_min < level * (1 - 1e-4)
    if helped.any():
        assert rho[helped].max() <= level * (1 + 1e-5)
    # the hopeless ones get their best: rho at rho_min
    hopeless = rho_min > level * (1 + 1e-4)
    assert np.allclose(rho[hopeless], rho_min[hopeless], rtol=1e-5)
    # Gavel's objective alone reaches the same max rho
    X = finish_time_fairness(tput, gpus, capacity, **kw, hold_hopeless=False)
    rho = finish_time_ratios(X, tput, remaining_steps=r, elapsed_s=a, isolated_time_s=D)
    assert rho.max() == pytest.approx(plain, rel=1e-5)


# ----------------------------------------------------------------------------- closed forms


def test_max_min_equal_share_on_one_type(backend):
    for n, c in [(10, 4), (7, 3), (3, 5)]:
        X = max_min_fairness(np.full((n, 1), 5.0), np.ones(n), [c])
        assert np.allclose(X[:, 0], min(1.0, c / n), atol=1e-7)


def test_max_min_scale_factor_and_weights(backend):
    # Two 1-GPU jobs and one 2-GPU job on 2 GPUs: equal GPU shares g_i x_i = 2/3.
    X = max_min_fairness(np.full((3, 1), 7.0), [1, 1, 2], [2], fill=False)
    assert np.allclose(X[:, 0], [2 / 3, 2 / 3, 1 / 3], atol=1e-7)
    # Weights 1 and 2 on one GPU: shares 1/3 and 2/3.
    X = max_min_fairness(np.full((2, 1), 3.0), [1, 1], [1], weights=[1, 2])
    assert np.allclose(X[:, 0], [1 / 3, 2 / 3], atol=1e-7)


def test_max_min_fill_uses_leftover_capacity(backend):
    # Job 0 can only use type 0 (1 GPU); jobs 1-2 run on both. The min is set by job 0
    # alone (x = 1 on its only GPU, nt = its proportional rate); without fill the LP may
    # leave type 1 idle, with fill both types are fully used.
    tput = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    X = max_min_fairness(tput, [1, 1, 1], [1, 2])
    assert np.allclose(np.ones(3) @ X, [1, 2], atol=1e-6)
    nt0 = normalised_throughput(max_min_fairness(tput, [1, 1, 1], [1, 2], fill=False),
                                tput, [1, 1, 1], [1, 2]).min()
    assert normalised_throughput(X, tput, [1, 1, 1], [1, 2]).min() >= nt0 * (1 - 2e-6)


def test_water_filling_raises_the_jobs_above_the_bottleneck(backend):
    # Job 0 reaches nt = 1.5 at most (its only type); jobs 1, 2 share 4 GPUs of the other.
    tput = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    gpus, cap = [1, 1, 1], [1, 4]
    X1 = max_min_fairness(tput, gpus, cap, fill=False)
    X2 = max_min_fairness(tput, gpus, cap, fill=False, levels=2)
    nt1 = normalised_throughput(X1, tput, gpus, cap)
    nt2 = normalised_throughput(X2, tput, gpus, cap)
    assert nt2.min() == pytest.approx(nt1.min(), rel=1e-6)
    assert np.allclose(X2[1:, 1], 1.0, atol=1e-6)  # raised to their own cap


def test_min_makespan_equalises_finish_times(backend):
    X = min_makespan(np.array([[1.0], [1.0]]), [1, 1], [1], remaining_steps=[100, 300])
    finish = np.array([100, 300]) / X[:, 0]
    assert finish == pytest.approx([400, 400], rel=1e-5)
    # Heterogeneous: the long job needs the fast GPU whole (4000 steps at 4/s); the short
    # one then fits on the slow GPU. Agnostic of types, either could get either.
    tput = np.array([[4.0, 1.0], [4.0, 1.0]])
    X = min_makespan(tput, [1, 1], [1, 1], remaining_steps=[4000, 100], fill=False)
    assert (np.array([4000, 100]) / effective_throughput(X, tput)).max() == pytest.approx(
        1000, rel=1e-5)
    assert X[0, 0] == pytest.approx(1.0, abs=1e-6)


def test_max_throughput_puts_the_larger_speedup_on_the_fast_type(backend):
    tput = np.array([[2.0, 1.0], [8.0, 1.0]])  # job 1 gains 8x on type 0, job 0 only 2x
    X = max_throughput(tput, [1, 1], [1, 1])
    assert np.allclose(X, [[0, 1], [1, 0]], atol=1e-7)
    # Gavel's raw objective (steps/s) sees the same here
    assert np.allclose(max_throughput(tput, [1, 1], [1, 1], normalise=False), X, atol=1e-7)


def test_heterogeneity_aware_beats_agnostic():
    # Two V100-like GPUs and two K80-like; job types gain 10x, 1.2x from the fast type.
    tput = np.array([[10.0, 1.0]] * 2 + [[1.2, 1.0]] * 2)
    gpus, cap = np.ones(4), np.array([2, 2])
    aware = max_min_fairness(tput, gpus, cap)
    blind = max_min_fairness(agnostic(tput), gpus, cap)
    nt_aware = normalised_throughput(aware, tput, gpus, cap)
    nt_blind = normalised_throughput(blind, tput, gpus, cap)
    assert nt_aware.min() > nt_blind.min() + 1e-3
    assert nt_aware.sum() > nt_blind.sum() + 1e-3
    for X in (max_throughput(tput, gpus, cap), max_throughput(agnostic(tput), gpus, cap)):
        check_feasible(X, tput, gpus, cap)
    assert (normalised_throughput(max_throughput(tput, gpus, cap), tput, gpus, cap).sum()
            > normalised_throughput(max_throughput(agnostic(tput), gpus, cap), tput, gpus,
                                    cap).sum() + 1e-3)


def test_agnostic_copies_one_column():
    tput = np.array([[3.0, 1.0, 0.0], [2.0, 4.0, 1.0]])
    assert np.array_equal(agnostic(tput), [[3.0, 3.0, 0.0], [4.0, 4.0, 4.0]])
    assert np.array_equal(agnostic(tput, 0, keep_zeros=False), [[3.0] * 3, [2.0] * 3])
    with pytest.raises(UserError):
        agnostic(tput, 5)


def test_normalisers_match_gavel():
    tput = np.array([[4.0, 2.0], [1.0, 1.0]])
    cap = np.array([1, 3])
    assert np.allclose(proportional_throughput(tput, cap), [(4 + 6) / 4, 1.0])
    # 1/N of each pool: 2 jobs -> 0.5 of type 0 and 1.5 of type 1, capped at total time 1
    iso = isolated_throughput(tput, [1, 2], cap)
    assert np.allclose(iso, [(0.5 * 4 + 1.5 * 2) / 2.0, 0.25 + 0.75])


def ftf_grid(tput, cap, r, a, D, step):
    """Brute force over X for 2 jobs x 2 types (one GPU-gang each)."""
    v = np.arange(0, 1 + 1e-12, step)
    x0f, x0s, x1f, x1s = np.meshgrid(v, v, v, v, indexing="ij", sparse=True)
    ok = (x0f + x0s <= 1) & (x1f + x1s <= 1) & (x0f + x1f <= cap[0]) & (x0s + x1s <= cap[1])
    e0 = x0f * tput[0, 0] + x0s * tput[0, 1]
    e1 = x1f * tput[1, 0] + x1s * tput[1, 1]
    with np.errstate(divide="ignore"):
        rho = np.maximum((a[0] + r[0] / e0) / D[0], (a[1] + r[1] / e1) / D[1])
    return np.where(ok, rho, np.inf).min()


@pytest.mark.parametrize("a", [[0.0, 0.0], [300.0, 0.0], [50.0, 120.0]])
def test_ftf_matches_brute_force_on_two_jobs(backend, a):
    tput = np.array([[10.0, 2.0], [3.0, 2.5]])
    cap = np.array([1, 1])
    r = np.array([2000.0, 900.0])
    a = np.array(a)
    kw, D = ftf_inputs(tput, [1, 1], cap, r, a)
    X = finish_time_fairness(tput, [1, 1], cap, **kw)
    got = finish_time_ratios(X, tput, remaining_steps=r, elapsed_s=a, isolated_time_s=D).max()
    brute = ftf_grid(tput, cap, r, a, D, 0.02)
    assert got <= brute * (1 + 2e-6)  # never worse than any grid point (levels held to 1e-6)
    assert got >= brute * (1 - 0.05)  # and the grid gets within its resolution


def test_ftf_holds_a_hopeless_job_at_its_best():
    # Job 0 already waited 10x its isolated time: it gets its fastest GPU whole; the
    # other three share the rest to the lowest common rho.
    tput = np.array([[5.0, 1.0]] + [[2.0, 2.0]] * 3)
    cap, gpus = np.array([2, 2]), np.ones(4)
    r = np.array([100.0, 4000.0, 4000.0, 4000.0])
    iso = isolated_throughput(tput, gpus, cap)
    a = np.array([10 * 100 / iso[0], 0.0, 0.0, 0.0])
    X = finish_time_fairness(tput, gpus, cap, remaining_steps=r, elapsed_s=a)
    assert X[0, 0] == pytest.approx(1.0, abs=1e-6)
    rho = finish_time_ratios(X, tput, remaining_steps=r, elapsed_s=a, isolated_time_s=r / iso)
    assert np.ptp(rho[1:]) < 1e-5  # the others end level
    # only 3 GPUs remain for 3 jobs: each gets 1 of 2 steps/s; isolated they had 1/4 of 4
    assert rho[1] == pytest.approx(1.0, rel=1e-5)
    # Gavel's objective alone: the same worst rho, but job 0 need not get the whole GPU
    X = finish_time_fairness(tput, gpus, cap, remaining_steps=r, elapsed_s=a,
                             hold_hopeless=False, fill=False)
    rho2 = finish_time_ratios(X, tput, remaining_steps=r, elapsed_s=a, isolated_time_s=r / iso)
    assert rho2.max() == pytest.approx(rho.max(), rel=1e-5)


def test_identical_jobs_get_identical_rows():
    tput = np.array([[3.0, 1.0]] * 5 + [[1.0, 1.0]] * 2)
    for X in (max_min_fairness(tput, np.ones(7), [2, 2]),
              max_throughput(tput, np.ones(7), [2, 2]),
              min_makespan(tput, np.ones(7), [2, 2], remaining_steps=np.full(7, 50.0))):
        assert np.ptp(X[:5], axis=0).max() < 1e-12 and np.ptp(X[5:], axis=0).max() < 1e-12


def test_no_jobs_gives_an_empty_matrix():
    empty = np.zeros((0, 3))
    assert max_min_fairness(empty, [], [1, 2, 3]).shape == (0, 3)
    assert min_makespan(empty, [], [1, 2, 3], remaining_steps=[]).shape == (0, 3)
    assert finish_time_fairness(empty, [], [1, 2, 3], remaining_steps=[],
                                elapsed_s=[]).shape == (0, 3)
    assert max_throughput(empty, [], [1, 2, 3]).shape == (0, 3)


# ----------------------------------------------------------------------------- errors

GOOD = dict(tput=np.array([[1.0, 2.0], [3.0, 0.0]]), gpus=np.array([1, 2]),
            capacity=np.array([2, 2]))
R = dict(remaining_steps=np.array([10.0, 20.0]))
F = dict(remaining_steps=np.array([10.0, 20.0]), elapsed_s=np.array([0.0, 5.0]))
POLICIES = [
    ("max_min_fairness", lambda **k: max_min_fairness(**k)),
    ("min_makespan", lambda **k: min_makespan(**k, **R)),
    ("finish_time_fairness", lambda **k: finish_time_fairness(**k, **F)),
    ("max_throughput", lambda **k: max_throughput(**k)),
]
BAD_CORE = [
    ("cannot run on any GPU type", dict(tput=np.array([[1.0, 2.0], [0.0, 0.0]]))),
    ("cannot run on any GPU type", dict(gpus=np.array([1, 4]))),
    ("capacity is zero", dict(capacity=np.array([0, 0]))),
    ("NaN", dict(tput=np.array([[1.0, np.nan], [3.0, 0.0]]))),
    ("negative", dict(tput=np.array([[1.0, -2.0], [3.0, 0.0]]))),
    ("2-D", dict(tput=np.array([1.0, 2.0]))),
    ("shape", dict(gpus=np.array([1, 2, 3]))),
    ("shape", dict(capacity=np.array([2]))),
    ("must be > 0", dict(gpus=np.array([0, 2]))),
    ("whole GPU counts", dict(gpus=np.array([1.5, 2]))),
    ("negative", dict(capacity=np.array([2, -1]))),
    ("not numeric", dict(tput=[["a", "b"], ["c", "d"]])),
]


@pytest.mark.parametrize("name,call", POLICIES, ids=[p[0] for p in POLICIES])
@pytest.mark.parametrize("needle,override", BAD_CORE, ids=[b[0] + str(i)
                                                           for i, b in enumerate(BAD_CORE)])
def test_bad_inputs_are_one_line_user_errors(name, call, needle, override):
    with pytest.raises(UserError) as err:
        call(**{**GOOD, **override})
    msg = str(err.value)
    assert msg.startswith(name + ":") and needle in msg and "\n" not in msg


@pytest.mark.parametrize("kwargs,needle", [
    (dict(weights=[1.0, 0.0]), "weights must be > 0"),
    (dict(weights=[1.0, np.inf]), "NaN or infinite"),
    (dict(weights=[1.0]), "shape"),
])
def test_bad_weights(kwargs, needle):
    with pytest.raises(UserError, match=needle):
        max_min_fairness(**GOOD, **kwargs)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(remaining_steps=[10.0, 0.0], elapsed_s=[0, 0]), "remaining_steps must be > 0"),
    (dict(remaining_steps=[10.0, 5.0], elapsed_s=[0, -1]), "elapsed_s has negative"),
    (dict(remaining_steps=[10.0, 5.0], elapsed_s=[0, 0], isolated_tput=[1.0, 0.0]),
     "isolated throughput 0"),
    (dict(remaining_steps=[10.0, 5.0], elapsed_s=[0, 0], n_contending=0), "n_contending"),
    (dict(remaining_steps=[10.0, 5.0], elapsed_s=[0, 0], tol=0.0), "tol"),
    (dict(remaining_steps=[10.0, 5.0], elapsed_s=[0, 0], isolated_elapsed_s=[1.0, np.nan]),
     "NaN"),
])
def test_bad_ftf_inputs(kwargs, needle):
    with pytest.raises(UserError, match=needle):
        finish_time_fairness(**GOOD, **kwargs)


def test_bad_makespan_inputs():
    with pytest.raises(UserError, match="remaining_steps must be > 0"):
        min_makespan(**GOOD, remaining_steps=[1.0, -3.0])


@pytest.mark.skipif(alloc._Highs is None, reason="needs highspy")
def test_solver_failure_is_a_user_error(monkeypatch):
    monkeypatch.setattr(alloc, "BACKEND", "highspy")
    monkeypatch.setattr(alloc, "_TIME_LIMIT_S", 0.0)
    rng = np.random.default_rng(0)
    tput = rng.uniform(1, 10, (60, 3))
    with pytest.raises(UserError, match=r"max_min_fairness: LP not solved \(Time limit"):
        max_min_fairness(tput, np.ones(60), [10, 10, 10])


def test_backends_agree():
    if len(BACKENDS) < 2:
        pytest.skip("needs highspy")
    rng = np.random.default_rng(3)
    tput = np.exp(rng.normal(2, 1, (40, 3)))
    gpus = rng.choice([1, 2, 4], 40)
    cap = np.array([12, 12, 12])
    r = rng.uniform(1e3, 1e5, 40)
    a = rng.uniform(0, 3e3, 40)
    out = {}
    for b in BACKENDS:
        alloc.BACKEND = b
        try:
            X = finish_time_fairness(tput, gpus, cap, remaining_steps=r, elapsed_s=a)
            out[b] = [normalised_throughput(max_min_fairness(tput, gpus, cap), tput, gpus,
                                            cap).min(),
                      (r / effective_throughput(min_makespan(tput, gpus, cap,
                                                             remaining_steps=r), tput)).max(),
                      finish_time_ratios(X, tput, remaining_steps=r, elapsed_s=a,
                                         isolated_time_s=r / isolated_throughput(
                                             tput, gpus, cap)).max()]
        finally:
            alloc.BACKEND = BACKENDS[0]
    assert np.allclose(out["highspy"], out["linprog"], rtol=1e-5)
