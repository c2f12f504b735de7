"""Least attained service: the job that has run least goes first (no duration knowledge)."""

from __future__ import annotations

import numpy as np

from syslab.sched.policies.base import Policy


class Las(Policy):
    name = "las"
    description = "least attained service (seconds run) first; preemptive, re-ranked every round"
    rerank = "rounds"

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        return state.attained_s(ids, now)
