"""`syslab cdn …`: run a caching node, plan placement across regions."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import typer

from syslab.common.errors import UserError

app = typer.Typer(
    no_args_is_help=True,
    help="Self-hosted CDN: caching reverse proxy, tiers, push/purge, placement planning.",
)


_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 10**6,
    "mb": 10**6,
    "mib": 2**20,
    "g": 10**9,
    "gb": 10**9,
    "gib": 2**30,
    "t": 10**12,
    "tb": 10**12,
    "tib": 2**40,
}


def parse_bytes(text: str) -> int:
    """`1GiB`, `512MiB`, `10k`, `4096` → bytes; a one-line error otherwise."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise UserError(f"bad byte size {text!r}: write e.g. 4096, 512MiB or 1GiB")
    value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if value <= 0:
        raise UserError(f"byte size must be positive, got {text!r}")
    return value


def _check_url(url: str, flag: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise UserError(f"{flag} must be an http://HOST:PORT URL without a path, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as e:
        raise UserError(f"{flag} has a bad port: {url!r}") from e
    return url.rstrip("/")


@app.command()
def serve(
    origin: str = typer.Option(..., help="Origin server, http://HOST:PORT."),
    listen: str = typer.Option("127.0.0.1:8080", help="Address to listen on, HOST:PORT."),
    capacity: str = typer.Option("1GiB", help="Memory tier size per worker (e.g. 512MiB)."),
    policy: str = typer.Option("s3fifo", help="Eviction policy from the cache lab."),
    parent: list[str] = typer.Option(
        [], help="Parent node URL (repeat); chosen per key by rendezvous hashing."
    ),
    peer: list[str] = typer.Option([], help="Other node purges propagate to (repeat)."),
    workers: int = typer.Option(1, min=1, max=256, help="Worker processes (SO_REUSEPORT)."),
    name: str = typer.Option("syslab", help="Cache name in Cache-Status."),
    admin_token: str = typer.Option(
        None, envvar="SYSLAB_CDN_TOKEN", help="Token for the admin API (/.syslab/…)."
    ),
    disk: Path = typer.Option(
        None, help="Folder for the disk tier (a subfolder per worker; survives restarts)."
    ),
    disk_capacity: str = typer.Option("10GiB", help="Disk tier size per worker."),
    prefetch: int = typer.Option(
        0, min=0, max=64, help="HLS/DASH: segments to fetch ahead (0: off)."
    ),
    timeout: float = typer.Option(10.0, min=0.01, help="Upstream connect/read timeout, seconds."),
    max_object: str = typer.Option("64MiB", help="Largest response to store."),
    slice_size: str = typer.Option(
        "1MiB", "--slice", help="Store objects above this size in slices of it (0: never)."
    ),
    access_log: Path = typer.Option(
        None, help="Append a line per request (Common Log Format + Cache-Status + ms)."
    ),
) -> None:
    """Run a caching reverse proxy in front of ORIGIN."""
    from syslab.cache.policies import POLICIES
    from syslab.cdn.node import NodeConfig
    from syslab.cdn.server import serve as run

    if policy not in POLICIES or policy == "belady":
        online = ", ".join(p for p in POLICIES if p != "belady")
        raise UserError(f"unknown or offline policy {policy!r}; choose from {online}")
    config = NodeConfig(
        origin=_check_url(origin, "--origin"),
        capacity=parse_bytes(capacity),
        policy=policy,
        name=name,
        parents=[_check_url(p, "--parent") for p in parent],
        peers=[_check_url(p, "--peer") for p in peer],
        admin_token=admin_token,
        timeout=timeout,
        max_object=parse_bytes(max_object),
        disk_path=str(disk) if disk else None,
        disk_capacity=parse_bytes(disk_capacity),
        prefetch_depth=prefetch,
        slice_size=0 if slice_size.strip() == "0" else parse_bytes(slice_size),
        access_log=str(access_log) if access_log else None,
    )
    run(config, listen, workers, announce=lambda line: print(line, flush=True))


@app.command()
def origin(
    listen: str = typer.Option("127.0.0.1:8081", help="Address to listen on, HOST:PORT."),
) -> None:
    """Run the small test origin: /gen/NAME?size=N&cc=max-age=60 makes N-byte objects."""
    from aiohttp import web

    from syslab.cdn.origin import Origin
    from syslab.cdn.server import bind, parse_listen

    host, port = parse_listen(listen)
    sock = bind(host, port, reuse_port=False)  # a taken port is a one-line error, here
    port = sock.getsockname()[1]
    print(f"syslab cdn origin on http://{host}:{port}", flush=True)
    web.run_app(Origin(host, port).app(), sock=sock, print=None, access_log=None)


@app.command()
def plan(
    log: Path = typer.Argument(
        None,
        help="Request log CSV (time,region,url,size), or a sized cache trace to replay "
        "(Tencent photo, oracleGeneral).",
    ),
    prices: Path = typer.Option(
        None,
        "--prices",
        help="Nodes, prices and inter-node transfer, JSON or TOML; or the built-in 'example' / "
        "'cloud' (default with --synthetic: 'example').",
    ),
    train_fraction: float = typer.Option(
        0.5, help="Share of the log's time span to learn on; the next window is evaluated."
    ),
    prior_fraction: float = typer.Option(
        0.0, help="Steady state: a window before training whose plan is already on the edges."
    ),
    remainder_lru: float = typer.Option(
        0.0, help="Share of unpushed capacity given to an LRU for non-pushed objects (0: none)."
    ),
    local_only: bool = typer.Option(
        False,
        "--local-only",
        help="Single-region model: ignore inter-node transfer (each region served only by its "
        "own node or the origin).",
    ),
    out: Path = typer.Option(Path("out/cdn-plan"), help="Folder for results.json and the plot."),
    synthetic: bool = typer.Option(False, "--synthetic", help="Generate a regional log instead."),
    seed: int = typer.Option(0, help="Seed of the synthetic log."),
) -> None:
    """Plan what to push to which edge from demand and prices; compare with LRU everywhere."""
    import json

    from rich.console import Console

    from syslab.cdn import plan as placement

    console = Console()
    if synthetic == (log is not None):
        raise UserError("give a request log LOG or --synthetic (one of them)")
    if prices is None and not synthetic:
        raise UserError("--prices is required with a request log (JSON or TOML)")
    if not 0 <= remainder_lru <= 1:
        raise UserError(f"--remainder-lru must be between 0 and 1, got {remainder_lru}")
    costs = placement.read_prices(prices) if prices else placement.example_prices()
    if synthetic:
        requests = placement.synthetic_log(costs.regions, seed=seed)
        placement.write_log(requests, out / "synthetic_log.csv")
        if prices is None:
            (out / "prices.json").write_text(json.dumps(placement.EXAMPLE_PRICES, indent=1) + "\n")
    else:
        requests = placement.load_log(log, costs)
    comp = placement.compare(
        requests,
        costs,
        train_fraction=train_fraction,
        prior_fraction=prior_fraction,
        remainder=remainder_lru,
        local_only=local_only,
    )
    for table in placement.tables(comp):
        console.print(table.to_rich())
    console.print(placement.verdict(comp))
    for path in placement.write_results(comp, out):
        console.print(f"[dim]wrote {path}")


@app.command()
def replay(
    trace: Path = typer.Argument(..., help="A trace the cache lab reads (any of its formats)."),
    target: list[str] = typer.Option(..., help="Node URL (repeat to spread clients round robin)."),
    fmt: str = typer.Option(None, "--format", "-f", help="Trace format (guessed if omitted)."),
    limit: int = typer.Option(None, min=1, help="Replay only the first N requests."),
    concurrency: int = typer.Option(8, min=1, max=1024, help="Concurrent clients per run."),
    size: str = typer.Option("10KiB", help="Object size when the trace has none."),
    max_size: str = typer.Option("8MiB", help="Cap on object sizes from the trace."),
    json_out: Path = typer.Option(None, "--json", help="Write per-run results as JSON."),
) -> None:
    """Replay a cache trace as HTTP against live nodes (in front of `syslab cdn origin`)."""
    import asyncio
    import json

    import numpy as np
    from rich.console import Console

    from syslab.cache.workloads import read_trace
    from syslab.cdn.replay import object_sizes
    from syslab.cdn.replay import replay as run
    from syslab.common.report import Table
    from syslab.common.sweep import progress_bar

    targets = [_check_url(t, "--target") for t in target]
    loaded = read_trace(trace, fmt, limit=limit)
    sizes = object_sizes(loaded, parse_bytes(size), parse_bytes(max_size))
    with progress_bar() as progress:
        bar = progress.add_task(f"replaying {loaded.name}", total=len(loaded.keys))
        result = asyncio.run(
            run(
                targets,
                loaded,
                concurrency=concurrency,
                sizes=sizes,
                progress=lambda n: progress.advance(bar, n),
            )
        )
    if result.errors == len(loaded.keys):
        raise UserError(f"every request failed: is a node listening at {', '.join(targets)}?")
    ms = result.latency * 1e3
    row = {
        "trace": loaded.name,
        "requests": len(loaded.keys),
        "errors": result.errors,
        "hit_ratio": result.hit_ratio,
        "byte_hit_ratio": result.byte_hit_ratio,
        "req_per_s": len(loaded.keys) / result.wall,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }
    formats = {
        "hit_ratio": ".4f",
        "byte_hit_ratio": ".4f",
        "req_per_s": ",.0f",
        "p50_ms": ".2f",
        "p99_ms": ".2f",
    }
    Console().print(Table("replay", list(row), [row], formats).to_rich())
    if json_out is not None:
        json_out.write_text(json.dumps(row, indent=1))
