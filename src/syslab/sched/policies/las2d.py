"""Tiresias' discretised 2D-LAS: attained GPU-time picks a queue, FIFO within a queue.

Attained service counts both dimensions (GPUs × seconds), so a wide job is demoted
as fast as a long one. Keys change only when a running job crosses a queue
threshold, so the event-driven engine wakes up exactly then.
"""

from __future__ import annotations

import numpy as np

from syslab.sched.policies.base import Policy

# Two queues split at 16 GPU-hours: the Tiresias configuration of the Pollux artifact
# (its simulator's tiresias.py), which is what our Pollux-workload check compares with.
DEFAULT_THRESHOLDS = (16 * 3600.0,)


class Las2d(Policy):
    name = "las2d"
    description = "Tiresias 2D-LAS: queues by attained GPU-seconds, FIFO inside a queue"
    rerank = "thresholds"

    def __init__(self, thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS):
        self.thresholds = np.array(sorted(thresholds), dtype=np.float64)

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        queue = np.searchsorted(self.thresholds, state.attained_gpu_s(ids, now), side="right")
        # Queue first, then arrival: encoded as one float (arrivals are < 1e12 s).
        return queue * 1e12 + state.arrival[ids]

    def next_change(self, state, running: np.ndarray, now: float) -> float:
        attained = state.attained_gpu_s(running, now)
        k = np.searchsorted(self.thresholds, attained, side="right")
        below = k < len(self.thresholds)
        if not below.any():
            return float("inf")
        gap = self.thresholds[k[below]] - attained[below]
        return now + float((gap / state.gpus[running][below]).min()) + 1e-6
