"""Launching N workers: what a run records, and how it fails (fast, in one line)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from syslab.common.errors import UserError
from syslab.train import launcher
from syslab.train.launcher import launch, resolve_network
from syslab.train.metrics import summarize
from syslab.train.netns import netns_available
from syslab.train.worker import RunConfig

NETNS, WHY = netns_available()
needs_netns = pytest.mark.skipif(not NETNS, reason=f"network namespaces: {WHY}")


def small(**kw) -> RunConfig:
    return RunConfig(**{"model": "cnn", "batch": 4, "iterations": 3, "warmup": 1,
                        "timeout_s": 30.0, **kw})


@needs_netns
def test_ddp_run_records_phases_exact_payload_and_wire_bytes(tmp_path: Path) -> None:
    result = launch(small(impl="ddp"), 2, network="loopback", out_dir=tmp_path)
    row = summarize(result)
    assert row["payload_bytes"] == row["param_bytes"] == 1_325_288 * 4  # every step, exactly
    assert row["payload_constant"] and row["checksums_equal"]
    # gloo's ring: each rank sends 2(N-1)/N of the model; buffers and headers add a little
    assert 1.0 <= row["wire_ratio"] < 1.02
    for phase in ("forward_s", "backward_compute_s", "optimizer_s", "comm_busy_s"):
        assert row[phase] > 0
    assert row["ddp_backward_comm_time_s"] > 0  # DDP's own timers, to cross-check ours
    assert len(row["ready_s"]) == len(row["param_sizes"]) and None not in row["ready_s"]
    assert sorted(p.name for p in tmp_path.glob("rank*.json")) == ["rank0.json", "rank1.json"]


def test_local_run_needs_no_network_and_communicates_nothing() -> None:
    row = summarize(launch(small(impl="local"), 1, network="host"))
    assert row["payload_bytes"] == 0 and row["buckets"] == 0
    assert row["wire_tx_per_rank"] is None
    assert row["exposed_comm_s"] < row["backward_compute_s"]


def test_a_killed_worker_stops_the_run_with_one_line(tmp_path: Path) -> None:
    cfg = small(impl="ddp", iterations=200, timeout_s=20.0)

    def kill_rank1_once_training(pids: list[int]) -> None:
        def wait_and_kill() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if (tmp_path / "rank1.progress").exists():
                    os.kill(pids[1], signal.SIGKILL)
                    return
                time.sleep(0.05)

        threading.Thread(target=wait_and_kill, daemon=True).start()

    start = time.monotonic()
    with pytest.raises(UserError) as err:
        launch(cfg, 2, network="host", out_dir=tmp_path, on_start=kill_rank1_once_training)
    message = str(err.value)
    assert "worker 1 was killed by SIGKILL at step" in message
    assert "the other workers were stopped" in message and "\n" not in message
    assert time.monotonic() - start < 60  # not the 20 s collective timeout, nor a hang


def test_a_run_past_its_time_limit_is_stopped(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"timed out after 3 s \(steps reached per worker"):
        launch(small(impl="local", iterations=10_000), 1, network="host", out_dir=tmp_path,
               time_limit_s=3)


def test_bad_requests_fail_before_any_worker_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="batch size must be at least 1"):
        small(batch=0)
    with pytest.raises(UserError, match="unknown model 'resnet19'"):
        launch(small(model="resnet19"), 1, network="host")
    with pytest.raises(UserError, match="workers must be at least 1"):
        launch(small(), 0, network="host")
    with pytest.raises(UserError, match="more than this machine can run"):
        launch(small(), 10_000, network="host")
    with pytest.raises(UserError, match="unknown network"):
        launch(small(), 2, network="wifi")
    with pytest.raises(UserError, match="bandwidth limit needs --network veth"):
        launch(small(), 2, network="host", rate_mbit=100)
    monkeypatch.setattr(launcher, "max_workers", lambda cfg: 10_000)
    with pytest.raises(UserError, match="unknown implementation 'dpp'"):
        launch(small(impl="dpp"), 1, network="host")


def test_without_namespaces_auto_falls_back_and_explicit_modes_say_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from syslab.train import netns

    monkeypatch.setattr(netns, "netns_available",
                        lambda: (False, "network namespaces need root: running as uid 1000"))
    network, why = resolve_network("auto")
    assert network == "host" and "uid 1000" in why and "wire bytes not counted" in why
    with pytest.raises(UserError, match="--network veth needs network namespaces: .*uid 1000"):
        resolve_network("veth")


@needs_netns
@pytest.mark.parametrize("impl", ["ddp-fp16", "ours-fp16"])
def test_fp16_compression_halves_payload_and_wire(impl: str) -> None:
    row = summarize(launch(small(impl=impl, iterations=2), 2, network="loopback"))
    assert row["payload_bytes"] * 2 == row["param_bytes"]
    assert 0.49 <= row["wire_ratio"] <= 0.52


@needs_netns
def test_veth_links_count_each_rank_and_obey_the_rate_limit() -> None:
    row = summarize(launch(small(impl="ddp", iterations=2), 2, network="veth", rate_mbit=100))
    # per-rank eth0 counters: the ring's bytes plus 1500-byte frames' headers and ACKs
    assert 1.0 <= row["wire_ratio"] <= 1.1
    # 5.3 MB per rank per step at 100 Mbit/s cannot take less than the line rate allows
    assert row["comm_busy_s"] >= row["ring_bytes"] * 8 / 100e6 * 0.95
