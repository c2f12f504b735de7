"""`syslab sched …`: simulate and compare GPU-cluster schedulers, generate traces, list options.

Every flag and file is checked before any simulation starts, so a typo costs a second and
one line on stderr (a `UserError`, exit code 2), never a traceback after minutes of work.
Heavy modules (the engine, matplotlib) are imported inside the commands: `syslab --help`
stays fast.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from syslab.common.errors import UserError
from syslab.common.report import table_console as _console

if TYPE_CHECKING:
    from syslab.sched.cluster import ClusterSpec
    from syslab.sched.engine import SimConfig, SimResult
    from syslab.sched.jobs import Trace
    from syslab.sched.throughput import ThroughputTable

app = typer.Typer(no_args_is_help=True, help="GPU-cluster scheduling simulator.")

CONTENTIONS = ("lifetime", "static")
HOUR = 3600.0
GAVEL_TABLE = ("gavel", "simulation_throughputs.json")  # under lab_data("sched")

# ---- options shared by simulate and compare -------------------------------------------------
CLUSTER = typer.Option(..., "--cluster", "-c",
                       help="Cluster spec: a YAML path or a built-in name (syslab sched clusters).")
POLICY = typer.Option(..., "--policy", "-p",
                      help="Comma-separated policy names, or 'all' (syslab sched policies).")
FORMAT = typer.Option("auto", "--format", "-f", help="Trace format, or auto to detect it.")
THROUGHPUTS = typer.Option(
    None, "--throughputs",
    help="Throughput JSON (Gavel format) for traces in steps; default: Gavel's table in the "
         "data folder.")
MODE = typer.Option("rounds", "--mode", help="rounds (Gavel, Shockwave) or events (Tiresias).")
ROUND = typer.Option(360.0, "--round", help="Round length in seconds (rounds mode).")
RESTART = typer.Option(0.0, "--restart", help="Seconds without progress after each (re)start.")
PLACEMENT = typer.Option("consolidated", "--placement",
                         help="GPU placement: consolidated, first-fit or random.")
VC = typer.Option(None, "--vc", help="Philly traces: keep one virtual cluster's jobs.")
CONTENTION = typer.Option(
    "lifetime", "--contention",
    help="Finish-time fairness N: lifetime (active jobs over each job's life) or static "
         "(every job of the trace, as Shockwave reports).")
SEED = typer.Option(0, "--seed", help="Seed of the random placement.")


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_policies(text: str) -> list[str]:
    """Policy names, each checked by building it (so the registry decides, not this list)."""
    from syslab.sched.policies import make_policy, policy_names

    names = policy_names() if text.strip().lower() == "all" else split_list(text.lower())
    if not names:
        raise UserError("no policy given (--policy fifo,srtf,...)")
    for name in names:
        make_policy(name)  # unknown names fail here, before any work
    return list(dict.fromkeys(names))


def parse_number(text: str, what: str) -> float:
    """A positive finite number from a flag's text (one item of a comma-separated list)."""
    try:
        x = float(text)
    except ValueError:
        raise UserError(f"{what} must be a number, got {text!r}") from None
    return check_positive(x, what)


def check_positive(x: float, what: str) -> float:
    if not (math.isfinite(x) and x > 0):
        raise UserError(f"{what} must be a positive finite number, got {x:g}")
    return x


def parse_loads(text: str) -> list[float]:
    loads = [parse_number(part, "load factor") for part in split_list(text)]
    if not loads:
        raise UserError("no load factor given (--load 0.5,1.0,1.5)")
    return list(dict.fromkeys(loads))


def split_paths(values: list[str]) -> list[Path]:
    """Trace paths from repeated or comma-separated --trace values.

    Shockwave's trace names hold commas themselves, so a value that names a file is taken
    whole, and comma-separated pieces are re-joined until they name one.
    """
    paths: list[Path] = []
    for value in values:
        if Path(value).is_file():
            paths.append(Path(value))
            continue
        parts = value.split(",")
        i = 0
        while i < len(parts):
            for j in range(i + 1, len(parts) + 1):
                candidate = ",".join(parts[i:j]).strip()
                if candidate and Path(candidate).is_file():
                    paths.append(Path(candidate))
                    i = j
                    break
            else:
                missing = parts[i].strip()
                if missing:
                    raise UserError(f"{missing}: trace file not found")
                i += 1
    if not paths:
        raise UserError("no trace given (--trace FILE)")
    return list(dict.fromkeys(paths))


