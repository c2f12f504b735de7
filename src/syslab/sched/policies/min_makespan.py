"""Minimum makespan (Gavel's min_total_duration, Shockwave's OSSP): finish everyone soonest."""

from __future__ import annotations

import numpy as np

from syslab.sched.policies import allocation
from syslab.sched.policies.lp_policy import LpPolicy


class MinMakespan(LpPolicy):
    name = "min-makespan"
    description = "Gavel min total duration LP: minimise the time until all active jobs finish"
    uses_durations = True

    def solve(self, state, ids: np.ndarray, now: float, tput: np.ndarray) -> np.ndarray:
        return allocation.min_makespan(tput, state.gpus[ids], state.capacity,
                                       remaining_steps=state.remaining_at(ids, now))
