"""A training job as the simulator sees it, and a trace of them.

A job needs `work` steps of training on `gpus` GPUs (a gang: all or nothing). How
fast a step goes depends on the GPU type and on whether its GPUs share a server;
`throughput.ThroughputTable` answers that. Traces that give a duration instead of
steps (Philly, Tiresias) use work = duration seconds at a rate of one "step" per
second on the reference GPU type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syslab.common.errors import UserError


@dataclass(slots=True)
class Job:
    """One job of a trace; times in seconds from the trace's start."""

    id: int
    arrival: float
    gpus: int
    work: float  # steps (or seconds, for duration-only traces) to run in total
    job_type: str = ""  # a throughput-table key such as "ResNet-50 (batch size 64)"
    batch_size: int | None = None
    duration: float | None = None  # exclusive run time the trace states, if any
    weight: float = 1.0  # priority weight (Gavel/Shockwave traces)
    mode: str = "static"  # Shockwave's static | accordion | gns (simulated as static)
    source: str = ""  # "file:line", for error messages
    # A dynamic job's steps/s over its life, relative to its job type's: (fraction of work
    # done where a stretch starts, speed factor), set by `dynamic.apply_dynamic_modes`.
    # Empty: constant. Progress still runs at the job type's rate (the work is rescaled);
    # this is what a policy that sums raw steps/s sees (`max-throughput`), as in Shockwave.
    speed: tuple[tuple[float, float], ...] = ()


@dataclass
class Trace:
    """Jobs sorted by arrival, ids 0..n-1 in that order, plus where they came from."""

    name: str
    jobs: list[Job]
    unit: str = "steps"  # "steps" (throughput table needed) or "seconds" (work is a duration)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows skipped

    def __post_init__(self) -> None:
        self.jobs.sort(key=lambda j: (j.arrival, j.id))
        for i, job in enumerate(self.jobs):
            job.id = i

    def __len__(self) -> int:
        return len(self.jobs)

    def check_fits(self, total_gpus: int, max_type_gpus: int | None = None) -> None:
        """Every job must fit the cluster, or it could never run (Gavel hangs on this)."""
        limit = max_type_gpus if max_type_gpus is not None else total_gpus
        for job in self.jobs:
            if job.gpus > limit:
                where = job.source or f"{self.name} job {job.id}"
                raise UserError(
                    f"{where}: job asks for {job.gpus} GPUs but the cluster's largest GPU type "
                    f"has {limit}"
                )
