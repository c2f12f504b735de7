"""Shortest job first: non-preemptive, knows every job's exclusive run time."""

from __future__ import annotations

import numpy as np

from syslab.sched.policies.base import Policy


class Sjf(Policy):
    name = "sjf"
    description = "shortest exclusive run time first; runs to completion; skips what does not fit"
    preemptive = False
    static_key = True
    uses_durations = True

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        return state.exclusive[ids]
