"""Shockwave's dynamic batch-size modes (syslab.sched.dynamic)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from syslab.common.data import lab_data
from syslab.common.errors import UserError
from syslab.sched.dynamic import (
    apply_dynamic_modes,
    batch_size_schedule,
    dynamic_exclusive_time,
    num_epochs,
    speed_profile,
)
from syslab.sched.jobs import Job, Trace
from syslab.sched.throughput import ThroughputTable

LM_SPE = {10: 5968, 20: 2984, 40: 1492, 80: 746}  # ceil(59675 / bs): Wikitext-2 steps/epoch


def lm(bs: int) -> str:
    return f"LM (batch size {bs})"


def rec(bs: int) -> str:
    return f"Recommendation (batch size {bs})"


@pytest.fixture
def table() -> ThroughputTable:
    # LM: larger batches are fewer steps/s but more samples/s (1000, 1400, 1800, 4000).
    # Recommendation: the large batch is *slower* per sample (like TACC's 8192 entry).
    v100 = {(lm(10), 1): 100.0, (lm(20), 1): 70.0, (lm(40), 1): 45.0, (lm(80), 1): 50.0,
            (lm(10), 2): 150.0, (lm(10), 8): 300.0,
            (rec(2048), 1): 10.0, (rec(8192), 1): 2.0,
            ("Transformer (batch size 64)", 1): 3.0}
    return ThroughputTable({("v100", True): v100}, name="toy")


def job(job_type: str, steps: float, mode: str, gpus: int = 1, **kw) -> Job:
    return Job(0, 0.0, gpus, steps, job_type=job_type, mode=mode, source="t.trace:7", **kw)


# --------------------------------------------------------------------------- schedules


def test_static_schedule_is_constant() -> None:
    assert batch_size_schedule(lm(10), "static", 40) == [10] * 40
    assert batch_size_schedule(lm(10), "static", 0) == []


def test_accordion_keeps_small_batch_in_critical_regimes() -> None:
    # LM: epochs < 10 are critical, and so is the first 30 % of any job.
    s = batch_size_schedule(lm(10), "accordion", 50)
    assert s[:16] == [10] * 16 and s[16:] == [80] * 34  # 16 = first epoch past 0.3 × 50
    s = batch_size_schedule(lm(10), "accordion", 20)
    assert s == [10] * 10 + [80] * 10
    # ResNet-50: every epoch with e % 30 < 10 is critical (below epoch 600).
    s = batch_size_schedule("ResNet-50 (batch size 32)", "accordion", 100)
    assert all((b == 32) == (e <= 30 or e % 30 < 10) for e, b in enumerate(s))
    # ResNet-18: a head of 10 epochs (20 at bs 256) and epochs 150-159, 250-259.
    s = batch_size_schedule("ResNet-18 (batch size 64)", "accordion", 300)
    assert {e for e, b in enumerate(s) if b == 64} == set(range(91)) | set(range(150, 160)) | set(
        range(250, 260))
    assert set(s) == {64, 256}
    # Models without Accordion support, and jobs already at the largest batch, never change.
    assert batch_size_schedule("Transformer (batch size 64)", "accordion", 50) == [64] * 50
    assert batch_size_schedule(lm(80), "accordion", 50) == [80] * 50


def test_gns_doubles_in_stages_up_to_the_cap() -> None:
    s = batch_size_schedule(lm(10), "gns", 50, gpus=1)
    assert s[:11] == [10] * 11
    assert s[11:21] == [20] * 10
    assert s[21:41] == [40] * 20
    assert s[41:49] == [80] * 8
    assert s[49] == 10  # Shockwave's quirk: only the first stage reaches the last epoch
    # ×16 at bs 16 stays within ResNet-18's cap of 256.
    assert max(batch_size_schedule("ResNet-18 (batch size 16)", "gns", 100)) == 256
    # Short jobs, GPU counts without a GNS row, and the Transformer stay static.
    assert batch_size_schedule(lm(10), "gns", 11) == [10] * 11
    assert batch_size_schedule(lm(10), "gns", 50, gpus=8) == [10] * 50
    assert batch_size_schedule("Transformer (batch size 32)", "gns", 50) == [32] * 50
    # A job of 23 epochs (the 120-job trace's job 0): the last epoch falls back to bs 10.
    s = batch_size_schedule(lm(10), "gns", 23)
    assert s == [10] * 11 + [20] * 10 + [40, 10]


def test_schedule_rejects_unknown_mode() -> None:
    with pytest.raises(UserError, match="mode must be one of static, accordion, gns"):
        batch_size_schedule(lm(10), "pollux", 10)


def test_num_epochs_rounds_up() -> None:
    assert num_epochs(lm(10), 5968 * 20) == 20
    assert num_epochs(lm(10), 5968 * 20 + 1) == 21
    assert num_epochs(lm(10), 1) == 1


# --------------------------------------------------------------------------- exclusive time


def test_static_job_takes_work_over_rate(table: ThroughputTable) -> None:
    j = job(lm(10), 12345.0, "static")
    assert dynamic_exclusive_time(j, table) == pytest.approx(123.45)
    # The profile (Shockwave's ρ denominator) counts whole epochs, even for static jobs:
    # 12,345 steps are 2.07 epochs of 5,968 steps, charged as 3 epochs of 5,967.5.
    assert dynamic_exclusive_time(j, table, method="profile") == pytest.approx(
        3 * 59675 / 10 / 100)


def test_accordion_by_hand(table: ThroughputTable) -> None:
    # 20 epochs of LM at bs 10 (100 steps/s = 12,000 steps per 120 s round).
    j = job(lm(10), 20 * 5968, "accordion")
    # Profile: epochs 0-9 at bs 10, 10-19 at bs 80 (50 steps/s).
    profile = 10 * (59675 / 10) / 100 + 10 * (59675 / 80) / 50
    assert dynamic_exclusive_time(j, table, method="profile") == pytest.approx(profile)
    # Simulator: after round 5 (60,000 steps, epoch 11) the job asks for bs 80; it gets it
    # after round 6 (72,000 steps = 12.06 epochs, rounded up to 13 epochs × 746 steps),
    # then finishes the remaining 20 × 746 − 13 × 746 steps at 50 steps/s.
    rounds = 720 + 7 * 746 / 50
    assert dynamic_exclusive_time(j, table) == pytest.approx(rounds)
    assert dynamic_exclusive_time(j, table) < j.work / 100  # faster than static


def test_gns_doubles_once_per_round(table: ThroughputTable) -> None:
    j = job(lm(10), 23 * 5968, "gns")
    t = dynamic_exclusive_time(j, table)
    assert t < j.work / 100
    # With rounds longer than the job, no switch can take effect: it runs as static.
    assert dynamic_exclusive_time(j, table, round_s=1e6) == pytest.approx(j.work / 100)


def test_dynamic_faster_when_big_batches_have_more_samples_per_s(table: ThroughputTable) -> None:
    for mode in ("accordion", "gns"):
        j = job(lm(10), 60 * 5968, mode)
        static = j.work / 100
        for method in ("rounds", "profile"):
            assert dynamic_exclusive_time(j, table, method=method) < 0.8 * static, (mode, method)


def test_dynamic_slower_when_big_batches_have_fewer_samples_per_s(
        table: ThroughputTable) -> None:
    # Recommendation at 8192: 4,096 samples/s against 20,480 at 2048.
    j = job(rec(2048), 100 * 58, "accordion")  # 58 = ceil(117907 / 2048) steps/epoch
    for method in ("rounds", "profile"):
        assert dynamic_exclusive_time(j, table, method=method) > j.work / 10


def test_jobs_that_cannot_change_batch_size_are_static(table: ThroughputTable) -> None:
    j = job("Transformer (batch size 64)", 300.0, "accordion")
    assert dynamic_exclusive_time(j, table) == pytest.approx(100.0)
    j = job(lm(10), 5968 * 30, "gns", gpus=8)  # GNS has no row for 8-GPU jobs
    assert dynamic_exclusive_time(j, table) == pytest.approx(j.work / 300)


def test_unknown_mode_names_the_source(table: ThroughputTable) -> None:
    with pytest.raises(UserError, match=r"^t\.trace:7: mode must be one of"):
        dynamic_exclusive_time(job(lm(10), 100.0, "adaptive"), table)
    trace = Trace("t", [job(lm(10), 100.0, "adaptive")])
    with pytest.raises(UserError, match=r"^t\.trace:7: mode"):
        apply_dynamic_modes(trace, table)


def test_missing_batch_size_names_the_source(table: ThroughputTable) -> None:
    # No LM (batch size 80) entry on 2 GPUs, where Accordion wants to go.
    j = job(lm(10), 5968 * 40, "accordion", gpus=2)
    for method in ("rounds", "profile"):
        with pytest.raises(UserError, match=r"^t\.trace:7: accordion job needs batch size 80: "
                                            r"no throughput for 'LM \(batch size 80\)'") as err:
            dynamic_exclusive_time(j, table, method=method)
        assert "\n" not in str(err.value)


def test_apply_rescales_dynamic_work_only(table: ThroughputTable) -> None:
    jobs = [
        Job(0, 0.0, 1, 5968 * 20, job_type=lm(10), mode="static", duration=1193.6),
        Job(1, 5.0, 1, 5968 * 20, job_type=lm(10), mode="accordion", duration=1193.6),
        Job(2, 9.0, 1, 5968 * 23, job_type=lm(10), mode="gns"),
    ]
    trace = Trace("t", jobs)
    before = [(j.work, j.job_type, j.duration) for j in trace.jobs]
    out = apply_dynamic_modes(trace, table)
    assert [(j.work, j.job_type, j.duration) for j in trace.jobs] == before  # input untouched
    assert out.jobs[0].work == trace.jobs[0].work
    for new, old in zip(out.jobs[1:], trace.jobs[1:], strict=True):
        assert new.job_type == old.job_type and new.duration == old.duration
        assert new.work / 100 == pytest.approx(dynamic_exclusive_time(old, table))
        assert new.work < old.work
    assert [j.id for j in out.jobs] == [0, 1, 2]


def test_speed_profile_follows_the_replayed_batch_sizes(table: ThroughputTable) -> None:
    # The job of test_accordion_by_hand: bs 10 (100 steps/s) until its switch takes
    # effect at 720 s, then bs 80 (50 steps/s) to the end.
    j = job(lm(10), 20 * 5968, "accordion")
    total = 720 + 7 * 746 / 50
    profile = speed_profile(j, table)
    assert [f for f, _ in profile] == pytest.approx([0.0, 720 / total])
    assert [x for _, x in profile] == pytest.approx([1.0, 0.5])
    assert speed_profile(job(lm(10), 20 * 5968, "static"), table) == ()
    assert speed_profile(job("Transformer (batch size 64)", 300.0, "gns"), table) == ()
    out = apply_dynamic_modes(Trace("t", [j, job(lm(10), 5968.0, "static")]), table)
    assert out.jobs[0].speed == profile and out.jobs[1].speed == ()


def test_apply_needs_steps_and_a_known_gpu_type(table: ThroughputTable) -> None:
    seconds = Trace("s", [job(lm(10), 100.0, "gns")], unit="seconds")
    with pytest.raises(UserError, match=r"^t\.trace:7: gns job in a trace without step counts"):
        apply_dynamic_modes(seconds, table)
    static = Trace("s", [job(lm(10), 100.0, "static")], unit="seconds")
    assert apply_dynamic_modes(static, table).jobs[0].work == 100.0
    with pytest.raises(UserError, match="GPU type 'h200' is not in throughput table"):
        apply_dynamic_modes(static, table, gpu_type="h200")


# --------------------------------------------------------------------------- Shockwave's data

TRACE_120 = "120_0.2_5_100_40_25_0,0.5,0.5_0.6,0.3,0.09,0.01_multigpu_dynamic.trace"
GPUS = 32  # the reference runs: 32 V100s at TACC


def shockwave_files() -> tuple[Path, Path, Path]:
    root = lab_data("sched")
    if root is None:
        pytest.skip("no real sched data (set SYSLAB_DATA or provide ../shared/data/sched)")
    base = root / "shockwave"
    paths = (base / "traces" / TRACE_120, base / "tacc_throughputs.json",
             base / "reference_results_tacc32_120jobs.json")
    for p in paths:
        if not p.is_file():
            pytest.skip(f"{p} not in the data folder")
    return paths


@pytest.fixture(scope="module")
def shockwave() -> tuple[Trace, ThroughputTable, dict]:
    from syslab.sched.workloads import read_shockwave

    trace_path, table_path, ref_path = shockwave_files()
    return (read_shockwave(trace_path), ThroughputTable.from_json(table_path),
            json.loads(ref_path.read_text()))


def test_real_static_jobs_run_their_stated_duration(shockwave) -> None:
    trace, table, _ = shockwave
    static = [j for j in trace.jobs if j.mode == "static"]
    assert static
    for j in static:
        t = dynamic_exclusive_time(j, table)
        assert t == j.work / table.rate(j.job_type, "v100", j.gpus)
        assert t == pytest.approx(j.duration, abs=1.0)  # the trace's duration, to the second


def test_real_profile_is_shockwaves_rho_denominator(shockwave) -> None:
    # Published ρ_i = JCT_i / (T_i × 120 jobs / 32 GPUs): recover T_i from every policy.
    trace, table, ref = shockwave
    profile = [dynamic_exclusive_time(j, table, method="profile") for j in trace.jobs]
    runs = [v for k, v in ref.items() if k.startswith("tacc_32gpus_comparison/")
            and k.endswith("_simulation")]
    assert runs
    contention = len(trace.jobs) / GPUS
    for run in runs:
        for t, jct, rho in zip(profile, run["jct_list_s"], run["ftf_list"], strict=True):
            # ρ is rounded to 5 decimals and ≥ 0.25 here: 1e-4 is a safe bound.
            assert t == pytest.approx(jct / (rho * contention), rel=1e-4)


def test_real_rounds_reproduce_a_published_jct(shockwave) -> None:
    # Job 0 arrives first, runs alone and is never preempted: its JCT is its run time.
    trace, table, ref = shockwave
    jct = ref["tacc_32gpus_comparison/max_min_fairness_simulation"]["jct_list_s"][0]
    assert dynamic_exclusive_time(trace.jobs[0], table) == pytest.approx(jct, rel=1e-9)
    assert trace.jobs[0].duration == 1418.0  # what a static model would charge


def test_real_gpu_hours_match_shockwaves_busy_time(shockwave) -> None:
    """Σ gpus × exclusive time against util × 32 × makespan of Shockwave's simulations.

    Its simulator counts only productive time as busy (a restarted job's 20 s are taken
    off the round's execution time), so busy GPU time should equal the total work. The
    15 published simulated runs give 173.9-175.8 GPU-h; ours is 175.5 (static: 197.6).
    Restarts shift where batch-size switches fall, which moves the total slightly per
    run: allow 1 % outside the published spread.
    """
    trace, table, ref = shockwave
    busy = [v["cluster_util"] * GPUS * v["makespan_s"] / 3600
            for k, v in ref.items() if k.endswith("_simulation")]
    out = apply_dynamic_modes(trace, table)

    def gpu_hours(t: Trace) -> float:
        return sum(j.gpus * j.work / table.rate(j.job_type, "v100", j.gpus) for j in t.jobs) / 3600

    ours = gpu_hours(out)
    assert 0.99 * min(busy) <= ours <= 1.01 * max(busy)
    assert gpu_hours(trace) > 1.1 * max(busy)  # treating every job as static: +12 %
    profile = apply_dynamic_modes(trace, table, method="profile")
    assert math.isclose(gpu_hours(profile), ours, rel_tol=0.02)
