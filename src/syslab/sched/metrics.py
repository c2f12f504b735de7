"""Scheduling metrics, defined once (research/sched.md §3; docs/sched.md repeats them).

- JCT_i = finish_i − arrival_i; mean, p50, p99.
- Queueing delay_i = first start_i − arrival_i; mean, p99, max (starvation).
- Makespan = last finish − first arrival.
- Utilisation = busy GPU-seconds / (GPUs × makespan); a GPU is busy while a job holds
  it, restart overhead included (the GPU is not free for anyone else).
- Finish-time fairness (Themis): ρ_i = JCT_i / T_fair,i with
  T_fair,i = exclusive_i × max(1, N̄_i / G), where N̄_i is the mean number of active
  (arrived, unfinished) jobs over the job's lifetime and G the cluster's GPUs: the time
  the job would take on a 1/N share of the cluster. Shockwave's published values use
  N = every job of the trace instead ("static"; `contention="static"`). ρ ≤ 1 is fair; we report the
  worst ρ and the fraction of jobs with ρ > 1.05 and > 1.1 (Shockwave's tolerances), and
  the worst ρ over jobs whose exclusive time is at least one round (`round_s`): a shorter
  job can wait most of a round for the next decision under any round-based policy, so
  its ρ measures the round length more than the policy.
- Jain's index over x_i = 1/ρ_i: (Σx)² / (n·Σx²); 1 is perfectly even, 1/n worst.
- Slowdown_i = JCT_i / exclusive_i; starvation of long jobs = p99 slowdown of the
  longest 10 % of jobs (by exclusive time) next to that of the shortest 50 %.
"""

from __future__ import annotations

import numpy as np

from syslab.sched.engine import SimResult

HOUR = 3600.0


def mean_active(arrival: np.ndarray, finish: np.ndarray) -> np.ndarray:
    """N̄_i: time-average count of active jobs over each job's [arrival, finish]."""
    times = np.concatenate([arrival, finish])
    steps = np.concatenate([np.ones_like(arrival), -np.ones_like(finish)])
    order = np.lexsort((-steps, times))  # at equal times, arrivals count first
    times, steps = times[order], steps[order]
    count = np.cumsum(steps)  # active jobs just after each event
    area = np.concatenate([[0.0], np.cumsum(count[:-1] * np.diff(times))])

    def integral(t: np.ndarray) -> np.ndarray:
        k = np.searchsorted(times, t, side="right") - 1
        return area[k] + count[k] * (t - times[k])

    span = finish - arrival
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(span > 0, (integral(finish) - integral(arrival)) / span, 1.0)


def finish_time_fairness(result: SimResult, contention: str = "lifetime") -> np.ndarray:
    """ρ_i per job; `contention="static"` uses N = all jobs of the trace (Shockwave static)."""
    G = float(result.capacity.sum())
    if contention == "static":
        n_bar = np.full(result.arrival.size, float(result.arrival.size))
    else:
        n_bar = mean_active(result.arrival, result.finish)
    fair = result.exclusive * np.maximum(1.0, n_bar / G)
    return result.jct / fair


def jain(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(x.sum() ** 2 / (x.size * (x * x).sum())) if x.size else float("nan")


def summarize(result: SimResult, contention: str = "lifetime") -> dict:
    """Every headline metric of one run, as plain floats (seconds).

    `contention="static"` computes ρ with N = all jobs of the trace, which is what
    Shockwave's published ρ values use (checked against its per-job lists); the
    default, the job's own lifetime, is the one that makes sense for long traces.
    """
    jct = result.jct
    wait = result.first_start - result.arrival
    makespan = float(np.max(result.finish) - np.min(result.arrival))
    busy = float((result.service * result.gpus).sum())
    rho = finish_time_fairness(result, contention)
    slowdown = jct / result.exclusive
    long = result.exclusive >= result.config.round_s
    by_length = np.argsort(result.exclusive, kind="stable")
    n = jct.size
    longest = by_length[n - max(1, n // 10):]
    shortest = by_length[: max(1, n // 2)]
    return {
        "policy": result.policy,
        "trace": result.trace,
        "cluster": result.cluster,
        "jobs": int(n),
        "gpus": int(result.capacity.sum()),
        "mean_jct_s": float(jct.mean()),
        "p50_jct_s": float(np.percentile(jct, 50)),
        "p99_jct_s": float(np.percentile(jct, 99)),
        "mean_wait_s": float(wait.mean()),
        "p99_wait_s": float(np.percentile(wait, 99)),
        "max_wait_s": float(wait.max()),
        "makespan_s": makespan,
        "utilization": busy / (float(result.capacity.sum()) * makespan) if makespan > 0 else 0.0,
        "worst_rho": float(rho.max()),
        "worst_rho_ge_round": float(rho[long].max()) if long.any() else float("nan"),
        "unfair_1_05": float((rho > 1.05).mean()),
        "unfair_1_1": float((rho > 1.1).mean()),
        "jain": jain(1.0 / rho),
        "p99_slowdown_longest10": float(np.percentile(slowdown[longest], 99)),
        "p99_slowdown_shortest50": float(np.percentile(slowdown[shortest], 99)),
        "preemptions": int(result.preemptions.sum()),
        "decisions": int(result.decisions),
        "sim_wall_s": float(result.wall_s),
        "jobs_per_s": float(result.jobs_per_s),
    }


def utilization_timeline(result: SimResult, bins: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(bin start times, busy GPU fraction per bin) from the recorded runs."""
    if not result.segments:
        raise ValueError("run with SimConfig(record_timeline=True) to get a timeline")
    t0, t1 = float(result.arrival.min()), float(np.max(result.finish))
    edges = np.linspace(t0, t1, bins + 1)
    busy = np.zeros(bins)
    seg = np.array([(s, e, result.gpus[j]) for j, s, e, _ in result.segments])
    for lo_i in range(bins):  # bins are few; segments are vectorised per bin
        lo, hi = edges[lo_i], edges[lo_i + 1]
        overlap = np.clip(np.minimum(seg[:, 1], hi) - np.maximum(seg[:, 0], lo), 0, None)
        busy[lo_i] = (overlap * seg[:, 2]).sum() / ((hi - lo) * result.capacity.sum())
    return edges[:-1], busy
