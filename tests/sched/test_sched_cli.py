"""`syslab sched …` as a user meets it: tables, files and plots on good input; one line and
exit code 2, before any simulation, on bad input.

Most runs go through `syslab.cli.main` in this process (what the `syslab` script calls) so
that the suite stays fast; one test runs the real command in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from syslab.common.errors import UserError
from syslab.sched import plots
from syslab.sched.cli import split_paths
from syslab.sched.cluster import builtin_clusters, load_cluster
from syslab.sched.engine import SimConfig, Simulator
from syslab.sched.policies import make_policy, policy_names
from syslab.sched.throughput import ThroughputTable
from syslab.sched.workloads import generate, read_trace, write_trace

A = "A (batch size 32)"
POLICIES = ["fifo", "sjf", "srtf", "las", "las2d", "gittins"]


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    """200 jobs in seconds (no table), arriving fast enough to queue on 64 GPUs."""
    path = tmp_path / "small.csv"
    write_trace(generate(200, seed=1, lam=60.0), path)
    return path


@pytest.fixture
def table_file(tmp_path: Path) -> Path:
    """A one-type Gavel-format throughput table (v100, 1/2/4/8 GPUs)."""
    path = tmp_path / "tput.json"
    rates = {"1": 10.0, "2": 18.0, "4": 30.0, "8": 50.0}
    path.write_text(json.dumps({"v100": {f"('{A}', {g})": {"null": r} for g, r in rates.items()}}))
    return path


@pytest.fixture
def steps_trace(tmp_path: Path, table_file: Path) -> Path:
    path = tmp_path / "steps.csv"
    write_trace(generate(150, seed=2, lam=90.0, table=ThroughputTable.from_json(table_file)), path)
    return path


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ---- good input -----------------------------------------------------------------------------


def test_simulate_prints_every_policy_and_writes_jobs(syslab, trace: Path,
                                                      tmp_path: Path) -> None:
    jobs_out = tmp_path / "jobs.jsonl"
    run = syslab("sched", "simulate", "--trace", trace, "--cluster", "pollux-64",
                 "--policy", ",".join(POLICIES), "--round", "120", "--restart", "10",
                 "--jobs-out", jobs_out)
    assert run.code == 0, run.err
    assert "mean JCT (h)" in run.out and "makespan (h)" in run.out
    rows = [line for line in run.out.splitlines() if line.startswith("│")]
    assert [r.split("│")[1].strip() for r in rows] == POLICIES
    records = [json.loads(line) for line in jobs_out.read_text().splitlines()]
    assert len(records) == 200 * len(POLICIES)
    assert set(records[0]) >= {"id", "arrival", "gpus", "start", "finish", "jct", "rho"}
    assert all(r["finish"] >= r["start"] >= r["arrival"] for r in records)
    assert all(abs(r["jct"] - (r["finish"] - r["arrival"])) < 1e-6 for r in records)


def test_simulate_out_writes_results_and_plots(syslab, trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "sim"
    run = syslab("sched", "simulate", "-t", trace, "-c", "hetero-108", "-p", "fifo,las-het",
                 "--out", out)
    assert run.code == 0, run.err
    summaries = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [s["policy"] for s in summaries] == ["fifo", "las-het"]
    for name in ("jct_cdf", "utilization", "policy_bars", "allocation_fifo", "allocation_las-het"):
        assert (out / f"{name}.png").stat().st_size > 0, name
        assert (out / f"{name}.svg").exists(), name


def test_simulate_load_and_event_mode(syslab, trace: Path) -> None:
    runs = [syslab("sched", "simulate", "-t", trace, "-c", "pollux-64", "-p", "srtf",
                   "--mode", "events", "--load", load) for load in ("1", "3")]
    assert all(r.code == 0 for r in runs), runs
    assert "3× load" in runs[1].out

    def mean_jct(run) -> float:
        row = next(line for line in run.out.splitlines() if line.startswith("│ srtf"))
        return float(row.split("│")[2])

    assert mean_jct(runs[1]) > mean_jct(runs[0])  # three times the arrival rate: longer queues


def test_compare_writes_results_plots_and_html(syslab, trace: Path, steps_trace: Path,
                                               table_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    run = syslab("sched", "compare", "--trace", f"{trace},{steps_trace}", "-c", "pollux-64",
                 "-p", "fifo,las", "--load", "1,2", "--throughputs", table_file,
                 "--round", "300", "--workers", "2", "--timeline-policy", "las", "--out", out)
    assert run.code == 0, run.err
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {(r["trace"], r["load"], r["policy"]) for r in records} == {
        (t, x, p) for t in ("small", "steps") for x in (1.0, 2.0) for p in ("fifo", "las")
    }
    assert all(r["jobs"] == (200 if r["trace"] == "small" else 150) for r in records)
    figures = out / "figures"
    for name in ("jct_cdf", "utilization", "allocation_las", "policy_bars"):
        assert (figures / f"{name}.png").stat().st_size > 0, name
    index = (out / "index.html").read_text()
    assert index.count("<img") == 4 and "<table>" in index and "las" in index


def test_simulate_runs_shockwave_dynamic_jobs_as_their_equivalent_work(syslab,
                                                                        tmp_path: Path) -> None:
    # LM: bigger batches do more samples per second, so a gns job (batch doubling) ends
    # sooner than the same job kept at its first batch size
    rates = {10: 100.0, 20: 70.0, 40: 45.0, 80: 50.0}
    table = write(tmp_path, "lm.json", json.dumps({"v100": {
        f"('LM (batch size {bs})', 1)": {"null": r} for bs, r in rates.items()}}))
    row = "LM (batch size 10)\tpython3 main.py\tlm\t--steps\t1\t134583\t1\t{mode}\t1\t-1\t1418\t0\n"
    jct = {}
    for mode in ("static", "gns"):
        trace = write(tmp_path, f"{mode}.trace", row.format(mode=mode))
        jobs = tmp_path / f"{mode}.jsonl"
        run = syslab("sched", "simulate", "--trace", trace, "--cluster", "tacc-32",
                     "--throughputs", table, "--policy", "fifo", "--jobs-out", jobs)
        assert run.code == 0, run.err
        jct[mode] = json.loads(jobs.read_text().splitlines()[0])["jct"]
    assert jct["static"] == pytest.approx(134583 / 100.0, abs=360)
    assert jct["gns"] < 0.9 * jct["static"]


def test_trace_lists_keep_commas_inside_file_names(tmp_path: Path) -> None:
    odd = write(tmp_path, "120_0,0.5,0.5_x.csv", "x")  # Shockwave's trace names hold commas
    plain = write(tmp_path, "plain.csv", "x")
    assert split_paths([str(odd), f"{plain},{odd}", f"{odd},{plain}"]) == [odd, plain]
    with pytest.raises(UserError, match="nope.csv: trace file not found"):
        split_paths([f"{plain},{tmp_path / 'nope.csv'}"])


@pytest.mark.parametrize("fmt", ["syslab", "gavel"])
def test_generate_round_trips_through_read_trace(syslab, fmt: str, table_file: Path,
                                                 tmp_path: Path) -> None:
    out = tmp_path / f"gen.{fmt}"
    run = syslab("sched", "generate", "--jobs", "120", "--seed", "7", "--lam", "30",
                 "--throughputs", table_file, "--format", fmt, "--out", out)
    assert run.code == 0, run.err
    assert "120 jobs" in run.out
    back = read_trace(out)
    want = generate(120, seed=7, lam=30.0, table=ThroughputTable.from_json(table_file))
    assert back.unit == "steps" and len(back) == 120
    assert [j.gpus for j in back.jobs] == [j.gpus for j in want.jobs]
    assert [j.job_type for j in back.jobs] == [j.job_type for j in want.jobs]
    np.testing.assert_allclose([j.arrival for j in back.jobs], [j.arrival for j in want.jobs])
    # Gavel's format stores whole steps (rounded up); ours is exact.
    np.testing.assert_allclose([j.work for j in back.jobs], [j.work for j in want.jobs],
                               atol=1.0 if fmt == "gavel" else 0)


def test_generate_without_table_writes_durations(syslab, tmp_path: Path) -> None:
    out = tmp_path / "gen.csv"
    assert syslab("sched", "generate", "-n", "50", "--lam", "10", "-o", out).code == 0
    back = read_trace(out)
    assert back.unit == "seconds" and len(back) == 50


def test_clusters_and_policies_list_everything(syslab) -> None:
    run = syslab("sched", "clusters")
    assert run.code == 0, run.err
    for name in builtin_clusters():
        assert name in run.out and str(load_cluster(name).total_gpus) in run.out
    run = syslab("sched", "policies")
    assert run.code == 0, run.err
    for name in policy_names():  # whatever is registered, never a fixed list
        assert name in run.out
        assert make_policy(name).description[:30] in run.out


def test_allocation_timeline_samples_large_traces(tmp_path: Path) -> None:
    data = generate(400, seed=3, lam=20.0)
    cluster = load_cluster("pollux-64")
    result = Simulator(data, cluster, make_policy("las"),
                       SimConfig(round_s=300, record_timeline=True)).run()
    paths = plots.allocation_timeline(result, tmp_path / "alloc", max_jobs=50)
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.exists() for p in paths)
    bare = Simulator(data, cluster, make_policy("las"), SimConfig(round_s=300)).run()
    with pytest.raises(ValueError, match="record_timeline"):
        plots.allocation_timeline(bare, tmp_path / "none")


# ---- bad input: one line, exit code 2 -------------------------------------------------------


def test_unknown_policy(one_line_error, syslab, trace: Path) -> None:
    one_line_error(
        syslab("sched", "simulate", "-t", trace, "-c", "pollux-64", "-p", "fifo,nope"),
        "unknown policy 'nope'", "fifo",
    )


def test_missing_trace_file(one_line_error, syslab, tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    one_line_error(
        syslab("sched", "simulate", "-t", missing, "-c", "pollux-64", "-p", "fifo"),
        str(missing),
    )
    one_line_error(
        syslab("sched", "compare", "-t", missing, "-c", "pollux-64", "-p", "fifo",
               "--out", tmp_path / "o"),
        str(missing), "not found",
    )


def test_malformed_trace_row(one_line_error, syslab, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.csv", "arrival,gpus,work,unit\n0,1,100,seconds\n5,two,100,seconds\n")
    one_line_error(
        syslab("sched", "simulate", "-t", bad, "-c", "pollux-64", "-p", "fifo"),
        f"{bad}:3", "gpus",
    )


@pytest.mark.parametrize(("text", "needle"), [
    ("servers: [ {gpu: v100, count: 2\n", "not valid YAML"),
    ("servers:\n  - {gpu: v100, count: 0, gpus_per_server: 4}\n", "'count' must be a positive"),
    ("servers:\n  - {gpu: v100, cnt: 2, gpus_per_server: 4}\n", "unknown field(s) cnt"),
])
def test_bad_cluster_file(one_line_error, syslab, trace: Path, tmp_path: Path, text: str,
                          needle: str) -> None:
    spec = write(tmp_path, "cluster.yaml", text)
    one_line_error(
        syslab("sched", "simulate", "-t", trace, "-c", spec, "-p", "fifo"), str(spec), needle
    )


def test_unknown_cluster_name(one_line_error, syslab, trace: Path) -> None:
    one_line_error(
        syslab("sched", "simulate", "-t", trace, "-c", "no-such-cluster", "-p", "fifo"),
        "no-such-cluster", "pollux-64",
    )


def test_job_larger_than_cluster(one_line_error, syslab, trace: Path, tmp_path: Path) -> None:
    spec = write(tmp_path, "tiny.yaml", "servers:\n  - {gpu: v100, count: 1, gpus_per_server: 2}\n")
    one_line_error(
        syslab("sched", "simulate", "-t", trace, "-c", spec, "-p", "fifo"),
        "asks for", "GPUs",
    )


@pytest.mark.parametrize(("flags", "needle"), [
    (["--round", "-120"], "round length must be positive"),
    (["--round", "nan"], "round length must be positive"),
    (["--restart", "-1"], "restart overhead"),
    (["--round", "abc"], "--round"),
    (["--placement", "best-fit"], "unknown placement 'best-fit'"),
    (["--mode", "continuous"], "unknown mode 'continuous'"),
    (["--load", "0"], "load factor must be a positive"),
    (["--contention", "dynamic"], "unknown contention 'dynamic'"),
    (["--format", "csv"], "unknown trace format 'csv'"),
    (["--vc", "6214e9"], "Philly traces only"),
    (["--throughputs", "/no/such/tput.json"], "/no/such/tput.json"),
])
def test_bad_engine_flags(one_line_error, syslab, trace: Path, flags: list[str],
                          needle: str) -> None:
    one_line_error(
        syslab("sched", "simulate", "-t", trace, "-c", "pollux-64", "-p", "fifo", *flags), needle
    )


@pytest.mark.parametrize(("flags", "needle"), [
    (["--load", "1,-2"], "load factor must be a positive"),
    (["--workers", "0"], "--workers must be at least 1"),
    (["--timeline-policy", "las"], "not among the compared policies"),
    (["--round", "0"], "round length must be positive"),
])
def test_bad_compare_flags(one_line_error, syslab, trace: Path, tmp_path: Path, flags: list[str],
                           needle: str) -> None:
    out = tmp_path / "cmp"
    one_line_error(
        syslab("sched", "compare", "-t", trace, "-c", "pollux-64", "-p", "fifo", "--out", out,
               *flags),
        needle,
    )
    assert not out.exists()  # nothing ran, nothing written


def test_steps_trace_without_throughputs(one_line_error, syslab, steps_trace: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setenv("SYSLAB_DATA", str(empty))  # no Gavel table to fall back on
    one_line_error(
        syslab("sched", "simulate", "-t", steps_trace, "-c", "pollux-64", "-p", "fifo"),
        "steps", "--throughputs",
    )


def test_steps_trace_with_throughputs_runs(syslab, steps_trace: Path, table_file: Path) -> None:
    run = syslab("sched", "simulate", "-t", steps_trace, "-c", "pollux-64", "-p", "fifo,las",
                 "--throughputs", table_file)
    assert run.code == 0, run.err
    assert "150 jobs (steps)" in run.out


@pytest.mark.parametrize(("flags", "needle"), [
    (["--jobs", "0", "--lam", "10"], "number of jobs"),
    (["--jobs", "10", "--lam", "-5"], "inter-arrival"),
    (["--jobs", "10", "--lam", "10", "--format", "gavel"], "--throughputs"),
    (["--jobs", "10", "--lam", "10", "--format", "tsv"], "unknown output format 'tsv'"),
    (["--jobs", "10", "--lam", "10", "--distribution", "zipf"], "unknown job distribution"),
])
def test_bad_generate_flags(one_line_error, syslab, tmp_path: Path, flags: list[str],
                            needle: str) -> None:
    out = tmp_path / "gen.csv"
    one_line_error(syslab("sched", "generate", *flags, "--out", out), needle)
    assert not out.exists()


def test_real_command_reports_one_line(trace: Path) -> None:
    """The installed entry point, end to end: a bad policy is one line on stderr, exit 2."""
    result = subprocess.run(
        [sys.executable, "-m", "syslab", "sched", "simulate", "-t", str(trace),
         "-c", "pollux-64", "-p", "srtf,bogus"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "unknown policy 'bogus'" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
