"""`syslab txn …`: benchmark real stores and ours under multi-dispatch, check histories.

Every flag is checked before a server starts, so a typo costs a second and one line on
stderr (a `UserError`, exit code 2). `check` exits 1 when the history is not valid under
the model (so scripts can tell a bad history from a bad command), 0 when it is.
Heavy modules are imported inside the commands: `syslab --help` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from syslab.common.errors import UserError
from syslab.common.flags import numbers as _numbers
from syslab.common.report import table_console as _console

app = typer.Typer(no_args_is_help=True,
                  help="Transactions: consistency models on real stores, MDSS, a checker.")


def _systems() -> dict[str, str]:
    from syslab.txn.stores.registry import SYSTEMS

    return SYSTEMS


@app.command()
def systems() -> None:
    """List the systems `bench` can start."""
    from syslab.common.report import Table

    rows = [{"system": k, "what it is": v} for k, v in _systems().items()]
    _console().print(Table("systems", ["system", "what it is"], rows).to_rich())


@app.command()
def workloads() -> None:
    """List the workloads."""
    from syslab.common.report import Table
    from syslab.txn.workloads import WORKLOADS

    rows = [{"workload": k, "what it is": v[1], "checkable": "yes" if v[0]().checkable else ""}
            for k, v in WORKLOADS.items()]
    _console().print(Table("workloads", ["workload", "what it is", "checkable"], rows).to_rich())


BENCH_COLUMNS = ["system", "zipf", "depth", "committed", "throughput", "goodput", "abort_rate",
                 "cascade_rate", "p50_ms", "p99_ms", "violation_rate", "valid"]
BENCH_FORMATS = {"throughput": ".0f", "goodput": ".0f", "abort_rate": ".3f",
                 "cascade_rate": ".3f", "p50_ms": ".2f", "p99_ms": ".2f",
                 "violation_rate": ".3f", "request_p50_ms": ".1f", "request_p99_ms": ".1f",
                 "request_goodput": ".1f"}


@app.command()
def bench(
    system: str = typer.Option(..., "--system", "-s",
                               help="Comma-separated systems (syslab txn systems)."),
    workload: str = typer.Option("list-append", "--workload", "-w",
                                 help="Workload (syslab txn workloads)."),
    depth: str = typer.Option("1,2,4,8,16,32,64", "--depth", "-d",
                              help="Transactions in flight per client, comma-separated."),
    zipf: str = typer.Option("0.99", "--zipf", help="Zipf skews, comma-separated."),
    clients: int = typer.Option(4, "--clients", help="Client count."),
    duration: float = typer.Option(3.0, "--duration", help="Seconds per point."),
    warmup: float = typer.Option(0.5, "--warmup",
                                 help="Seconds run before each point's measured part."),
    keys: int = typer.Option(100, "--keys", help="Keys the workload draws from."),
    seed: int = typer.Option(0, "--seed"),
    fanout: int | None = typer.Option(
        None, "--fanout", help="Request mode: requests of this many transactions, at most "
        "depth in flight (the Ellis fan-out experiment)."),
    one_big: bool = typer.Option(False, "--one-big",
                                 help="With --fanout: each request as one big transaction."),
    delay_ms: float = typer.Option(0.0, "--delay-ms",
                                   help="MDSS: one-way delay injected between nodes."),
    probe: bool = typer.Option(True, "--probe/--no-probe",
                               help="Measure the issue-order violation rate at each depth."),
    check_histories: bool = typer.Option(
        True, "--check/--no-check", help="Check checkable histories against the model the "
        "system claims."),
    timeout: float = typer.Option(10.0, "--timeout",
                                  help="Seconds before a transaction counts as indeterminate."),
    out: Path = typer.Option(Path("out/txn"), "--out",
                             help="Folder for histories, results.json and plots."),
) -> None:
    """Run each system under the workload at each depth and skew; tables, plots, histories."""
    from syslab.common.report import Table
    from syslab.common.sweep import progress_bar
    from syslab.txn.bench import BenchConfig, run_bench
    from syslab.txn.plots import depth_curves, zipf_curves

    names = [s.strip() for s in system.split(",") if s.strip()]
    if fanout is not None and fanout < 1:
        raise UserError(f"--fanout must be at least 1, got {fanout}")
    if one_big and fanout is None:
        raise UserError("--one-big needs --fanout")
    if delay_ms < 0 or timeout <= 0:
        raise UserError("--delay-ms must be >= 0 and --timeout > 0")
    cfg = BenchConfig(
        systems=names, workload=workload, depths=_numbers(depth, "depths"),
        zipfs=_numbers(zipf, "zipf skews", float), clients=clients, duration=duration,
        warmup=warmup, keys=keys,
        seed=seed, request_size=fanout, one_big=one_big, timeout=timeout, probe=probe,
        check=check_histories, out_dir=out / "histories",
        system_options={s: {"delay_ms": delay_ms} for s in names if s.startswith("mdss")})
    cfg.validate()
    console = _console()
    total = len(cfg.systems) * len(cfg.depths) * len(cfg.zipfs)
    import asyncio

    with progress_bar(console) as bar:
        task = bar.add_task(f"{workload}", total=total)
        rows = asyncio.run(run_bench(cfg, on_point=lambda r: bar.advance(task)))
    columns = [c for c in BENCH_COLUMNS if any(c in r for r in rows)]
    if fanout:
        columns += ["request_p50_ms", "request_p99_ms", "request_goodput"]
    shown = [r | {"valid": {True: "yes", False: "NO"}.get(r.get("valid"), "")} for r in rows]
    console.print(Table(f"{workload}, {clients} clients, {duration:g} s per point",
                        columns, shown, BENCH_FORMATS).to_rich())
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1, default=float))
    for z in cfg.zipfs:
        at = [r for r in rows if r["zipf"] == z]
        if len(cfg.depths) > 1:
            console.print(f"plot: {depth_curves(at, out / f'depth_z{z:g}.png', workload)}")
    if len(cfg.zipfs) > 1:
        console.print(f"plot: {zipf_curves(rows, out / 'zipf.png', workload)}")
    for r in rows:
        if r.get("valid") is False:
            console.print(f"[red]{r['system']} depth {r['depth']}: not {r['model']}:[/] "
                          f"{r['anomalies']} (syslab txn check {r['history']})")


@app.command()
def check(
    history: Path = typer.Argument(..., help="A history (JSON Lines) recorded by bench."),
    model: str | None = typer.Option(
        None, "--model", "-m", help="read-committed, snapshot-isolation, serializable, "
        "strict-serializable or mdss; default: the history's meta 'model', else "
        "strict-serializable."),
    examples: int = typer.Option(3, "--examples", help="Explained anomalies shown per kind."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON."),
) -> None:
    """Check a history for anomalies (Elle-style: G0, G1a/b/c, G-single, G2-item, realtime and
    issue-order variants, MDSS failure suffixes); exit 1 if the model forbids what was found."""
    import time

    from syslab.txn.checker import check as run_check
    from syslab.txn.checker.models import model as model_named
    from syslab.txn.history import read_history

    if model is not None:
        model_named(model)  # an unknown model fails before the file is read
    h = read_history(history)
    chosen = model or h.meta.get("model") or "strict-serializable"
    t0 = time.perf_counter()
    report = run_check(h, model=chosen)
    seconds = time.perf_counter() - t0
    console = _console()
    for line in report.lines(examples):
        console.print(line, highlight=False, markup=False)
    console.print(f"checked {len(h)} transactions in {seconds:.2f} s", style="dim")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_json(), indent=1))
    if not report.valid:
        raise typer.Exit(1)


@app.command()
def serve(
    delay_ms: float = typer.Option(0.0, "--delay-ms",
                                   help="One-way delay injected on every message."),
    shards: int = typer.Option(3, "--shards"),
    replicas: int = typer.Option(3, "--replicas"),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Where the replicas' logs live (default: a temp dir)."),
    base_port: int | None = typer.Option(
        None, "--base-port", help="Replica (s, r) listens on base + s * replicas + r "
        "(default: free ports)."),
) -> None:
    """Start an MDSS cluster (shards x replicas processes on 127.0.0.1) until Ctrl-C or
    SIGTERM; prints where each replica listens."""
    import signal
    import threading

    from syslab.txn.mdss.cluster import Cluster

    if shards < 1 or replicas < 1 or replicas % 2 == 0:
        raise UserError(f"shards must be >= 1 and replicas odd (a majority), got {shards} "
                        f"and {replicas}")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Cluster(shards=shards, replicas=replicas, delay_ms=delay_ms, data_dir=data_dir,
                 base_port=base_port) as cluster:
        for s in range(shards):
            ports = [cluster.port(s, r) for r in range(replicas)]
            print(f"shard {s}: leader 127.0.0.1:{ports[0]}, followers "
                  + ", ".join(f"127.0.0.1:{p}" for p in ports[1:]), flush=True)
        print("leaders " + ",".join(str(p) for p in cluster.leader_ports), flush=True)
        stop.wait()
    print("stopped", flush=True)
