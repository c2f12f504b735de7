"""The simulator: jobs arrive, a policy ranks them, gangs get GPUs, jobs finish.

Two modes, as in the anchors:
- `rounds` (Gavel, Shockwave, Blox): decisions happen every `round_s` seconds; a
  GPU freed mid-round idles until the next round; arrivals wait for the next round.
- `events` (Tiresias): decisions happen at arrivals, completions and whenever the
  policy says a key changes class (2D-LAS queue thresholds), so nothing idles.

Either way a (re)started job makes no progress for `restart_s` seconds (checkpoint
load and warm-up; Shockwave uses 20 s, Pollux 30 s); a job kept on its GPUs from
one decision to the next pays nothing (Gavel's lease extension).

Where jobs run: the LP policies go through Gavel's round mechanism (`_plan_allocation`);
heterogeneity-aware ranked policies get the GPU types dealt by speedup per GPU at every
decision (`_choose_runners`, `_assign_types`); spread gangs move to whole servers when one
frees up (`_consolidate`), and policies with `repack` make such a server by moving 1-GPU
jobs (`_repack`).

Speed comes from doing nothing when nothing can change, not from clever kernels:
- job state lives in numpy arrays (`SimState`), so settling progress or computing
  keys for the running set is one vector expression;
- policies whose order changes only at arrivals and completions (FIFO, SJF, SRTF)
  skip every decision point where neither happened, in both modes;
- when every active job fits, nobody is ranked at all;
- non-preemptive fixed-key policies (FIFO, SJF) keep a sorted wait list.
"""

from __future__ import annotations

import heapq
import math
import time
from bisect import insort
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from syslab.common.errors import UserError
from syslab.sched.cluster import PLACEMENTS, ClusterSpec, GpuPool
from syslab.sched.jobs import Trace
from syslab.sched.policies.base import AllocationPolicy, Policy
from syslab.sched.throughput import ThroughputTable

MODES = ("rounds", "events")
INF = float("inf")


@dataclass
class SimConfig:
    """How the cluster behaves, independent of the policy."""

    mode: str = "rounds"
    round_s: float = 360.0  # Gavel's default; Shockwave 120, Blox 300, Pollux 60
    restart_s: float = 0.0  # no progress for this long after every (re)start
    placement: str = "consolidated"
    # Allocation policies: the LP is re-solved (and each job's accounting restarted) only
    # when the set of jobs changed and at least this long after the last re-solve (Gavel's
    # minimum_time_between_allocation_resets; Shockwave runs it at 1000 s).
    alloc_reset_s: float = 1000.0
    backfill_depth: int = 256  # fixed-key queues: how far past the head to look for a fit
    seed: int = 0
    # Keep busy GPUs at every decision and every (job, start, end, type) run, for the
    # utilisation and allocation timeline plots; off in speed benchmarks.
    record_timeline: bool = False
    # Take the plain path everywhere (one ranking loop, no special cases): the readable
    # reference that tests hold the fast paths to.
    reference: bool = False

    def validate(self) -> None:
        if self.mode not in MODES:
            raise UserError(f"unknown mode {self.mode!r} (one of {', '.join(MODES)})")
        if not (self.round_s > 0 and math.isfinite(self.round_s)):
            raise UserError(f"round length must be positive seconds, got {self.round_s}")
        if not (self.restart_s >= 0 and math.isfinite(self.restart_s)):
            raise UserError(f"restart overhead must be >= 0 seconds, got {self.restart_s}")
        if not (self.alloc_reset_s >= 0 and math.isfinite(self.alloc_reset_s)):
            raise UserError(f"allocation reset interval must be >= 0 seconds, "
                            f"got {self.alloc_reset_s}")
        if self.placement not in PLACEMENTS:
            raise UserError(
                f"unknown placement {self.placement!r} (one of {', '.join(PLACEMENTS)})"
            )


class SimState:
    """Per-job state as arrays indexed by job id (ids are arrival order)."""

    def __init__(self, trace: Trace, cluster: ClusterSpec, table: ThroughputTable | None,
                 round_s: float = SimConfig.round_s):
        jobs = trace.jobs
        self.round_s = round_s  # the scheduling quantum (a lease), for policies that need it
        n = len(jobs)
        self.n = n
        self.gpu_types = cluster.gpu_types
        self.capacity = np.array([cluster.capacity(t) for t in self.gpu_types], dtype=np.int64)
        self.arrival = np.array([j.arrival for j in jobs], dtype=np.float64)
        self.gpus = np.array([j.gpus for j in jobs], dtype=np.int64)
        self.work = np.array([j.work for j in jobs], dtype=np.float64)
        self.weight = np.array([j.weight for j in jobs], dtype=np.float64)
        self.rate_c, self.rate_s = _rates(trace, self.gpu_types, table)
        _check_runnable(trace, self.gpu_types, self.capacity, self.rate_c)
        # Exclusive run time on the job's best GPU type: SJF/SRTF's duration knowledge
        # and the denominator of finish-time fairness.
        self.best_rate = self.rate_c.max(axis=1)
        self.exclusive = self.work / self.best_rate
        self.remaining = self.work.copy()
        self.service = np.zeros(n)  # wall seconds holding GPUs
        self.first_start = np.full(n, np.nan)
        self.finish = np.full(n, np.nan)
        self.preemptions = np.zeros(n, dtype=np.int64)
        self.running_type = np.full(n, -1, dtype=np.int64)
        self.cur_rate = np.zeros(n)
        self.progress_from = np.zeros(n)  # progress accrues from here (after restart overhead)
        self.held_since = np.zeros(n)
        self.end_time = np.full(n, INF)  # projected completion while running
        # Dynamic jobs' speed factors by fraction of work done (`Job.speed`).
        self.speed = {j: (np.array([f for f, _ in job.speed]),
                          np.array([x for _, x in job.speed]))
                      for j, job in enumerate(jobs) if job.speed}

    def attained_gpu_s(self, ids: np.ndarray, now: float) -> np.ndarray:
        """GPU-seconds of service so far (2D-LAS's measure), including the running segment."""
        held = np.where(self.running_type[ids] >= 0, now - self.held_since[ids], 0.0)
        return (self.service[ids] + held) * self.gpus[ids]

    def attained_s(self, ids: np.ndarray, now: float) -> np.ndarray:
        """Wall seconds of service so far (LAS's measure)."""
        held = np.where(self.running_type[ids] >= 0, now - self.held_since[ids], 0.0)
        return self.service[ids] + held

    def speed_factor(self, ids: np.ndarray, now: float) -> np.ndarray:
        """Each job's steps/s now relative to its job type's (1 but for dynamic jobs)."""
        factor = np.ones(ids.size)
        if self.speed:
            done = 1.0 - self.remaining_at(ids, now) / self.work[ids]
            for k, j in enumerate(ids.tolist()):
                profile = self.speed.get(j)
                if profile is not None:
                    starts, speeds = profile
                    factor[k] = speeds[max(int(np.searchsorted(starts, done[k], "right")) - 1,
                                           0)]
        return factor

    def remaining_at(self, ids: np.ndarray, now: float) -> np.ndarray:
        """Steps left at `now`, counting the progress of running jobs since they settled."""
        run = self.running_type[ids] >= 0
        done = np.where(run, np.clip(now - self.progress_from[ids], 0.0, None) * self.cur_rate[ids],
                        0.0)
        return np.maximum(self.remaining[ids] - done, 0.0)


