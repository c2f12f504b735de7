"""`syslab train …`: the commands work end to end, and every bad flag is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_models_lists_the_zoo_with_torchvisions_counts(syslab) -> None:
    run = syslab("train", "models")
    assert run.code == 0
    assert "11,689,512" in run.out and "25,557,032" in run.out and "cnn" in run.out


def test_impls_lists_ddp_and_our_rungs(syslab) -> None:
    run = syslab("train", "impls")
    assert run.code == 0 and "ours-overlap" in run.out and "ddp-nosync" in run.out


def test_bench_runs_the_grid_and_appends_rows(syslab, tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    run = syslab("train", "bench", "--model", "cnn", "--batch", "4", "--workers", "1,2",
                 "--impl", "local,ddp", "--repeats", "1", "--iterations", "2", "--warmup", "1",
                 "--out", rows)
    assert run.code == 0, run.err
    assert "scaling_efficiency" in run.out and "default" in run.out
    written = [json.loads(line) for line in rows.read_text().splitlines()]
    # local runs one worker only, ddp both counts
    assert sorted((r["impl"], r["workers"]) for r in written) == [
        ("ddp", 1), ("ddp", 2), ("local", 1)]
    assert all(r["payload_bytes"] == (0 if r["impl"] == "local" else r["param_bytes"])
               for r in written)

    # the same rows feed the report and the predictions
    report = syslab("train", "report", "--rows", rows, "--out", tmp_path / "report")
    assert report.code == 0, report.err
    assert (tmp_path / "report" / "index.html").exists()
    assert (tmp_path / "report" / "scaling.png").stat().st_size > 10_000
    predicted = syslab("train", "predict", "--rows", rows, "--model", "cnn", "--batch", "4",
                       "--workers", "2,64", "--rate-mbit", "1000")
    assert predicted.code == 0, predicted.err
    assert "scaling_efficiency" in predicted.out and "64" in predicted.out
    missing = syslab("train", "predict", "--rows", rows, "--model", "resnet18")
    assert missing.code == 2 and "no local run of resnet18 at batch 32" in missing.err


def test_comm_times_allreduce_and_fits(syslab, tmp_path: Path) -> None:
    out = tmp_path / "comm.jsonl"
    run = syslab("train", "comm", "--workers", "2", "--sizes", "65536,1048576", "--repeats",
                 "1", "--out", out)
    assert run.code == 0, run.err
    assert "bus bandwidth" in run.out
    assert len(out.read_text().splitlines()) == 2


@pytest.mark.parametrize(("args", "needle"), [
    (("bench", "--model", "resnet19"), "unknown model 'resnet19'"),
    (("bench", "--model", "cnn", "--batch", "0"), "batch sizes must be at least 1"),
    (("bench", "--model", "cnn", "--batch", "eight"), "batch sizes must be comma-separated"),
    (("bench", "--model", "cnn", "--workers", "0"), "worker counts must be at least 1"),
    (("bench", "--model", "cnn", "--workers", "100000", "--repeats", "1"),
     "more than this machine can run"),
    (("bench", "--model", "cnn", "--impl", "dpp"), "unknown implementation 'dpp'"),
    (("bench", "--model", "cnn", "--network", "wifi"), "unknown network 'wifi'"),
    (("bench", "--model", "cnn", "--rate-mbit", "100"), "bandwidth limit needs --network veth"),
    (("bench", "--model", "cnn", "--bucket-mb", "-1"), "bucket sizes must be positive"),
    (("bench", "--model", "cnn", "--repeats", "0"), "repeats and iterations"),
    (("bench", "--model", "cnn", "--frobnicate"), "No such option"),
    (("comm", "--workers", "1"), "an allreduce needs at least 2 workers"),
    (("predict", "--rows", "/nonexistent.jsonl"), "no such file"),
    (("report", "--rows", "/nonexistent.jsonl"), "no such file"),
    (("predict", "--rows", "/etc/hostname"), "not JSON Lines"),
    (("predict", "--cpu-steal", "1.5"), "--cpu-steal must be in [0, 1]"),
    (("comm", "--sizes", "2"), "at least 4 bytes"),
])
def test_bad_flags_are_one_line(syslab, one_line_error, args: tuple, needle: str) -> None:
    one_line_error(syslab("train", *args), needle)


def test_accumulation_syncs_once_per_step_and_traces_are_written(syslab,
                                                                  tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    run = syslab("train", "bench", "--model", "cnn", "--batch", "4", "--workers", "2",
                 "--impl", "ddp,ours-overlap", "--repeats", "1", "--iterations", "2",
                 "--warmup", "1", "--accumulate", "3", "--trace", tmp_path / "traces",
                 "--out", rows)
    assert run.code == 0, run.err
    written = [json.loads(line) for line in rows.read_text().splitlines()]
    # three micro-batches per step, one allreduce of the model per step
    assert all(r["accumulate"] == 3 and r["payload_bytes"] == r["param_bytes"]
               for r in written)
    # no_sync accumulation gives the same weights in our DataParallel as in DDP
    assert written[0]["checksum"] == written[1]["checksum"]
    traces = sorted((tmp_path / "traces").glob("*/trace_rank*.json"))
    assert len(traces) == 4
    assert "all_reduce" in traces[0].read_text()
