"""Finish-time fairness (Themis, as Gavel formulates it): minimise the worst ρ."""

from __future__ import annotations

import numpy as np

from syslab.sched.policies import allocation
from syslab.sched.policies.lp_policy import LpPolicy


class FinishTimeFairness(LpPolicy):
    name = "ftf"
    description = "Themis finish-time fairness: minimise max ρ = shared / isolated finish time"
    uses_durations = True

    def solve(self, state, ids: np.ndarray, now: float, tput: np.ndarray) -> np.ndarray:
        return allocation.finish_time_fairness(
            tput, state.gpus[ids], state.capacity,
            remaining_steps=state.remaining_at(ids, now),
            elapsed_s=now - state.arrival[ids],
            n_contending=len(ids),
        )