def _rates(trace: Trace, gpu_types: list[str], table: ThroughputTable | None):
    n, T = len(trace.jobs), len(gpu_types)
    if trace.unit == "seconds":
        # Work is a duration: one unit per second on any GPU type, wherever the GPUs are.
        ones = np.ones((n, T))
        return ones, ones.copy()
    if table is None:
        raise UserError(
            f"{trace.name}: jobs are given in steps; a throughput table is needed "
            "(--throughputs FILE)"
        )
    rate_c = np.zeros((n, T))
    rate_s = np.zeros((n, T))
    memo: dict[tuple[str, int], tuple[list[float], list[float]]] = {}
    for i, job in enumerate(trace.jobs):
        key = (job.job_type, job.gpus)
        if key not in memo:
            c = [table.rate(job.job_type, t, job.gpus, True) for t in gpu_types]
            # No spread measurement: assume no spread penalty rather than "cannot run".
            s = [table.rate(job.job_type, t, job.gpus, False) or c[k]
                 for k, t in enumerate(gpu_types)]
            memo[key] = (c, s)
        rate_c[i], rate_s[i] = memo[key]
    return rate_c, rate_s


def _check_runnable(trace: Trace, gpu_types: list[str], capacity: np.ndarray,
                    rate_c: np.ndarray) -> None:
    fits = (rate_c > 0) & (np.array([j.gpus for j in trace.jobs])[:, None] <= capacity[None, :])
    bad = np.flatnonzero(~fits.any(axis=1))
    if bad.size:
        job = trace.jobs[int(bad[0])]
        where = job.source or f"{trace.name} job {job.id}"
        if not (rate_c[bad[0]] > 0).any():
            raise UserError(
                f"{where}: job type {job.job_type!r} with {job.gpus} GPUs has no throughput "
                f"entry for GPU type(s) {', '.join(gpu_types)}"
                + (f" ({bad.size} such jobs)" if bad.size > 1 else "")
            )
        raise UserError(
            f"{where}: job asks for {job.gpus} GPUs but the cluster has at most "
            f"{int(capacity.max())} of one GPU type"
            + (f" ({bad.size} such jobs)" if bad.size > 1 else "")
        )


@dataclass
class SimResult:
    """What happened to every job, plus how the cluster was used over time."""

    policy: str
    trace: str
    cluster: str
    config: SimConfig
    gpu_types: list[str]
    capacity: np.ndarray
    arrival: np.ndarray
    gpus: np.ndarray
    first_start: np.ndarray
    finish: np.ndarray
    exclusive: np.ndarray  # exclusive run time on the best GPU type
    service: np.ndarray
    preemptions: np.ndarray
    busy: np.ndarray  # (k, 1 + T): time, busy GPUs per type, at every decision
    segments: list[tuple[int, float, float, int]] = field(default_factory=list)
    decisions: int = 0
    wall_s: float = 0.0

    @property
    def jct(self) -> np.ndarray:
        return self.finish - self.arrival

    @property
    def jobs_per_s(self) -> float:
        return len(self.arrival) / self.wall_s if self.wall_s > 0 else INF


