"""Gavel-style allocation policies: a time-fraction matrix X from one or a few linear programs.

Pure functions, no I/O and no engine state: the engine calls one of them each time the set
of active jobs changes and turns X into per-round assignments.

Notation (n active jobs, T GPU types)
-------------------------------------
- ``tput[i, t]``: steps/s of job i on type t with its whole gang (0: it cannot run there);
- ``gpus[i]`` = g_i, the gang size (Gavel's *scale factor*); ``capacity[t]`` = C_t GPUs;
- ``X[i, t]``: fraction of wall time job i runs on type t. Every policy returns an X with

      0 <= X[i, t] <= 1,   sum_t X[i, t] <= 1,   sum_i g_i X[i, t] <= C_t,
      X[i, t] = 0 where tput[i, t] = 0 or g_i > C_t (a gang larger than the pool never fits);

- effective throughput e_i(X) = sum_t X[i, t] tput[i, t] (steps/s averaged over wall time);
- proportional-share throughput (Gavel's ``ProportionalPolicy``, the normaliser):
  p_i = sum_t tput[i, t] C_t / sum_t C_t, the rate of job i if it ran all the time on a GPU
  mix proportional to the cluster's;
- normalised throughput nt_i(X) = g_i e_i(X) / p_i. With one GPU type it is the number of
  GPUs the job holds on average, so sum_i nt_i is the busy-GPU count; across types it counts
  "average-GPU equivalents" and so rewards putting a job where its relative speedup is large.

Policies (Gavel, OSDI'20 section 4; Themis, NSDI'20)
----------------------------------------------------
``max_min_fairness`` (Gavel ``max_min_fairness_perf``):  max_X min_i nt_i(X) / w_i,
    as an LP  max z  s.t.  g_i e_i / (w_i p_i) >= z.
``min_makespan`` (Gavel ``min_total_duration``):  min_X max_i r_i / e_i(X), r_i = remaining
    steps; LP in the reciprocal z = 1 / makespan:  max z  s.t.  e_i / r_i >= z.
``finish_time_fairness`` (Gavel ``finish_time_fairness_perf``, after Themis):
    min_X max_i rho_i(X),  rho_i = (a_i + r_i / e_i(X)) / D_i,  a_i = time since arrival,
    D_i = isolated time = (time the work done so far would have taken in isolation)
    + r_i / iso_i, iso_i = throughput with 1/N of every GPU pool (Gavel's ``IsolatedPolicy``).
    rho_i <= lam  <=>  e_i >= L_i(lam) = r_i / (lam D_i - a_i): linear for a fixed lam but
    not jointly, so it is solved exactly by the generalised Dinkelbach method (Crouzeix,
    Ferland, Schaible 1985): lam_{k+1} = max_i rho_i(X_k), where X_k solves the LP
        max y  s.t.  e_i(X) - gamma_i y >= L_i(lam_k),
        gamma_i = lam_k D_i L_i(lam_k) / (lam_k D_i - a_i),
    so y = min_i (e_i / L_i)(1 - rho_i / lam_k): superlinear from above, and y <= tol / 2
    certifies lam_k <= optimum (1 + tol). Jobs whose best possible rho (all their time on
    their fastest type) exceeds the level the others can reach are held there (see the
    function); the level below them is bracketed by bisection over those breakpoints with
    feasibility LPs. Every LP after the first is a warm re-solve after bound edits.
``max_throughput`` (Gavel ``max_sum_throughput_perf``):  max_X sum_i nt_i(X); with
    ``normalise=False`` Gavel's raw objective sum_i e_i (steps/s added across models).

Beyond Gavel
------------
- min-max and max-min optima are degenerate: once the worst job is fixed, the others may
  get anything, and a simplex solver returns a vertex that can leave GPUs idle. With
  ``levels`` > 1 the fairness objective is applied again to the jobs that are not
  bottlenecked (water-filling, as Gavel's ``max_min_fairness_water_filling``, but bottlenecks
  come from LP duals instead of a MILP: a job whose row has a positive dual is tight in every
  optimum); with ``fill`` a last LP maximises sum_i nt_i with every level held (to a relative
  1e-6). Gavel's plain policies do neither: ECOS returns an interior point of the optimal face.
- Jobs with identical inputs are merged into one class before solving (exact: the problems
  are symmetric and convex, so a symmetric optimum exists). Realistic workloads have few
  distinct (job type, gang) pairs, which makes the fairness LPs small.
- Gavel finds the makespan by bisection to 5 %; here it is one exact LP.
- FTF holds "hopeless" jobs at their own best (leximin over those levels) unless
  ``hold_hopeless=False``; max rho is Gavel's optimum either way.
- A gang larger than a type's whole pool gets X = 0 there (Gavel would give it a fraction
  C_t / g_i of an allocation that can never be placed).

Heterogeneity-agnostic variants: pass ``agnostic(tput)`` instead of ``tput`` (every column
replaced by one reference column, as Gavel does; see ``agnostic``) and evaluate the returned X
with the real ``tput``.

Solver: HiGHS through ``highspy`` when installed (one model, warm re-solves after edits),
otherwise ``scipy.optimize.linprog(method="highs")`` (cold solves, same answers, slower).
Any failure is a one-line ``UserError`` naming the policy and the cause.
"""

from __future__ import annotations

from importlib import metadata as _metadata

import numpy as np
import scipy.sparse as sp

from syslab.common.errors import UserError

try:  # `_Highs` is the bare binding highspy exports: no banner, no Python callbacks
    from highspy import HighsLp, HighsModelStatus, MatrixFormat, ObjSense, _Highs, kHighsInf

    HIGHSPY_VERSION = _metadata.version("highspy")
