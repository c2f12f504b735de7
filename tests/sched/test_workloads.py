"""Trace readers, writer, generator and helpers of syslab.sched.workloads."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from syslab.common.data import lab_data
from syslab.common.errors import UserError
from syslab.sched.jobs import Job, Trace
from syslab.sched.throughput import ThroughputTable
from syslab.sched.workloads import (
    TRACE_FORMATS,
    assign_job_types,
    check_throughputs,
    detect_format,
    generate,
    read_gavel,
    read_philly,
    read_pollux,
    read_shockwave,
    read_syslab,
    read_tiresias,
    read_trace,
    with_load,
    write_trace,
)

A, B, C = "A (batch size 32)", "B", "C (batch size 64)"


@pytest.fixture
def table() -> ThroughputTable:
    # A runs at 1/2/4/8 GPUs, B only on 1 (its 2-GPU entry is 0: does not fit), C at 1/2/4.
    v100 = {(A, 1): 10.0, (A, 2): 18.0, (A, 4): 30.0, (A, 8): 50.0,
            (B, 1): 2.0, (B, 2): 0.0,
            (C, 1): 5.0, (C, 2): 9.0, (C, 4): 16.0}
    k80 = {(A, 1): 3.0, (C, 1): 1.0}
    return ThroughputTable({("v100", True): v100, ("k80", True): k80}, name="toy")


def at(path: Path, rest: str) -> str:
    """A `match` pattern: the message starts with the file's name, then `rest` (a regex)."""
    return "^" + re.escape(str(path)) + rest


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


PHILLY = """timestamp,duration,num_gpus,gpu_time,cluster
2017-10-09 07:01:55,66.0,1,66.0,11cb48
2017-10-09 06:13:03,2951.0,4,11804.0,6214e9
2017-10-10 06:13:03,0.0,1,0.0,6214e9
2017-10-09 06:13:04,10.0,2,20.0,11cb48
"""

GAVEL7 = (
    "Transformer (batch size 128)\tcd x && python3 train.py\t-step\t1\t95121\t0.000000\t1\n"
    "A3C\tcd y && python3 main.py\t--max-steps\t0\t1000\t6.500000\t2\n"
)

GAVEL10 = (
    "ResNet-50 (batch size 64)\tpython3 main.py\timagenet\t--num_minibatches\t1\t2931\t1\t1\t"
    "-1.000000\t0\n"
    "LM (batch size 10)\tpython main.py\tlm\t--steps\t1\t8601\t4\t2.5\t-1.000000\t30\n"
)

SHOCKWAVE = (
    "LM (batch size 10)\tpython3 main.py\tlm\t--steps\t1\t134583\t1\tgns\t1\t-1.000000\t1418\t0\n"
    "ResNet-18 (batch size 32)\tpython3 main.py\tc10\t--num_steps\t1\t143450\t2\taccordion\t1\t"
    "-1.000000\t3338\t55\n"
)

POLLUX = """name,time,application,num_replicas,batch_size
cifar10-0,107,cifar10,6,2048
bert-1,110,bert,1,32
"""

TIRESIAS = """job_id,num_gpu,submit_time,iterations,model_name,duration,interval
0,1,0,606,vgg19,164,30
1,8,30,133,vgg11,147,23
"""

SYSLAB = """arrival,gpus,work,unit,job_type,batch_size,duration,weight,mode
0,1,100,steps,A (batch size 32),32,10,1,static
5.5,2,180.5,steps,C (batch size 64),,,2,gns
"""


# --------------------------------------------------------------------------- formats


def test_trace_formats_named() -> None:
    assert TRACE_FORMATS == ("syslab", "philly", "gavel", "shockwave", "pollux", "tiresias")


def test_philly_arrivals_relative_and_zero_duration_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", PHILLY)
    trace = read_philly(path)
    assert trace.unit == "seconds"
    assert trace.skipped == {"zero duration": 1}
    assert [(j.arrival, j.gpus, j.work) for j in trace.jobs] == [
        (0.0, 4, 2951.0), (1.0, 2, 10.0), (48 * 60 + 52, 1, 66.0)]
    assert [j.id for j in trace.jobs] == [0, 1, 2]
    assert trace.jobs[0].duration == 2951.0
    assert trace.jobs[0].source == f"{path}:3"
    assert detect_format(path) == "philly"


