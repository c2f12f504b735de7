"""Finish-time fairness (Themis, as Gavel formulates it): minimise the worst ρ.

ρ_i = (time since arrival + remaining / e_i) / (isolated time so far + remaining / iso_i),
with iso_i the job's rate on a 1/N share of every GPU pool (Gavel's isolated policy).
Gavel accumulates the isolated time a job has "earned": the steps it did in each period
divided by that period's iso_i. N only changes when the set of jobs does, which is
exactly when the engine asks for a new allocation, so keeping the remaining steps and
iso_i of the last call gives the same sum.
"""

from __future__ import annotations

import numpy as np

from syslab.sched.policies import allocation
from syslab.sched.policies.lp_policy import LpPolicy


class FinishTimeFairness(LpPolicy):
    name = "ftf"
    description = "Themis finish-time fairness: minimise max ρ = shared / isolated finish time"
    uses_durations = True

    def __init__(self, hold_hopeless: bool = False):
        # False is Gavel's objective (and meets the 50 ms/solve budget at 500 jobs); True
        # also keeps jobs that are already hopelessly late from dragging the others' ρ up.
        self.hold_hopeless = hold_hopeless

    def reset(self, state) -> None:
        self.iso_elapsed = np.zeros(state.n)
        self.last_remaining = np.full(state.n, np.nan)
        self.last_iso = np.ones(state.n)

    def solve(self, state, ids: np.ndarray, now: float, tput: np.ndarray) -> np.ndarray:
        remaining = state.remaining_at(ids, now)
        seen = ~np.isnan(self.last_remaining[ids])
        done = np.where(seen, self.last_remaining[ids] - remaining, 0.0)
        self.iso_elapsed[ids] += done / self.last_iso[ids]
        iso = allocation.isolated_throughput(tput, state.gpus[ids], state.capacity,
                                             n_contending=len(ids))
        self.last_remaining[ids] = remaining
        self.last_iso[ids] = np.where(iso > 0, iso, 1.0)
        return allocation.finish_time_fairness(
            tput, state.gpus[ids], state.capacity,
            remaining_steps=remaining,
            elapsed_s=now - state.arrival[ids],
            isolated_tput=iso,
            isolated_elapsed_s=self.iso_elapsed[ids],
            hold_hopeless=self.hold_hopeless,
        )
