"""Max-min fairness (Gavel's LAS): maximise the worst job's normalised throughput."""

from __future__ import annotations

import numpy as np

from syslab.sched.policies import allocation
from syslab.sched.policies.lp_policy import LpPolicy


class MaxMin(LpPolicy):
    name = "max-min"
    description = "Gavel max-min fairness LP over time fractions (weighted by priority)"

    def solve(self, state, ids: np.ndarray, now: float, tput: np.ndarray) -> np.ndarray:
        return allocation.max_min_fairness(tput, state.gpus[ids], state.capacity,
                                           state.weight[ids])