except ImportError:  # pragma: no cover - exercised by forcing BACKEND = "linprog"
    _Highs = None
    HIGHSPY_VERSION = None

__all__ = [
    "agnostic",
    "effective_throughput",
    "finish_time_fairness",
    "finish_time_ratios",
    "isolated_throughput",
    "max_min_fairness",
    "max_throughput",
    "min_makespan",
    "normalised_throughput",
    "proportional_throughput",
]

#: "highspy" (warm-started HiGHS) or "linprog" (scipy, cold solves); tests flip it.
BACKEND = "highspy" if _Highs is not None else "linprog"

_TIME_LIMIT_S = 60.0
_HOLD = 1e-6  # relative slack when a level is held in later LPs (solver tolerance is 1e-7)
_BLOCKED = 1e-7  # share of the level's dual weight that marks a job as bottlenecked
_DINKELBACH_MAX_ITERS = 100  # LPs per level; on running out the best X so far is used


# ----------------------------------------------------------------------------- public helpers


def agnostic(tput: np.ndarray, reference: int | None = None, *, keep_zeros: bool = True
             ) -> np.ndarray:
    """The heterogeneity-agnostic view of ``tput``: every column set to one reference column.

    Gavel's agnostic policies see every GPU type as equal: ``max_min_fairness`` sets all
    throughputs to 1 and ``finish_time_fairness``/``min_total_duration`` copy the V100 column
    to every type. Both are this function: with every column equal the max-min and
    max-throughput normalisation cancels the scale (so ones and a copied column give the same
    X), and the time-based policies keep real seconds. ``reference`` is the column to copy
    (Gavel: the index of "v100"); None copies each job's fastest rate. ``keep_zeros`` keeps
    tput = 0 where the job cannot run at all (an agnostic scheduler still knows a model does
    not fit a GPU); Gavel drops this (``keep_zeros=False``).
    """
    tput = np.asarray(tput, dtype=float)
    if tput.ndim != 2:
        raise UserError(f"agnostic: tput must be 2-D (jobs x GPU types), got shape {tput.shape}")
    if reference is None:
        column = tput.max(axis=1) if tput.shape[1] else np.zeros(len(tput))
    else:
        if not -tput.shape[1] <= reference < tput.shape[1]:
            raise UserError(f"agnostic: reference column {reference} out of range")
        column = tput[:, reference]
    out = np.repeat(column[:, None], tput.shape[1], axis=1)
    if keep_zeros:
        out[tput <= 0] = 0.0
    return out


