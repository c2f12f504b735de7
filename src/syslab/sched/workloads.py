"""Trace readers, a trace writer and Gavel's synthetic workload generator.

Formats (`TRACE_FORMATS`; `read_trace(path)` detects which from the first line):

- ``syslab``: our CSV, ``arrival,gpus,work,unit,job_type,batch_size,duration,weight,mode``
  (what `write_trace` and `syslab sched generate` write; lossless).
- ``philly``: Philly as processed by the Pollux artifact,
  ``timestamp,duration,num_gpus,gpu_time,cluster``. Arrival = seconds since the earliest
  submit timestamp (naive local time, no DST correction); work = duration (unit seconds).
- ``gavel``: Gavel's TSV, old 7-field layout (``traces_msr_seed0``) or the 10-field one
  (``physical_cluster``); work = total_steps (unit steps).
- ``shockwave``: Shockwave's 12-field TSV (Gavel's fields plus mode and duration).
- ``pollux``: ``name,time,application,num_replicas,batch_size``; these carry no
  durations, so the reader needs a duration source (see `read_pollux`).
- ``tiresias``: ``job_id,num_gpu,submit_time,iterations,model_name,duration,interval``.

Arrival fields that are already offsets (all formats but Philly) are kept as they are.

Skip policy: a row whose duration (seconds formats) or step count (steps formats) is
exactly zero describes no work; it is skipped and counted in ``trace.skipped["zero
duration"]`` / ``["zero steps"]``. (The real Philly CSV has none.) Anything else that is
wrong — a missing or non-numeric field, a negative duration or step count, a GPU count
below one, an empty or binary file — is a one-line `UserError("<file>:<line>: ...")`.
Every job records its origin in `Job.source` ("file:line") for later errors.
"""

from __future__ import annotations

import csv
import functools
import gc
import json
import math
import numbers
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TextIO

import numpy as np

from syslab.common.data import lab_data
from syslab.common.errors import UserError
from syslab.sched.jobs import Job, Trace
from syslab.sched.throughput import ThroughputTable

TRACE_FORMATS = ("syslab", "philly", "gavel", "shockwave", "pollux", "tiresias")
MODES = ("static", "accordion", "gns")
DISTRIBUTIONS = ("gavel", "gavel-single", "philly")

# Gavel's documented synthetic distribution.
SCALE_FACTORS = (1, 2, 4, 8)
SCALE_FACTOR_P = (0.70, 0.10, 0.15, 0.05)
SHORT_JOB_P = 0.8  # duration = 60·10^U(1.5, 3) s w.p. 0.8, else 60·10^U(3, 4) s

# CSV headers: the columns each reader needs (detection matches on these).
SYSLAB_COLUMNS = ("arrival", "gpus", "work", "unit", "job_type", "batch_size", "duration",
                  "weight", "mode")
_CSV_REQUIRED = {
    "syslab": ("arrival", "gpus", "work", "unit"),
    "philly": ("timestamp", "duration", "num_gpus"),
    "pollux": ("name", "time", "application", "num_replicas", "batch_size"),
    "tiresias": ("job_id", "num_gpu", "submit_time", "model_name", "duration"),
}
_TSV_FIELDS = {7: "gavel", 10: "gavel", 12: "shockwave"}
_EPOCH = datetime(1970, 1, 1)
_BATCH_RE = re.compile(r"\(batch size (\d+)\)")

DurationSource = Callable[[str, int], float] | Mapping[str, float] | Mapping[tuple[str, int], float]


# --------------------------------------------------------------------------- parsing helpers


