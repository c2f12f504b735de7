"""`syslab train …`: benchmark data-parallel training, fit and replay a performance model.

Every flag is checked before a worker starts, so a typo costs a second and one line on
stderr (a `UserError`, exit code 2). Heavy modules (torch) are imported inside the commands:
`syslab --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from syslab.common.errors import UserError
from syslab.common.flags import numbers
from syslab.common.report import Table, table_console

app = typer.Typer(no_args_is_help=True,
                  help="Training: where data-parallel time goes, our DataParallel, scaling.")

BENCH_COLUMNS = ["model", "batch", "workers", "impl", "bucket_cap_mb", "rate_mbit",
                 "iteration_s", "forward_s", "backward_compute_s", "exposed_comm_s",
                 "optimizer_s", "comm_span_s", "payload_mb", "wire_ratio", "samples_per_s",
                 "repeats"]
FORMATS = {k: ".3f" for k in BENCH_COLUMNS if k.endswith("_s")} | {
    "payload_mb": ".2f", "wire_ratio": ".4f", "samples_per_s": ".1f",
    "scaling_efficiency": ".2f"}


def _names(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _rates(text: str | None) -> list[float | None]:
    if text is None:
        return [None]
    rates = numbers(text, "bandwidth limits (Mbit/s)", float)
    if any(r <= 0 for r in rates):
        raise UserError(f"bandwidth limits must be positive, got {text!r}")
    return rates


def _caps(text: str) -> list[float | None]:
    """Bucket caps from --bucket-mb: numbers (MiB) or 'default' (DDP's layout)."""
    caps: list[float | None] = []
    for part in _names(text):
        caps += [None] if part == "default" else numbers(part, "bucket sizes (MiB)", float)
    if not caps:
        raise UserError("no bucket sizes given")
    return caps


@app.command()
def models() -> None:
    """List the model zoo: parameters and bytes at 1000 classes and 32x32 inputs."""
    from syslab.train.models import model_bytes, model_names

    rows = []
    for name in model_names():
        size = 224 if name == "vit_b_16" else 63 if name == "alexnet" else 32
        nbytes = model_bytes(name, image_size=size)
        rows.append({"model": name, "image": size, "parameters": nbytes // 4,
                     "MB (fp32)": nbytes / 1e6})
    table_console().print(Table("model zoo (plain torch, torchvision's layouts)",
                                ["model", "image", "parameters", "MB (fp32)"], rows,
                                {"parameters": ",d", "MB (fp32)": ".1f"}).to_rich())


@app.command()
def impls() -> None:
    """List the data-parallel implementations `bench` can run."""
    from syslab.train.impls import IMPLS

    rows = [{"impl": i.name, "what it is": i.summary} for i in IMPLS.values()]
    table_console().print(Table("implementations", ["impl", "what it is"], rows).to_rich())


@app.command()
def bench(
    model: str = typer.Option("resnet18", "--model", "-m", help="Models, comma-separated."),
    batch: str = typer.Option("32", "--batch", "-b", help="Per-worker batch sizes."),
    workers: str = typer.Option("1,2", "--workers", "-n", help="Worker counts."),
    impl: str = typer.Option("ddp", "--impl", "-i", help="Implementations (syslab train impls)."),
    repeats: int = typer.Option(3, "--repeats", help="Interleaved repeats of every run."),
    iterations: int = typer.Option(10, "--iterations", help="Measured steps per run."),
    warmup: int = typer.Option(3, "--warmup", help="Steps run before the measured ones."),
    bucket_mb: str = typer.Option(
        "default", "--bucket-mb", help="Bucket caps in MiB, comma-separated; 'default' is "
        "DDP's layout (25 MiB, the first bucket 1 MiB), a number caps every bucket."),
    image_size: int = typer.Option(32, "--image-size", help="Square input side in pixels."),
    network: str = typer.Option(
        "auto", "--network", help="host (127.0.0.1 here), loopback (a private namespace: "
        "exact byte counts), veth (a namespace per worker on a bridge) or auto (loopback "
        "where namespaces may be created, else host)."),
    rate_mbit: str | None = typer.Option(
        None, "--rate-mbit", help="veth: per-worker bandwidth limits (tbf), comma-separated."),
    threads: int = typer.Option(1, "--threads", help="Compute threads per worker."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds before a stuck "
                                  "collective fails the run."),
    accumulate: int = typer.Option(1, "--accumulate", help="Micro-batches per step: all but "
                                   "the last accumulate gradients under no_sync()."),
    trace: Path | None = typer.Option(None, "--trace", help="Write torch.profiler traces "
                                      "(Chrome JSON, one per worker) of the measured steps "
                                      "under this folder, one subfolder per run."),
    out: Path = typer.Option(Path("out/train/bench.jsonl"), "--out",
                             help="JSON Lines file the rows are appended to."),
) -> None:
    """Train each configuration on synthetic data; time every phase, count every byte."""
    from syslab.common.sweep import progress_bar
    from syslab.train.bench import BenchConfig, aggregate, run_bench, with_baseline
    from syslab.train.launcher import resolve_network

    cfg = BenchConfig(
        models=_names(model), batches=numbers(batch, "batch sizes"),
        workers=numbers(workers, "worker counts"), impls=_names(impl), repeats=repeats,
        iterations=iterations, warmup=warmup,
        bucket_cap_mb=_caps(bucket_mb), image_size=image_size, network=network,
        rate_mbit=_rates(rate_mbit), threads=threads, timeout_s=timeout, accumulate=accumulate,
        trace_dir=trace, out=out)
    cfg.validate()
    console = table_console()
    cfg.network, why = resolve_network(cfg.network)
    if why:
        console.print(f"[yellow]note:[/] {why}")
    with progress_bar() as bar:
        task = bar.add_task("training runs", total=len(cfg.runs()) * cfg.repeats)

        def show(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, description=label)

        rows = run_bench(cfg, progress=show)
    table = with_baseline(aggregate(rows))
    for row in table:
        row["payload_mb"] = row["payload_bytes"] / 1e6
        if row["bucket_cap_mb"] is None:
            row["bucket_cap_mb"] = "default"
    columns = [c for c in BENCH_COLUMNS if any(r.get(c) is not None for r in table)]
    columns.append("scaling_efficiency")
    console.print(Table(f"data-parallel training, {cfg.network} network, medians of "
                        f"{repeats} repeats", columns, table, FORMATS).to_rich())
    console.print(f"rows: {out}")


@app.command()
def comm(
    workers: str = typer.Option("2,3,4", "--workers", "-n", help="Worker counts."),
    sizes: str = typer.Option(",".join(str(4**k * 2**16) for k in range(6)), "--sizes",
                              help="Allreduce sizes in bytes, comma-separated."),
    repeats: int = typer.Option(5, "--repeats"),
    network: str = typer.Option("auto", "--network", help="auto, host, loopback or veth."),
    rate_mbit: str | None = typer.Option(None, "--rate-mbit", help="veth: bandwidth limits."),
    out: Path = typer.Option(Path("out/train/comm.jsonl"), "--out"),
) -> None:
    """Time gloo allreduce per size and worker count; fit the alpha-beta model."""
    from syslab.common.records import write_jsonl
    from syslab.common.sweep import progress_bar
    from syslab.train.commbench import CommConfig
    from syslab.train.launcher import launch, resolve_network
    from syslab.train.metrics import comm_rows
    from syslab.train.perfmodel import fit_alpha_beta

    cfg = CommConfig(sizes=numbers(sizes, "sizes"), repeats=repeats)
    counts = numbers(workers, "worker counts")
    if any(n < 2 for n in counts):
        raise UserError("an allreduce needs at least 2 workers")
    rates = _rates(rate_mbit)
    network, why = resolve_network(network)
    if why:
        table_console().print(f"[yellow]note:[/] {why}")
    rows = []
    with progress_bar() as bar:
        task = bar.add_task("allreduce sweeps", total=len(counts) * len(rates))
        for rate in rates:
            for n in counts:
                result = launch(cfg, n, network=network, rate_mbit=rate)
                rows += comm_rows(result.ranks, network, rate)
                bar.advance(task)
    write_jsonl(out, rows, append=True)
    fit = fit_alpha_beta([(r["workers"], r["bytes"], r["median_s"]) for r in rows])
    console = table_console()
    console.print(Table(f"gloo allreduce ({network})",
                        ["workers", "rate_mbit", "bytes", "median_s", "wire_ratio"], rows,
                        {"median_s": ".4f", "wire_ratio": ".4f", "bytes": ",d"}).to_rich())
    console.print(f"alpha-beta fit: alpha {fit.alpha_s * 1e6:.0f} us, bus bandwidth "
                  f"{fit.bus_bandwidth_bytes_per_s / 1e9:.3f} GB/s, MAPE {fit.fit_mape:.1%}")
    console.print(f"rows: {out}")



def _read_rows(path: Path, what: str) -> list[dict]:
    """JSON Lines rows written by `bench` or `comm`; one line naming the problem otherwise."""
    import json

    from syslab.common.records import read_jsonl

    if not path.exists():
        raise UserError(f"{path}: no such file (write it with `syslab train {what}`)")
    try:
        rows = list(read_jsonl(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not JSON Lines ({e})") from None
    if not rows:
        raise UserError(f"{path}: no rows")
    return rows


@app.command()
def predict(
    rows: Path = typer.Option(Path("out/train/bench.jsonl"), "--rows",
                              help="Rows from `syslab train bench` holding a local run."),
    model: str = typer.Option("resnet18", "--model", "-m"),
    batch: int = typer.Option(32, "--batch", "-b"),
    workers: str = typer.Option("2,4,8,16,32", "--workers", "-n", help="Worker counts."),
    rate_mbit: str = typer.Option("1000,10000", "--rate-mbit", help="Link bandwidths."),
    bucket_mb: str = typer.Option("default", "--bucket-mb", help="Bucket caps (MiB)."),
    comm_rows_file: Path | None = typer.Option(
        None, "--comm", help="Rows from `syslab train comm` to fit alpha and beta on."),
    alpha_us: float = typer.Option(434.0, "--alpha-us", help="Per-step latency (without "
                                   "--comm; default: this machine's loopback fit)."),
    bus_gbps: float = typer.Option(0.9, "--bus-gbps", help="Bus bandwidth GB/s (without "
                                   "--comm); a link limit comes from --rate-mbit."),
    cpu_steal: float = typer.Option(0.0, "--cpu-steal", help="Backward's lost share while "
                                    "an allreduce runs (0: one worker per device)."),
) -> None:
    """Predict step time, overlap and scaling beyond this machine (one worker per device).

    Replays a measured single-worker profile for other worker counts, links and buckets.
    """
    from syslab.train.bench import aggregate
    from syslab.train.perfmodel import AlphaBeta, fit_alpha_beta
    from syslab.train.perfmodel.calibrate import CpuSharing, compute_profile, predict_row

    counts = numbers(workers, "worker counts")
    if any(n < 1 for n in counts) or batch < 1:
        raise UserError("worker counts and the batch size must be at least 1")
    if not 0 <= cpu_steal <= 1 or alpha_us < 0 or bus_gbps <= 0:
        raise UserError("--cpu-steal must be in [0, 1], --alpha-us >= 0, --bus-gbps > 0")
    measured = aggregate(_read_rows(rows, "bench"))
    try:
        profile = compute_profile(measured, model, batch, 1)
    except ValueError:
        raise UserError(f"{rows}: no local run of {model} at batch {batch} (run `syslab "
                        f"train bench --model {model} --batch {batch} --workers 1 --impl "
                        "local`)") from None
    if comm_rows_file is not None:
        samples = [(r["workers"], r["bytes"], r["median_s"])
                   for r in _read_rows(comm_rows_file, "comm") if r.get("rate_mbit") is None]
        fit = fit_alpha_beta(samples)
    else:
        fit = AlphaBeta(alpha_us * 1e-6, 1 / (bus_gbps * 1e9))
    local_s = profile.compute_s
    table = []
    for rate in _rates(rate_mbit):
        for cap in _caps(bucket_mb):
            for n in counts:
                row = {"workers": n, "bucket_cap_mb": cap, "rate_mbit": rate}
                p = predict_row(row, profile, fit, CpuSharing(cpu_steal=cpu_steal),
                                cores=n)
                table.append({**row, "bucket_cap_mb": "default" if cap is None else cap,
                              "step_ms": p.iteration_s * 1e3,
                              "exposed_comm_ms": p.exposed_comm_s * 1e3,
                              "hidden": p.overlap_fraction,
                              "samples_per_s": n * batch / p.iteration_s,
                              "scaling_efficiency": local_s / p.iteration_s})
    table_console().print(Table(
        f"predicted: {model}, batch {batch} per worker, one worker per device "
        f"(alpha {fit.alpha_s * 1e6:.0f} us, bus {fit.bus_bandwidth_bytes_per_s / 1e9:.2f} "
        "GB/s)", ["workers", "rate_mbit", "bucket_cap_mb", "step_ms", "exposed_comm_ms",
                  "hidden", "samples_per_s", "scaling_efficiency"], table,
        {"step_ms": ".1f", "exposed_comm_ms": ".1f", "hidden": ".0%",
         "samples_per_s": ".1f", "scaling_efficiency": ".2f"}).to_rich())


@app.command()
def report(
    rows: Path = typer.Option(Path("out/train/bench.jsonl"), "--rows",
                              help="Rows from `syslab train bench`."),
    out: Path = typer.Option(Path("out/train/report"), "--out", help="Folder for the "
                             "figures and index.html."),
) -> None:
    """Tables and figures of bench rows: phases per configuration, scaling, bytes."""
    from syslab.common.report import Section, write_html
    from syslab.train.bench import aggregate, with_baseline
    from syslab.train.plots import breakdown, bytes_and_compute, implementations, scaling

    table = with_baseline(aggregate(_read_rows(rows, "bench")))
    for row in table:
        row["payload_mb"] = row["payload_bytes"] / 1e6
        row["bucket_cap_mb"] = "default" if row["bucket_cap_mb"] is None else row[
            "bucket_cap_mb"]
    figures = [breakdown(table, out / "breakdown.png")]
    if len({r["workers"] for r in table}) > 1:
        figures.append(scaling(table, out / "scaling.png"))
    if len({r["batch"] for r in table}) > 1 and any(r["impl"] == "ddp" for r in table):
        figures.append(bytes_and_compute(table, out / "bytes_compute.png"))
    if len({r["impl"] for r in table}) > 1:
        figures.append(implementations(table, out / "impls.png"))
    columns = [c for c in BENCH_COLUMNS if any(r.get(c) is not None for r in table)]
    section = Section(title="data-parallel training", text=f"rows: {rows}",
                      tables=[Table("medians of repeats", [*columns, "scaling_efficiency"],
                                    table, FORMATS)], figures=figures)
    console = table_console()
    section.print(console)
    console.print(f"report: {write_html([section], out, title='syslab train report')}")