def test_philly_vc_filter(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", PHILLY)
    trace = read_trace(path, vc="11cb48")
    # Rebased to the VC's own first job.
    assert [(j.arrival, j.work) for j in trace.jobs] == [(0.0, 10.0), (48 * 60 + 51, 66.0)]
    assert trace.name == "p-11cb48"
    with pytest.raises(UserError, match=r"no jobs in VC 'nope' \(VCs: 11cb48, 6214e9\)"):
        read_philly(path, vc="nope")
    with pytest.raises(UserError, match="Philly traces only"):
        read_trace(write(tmp_path, "t.csv", TIRESIAS), vc="11cb48")


def test_gavel_old_seven_field_layout(tmp_path: Path) -> None:
    path = write(tmp_path, "old.trace", GAVEL7)
    assert detect_format(path) == "gavel"
    trace = read_trace(path)
    assert trace.unit == "steps"
    t, a = trace.jobs
    assert (t.job_type, t.batch_size, t.work, t.arrival, t.gpus) == (
        "Transformer (batch size 128)", 128, 95121.0, 0.0, 1)
    assert (a.job_type, a.batch_size, a.work, a.arrival, a.gpus) == ("A3C", None, 1000.0, 6.5, 2)
    assert a.source == f"{path}:2"


def test_gavel_ten_field_layout(tmp_path: Path) -> None:
    path = write(tmp_path, "new.trace", GAVEL10)
    trace = read_gavel(path)
    r, lm = trace.jobs
    assert (r.job_type, r.batch_size, r.work, r.gpus, r.weight, r.arrival) == (
        "ResNet-50 (batch size 64)", 64, 2931.0, 1, 1.0, 0.0)
    assert (lm.batch_size, lm.work, lm.gpus, lm.weight, lm.arrival) == (10, 8601.0, 4, 2.5, 30.0)


def test_shockwave(tmp_path: Path) -> None:
    path = write(tmp_path, "s.trace", SHOCKWAVE)
    assert detect_format(path) == "shockwave"
    lm, rn = read_shockwave(path).jobs
    assert (lm.mode, lm.duration, lm.work, lm.arrival, lm.gpus) == ("gns", 1418.0, 134583.0, 0, 1)
    assert (rn.mode, rn.duration, rn.batch_size, rn.arrival, rn.gpus) == (
        "accordion", 3338.0, 32, 55.0, 2)


def test_pollux_needs_a_duration_source(tmp_path: Path) -> None:
    path = write(tmp_path, "w.csv", POLLUX)
    assert detect_format(path) == "pollux"
    with pytest.raises(UserError, match="carry no durations"):
        read_trace(path)
    trace = read_trace(path, durations=lambda app, gpus: 100.0 * gpus)
    c, b = sorted(trace.jobs, key=lambda j: j.job_type)[::-1]
    assert (c.job_type, c.gpus, c.batch_size, c.work, c.arrival) == ("cifar10", 6, 2048, 600.0, 107)
    assert (b.job_type, b.gpus, b.batch_size, b.work, b.duration) == ("bert", 1, 32, 100.0, 100.0)
    assert trace.unit == "seconds"


def test_pollux_mapping_sources(tmp_path: Path) -> None:
    path = write(tmp_path, "w.csv", POLLUX)
    by_app = read_pollux(path, {"cifar10": 50.0, "bert": 70.0})
    assert [j.work for j in by_app.jobs] == [50.0, 70.0]
    # The (application, GPUs) key wins over the application alone.
    by_pair = read_pollux(path, {("cifar10", 6): 30.0, "cifar10": 1.0, "bert": 70.0})
    assert [j.work for j in by_pair.jobs] == [30.0, 70.0]
    with pytest.raises(UserError, match=at(path, r":3: the duration source has no entry")):
        read_pollux(path, {"cifar10": 1.0})
    with pytest.raises(UserError, match=at(path, r":2: the duration source gave -1")):
        read_pollux(path, lambda app, gpus: -1)


def test_tiresias(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", TIRESIAS)
    assert detect_format(path) == "tiresias"
    trace = read_tiresias(path)
    assert trace.unit == "seconds"
    assert [(j.job_type, j.gpus, j.arrival, j.work) for j in trace.jobs] == [
        ("vgg19", 1, 0.0, 164.0), ("vgg11", 8, 30.0, 147.0)]


def test_syslab_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "ours.csv", SYSLAB)
    assert detect_format(path) == "syslab"
    a, c = read_syslab(path).jobs
    assert (a.job_type, a.batch_size, a.duration, a.weight, a.mode, a.work) == (
        A, 32, 10.0, 1.0, "static", 100.0)
    assert (c.arrival, c.gpus, c.work, c.batch_size, c.duration, c.weight, c.mode) == (
        5.5, 2, 180.5, None, None, 2.0, "gns")


def test_syslab_round_trip(tmp_path: Path, table: ThroughputTable) -> None:
    trace = generate(200, seed=3, lam=17.5, table=table)
    trace.jobs[5].weight = 0.25
    trace.jobs[6].mode = "accordion"
    out = tmp_path / "g.csv"
    write_trace(trace, out)
    back = read_trace(out)
    assert back.unit == "steps"
    fields = ("arrival", "gpus", "work", "job_type", "batch_size", "duration", "weight", "mode")
    for j, k in zip(trace.jobs, back.jobs, strict=True):
        assert [getattr(j, f) for f in fields] == [getattr(k, f) for f in fields]  # exact floats
    seconds = generate(50, seed=3, lam=5.0)
    write_trace(seconds, out)
    again = read_trace(out)
    assert again.unit == "seconds"
    assert [j.work for j in again.jobs] == [j.work for j in seconds.jobs]


@pytest.mark.parametrize("text", [GAVEL10, GAVEL7], ids=["10-field", "7-field"])
def test_gavel_round_trip(tmp_path: Path, text: str) -> None:
    src = read_trace(write(tmp_path, "in.trace", text))
    out = tmp_path / "out.trace"
    write_trace(src, out, fmt="gavel")
    assert detect_format(out) == "gavel"
    assert all(len(line.split("\t")) == 10 for line in out.read_text().splitlines())
    back = read_trace(out)
    fields = ("arrival", "gpus", "work", "job_type", "batch_size", "weight")
    for j, k in zip(src.jobs, back.jobs, strict=True):
        assert [getattr(j, f) for f in fields] == [getattr(k, f) for f in fields]


def test_gavel_writer_rounds_steps_up_and_refuses_seconds(tmp_path: Path) -> None:
    trace = Trace("t", [Job(0, 1.25, 1, 10.2, job_type=A)])
    out = tmp_path / "x.trace"
    write_trace(trace, out, fmt="gavel")
    job = read_gavel(out).jobs[0]
    assert (job.work, job.arrival) == (11.0, 1.25)  # Gavel's parser wants integer steps
    with pytest.raises(UserError, match="Gavel traces count steps"):
        write_trace(Trace("s", [Job(0, 0, 1, 5.0)], unit="seconds"), out, fmt="gavel")
    with pytest.raises(UserError, match="cannot write trace format 'xml'"):
        write_trace(trace, out, fmt="xml")
    with pytest.raises(UserError, match="cannot write trace"):
        write_trace(trace, tmp_path / "no" / "such" / "dir.csv")


def test_read_trace_explicit_format(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", TIRESIAS)
    assert len(read_trace(path, fmt="tiresias")) == 2
    with pytest.raises(UserError, match="not a philly CSV: missing column"):
        read_trace(path, fmt="philly")
    with pytest.raises(UserError, match="unknown trace format 'json'"):
        read_trace(path, fmt="json")


def test_unknown_format_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "mystery.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(UserError, match=at(path, r": unknown trace format \(first line 'a,b,c'\)")):
        read_trace(path)
    tsv = write(tmp_path, "five.trace", "a\tb\tc\td\te\n")
    with pytest.raises(UserError, match=at(tsv, r": unknown trace format")):
        read_trace(tsv)


def test_blank_lines_and_crlf_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "\n" + TIRESIAS.replace("\n", "\r\n") + "\r\n\r\n")
    trace = read_trace(path)
    assert len(trace) == 2
    assert trace.jobs[1].source == f"{path}:4"


# --------------------------------------------------------------------------- bad input

BAD_CASES = [
    # (name, content, line, message fragment)
    ("empty", "", 1, "empty file"),
    ("blank", "\n  \n", 1, "empty file"),
    ("header only", "timestamp,duration,num_gpus,gpu_time,cluster\n", 1, "header only"),
    ("philly missing field", PHILLY + "2017-10-09 07:01:55,66.0,1,66.0\n", 6,
     "expected 5 fields"),
    ("philly bad number", PHILLY + "2017-10-09 07:01:55,abc,1,66.0,x\n", 6,
     "duration is not a number: 'abc'"),
    ("philly negative duration", PHILLY + "2017-10-09 07:01:55,-5,1,66.0,x\n", 6,
     "duration must not be negative"),
    ("philly nan", PHILLY + "2017-10-09 07:01:55,nan,1,66.0,x\n", 6, "must be finite"),
    ("philly zero gpus", PHILLY + "2017-10-09 07:01:55,5,0,66.0,x\n", 6,
     "num_gpus must be a positive integer, got '0'"),
    ("philly negative gpus", PHILLY + "2017-10-09 07:01:55,5,-2,66.0,x\n", 6,
     "num_gpus must be a positive integer, got '-2'"),
    ("philly fractional gpus", PHILLY + "2017-10-09 07:01:55,5,1.5,66.0,x\n", 6,
     "num_gpus must be a positive integer"),
    ("philly bad time", PHILLY + "yesterday,5,1,66.0,x\n", 6, "timestamp is not a date"),
    ("gavel missing field", GAVEL10 + "LM\tx\ty\t--steps\t1\t8601\t4\t2.5\t-1\n", 3,
     "expected 10 tab-separated fields like line 1, got 9"),
    ("gavel negative steps", GAVEL7 + "A3C\tx\t--s\t0\t-10\t6.0\t2\n", 3,
     "total_steps must not be negative"),
    ("gavel steps text", GAVEL7 + "A3C\tx\t--s\t0\tmany\t6.0\t2\n", 3,
     "total_steps is not a number: 'many'"),
    ("gavel zero gpus", GAVEL7 + "A3C\tx\t--s\t0\t10\t6.0\t0\n", 3,
     "scale_factor must be a positive integer"),
    ("gavel empty job type", GAVEL7 + "\tx\t--s\t0\t10\t6.0\t1\n", 3, "empty job type"),
    ("gavel bad weight", GAVEL10 + "LM\tx\ty\t--steps\t1\t8601\t4\theavy\t-1\t3\n", 3,
     "priority weight is not a number"),
    ("gavel bad slo", GAVEL10 + "LM\tx\ty\t--steps\t1\t8601\t4\t1\tsoon\t3\n", 3,
     "SLO is not a number"),
    ("shockwave bad mode", SHOCKWAVE + "LM\tx\ty\t--s\t1\t10\t1\tfast\t1\t-1\t10\t3\n", 3,
     "mode must be one of static, accordion, gns"),
    ("shockwave negative duration", SHOCKWAVE + "LM\tx\ty\t--s\t1\t10\t1\tgns\t1\t-1\t-10\t3\n",
     3, "duration must not be negative"),
    ("tiresias missing field", TIRESIAS + "2,1,40,10,vgg16\n", 4, "expected 7 fields"),
    ("tiresias negative duration", TIRESIAS + "2,1,40,10,vgg16,-1,3\n", 4,
     "duration must not be negative"),
    ("tiresias negative arrival", TIRESIAS + "2,1,-40,10,vgg16,1,3\n", 4,
     "submit_time must not be negative"),
    ("syslab bad unit", SYSLAB + "1,1,1,hours,A,,,1,static\n", 4, "unit must be steps or seconds"),
    ("syslab mixed units", SYSLAB + "1,1,1,seconds,A,,,1,static\n", 4, "differs from the first"),
    ("syslab steps without type", SYSLAB + "1,1,1,steps,,,,1,static\n", 4, "needs a job_type"),
    ("syslab zero weight", SYSLAB + "1,1,1,steps,A,,,0,static\n", 4, "weight must be positive"),
    ("syslab bad batch", SYSLAB + "1,1,1,steps,A,big,,1,static\n", 4, "batch_size is not a number"),
    ("syslab unclosed quote", SYSLAB + '1,1,1,steps,"A\n', 4, "expected 9 fields"),
]


@pytest.mark.parametrize(("content", "line", "message"),
                         [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_input_is_one_line_user_error(tmp_path: Path, content: str, line: int,
                                          message: str) -> None:
    path = write(tmp_path, "bad.trace", content)
    with pytest.raises(UserError) as err:
        read_trace(path)
    text = str(err.value)
    assert text.startswith(f"{path}:{line}: "), text
    assert message in text
    assert "\n" not in text


def test_pollux_bad_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "w.csv", POLLUX + "x-2,5,ncf,0,32\n")
    with pytest.raises(UserError, match=at(path, r":4: num_replicas must be a positive integer")):
        read_pollux(path, {"cifar10": 1, "bert": 1, "ncf": 1})


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    with pytest.raises(UserError, match=at(missing, r": cannot read trace \(No such file")):
        read_trace(missing)
    with pytest.raises(UserError, match=at(tmp_path, r": cannot read trace")):
        read_trace(tmp_path)  # a directory
    garbage = write(tmp_path, "garbage.bin", b"timestamp,duration\n\x00\x01\x02\xff\xfe")
    with pytest.raises(UserError, match=at(garbage, r":2: binary data")):
        read_trace(garbage)
    latin = write(tmp_path, "latin.csv", b"job_id,num_gpu\n\xe9t\xe9\n")
    with pytest.raises(UserError, match=at(latin, r":2: not UTF-8 text")):
        read_trace(latin)
    noise = write(tmp_path, "noise.dat", bytes(np.random.default_rng(0).integers(0, 256, 4096,
                                                                                 dtype=np.uint8)))
    with pytest.raises(UserError, match=at(noise, r":\d+: (binary data|not UTF-8)")):
        read_trace(noise)


def test_every_job_names_its_line(tmp_path: Path) -> None:
    for name, text in [("p.csv", PHILLY), ("g.trace", GAVEL10), ("s.trace", SHOCKWAVE),
                       ("t.csv", TIRESIAS), ("o.csv", SYSLAB)]:
        path = write(tmp_path, name, text)
        lines = sorted(int(j.source.rsplit(":", 1)[1]) for j in read_trace(path).jobs)
        assert all(j.source.startswith(f"{path}:") for j in read_trace(path).jobs)
        first = 2 if name.endswith(".csv") else 1
        assert lines[0] == first, name


# --------------------------------------------------------------------------- generator


def test_generate_is_deterministic() -> None:
    a, b = generate(300, seed=7, lam=30.0), generate(300, seed=7, lam=30.0)
    assert [(j.arrival, j.gpus, j.work) for j in a.jobs] == [(j.arrival, j.gpus, j.work)
                                                             for j in b.jobs]
    c = generate(300, seed=8, lam=30.0)
    assert [j.work for j in a.jobs] != [j.work for j in c.jobs]


def test_generate_gavel_distribution() -> None:
    n = 5000
    trace = generate(n, seed=0, lam=60.0)
    assert trace.unit == "seconds" and len(trace) == n
    gpus = Counter(j.gpus for j in trace.jobs)
    assert set(gpus) == {1, 2, 4, 8}
    for sf, p in zip((1, 2, 4, 8), (0.70, 0.10, 0.15, 0.05), strict=True):
        assert abs(gpus[sf] / n - p) < 0.025, (sf, gpus[sf])
    durations = np.array([j.duration for j in trace.jobs])
    assert durations.min() >= 60 * 10**1.5 and durations.max() <= 60 * 10**4
    assert abs((durations < 60 * 10**3).mean() - 0.8) < 0.025
    assert [j.work for j in trace.jobs] == list(durations)
    arrivals = np.array([j.arrival for j in trace.jobs])
    assert arrivals[0] == 0.0 and np.all(np.diff(arrivals) >= 0)
    assert abs(arrivals[-1] / (n - 1) - 60.0) < 3.0  # mean inter-arrival = lam


def test_generate_gavel_single_keeps_durations_and_uses_one_gpu() -> None:
    multi = generate(500, seed=3, lam=60.0)
    single = generate(500, seed=3, lam=60.0, distribution="gavel-single")
    assert {j.gpus for j in single.jobs} == {1}
    assert [j.duration for j in single.jobs] == [j.duration for j in multi.jobs]
    assert [j.arrival for j in single.jobs] == [j.arrival for j in multi.jobs]


def test_generate_with_table(table: ThroughputTable) -> None:
    trace = generate(2000, seed=1, lam=10.0, table=table)
    assert trace.unit == "steps"
    types_by_gpus: dict[int, set[str]] = {}
    for j in trace.jobs:
        rate = table.rate(j.job_type, "v100", j.gpus)
        assert rate > 0
        assert j.work == pytest.approx(j.duration * rate)
        types_by_gpus.setdefault(j.gpus, set()).add(j.job_type)
    assert types_by_gpus == {1: {A, B, C}, 2: {A, C}, 4: {A, C}, 8: {A}}
    assert {j.batch_size for j in trace.jobs if j.job_type == C} == {64}
    ones = Counter(j.job_type for j in trace.jobs if j.gpus == 1)
    assert min(ones.values()) > 0.25 * sum(ones.values())  # uniform over three types


def test_generate_rejects_bad_arguments(table: ThroughputTable) -> None:
    with pytest.raises(UserError, match="positive integer"):
        generate(0, seed=0, lam=1.0)
    with pytest.raises(UserError, match="inter-arrival"):
        generate(5, seed=0, lam=-1.0)
    with pytest.raises(UserError, match="unknown job distribution"):
        generate(5, seed=0, lam=1.0, distribution="alibaba")
    with pytest.raises(UserError, match="reference GPU 'h100'"):
        generate(5, seed=0, lam=1.0, table=table, reference_gpu="h100")
    batch = generate(5, seed=0, lam=0.0)
    assert {j.arrival for j in batch.jobs} == {0.0}


def test_generate_philly_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYSLAB_DATA", str(tmp_path / "none"))
    with pytest.raises(UserError, match="philly_job_distribution.json"):
        generate(10, seed=0, lam=1.0, distribution="philly")
    gavel = tmp_path / "data" / "sched" / "gavel"
    gavel.mkdir(parents=True)
    samples = [[100.0, 1], [2000.0, 4], [30000.0, 8]]
    (gavel / "philly_job_distribution.json").write_text(json.dumps(samples))
    monkeypatch.setenv("SYSLAB_DATA", str(tmp_path / "data"))
    trace = generate(600, seed=2, lam=5.0, distribution="philly")
    pairs = Counter((j.duration, j.gpus) for j in trace.jobs)
    assert set(pairs) == {(100.0, 1), (2000.0, 4), (30000.0, 8)}
    assert min(pairs.values()) > 150
    (gavel / "philly_job_distribution.json").write_text('{"not": "a list"}')
    with pytest.raises(UserError, match="expected a JSON list"):
        generate(10, seed=0, lam=1.0, distribution="philly")


# --------------------------------------------------------------------------- helpers


def _seconds_trace(gpus: list[int]) -> Trace:
    return Trace("d", [Job(i, float(i), g, 100.0 + i, duration=100.0 + i, source=f"d.csv:{i + 2}")
                       for i, g in enumerate(gpus)], unit="seconds")


def test_assign_job_types_keeps_reference_run_time(table: ThroughputTable) -> None:
    src = _seconds_trace([1, 2, 4, 8, 16, 3] * 50)
    out = assign_job_types(src, table, seed=4)
    assert out.unit == "steps" and src.unit == "seconds"  # the input is left alone
    assert all(j.job_type == "" for j in src.jobs)
    seen: dict[int, set[str]] = {}
    for before, after in zip(src.jobs, out.jobs, strict=True):
        rate = table.rate(after.job_type, "v100", after.gpus)
        assert rate > 0
        assert after.work / rate == pytest.approx(before.duration, rel=1e-12)
        assert after.duration == before.duration and after.source == before.source
        seen.setdefault(after.gpus, set()).add(after.job_type)
    # 16 GPUs: the types measured at the table's largest count, rate extrapolated;
    # 3 GPUs: the types measured at 2, rate interpolated.
    assert seen == {1: {A, B, C}, 2: {A, C}, 4: {A, C}, 8: {A}, 16: {A}, 3: {A, C}}
    sixteen = next(j for j in out.jobs if j.gpus == 16)
    assert sixteen.work == pytest.approx(sixteen.duration * 100.0)  # 50 steps/s × 16/8
    again = assign_job_types(src, table, seed=4)
    assert [j.job_type for j in again.jobs] == [j.job_type for j in out.jobs]


def test_assign_job_types_rejects(table: ThroughputTable) -> None:
    with pytest.raises(UserError, match="needs a duration trace"):
        assign_job_types(Trace("s", [Job(0, 0, 1, 5.0, job_type=A)]), table)
    with pytest.raises(UserError, match="reference GPU 'p100'"):
        assign_job_types(_seconds_trace([1]), table, reference_gpu="p100")


def test_with_load(table: ThroughputTable) -> None:
    trace = generate(100, seed=0, lam=20.0, table=table)
    twice = with_load(trace, 2)
    assert [j.arrival for j in twice.jobs] == [j.arrival / 2 for j in trace.jobs]
    assert [j.work for j in twice.jobs] == [j.work for j in trace.jobs]
    assert trace.jobs[-1].arrival > twice.jobs[-1].arrival > 0  # original untouched
    assert twice.unit == "steps"
    for bad in (0, -1.0, math.inf, math.nan):
        with pytest.raises(UserError, match="load factor"):
            with_load(trace, bad)


def test_check_throughputs(tmp_path: Path, table: ThroughputTable) -> None:
    path = write(tmp_path, "o.csv", SYSLAB + f"9,2,5,steps,{B},,,1,static\n")
    trace = read_trace(path)
    check_throughputs(Trace("ok", trace.jobs[:2]), table, ["v100"])
    with pytest.raises(UserError) as err:
        check_throughputs(trace, table, ["k80", "v100"])
    assert str(err.value) == (
        f"{path}:4: job type 'B' with 2 GPUs has no throughput entry for k80, v100")
    with pytest.raises(UserError, match="job type 'C \\(batch size 64\\)' with 2 GPUs"):
        # A GPU type the table lacks runs nothing.
        check_throughputs(Trace("x", [Job(0, 0, 2, 5.0, job_type=C)]), table, ["p100"])
    check_throughputs(_seconds_trace([64]), table, ["v100"])  # durations need no table


# --------------------------------------------------------------------------- real data


def _real(*parts: str) -> Path:
    root = lab_data("sched")
    if root is None:
        pytest.skip("no real sched data (set SYSLAB_DATA or provide ../shared/data/sched)")
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not in the data folder")
    return path


def _real_table() -> ThroughputTable:
    return ThroughputTable.from_json(_real("gavel", "simulation_throughputs.json"))


def test_real_philly() -> None:
    trace = read_trace(_real("philly", "philly.csv"))
    assert detect_format(_real("philly", "philly.csv")) == "philly"
    assert len(trace) == 82_247 and trace.skipped == {}  # no zero-duration rows
    assert trace.jobs[0].arrival == 0.0
    assert trace.jobs[-1].arrival == 9_408_690.0  # 2017-09-04 10:30:41 .. 2017-12-22 08:02:11
    assert sum(j.gpus == 1 for j in trace.jobs) == 76_627
    gpu_hours = sum(j.work * j.gpus for j in trace.jobs) / 3600
    assert gpu_hours == pytest.approx(978_078, rel=1e-5)
    assert len(read_trace(_real("philly", "philly.csv"), vc="6214e9")) == 41_226


def test_real_philly_with_job_types() -> None:
    table = _real_table()
    trace = read_philly(_real("philly", "philly.csv"), vc="0e4a51")
    typed = assign_job_types(trace, table)
    check_throughputs(typed, table, ["v100"])
    for before, after in zip(trace.jobs, typed.jobs, strict=True):
        rate = table.rate(after.job_type, "v100", after.gpus)
        assert after.work / rate == pytest.approx(before.work, rel=1e-9)


def test_real_gavel_msr_traces() -> None:
    folder = _real("gavel", "traces_msr_seed0")
    table = _real_table()
    files = sorted(folder.glob("*.trace"))
    assert len(files) == 15
    total = 0
    for f in files:
        trace = read_trace(f)
        lines = sum(1 for line in f.read_text().splitlines() if line.strip())
        assert len(trace) == lines and trace.skipped == {}, f.name
        assert trace.jobs[0].arrival == 0.0
        check_throughputs(trace, table, ["v100"])
        total += len(trace)
    assert total == 15_264


def test_real_gavel_physical_cluster_traces() -> None:
    folder = _real("gavel", "physical_cluster")
    expected = {"artifact_evaluation": 15, "debug": 14, "debug_v2": 14, "highmem_test": 8,
                "max_min_fairness": 96, "medium_test": 20, "minimize_makespan": 100,
                "small_test": 20}
    got = {f.stem: len(read_trace(f)) for f in sorted(folder.glob("*.trace"))}
    assert got == expected


def test_real_shockwave_120() -> None:
    folder = _real("shockwave", "traces")
    path = next(folder.glob("120_*.trace"), None)
    if path is None:
        pytest.skip("no 120-job Shockwave trace")
    trace = read_trace(path)
    assert len(trace) == 120
    assert Counter(j.mode for j in trace.jobs) == {"accordion": 59, "gns": 57, "static": 4}
    assert Counter(j.gpus for j in trace.jobs) == {1: 92, 2: 20, 4: 8}
    assert sum(j.duration for j in trace.jobs) == 496_241.0
    assert trace.jobs[-1].arrival == 5011.0
    for f in folder.glob("*.trace"):
        assert len(read_trace(f)) == int(f.name.split("_")[0])


def test_real_pollux_workloads() -> None:
    files = sorted(_real("pollux").glob("workloads*/workload-*.csv"))
    assert len(files) == 16
    for f in files:
        trace = read_trace(f, durations=lambda app, gpus: 600.0)
        assert len(trace) == 160, f
        assert {j.job_type for j in trace.jobs} <= {"cifar10", "ncf", "deepspeech2", "bert",
                                                    "yolov3", "imagenet"}


def test_real_tiresias() -> None:
    trace = read_trace(_real("tiresias", "60_job.csv"))
    assert len(trace) == 60
    assert sum(j.work for j in trace.jobs) == 10_705.0
    assert Counter(j.gpus for j in trace.jobs) == {1: 30, 2: 10, 4: 10, 8: 10}


def test_numpy_scalars_accepted(table: ThroughputTable) -> None:
    trace = generate(np.int64(20), seed=0, lam=np.float64(3.0), table=table)
    assert len(trace) == 20
    assert [j.arrival for j in with_load(trace, np.int64(4)).jobs] == [
        j.arrival / 4 for j in trace.jobs]
