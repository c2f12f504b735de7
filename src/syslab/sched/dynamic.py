"""Shockwave's dynamic batch-size jobs (Accordion, GNS) as equivalent static jobs.

Shockwave (NSDI'23, uw-mad-dash/shockwave, MIT) gives each trace job a `mode`:
``static``, ``accordion`` or ``gns``. A dynamic job trains for a fixed number of
*epochs* while its batch size changes, so its speed (steps/s, looked up per batch size
in the throughput table) and its steps per epoch change with it:

- epochs = ceil(total_steps / ceil(samples / bs0)), where bs0 is the batch size in the
  job type and `samples` the model's data set size (`DATASET_SAMPLES`; independent of
  the GPU count, as in Shockwave);
- **Accordion** trains at bs0 inside "critical regimes" (fixed epoch ranges per model)
  and at the model's largest batch size outside them;
- **GNS** doubles the batch size at fixed epochs (a table per model, bs0 and GPU
  count, standing in for measured gradient-noise-scale growth), up to a per-model cap.

There is no randomness: Shockwave's Accordion pattern takes a job id but does not use
it, and its GNS "noise scale" is the fixed table below. Nothing here needs a seed.

Shockwave computes a dynamic job's cost in two ways, which differ by a few per cent
per job (0.80-1.11x on the 120-job trace; 0.6 % over all of it), and
`dynamic_exclusive_time` offers both:

- ``method="rounds"`` (default): what its simulator *runs*. At every round boundary
  (120 s) the job asks for its next batch size from its progress; the request takes
  effect after the job's next round, and on every switch the steps done are rounded up
  to whole epochs at the new batch size (``Scheduler._simulate_accordion`` /
  ``_simulate_gns`` / ``_scale_bs_and_iters`` in scheduler/scheduler.py). Accordion
  here has no "first 30 % is critical" rule, and a job whose productive time passes
  1.5x the trace's duration is declared finished (``is_over_deadline``). Replaying
  this for a job alone reproduces its simulated JCTs (job 0 of the 120-job trace:
  1182.6125 s, as in every published policy run) and the busy GPU time of its
  simulated runs (175.5 GPU-h against 173.9-175.8).
- ``method="profile"``: the per-epoch profile it pickles for its planner and uses as
  the exclusive time T in finish-time fairness ρ = JCT / (T · max(1, N/G))
  (``generate_pickle_file`` in scheduler/utils.py): epoch e costs
  (samples / bs_e) / rate(bs_e), summed over the schedule of `batch_size_schedule`.
  This matches the ρ denominators of the published results to 1e-5 for all 120 jobs.
  It rounds static jobs up to whole epochs too, so for them it is *not* work / rate.

Our engine runs a job as `work` steps at a constant rate per GPU type, so
`apply_dynamic_modes` rescales each dynamic job's work to make work / rate equal its
dynamic exclusive time. On one GPU type with consolidated gangs that gives the same
total run time; the progress curve is linear instead of piecewise, so policies that
look at remaining time see an average speed. Policies that weigh jobs by raw steps/s
(Gavel's max-throughput objective) see the steps/s of the batch size the job would be
at: `speed_profile` records it along the same replay, and `apply_dynamic_modes` puts
it on the job (`Job.speed`).

All tables below are facts restated from Shockwave's scheduler/utils.py and
scheduler/scheduler.py (the code is ours).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import replace

from syslab.common.errors import UserError
from syslab.sched.jobs import Job, Trace
from syslab.sched.throughput import ThroughputTable

MODES = ("static", "accordion", "gns")
METHODS = ("rounds", "profile")
ROUND_S = 120.0  # Shockwave's round length: batch sizes change only at round ends

# Samples per epoch by model (utils.py dataset_len / scheduler.py dataset_size_dict):
# CIFAR-10, ImageNet (Shockwave's 100k-image subset), Multi30k, Wikitext-2, ML-20M,
# monet2photo, and A3C's 4 "samples".
DATASET_SAMPLES: dict[str, int] = {
    "ResNet-18": 50000,
    "ResNet-50": 100000,
    "Transformer": 10000,
    "LM": 59675,
    "Recommendation": 117907,
    "CycleGAN": 6287,
    "A3C": 4,
}

# Accordion's large batch size per model (max_bs_dict); other models never change.
ACCORDION_MAX_BS: dict[str, int] = {
    "LM": 80,
    "ResNet-18": 256,
    "ResNet-50": 128,
    "Recommendation": 8192,
}

# GNS's batch-size cap per model (bs_limit); the Transformer's pattern is static anyway.
GNS_MAX_BS: dict[str, int] = {**ACCORDION_MAX_BS, "Transformer": 128}

# GNS schedule (get_gns_bs_pattern): (model, bs0, GPUs) -> stages (first epoch, factor);
# from each stage's first epoch on, the batch size is bs0 × factor. It applies only to
# jobs with more epochs than the first stage's start; other combinations stay static.
GNS_STAGES: dict[tuple[str, int, int], tuple[tuple[int, int], ...]] = {
    ("ResNet-18", 16, 1): ((31, 2), (41, 4), (51, 8), (71, 16)),
    ("ResNet-18", 32, 1): ((21, 2), (31, 4), (51, 8)),
    ("ResNet-18", 64, 1): ((11, 2), (31, 4)),
    ("ResNet-18", 128, 1): ((11, 2),),
    ("ResNet-18", 16, 2): ((21, 2), (31, 4), (91, 8), (111, 16)),
    ("ResNet-18", 32, 2): ((11, 2), (21, 4), (41, 8)),
    ("ResNet-18", 64, 2): ((21, 2), (41, 4)),
    ("ResNet-18", 128, 2): ((41, 2),),
    ("ResNet-18", 16, 4): ((11, 2), (21, 4), (81, 8), (91, 16)),
    ("ResNet-18", 32, 4): ((21, 2), (31, 4), (61, 8)),
    ("ResNet-18", 64, 4): ((11, 2), (61, 4)),
    ("ResNet-18", 128, 4): ((11, 2),),
    ("ResNet-50", 64, 1): ((101, 2),),
    ("ResNet-50", 32, 2): ((101, 2), (111, 4)),
    ("ResNet-50", 64, 2): ((81, 2),),
    ("ResNet-50", 32, 4): ((131, 2), (221, 4)),
    ("ResNet-50", 64, 4): ((191, 2),),
    ("LM", 5, 1): ((31, 2), (41, 4), (61, 8), (71, 16)),
    ("LM", 10, 1): ((11, 2), (21, 4), (41, 8)),
    ("LM", 20, 1): ((11, 2), (41, 4)),
    ("LM", 40, 1): ((11, 2),),
    ("LM", 5, 2): ((31, 2), (51, 4), (61, 8), (71, 16)),
    ("LM", 10, 2): ((11, 2), (31, 4), (41, 8)),
    ("LM", 20, 2): ((31, 2), (41, 4)),
    ("LM", 40, 2): ((11, 2),),
    ("LM", 5, 4): ((11, 2), (31, 4), (71, 8), (91, 16)),
    ("LM", 10, 4): ((11, 2), (31, 4), (61, 8)),
    ("LM", 20, 4): ((11, 2), (61, 4)),
    ("LM", 40, 4): ((61, 2),),
    ("Recommendation", 512, 1): ((21, 2), (41, 4), (71, 8), (91, 16)),
    ("Recommendation", 1024, 1): ((21, 2), (51, 4), (91, 8)),
    ("Recommendation", 2048, 1): ((21, 2), (41, 4)),
    ("Recommendation", 4096, 1): ((41, 2),),
}

_BATCH_RE = re.compile(r"^(.*?) \(batch size (\d+)\)$")
_GNS_HORIZON = 760  # the simulator asks for GNS patterns at least this long


# --------------------------------------------------------------------------- schedules


def split_job_type(job_type: str) -> tuple[str, int | None]:
    """("ResNet-50 (batch size 64)") -> ("ResNet-50", 64); a type without one -> (type, None)."""
    m = _BATCH_RE.match(job_type.strip())
    if m is None:
        return job_type.strip(), None
    return m.group(1), int(m.group(2))


def job_type_with(model: str, batch_size: int) -> str:
    """The throughput-table key of `model` at `batch_size` (Gavel's naming)."""
    return f"{model} (batch size {batch_size})"


def steps_per_epoch(model: str, batch_size: int) -> int:
    """Steps in one epoch: ceil(samples / batch size), whatever the GPU count (Shockwave)."""
    return math.ceil(DATASET_SAMPLES[model] / batch_size)


def num_epochs(job_type: str, steps: float) -> int:
    """Epochs a job of `steps` steps at its job type's batch size trains for (rounded up)."""
    model, bs = split_job_type(job_type)
    if bs is None or model not in DATASET_SAMPLES:
        raise ValueError(f"no batch size or data set size known for job type {job_type!r}")
    return max(1, _ceil(steps / steps_per_epoch(model, bs)))


def _accordion_critical(model: str, bs0: int, epoch: int, *, runtime: bool = False) -> bool:
    """Whether `epoch` lies in a critical regime (Accordion keeps the small batch there).

    The profile (get_accordion_bs_pattern) and the simulator (_simulate_accordion)
    disagree in two places, and `runtime` picks the simulator's version: it knows no
    mid-training regimes for Recommendation, and no end to ResNet-50's 30-epoch cycle
    (the profile lists epochs below 600 only).
    """
    if model == "ResNet-18":
        head = 20 if bs0 == 256 else 10
        return epoch < head or 150 <= epoch < 160 or 250 <= epoch < 260
    if model == "ResNet-50":
        return epoch % 30 < 10 and (runtime or epoch < 600)
    if model == "LM":
        return epoch < 10
    if model == "Recommendation":
        head = 40 if bs0 == 2048 else 30 if bs0 in (512, 1024) else 10
        return epoch < head or (not runtime and (60 <= epoch < 70 or 80 <= epoch < 90))
    return True  # Transformer, CycleGAN, A3C: no Accordion support, never switch


def batch_size_schedule(job_type: str, mode: str, num_epochs: int, gpus: int = 1) -> list[int]:
    """Batch size of each epoch under `mode`, as Shockwave's per-epoch profile has it.

    - static: bs0 throughout.
    - accordion (get_accordion_bs_pattern): the model's large batch size in every epoch
      past the first 30 % that is outside the critical regimes; bs0 elsewhere. Models
      without Accordion support (Transformer, CycleGAN, A3C) stay at bs0.
    - gns (get_gns_bs_pattern): bs0 × the stage factor of `GNS_STAGES`, capped at
      `GNS_MAX_BS`; combinations not in the table stay at bs0. As in Shockwave, only the
      first stage reaches the job's last epoch: later stages leave it at bs0.

    Deterministic: Shockwave's patterns draw no random numbers (the Accordion one takes a
    job id and ignores it), so there is no seed to pass.
    """
    if mode not in MODES:
        raise UserError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if num_epochs < 0:
        raise ValueError(f"num_epochs must be >= 0, got {num_epochs}")
    model, bs0 = split_job_type(job_type)
    if bs0 is None:
        raise ValueError(f"job type {job_type!r} names no batch size")
    schedule = [bs0] * num_epochs
    if mode == "accordion" and model in ACCORDION_MAX_BS:
        big = ACCORDION_MAX_BS[model]
        for e in range(num_epochs):
            if e > 0.3 * num_epochs and not _accordion_critical(model, bs0, e):
                schedule[e] = big
    elif mode == "gns":
        stages = GNS_STAGES.get((model, bs0, gpus))
        if stages and num_epochs > stages[0][0]:
            for i, (start, factor) in enumerate(stages):
                end = stages[i + 1][0] if i + 1 < len(stages) else num_epochs
                # Shockwave's loops stop before the last epoch in every stage but the first.
                stop = min(end, num_epochs if i == 0 else num_epochs - 1)
                for e in range(start, stop):
                    schedule[e] = bs0 * factor
            cap = GNS_MAX_BS.get(model, bs0)
            schedule = [min(b, cap) for b in schedule]
    return schedule


# --------------------------------------------------------------------------- exclusive time


def _where(job: Job) -> str:
    return job.source or f"job {job.id}"


def _exact_rate(job: Job, table: ThroughputTable, job_type: str, gpu_type: str) -> float:
    """Measured steps/s of `job_type` on the job's GPU count; no interpolation (as Shockwave)."""
    rate = table.rates.get((gpu_type, True), {}).get((job_type, job.gpus), 0.0)
    if not rate > 0:
        raise UserError(f"{_where(job)}: {job.mode} job needs batch size "
                        f"{split_job_type(job_type)[1]}: no throughput for {job_type!r} on "
                        f"{job.gpus} {gpu_type} GPU(s) in table {table.name!r}")
    return rate


def _static_rate(job: Job, table: ThroughputTable, gpu_type: str) -> float:
    rate = table.rate(job.job_type, gpu_type, job.gpus)
    if not rate > 0:
        raise UserError(f"{_where(job)}: no throughput for {job.job_type!r} on {job.gpus} "
                        f"{gpu_type} GPU(s) in table {table.name!r}")
    return rate


def _check_method(method: str, round_s: float) -> None:
    if method not in METHODS:
        raise UserError(f"dynamic-mode method must be one of {', '.join(METHODS)}, "
                        f"got {method!r}")
    if not round_s > 0:  # also catches NaN
        raise UserError(f"round length must be positive, got {round_s!r}")


def _check_mode(job: Job) -> None:
    if job.mode not in MODES:
        raise UserError(f"{_where(job)}: mode must be one of {', '.join(MODES)}, "
                        f"got {job.mode!r}")


def _adapts(job: Job) -> tuple[str, int] | None:
    """(model, bs0) when the job's batch size can change under its mode, else None."""
    if job.mode == "static":
        return None
    model, bs0 = split_job_type(job.job_type)
    if bs0 is None or model in ("CycleGAN", "A3C"):
        return None  # no batch size to change: Shockwave's patterns leave these static
    if model not in DATASET_SAMPLES:
        raise UserError(f"{_where(job)}: {job.mode} job of unknown model {model!r}: no data "
                        f"set size (known: {', '.join(DATASET_SAMPLES)})")
    return model, bs0


def dynamic_exclusive_time(
    job: Job,
    table: ThroughputTable,
    gpu_type: str = "v100",
    *,
    method: str = "rounds",
    round_s: float = ROUND_S,
) -> float:
    """Seconds the job takes alone on `job.gpus` consolidated `gpu_type` GPUs under its mode.

    ``method="rounds"`` replays Shockwave's simulator for the job running every round
    (without the restart overhead, which the engine adds itself); a static job (and a
    dynamic one whose batch size never changes) takes exactly work / rate.
    ``method="profile"`` sums Shockwave's per-epoch profile (its ρ denominator); that
    rounds every job, static ones included, up to whole epochs. See the module docstring.
    """
    _check_mode(job)
    _check_method(method, round_s)
    gpu_type = gpu_type.lower()
    adapt = _adapts(job)
    if method == "profile":
        model, bs0 = split_job_type(job.job_type)
        if bs0 is not None and model in DATASET_SAMPLES:
            return _profile_time(job, table, gpu_type, model, bs0)
    if adapt is None:
        return job.work / _static_rate(job, table, gpu_type)
    return _rounds_time(job, table, gpu_type, *adapt, round_s)


def _profile_time(job: Job, table: ThroughputTable, gpu_type: str, model: str,
                  bs0: int) -> float:
    n = num_epochs(job.job_type, job.work)
    schedule = batch_size_schedule(job.job_type, job.mode, n, job.gpus)
    rates: dict[int, float] = {}
    total = 0.0
    for bs in schedule:
        rate = rates.get(bs)
        if rate is None:
            rate = rates[bs] = _exact_rate(job, table, job_type_with(model, bs), gpu_type)
        total += DATASET_SAMPLES[model] / bs / rate  # fractional steps, as the profile has
    return total


def _rounds_time(job: Job, table: ThroughputTable, gpu_type: str, model: str, bs0: int,
                 round_s: float) -> float:
    return _rounds_replay(job, table, gpu_type, model, bs0, round_s)[0]


def _rounds_replay(job: Job, table: ThroughputTable, gpu_type: str, model: str, bs0: int,
                   round_s: float) -> tuple[float, list[tuple[float, int]]]:
    """Shockwave's simulator, one job, every round: see the module docstring. Returns the
    run time and each batch size with the time it took effect."""
    rates: dict[int, float] = {}

    def rate_of(bs: int) -> float:
        r = rates.get(bs)
        if r is None:
            r = rates[bs] = _exact_rate(job, table, job_type_with(model, bs), gpu_type)
        return r

    deadline = math.floor(1.5 * job.duration) if job.duration else math.inf
    bs, total, done, t = bs0, float(job.work), 0.0, 0.0
    timeline = [(0.0, bs0)]
    request: int | None = None  # batch size asked for at the last round end
    while True:
        rate = rate_of(bs)
        # Gavel runs int(rate × round) steps a round (at least one, so slow jobs end).
        steps = min(max(math.floor(rate * round_s), 1), total - done)
        t += steps / rate
        done += steps
        if done >= total or t > deadline:
            return t, timeline
        if request is not None:
            # The switch keeps the epoch count and rounds progress up to whole epochs.
            old_spe, new_spe = steps_per_epoch(model, bs), steps_per_epoch(model, request)
            epochs = _ceil(total / old_spe)
            new_total = _ceil(total * bs / request)
            if _ceil(new_total / new_spe) != epochs:
                new_total = new_spe * epochs
            done = float(_ceil(done / old_spe) * new_spe)
            total, bs = float(new_total), request
            if request != timeline[-1][1]:
                timeline.append((t, request))
            if done >= total:
                return t, timeline
        epoch = _ceil(done / steps_per_epoch(model, bs))  # Shockwave's "current epoch"
        request = _request(job.mode, model, bs0, bs, epoch, job.gpus)


def speed_profile(job: Job, table: ThroughputTable, gpu_type: str = "v100", *,
                  round_s: float = ROUND_S) -> tuple[tuple[float, float], ...]:
    """A dynamic job's steps/s over its run alone, relative to its job type's: (fraction
    of its run time where each batch size starts, that batch size's steps/s / bs0's), from
    the same replay of Shockwave's simulator as `dynamic_exclusive_time`. Empty when the
    batch size never changes. Since `apply_dynamic_modes` makes progress linear in run
    time, the fraction of run time is also the fraction of work done."""
    _check_mode(job)
    _check_method("rounds", round_s)
    adapt = _adapts(job)
    if adapt is None:
        return ()
    gpu_type = gpu_type.lower()
    model, bs0 = adapt
    total, timeline = _rounds_replay(job, table, gpu_type, model, bs0, round_s)
    if len(timeline) == 1 or not total > 0:
        return ()
    rate0 = _static_rate(job, table, gpu_type)
    return tuple((t / total, _exact_rate(job, table, job_type_with(model, bs), gpu_type) / rate0)
                 for t, bs in timeline if t < total)


def _ceil(x: float) -> int:
    # Step counts are integers that went through float math: do not let 3.0000000001 count
    # as a fourth epoch.
    return math.ceil(x - 1e-9)


@functools.lru_cache(maxsize=1024)
def _gns_pattern(model: str, bs0: int, n: int, gpus: int) -> tuple[int, ...]:
    # The simulator rebuilds this every round; its length matters (the last-epoch quirk).
    return tuple(batch_size_schedule(job_type_with(model, bs0), "gns", n, gpus))


def _request(mode: str, model: str, bs0: int, bs: int, epoch: int, gpus: int) -> int | None:
    """The batch size the simulator switches to after the next round, if any.

    `epoch` is Shockwave's "current epoch": epochs started, ceil(done / steps per epoch).
    """
    if mode == "gns":
        if bs == GNS_MAX_BS.get(model) or bs0 == ACCORDION_MAX_BS.get(model):
            return None  # at the cap, or a job that started at the largest batch size
        pattern = _gns_pattern(model, bs0, max(_GNS_HORIZON, epoch + 2), gpus)
        if pattern[epoch] > bs or pattern[epoch + 1] > bs:
            return 2 * bs  # GNS grows by doubling, one step per round at most
        return None
    big = ACCORDION_MAX_BS.get(model)
    if big is None or bs0 == big:
        return None  # no Accordion support, or nothing larger to switch to
    critical = _accordion_critical(model, bs0, epoch, runtime=True)
    if bs == bs0 and not critical:
        return big
    if bs != bs0 and critical:
        return bs0
    return None


def apply_dynamic_modes(
    trace: Trace,
    table: ThroughputTable,
    gpu_type: str = "v100",
    *,
    method: str = "rounds",
    round_s: float = ROUND_S,
) -> Trace:
    """A copy of `trace` in which each dynamic job's work lasts its dynamic exclusive time.

    Each accordion/gns job keeps its job type (the initial batch size) and gets
    work = dynamic exclusive time × table.rate(job_type, gpu_type, gpus), and its
    `speed_profile` as `Job.speed` (what a steps/s-summing policy sees); static jobs,
    and the trace's stated `duration`s, are unchanged. Exact on one GPU type with
    consolidated placement; on heterogeneous clusters (or spread gangs) it is an
    approximation, since the batch-size mix would change the job's speed ratio between
    GPU types, which this keeps at the initial batch size's. Apply it once, to a trace
    as read (a second pass would rescale again).
    """
    _check_method(method, round_s)
    gpu_type = gpu_type.lower()
    if (gpu_type, True) not in table.rates:
        raise UserError(f"GPU type {gpu_type!r} is not in throughput table {table.name!r} "
                        f"(types: {', '.join(table.gpu_types)})")
    jobs = []
    for job in trace.jobs:
        _check_mode(job)
        if job.mode == "static":
            jobs.append(replace(job))
            continue
        if trace.unit != "steps":
            raise UserError(f"{_where(job)}: {job.mode} job in a trace without step counts "
                            f"(unit {trace.unit}); dynamic modes need steps")
        seconds = dynamic_exclusive_time(job, table, gpu_type, method=method, round_s=round_s)
        work = seconds * _static_rate(job, table, gpu_type)
        speed = speed_profile(job, table, gpu_type, round_s=round_s)
        jobs.append(replace(job, work=work, speed=speed))
    return Trace(trace.name, jobs, unit=trace.unit, skipped=dict(trace.skipped))
