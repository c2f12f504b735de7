"""Shortest remaining time first: preemptive SJF, the oracle Tiresias compares with."""

from __future__ import annotations

import numpy as np

from syslab.sched.policies.base import Policy


class Srtf(Policy):
    name = "srtf"
    description = "shortest remaining exclusive time first; preempts longer jobs"
    uses_durations = True

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        return state.remaining_at(ids, now) / state.best_rate[ids]