class Simulator:
    """One policy on one trace and cluster. `run()` once."""

    def __init__(self, trace: Trace, cluster: ClusterSpec, policy: Policy,
                 config: SimConfig | None = None, table: ThroughputTable | None = None):
        self.config = config or SimConfig()
        self.config.validate()
        if not trace.jobs:
            raise UserError(f"{trace.name}: the trace has no jobs")
        self.trace, self.cluster, self.policy = trace, cluster, policy
        self.state = SimState(trace, cluster, table, self.config.round_s)
        s = self.state
        self.T = len(s.gpu_types)
        self.pools = []
        for k, gpu in enumerate(s.gpu_types):
            sizes = [g.gpus_per_server for g in cluster.groups if g.gpu == gpu
                     for _ in range(g.count)]
            self.pools.append(GpuPool(sizes, seed=self.config.seed + k))
        self.alloc: list = [None] * s.n
        # Python lists mirror what the hot loops read per job: a numpy scalar read costs
        # ~10x a list read, and the fixed-queue path does a handful per job.
        self.version = [0] * s.n
        self.arrivals = s.arrival.tolist()
        self.gpus = s.gpus.tolist()
        self.active: dict[int, None] = {}  # arrived, not finished; insertion = arrival order
        self.running: dict[int, None] = {}
        self.done = 0
        self.heap: list[tuple[float, int, int]] = []  # (end_time, job, version), events mode
        self.busy_log: list[tuple] = []
        self.segments: list[tuple[int, float, float, int]] = []
        self.decisions = 0
        self.migrations = 0
        # Running gangs placed across more servers than needed -> how many free GPUs one
        # server must have before the gang can move there (a cheap necessary condition).
        self.spread: dict[int, int] = {}
        # Moving a spread gang is a preemption: only preemptive policies do it.
        self.migrate = policy.preemptive and self.config.placement == "consolidated"
        self.is_alloc = isinstance(policy, AllocationPolicy)
        # Heterogeneity-aware preemptive policies re-deal the GPU types at every decision
        # and move running jobs to faster types as they free up (see `_assign_types`).
        self.retype = (policy.heterogeneity_aware and policy.preemptive and self.T > 1
                       and not self.is_alloc)  # LPs place types through X already
        # For `retype`: each job's gang size and the types it runs on, fastest first.
        self.fits_key: list[tuple[int, tuple[int, ...]]] = []
        if self.retype:
            by_rate = np.argsort(-s.rate_c, axis=1, kind="stable").tolist()
            gpus = s.gpus.tolist()
            self.fits_key = [(gpus[j], tuple(t for t in order if s.rate_c[j, t] > 0))
                             for j, order in enumerate(by_rate)]
        self.events_mode = self.config.mode == "events"
        self.fixed_queue = (policy.static_key and not policy.preemptive and not self.is_alloc
                            and not self.config.reference)
        self.waiting: list[tuple[float, int]] = []  # fixed-key queue: sorted (key, job)
        # Allocation policies: Gavel's round mechanism state (see `_plan_allocation`).
        self.job_time = np.zeros((s.n, self.T))  # seconds run per type since the last reset
        self.type_time = np.zeros(self.T)  # the same, summed over every job (finished too)
        self.deficit = np.zeros((s.n, self.T))  # share owed from earlier periods, seconds
        self.X = np.zeros((s.n, self.T))  # time fractions of the last solve
        self.in_alloc = np.zeros(s.n, dtype=bool)  # job was in the last solve
        self.alloc_ids = np.zeros(0, dtype=np.int64)
        self.last_reset: float | None = None
        self.job_set_changed = False
        self.last_ran: tuple[np.ndarray, np.ndarray] | None = None
        self.type_rng = np.random.default_rng(self.config.seed + 5)
        # A type-blind policy sees every GPU type as the same, so which one a job lands on
        # is arbitrary: each job tries the types in its own random order (as Gavel shuffles
        # the types for its agnostic policies), not in the order the cluster file lists them.
        blind_rng = np.random.default_rng(self.config.seed + 7)
        self.blind_order = (np.argsort(blind_rng.random((s.n, self.T)), axis=1).tolist()
                            if self.T > 1 else None)
        self.last_plan = 0.0
        self.dirty = True

    # ---- job transitions -------------------------------------------------------------
    def _start(self, j: int, ty: int, now: float, parts=None) -> None:
        s = self.state
        if parts is None:
            parts, consolidated = self.pools[ty].allocate(self.gpus[j], self.config.placement)
        else:  # a placement chosen by the caller (repacking): one server
            self.pools[ty].take(parts)
            consolidated = True
        self.alloc[j] = parts
        rate = s.rate_c[j, ty] if consolidated else s.rate_s[j, ty]
        if not consolidated:
            pool = self.pools[ty]
            g = self.gpus[j]
            self.spread[j] = g - max(n for _, n in parts) if g <= pool.largest else 1
        s.running_type[j] = ty
        s.cur_rate[j] = rate
        s.held_since[j] = now
        s.progress_from[j] = now + self.config.restart_s
        end = now + self.config.restart_s + float(s.remaining[j]) / rate
        s.end_time[j] = end
        if s.first_start[j] != s.first_start[j]:  # NaN: first start
            s.first_start[j] = now
        self.running[j] = None
        if self.events_mode:
            heapq.heappush(self.heap, (end, j, self.version[j]))

    def _stop(self, j: int, now: float, preempted: bool = True) -> None:
        """Preempt (or migrate): keep the progress made so far, give the GPUs back."""
        s = self.state
        done = max(0.0, now - s.progress_from[j]) * s.cur_rate[j]
        s.remaining[j] = max(s.remaining[j] - done, 0.0)
        s.service[j] += now - s.held_since[j]
        self._release(j, now)
        if preempted:
            s.preemptions[j] += 1
        else:
            self.migrations += 1

    def _complete(self, j: int) -> None:
        s = self.state
        end = s.end_time[j]
        s.finish[j] = end
        s.remaining[j] = 0.0
        s.service[j] += end - s.held_since[j]
        self._release(j, end)
        del self.active[j]
        self.done += 1
        self.job_set_changed = True

    def _release(self, j: int, now: float) -> None:
        s = self.state
        ty = int(s.running_type[j])
        self.pools[ty].release(self.alloc[j])
        if self.config.record_timeline:
            self.segments.append((j, float(s.held_since[j]), float(now), ty))
        self.alloc[j] = None
        self.spread.pop(j, None)
        s.running_type[j] = -1
        s.end_time[j] = INF
        self.version[j] += 1
        del self.running[j]
        self.dirty = True

    def _admit(self, j: int) -> None:
        self.active[j] = None
        if self.is_alloc:  # Gavel books half a round up front, so fractions start non-zero
            self.job_time[j] = self.config.round_s / 2.0
            self.job_set_changed = True
        if self.fixed_queue:
            insort(self.waiting, (self.fixed_keys[j], j))
        self.dirty = True

    def _choose_type(self, j: int, free: list[int]) -> int:
        s = self.state
        g = self.gpus[j]
        if self.T == 1:
            return 0 if free[0] >= g else -1
        if not self.policy.heterogeneity_aware:  # any type will do: the job's random order
            for t in self.blind_order[j]:
                if free[t] >= g and s.rate_c[j, t] > 0:
                    return int(t)
            return -1
        best, best_rate = -1, 0.0
        for t in range(self.T):
            if free[t] >= g and s.rate_c[j, t] > best_rate:
                best, best_rate = t, s.rate_c[j, t]
        return best

    # ---- decisions -------------------------------------------------------------------
    def _plan(self, now: float) -> None:
        self.decisions += 1
        if self.fixed_queue:
            self._plan_queue(now)
        elif self.is_alloc:
            self._plan_allocation(now)
        else:
            self._plan_ranked(now)
        self.last_plan = now
        self.dirty = False

    def _log_busy(self, now: float) -> None:
        if not self.config.record_timeline:
            return
        busy = [p.total - p.free_total for p in self.pools]
        if self.busy_log and self.busy_log[-1][0] == now:
            self.busy_log[-1] = (now, *busy)
        else:
            self.busy_log.append((now, *busy))

    def _plan_queue(self, now: float) -> None:
        """FIFO/SJF: walk the sorted wait list from the head, start what fits."""
        free = [p.free_total for p in self.pools]
        waiting = self.waiting
        started = []
        limit = min(len(waiting), self.config.backfill_depth)
        i = 0
        total = sum(free)
        while i < limit and total > 0:
            j = waiting[i][1]
            ty = self._choose_type(j, free)
            if ty >= 0:
                g = self.gpus[j]
                free[ty] -= g
                total -= g
                started.append(i)
                self._start(j, ty, now)
            elif self.policy.head_of_line:
                break
            i += 1
        if started:
            if started[-1] == len(started) - 1:
                del waiting[: len(started)]
            else:
                gone = set(started)
                self.waiting = [w for k, w in enumerate(waiting) if k not in gone]

    def _plan_ranked(self, now: float) -> None:
        """Rank all active jobs, give GPUs greedily down the ranking, then apply the diff."""
        s = self.state
        ids = np.fromiter(self.active, dtype=np.int64, count=len(self.active))
        if not self.policy.preemptive:
            ids = ids[s.running_type[ids] < 0]
            free = [p.free_total for p in self.pools]
        else:
            free = [int(c) for c in s.capacity]
        demand_fits = self.T == 1 and int(s.gpus[ids].sum()) <= free[0]
        if demand_fits:
            order = ids.tolist()
        else:
            keys = self.policy.keys(s, ids, now)
            order = ids[np.lexsort((ids, keys))].tolist()
        if self.T == 1 and not self.config.reference:
            arr = np.array(order, dtype=np.int64)
            ids = _greedy_one_type(arr, s.gpus[arr], free[0], self.policy.head_of_line)
            self._apply(ids, np.zeros(ids.size, dtype=np.int64), now)
            return
        if self.retype:  # the ranking chooses who runs, then the types are dealt
            chosen = self._assign_types(self._choose_runners(order, free), now)
        else:
            chosen = self._choose_greedy(order, free)
        self._apply(np.fromiter(chosen, dtype=np.int64, count=len(chosen)),
                    np.fromiter(chosen.values(), dtype=np.int64, count=len(chosen)), now)

    def _choose_greedy(self, order: list[int], free: list[int]) -> dict[int, int]:
        """Down the ranking, each job on its running type or the first type it fits."""
        s = self.state
        chosen: dict[int, int] = {}
        total = sum(free)
        for j in order:
            g = self.gpus[j]
            rt = int(s.running_type[j])
            if rt >= 0 and free[rt] >= g:
                ty = rt
            else:
                ty = self._choose_type(j, free)
                if ty < 0:
                    if self.policy.head_of_line:
                        break
                    continue
            free[ty] -= g
            total -= g
            chosen[j] = ty
            if total == 0:
                break
        return chosen

    def _choose_runners(self, order: list[int], free: list[int]) -> list[int]:
        """Who runs, for a policy that re-deals the types: down the ranking, every job
        that still fits beside those taken, on some type (`_packs`), wherever they go."""
        taken: list[int] = []
        count: dict[tuple[int, tuple[int, ...]], int] = {}
        total = sum(free)
        for j in order:
            key = self.fits_key[j]
            g = key[0]
            count[key] = count.get(key, 0) + 1
            if g <= total and _packs(_packing_order(count), free):
                taken.append(j)
                total -= g
                if total == 0:
                    break
                continue
            count[key] -= 1
            if not count[key]:
                del count[key]
            if self.policy.head_of_line:
                break
        return taken

    def _assign_types(self, runners: list[int], now: float) -> dict[int, int]:
        """Deal the GPU types among the jobs the ranking chose to run: the fastest types
        go to the jobs that gain most from them per GPU (Gavel's insight, without an LP;
        per GPU, so that a wide gang pays for the GPUs it takes from 1-GPU jobs). Each
        job takes the fastest type that leaves room for those not dealt yet (`_packs`)."""
        s = self.state
        ids = np.array(runners, dtype=np.int64)
        rates = s.rate_c[ids]
        slowest = np.where(rates > 0, rates, np.inf).min(axis=1)
        gain_per_gpu = (rates.max(axis=1) / slowest - 1.0) / s.gpus[ids]
        free = [int(c) for c in s.capacity]
        count: dict[tuple[int, tuple[int, ...]], int] = {}
        for j in runners:
            count[self.fits_key[j]] = count.get(self.fits_key[j], 0) + 1
        left = _packing_order(count)  # jobs not dealt yet
        out: dict[int, int] = {}
        for k in np.argsort(-gain_per_gpu, kind="stable").tolist():
            j = runners[k]
            key = self.fits_key[j]
            g = key[0]
            left[key] -= 1
            if not left[key]:
                del left[key]
            types = [t for t in key[1] if free[t] >= g]
            rt = int(s.running_type[j])
            if (rt in types and types[0] != rt
                    and not self._worth_moving(j, types[0], now)):
                types.remove(rt)
                types.insert(0, rt)
            placed = -1
            for ty in types:
                free[ty] -= g
                if _packs(left, free):
                    placed = ty
                    break
                free[ty] += g
            if placed < 0:
                # The runners pack, but first fit is not monotone: should no choice keep
                # the rest packable, take the fastest type with room, or wait a round.
                if not types:
                    continue
                placed = types[0]
                free[placed] -= g
            out[j] = placed
        return out

    def _worth_moving(self, j: int, new: int, now: float) -> bool:
        """Does moving running job j to a faster GPU type save more than its restart?"""
        s = self.state
        left = float(s.remaining_at(np.array([j]), now)[0])
        return left / s.cur_rate[j] - left / s.rate_c[j, new] > self.config.restart_s

    def _apply(self, ids: np.ndarray, types: np.ndarray, now: float) -> None:
        """Make the running set equal `ids` on `types`: stop the rest, start the new."""
        s = self.state
        if self.policy.preemptive and self.running:
            run = np.fromiter(self.running, dtype=np.int64, count=len(self.running))
            order = np.argsort(ids)
            sorted_ids = ids[order]
            pos = np.minimum(np.searchsorted(sorted_ids, run), max(ids.size - 1, 0))
            keep = np.zeros(run.size, dtype=bool) if ids.size == 0 else (
                (sorted_ids[pos] == run) & (types[order][pos] == s.running_type[run]))
            if self.config.reference:
                for j in run[~keep].tolist():
                    self._stop(j, now)
            elif not keep.all():
                self._stop_many(run[~keep], now)
        new = s.running_type[ids] < 0
        ids, types = ids[new], types[new]
        if ids.size > 1:  # widest gangs first, so they find whole servers before 1-GPU jobs
            order = np.argsort(-s.gpus[ids], kind="stable")
            ids, types = ids[order], types[order]
        if self.config.reference or ids.size < 2:
            for j, ty in zip(ids.tolist(), types.tolist(), strict=True):
                self._start(j, ty, now)
        else:
            self._start_many(ids, types, now)

    def _stop_many(self, ids: np.ndarray, now: float) -> None:
        """`_stop` for many jobs at once: the state arrays updated in one go each."""
        s = self.state
        done = np.maximum(now - s.progress_from[ids], 0.0) * s.cur_rate[ids]
        s.remaining[ids] = np.maximum(s.remaining[ids] - done, 0.0)
        s.service[ids] += now - s.held_since[ids]
        s.preemptions[ids] += 1
        record = self.config.record_timeline
        for j, ty in zip(ids.tolist(), s.running_type[ids].tolist(), strict=True):
            self.pools[ty].release(self.alloc[j])
            if record:
                self.segments.append((j, float(s.held_since[j]), now, ty))
            self.alloc[j] = None
            self.spread.pop(j, None)
            self.version[j] += 1
            del self.running[j]
        s.running_type[ids] = -1
        s.end_time[ids] = INF
        self.dirty = True

    def _start_many(self, ids: np.ndarray, types: np.ndarray, now: float) -> None:
        """`_start` for many jobs at once (placement stays one by one, in this order)."""
        s = self.state
        rates = np.empty(ids.size)
        placement = self.config.placement
        for k, (j, ty) in enumerate(zip(ids.tolist(), types.tolist(), strict=True)):
            pool = self.pools[ty]
            g = self.gpus[j]
            parts, consolidated = pool.allocate(g, placement)
            self.alloc[j] = parts
            if consolidated:
                rates[k] = s.rate_c[j, ty]
            else:
                rates[k] = s.rate_s[j, ty]
                self.spread[j] = g - max(n for _, n in parts) if g <= pool.largest else 1
            self.running[j] = None
        restart = self.config.restart_s
        s.running_type[ids] = types
        s.cur_rate[ids] = rates
        s.held_since[ids] = now
        s.progress_from[ids] = now + restart
        ends = now + restart + s.remaining[ids] / rates
        s.end_time[ids] = ends
        fresh = ids[np.isnan(s.first_start[ids])]
        s.first_start[fresh] = now
        if self.events_mode:
            for j, end in zip(ids.tolist(), ends.tolist(), strict=True):
                heapq.heappush(self.heap, (end, j, self.version[j]))

    def _consolidate(self, now: float) -> None:
        """Move a gang that had to be spread onto whole servers once they are free.

        The move costs a restart, but spread gangs run up to 9.6x slower (Gavel's
        table), and without it a gang placed in a fragmented moment stays slow forever.
        """
        most_free = [p.most_free() for p in self.pools]
        if not any(most_free):  # a full cluster: nobody can move (the common case)
            if self.policy.repack:
                self._repack(now)
            return
        top = max(most_free)
        movable = [j for j, need in self.spread.items() if need <= top]
        for j in sorted(movable, key=lambda j: -self.gpus[j]):
            ty = int(self.state.running_type[j])
            parts = self.alloc[j]
            if self.spread.get(j, top + 1) > most_free[ty]:
                continue  # moved or stopped meanwhile, or its type has no room
            if self.pools[ty].can_consolidate(self.gpus[j], holding=parts):
                self._stop(j, now, preempted=False)
                self._start(j, ty, now)
        if self.policy.repack and self.spread:
            self._repack(now)

    def _repack(self, now: float) -> None:
        """Make room for a spread gang by moving 1-GPU jobs off one server (policies with
        `repack`): each moved job pays a restart, the gang then runs at its consolidated
        rate. Done only when the gang saves more seconds than the restarts cost."""
        s = self.state
        restart = self.config.restart_s
        singles: dict[tuple[int, int], list[int]] = {}  # (type, server) -> its 1-GPU jobs
        for k in self.running:
            if self.gpus[k] == 1:
                singles.setdefault((int(s.running_type[k]), self.alloc[k][0][0]), []).append(k)
        # Per type, as arrays over servers (one vector scan per gang): size, free, singles.
        views: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

        def view(ty: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if ty not in views:
                pool = self.pools[ty]
                count = np.zeros(len(pool.size), dtype=np.int64)
                for (t, server), jobs in singles.items():
                    if t == ty:
                        count[server] = len(jobs)
                views[ty] = (np.array(pool.size), np.array(pool.free), count)
            return views[ty]

        for j in sorted(self.spread, key=lambda j: -self.gpus[j]):
            if j not in self.spread:
                continue
            ty = int(s.running_type[j])
            g = self.gpus[j]
            if g > self.pools[ty].largest:
                continue
            size, free, count = view(ty)
            need = g - free
            for server, n in self.alloc[j]:
                need[server] -= n
            ok = (size >= g) & (need > 0) & (need <= count)
            if not ok.any():
                continue
            server = int(np.flatnonzero(ok)[np.argmin(need[ok])])  # fewest moves
            need = int(need[server])
            left = float(s.remaining_at(np.array([j]), now)[0])
            gain = left / s.cur_rate[j] - left / s.rate_c[j, ty]  # spread rate -> whole
            if gain <= restart * (need + 1):
                continue
            # Move the 1-GPU jobs with the most work left: the short ones finish undisturbed.
            on_server = singles[(ty, server)]
            left_k = s.remaining_at(np.array(on_server), now) / s.best_rate[on_server]
            victims = [on_server[i] for i in np.argsort(-left_k, kind="stable")[:need]]
            for k in victims:
                self._stop(k, now)
                on_server.remove(k)
            self._stop(j, now, preempted=False)
            self._start(j, ty, now, parts=((server, g),))
            for k in victims:
                self._start(k, ty, now)
                singles.setdefault((ty, self.alloc[k][0][0]), []).append(k)
            views.pop(ty)  # free GPUs and singles moved: rebuild on next use

    def _plan_allocation(self, now: float) -> None:
        """Gavel's round mechanism: run the (job, type) pairs furthest behind their share X.

        As Gavel does it (scheduler.py, also inside Shockwave): every job's time on each
        type since the last reset is booked per round; a job's priority on a type is
        X / (its share of that type's booked time); each type in turn is filled in
        (priority, deficit, X) order. The LP is re-solved, and the booking restarted, only
        when the job set changed and `alloc_reset_s` has passed, so a job that arrives in
        between waits for the next re-solve; the time a job fell behind its share carries
        over as a deficit. Jobs not in the last solve still take GPUs in the fill (Gavel
        counts them, then does not place them), which leaves those GPUs idle.
        """
        s = self.state
        half = self.config.round_s / 2.0
        if self.last_ran is not None:  # book the last round to whoever held GPUs in it
            ran, ran_type = self.last_ran
            until = np.fmin(s.finish[ran], now)  # fmin: NaN (still running) -> now
            held = np.maximum(until - self.last_plan, 0.0)
            alive = np.isnan(s.finish[ran])
            self.job_time[ran[alive], ran_type[alive]] += held[alive]
            self.type_time += np.bincount(ran_type, weights=held, minlength=self.T)
        ids = np.fromiter(self.active, dtype=np.int64, count=len(self.active))
        # Gavel's gate reads "last reset at time 0": it re-solves freely until its first
        # reset after the start.
        if self.job_set_changed and (
                self.last_reset is None or self.last_reset == s.arrival[0]
                or now - self.last_reset >= self.config.alloc_reset_s):
            if self.last_reset is not None:
                owed = self.X[ids] * (now - self.last_reset)
                self.deficit[ids] += owed - (self.job_time[ids] - half)
            self.job_time[ids] = half
            self.type_time[:] = half * ids.size
            self.last_reset = now
            self.in_alloc[self.alloc_ids] = False
            self.X[ids] = self.policy.allocation(s, ids, now)
            self.in_alloc[ids] = True
            self.alloc_ids = ids
            self.job_set_changed = False
        X = self.X[ids] * self.in_alloc[ids, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(self.type_time > 0, self.job_time[ids] / self.type_time, 0.0)
            prio = np.where(frac > 0, X / frac, X * 1e9)
        runnable = s.rate_c[ids] > 0
        deficit = self.deficit[ids]
        # Heterogeneity-aware policies fill the types in a fixed order (Gavel: fastest
        # first); type-blind ones in a random order each round, as Gavel shuffles them.
        types = range(self.T) if self.policy.heterogeneity_aware else \
            self.type_rng.permutation(self.T).tolist()
        left = [int(c) for c in s.capacity]
        taken: set[int] = set()
        chosen: dict[int, int] = {}
        for ty in types:
            if left[ty] == 0:
                continue
            order = np.lexsort((ids, -X[:, ty], -deficit[:, ty], -prio[:, ty]))
            for k in order[runnable[order, ty]].tolist():
                j = int(ids[k])
                g = self.gpus[j]
                if j in taken or g > left[ty]:
                    continue
                left[ty] -= g
                taken.add(j)
                if self.in_alloc[j]:
                    chosen[j] = ty
                if left[ty] == 0:
                    break
        run = np.fromiter(chosen, dtype=np.int64, count=len(chosen))
        run_type = np.fromiter(chosen.values(), dtype=np.int64, count=len(chosen))
        self._apply(run, run_type, now)
        self.last_ran = (run, run_type)

    # ---- main loops ------------------------------------------------------------------
    def run(self, progress: Callable[[int], None] | None = None) -> SimResult:
        t0 = time.perf_counter()
        self.policy.reset(self.state)
        if self.fixed_queue:  # fixed keys: computed once for all jobs
            ids = np.arange(self.state.n)
            self.fixed_keys = self.policy.keys(self.state, ids, 0.0).tolist()
        if self.config.mode == "rounds":
            self._run_rounds(progress)
        elif self.fixed_queue:
            self._run_queue_events(progress)
        else:
            self._run_events(progress)
        s = self.state
        return SimResult(
            policy=self.policy.name, trace=self.trace.name, cluster=self.cluster.name,
            config=self.config, gpu_types=list(s.gpu_types), capacity=s.capacity.copy(),
            arrival=s.arrival, gpus=s.gpus, first_start=s.first_start, finish=s.finish,
            exclusive=s.exclusive, service=s.service, preemptions=s.preemptions,
            busy=np.array(self.busy_log, dtype=np.float64).reshape(-1, 1 + self.T),
            segments=self.segments, decisions=self.decisions,
            wall_s=time.perf_counter() - t0,
        )

    def _rerank_every_round(self) -> bool:
        return self.is_alloc or self.policy.rerank == "rounds"

    def _run_rounds(self, progress) -> None:
        s = self.state
        L = self.config.round_s
        n = s.n
        nxt = 0
        t = float(s.arrival[0])
        report_at = 0
        wake = INF
        while self.done < n:
            while nxt < n and s.arrival[nxt] <= t:
                self._admit(nxt)
                nxt += 1
            if self.running:
                run = np.fromiter(self.running, dtype=np.int64, count=len(self.running))
                ends = s.end_time[run]
                over = ends <= t
                if over.any():
                    for j in run[over][np.argsort(ends[over], kind="stable")].tolist():
                        self._complete(j)
            if progress and self.done >= report_at:
                progress(self.done)
                report_at = self.done + 1000
            if self.done == n:
                break
            changed = self.dirty
            waiting = len(self.active) > len(self.running)
            # Policies that re-deal types also re-plan when GPUs free up: a faster type may
            # have room.
            if (waiting or self.retype and self.dirty) and (
                    self.dirty or t >= wake or self._rerank_every_round()):
                self._plan(t)
                wake = self._wake(t)
                waiting = len(self.active) > len(self.running)
                changed = True
            self.dirty = False
            if changed:
                if self.spread and self.migrate:
                    self._consolidate(t)
                self._log_busy(t)
            # Jump to the first round boundary where something can change.
            if waiting and (self._rerank_every_round() or t + L >= wake):
                t += L
                continue
            nxt_t = s.arrival[nxt] if nxt < n else INF
            if self.running:
                run = np.fromiter(self.running, dtype=np.int64, count=len(self.running))
                nxt_t = min(nxt_t, float(s.end_time[run].min()))
            nxt_t = min(nxt_t, wake)
            k = max(1, math.ceil((nxt_t - t) / L - 1e-9))
            t += k * L

    def _run_queue_events(self, progress) -> None:
        """FIFO/SJF in events mode: the whole simulation on plain Python lists.

        Nothing is ever preempted, so a job's finish is fixed when it starts; this loop
        is `_run_events` + `_plan_queue` + `_start` + `_complete` inlined, and tests hold
        it to the reference path (`SimConfig(reference=True)`) job by job.
        """
        s = self.state
        n = s.n
        arrivals = self.arrivals + [INF]
        gpus = self.gpus
        keys = self.fixed_keys
        work = s.work.tolist()
        rate_c = [s.rate_c[:, k].tolist() for k in range(self.T)]  # [type][job]
        rate_s = [s.rate_s[:, k].tolist() for k in range(self.T)]
        pools = self.pools
        T = self.T
        placement = self.config.placement
        restart = self.config.restart_s
        depth = self.config.backfill_depth
        hol = self.policy.head_of_line
        record = self.config.record_timeline
        first_start = [math.nan] * n
        finish = [math.nan] * n
        types = [0] * n
        allocs: list = [None] * n
        # Sorted wait list; `head` skips the started prefix instead of deleting it, because
        # deleting from the front of a 10k-long list per start is what made this slow.
        waiting: list[tuple[float, int]] = []
        head = 0
        heap: list[tuple[float, int]] = []
        free = [p.free_total for p in pools]
        total_free = sum(free)
        nxt = done = 0
        report_at = 0
        stalled = False
        while done < n:
            t = arrivals[nxt]
            if heap and heap[0][0] < t:
                t = heap[0][0]
            smallest_new = INF
            while arrivals[nxt] <= t:
                entry = (keys[nxt], nxt)
                if not waiting or entry > waiting[-1]:  # FIFO: always, and no bisect
                    waiting.append(entry)
                else:
                    insort(waiting, entry, head)
                if gpus[nxt] < smallest_new:
                    smallest_new = gpus[nxt]
                nxt += 1
            if heap and heap[0][0] <= t:
                stalled = False  # GPUs come back: the wait list deserves a new look
            while heap and heap[0][0] <= t:
                end, j = heapq.heappop(heap)
                ty = types[j]
                pools[ty].release(allocs[j])
                free[ty] += gpus[j]
                total_free += gpus[j]
                finish[j] = end
                done += 1
                if record:
                    self.segments.append((j, first_start[j], end, ty))
            if progress and done >= report_at:
                progress(done)
                report_at = done + 1000
            if head == len(waiting) or total_free == 0:
                continue
            # Nothing freed since a walk that left jobs waiting: only a newcomer that fits
            # can change anything (and under head-of-line blocking not even that).
            if stalled and (hol or smallest_new > max(free)):
                continue
            self.decisions += 1
            started = []
            limit = min(len(waiting), head + depth)
            i = head
            while i < limit and total_free > 0:
                j = waiting[i][1]
                g = gpus[j]
                ty = -1
                if T == 1:
                    if free[0] >= g:
                        ty = 0
                else:
                    ty = self._choose_type(j, free)
                if ty >= 0:
                    parts, consolidated = pools[ty].allocate(g, placement)
                    rate = rate_c[ty][j] if consolidated else rate_s[ty][j]
                    free[ty] -= g
                    total_free -= g
                    types[j] = ty
                    allocs[j] = parts
                    first_start[j] = t
                    heapq.heappush(heap, (t + restart + work[j] / rate, j))
                    started.append(i)
                elif hol:
                    break
                i += 1
            if started:
                if started[-1] == head + len(started) - 1:
                    head += len(started)
                    if head > 4096 and 2 * head > len(waiting):
                        del waiting[:head]
                        head = 0
                else:
                    gone = set(started)
                    waiting = [w for k, w in enumerate(waiting) if k >= head and k not in gone]
                    head = 0
                if record:
                    self._log_busy(t)
            stalled = head < len(waiting)
        s.first_start[:] = first_start
        s.finish[:] = finish
        s.service[:] = s.finish - s.first_start
        s.remaining[:] = 0.0
        self.done = done

    def _wake(self, now: float) -> float:
        if self.policy.rerank != "thresholds" or not self.running:
            return INF
        run = np.fromiter(self.running, dtype=np.int64, count=len(self.running))
        return self.policy.next_change(self.state, run, now)

    def _run_events(self, progress) -> None:
        n = self.state.n
        arrivals = self.arrivals + [INF]
        version = self.version
        nxt = 0
        heap = self.heap
        report_at = 0
        wake = INF
        quantum = self.config.round_s if self.policy.rerank == "rounds" else INF
        while self.done < n:
            while heap and heap[0][2] != version[heap[0][1]]:
                heapq.heappop(heap)  # stale: the job was preempted since
            t = min(arrivals[nxt], heap[0][0] if heap else INF, wake)
            if t == INF:
                raise AssertionError("no event left with jobs unfinished")
            while arrivals[nxt] <= t:
                self._admit(nxt)
                nxt += 1
            while heap and heap[0][0] <= t:
                _, j, v = heapq.heappop(heap)
                if v == version[j]:
                    self._complete(j)
            if progress and self.done >= report_at:
                progress(self.done)
                report_at = self.done + 1000
            waiting = len(self.active) > len(self.running)
            if (waiting or self.retype and self.dirty) and (self.dirty or t >= wake):
                self._plan(t)
                wake = INF
                if len(self.active) > len(self.running):
                    wake = min(self._wake(t), t + quantum)
            if self.dirty or waiting:
                if self.spread and self.migrate:
                    self._consolidate(t)
                self._log_busy(t)
            self.dirty = False


def _packing_order(count: dict[tuple[int, tuple[int, ...]], int]
                   ) -> dict[tuple[int, tuple[int, ...]], int]:
    """`count` in the order `_packs` places them: fewest types first, then widest."""
    return {key: count[key] for key in sorted(count, key=lambda k: (len(k[1]), -k[0]))}


def _packs(left: dict[tuple[int, tuple[int, ...]], int], free: list[int]) -> bool:
    """Do these gangs, (size, GPU types it can run on) -> count, in `_packing_order`,
    fit in these free GPUs per type, each gang within one type? First fit: exact for one
    type set when sizes divide one another (1, 2, 4, 8 GPUs), otherwise it may say no to
    a set that fits, never yes to one that does not."""
    room = list(free)
    for (size, types), n in left.items():
        for t in types:
            fit = room[t] // size
            if fit >= n:
                room[t] -= n * size
                break
            room[t] -= fit * size
            n -= fit
        else:
            return False
    return True


def _greedy_one_type(order: np.ndarray, gpus: np.ndarray, cap: int, head_of_line: bool):
    """The jobs a greedy walk down `order` gives GPUs to, on one GPU type, vectorised.

    Same answer as the reference loop: take each job in turn if its gang fits what is
    left, skip it otherwise (or stop, under head-of-line blocking).
    """
    fill = np.cumsum(gpus)
    k = int(np.searchsorted(fill, cap, side="right"))  # the prefix that fits outright
    if k == order.size or head_of_line:
        return order[:k]
    left = cap - (int(fill[k - 1]) if k else 0)
    rest, g = order[k + 1:], gpus[k + 1:]  # order[k] is the first that did not fit
    extra = []
    while left > 0:
        fits = np.flatnonzero(g <= left)
        if fits.size == 0:
            break
        f = int(fits[0])
        extra.append(int(rest[f]))
        left -= int(g[f])
        rest, g = rest[f + 1:], g[f + 1:]
    if not extra:
        return order[:k]
    return np.concatenate([order[:k], np.array(extra, dtype=np.int64)])
