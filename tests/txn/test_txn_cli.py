"""`syslab txn`: bench on SQLite (in-process, no server), check's verdicts and exit codes,
and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from syslab.txn.history import OK, History, Txn, write_history


def test_bench_writes_histories_results_and_plots(syslab, tmp_path: Path) -> None:
    r = syslab("txn", "bench", "--system", "sqlite", "--workload", "list-append",
               "--depth", "1,4", "--duration", "0.3", "--clients", "2", "--out", tmp_path)
    assert r.code == 0, r.out + r.err
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [row["depth"] for row in rows] == [1, 4]
    for row in rows:
        assert row["committed"] > 10 and row["valid"] is True and row["violation_rate"] == 0
        assert Path(row["history"]).exists()
    assert (tmp_path / "depth_z0.99.png").exists() and "sqlite" in r.out
    # the recorded history checks clean on its own, with the model recorded in it
    c = syslab("txn", "check", rows[1]["history"])
    assert c.code == 0 and "strict-serializable: valid" in c.out


def _write_skew(tmp_path: Path) -> Path:
    # T0 and T1 both read x and y as initial, then write different keys: G2-item
    txns = [Txn(0, 0, 0, 0.0, 1.0, OK, [("r", 1, None), ("r", 2, None), ("w", 1, 1)]),
            Txn(1, 1, 0, 0.0, 1.0, OK, [("r", 1, None), ("r", 2, None), ("w", 2, 1)]),
            Txn(2, 2, 0, 2.0, 3.0, OK, [("r", 1, 1), ("r", 2, 1)])]
    return write_history(tmp_path / "skew.jsonl", History(txns))


def test_check_exit_code_follows_the_model(syslab, tmp_path: Path) -> None:
    path = _write_skew(tmp_path)
    r = syslab("txn", "check", path, "--model", "serializable", "--json", tmp_path / "r.json")
    assert r.code == 1 and "G2-item" in r.out and "NOT valid" in r.out
    assert json.loads((tmp_path / "r.json").read_text())["valid"] is False
    r = syslab("txn", "check", path, "--model", "snapshot-isolation")
    assert r.code == 0 and "found but allowed: G2-item" in r.out


def test_bad_input_is_one_line(syslab, one_line_error, tmp_path: Path) -> None:
    one_line_error(syslab("txn", "check", tmp_path / "nope.jsonl"), "no such history file")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 0, "client": 0, "index": 0, "invoke": 0, "outcome": "ok"}\n')
    one_line_error(syslab("txn", "check", bad), "bad.jsonl:1", "missing field 'ops'")
    bad.write_text("not json\n")
    one_line_error(syslab("txn", "check", bad), "bad.jsonl:1", "not JSON")
    one_line_error(syslab("txn", "check", _write_skew(tmp_path), "--model", "linearish"),
                   "unknown consistency model")
    one_line_error(syslab("txn", "bench", "--system", "oracle"), "unknown system 'oracle'")
    one_line_error(syslab("txn", "bench", "--system", "sqlite", "--workload", "tpc-h"),
                   "unknown workload")
    one_line_error(syslab("txn", "bench", "--system", "sqlite", "--depth", "1,x"),
                   "depths must be comma-separated integers")
    one_line_error(syslab("txn", "bench", "--system", "sqlite", "--depth", "0"),
                   "depths must be at least 1")
    one_line_error(syslab("txn", "bench", "--system", "sqlite", "--one-big"),
                   "--one-big needs --fanout")


def test_serve_starts_a_cluster_that_answers_and_stops_on_sigterm() -> None:
    import asyncio
    import os
    import signal
    import subprocess
    import sys

    from syslab.txn.mdss.client import MdssClient

    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.Popen([sys.executable, "-c", "from syslab.cli import main; main()",
                             "txn", "serve", "--delay-ms", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(src)})
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[0].startswith("shard 0: leader 127.0.0.1:"), lines + [proc.stderr.read()]
        ports = [int(p) for p in lines[3].split()[1].split(",")]

        async def write_then_read() -> list:
            client = MdssClient(ports, 0.001)
            await client.connect()
            try:
                session = client.session(single=False)
                await session.execute([("w", 7, 1), ("w", 8, 2)])
                return await session.execute([("r", 7, None), ("r", 8, None)])
            finally:
                await client.close()

        assert asyncio.run(write_then_read()) == [("r", 7, 1), ("r", 8, 2)]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out.strip().endswith("stopped"), err


def test_serve_on_a_taken_port_is_one_line(syslab, one_line_error) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        # replica (0, 0) of a 1 x 1 cluster listens on base_port itself
        r = syslab("txn", "serve", "--shards", "1", "--replicas", "1", "--base-port", str(port))
    one_line_error(r, str(port))
    one_line_error(syslab("txn", "serve", "--replicas", "2"), "replicas odd")
