"""Run times for the Pollux (OSDI'21) workloads, from the artifact's per-application profiles.

The Pollux artifact's workload CSVs (``name,time,application,num_replicas,batch_size``) carry
no durations: its simulator runs each job against measured profiles. For a job with fixed
replicas and batch size (how it runs Tiresias and the other fixed-size baselines) one
simulated second does ``gain / t_step`` units of progress, where

- ``t_step`` is the step time at the job's placement and per-GPU ("atomic") batch size,
  plus ``accum_steps * (t_step - t_sync)`` when the batch needs gradient accumulation
  (``placements.csv``; local batch = ceil(batch / replicas), accumulation when that exceeds
  the largest profiled local batch, atomic batch capped at ``max_batch / (replicas *
  (accum + 1))``; a single replica above the initial batch always accumulates once);
- ``gain = (var + sqr) / (var / s + sqr)`` is the statistical efficiency of batch ``s`` times
  the application's initial batch, from the per-epoch gradient statistics ``sqr``/``var`` of
  ``validation-<batch>.csv`` (1 at the initial batch);
- the job completes once its progress reaches the application's last epoch (progress is
  counted in iterations at the initial batch size: ``target_progress`` below).

So the isolated run time is ``t_step * effective_steps`` with ``effective_steps =
sum over epochs of (progress in the epoch) / gain``. `isolated_duration` returns that for
every (application, replicas, batch) the 8 + 8 shared workloads use (``workloads/``, the
"TunedJobs" batch sizes the published Tiresias figure was run on, and
``workloads-realistic/``); replicas sit on the consolidated placement (4 GPUs a node,
ceil(replicas/4) nodes), as Tiresias places a job on an idle cluster. A scheduler adds
the artifact's 30 s restart and any queueing on top.

Source: petuum/adaptdl, branch osdi21-artifact, ``simulator/applications.py``,
``simulator/simulator.py`` (``Job.step``, ``Job.update_local_bsz``) and
``simulator/traces/<app>/{placements,validation-*,scalability}.csv``, Apache License 2.0,
(c) Petuum, Inc. The numbers below restate values derived from those files (read through
the reference index, commit de25dcc); no artifact code is included. Where a file was not
available to us the table uses a stand-in, listed in `STAND_INS`:

- ``ncf`` and ``deepspeech2`` ``placements.csv`` rows were read from the copy in
  czq693497091/DeepBoot ``traces/<app>/placements.csv`` (its 1-4 GPU rows repeat the
  artifact's layout; the artifact's own copies are not in the index);
- gradient statistics for batch sizes whose ``validation-<bs>.csv`` was not available come
  from the nearest available file (listed per entry);
- ``imagenet`` on more than 4 nodes: the artifact interpolates a ``scalability.csv`` we could
  not read; the table uses the 4-node ("4444") step time. That matches the artifact for 32
  replicas (27.7k s; its fastest Tiresias JCT at load 0.5 is 27.5k s, restart included) but
  not for 48 (18.5k s against at most 24.3k s), so the 48-replica entry is *calibrated*: the
  smallest published Tiresias JCT of that configuration (load 0.5,
  ``results-jobload/tiresias-0.5``, 3 jobs) less the 30 s restart, an upper bound on the
  isolated run. ``calibrated=False`` gives the 4-node value instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from syslab.common.errors import UserError
from syslab.sched.jobs import Trace
from syslab.sched.workloads import read_pollux

RESTART_S = 30.0  # the artifact's re-scale (restart) penalty, Job.reallocate


@dataclass(frozen=True)
class App:
    init_batch: int  # progress unit: one iteration at this batch size
    epochs: int  # max_epochs in applications.py (no target metric: run all epochs)
    target_progress: float  # progress after the last epoch (min over validation files)


APPS: dict[str, App] = {
    "bert": App(12, 2, 14774.0),
    "cifar10": App(128, 100, 39062.5),
    "deepspeech2": App(20, 80, 28541.3),
    "imagenet": App(200, 90, 576526.0),
    "ncf": App(256, 10, 194174.0),
    "yolov3": App(8, 50, 103444.0),
}


@dataclass(frozen=True)
class Profile:
    placement: str  # the artifact's placement id: GPUs per node, smallest rotation
    atomic_bsz: int  # per-GPU batch per micro-step
    accum_steps: int  # extra gradient-accumulation micro-steps per step
    step_s: float  # seconds per optimizer step, accumulation included
    effective_steps: float  # sum over epochs of progress / statistical efficiency

    @property
    def seconds(self) -> float:
        return self.step_s * self.effective_steps


# (application, replicas, batch size) -> profile, for every configuration in the 16 workloads.
PROFILES: dict[tuple[str, int, int], Profile] = {
    k: Profile(*v)
    for k, v in {
        ("bert", 1, 12): ("1", 12, 0, 0.92152, 14774.0),
        ("bert", 4, 48): ("4", 12, 0, 0.95712, 3837.2),
        ("bert", 6, 384): ("24", 10, 5, 6.09992, 509.8),
        ("bert", 8, 384): ("44", 12, 3, 5.16727, 476.0),
        ("bert", 12, 384): ("444", 10, 2, 3.14375, 509.8),
        ("bert", 16, 384): ("4444", 12, 1, 2.78103, 476.0),
        ("cifar10", 1, 128): ("1", 128, 0, 0.10312, 39062.5),
        ("cifar10", 4, 512): ("4", 128, 0, 0.10976, 10486.9),
        ("cifar10", 6, 2048): ("24", 342, 0, 0.26878, 3338.3),
        ("cifar10", 8, 1024): ("44", 128, 0, 0.23039, 5724.3),
        ("cifar10", 8, 2048): ("44", 256, 0, 0.25993, 3343.0),
        ("cifar10", 12, 4096): ("444", 341, 0, 0.28443, 2153.5),
        ("cifar10", 16, 4096): ("4444", 256, 0, 0.22349, 2152.3),
        ("deepspeech2", 1, 20): ("1", 20, 0, 0.68120, 28541.3),
        ("deepspeech2", 4, 80): ("4", 20, 0, 0.82991, 7528.4),
        ("deepspeech2", 6, 320): ("24", 54, 0, 1.83447, 2254.8),
        ("deepspeech2", 8, 160): ("44", 20, 0, 1.51950, 4026.3),
        ("deepspeech2", 8, 320): ("44", 40, 0, 1.54631, 2275.2),
        ("deepspeech2", 12, 640): ("444", 53, 0, 1.77569, 1397.0),
        ("imagenet", 8, 1600): ("44", 200, 0, 1.01489, 79668.6),
        ("imagenet", 16, 3200): ("4444", 200, 0, 1.04627, 44178.8),
        ("imagenet", 24, 3200): ("4444", 134, 0, 0.70518, 44002.3),
        ("imagenet", 32, 6400): ("4444", 200, 0, 1.04627, 26433.9),
        ("imagenet", 48, 6400): ("4444", 133, 0, 0.70033, 26478.4),
        ("ncf", 1, 256): ("1", 256, 0, 0.00744, 194174.0),
        ("ncf", 1, 32768): ("1", 16384, 1, 0.02960, 1574.3),
        ("ncf", 2, 512): ("4", 256, 0, 0.01207, 97091.8),
        ("ncf", 4, 1024): ("4", 256, 0, 0.01207, 48680.7),
        ("ncf", 8, 2048): ("44", 256, 0, 0.03812, 24308.3),
        ("yolov3", 1, 8): ("1", 8, 0, 0.32615, 103444.0),
        ("yolov3", 2, 16): ("2", 8, 0, 0.35665, 53464.6),
        ("yolov3", 4, 32): ("4", 8, 0, 0.50093, 28483.9),
        ("yolov3", 4, 64): ("4", 8, 1, 0.88289, 15970.2),
        ("yolov3", 8, 64): ("44", 8, 0, 1.63679, 15970.2),
        ("yolov3", 16, 128): ("4444", 8, 0, 1.18787, 9713.0),
    }.items()
}

# Entries resting on a stand-in for an artifact file we could not read (see module doc).
STAND_INS: dict[tuple[str, int, int], str] = {
    ("bert", 4, 48): "gradient stats interpolated between validation-12 and -96",
    ("cifar10", 4, 512): "gradient stats of validation-2048",
    ("cifar10", 8, 1024): "gradient stats of validation-2048",
    ("cifar10", 12, 4096): "gradient stats of validation-2048",
    ("cifar10", 16, 4096): "gradient stats of validation-2048",
    ("deepspeech2", 4, 80): "gradient stats of validation-320",
    ("deepspeech2", 8, 160): "gradient stats of validation-320",
    ("imagenet", 8, 1600): "gradient stats of validation-800",
    ("imagenet", 16, 3200): "gradient stats of validation-800",
    ("imagenet", 24, 3200): "4-node step time for 6 nodes (no scalability.csv); stats of -800",
    ("imagenet", 32, 6400): "4-node step time for 8 nodes (no scalability.csv); stats of -800",
    ("imagenet", 48, 6400): "calibrated (see CALIBRATED); profile: 4-node step time, stats of -800",
    ("ncf", 1, 32768): "gradient stats of validation-16384",
    ("ncf", 2, 512): "placement '4' step time for '2' (row not read)",
}

# Smallest published Tiresias JCT of the configuration at load 0.5 less the 30 s restart
# (imagenet-71 of workloads-0.5/workload-6 and imagenet-45/-77 of workload-7: 24349 s min).
CALIBRATED: dict[tuple[str, int, int], float] = {
    ("imagenet", 48, 6400): 24349.0 - RESTART_S,
}


def _unknown_app(application: str) -> UserError:
    return UserError(f"unknown Pollux application {application!r} "
                     f"(known: {', '.join(sorted(APPS))})")


def isolated_duration(application: str, replicas: int, batch_size: int, *,
                      calibrated: bool = True) -> float:
    """Seconds the artifact's simulator takes to run the job alone (no restart, no queue).

    Known configurations only: those of the shared Pollux workloads (see `PROFILES`).
    `calibrated` (default) uses `CALIBRATED` where the profile data was not available.
    """
    if application not in APPS:
        raise _unknown_app(application)
    key = (application, int(replicas), int(batch_size))
    if calibrated and key in CALIBRATED:
        return CALIBRATED[key]
    profile = PROFILES.get(key)
    if profile is None:
        known = ", ".join(f"{r}x{b}" for a, r, b in sorted(PROFILES) if a == application)
        raise UserError(f"no Pollux profile for {application} with {replicas} replicas and "
                        f"batch size {batch_size} (known replicas x batch: {known})")
    return profile.seconds


def _by_gpus(batches: Mapping[tuple[str, int], int]) -> dict[tuple[str, int], float]:
    return {(a, g): isolated_duration(a, g, b) for (a, g), b in batches.items()}


# Batch size per (application, replicas): fixed within each workload set (checked on all 8
# workloads of each), but not across the two sets (e.g. ncf on 1 GPU: 256 vs 32768).
REALISTIC_BATCH: dict[tuple[str, int], int] = {
    ("bert", 1): 12, ("bert", 4): 48,
    ("cifar10", 1): 128, ("cifar10", 4): 512, ("cifar10", 8): 1024,
    ("deepspeech2", 1): 20, ("deepspeech2", 4): 80, ("deepspeech2", 8): 160,
    ("imagenet", 8): 1600, ("imagenet", 16): 3200, ("imagenet", 32): 6400,
    ("ncf", 1): 256, ("ncf", 2): 512, ("ncf", 4): 1024, ("ncf", 8): 2048,
    ("yolov3", 1): 8, ("yolov3", 2): 16, ("yolov3", 4): 32, ("yolov3", 8): 64,
    ("yolov3", 16): 128,
}
TUNED_BATCH: dict[tuple[str, int], int] = {
    ("bert", 6): 384, ("bert", 8): 384, ("bert", 12): 384, ("bert", 16): 384,
    ("cifar10", 6): 2048, ("cifar10", 8): 2048, ("cifar10", 12): 4096, ("cifar10", 16): 4096,
    ("deepspeech2", 6): 320, ("deepspeech2", 8): 320, ("deepspeech2", 12): 640,
    ("imagenet", 24): 3200, ("imagenet", 32): 6400, ("imagenet", 48): 6400,
    ("ncf", 1): 32768, ("yolov3", 4): 64,
}
REALISTIC_DURATIONS: dict[tuple[str, int], float] = _by_gpus(REALISTIC_BATCH)
TUNED_DURATIONS: dict[tuple[str, int], float] = _by_gpus(TUNED_BATCH)


def pollux_durations(application: str, gpus: int) -> float:
    """`read_pollux` duration source for ``workloads-realistic/`` (batch fixed per app/GPUs)."""
    return _from(REALISTIC_DURATIONS, "workloads-realistic", application, gpus)


def tuned_durations(application: str, gpus: int) -> float:
    """`read_pollux` duration source for ``workloads/`` (the TunedJobs batch sizes)."""
    return _from(TUNED_DURATIONS, "workloads", application, gpus)


def _from(table: Mapping[tuple[str, int], float], what: str, application: str,
          gpus: int) -> float:
    if application not in APPS:
        raise _unknown_app(application)
    try:
        return table[(application, gpus)]
    except KeyError:
        raise UserError(f"{what} never runs {application} on {gpus} GPUs; use "
                        "read_pollux_workload, which reads each row's batch size") from None


def read_pollux_workload(path: str | Path, *, calibrated: bool = True) -> Trace:
    """A Pollux workload CSV as a seconds trace, each job's run time from its own row's
    application, replicas and batch size (`isolated_duration`)."""
    trace = read_pollux(path, lambda application, gpus: 1.0)  # durations: set just below
    for job in trace.jobs:
        try:
            seconds = isolated_duration(job.job_type, job.gpus, job.batch_size or 0,
                                        calibrated=calibrated)
        except UserError as e:
            raise UserError(f"{job.source}: {e}") from None
        if not math.isfinite(seconds) or seconds <= 0:  # pragma: no cover - table is positive
            raise UserError(f"{job.source}: bad run time {seconds!r}")
        job.work = job.duration = seconds
    return trace
