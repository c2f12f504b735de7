"""First in, first out: strict arrival order, no preemption, no skipping the head."""

from __future__ import annotations

import numpy as np

from syslab.sched.policies.base import Policy


class Fifo(Policy):
    name = "fifo"
    description = "arrival order; a job that does not fit blocks the queue (no backfill)"
    preemptive = False
    static_key = True
    head_of_line = True

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        return state.arrival[ids]
