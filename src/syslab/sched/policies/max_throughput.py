"""Maximum throughput (Gavel's max_sum_throughput_perf): the most work per second.

Gavel's objective sums raw steps/s, so a job's weight is its speed in its own steps. A
Shockwave job whose batch size changes changes that speed as it trains (fewer, larger
steps), and Shockwave's LP sees the speed at the current batch size; so does this one
(`SimState.speed_factor`), while the job's progress runs at its average speed.
"""

from __future__ import annotations

import numpy as np

from syslab.sched.policies import allocation
from syslab.sched.policies.lp_policy import LpPolicy


class MaxThroughput(LpPolicy):
    name = "max-throughput"
    description = "Gavel max sum of throughputs LP (efficiency, no fairness)"

    def __init__(self, normalise: bool = False):
        # False is Gavel's literal objective (steps/s summed as they are), which is what
        # the fidelity benchmark reproduces; True weighs each job in busy-GPU equivalents.
        self.normalise = normalise

    def solve(self, state, ids: np.ndarray, now: float, tput: np.ndarray) -> np.ndarray:
        if not self.normalise:  # raw steps/s: a dynamic job's depend on its batch size now
            tput = tput * state.speed_factor(ids, now)[:, None]
        return allocation.max_throughput(tput, state.gpus[ids], state.capacity,
                                         normalise=self.normalise)