def check_choice(value: str, choices: tuple[str, ...] | list[str], what: str) -> str:
    if value not in choices:
        raise UserError(f"unknown {what} {value!r} (one of {', '.join(choices)})")
    return value


def sim_config(mode: str, round_s: float, restart_s: float, placement: str, seed: int,
               record_timeline: bool) -> SimConfig:
    """The engine settings, validated now rather than inside the first simulation."""
    from syslab.sched.engine import SimConfig

    config = SimConfig(mode=mode, round_s=round_s, restart_s=restart_s, placement=placement,
                       seed=seed, record_timeline=record_timeline)
    config.validate()
    return config


def table_path(given: Path | None) -> Path | None:
    """--throughputs, else Gavel's table in the data folder if it is there, else None."""
    from syslab.common.data import lab_data

    if given is not None:
        return given
    root = lab_data("sched")
    default = root.joinpath(*GAVEL_TABLE) if root is not None else None
    return default if default is not None and default.is_file() else None


def _stamp(path: str) -> tuple[int, int]:
    # Part of the cache keys below: a file rewritten in between is read again.
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0)  # the reader reports the missing file
    return (st.st_mtime_ns, st.st_size)


def load_table(path: str) -> ThroughputTable:
    """A throughput table, read once per process while the file stays the same."""
    return _load_table(path, _stamp(path))


@functools.lru_cache(maxsize=8)
def _load_table(path: str, stamp: tuple[int, int]) -> ThroughputTable:
    from syslab.sched.throughput import ThroughputTable

    return ThroughputTable.from_json(path)


def load_trace(path: str, fmt: str, vc: str | None) -> Trace:
    """A trace, read once per process while the file stays the same.

    Validation reads it; compare's workers, forked after that, find it here instead of
    parsing it again or unpickling a copy per task.
    """
    return _load_trace(path, fmt, vc, _stamp(path))


@functools.lru_cache(maxsize=4)
def _load_trace(path: str, fmt: str, vc: str | None, stamp: tuple[int, int]) -> Trace:
    from syslab.sched.workloads import read_trace

    return read_trace(path, fmt, vc=vc)


def check_runnable(trace: Trace, cluster: ClusterSpec,
                   table_file: Path | None) -> ThroughputTable | None:
    """The throughput table a trace needs, and proof that every job can run on the cluster."""
    from syslab.sched.workloads import check_throughputs

    trace.check_fits(cluster.total_gpus, max(cluster.capacity(t) for t in cluster.gpu_types))
    if trace.unit != "steps":
        return None
    if table_file is None:
        raise UserError(f"{trace.name}: jobs are given in steps and no throughput table was "
                        "found; pass --throughputs FILE (Gavel's simulation_throughputs.json)")
    table = load_table(str(table_file))
    check_throughputs(trace, table, cluster.gpu_types)
    return table


def with_dynamic_modes(trace: Trace, table: ThroughputTable | None,
                       cluster: ClusterSpec) -> Trace:
    """Shockwave's dynamic jobs (accordion, gns) as their equivalent static work.

    Shockwave traces mark jobs whose batch size changes during training; the engine runs
    fixed-size work, so `sched.dynamic` turns each such job into the work that takes its
    dynamic run time (on V100s when the cluster has them, as in Shockwave's testbed).
    """
    if table is None or all(job.mode == "static" for job in trace.jobs):
        return trace
    from syslab.sched.dynamic import apply_dynamic_modes

    gpu = "v100" if "v100" in cluster.gpu_types else cluster.gpu_types[0]
    return apply_dynamic_modes(trace, table, gpu_type=gpu)


