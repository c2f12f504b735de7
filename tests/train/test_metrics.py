"""Summaries and sweeps over ranks' records: pure functions, fabricated records."""

from __future__ import annotations

import pytest

from syslab.common.errors import UserError
from syslab.train.bench import BenchConfig, aggregate, with_baseline
from syslab.train.launcher import RunResult
from syslab.train.metrics import comm_rows, ring_bytes, summarize
from syslab.train.perfmodel import AlphaBeta, ComputeProfile
from syslab.train.perfmodel.calibrate import (
    CpuSharing,
    compute_profile,
    fit_sharing,
    predict_row,
)
from syslab.train.worker import RunConfig


def step(fwd: float, bwd: float, payload: int, ready: list[float | None]) -> dict:
    return {"data": 0.001, "forward": fwd, "backward_compute": bwd, "exposed_comm": 0.01,
            "optimizer": 0.005, "comm_busy": 0.02, "comm_span": 0.03, "overlap": 0.02,
            "payload_bytes": payload, "buckets": [[payload, 0.0, 0.02]], "ready": ready,
            "logger_backward_compute": bwd, "logger_comm": 0.03,
            "total": 0.001 + fwd + bwd + 0.01 + 0.005}


def rank(r: int, fwd: float, tx: int) -> dict:
    steps = [step(fwd, 0.2, 400, [0.1, 0.2]), step(fwd * 3, 0.2, 400, [0.1, None]),
             step(fwd, 0.2, 400, [0.3, 0.2])]
    logger = [{"forward_compute_time": s["forward"], "backward_compute_time": 0.2,
               "backward_comm_time": 0.03, "backward_compute_comm_overlap_time": 0.02}
              for s in steps]
    return {"rank": r, "steps": steps, "ddp_logger": logger, "param_bytes": 400,
            "buffer_bytes": 8, "param_sizes": [300, 100], "checksum": 1.5,
            "config": {"instrument": True}, "wire": {"tx": tx, "rx": tx}}


def test_summarize_takes_medians_over_steps_of_the_rank_average() -> None:
    result = RunResult(RunConfig(model="cnn", batch=8, impl="ddp"), 2, "veth", None,
                       [rank(0, 0.1, 1200), rank(1, 0.1, 1200)])
    row = summarize(result)
    assert row["forward_s"] == pytest.approx(0.1)  # the slow middle step is not the median
    assert row["payload_bytes"] == 400 and row["payload_constant"]
    assert row["ring_bytes"] == ring_bytes(400, 2) == 400
    assert row["wire_tx_per_rank"] == pytest.approx(400) and row["wire_ratio"] == 1.0
    assert row["samples_per_s"] == pytest.approx(16 / row["iteration_s"])
    assert row["timer_ratio_forward"] == pytest.approx(1.0)
    assert row["ready_s"] == [pytest.approx(0.1), pytest.approx(0.2)]  # None skipped
    assert row["checksums_equal"]


def test_loopback_wire_bytes_are_shared_by_all_ranks() -> None:
    result = RunResult(RunConfig(model="cnn", batch=8, impl="ddp"), 4, "loopback", None,
                       [rank(r, 0.1, 3 * 4 * 300) for r in range(4)])
    row = summarize(result)
    assert row["wire_tx_per_rank"] == pytest.approx(300)  # lo's total / N / steps
    assert row["wire_ratio"] == pytest.approx(300 / ring_bytes(400, 4))


def test_comm_rows_report_the_slowest_rank_and_ring_ratio() -> None:
    ranks = [{"sizes": [{"bytes": 1000, "median_s": t, "tx": tx}]}
             for t, tx in ((0.1, 1000), (0.2, 1000))]
    (row,) = comm_rows(ranks, "veth", 100.0)
    assert row["median_s"] == 0.2 and row["wire_ratio"] == 1.0 and row["rate_mbit"] == 100.0


def test_aggregate_folds_repeats_and_baseline_gives_efficiency() -> None:
    def r(impl: str, n: int, it: float, rep: int) -> dict:
        return {"model": "m", "batch": 8, "workers": n, "impl": impl, "bucket_cap_mb": None,
                "network": "loopback", "rate_mbit": None, "image_size": 32, "accumulate": 1,
                "iteration_s": it, "forward_s": it / 2, "repeat": rep,
                "samples_per_s": n * 8 / it}

    rows = [r("local", 1, 1.0, 0), r("local", 1, 3.0, 1), r("local", 1, 2.0, 2),
            r("ddp", 2, 1.5, 0), r("ddp", 2, 1.0, 1)]
    folded = {x["impl"]: x for x in with_baseline(aggregate(rows))}
    assert folded["local"]["iteration_s"] == 2.0 and folded["local"]["repeats"] == 3
    assert folded["local"]["iteration_min_s"] == 1.0
    assert folded["ddp"]["iteration_s"] == 1.25
    # 2 workers x 8 samples in 1.25 s against 8 samples in 2 s alone
    assert folded["ddp"]["scaling_efficiency"] == pytest.approx((16 / 1.25) / (2 * 8 / 2.0))


def test_bench_plan_skips_what_cannot_run_and_checks_flags() -> None:
    plan = BenchConfig(models=["cnn"], workers=[1, 2], impls=["local", "ddp"]).runs()
    assert [(c.impl, n) for c, n, _ in plan] == [("local", 1), ("ddp", 1), ("ddp", 2)]
    with pytest.raises(UserError, match="accumulate must be at least 1"):
        BenchConfig(models=["cnn"], accumulate=0).validate()


def profile_row(impl: str, n: int, scale: float) -> dict:
    return {"impl": impl, "workers": n, "model": "m", "batch": 8, "data_s": 0.0,
            "forward_s": 0.1 * scale, "backward_compute_s": 0.2 * scale,
            "optimizer_s": 0.01 * scale, "ready_s": [0.2 * scale, 0.1 * scale],
            "param_sizes": [4 << 20, 4 << 20]}


def test_compute_profile_uses_measured_counts_and_blends_between_them() -> None:
    rows = [profile_row("local", 1, 1.0), profile_row("ddp-nosync", 2, 1.5),
            profile_row("ddp-nosync", 4, 2.5)]
    assert compute_profile(rows, "m", 8, 2).backward_s == pytest.approx(0.3)
    assert compute_profile(rows, "m", 8, 3).backward_s == pytest.approx(0.4)  # 1.5 .. 2.5
    with pytest.raises(ValueError, match="around 8 workers"):
        compute_profile(rows, "m", 8, 8)


def test_fit_sharing_recovers_the_terms_that_made_the_rows() -> None:
    comm = AlphaBeta(1e-4, 1e-9)
    truth = CpuSharing(comm_slowdown=2.0, cpu_steal=0.5)
    profile = ComputeProfile(data_s=0.0, forward_s=0.1, backward_s=0.3, optimizer_s=0.01,
                             ready_s=[0.3, 0.05], param_bytes=[40 << 20, 40 << 20])
    rows = [{"workers": n, "bucket_cap_mb": cap, "rate_mbit": None, "impl": "ddp"}
            for n in (2, 3, 4) for cap in (None, 10.0, 50.0)]
    for row in rows:
        row["iteration_s"] = predict_row(row, profile, comm, truth).iteration_s
    fitted, err = fit_sharing(rows, lambda r: profile, comm)
    assert err < 1e-9
    assert fitted == CpuSharing(pytest.approx(2.0), pytest.approx(0.5))
