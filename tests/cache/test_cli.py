"""The command line as a user meets it: results on good input, one line and exit 2 on bad."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


def syslab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "syslab", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def txt_trace(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "small.txt"
    path.write_text("\n".join(str(k) for k in rng.zipf(1.3, 5000) % 500) + "\n")
    return path


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_sim_prints_results_and_appends_json(txt_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    result = syslab(
        "cache",
        "sim",
        "-t",
        str(txt_trace),
        "-p",
        "lru,fifo,arc",
        "-s",
        "0.1,50",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "arc" in result.stdout and "fifo" in result.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(r["policy"], r["size"]) for r in records} == {
        (p, s) for p in ("lru", "fifo", "arc") for s in ("0.1", "50")
    }
    assert all(0 <= r["miss_ratio"] <= 1 for r in records)


def test_compare_writes_results_and_plots(txt_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = syslab(
        "cache",
        "compare",
        "-t",
        str(txt_trace),
        "-p",
        "lru,sieve,belady",
        "-s",
        "0.05,0.2",
        "--workers",
        "1",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert (out / "miss_ratio_curves.png").stat().st_size > 0
    assert (out / "miss_ratio_vs_lru.png").exists()
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 6
    belady = {r["size"]: r["misses"] for r in records if r["policy"] == "belady"}
    for r in records:
        assert belady[r["size"]] <= r["misses"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-p", "nosuch"], "unknown policy"),
        (["-s", "0"], "positive"),
        (["-s", "-5"], "size"),
        (["-s", "abc"], "bad cache size"),
        (["-s", "1.5"], "fraction"),
        (["--impl", "turbo"], "--impl"),
        (["--bogus-flag"], "bogus"),
    ],
)
def test_bad_flags(txt_trace: Path, args: list[str], needle: str) -> None:
    assert_one_line_error(syslab("cache", "sim", "-t", str(txt_trace), *args), needle)


def test_bad_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert_one_line_error(syslab("cache", "sim", "-t", str(empty)), "empty.txt")
    assert_one_line_error(syslab("cache", "sim", "-t", str(tmp_path / "nope.txt")), "nope.txt")
    truncated = tmp_path / "t.oracleGeneral.bin"
    truncated.write_bytes(b"\0" * 30)
    assert_one_line_error(syslab("cache", "sim", "-t", str(truncated)), "t.oracleGeneral.bin")
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,2\n")
    assert_one_line_error(syslab("cache", "sim", "-t", str(csv), "-f", "csv"), "t.csv")


def test_bytes_needs_sizes(txt_trace: Path) -> None:
    assert_one_line_error(syslab("cache", "sim", "-t", str(txt_trace), "--bytes"), "sizes")


def test_help_and_data() -> None:
    assert syslab("--help").returncode == 0
    result = syslab("data")
    assert result.returncode == 0 and "data root" in result.stdout


def test_analyze_and_mrc(txt_trace: Path, tmp_path: Path) -> None:
    result = syslab("cache", "analyze", "-t", str(txt_trace))
    assert result.returncode == 0, result.stderr
    assert "one_hit_objects" in result.stdout and "reuse distance" in result.stdout
    plot = tmp_path / "mrc.png"
    result = syslab("cache", "mrc", "-t", str(txt_trace), "-s", "10,100", "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert plot.stat().st_size > 0
    # the exact MRC is LRU's miss ratio at each size
    records = tmp_path / "lru.jsonl"
    syslab("cache", "sim", "-t", str(txt_trace), "-p", "lru", "-s", "100", "--json", str(records))
    lru = json.loads(records.read_text())["miss_ratio"]
    mrc_line = next(line for line in result.stdout.splitlines() if " 100 " in line)
    assert mrc_line.split()[-2] == f"{lru:.4f}"


def test_mrc_bad_shards_rate(txt_trace: Path) -> None:
    assert_one_line_error(syslab("cache", "mrc", "-t", str(txt_trace), "--shards", "2"), "shards")


def test_generate_then_sim_with_sampling_and_bytes(tmp_path: Path) -> None:
    trace = tmp_path / "g.oracleGeneral.bin"
    result = syslab(
        "cache",
        "generate",
        "-o",
        str(trace),
        "--requests",
        "20000",
        "--objects",
        "2000",
        "--sizes",
        "lognormal",
        "--seed",
        "3",
    )
    assert result.returncode == 0, result.stderr
    assert trace.stat().st_size == 20000 * 24
    out = tmp_path / "r.jsonl"
    result = syslab(
        "cache",
        "sim",
        "-t",
        str(trace),
        "-p",
        "lru,gdsf",
        "-s",
        "0.1",
        "--bytes",
        "--sample",
        "0.5",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["unit"] == "bytes" and r["requests"] < 20000 for r in records)
    assert_one_line_error(syslab("cache", "generate", "-o", str(trace), "--alpha", "-1"), "alpha")


def test_csv_column_mapping(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("when,obj,bytes\n" + "".join(f"{i},{i % 7},{100 + i % 7}\n" for i in range(200)))
    out = tmp_path / "r.jsonl"
    result = syslab(
        "cache",
        "sim",
        "-t",
        str(csv),
        "--key-column",
        "obj",
        "--size-column",
        "2",
        "-p",
        "lru",
        "-s",
        "3",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(out.read_text())
    assert record["misses"] == 200 and record["bytes_requested"] == sum(
        100 + i % 7 for i in range(200)
    )
    assert_one_line_error(syslab("cache", "sim", "-t", str(csv), "--key-column", "nope"), "nope")