def note_default_table(inputs: Inputs, traces: list[Trace]) -> None:
    """Say so when a steps trace runs on the fallback table: the user did not choose it."""
    if not inputs.table_given and any(t.unit == "steps" for t in traces):
        Console(stderr=True, soft_wrap=True).print(
            f"throughputs: {inputs.table_file} (the default; --throughputs to change)",
            highlight=False)


@dataclass
class Inputs:
    """Everything simulate and compare validate before running anything."""

    policies: list[str]
    cluster: ClusterSpec
    config: SimConfig
    table_file: Path | None
    table_given: bool


def check_inputs(policy: str, cluster: str, fmt: str, throughputs: Path | None, mode: str,
                 round_s: float, restart_s: float, placement: str, contention: str, seed: int,
                 record_timeline: bool) -> Inputs:
    from syslab.sched.cluster import load_cluster
    from syslab.sched.workloads import TRACE_FORMATS

    policies = parse_policies(policy)
    check_choice(fmt, ("auto", *TRACE_FORMATS), "trace format")
    check_choice(contention, CONTENTIONS, "contention")
    config = sim_config(mode, round_s, restart_s, placement, seed, record_timeline)
    spec = load_cluster(cluster)
    if throughputs is not None:
        load_table(str(throughputs))  # a broken table fails now, whatever the trace
    return Inputs(policies, spec, config, table_path(throughputs), throughputs is not None)


# ---- per-run results -----------------------------------------------------------------------


SUMMARY_COLUMNS = {
    # summary key -> (column header, scale, format)
    "mean_jct_s": ("mean JCT (h)", HOUR, ".2f"),
    "p50_jct_s": ("p50 JCT (h)", HOUR, ".2f"),
    "p99_jct_s": ("p99 JCT (h)", HOUR, ".2f"),
    "mean_wait_s": ("mean wait (h)", HOUR, ".2f"),
    "makespan_s": ("makespan (h)", HOUR, ".2f"),
    "utilization": ("util", 1.0, ".3f"),
    "worst_rho": ("worst ρ", 1.0, ".2f"),
    "unfair_1_1": ("ρ>1.1", 1.0, ".3f"),
    "jain": ("Jain", 1.0, ".3f"),
    "preemptions": ("preempt", 1, "d"),
    "sim_wall_s": ("sim (s)", 1.0, ".2f"),
}


def summary_table(title: str, summaries: list[dict], lead: list[str]):
    """A report Table of summaries: `lead` columns (policy, trace ...) then the metrics."""
    from syslab.common.report import Table

    rows = []
    for s in summaries:
        row = {c: s.get(c, "") for c in lead}
        for key, (header, scale, _) in SUMMARY_COLUMNS.items():
            v = s[key]
            row[header] = v if isinstance(v, int) else v / scale
        rows.append(row)
    headers = [h for h, _, _ in SUMMARY_COLUMNS.values()]
    formats = {h: f for h, _, f in SUMMARY_COLUMNS.values()}
    if "load" in lead:
        formats["load"] = "g"
    return Table(title, lead + headers, rows, formats)


def job_records(result: SimResult, contention: str) -> list[dict]:
    from syslab.sched.metrics import finish_time_fairness

    rho = finish_time_fairness(result, contention)
    jct = result.jct
    return [
        {"policy": result.policy, "trace": result.trace, "id": i,
         "arrival": float(result.arrival[i]), "gpus": int(result.gpus[i]),
         "start": float(result.first_start[i]), "finish": float(result.finish[i]),
         "jct": float(jct[i]), "rho": float(rho[i])}
        for i in range(result.arrival.size)
    ]


def config_fields(config: SimConfig, contention: str) -> dict[str, Any]:
    return {"mode": config.mode, "round_s": config.round_s, "restart_s": config.restart_s,
            "placement": config.placement, "seed": config.seed, "contention": contention}


def describe_run(config: SimConfig, contention: str) -> str:
    when = (f"{config.round_s:g} s rounds" if config.mode == "rounds" else "event-driven")
    return (f"{when}, restart {config.restart_s:g} s, {config.placement} placement, "
            f"ρ with {contention} contention")