def proportional_throughput(tput: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """p_i = sum_t tput[i, t] C_t / sum_t C_t: Gavel's normaliser (its ``ProportionalPolicy``).

    Gavel gives each job x[i, t] = C_t / sum C: its whole time spread over types in proportion
    to their GPU counts, whatever n is. p_i is the rate that earns.
    """
    tput = np.asarray(tput, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    total = capacity.sum()
    if total <= 0:
        raise UserError("proportional_throughput: capacity is zero for every GPU type")
    return tput @ capacity / total


def isolated_throughput(tput: np.ndarray, gpus: np.ndarray, capacity: np.ndarray,
                        n_contending: int | None = None) -> np.ndarray:
    """iso_i: rate of job i with 1/N of every GPU pool (Gavel's ``IsolatedPolicy``, Themis).

    x[i, t] = C_t / (N g_i), scaled down so that sum_t x[i, t] <= 1; iso_i = sum_t x tput.
    N defaults to the number of jobs. As in Gavel, types where the job runs at 0 still take
    their share of its time.
    """
    tput = np.asarray(tput, dtype=float)
    gpus = np.asarray(gpus, dtype=float)
    capacity = np.asarray(capacity, dtype=float)
    n = len(tput) if n_contending is None else n_contending
    if n < 1:
        raise UserError(f"isolated_throughput: n_contending must be >= 1, got {n}")
    x = capacity[None, :] / (n * gpus[:, None])
    x /= np.maximum(x.sum(axis=1), 1.0)[:, None]
    return (x * tput).sum(axis=1)


def effective_throughput(X: np.ndarray, tput: np.ndarray) -> np.ndarray:
    """e_i = sum_t X[i, t] tput[i, t], steps/s averaged over wall time."""
    return (np.asarray(X, dtype=float) * np.asarray(tput, dtype=float)).sum(axis=1)


def normalised_throughput(X: np.ndarray, tput: np.ndarray, gpus: np.ndarray,
                          capacity: np.ndarray) -> np.ndarray:
    """nt_i = g_i e_i / p_i: what ``max_min_fairness`` equalises and ``max_throughput`` sums."""
    p = proportional_throughput(tput, capacity)
    return np.asarray(gpus, dtype=float) * effective_throughput(X, tput) / p


def finish_time_ratios(X: np.ndarray, tput: np.ndarray, *, remaining_steps: np.ndarray,
                       elapsed_s: np.ndarray, isolated_time_s: np.ndarray) -> np.ndarray:
    """rho_i = (a_i + r_i / e_i) / D_i for an allocation X (inf where e_i = 0)."""
    e = effective_throughput(X, tput)
    with np.errstate(divide="ignore"):
        left = np.where(e > 0, np.asarray(remaining_steps, float) / e, np.inf)
    return (np.asarray(elapsed_s, float) + left) / np.asarray(isolated_time_s, float)


# ----------------------------------------------------------------------------- policies


def max_min_fairness(tput: np.ndarray, gpus: np.ndarray, capacity: np.ndarray,
                     weights: np.ndarray | None = None, *, fill: bool = True,
                     levels: int = 1) -> np.ndarray:
    """Gavel's max_min_fairness_perf: maximise min_i g_i e_i / (w_i p_i).

    Normalisation exactly as Gavel's: e_i divided by p_i (``proportional_throughput``),
    multiplied by the scale factor g_i ("a 1-GPU job should get g times the time of a g-GPU
    job") and divided by the priority weight w_i. With one type this is weighted max-min of
    GPU shares: n identical 1-GPU jobs on c <= n GPUs get c/n each.

    ``levels`` > 1 water-fills: after the first LP the bottlenecked jobs are held at their
    level and the min over the others is raised again (Gavel's water-filling variant).
    ``fill`` then maximises sum_i g_i e_i / p_i with all levels held; Gavel's plain policy
    does not. Returns X (n, T).
    """
    policy = "max_min_fairness"
    p = _Problem.build(policy, tput, gpus, capacity)
    w = _vector(policy, "weights", weights, p.n, positive=True, default=1.0)
    if p.n == 0:
        return p.empty()
    p.aggregate(w)
    (w,) = p.extras
    coef = p.tput[p.ii, p.tt] * p.gpus[p.ii] / (w[p.ii] * p.prop[p.ii])
    lp = _LevelLp(p, coef, rhs=np.zeros(p.k), zcoef=-np.ones(p.k))
    z = lp.water_fill_linear(levels)
    if fill:
        lp.fill(z_lower=z * (1 - _HOLD))
    return p.finish(lp.X)


def min_makespan(tput: np.ndarray, gpus: np.ndarray, capacity: np.ndarray, *,
                 remaining_steps: np.ndarray, fill: bool = True) -> np.ndarray:
    """Gavel's min_total_duration: minimise max_i r_i / e_i, the time until all jobs finish.

    One LP in z = K / makespan (K a fixed scale): max z s.t. e_i K / r_i >= z. Gavel instead
    bisects on the makespan with feasibility LPs and stops within 5 %. ``fill`` then
    maximises sum_i g_i e_i / p_i with the makespan held (to 1e-6), so the jobs that finish
    early do not leave GPUs idle. ``remaining_steps`` must be > 0. Returns X (n, T).
    """
    policy = "min_makespan"
    p = _Problem.build(policy, tput, gpus, capacity)
    r = _vector(policy, "remaining_steps", remaining_steps, p.n, positive=True)
    if p.n == 0:
        return p.empty()
    p.aggregate(r)
    (r,) = p.extras
    best = np.zeros(p.k)
    np.maximum.at(best, p.ii, p.tput[p.ii, p.tt])
    scale = float(np.median(r / best))  # z ~ 1 at the optimum: better conditioned rows
    coef = p.tput[p.ii, p.tt] * scale / r[p.ii]
    lp = _LevelLp(p, coef, rhs=np.zeros(p.k), zcoef=-np.ones(p.k))
    z = lp.water_fill_linear(1)
    if fill:
        lp.fill(z_lower=z * (1 - _HOLD))
    return p.finish(lp.X)


def finish_time_fairness(tput: np.ndarray, gpus: np.ndarray, capacity: np.ndarray, *,
                         remaining_steps: np.ndarray, elapsed_s: np.ndarray,
                         isolated_tput: np.ndarray | None = None,
                         n_contending: int | None = None,
                         isolated_elapsed_s: np.ndarray | None = None,
                         levels: int = 1, hold_hopeless: bool = True, fill: bool = True,
                         tol: float = 1e-6) -> np.ndarray:
    """Themis/Gavel finish-time fairness: minimise max_i rho_i(X).

    rho_i = (a_i + r_i / e_i(X)) / D_i with a_i = ``elapsed_s`` (wall time since arrival,
    Gavel's ``times_since_start``), r_i = ``remaining_steps`` (> 0) and the isolated time
    D_i = ``isolated_elapsed_s`` + r_i / iso_i. iso_i = ``isolated_tput`` or, when None,
    Gavel's ``isolated_throughput`` with N = ``n_contending`` (default: the n jobs here).
    ``isolated_elapsed_s`` is Gavel's cumulative isolated time: the engine adds
    (steps done in a period) / iso_i (of that period) for each period; None means 0 (right
    for a job that has not run yet). rho is a ratio, so D_i, not elapsed time, is the
    "exclusive" time: with a constant iso, D_i = total steps / iso_i.

    Solved exactly by generalised Dinkelbach iterations (module docstring) to a relative
    ``tol`` on max rho, each LP warm-started. Max rho is often fixed by one job that already
    waited too long: rho_i >= rho_min_i = (a_i + r_i / s_i) / D_i even with all its time on
    its best type (rate s_i), whatever the others get. With ``hold_hopeless`` (default) every
    job whose rho_min is above the level the others can reach is held at rho_min (all its
    time on its best type), and max rho is minimised over the rest: leximin over those
    levels, found by bisecting the rho_min breakpoints with feasibility LPs, then Dinkelbach.
    Without it, this is Gavel's objective alone (max rho = the worst rho_min), and only
    ``fill`` decides what the others get. ``levels`` > 1 repeats the minimisation for the
    jobs the last level did not bottleneck. ``fill`` then maximises sum_i g_i e_i / p_i with
    every level held. Max rho is Gavel's optimum either way. Returns X (n, T).
    """
    policy = "finish_time_fairness"
    p = _Problem.build(policy, tput, gpus, capacity)
    r = _vector(policy, "remaining_steps", remaining_steps, p.n, positive=True)
    a = _vector(policy, "elapsed_s", elapsed_s, p.n)
    done = _vector(policy, "isolated_elapsed_s", isolated_elapsed_s, p.n, default=0.0)
    if not tol > 0:
        raise UserError(f"{policy}: tol must be > 0, got {tol}")
    if isolated_tput is None:
        if n_contending is not None and n_contending < 1:
            raise UserError(f"{policy}: n_contending must be >= 1, got {n_contending}")
        iso = isolated_throughput(p.tput, p.gpus, p.capacity, n_contending) if p.n else r
    else:
        iso = _vector(policy, "isolated_tput", isolated_tput, p.n)
    if p.n == 0:
        return p.empty()
    if np.any(iso <= 0):
        i = int(np.argmin(iso))
        raise UserError(f"{policy}: job {i} has isolated throughput 0 (it cannot run with "
                        f"1/N of the cluster)")
    D = done + r / iso
    p.aggregate(r, a, D)
    r, a, D = p.extras

    def rho(e: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return (a + np.where(e > 0, r / np.maximum(e, 1e-300), np.inf)) / D

    # Start: the isolated share restricted to where the job runs; it is feasible
    # (sum_i g_i x[i, t] <= C_t) and gives every job e_i > 0, so max rho is a finite bound.
    x0 = np.zeros((p.k, p.T))
    x0[p.ii, p.tt] = p.capacity[p.tt] / (p.n * p.gpus[p.ii])
    x0 /= np.maximum(x0.sum(axis=1), 1.0)[:, None]
    e = (x0 * p.tput).sum(axis=1)
    # Level rows: e_i - gamma_i y >= L_i(lam) for the classes still being levelled; hold
    # rows: e_i >= h_i for those already placed (hopeless or fixed by an earlier level).
    # Moving a class between the two, or lam, only changes row bounds: warm and cheap.
    coef = p.tput[p.ii, p.tt]
    lp = _LevelLp(p, coef, rhs=np.full(p.k, -np.inf), zcoef=-np.ones(p.k), hold=True)
    best = lp.scale  # s_i: the class's best rate
    # rho_min: all the time on the best type. A job with rho_min above the level sought
    # cannot reach it whatever the others get, so it is held at rho_min (leximin would give
    # it a level of its own) rather than left to pin max rho for everyone else.
    rho_min = (a + r / best) / D

    def need(lam: float, idx: np.ndarray) -> np.ndarray:
        return r[idx] / (lam * D[idx] - a[idx])  # L_i(lam); lam > rho_min_i > a_i / D_i

    def weigh(lam: float, open_: np.ndarray) -> None:
        """gamma_i = lam D_i L_i(lam) / (lam D_i - a_i): y = min_i (e_i/L_i)(1 - rho_i/lam).

        For the jobs at the level (e_i = L_i) these are Crouzeix et al.'s weights (the
        denominators at the last X), so the iteration stays superlinear, and y >= 1 - lam'/lam
        for any X meeting a level lam' < lam: a certificate. y relative to lam keeps
        gamma ~ L_i, far above HiGHS's 1e-9 matrix floor.
        """
        ok = open_ & (rho_min < lam)
        gamma = best.copy()  # any positive weight for rows that are off anyway
        gamma[ok] = lam * D[ok] * need(lam, ok) / (lam * D[ok] - a[ok])
        lp.set_zcoef(open_, -gamma[open_])

    def probe(lam: float, open_: np.ndarray, slack: float, pinned: bool):
        """The LP at level lam: None if no X meets it, else (X, duals, e, new level, y).

        Open classes with rho_min >= lam (1 - slack) are held at all but 1e-6 of their best
        rate; the others must reach L_i(lam). ``pinned``: y = 0, a pure feasibility test.
        """
        hard = open_ & (rho_min >= lam * (1 - slack)) & hold_hopeless
        soft = open_ & ~hard
        lp.set_hold_lower(open_, np.where(hard[open_], best[open_] * (1 - _HOLD), -np.inf))
        lam_need = np.full(p.k, -np.inf)
        lam_need[soft] = need(lam, soft)
        lp.pinned = pinned
        lp.set_level_lower(open_, lam_need[open_])
        out = lp.solve(probe=True)
        if out is None:
            return None
        X, dual = out
        e = (X * p.tput).sum(axis=1)
        new = float(rho(e)[soft].max()) if soft.any() else lam  # all held: lam is met
        return X, dual, e, new, float(lp.v[lp.z])

    held = np.zeros(p.k)  # e required of the classes placed by a finished level

    def gpu_lower_bound(open_: np.ndarray, hi: float) -> float:
        """A level no X meets by GPU count alone (one pool at best rates): a lower bound.

        At level lam an open class needs e_c >= min(L_c(lam), s_c), so at least
        g_c e_c / s_c GPUs on average (placed ones: their hold); the need falls as lam rises:
        bisect on lam, vectorised.
        """
        placed = ~open_
        spare = p.capacity.sum() - float((p.count * p.gpus)[placed] @ (held / best)[placed])
        weight = (p.count * p.gpus)[open_]
        lo_, hi_ = 0.0, hi
        for _ in range(40):
            mid = 0.5 * (lo_ + hi_)
            gap = mid * D[open_] - a[open_]
            with np.errstate(divide="ignore", over="ignore"):
                frac = np.where(gap > 0, r[open_] / np.maximum(gap, 1e-300) / best[open_], 1.0)
            lo_, hi_ = (mid, hi_) if weight @ np.minimum(frac, 1.0) > spare else (lo_, mid)
        return lo_

    X = x0
    open_ = np.ones(p.k, dtype=bool)  # not placed by a finished level
    for level in range(max(1, levels)):
        hi = float(rho(e)[open_].max())  # a level some X meets; lo: one no X meets
        lo = gpu_lower_bound(open_, hi)
        settled = False  # the LP's rows are those of a feasible probe at hi
        dual = np.zeros(p.k)
        budget = _DINKELBACH_MAX_ITERS
        while budget > 0:
            budget -= 1
            weigh(hi, open_)  # stale weights make Dinkelbach linear: refresh every step
            out = probe(hi, open_, tol, pinned=False)  # Dinkelbach step
            if out is None:  # holding the jobs within tol of hi is infeasible: hi is it
                break
            X, dual, e, new, y = out
            settled = True
            # Certificate: an X meeting level lam' < hi makes y >= 1 - lam' / hi (e_i >=
            # L_i, and soft jobs have rho_min < hi (1 - tol)): small y, hi optimal.
            if y <= 0.5 * tol:
                break
            old = hi
            if new < hi:
                hi, settled = new, False
            if old - hi >= 0.25 * (old - lo) or not hold_hopeless:
                continue  # a real step
            # Small steps: jobs turning hopeless one by one as lam passes their rho_min pin
            # Dinkelbach. Bisect over those breakpoints instead, by feasibility alone (y = 0,
            # row bounds only: warm), then let Dinkelbach finish between two of them.
            while budget > 0:
                cands = np.sort(rho_min[open_ & (rho_min < hi * (1 - tol)) & (rho_min > lo)])
                if not cands.size:
                    break
                b = float(cands[cands.size // 2])
                budget -= 1
                out = probe(b, open_, 0.0, pinned=True)
                if out is None:
                    lo = b
                else:
                    X, dual, e, new, _ = out
                    hi, settled = min(hi, new), False
        if not settled:  # restore the rows of the best level found (X meets them)
            out = probe(hi, open_, 0.0, pinned=False)
            if out is None:
                raise UserError(f"{policy}: LP lost feasibility at max rho = {hi:.6g}")
            X, dual, e, _, _ = out
        if level == levels - 1:
            break
        soft = open_ & (rho_min < hi)
        blocked = soft & lp.blocked(dual)
        if not blocked.any() or blocked.sum() == soft.sum():
            break
        # Hold the bottlenecked jobs at rho <= hi (1 + hold) from now on.
        held[blocked] = need(hi * (1 + _HOLD), blocked)
        lp.set_hold_lower(blocked, held[blocked])
        lp.set_level_lower(blocked, np.full(int(blocked.sum()), -np.inf))
        open_ &= ~blocked
    if fill:
        lp.fill(z_lower=0.0, warm_primal=hold_hopeless)
        X = lp.X
    return p.finish(X)


def max_throughput(tput: np.ndarray, gpus: np.ndarray, capacity: np.ndarray, *,
                   normalise: bool = True) -> np.ndarray:
    """Gavel's max_sum_throughput_perf: maximise the cluster's total throughput.

    ``normalise=True`` maximises sum_i g_i e_i / p_i (normaliser p_i / g_i, the same as
    max-min's without weights): steps/s of different models are not comparable, so each is
    measured in average-GPU equivalents; with one type this is the busy-GPU count.
    ``normalise=False`` is Gavel's literal objective, sum_i e_i in steps/s (Gavel computes a
    1 / sum_t tput normaliser but never applies it). Identical jobs share equally. Returns X.
    """
    policy = "max_throughput"
    p = _Problem.build(policy, tput, gpus, capacity)
    if p.n == 0:
        return p.empty()
    p.aggregate()
    pair_tput = p.tput[p.ii, p.tt]
    value = p.gpus[p.ii] * pair_tput / p.prop[p.ii] if normalise else pair_tput
    value = value / value.max()  # scale-free objective, same argmax
    lp = _LevelLp(p, None)
    lp.lp.set_cost(np.append(value * p.count[p.ii], 0.0))
    lp.solve()
    return p.finish(lp.X)


# ----------------------------------------------------------------------------- internals


def _vector(policy: str, name: str, value: object, n: int, *, positive: bool = False,
            default: float | None = None) -> np.ndarray:
    """A finite, non-negative (or positive) float vector of length n; None -> default."""
    if value is None:
        if default is None:
            raise UserError(f"{policy}: {name} is required")
        return np.full(n, float(default))
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"{policy}: {name} is not numeric") from None
    if arr.shape != (n,):
        raise UserError(f"{policy}: {name} has shape {arr.shape}, expected ({n},)")
    if not np.all(np.isfinite(arr)):
        raise UserError(f"{policy}: {name} has NaN or infinite entries")
    if positive and np.any(arr <= 0):
        raise UserError(f"{policy}: {name} must be > 0 (job {int(np.argmin(arr))})")
    if np.any(arr < 0):
        raise UserError(f"{policy}: {name} has negative entries (job {int(np.argmin(arr))})")
    return arr


class _Problem:
    """Validated inputs, merged into classes of identical jobs, and the runnable (i, t) pairs."""

    def __init__(self, policy: str, tput: np.ndarray, gpus: np.ndarray, capacity: np.ndarray):
        self.policy = policy
        self.n, self.T = tput.shape
        self.tput, self.gpus, self.capacity = tput, gpus, capacity  # tput: (k, T) once merged
        self.extras: tuple[np.ndarray, ...] = ()
        self.k = self.n
        self.count = np.ones(self.n)  # jobs per class
        self.inverse = np.arange(self.n)  # job -> class
        self.prop = np.zeros(self.n)
        self.ii = self.tt = np.zeros(0, dtype=int)

    @classmethod
    def build(cls, policy: str, tput: object, gpus: object, capacity: object) -> _Problem:
        try:
            tput = np.asarray(tput, dtype=float)
        except (TypeError, ValueError):
            raise UserError(f"{policy}: tput is not numeric") from None
        if tput.ndim != 2 or tput.shape[1] < 1:
            raise UserError(f"{policy}: tput must be 2-D (jobs x GPU types), got {tput.shape}")
        n, T = tput.shape
        if not np.all(np.isfinite(tput)):
            raise UserError(f"{policy}: tput has NaN or infinite entries")
        if np.any(tput < 0):
            raise UserError(f"{policy}: tput has negative entries")
        cap = _vector(policy, "capacity", capacity, T)
        g = _vector(policy, "gpus", gpus, n, positive=True)
        if np.any(cap != np.round(cap)) or np.any(g != np.round(g)):
            raise UserError(f"{policy}: gpus and capacity must be whole GPU counts")
        if n and cap.sum() == 0:
            raise UserError(f"{policy}: capacity is zero for every GPU type")
        stuck = ~((tput > 0) & (g[:, None] <= cap[None, :])).any(axis=1)
        if stuck.any():
            i = int(np.flatnonzero(stuck)[0])
            raise UserError(
                f"{policy}: job {i} cannot run on any GPU type (throughput 0 everywhere, or "
                f"its {int(g[i])}-GPU gang exceeds every type's capacity)")
        return cls(policy, tput, g, cap)

    def empty(self) -> np.ndarray:
        return np.zeros((0, self.T))

    def aggregate(self, *extras: np.ndarray) -> None:
        """Merge jobs whose tput row, gang and extras are all equal (exact by symmetry)."""
        key = np.column_stack((self.tput, self.gpus, *extras))
        _, first, inverse, count = np.unique(key, axis=0, return_index=True,
                                             return_inverse=True, return_counts=True)
        self.tput = self.tput[first]
        self.gpus = self.gpus[first]
        self.extras = tuple(x[first] for x in extras)
        self.count = count.astype(float)
        self.inverse = inverse.reshape(-1)
        self.k = len(first)
        self.prop = proportional_throughput(self.tput, self.capacity)
        self.ii, self.tt = np.nonzero((self.tput > 0) & (self.gpus[:, None] <= self.capacity))

    def finish(self, X: np.ndarray) -> np.ndarray:
        """Per-job X, with solver round-off removed so the constraints hold exactly."""
        X = np.clip(X, 0.0, 1.0)
        X[X < 1e-9] = 0.0
        X /= np.maximum(X.sum(axis=1), 1.0)[:, None]
        used = (self.count * self.gpus) @ X
        over = used > self.capacity
        X[:, over] *= self.capacity[over] / used[over]
        return X[self.inverse]


class _Lp:
    """max cost.v s.t. row_lo <= A v <= row_hi, col_lo <= v <= col_hi, with in-place edits.

    With highspy the model lives in one HiGHS instance: edits change it in place and a solve
    either continues from the last basis (warm) or starts afresh (cold). With linprog every
    solve rebuilds and is cold.
    """

    def __init__(self, policy: str, A: sp.csc_matrix, row_lo: np.ndarray, row_hi: np.ndarray,
                 col_lo: np.ndarray, col_hi: np.ndarray, cost: np.ndarray):
        self.policy = policy
        self.backend = BACKEND
        self.row_lo, self.row_hi = row_lo.copy(), row_hi.copy()
        self.col_lo, self.col_hi, self.cost = col_lo.copy(), col_hi.copy(), cost.copy()
        self.solves = 0
        if self.backend != "highspy":
            self.A = A.tolil()  # linprog rebuilds from this on every solve
            return
        self.h = h = _Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", _TIME_LIMIT_S)
        # Dual simplex from a slack basis with every variable at the bound its cost favours
        # is dual feasible here (all variables are boxed) and needs ~3x fewer ms than primal;
        # presolve only costs time on these already-reduced models.
        h.setOptionValue("simplex_strategy", 1)
        h.setOptionValue("presolve", "off")
        lp = HighsLp()
        lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
        lp.sense_ = ObjSense.kMaximize
        lp.col_cost_ = cost
        lp.col_lower_, lp.col_upper_ = _inf(col_lo), _inf(col_hi)
        lp.row_lower_, lp.row_upper_ = _inf(row_lo), _inf(row_hi)
        lp.a_matrix_.format_ = MatrixFormat.kColwise
        lp.a_matrix_.start_ = A.indptr
        lp.a_matrix_.index_ = A.indices
        lp.a_matrix_.value_ = A.data
        h.passModel(lp)

    def set_cost(self, cost: np.ndarray) -> None:
        self.cost = cost.copy()
        if self.backend == "highspy":
            idx = np.arange(len(cost), dtype=np.int32)
            self.h.changeColsCost(len(cost), idx, cost)

    def set_col_bounds(self, col: int, lo: float, hi: float) -> None:
        self.col_lo[col], self.col_hi[col] = lo, hi
        if self.backend == "highspy":
            self.h.changeColBounds(col, _inf(lo), _inf(hi))

    def set_rows(self, rows: np.ndarray, col: int, coeffs: np.ndarray, lo: np.ndarray) -> None:
        """Set the coefficient of column ``col`` and the lower bound of each row in ``rows``."""
        self.row_lo[rows] = lo
        if self.backend == "highspy":
            h = self.h
            for row, value in zip(rows.tolist(), coeffs.tolist(), strict=True):
                h.changeCoeff(row, col, value)
            h.changeRowsBounds(len(rows), rows.astype(np.int32), lo, _inf(self.row_hi[rows]))
        else:
            self.A[rows, col] = coeffs[:, None]

    def set_row_lower(self, rows: np.ndarray, lo: np.ndarray) -> None:
        """Set the lower bounds of ``rows`` (-inf switches a >= row off): no refactorisation."""
        self.row_lo[rows] = lo
        if self.backend == "highspy" and len(rows):
            self.h.changeRowsBounds(len(rows), rows.astype(np.int32), _inf(lo),
                                    _inf(self.row_hi[rows]))

    def solve(self, *, warm: bool = True, probe: bool = False
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(v, |row duals|, |column duals|); a non-optimal status is a UserError, except
        that with ``probe`` an infeasible LP returns None."""
        self.solves += 1
        if self.backend == "highspy":
            h = self.h
            if not warm:
                h.clearSolver()  # a new objective: a fresh dual-feasible start beats the old basis
            h.run()
            status = h.getModelStatus()
            if probe and status == HighsModelStatus.kInfeasible:
                return None
            if status != HighsModelStatus.kOptimal:
                raise UserError(f"{self.policy}: LP not solved ({h.modelStatusToString(status)})")
            sol = h.getSolution()
            return (np.asarray(sol.col_value), np.abs(np.asarray(sol.row_dual)),
                    np.abs(np.asarray(sol.col_dual)))
        from scipy.optimize import linprog

        A = self.A.tocsr()
        up = np.isfinite(self.row_hi)
        down = np.isfinite(self.row_lo)
        A_ub = sp.vstack([A[up], -A[down]]).tocsr()
        b_ub = np.concatenate([self.row_hi[up], -self.row_lo[down]])
        bounds = np.column_stack([self.col_lo, self.col_hi])
        res = linprog(-self.cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
        if probe and res.status == 2:
            return None
        if res.status != 0:
            raise UserError(f"{self.policy}: LP not solved ({res.message.strip()})")
        dual = np.zeros(A.shape[0])
        marg = np.abs(res.ineqlin.marginals)
        dual[np.flatnonzero(up)] += marg[: up.sum()]
        dual[np.flatnonzero(down)] += marg[up.sum():]
        return res.x, dual, np.abs(res.upper.marginals) + np.abs(res.lower.marginals)


def _inf(v: np.ndarray | float) -> np.ndarray | float:
    """numpy infinities -> HiGHS infinity."""
    if np.isscalar(v):
        return v if np.isfinite(v) else float(np.copysign(kHighsInf, v))
    v = np.asarray(v, dtype=float)
    return np.where(np.isfinite(v), v, np.copysign(kHighsInf, v))


class _LevelLp:
    """The shared LP over per-class time fractions y (one column per runnable pair) and z.

    Rows: [0, k) sum_t y[c, t] <= 1;  [k, k+T) sum_c count_c g_c y[c, t] <= C_t;
    [k+T, 2k+T) level rows  (sum_t coef[c, t] y[c, t] + zcoef_c z) / s_c >= rhs_c / s_c,
    s_c = max_t coef[c, t] (row scaling), and with ``hold`` [2k+T, 3k+T) hold rows
    sum_t coef y / s_c >= hold_c / s_c. A class is free (its level row raises z) when
    zcoef_c < 0 and rhs_c is finite; rhs = -inf switches a row off. Objective: max z, then
    (fill) the normalised sum. 0 <= y <= 1 and z has an explicit upper bound (the best any
    free class could do alone) so that every variable is boxed and the dual simplex starts
    dual feasible.
    """

    def __init__(self, p: _Problem, coef: np.ndarray | None, *, rhs: np.ndarray | None = None,
                 zcoef: np.ndarray | None = None, hold: bool = False):
        self.p = p
        k, T, m = p.k, p.T, len(p.ii)
        self.m = m
        self.z = m  # column index of z
        self.base = k + T  # first level row
        self.hold_base = 2 * k + T  # first hold row
        rows = [p.ii, k + p.tt]
        cols = [np.arange(m), np.arange(m)]
        vals = [np.ones(m), (p.count * p.gpus)[p.ii]]
        row_lo = np.full(k + T, -np.inf)
        row_hi = np.concatenate([np.ones(k), p.capacity])
        if coef is not None:
            self.scale = np.zeros(k)
            np.maximum.at(self.scale, p.ii, coef)
            self.rhs = rhs.astype(float).copy()
            self.zcoef = zcoef.astype(float).copy()  # unscaled
            rows += [self.base + p.ii, self.base + np.arange(k)]
            cols += [np.arange(m), np.full(k, m)]
            vals += [coef / self.scale[p.ii], self.zcoef / self.scale]
            row_lo = np.concatenate([row_lo, self.rhs / self.scale])
            row_hi = np.concatenate([row_hi, np.full(k, np.inf)])
            if hold:
                rows.append(self.hold_base + p.ii)
                cols.append(np.arange(m))
                vals.append(coef / self.scale[p.ii])
                row_lo = np.concatenate([row_lo, np.full(k, -np.inf)])
                row_hi = np.concatenate([row_hi, np.full(k, np.inf)])
        A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(len(row_lo), m + 1))
        cost = np.zeros(m + 1)
        cost[m] = 1.0 if coef is not None else 0.0
        col_hi = np.ones(m + 1)
        col_hi[m] = self._z_upper() if coef is not None else 0.0
        self.lp = _Lp(p.policy, A, row_lo, row_hi, np.zeros(m + 1), col_hi, cost)
        self.X = np.zeros((k, T))
        self.v = np.zeros(m + 1)
        self.z_dual = 0.0
        self.pinned = False

    def free(self) -> np.ndarray:
        return (self.zcoef < 0) & np.isfinite(self.rhs)

    def _z_upper(self) -> float:
        """z <= (s_c - rhs_c) / |zcoef_c| for every free class c: sum_t coef y <= s_c."""
        free = self.free()
        if not free.any():
            return 0.0
        return float(np.min((self.scale[free] - self.rhs[free]) / -self.zcoef[free]))

    def _refresh_z(self) -> None:
        self.lp.set_col_bounds(self.z, 0.0, 0.0 if self.pinned else self._z_upper())

    def solve(self, *, warm: bool = True, probe: bool = False
              ) -> tuple[np.ndarray, np.ndarray] | None:
        """Solve; returns (X per class, |duals of the level rows|); None: infeasible probe."""
        out = self.lp.solve(warm=warm, probe=probe)
        if out is None:
            return None
        v, dual, col_dual = out
        self.v = v
        self.z_dual = col_dual[self.z]
        X = np.zeros((self.p.k, self.p.T))
        X[self.p.ii, self.p.tt] = np.clip(v[: self.m], 0.0, None)
        self.X = X
        return X, dual[self.base:self.base + self.p.k]

    def blocked(self, dual: np.ndarray) -> np.ndarray:
        """Classes tight in every optimum: positive dual (complementary slackness).

        The level duals weighted by z's coefficients, plus the dual of z's upper bound, sum to
        z's cost, 1: a scale-free test. When that bound binds, the classes that set it (alone
        they reach no more than z) are bottlenecked too.
        """
        blocked = np.abs(dual * self.zcoef / self.scale) > _BLOCKED
        if self.z_dual > _BLOCKED:
            free = self.free()
            reach = np.full(self.p.k, np.inf)
            reach[free] = (self.scale[free] - self.rhs[free]) / -self.zcoef[free]
            zhi = self.lp.col_hi[self.z]
            blocked |= reach <= zhi + 1e-9 * max(1.0, abs(zhi))
        return blocked

    def set_level_rows(self, mask: np.ndarray, *, rhs: np.ndarray, zcoef: np.ndarray) -> None:
        """Rewrite the level rows of the classes in ``mask`` (unscaled values)."""
        self.set_zcoef(mask, zcoef, refresh=False)
        self.set_level_lower(mask, rhs)

    def set_zcoef(self, mask: np.ndarray, zcoef: np.ndarray, *, refresh: bool = True) -> None:
        """z's coefficient in the level rows of ``mask`` (a matrix edit: refactorises)."""
        idx = np.flatnonzero(mask)
        self.zcoef[idx] = zcoef
        self.lp.set_rows(self.base + idx, self.z, zcoef / self.scale[idx],
                         self.lp.row_lo[self.base + idx])
        if refresh:
            self._refresh_z()

    def set_level_lower(self, mask: np.ndarray, rhs: np.ndarray) -> None:
        """Lower bounds of the level rows of ``mask`` (-inf: off); bounds only, no refactor."""
        idx = np.flatnonzero(mask)
        self.rhs[idx] = rhs
        self.lp.set_row_lower(self.base + idx, rhs / self.scale[idx])
        self._refresh_z()

    def set_hold_lower(self, mask: np.ndarray, rhs: np.ndarray) -> None:
        """Lower bounds of the hold rows of ``mask`` (-inf: off)."""
        idx = np.flatnonzero(mask)
        self.lp.set_row_lower(self.hold_base + idx, rhs / self.scale[idx])

    def pin_z(self, pinned: bool) -> None:
        """z fixed at 0 (a pure feasibility test) or free up to its bound."""
        self.pinned = pinned
        self._refresh_z()

    def water_fill_linear(self, levels: int) -> float:
        """max z, then hold the bottlenecked classes and raise the others, ``levels`` times."""
        z = 0.0
        for level in range(max(1, levels)):
            _, dual = self.solve()
            z = float(self.v[self.z])
            if z <= 0:
                raise UserError(f"{self.p.policy}: LP optimum is 0 (no job can make progress)")
            if level == levels - 1:
                break
            free = self.free()
            blocked = free & self.blocked(dual)
            if not blocked.any() or blocked.sum() == free.sum():
                break
            self.set_level_rows(blocked, rhs=np.full(int(blocked.sum()), z * (1 - _HOLD)),
                                zcoef=np.zeros(int(blocked.sum())))
        return z

    def fill(self, z_lower: float, *, warm_primal: bool = False) -> None:
        """Hold z >= z_lower (and every fixed row) and maximise sum_i g_i e_i / p_i.

        A fresh dual simplex start, or with ``warm_primal`` the primal simplex from the last
        basis: measured (500 jobs x 3 types) 5x faster when most rows are held (FTF with
        hopeless jobs), 5x slower otherwise.
        """
        p = self.p
        value = p.count[p.ii] * p.gpus[p.ii] * p.tput[p.ii, p.tt] / p.prop[p.ii]
        self.lp.set_col_bounds(self.z, z_lower, max(z_lower, self.lp.col_hi[self.z]))
        self.lp.set_cost(np.append(value / value.max(), 0.0))
        if warm_primal and self.lp.backend == "highspy":
            self.lp.h.setOptionValue("simplex_strategy", 4)
        self.solve(warm=warm_primal)
