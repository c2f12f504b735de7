"""ρ-guard, our policy: SRTF aged by finish-time fairness, with gangs and GPU types repacked.

Hypothesis. On the shared traces the worst finish-time fairness ρ (research/sched.md §3)
is set by three kinds of victims, and a policy that removes them keeps SRTF's mean JCT:
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
   speedup per GPU among the jobs the ranking chose and moves running jobs up as types free up
   (as for every `-het` variant).
"""

from __future__ import annotations

import numpy as np

from syslab.sched.policies.base import Policy


class RhoGuard(Policy):
    name = "rho-guard"
    description = ("ours: SRTF aged by each job's projected fairness ρ; repacks servers "
                   "for spread gangs")
    rerank = "rounds"
    uses_durations = True
    heterogeneity_aware = True
    repack = True

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        remaining = state.remaining_at(ids, now) / state.best_rate[ids]
        contention = max(1.0, ids.size / float(state.capacity.sum()))
        fair = state.exclusive[ids] * contention
        rho_now = np.maximum((now - state.arrival[ids] + remaining) / fair, 1.0)
        return remaining / rho_now