# ---- commands ------------------------------------------------------------------------------


@app.command()
def simulate(
    trace: Path = typer.Option(..., "--trace", "-t", help="Trace file (any supported format)."),
    cluster: str = CLUSTER,
    policy: str = POLICY,
    fmt: str = FORMAT,
    throughputs: Path = THROUGHPUTS,
    mode: str = MODE,
    round_s: float = ROUND,
    restart_s: float = RESTART,
    placement: str = PLACEMENT,
    load: float = typer.Option(1.0, "--load", help="Arrival-rate factor (2 = twice as fast)."),
    vc: str = VC,
    contention: str = CONTENTION,
    seed: int = SEED,
    out: Path = typer.Option(None, "--out", "-o",
                             help="Folder for plots and results.jsonl (optional)."),
    jobs_out: Path = typer.Option(None, "--jobs-out",
                                  help="Write per-job records (JSON lines) here."),
) -> None:
    """Run each policy on one trace and cluster; print the metrics table."""
    from syslab.common.records import write_jsonl
    from syslab.common.sweep import progress_bar
    from syslab.sched.engine import Simulator
    from syslab.sched.metrics import summarize
    from syslab.sched.policies import make_policy
    from syslab.sched.workloads import with_load

    inputs = check_inputs(policy, cluster, fmt, throughputs, mode, round_s, restart_s, placement,
                          contention, seed, record_timeline=out is not None)
    check_positive(load, "load factor")
    data = load_trace(str(trace), fmt, vc)
    if load != 1.0:
        data = with_load(data, load)
    table = check_runnable(data, inputs.cluster, inputs.table_file)
    note_default_table(inputs, [data])
    data = with_dynamic_modes(data, table, inputs.cluster)

    results: list[SimResult] = []
    summaries: list[dict] = []
    with progress_bar() as progress:
        for name in inputs.policies:
            bar = progress.add_task(name, total=len(data))
            sim = Simulator(data, inputs.cluster, make_policy(name), replace(inputs.config),
                            table=table)
            result = sim.run(progress=lambda done, bar=bar: progress.update(bar, completed=done))
            progress.update(bar, completed=len(data))
            results.append(result)
            summaries.append(summarize(result, contention)
                             | config_fields(inputs.config, contention) | {"load": load})

    load_note = f" at {load:g}× load" if load != 1.0 else ""
    title = (f"{data.name}: {len(data):,} jobs ({data.unit}){load_note} on "
             f"{inputs.cluster.describe()}; {describe_run(inputs.config, contention)}")
    console = _console()
    console.print(summary_table(title, summaries, ["policy"]).to_rich())
    if data.skipped:
        console.print("skipped rows: " + ", ".join(f"{n} {k}" for k, n in data.skipped.items()))
    if jobs_out is not None:
        write_jsonl(jobs_out, (rec for r in results for rec in job_records(r, contention)))
        console.print(f"wrote {jobs_out}")
    if out is not None:
        from syslab.sched import plots

        write_jsonl(out / "results.jsonl", summaries)
        written = [out / "results.jsonl"]
        written += plots.jct_cdf(results, out / "jct_cdf")[:1]
        written += plots.utilization_over_time(results, out / "utilization")[:1]
        written += plots.policy_bars(summaries, out / "policy_bars")[:1]
        for r in results:
            written += plots.allocation_timeline(r, out / f"allocation_{r.policy}")[:1]
        for path in written:
            console.print(f"wrote {path}")


