"""ρ-guard, our policy: SRTF, except that a job about to become unfair goes first.

Hypothesis: SRTF's mean JCT is close to optimal, and its unfairness falls on the few
long jobs that keep being overtaken. Give each job a finish-time-fairness deadline,
arrival + ρ* × T_fair with T_fair = exclusive × max(1, N/G) (N active jobs, G GPUs:
its time on a 1/N share of the cluster); jobs whose slack (deadline − now − remaining
exclusive time) has run out go first, earliest deadline first, and everyone else in
SRTF order. Since few jobs are ever at risk, worst ρ should drop to near ρ* while mean
JCT stays within a few percent of SRTF's.
"""

from __future__ import annotations

import numpy as np

from syslab.sched.policies.base import Policy

AT_RISK = -1e15  # keys of at-risk jobs sit below every remaining time


class RhoGuard(Policy):
    name = "rho-guard"
    description = "ours: SRTF, but jobs about to exceed ρ* run first (earliest fairness deadline)"
    rerank = "rounds"
    uses_durations = True

    def __init__(self, rho_target: float = 1.5):
        self.rho_target = rho_target

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        remaining = state.remaining_at(ids, now) / state.best_rate[ids]
        contention = max(1.0, ids.size / float(state.capacity.sum()))
        deadline = state.arrival[ids] + self.rho_target * state.exclusive[ids] * contention
        at_risk = deadline - now - remaining <= 0
        return np.where(at_risk, AT_RISK + deadline, remaining)
