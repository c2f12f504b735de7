"""Themis (NSDI'20): finish-time fairness by offering GPUs to the worst-treated jobs first.

Themis' arbiter, at every lease expiry, computes each job's projected finish-time
fairness ρ and offers the free GPUs only to the (1 - f) share of jobs with the worst ρ
(f is its fairness knob); a partial-allocation auction among them decides who wins, and
what the auction leaves over goes to the other jobs. There is no public Themis
simulator (research/sched.md); this is its arbiter as a ranking, with two
simplifications we state: the jobs in the offer run worst ρ first (the auction's
efficiency trade-off among them is left out), and the leftover goes to the other jobs
shortest remaining first. A lease is one round.

Projected ρ = (age + remaining exclusive time) / T_fair, T_fair = max(exclusive, round)
× max(1, N/G): no job can be served faster than one lease, so a short job is not pushed
ahead of everything just because it waited part of a round.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from syslab.sched.policies.base import Policy


class Themis(Policy):
    name = "themis"
    description = ("finish-time fairness (Themis): the worst-ρ 20% of jobs first, worst first; "
                   "then shortest remaining")
    rerank = "rounds"
    uses_durations = True
    # Themis' fairness knob: the share of jobs *not* offered the GPUs first.
    fairness_knob: ClassVar[float] = 0.8

    def keys(self, state, ids: np.ndarray, now: float) -> np.ndarray:
        remaining = state.remaining_at(ids, now) / state.best_rate[ids]
        contention = max(1.0, ids.size / float(state.capacity.sum()))
        fair = np.maximum(state.exclusive[ids], state.round_s) * contention
        rho = (now - state.arrival[ids] + remaining) / fair
        offered = max(1, round((1.0 - self.fairness_knob) * ids.size))
        worst = np.argpartition(-rho, offered - 1)[:offered] if offered < ids.size \
            else np.arange(ids.size)
        # Offered jobs rank below 0 (worst ρ first); the rest by remaining time, > 0.
        key = remaining.astype(np.float64, copy=True)
        key[worst] = -rho[worst]
        return key
