"""ρ-guard, our policy: SRTF aged by finish-time fairness, with gangs and GPU types repacked.

Hypothesis. On the shared traces the worst finish-time fairness ρ (research/sched.md §3)
is set by four kinds of victims, and a policy that removes them keeps SRTF's mean JCT:
1. jobs that SRTF keeps overtaking: rank by remaining exclusive time divided by the ρ
   the job would reach if it ran to completion now, ρ_now = (age + remaining) / T_fair
   with T_fair = exclusive × max(1, N/G) (N active jobs, G GPUs). A fresh job ranks as
   in SRTF; a job that has waited long ranks ever earlier, before its ρ gets out of hand;
2. gangs that had to be spread over servers and run at a fraction of their speed (Gavel's
   and Shockwave's tables: up to 9.6× slower) until a whole server happens to free up,
   which under load may be never. The engine moves 1-GPU jobs off one server to make room
   (`repack`) whenever the gang saves more time than the moved jobs' restarts cost;
3. on a mixed cluster, jobs parked on the slowest type (K80s run some models 11× slower
   than V100s): the policy is heterogeneity-aware, so the engine deals the GPU types by
   speedup per GPU among the jobs the ranking chose and moves running jobs up as types
   free up (as for every `-het` variant);
4. long jobs of about the same length at light load (Pollux's realistic workloads): SRTF
   finishes the one that is ahead while the others wait, and the last one's ρ is the
   worst. The longest 30 % of the active jobs (by remaining time) share one place in
   the ranking, the place of the best of them, and among themselves run worst ρ_now
   first (Themis' idea, confined to the long jobs, so that short jobs keep SRTF's order
   and mean JCT stays). A running long job keeps its GPUs unless a waiting one's ρ_now
   is `hold` higher, so that equals do not swap every round at a restart each.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from syslab.sched.policies.base import Policy


class RhoGuard(Policy):
    name = "rho-guard"
    description = ("ours: SRTF aged by each job's projected fairness ρ, long jobs taking "
                   "turns worst ρ first; repacks servers for spread gangs")
    rerank = "rounds"
    uses_durations = True
    heterogeneity_aware = True
    repack = True

    # The long jobs that share a place: at or above this quantile of remaining time.
    long_quantile: ClassVar[float] = 0.7
    # How much higher a waiting long job's ρ_now must be to take a running one's place.
    hold: ClassVar[float] = 0.02

    @staticmethod
    def projection(state, ids: np.ndarray, now: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Remaining exclusive time, T_fair and ρ_now (at least 1) of jobs `ids`."""
        remaining = state.remaining_at(ids, now) / state.best_rate[ids]
        contention = max(1.0, ids.size / float(state.capacity.sum()))
        fair = state.exclusive[ids] * contention
        rho_now = np.maximum((now - state.arrival[ids] + remaining) / fair, 1.0)
        return remaining, fair, rho_now

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        remaining, _, rho_now = self.projection(state, ids, now)
        key = remaining / rho_now
        if ids.size < 4:
            return key
        is_long = remaining >= np.quantile(remaining, self.long_quantile)
        if is_long.sum() < 2:
            return key
        # The ranking as the engine sorts it (ties by id), with the long jobs taken out
        # and put back as one block where the best of them stood, worst ρ_now first.
        order = np.lexsort((ids, key))
        first = int(np.argmax(is_long[order]))
        others = order[~is_long[order]]
        long = np.flatnonzero(is_long)
        running = state.running_type[ids[long]] >= 0
        block = long[np.argsort(-(rho_now[long] + self.hold * running), kind="stable")]
        order = np.concatenate([others[:first], block, others[first:]])
        rank = np.empty(ids.size)
        rank[order] = np.arange(ids.size)
        return rank