def compare_task(task: tuple) -> dict:
    """One policy × trace × load run (module level, so that worker processes can run it).

    Returns the summary, the result without its segment list (unless `keep_segments`:
    the run chosen for the allocation timeline) and the utilisation curve, computed here
    so that millions of segments never cross the process boundary.
    """
    from syslab.sched.engine import Simulator
    from syslab.sched.metrics import summarize, utilization_timeline
    from syslab.sched.policies import make_policy
    from syslab.sched.workloads import with_load

    (path, fmt, vc, load, policy, cluster, table_file, config, contention, keep_segments) = task
    trace = load_trace(path, fmt, vc)
    if load != 1.0:
        trace = with_load(trace, load)
    table = load_table(table_file) if table_file is not None and trace.unit == "steps" else None
    trace = with_dynamic_modes(trace, table, cluster)
    result = Simulator(trace, cluster, make_policy(policy), replace(config), table=table).run()
    summary = (summarize(result, contention) | config_fields(config, contention)
               | {"load": load, "trace_path": path})
    util = utilization_timeline(result)
    label = trace.name if load == 1.0 else f"{trace.name} ×{load:g} load"
    slim = replace(result, trace=label, segments=result.segments if keep_segments else [])
    return {"summary": summary, "result": slim, "util": util}


@app.command()
def compare(
    trace: list[str] = typer.Option(
        ..., "--trace", "-t", help="Trace files: repeat the flag or separate with commas."),
    cluster: str = CLUSTER,
    policy: str = POLICY,
    load: str = typer.Option("1.0", "--load", help="Arrival-rate factors, e.g. 0.5,1.0,1.5."),
    fmt: str = FORMAT,
    throughputs: Path = THROUGHPUTS,
    mode: str = MODE,
    round_s: float = ROUND,
    restart_s: float = RESTART,
    placement: str = PLACEMENT,
    vc: str = VC,
    contention: str = CONTENTION,
    seed: int = SEED,
    timeline_policy: str = typer.Option(
        None, "--timeline-policy",
        help="Policy whose run (first trace, first load) the allocation timeline shows; "
             "default: the first policy."),
    workers: int = typer.Option(None, "--workers", help="Worker processes (default: one per "
                                                         "core)."),
    out: Path = typer.Option(..., "--out", "-o",
                             help="Folder for results.jsonl, figures/ and index.html."),
) -> None:
    """Every policy × trace × load in parallel; a table, results.jsonl, plots, an HTML report."""
    from syslab.common.records import write_jsonl
    from syslab.common.report import Section, write_html
    from syslab.common.sweep import sweep
    from syslab.sched import plots

    inputs = check_inputs(policy, cluster, fmt, throughputs, mode, round_s, restart_s, placement,
                          contention, seed, record_timeline=True)
    loads = parse_loads(load)
    if workers is not None and workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    chosen = timeline_policy.lower() if timeline_policy else inputs.policies[0]
    if chosen not in inputs.policies:
        raise UserError(f"--timeline-policy {chosen!r} is not among the compared policies "
                        f"({', '.join(inputs.policies)})")
    paths = split_paths(trace)
    traces = {path: load_trace(str(path), fmt, vc) for path in paths}  # all read before runs
    for data in traces.values():
        check_runnable(data, inputs.cluster, inputs.table_file)  # loads change no job's size
    note_default_table(inputs, list(traces.values()))
    sizes = {path: len(data) for path, data in traces.items()}

    table_file = str(inputs.table_file) if inputs.table_file is not None else None
    tasks = [
        (str(path), fmt, vc, factor, name, inputs.cluster, table_file, inputs.config, contention,
         name == chosen and path == paths[0] and factor == loads[0])
        for path in paths for factor in loads for name in inputs.policies
    ]
    runs = sweep(compare_task, tasks, workers=workers, weights=[sizes[Path(t[0])] for t in tasks],
                 description=f"{len(tasks)} simulations")

    summaries = [r["summary"] for r in runs]
    lead = ["policy"]
    if len(paths) > 1:
        lead.insert(0, "trace")
    if len(loads) > 1:
        lead.insert(len(lead) - 1, "load")
    title = (f"{len(paths)} trace(s) × {len(loads)} load(s) × {len(inputs.policies)} policies "
             f"on {inputs.cluster.describe()}; {describe_run(inputs.config, contention)}")
    report_table = summary_table(title, summaries, lead)
    console = _console()
    console.print(report_table.to_rich())

    results_file = write_jsonl(out / "results.jsonl", summaries)
    figures_dir = out / "figures"  # where write_html wants them: no copies
    results = [r["result"] for r in runs]
    curves: dict[str, dict] = {}
    for r in runs:
        curves.setdefault(r["result"].trace, {})[r["result"].policy] = r["util"]
    timeline = next(r["result"] for r in runs if r["result"].segments)
    figures = [
        plots.jct_cdf(results, figures_dir / "jct_cdf")[0],
        plots.utilization_curves(curves, figures_dir / "utilization")[0],
        plots.allocation_timeline(timeline, figures_dir / f"allocation_{timeline.policy}")[0],
        plots.policy_bars(summaries, figures_dir / "policy_bars")[0],
    ]
    text = (f"Traces: {', '.join(str(p) for p in paths)}. Loads: "
            f"{', '.join(f'{x:g}' for x in loads)}. JCTs and makespans in hours; ρ is "
            f"finish-time fairness (JCT over the fair-share time, {contention} contention), "
            "≤ 1 is fair.")
    index = write_html([Section("Scheduling policies compared", text, [report_table], figures)],
                       out, title="syslab sched compare")
    for path in (results_file, *figures, index):
        console.print(f"wrote {path}")


