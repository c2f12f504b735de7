"""`syslab cdn replay`: a cache trace replayed over HTTP; live hit ratio = simulator's."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from syslab.cache.engine import hits
from syslab.cache.trace import Trace
from syslab.cache.workloads import read_trace
from syslab.cache.workloads.generators import synthetic
from syslab.cache.workloads.readers import write_oracle
from syslab.cdn.node import NodeConfig
from syslab.cdn.origin import Origin
from syslab.cdn.server import BackgroundNode


def syslab(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "syslab", "cdn", *args], capture_output=True, text=True, timeout=120
    )


def test_replay_matches_the_simulator_with_one_client(tmp_path: Path) -> None:
    trace = synthetic(1500, 300, 0.9, seed=3, name="t", size_dist="fixed", size_mean=1000)
    path = tmp_path / "t.oracleGeneral.bin"
    write_oracle(trace, path)
    capacity = 60  # objects: every object stores the same head and 1,000 body bytes
    with Origin() as origin, BackgroundNode(NodeConfig(origin=origin.url)) as node:
        urllib.request.urlopen(node.url + "/gen/0?size=1000").read()
        per_object = node.call(lambda: node.node.store.peek("/gen/0?size=1000").size)
    loaded = read_trace(path)
    with (
        Origin() as origin,
        BackgroundNode(
            NodeConfig(
                origin=origin.url, capacity=capacity * per_object + per_object // 2, policy="lru"
            )
        ) as node,
    ):
        out = tmp_path / "r.json"
        result = syslab(
            "replay",
            str(path),
            "--target",
            node.url,
            "--concurrency",
            "1",
            "--json",
            str(out),
        )
        assert result.returncode == 0, result.stderr
        row = json.loads(out.read_text())
    sim = Trace("t", loaded.keys, None, {})
    simulated, _ = hits(sim, "lru", capacity)
    assert row["requests"] == 1500 and row["errors"] == 0
    assert abs(row["hit_ratio"] - simulated.mean()) < 0.01


def test_replay_without_a_node_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.oracleGeneral.bin"
    write_oracle(synthetic(20, 5, 0.9, seed=1), path)
    result = syslab("replay", str(path), "--target", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert (
        result.stderr.strip().startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    )
    result = syslab("replay", str(path), "--target", "ftp://x")
    assert result.returncode == 2 and "--target" in result.stderr
