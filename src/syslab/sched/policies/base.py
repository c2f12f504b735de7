"""The one interface every scheduling policy implements.

A policy never touches the cluster: the engine asks it to rank jobs (smaller key
runs first) or, for the optimisation-based policies, for a time-fraction matrix
X[job, gpu type] (Gavel's formulation); the engine turns either into gang
allocations, placement and preemptions. Policies read job state from `SimState`
arrays, so a key for a thousand jobs is one numpy expression.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from syslab.sched.engine import SimState


class Policy(ABC):
    """Ranks jobs; the engine gives GPUs to the best-ranked jobs that fit."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    # May the engine stop a running job to run a better-ranked one?
    preemptive: ClassVar[bool] = True
    # The key is fixed at arrival (FIFO, SJF): the engine can keep a heap instead of re-sorting.
    static_key: ClassVar[bool] = False
    # Stop at the first job that does not fit (strict FIFO) instead of skipping past it.
    head_of_line: ClassVar[bool] = False
    # Heterogeneity-aware: a job goes on the GPU type where it runs fastest (else: the
    # first type with room). Preemptive policies go further: at every decision the types
    # are dealt by speedup per GPU among the jobs the ranking chose, and a running job
    # moves to a faster type when that saves more than its restart.
    heterogeneity_aware: ClassVar[bool] = False
    # When can the ranking change? "events": only at arrivals and completions (FIFO, SJF,
    # SRTF: waiting keys are frozen and running keys only improve); "thresholds": also when
    # `next_change` says so (2D-LAS queues); "rounds": any time (LAS, Gittins, LPs).
    rerank: ClassVar[str] = "events"
    # May the engine move 1-GPU jobs off a server to consolidate a spread gang? A placement
    # mechanism of our policy; the baselines, like their anchors, leave running jobs be.
    repack: ClassVar[bool] = False
    # Needs the job's total work or remaining work (a scheduler that knows durations).
    uses_durations: ClassVar[bool] = False

    @abstractmethod
    def keys(self, state: SimState, ids: np.ndarray, now: float) -> np.ndarray:
        """Sort keys for jobs `ids` at time `now`; smaller runs first, ties by arrival."""

    def next_change(self, state: SimState, running: np.ndarray, now: float) -> float:
        """Earliest time a running job's key changes class (event mode wakes up then)."""
        return float("inf")

    def reset(self, state: SimState) -> None:  # noqa: B027 (optional hook, no-op by default)
        """Called once before a simulation starts (precompute tables here)."""


class AllocationPolicy(Policy):
    """A policy that solves for time fractions X[job, type]; the engine runs rounds."""

    rerank: ClassVar[str] = "rounds"

    @abstractmethod
    def allocation(self, state: SimState, ids: np.ndarray, now: float) -> np.ndarray:
        """X with shape (len(ids), number of GPU types); rows sum to at most 1."""

    def keys(self, state: SimState, ids: np.ndarray, now: float) -> np.ndarray:
        return state.arrival[ids]  # only used as a tie-break