@app.command()
def generate(
    jobs: int = typer.Option(..., "--jobs", "-n", help="Number of jobs."),
    lam: float = typer.Option(..., "--lam", help="Mean inter-arrival time in seconds (Poisson)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same trace)."),
    distribution: str = typer.Option("gavel", "--distribution",
                                      help="Job sizes: gavel (documented), gavel-single "
                                           "(the same, one GPU each) or philly (samples)."),
    throughputs: Path = typer.Option(
        None, "--throughputs",
        help="Give jobs types from this table and work in steps; without: durations."),
    fmt: str = typer.Option("syslab", "--format", "-f", help="Output format: syslab or gavel."),
    out: Path = typer.Option(..., "--out", "-o", help="Trace file to write."),
) -> None:
    """Write a synthetic trace with Gavel's generator's distributions."""
    from syslab.sched.workloads import DISTRIBUTIONS, write_trace
    from syslab.sched.workloads import generate as make_trace

    check_choice(fmt, ("syslab", "gavel"), "output format")
    check_choice(distribution, DISTRIBUTIONS, "job distribution")
    if fmt == "gavel" and throughputs is None:
        raise UserError("a Gavel trace counts steps: pass --throughputs FILE to give jobs types")
    table = load_table(str(throughputs)) if throughputs is not None else None
    data = make_trace(jobs, seed=seed, lam=lam, table=table, distribution=distribution)
    write_trace(data, out, fmt)
    span = data.jobs[-1].arrival / HOUR
    _console().print(f"wrote {out}: {len(data):,} jobs ({data.unit}), arrivals over "
                     f"{span:.2f} h, format {fmt}")


@app.command()
def clusters() -> None:
    """List the built-in cluster specs."""
    from syslab.common.report import Table
    from syslab.sched.cluster import BUILTIN_DIR, builtin_clusters, load_cluster

    rows = []
    for name in builtin_clusters():
        spec = load_cluster(name)
        about = _yaml_comment(BUILTIN_DIR / f"{name}.yaml")
        servers = " + ".join(f"{g.count}×{g.gpus_per_server} {g.gpu}" for g in spec.groups)
        rows.append({"name": name, "GPUs": spec.total_gpus, "servers × GPUs": servers,
                     "description": about})
    _console().print(Table("built-in clusters (--cluster NAME, or a YAML path)",
                           ["name", "GPUs", "servers × GPUs", "description"], rows).to_rich())


def _yaml_comment(path: Path) -> str:
    """The spec's leading comment lines, joined: its human description."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


@app.command()
def policies() -> None:
    """List the scheduling policies."""
    from syslab.common.report import Table
    from syslab.sched.policies import make_policy, policy_names

    rows = []
    for name in policy_names():
        p = make_policy(name)
        rows.append({"name": name, "preemptive": "yes" if p.preemptive else "no",
                     "knows durations": "yes" if p.uses_durations else "no",
                     "description": p.description})
    _console().print(Table("scheduling policies (--policy a,b,c or all)",
                           ["name", "preemptive", "knows durations", "description"],
                           rows).to_rich())