def _gc_paused(read: Callable[..., Trace]) -> Callable[..., Trace]:
    """Run a reader with the cyclic GC paused.

    Parsing allocates several objects per row and none of them form cycles; left on,
    the collector rescans the growing job list over and over (~40 % of Philly's load time).
    """

    @functools.wraps(read)
    def wrapper(*args: object, **kwargs: object) -> Trace:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return read(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper


def _read_text(path: Path) -> str:
    """The whole file as text; unreadable, binary or non-UTF-8 files are UserErrors."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read trace ({e.strerror or e})") from None
    nul = data.find(b"\x00")
    if nul >= 0:  # UTF-8 text never holds NUL bytes: this is a binary file
        line = data.count(b"\n", 0, nul) + 1
        raise UserError(f"{path}:{line}: binary data, not a text trace")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (binary data?)") from None
    if not text.strip():
        raise UserError(f"{path}:1: empty file, no jobs")
    return text


def _lines(text: str) -> list[str]:
    # split("\n") rather than splitlines(): line numbers must match what editors show.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _first_line(text: str) -> str:
    for line in _lines(text[:65536]):  # the start is enough: do not split a whole trace
        if line.strip():
            return line
    return ""


def _bad(path: Path, line: int, what: str) -> UserError:
    return UserError(f"{path}:{line}: {what}")


def _num(value: str, name: str, path: Path, line: int) -> float:
    """A finite number >= 0 (times, durations, steps are never negative)."""
    try:
        x = float(value)
    except ValueError:
        raise _bad(path, line, f"{name} is not a number: {value.strip()!r}") from None
    if not math.isfinite(x):
        raise _bad(path, line, f"{name} must be finite, got {value.strip()!r}")
    if x < 0:
        raise _bad(path, line, f"{name} must not be negative, got {value.strip()!r}")
    return x


def _count(value: str, name: str, path: Path, line: int) -> int:
    """A positive integer (GPU counts, batch sizes); "4.0" is accepted as 4."""
    try:
        return _positive(int(value), value, name, path, line)
    except ValueError:
        pass
    try:
        x = float(value)
    except ValueError:
        raise _bad(path, line, f"{name} is not a number: {value.strip()!r}") from None
    if not x.is_integer():
        raise _bad(path, line, f"{name} must be a positive integer, got {value.strip()!r}")
    return _positive(int(x), value, name, path, line)


def _positive(n: int, value: str, name: str, path: Path, line: int) -> int:
    if n < 1:
        raise _bad(path, line, f"{name} must be a positive integer, got {value.strip()!r}")
    return n


def _weight(value: str, path: Path, line: int) -> float:
    w = _num(value, "priority weight", path, line)
    if w == 0:
        raise _bad(path, line, "priority weight must be positive, got 0")
    return w


def _batch_from_type(job_type: str) -> int | None:
    m = _BATCH_RE.search(job_type)
    return int(m.group(1)) if m else None


def _csv_rows(
    path: Path, text: str, fmt: str
) -> tuple[dict[str, int], Iterator[tuple[int, list[str]]]]:
    """Column index by name, and (line number, fields) for each non-blank data row."""
    reader = csv.reader(_lines(text))
    first: list[str] = []
    for first in reader:  # the header is the first non-blank line
        if any(h.strip() for h in first):
            break
    header = [h.strip().lower() for h in first]
    header_line = reader.line_num
    missing = [c for c in _CSV_REQUIRED[fmt] if c not in header]
    if missing:
        raise _bad(path, header_line, f"not a {fmt} CSV: missing column(s) {', '.join(missing)} "
                            f"(header: {','.join(header)})")
    columns = {name: i for i, name in enumerate(header)}
    width = len(header)

    def rows() -> Iterator[tuple[int, list[str]]]:
        seen = False
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != width:
                    raise _bad(path, reader.line_num,
                               f"expected {width} fields ({','.join(header)}), got {len(row)}")
                seen = True
                yield reader.line_num, row
        except csv.Error as e:
            raise _bad(path, reader.line_num, f"malformed CSV ({e})") from None
        if not seen:
            raise _bad(path, header_line, "header only, no jobs")

    return columns, rows()


def _tsv_rows(path: Path, text: str, widths: Iterable[int]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a headerless tab-separated Gavel/Shockwave trace."""
    allowed = tuple(widths)
    width = None
    for i, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if width is None:
            if len(fields) not in allowed:
                want = " or ".join(map(str, allowed))
                raise _bad(path, i, f"expected {want} tab-separated fields, got {len(fields)}")
            width = len(fields)
        elif len(fields) != width:
            raise _bad(path, i, f"expected {width} tab-separated fields like line 1, "
                                f"got {len(fields)}")
        yield i, fields


def _finish(path: Path, name: str, jobs: list[Job], unit: str, skipped: dict[str, int]) -> Trace:
    if not jobs:
        why = f" ({', '.join(f'{n} {k}' for k, n in skipped.items())} skipped)" if skipped else ""
        raise UserError(f"{path}: no jobs{why}")
    return Trace(name, jobs, unit=unit, skipped=skipped)


# --------------------------------------------------------------------------- readers


def detect_format(path: str | Path) -> str:
    """The format name of a trace file, judged by its header or tab-separated field count."""
    path = Path(path)
    return _detect(path, _read_text(path))


def _detect(path: Path, text: str) -> str:
    first = _first_line(text)
    if "\t" in first:
        n = len(first.split("\t"))
        if n in _TSV_FIELDS:
            return _TSV_FIELDS[n]
    else:
        header = {h.strip().lower() for h in next(csv.reader([first]), [])}
        for fmt, required in _CSV_REQUIRED.items():
            if header.issuperset(required):
                return fmt
    shown = first if len(first) <= 80 else first[:77] + "..."
    raise UserError(
        f"{path}: unknown trace format (first line {shown!r}); expected one of "
        f"{', '.join(TRACE_FORMATS)}: a CSV with its header, or Gavel's 7/10-field or "
        "Shockwave's 12-field TSV"
    )


def read_trace(
    path: str | Path,
    fmt: str = "auto",
    *,
    vc: str | None = None,
    durations: DurationSource | None = None,
) -> Trace:
    """Read any supported trace; `fmt="auto"` detects the format from the first line.

    `vc` filters a Philly trace to one virtual cluster; `durations` is the duration
    source Pollux workloads need (ignored by the other formats).
    """
    path = Path(path)
    if fmt != "auto" and fmt not in TRACE_FORMATS:
        raise UserError(f"unknown trace format {fmt!r} (one of auto, {', '.join(TRACE_FORMATS)})")
    text = _read_text(path)
    if fmt == "auto":
        fmt = _detect(path, text)
    if vc is not None and fmt != "philly":
        raise UserError(f"{path}: a VC filter applies to Philly traces only (this is {fmt})")
    if fmt == "philly":
        return _read_philly(path, text, vc)
    if fmt == "gavel":
        return _read_gavel(path, text)
    if fmt == "shockwave":
        return _read_shockwave(path, text)
    if fmt == "pollux":
        return _read_pollux(path, text, durations)
    if fmt == "tiresias":
        return _read_tiresias(path, text)
    return _read_syslab(path, text)


def read_philly(path: str | Path, *, vc: str | None = None) -> Trace:
    """Philly CSV; arrival = seconds since the earliest (kept) submit time; unit seconds.

    With `vc`, rows of other virtual clusters get only their field count checked (that is the
    point of the filter); the kept rows get the full checks.
    """
    path = Path(path)
    return _read_philly(path, _read_text(path), vc)


@_gc_paused
def _read_philly(path: Path, text: str, vc: str | None) -> Trace:
    columns, rows = _csv_rows(path, text, "philly")
    c_ts, c_dur, c_gpus = columns["timestamp"], columns["duration"], columns["num_gpus"]
    c_vc = columns.get("cluster")
    if vc is not None and c_vc is None:
        raise _bad(path, 1, "no 'cluster' column to filter by VC")
    jobs: list[Job] = []
    skipped: dict[str, int] = {}
    vcs: set[str] = set()
    src = str(path)
    for line, row in rows:
        if c_vc is not None:
            name = row[c_vc].strip()
            if vc is not None and name != vc:
                vcs.add(name)
                continue
        try:
            # Absolute seconds (naive local time) for now; rebased to the first job below.
            submit = (datetime.fromisoformat(row[c_ts].strip()) - _EPOCH).total_seconds()
        except ValueError:
            raise _bad(path, line, f"timestamp is not a date and time: {row[c_ts]!r}") from None
        try:  # fast path for the common, well-formed row
            duration = float(row[c_dur])
            gpus = int(row[c_gpus])
            fast = 0.0 < duration < math.inf and gpus >= 1
        except ValueError:
            fast = False
        if not fast:  # the careful checks name what is wrong
            duration = _num(row[c_dur], "duration", path, line)
            gpus = _count(row[c_gpus], "num_gpus", path, line)  # validated even when skipped
        if duration == 0:
            skipped["zero duration"] = skipped.get("zero duration", 0) + 1
            continue
        # Positional arguments: measurably faster than keywords over 82k rows.
        jobs.append(Job(0, submit, gpus, duration, "", None, duration, 1.0, "static",
                        f"{src}:{line}"))
    if vc is not None and not jobs and not skipped:
        shown = ", ".join(sorted(vcs)[:20])
        raise UserError(f"{path}: no jobs in VC {vc!r} (VCs: {shown})")
    if jobs:
        t0 = min(job.arrival for job in jobs)
        for job in jobs:
            job.arrival -= t0
    name = path.stem if vc is None else f"{path.stem}-{vc}"
    return _finish(path, name, jobs, "seconds", skipped)


def read_gavel(path: str | Path) -> Trace:
    """Gavel TSV, 7-field (traces_msr_seed0) or 10-field (physical_cluster) layout."""
    path = Path(path)
    return _read_gavel(path, _read_text(path))


@_gc_paused
def _read_gavel(path: Path, text: str) -> Trace:
    jobs: list[Job] = []
    skipped: dict[str, int] = {}
    src = str(path)
    for line, f in _tsv_rows(path, text, (7, 10)):
        if len(f) == 7:  # job_type, command, num_steps_arg, needs_data_dir, steps, arrival, sf
            steps_s, arrival_s, gpus_s, weight = f[4], f[5], f[6], 1.0
        else:  # ..., working_directory, num_steps_arg, needs_data_dir, steps, sf, weight, SLO, arr
            steps_s, gpus_s, arrival_s = f[5], f[6], f[9]
            weight = _weight(f[7], path, line)
            _slo_is_number(f[8], path, line)
        job = _tsv_job(path, line, f[0], steps_s, gpus_s, arrival_s, skipped)
        if job is not None:
            job.weight = weight
            job.source = f"{src}:{line}"
            jobs.append(job)
    return _finish(path, path.stem, jobs, "steps", skipped)


def _slo_is_number(value: str, path: Path, line: int) -> None:
    # -1 means "no SLO"; we do not model SLOs but a garbled field still means a bad file.
    try:
        float(value)
    except ValueError:
        raise _bad(path, line, f"SLO is not a number: {value.strip()!r}") from None


def _tsv_job(path: Path, line: int, job_type: str, steps_s: str, gpus_s: str, arrival_s: str,
             skipped: dict[str, int]) -> Job | None:
    job_type = job_type.strip()
    if not job_type:
        raise _bad(path, line, "empty job type")
    steps = _num(steps_s, "total_steps", path, line)
    gpus = _count(gpus_s, "scale_factor", path, line)
    arrival = _num(arrival_s, "arrival_time", path, line)
    if steps == 0:
        skipped["zero steps"] = skipped.get("zero steps", 0) + 1
        return None
    return Job(0, arrival, gpus, steps, job_type=job_type, batch_size=_batch_from_type(job_type))


def read_shockwave(path: str | Path) -> Trace:
    """Shockwave's 12-field TSV: Gavel's fields plus mode and the trace's duration."""
    path = Path(path)
    return _read_shockwave(path, _read_text(path))


@_gc_paused
def _read_shockwave(path: Path, text: str) -> Trace:
    jobs: list[Job] = []
    skipped: dict[str, int] = {}
    src = str(path)
    for line, f in _tsv_rows(path, text, (12,)):
        # job_type, command, working_directory, num_steps_arg, needs_data_dir, total_steps,
        # scale_factor, mode, priority_weight, SLO, duration, arrival_time
        mode = f[7].strip()
        if mode not in MODES:
            raise _bad(path, line, f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        weight = _weight(f[8], path, line)
        _slo_is_number(f[9], path, line)
        duration = _num(f[10], "duration", path, line)
        job = _tsv_job(path, line, f[0], f[5], f[6], f[11], skipped)
        if job is not None:
            job.mode, job.weight = mode, weight
            job.duration = duration or None  # 0 = not stated
            job.source = f"{src}:{line}"
            jobs.append(job)
    return _finish(path, path.stem, jobs, "steps", skipped)


def read_pollux(path: str | Path, durations: DurationSource | None) -> Trace:
    """Pollux workload CSV; `durations` supplies the run time these files lack.

    `durations` is a callable ``(application, num_replicas) -> seconds``, or a mapping
    keyed by ``(application, num_replicas)`` or by ``application`` (the pair wins when
    both are present). The seconds are the job's exclusive run time at that GPU count;
    calibrating them (e.g. from Pollux's results) is the caller's business.
    """
    path = Path(path)
    return _read_pollux(path, _read_text(path), durations)


@_gc_paused
def _read_pollux(path: Path, text: str, durations: DurationSource | None) -> Trace:
    if durations is None:
        raise UserError(
            f"{path}: Pollux workloads carry no durations; pass a duration source "
            "(application, GPUs -> seconds)"
        )
    columns, rows = _csv_rows(path, text, "pollux")
    c_time, c_app = columns["time"], columns["application"]
    c_gpus, c_batch = columns["num_replicas"], columns["batch_size"]
    jobs: list[Job] = []
    skipped: dict[str, int] = {}
    src = str(path)
    for line, row in rows:
        app = row[c_app].strip()
        if not app:
            raise _bad(path, line, "empty application")
        arrival = _num(row[c_time], "time", path, line)
        gpus = _count(row[c_gpus], "num_replicas", path, line)
        batch = _count(row[c_batch], "batch_size", path, line)
        duration = _lookup_duration(durations, app, gpus, path, line)
        if duration == 0:
            skipped["zero duration"] = skipped.get("zero duration", 0) + 1
            continue
        jobs.append(Job(0, arrival, gpus, duration, job_type=app, batch_size=batch,
                        duration=duration, source=f"{src}:{line}"))
    return _finish(path, path.stem, jobs, "seconds", skipped)


def _lookup_duration(source: DurationSource, app: str, gpus: int, path: Path, line: int) -> float:
    if callable(source):
        value = source(app, gpus)
    elif (app, gpus) in source:
        value = source[(app, gpus)]  # type: ignore[index]
    elif app in source:
        value = source[app]  # type: ignore[index]
    else:
        raise _bad(path, line, f"the duration source has no entry for {app!r} with {gpus} GPUs")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise _bad(path, line, f"the duration source gave {value!r} s for {app!r} with "
                               f"{gpus} GPUs (want a finite number >= 0)")
    return seconds


def read_tiresias(path: str | Path) -> Trace:
    """Tiresias CSV: work = duration seconds, job_type = model_name, arrival = submit_time."""
    path = Path(path)
    return _read_tiresias(path, _read_text(path))


@_gc_paused
def _read_tiresias(path: Path, text: str) -> Trace:
    columns, rows = _csv_rows(path, text, "tiresias")
    c_gpus, c_sub = columns["num_gpu"], columns["submit_time"]
    c_model, c_dur = columns["model_name"], columns["duration"]
    jobs: list[Job] = []
    skipped: dict[str, int] = {}
    src = str(path)
    for line, row in rows:
        gpus = _count(row[c_gpus], "num_gpu", path, line)
        arrival = _num(row[c_sub], "submit_time", path, line)
        duration = _num(row[c_dur], "duration", path, line)
        if duration == 0:
            skipped["zero duration"] = skipped.get("zero duration", 0) + 1
            continue
        jobs.append(Job(0, arrival, gpus, duration, job_type=row[c_model].strip(),
                        duration=duration, source=f"{src}:{line}"))
    return _finish(path, path.stem, jobs, "seconds", skipped)


def read_syslab(path: str | Path) -> Trace:
    """Our own CSV (see `write_trace`)."""
    path = Path(path)
    return _read_syslab(path, _read_text(path))


@_gc_paused
def _read_syslab(path: Path, text: str) -> Trace:
    columns, rows = _csv_rows(path, text, "syslab")
    c = {name: columns.get(name) for name in SYSLAB_COLUMNS}
    jobs: list[Job] = []
    skipped: dict[str, int] = {}
    unit: str | None = None
    src = str(path)

    def opt(row: list[str], name: str) -> str:
        i = c[name]
        return row[i].strip() if i is not None else ""

    for line, row in rows:
        row_unit = opt(row, "unit")
        if row_unit not in ("steps", "seconds"):
            raise _bad(path, line, f"unit must be steps or seconds, got {row_unit!r}")
        if unit is None:
            unit = row_unit
        elif row_unit != unit:
            raise _bad(path, line, f"unit {row_unit!r} differs from the first job's {unit!r}")
        arrival = _num(row[c["arrival"]], "arrival", path, line)  # type: ignore[index]
        gpus = _count(row[c["gpus"]], "gpus", path, line)  # type: ignore[index]
        work = _num(row[c["work"]], "work", path, line)  # type: ignore[index]
        job_type = opt(row, "job_type")
        if unit == "steps" and not job_type:
            raise _bad(path, line, "a steps trace needs a job_type (a throughput-table key)")
        batch = opt(row, "batch_size")
        dur = opt(row, "duration")
        weight = opt(row, "weight")
        mode = opt(row, "mode") or "static"
        if mode not in MODES:
            raise _bad(path, line, f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if work == 0:
            key = "zero steps" if unit == "steps" else "zero duration"
            skipped[key] = skipped.get(key, 0) + 1
            continue
        jobs.append(Job(
            0, arrival, gpus, work, job_type=job_type,
            batch_size=_count(batch, "batch_size", path, line) if batch else None,
            duration=_num(dur, "duration", path, line) if dur else None,
            weight=_weight(weight, path, line) if weight else 1.0,
            mode=mode, source=f"{src}:{line}",
        ))
    return _finish(path, path.stem, jobs, unit or "steps", skipped)


# --------------------------------------------------------------------------- writer


def _fmt(x: float) -> str:
    # Integral values print as integers; others as repr, the shortest exact round-trip.
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


def write_trace(trace: Trace, path: str | Path, fmt: str = "syslab") -> None:
    """Write `trace` as our CSV (lossless) or Gavel's 10-field TSV.

    Gavel's parser reads total_steps with int(), so non-integral step counts are rounded
    up in that format; it has no column for duration or mode, and seconds traces cannot
    be written as Gavel traces (run `assign_job_types` first).
    """
    path = Path(path)
    if fmt not in ("syslab", "gavel"):
        raise UserError(f"cannot write trace format {fmt!r} (syslab or gavel)")
    if fmt == "gavel" and trace.unit != "steps":
        raise UserError(
            f"{path}: Gavel traces count steps; this trace is in {trace.unit} "
            "(give it job types with assign_job_types first)"
        )
    for job in trace.jobs:
        if any(ch in job.job_type for ch in "\t\r\n"):
            raise UserError(f"{job.source or trace.name}: job type {job.job_type!r} holds a tab "
                            "or newline and cannot be written")
        if fmt == "gavel" and not job.job_type:
            raise UserError(f"{job.source or trace.name}: a Gavel trace needs a job type")
    try:
        with path.open("w", newline="") as out:
            if fmt == "syslab":
                _write_syslab(trace, out)
            else:
                _write_gavel(trace, out)
    except OSError as e:
        raise UserError(f"{path}: cannot write trace ({e.strerror or e})") from None


def _write_syslab(trace: Trace, out: TextIO) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(SYSLAB_COLUMNS)
    for j in trace.jobs:
        w.writerow([
            _fmt(j.arrival), j.gpus, _fmt(j.work), trace.unit, j.job_type,
            "" if j.batch_size is None else j.batch_size,
            "" if j.duration is None else _fmt(j.duration),
            _fmt(j.weight), j.mode,
        ])


def _write_gavel(trace: Trace, out: TextIO) -> None:
    # command / working_directory / num_steps_arg are filler values: simulators ignore them.
    for j in trace.jobs:
        steps = max(1, math.ceil(j.work - 1e-9))
        out.write("\t".join([
            j.job_type, "true", ".", "--num_steps", "0", str(steps), str(j.gpus),
            _fmt(j.weight), "-1", _fmt(j.arrival),
        ]) + "\n")


# --------------------------------------------------------------------------- job types


def _candidates(table: ThroughputTable, gpu: str, gpus: int) -> list[str]:
    """Job types that can run on `gpus` GPUs of type `gpu`, sorted (for determinism).

    At a GPU count the table measures, these are the types with a nonzero entry there;
    at other counts (3, 12, 16, 64 ...) the types measured at the nearest count below,
    whose rate `ThroughputTable.rate` then interpolates or extrapolates.
    """
    entries = table.rates.get((gpu, True), {})
    counts = sorted({g for (_, g), r in entries.items() if r > 0})
    below = [g for g in counts if g <= gpus]
    if not below:
        return []
    at = below[-1]
    return sorted(jt for (jt, g), r in entries.items() if g == at and r > 0)


def _need_gpu(table: ThroughputTable, gpu: str) -> None:
    if (gpu, True) not in table.rates:
        raise UserError(f"reference GPU {gpu!r} is not in throughput table {table.name!r} "
                        f"(types: {', '.join(table.gpu_types)})")


def assign_job_types(
    trace: Trace, table: ThroughputTable, *, reference_gpu: str = "v100", seed: int = 0
) -> Trace:
    """A steps trace from a duration-only one, as Gavel built its Philly traces.

    Each job gets a job type drawn uniformly from those that run at its GPU count on
    `reference_gpu`, and work = duration × that rate, so that its exclusive run time on
    the reference GPU type is still the trace's duration.
    """
    if trace.unit != "seconds":
        raise UserError(f"{trace.name}: assign_job_types needs a duration trace (unit seconds), "
                        f"this one is in {trace.unit}")
    reference_gpu = reference_gpu.lower()
    _need_gpu(table, reference_gpu)
    rng = np.random.default_rng(seed)
    picks = rng.random(len(trace.jobs))
    cache: dict[int, list[str]] = {}
    jobs = []
    for job, u in zip(trace.jobs, picks, strict=True):
        types = cache.get(job.gpus)
        if types is None:
            types = cache[job.gpus] = _candidates(table, reference_gpu, job.gpus)
        if not types:
            raise UserError(f"{job.source or trace.name}: no job type in {table.name!r} runs on "
                            f"{job.gpus} {reference_gpu} GPUs")
        job_type = types[int(u * len(types))]
        duration = job.duration if job.duration is not None else job.work
        rate = table.rate(job_type, reference_gpu, job.gpus)
        jobs.append(replace(job, job_type=job_type, batch_size=_batch_from_type(job_type),
                            work=duration * rate, duration=duration))
    return Trace(trace.name, jobs, unit="steps", skipped=dict(trace.skipped))


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def with_load(trace: Trace, factor: float) -> Trace:
    """The same jobs arriving `factor` times as fast (factor 2 = twice the load)."""
    f = _as_float(factor)
    if not (math.isfinite(f) and f > 0):
        raise UserError(f"load factor must be a positive number, got {factor!r}")
    jobs = [replace(j, arrival=j.arrival / f) for j in trace.jobs]
    return Trace(trace.name, jobs, unit=trace.unit, skipped=dict(trace.skipped))


def check_throughputs(trace: Trace, table: ThroughputTable, gpu_types: Iterable[str]) -> None:
    """Every job of a steps trace must run on at least one of `gpu_types` at its GPU count."""
    if trace.unit != "steps":
        return  # durations need no table
    types = [t.lower() for t in gpu_types]
    ok: dict[tuple[str, int], bool] = {}
    for job in trace.jobs:
        key = (job.job_type, job.gpus)
        runs = ok.get(key)
        if runs is None:
            runs = ok[key] = any(table.rate(job.job_type, t, job.gpus) > 0 for t in types)
        if not runs:
            where = job.source or f"{trace.name} job {job.id}"
            raise UserError(f"{where}: job type {job.job_type!r} with {job.gpus} GPUs has no "
                            f"throughput entry for {', '.join(types)}")


# --------------------------------------------------------------------------- generator


def _philly_samples() -> np.ndarray:
    root = lab_data("sched")
    path = root / "gavel" / "philly_job_distribution.json" if root is not None else None
    if path is None or not path.is_file():
        raise UserError("the philly distribution needs gavel/philly_job_distribution.json "
                        "in the sched data folder (set SYSLAB_DATA); use distribution gavel")
    try:
        raw = json.loads(path.read_text())
        samples = np.array(raw, dtype=float)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError):
        raise UserError(f"{path}: expected a JSON list of [duration_s, scale_factor]") from None
    if samples.ndim != 2 or samples.shape[1] != 2 or not len(samples):
        raise UserError(f"{path}: expected a JSON list of [duration_s, scale_factor]")
    return samples


def generate(
    n_jobs: int,
    *,
    seed: int,
    lam: float,
    table: ThroughputTable | None = None,
    distribution: str = "gavel",
    reference_gpu: str = "v100",
) -> Trace:
    """A synthetic trace with Gavel's generator's documented distributions.

    Poisson arrivals with mean inter-arrival `lam` s (the first job arrives at 0).
    "gavel": duration 60·10^U(1.5,3) s w.p. 0.8 else 60·10^U(3,4) s; scale factor
    1/2/4/8 w.p. 0.70/0.10/0.15/0.05; "gavel-single": the same with every job on one GPU
    (Gavel's continuous-single traces). "philly": (duration, scale factor) pairs drawn
    from Gavel's philly_job_distribution.json. With a table, each job gets a job type
    uniform over those with a nonzero rate at its scale factor on `reference_gpu` and
    work = duration × that rate (unit steps); without one, work = duration (seconds).
    """
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs < 1:
        raise UserError(f"number of jobs must be a positive integer, got {n_jobs!r}")
    n_jobs = int(n_jobs)
    lam = _as_float(lam)
    if not (math.isfinite(lam) and lam >= 0):
        raise UserError(f"mean inter-arrival time must be >= 0 seconds, got {lam!r}")
    if distribution not in DISTRIBUTIONS:
        raise UserError(f"unknown job distribution {distribution!r} "
                        f"(one of {', '.join(DISTRIBUTIONS)})")
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(lam, n_jobs) if lam > 0 else np.zeros(n_jobs)
    arrivals = np.concatenate(([0.0], np.cumsum(gaps[1:])))
    if distribution.startswith("gavel"):
        short = rng.random(n_jobs) < SHORT_JOB_P
        exponent = np.where(short, rng.uniform(1.5, 3.0, n_jobs), rng.uniform(3.0, 4.0, n_jobs))
        durations = 60.0 * 10.0**exponent
        gpus = rng.choice(np.array(SCALE_FACTORS), size=n_jobs, p=SCALE_FACTOR_P)
        if distribution == "gavel-single":  # Gavel's continuous-single traces: 1 GPU each
            gpus[:] = 1
    else:
        samples = _philly_samples()
        pick = samples[rng.integers(len(samples), size=n_jobs)]
        durations, gpus = pick[:, 0], pick[:, 1].astype(int)
    picks = rng.random(n_jobs)
    name = f"{distribution}-{n_jobs}-lam{lam:g}-seed{seed}"
    jobs = [
        Job(i, float(arrivals[i]), int(gpus[i]), float(durations[i]), duration=float(durations[i]),
            source=f"{name} job {i}")
        for i in range(n_jobs)
    ]
    if table is None:
        return Trace(name, jobs, unit="seconds")
    reference_gpu = reference_gpu.lower()
    _need_gpu(table, reference_gpu)
    cache: dict[int, list[str]] = {}
    for job, u in zip(jobs, picks, strict=True):
        types = cache.get(job.gpus)
        if types is None:  # at 1/2/4/8 GPUs: the types with a nonzero entry there
            types = cache[job.gpus] = _candidates(table, reference_gpu, job.gpus)
        if not types:
            raise UserError(f"throughput table {table.name!r} has no job type with "
                            f"{job.gpus} GPUs on {reference_gpu}")
        job.job_type = types[int(u * len(types))]
        job.batch_size = _batch_from_type(job.job_type)
        job.work *= table.rate(job.job_type, reference_gpu, job.gpus)  # work was the duration
    return Trace(name, jobs, unit="steps")
