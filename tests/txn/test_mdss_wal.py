"""The MDSS write-ahead log on real files: replay, torn and corrupt tails truncated (and
logged), never replayed; a replica rebuilds its state from what survives."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from syslab.txn.mdss.replica import Follower
from syslab.txn.mdss.wal import HEADER, Wal, encode


def records(n: int) -> list[bytes]:
    return [encode({"x": f"c.{i}", "e": [["append", 7, i]]}) for i in range(n)]


def write_log(path: Path, payloads: list[bytes]) -> list[int]:
    """Write a log; the byte offset where each record ends."""
    wal, old = Wal.open(path)
    assert old == []
    ends = []
    for p in payloads:
        wal.append([p])
        ends.append(wal.size)
    wal.sync()
    wal.close()
    return ends


def test_a_log_replays_what_was_appended(tmp_path: Path) -> None:
    path = tmp_path / "r.wal"
    payloads = records(5)
    write_log(path, payloads)
    wal, got = Wal.open(path)
    assert got == payloads
    wal.append(records(7)[5:])  # appends continue after a reopen
    wal.close()
    assert Wal.open(path)[1] == records(7)


@pytest.mark.parametrize("cut", ["header", "payload"])
def test_a_torn_tail_is_truncated_and_not_replayed(tmp_path: Path, cut: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "r.wal"
    payloads = records(4)
    ends = write_log(path, payloads)
    torn_at = ends[2] + (3 if cut == "header" else HEADER.size + 5)
    os.truncate(path, torn_at)
    with caplog.at_level(logging.WARNING, logger="syslab.txn.mdss.wal"):
        wal, got = Wal.open(path)
    assert got == payloads[:3]
    assert path.stat().st_size == ends[2]  # cut back to the last whole record
    assert "torn" in caplog.text and f"at byte {ends[2]}" in caplog.text
    wal.append([payloads[3]])  # and the log goes on from there
    wal.close()
    assert Wal.open(path)[1] == payloads


@pytest.mark.parametrize("where", ["last", "middle"])
def test_a_corrupt_record_ends_the_log(tmp_path: Path, where: str,
                                       caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "r.wal"
    payloads = records(5)
    ends = write_log(path, payloads)
    bad = 4 if where == "last" else 2
    flip = ends[bad - 1] + HEADER.size + 3  # a byte inside record `bad`'s payload
    data = bytearray(path.read_bytes())
    data[flip] ^= 0x40
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="syslab.txn.mdss.wal"):
        wal, got = Wal.open(path)
    wal.close()
    assert got == payloads[:bad]  # never the corrupt one, nor anything after it
    assert path.stat().st_size == ends[bad - 1]
    assert "CRC mismatch" in caplog.text


def test_a_garbage_length_is_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "r.wal"
    payloads = records(2)
    ends = write_log(path, payloads)
    with path.open("ab") as f:
        f.write(HEADER.pack(1 << 31, 0) + b"xx")
    wal, got = Wal.open(path)
    wal.close()
    assert got == payloads and path.stat().st_size == ends[-1]


def test_a_replica_rebuilds_its_state_from_the_surviving_log(tmp_path: Path) -> None:
    path = tmp_path / "shard1-replica2.wal"
    payloads = [encode({"x": "load", "clear": 1, "e": [["w", 1, 5], ["w", 4, [1]]]}),
                encode({"x": "a.0", "e": [["add", 1, 2], ["append", 4, 2]]}),
                encode({"x": "a.1", "e": [["w", 7, 9]]})]
    ends = write_log(path, payloads)
    os.truncate(path, ends[2] - 1)  # the last record is torn

    async def build() -> dict:
        node = Follower(1, 2, 3, tmp_path, 0.0)
        state = node.state()
        node.wal.close()
        return state

    state = asyncio.run(build())
    assert state["kv"] == [[1, 7], [4, [1, 2]]]
    assert state["log_end"] == state["durable"] == 2
