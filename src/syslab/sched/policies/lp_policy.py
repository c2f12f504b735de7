"""What the four optimisation policies share: reading the LP's inputs off the engine state.

Each policy is Gavel's formulation over a time-fraction matrix X[job, GPU type]
(solved in `allocation` with HiGHS); the engine's round mechanism turns X into
per-round gang assignments. The type-blind variant (the plain name) hands the
solver a throughput matrix with every column equal, as Gavel's non-"_perf"
policies do; the "-het" variant gives it the real per-type throughputs.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from syslab.sched.policies import allocation
from syslab.sched.policies.base import AllocationPolicy


class LpPolicy(AllocationPolicy):
    """Base for the LP policies; subclasses implement `solve`."""

    def throughputs(self, state, ids: np.ndarray) -> np.ndarray:
        tput = state.rate_c[ids]
        return tput if self.heterogeneity_aware else allocation.agnostic(tput)

    def allocation(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        return self.solve(state, ids, now, self.throughputs(state, ids))

    @abstractmethod
    def solve(self, state, ids: np.ndarray, now: float, tput: np.ndarray) -> np.ndarray:
        """X for jobs `ids` given the throughput matrix the variant sees."""
