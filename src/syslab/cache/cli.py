"""`syslab cache …`: simulate, compare, analyse and draw miss-ratio curves."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from syslab.cache.engine import parse_size, simulate
from syslab.cache.policies import POLICIES, policy_class
from syslab.common.errors import UserError
from syslab.common.records import write_jsonl
from syslab.common.report import Table
from syslab.common.sweep import progress_bar

app = typer.Typer(no_args_is_help=True, help="Trace-driven cache-eviction simulator.")
console = Console()

TRACE = typer.Option(
    ..., "--trace", "-t", help="Trace file (.gz/.xz/.zst/.bz2 read transparently)."
)
FORMAT = typer.Option(
    None, "--format", "-f", help="Trace format; guessed from the name if omitted."
)
KEY_COLUMN = typer.Option(None, "--key-column", help="CSV: the key column (name or 0-based index).")
SIZE_COLUMN = typer.Option(None, "--size-column", help="CSV: the size column (name or index).")
SAMPLE = typer.Option(None, "--sample", help="Keep only this fraction of keys (SHARDS-style).")

RESULT_COLUMNS = [
    "policy",
    "size",
    "capacity",
    "miss_ratio",
    "byte_miss_ratio",
    "misses",
    "impl",
    "seconds",
]
RESULT_FORMATS = {"miss_ratio": ".4f", "byte_miss_ratio": ".4f", "seconds": ".3f"}


def split_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_policies(text: str) -> list[str]:
    names = list(POLICIES) if text.strip().lower() == "all" else split_list(text.lower())
    if not names:
        raise UserError("no policy given")
    for name in names:
        policy_class(name)  # unknown names fail here, before any work
    return names


def parse_sizes(text: str) -> list[float | int]:
    sizes = [parse_size(part) for part in split_list(text)]
    if not sizes:
        raise UserError("no cache size given")
    return sizes


def load(
    path: Path,
    fmt: str | None,
    key_column: str | None = None,
    size_column: str | None = None,
    sample: float | None = None,
):
    """Read a trace as the flags say; `sample` keeps a key-hash sample of it."""
    from syslab.cache.workloads import read_trace, sample_keys

    def column(c: str | None) -> str | int | None:
        return int(c) if c is not None and c.isdigit() else c

    trace = read_trace(path, fmt, key_column=column(key_column), size_column=column(size_column))
    return trace if sample is None else sample_keys(trace, sample)


@app.command()
def sim(
    trace: Path = TRACE,
    fmt: str = FORMAT,
    policy: str = typer.Option(
        "lru", "--policy", "-p", help=f"Comma-separated, or 'all': {', '.join(POLICIES)}."
    ),
    size: str = typer.Option(
        "0.01,0.1", "--size", "-s", help="Fractions of unique objects (0.01, 1%) or counts (5000)."
    ),
    use_bytes: bool = typer.Option(
        False, "--bytes", help="Capacity in bytes (fractions of the footprint)."
    ),
    impl: str = typer.Option(
        "auto", help="auto, fast (numba kernel) or reference (Python object)."
    ),
    json_out: Path = typer.Option(None, "--json", help="Append result records (JSON lines) here."),
    key_column: str = KEY_COLUMN,
    size_column: str = SIZE_COLUMN,
    sample: float = SAMPLE,
) -> None:
    """Simulate policies at cache sizes over one trace."""
    if impl not in ("auto", "fast", "reference"):
        raise UserError(f"bad --impl {impl!r}: choose auto, fast or reference")
    policies, sizes = parse_policies(policy), parse_sizes(size)
    data = load(trace, fmt, key_column, size_column, sample)
    records = []
    with progress_bar() as progress:  # reference policies on big traces take a while
        bar = progress.add_task("simulating", total=len(sizes) * len(policies))
        for z in sizes:
            for p in policies:
                records.append(simulate(data, p, z, use_bytes=use_bytes, impl=impl).record())
                progress.advance(bar)
    columns = [c for c in RESULT_COLUMNS if data.has_sizes or c != "byte_miss_ratio"]
    console.print(
        Table(
            f"{data.name}: {len(data):,} requests, {data.n_unique:,} objects",
            columns,
            records,
            RESULT_FORMATS,
        ).to_rich()
    )
    if json_out:
        write_jsonl(json_out, records, append=True)


@app.command()
def analyze(
    trace: Path = TRACE,
    fmt: str = FORMAT,
    json_out: Path = typer.Option(None, "--json", help="Write the statistics (JSON lines) here."),
    key_column: str = KEY_COLUMN,
    size_column: str = SIZE_COLUMN,
    sample: float = SAMPLE,
) -> None:
    """Workload statistics: one-hit wonders, reuse distances, popularity skew, family guess."""
    from syslab.cache.analysis import analyze as analyze_trace

    stats = analyze_trace(load(trace, fmt, key_column, size_column, sample)).to_record()
    hist = ("reuse_distance_log2_", "reuse_time_log2_")
    rows = [
        {"statistic": k, "value": v}
        for k, v in stats.items()
        if v is not None and not k.startswith(hist) and not isinstance(v, list | dict)
    ]
    console.print(Table(str(stats.get("name", trace.name)), ["statistic", "value"], rows).to_rich())
    bins = sorted({int(k.rsplit("_", 1)[1]) for k in stats if k.startswith(hist)})
    hist_rows = [
        {
            "bin": f"[{2**b}, {2 ** (b + 1)})",
            "reuse distance": stats.get(f"reuse_distance_log2_{b}", 0),
            "reuse time": stats.get(f"reuse_time_log2_{b}", 0),
        }
        for b in bins
    ]
    console.print(
        Table(
            "re-references by log2 bin (distance: distinct objects between; time: requests)",
            ["bin", "reuse distance", "reuse time"],
            hist_rows,
        ).to_rich()
    )
    if json_out:
        write_jsonl(json_out, [stats])


@app.command()
def mrc(
    trace: Path = TRACE,
    fmt: str = FORMAT,
    size: str = typer.Option(
        "0.001,0.003,0.01,0.03,0.1,0.3",
        "--size",
        "-s",
        help="Cache sizes to report (fractions or counts).",
    ),
    shards: float = typer.Option(None, help="Approximate with SHARDS at this sampling rate."),
    use_bytes: bool = typer.Option(False, "--bytes", help="Byte-capacity LRU MRC."),
    plot: Path = typer.Option(None, help="Save the curve as PNG (and SVG) here."),
    key_column: str = KEY_COLUMN,
    size_column: str = SIZE_COLUMN,
) -> None:
    """One-pass LRU miss-ratio curve (exact from stack distances, or SHARDS-sampled)."""
    import numpy as np

    from syslab.cache import mrc as mrcs
    from syslab.cache.engine import capacity_for

    if shards is not None and not 0 < shards <= 1:
        raise UserError(f"--shards must be a rate in (0, 1], got {shards}")
    if shards is not None and use_bytes:
        raise UserError("--shards and --bytes cannot be combined")
    data = load(trace, fmt, key_column, size_column)
    caps = np.array([capacity_for(data, z, use_bytes) for z in parse_sizes(size)])
    if use_bytes:
        curve = mrcs.lru_byte_mrc(data, caps)
    elif shards is not None:
        curve = mrcs.shards_mrc(data, caps, rate=shards)
    else:
        curve = mrcs.lru_mrc(data, caps)
    ratios = np.asarray(getattr(curve, "miss_ratios", curve), dtype=float)
    if shards is not None:  # sampled distances are multiples of 1/rate: smaller caches unknown
        ratios[caps < 1 / shards] = np.nan
    rows = [{"capacity": int(c), "miss_ratio": float(m)} for c, m in zip(caps, ratios, strict=True)]
    console.print(
        Table(
            f"{data.name}: LRU MRC", ["capacity", "miss_ratio"], rows, {"miss_ratio": ".4f"}
        ).to_rich()
    )
    if plot:
        from syslab.common import plotting

        fig, ax = plotting.figure()
        ax.plot(caps, ratios, marker="o")
        ax.set_xscale("log")
        ax.set(
            xlabel="cache size (bytes)" if use_bytes else "cache size (objects)",
            ylabel="miss ratio",
            title=f"{data.name}: LRU miss-ratio curve",
        )
        console.print(f"wrote {plotting.save(fig, plot)}")


@app.command()
def compare(
    trace: list[Path] = typer.Option(
        None, "--trace", "-t", help="Trace files (repeat); default: every shared trace."
    ),
    fmt: str = FORMAT,
    synthetic: bool = typer.Option(False, help="Use the built-in synthetic suite instead."),
    policy: str = typer.Option(
        "all", "--policy", "-p", help=f"Comma-separated, or 'all': {', '.join(POLICIES)}."
    ),
    size: str = typer.Option("0.01,0.1", "--size", "-s", help="Cache sizes (fractions or counts)."),
    use_bytes: bool = typer.Option(False, "--bytes", help="Capacity in bytes."),
    workers: int = typer.Option(None, help="Worker processes (default: one per core)."),
    out: Path = typer.Option(Path("out/cache/compare"), help="Folder for results and plots."),
) -> None:
    """All policies × sizes × traces in parallel; writes results.jsonl and plots."""
    from syslab.cache import compare as cmp
    from syslab.cache.workloads import shared_traces
    from syslab.cache.workloads.suites import synthetic_suite

    policies, sizes = parse_policies(policy), parse_sizes(size)
    if synthetic:
        sources = synthetic_suite()
    else:
        paths = trace or shared_traces()
        if not paths:
            raise UserError("no traces: pass --trace, use --synthetic, or set SYSLAB_DATA")
        sources = [cmp.file_source(p, fmt) for p in paths]
    records = cmp.run_compare(sources, policies, sizes, use_bytes=use_bytes, workers=workers)
    write_jsonl(out / "results.jsonl", records)
    means = cmp.mean_relative(records)
    rows = [
        {"policy": p} | {f"{z}": means.get((p, str(z)), float("nan")) for z in sizes}
        for p in policies
    ]
    console.print(
        Table(
            "mean miss ratio relative to LRU (lower is better)",
            ["policy", *(f"{z}" for z in sizes)],
            rows,
            dict.fromkeys((f"{z}" for z in sizes), ".3f"),
        ).to_rich()
    )
    figures = [
        cmp.plot_miss_ratio_curves(records, out / "miss_ratio_curves"),
        cmp.plot_relative_to_lru(records, out / "miss_ratio_vs_lru"),
    ]
    if any(r["bytes_requested"] != r["requests"] for r in records):
        figures.append(
            cmp.plot_relative_to_lru(
                records, out / "byte_miss_ratio_vs_lru", metric="byte_miss_ratio"
            )
        )
    for f in figures:
        console.print(f"wrote {f}")


@app.command()
def generate(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Where to write (.bin: oracleGeneral; .txt)."
    ),
    requests: int = typer.Option(1_000_000, help="Number of requests."),
    objects: int = typer.Option(100_000, help="Number of distinct objects in the Zipf body."),
    alpha: float = typer.Option(1.0, help="Zipf skew."),
    scan_fraction: float = typer.Option(0.0, help="Fraction of requests that are scans."),
    loop: bool = typer.Option(False, help="Scans loop over the same key ranges."),
    one_hit_fraction: float = typer.Option(0.0, help="Fraction of requests to one-hit wonders."),
    sizes: str = typer.Option(None, help="Object sizes: fixed, lognormal or pareto."),
    seed: int = typer.Option(0, help="Random seed (same seed, same trace)."),
) -> None:
    """Write a synthetic trace (Zipf body, scans or loops, one-hit wonders, sizes)."""
    from syslab.cache.workloads import synthetic
    from syslab.cache.workloads.readers import write_oracle, write_txt

    trace = synthetic(
        requests,
        objects,
        alpha,
        scan_fraction=scan_fraction,
        loop=loop,
        one_hit_fraction=one_hit_fraction,
        size_dist=sizes,
        seed=seed,
    )
    if ".bin" in out.name:
        write_oracle(trace, out)
    else:
        write_txt(trace, out)
    console.print(f"wrote {out}: {len(trace):,} requests, {trace.n_unique:,} objects")
