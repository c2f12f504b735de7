"""CDN miss-path benchmark: cold-key throughput vs a plain aiohttp proxy, and miss coalescing.

    .venv/bin/python benchmarks/cdn/miss_path.py [--duration 6] [--rounds 3] [--quick]

(a) Throughput when every request misses. nginx serves 10 KiB files (testbed.NginxOrigin);
wrk asks for a new URL on every request (a Lua counter in the query string: the origin
ignores it, a cache keys on it), so every request is a cold miss that our node fetches,
stores (evicting once the store is full) and answers. The baseline is the plain reverse
proxy the issue names: an aiohttp.web server forwarding each request through one pooled
aiohttp.ClientSession, no caching (`AiohttpProxy` below; both run on uvloop, one process).
The proxy under test is pinned to CPU 0; wrk and the nginx origin share CPU 1. Rounds
alternate the two proxies; figures are requests per proxy CPU-second (utime+stime of its
process tree) and wall req/s.

(b) Coalescing: 1,000 connections opened first, then one request each for the same cold
key, which the origin (the Python test origin, on a thread of this process) answers after
`--delay` seconds. We expect exactly one origin fetch and 1,000 200s; the time to answer
all is measured from the first write to the last complete response. The aiohttp proxy and
nginx proxy_cache (proxy_cache_lock on) are measured the same way for reference.

Writes the "miss_path" key of benchmarks/results/cdn.json (other keys are kept) and
docs/figures/cdn/miss_path.{png,svg}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from rich.console import Console

from syslab.cdn.testbed import (
    ManagedServer,
    NginxOrigin,
    NginxProxyCache,
    SyslabCdn,
    find_binary,
    run_wrk,
    tool_version,
)
from syslab.common.records import update_json
from syslab.common.report import Table

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "docs" / "figures" / "cdn"
OBJECT_SIZE = 10 * 1024
PROXY_CPU, CLIENT_CPU = "0", "1"
TOKEN = "miss-path-bench"
console = Console()
if not console.is_terminal:
    console = Console(width=180)


# --------------------------------------------------------------------------- the baseline


HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",  # aiohttp.web sets it from the body
    "host",
}


def serve_aiohttp_proxy(origin: str, port: int) -> None:
    """A plain reverse proxy: aiohttp.web in front of one pooled ClientSession, no cache.

    The client session is configured as our node's upstream is (same pool limits, no
    decompression, no automatic headers), so the two differ in what they do per request.
    """
    import aiohttp
    import uvloop
    from aiohttp import web
    from multidict import CIMultiDict

    origin = origin.rstrip("/")

    async def main() -> None:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512, limit_per_host=256),
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=10),
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
        )

        async def forward(request: web.Request) -> web.Response:
            headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
            body = await request.read() if request.can_read_body else None
            try:
                async with session.request(
                    request.method,
                    origin + request.path_qs,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                ) as upstream:
                    data = await upstream.read()
                    out = CIMultiDict(
                        (k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP
                    )
                    return web.Response(status=upstream.status, body=data, headers=out)
            except (aiohttp.ClientError, TimeoutError) as e:
                return web.Response(status=502, text=f"upstream: {type(e).__name__}\n")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", forward)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096, reuse_address=True)
        await site.start()
        await asyncio.Event().wait()  # until SIGTERM ends the process

    uvloop.run(main())


class AiohttpProxy(ManagedServer):
    """`serve_aiohttp_proxy` in its own process, managed like the testbed's servers."""

    name = "aiohttp-proxy"
    ready_timeout = 30.0

    def __init__(self, origin_url: str, cpus: str | None = None) -> None:
        super().__init__(cpus)
        self.origin_url = origin_url

    def _command(self) -> list[str]:
        script = str(Path(__file__).resolve())
        return [sys.executable, script, "--serve-proxy", self.origin_url, "--port", str(self.port)]


class SyslabCdnGcOff(SyslabCdn):
    """Diagnostic only: our node with Python's cyclic GC disabled in the worker.

    The stored objects (tens of thousands, each a few container objects) make every full
    collection walk the whole cache; this variant measures what that costs on the miss path.
    It is not the shipped configuration (the CLI is started through runpy after gc.disable()).
    """

    name = "syslab-cdn-gc-off"

    def _command(self) -> list[str]:
        args = super()._command()[3:]  # after `python -m syslab`
        code = (
            "import gc, runpy, sys; gc.disable(); "
            f"sys.argv = ['syslab', *{args!r}]; runpy.run_module('syslab', run_name='__main__')"
        )
        return [sys.executable, "-c", code]


# --------------------------------------------------------------------------- (a) wrk, cold keys

_UNIQUE_LUA = """
local n = FILES
local run = "RUN"
local counter = 0
local nthreads = 0

function setup(thread)
    thread:set("tid", nthreads)
    nthreads = nthreads + 1
end

function init(args)
    prefix = "?r=" .. run .. "-" .. (tid or 0) .. "&u="
end

function request()
    counter = counter + 1
    return wrk.format("GET", string.format("/obj/%05d", counter % n) .. prefix .. counter)
end
"""


def wrk_unique(
    url: str, files: int, duration: int, connections: int, cpu_pids: list[int], taskset: str | None
) -> dict:
    """wrk -t1 over keep-alive, a never-seen URL per request; CPU of `cpu_pids` over the run."""
    run = uuid.uuid4().hex[:8]
    lua = _UNIQUE_LUA.replace("FILES", str(files)).replace("RUN", run)
    result = run_wrk(url, [], 1, connections, duration, cpu_pids, taskset, request_lua=lua)
    result["cpu_utilisation"] = result["server_cpu_s"] / result["duration_s"]
    result["run"] = run
    return result


def node_stats(url: str) -> dict:
    req = urllib.request.Request(
        url + "/.syslab/stats", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def check_object(url: str, path: str) -> tuple[int, int]:
    with urllib.request.urlopen(url + path, timeout=10) as r:
        return r.status, len(r.read())


def throughput(args, notes: list[str]) -> dict:
    pinned = {int(PROXY_CPU), int(CLIENT_CPU)} <= os.sched_getaffinity(0)
    proxy_pin, client_pin = (PROXY_CPU, CLIENT_CPU) if pinned else (None, None)
    if not pinned:
        notes.append("CPUs 0 and 1 not both usable: nothing pinned")
    runs: dict[str, list[dict]] = {"syslab": [], "aiohttp_proxy": []}
    if args.diagnostic:
        runs["syslab_gc_off"] = []
    checks: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="syslab-misspath-") as tmp:
        www = Path(tmp) / "www" / "obj"
        www.mkdir(parents=True)
        for i in range(args.files):
            (www / f"{i:05d}").write_bytes(os.urandom(OBJECT_SIZE))
        with NginxOrigin(Path(tmp) / "www", cpus=client_pin) as origin:
            servers = {
                "syslab": SyslabCdn(
                    origin.url,
                    extra_args=[
                        "--capacity",
                        args.capacity,
                        "--admin-token",
                        TOKEN,
                        "--name",
                        "edge",
                    ],
                    cpus=proxy_pin,
                ),
                "aiohttp_proxy": AiohttpProxy(origin.url, cpus=proxy_pin),
            }
            if args.diagnostic:
                servers["syslab_gc_off"] = SyslabCdnGcOff(
                    origin.url,
                    extra_args=["--capacity", args.capacity, "--name", "edge"]
                    + ["--admin-token", TOKEN],
                    cpus=proxy_pin,
                )
            try:
                for server in servers.values():
                    server.start()
                for name, server in servers.items():  # sanity: both proxy a 10 KiB file
                    status, size = check_object(server.url, "/obj/00000?warmup=1")
                    if (status, size) != (200, OBJECT_SIZE):
                        raise RuntimeError(f"{name}: /obj/00000 gave {status}, {size} bytes")
                # an unmeasured run each: pools filled, and our stores filled to capacity so
                # that the measured misses also evict (a cache's steady state)
                for server in servers.values():
                    wrk_unique(
                        server.url,
                        args.files,
                        args.warmup,
                        args.connections,
                        server.pids(),
                        client_pin,
                    )
                ours = [n for n in servers if n.startswith("syslab")]
                before = {n: node_stats(servers[n].url) for n in ours}
                names = list(servers)
                for rnd in range(args.rounds):
                    for name in names[rnd % len(names) :] + names[: rnd % len(names)]:
                        server = servers[name]
                        r = wrk_unique(
                            server.url,
                            args.files,
                            args.duration,
                            args.connections,
                            server.pids(),
                            client_pin,
                        )
                        r["load_avg_1m"] = os.getloadavg()[0]
                        runs[name].append(r)
                        console.print(
                            f"round {rnd + 1} {name:14s} {r['req_per_cpu_s'] or 0:8,.0f} req/CPU-s"
                            f" {r['req_per_s']:8,.0f} req/s  CPU {r['cpu_utilisation']:.0%}"
                            f"  p99 {r['p99_ms']:.1f} ms  errors {r['errors']}"
                        )
                after = {n: node_stats(servers[n].url) for n in ours}
            finally:
                for server in servers.values():
                    server.stop()
    for name in after:
        b, a = before[name], after[name]
        counts = {k: a["counts"][k] - b["counts"].get(k, 0) for k in a["counts"]}
        checks[name] = {
            "wrk_requests": sum(r["requests"] for r in runs[name]),
            "node_requests": counts["requests"],
            "misses": counts["misses"],
            "hits": counts["hits"],
            "origin_fetches": counts["origin_fetches"],
            "stored": counts["stored"],
            "evictions_during_measured_runs": a["evictions"] - b["evictions"],
            "objects_at_end": a["objects"],
            "bytes_at_end": a["bytes"],
            "capacity": a["capacity"],
        }
        if counts["hits"]:
            notes.append(f"{name}: {counts['hits']} hits during the cold-key runs (expected 0)")
        if not checks[name]["evictions_during_measured_runs"]:
            notes.append(f"{name}: store not full during the measured runs (no evictions)")
    return summarise_throughput(runs, checks, pinned)


def summarise_throughput(runs: dict, checks: dict, pinned: bool) -> dict:
    out: dict = {"runs": runs, "checks": checks, "servers": {}}
    for name, rs in runs.items():
        per_cpu = [r["req_per_cpu_s"] for r in rs if r["req_per_cpu_s"]]
        wall = [r["req_per_s"] for r in rs]
        out["servers"][name] = {
            "req_per_cpu_s_best": max(per_cpu),
            "req_per_cpu_s_median": statistics.median(per_cpu),
            "req_per_s_best": max(wall),
            "req_per_s_median": statistics.median(wall),
            "cpu_utilisation_median": statistics.median(r["cpu_utilisation"] for r in rs),
            "p50_ms_median": statistics.median(r["p50_ms"] for r in rs),
            "p99_ms_median": statistics.median(r["p99_ms"] for r in rs),
            "errors": sum(r["errors"] for r in rs),
        }
    ours, base = out["servers"]["syslab"], out["servers"]["aiohttp_proxy"]
    # per-round ratio: each round ran both back to back, so the pair saw the same machine
    paired = [
        a["req_per_cpu_s"] / b["req_per_cpu_s"]
        for a, b in zip(runs["syslab"], runs["aiohttp_proxy"], strict=True)
        if a["req_per_cpu_s"] and b["req_per_cpu_s"]
    ]
    out["ratios"] = {
        "req_per_cpu_s_median": ours["req_per_cpu_s_median"] / base["req_per_cpu_s_median"],
        "req_per_cpu_s_best": ours["req_per_cpu_s_best"] / base["req_per_cpu_s_best"],
        "req_per_cpu_s_paired_rounds": paired,
        "req_per_s_median": ours["req_per_s_median"] / base["req_per_s_median"],
    }
    if "syslab_gc_off" in out["servers"]:
        off = out["servers"]["syslab_gc_off"]
        out["ratios"]["gc_off_vs_aiohttp_req_per_cpu_s_median"] = (
            off["req_per_cpu_s_median"] / base["req_per_cpu_s_median"]
        )
        out["ratios"]["gc_off_vs_syslab_req_per_cpu_s_median"] = (
            off["req_per_cpu_s_median"] / ours["req_per_cpu_s_median"]
        )
    out["goal_ours_at_least_aiohttp_per_cpu"] = out["ratios"]["req_per_cpu_s_median"] >= 1.0
    out["pinned"] = pinned
    return out


# --------------------------------------------------------------------------- (b) coalescing


async def _one(reader: asyncio.StreamReader) -> tuple[int, int, str]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
    body = await reader.readexactly(int(fields.get("content-length", "0")))
    return status, len(body), fields.get("cache-status", fields.get("x-cache-status", ""))


async def burst(url: str, path: str, n: int) -> dict:
    """Open `n` connections, then send one GET for `path` on each at once; time all answers."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conns = await asyncio.gather(
        *(asyncio.open_connection(parts.hostname, parts.port) for _ in range(n))
    )
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    done_at = [0.0] * n
    results: list[tuple[int, int, str]] = [(0, 0, "")] * n

    async def wait(i: int, reader: asyncio.StreamReader) -> None:
        try:
            results[i] = await asyncio.wait_for(_one(reader), 30)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            results[i] = (0, 0, "")
        done_at[i] = time.perf_counter()

    t0 = time.perf_counter()
    for _, writer in conns:
        writer.write(request)
    await asyncio.gather(*(wait(i, r) for i, (r, _) in enumerate(conns)))
    for _, writer in conns:
        writer.close()
    statuses: dict[str, int] = {}
    for status, _, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    times = sorted(t - t0 for t in done_at)
    return {
        "requests": n,
        "statuses": statuses,
        "all_200": statuses.get("200", 0) == n,
        "body_bytes_ok": sum(1 for s, size, _ in results if s == 200 and size == OBJECT_SIZE),
        "collapsed": sum(1 for _, _, cs in results if "collapsed" in cs),
        "time_to_all_s": times[-1],
        "time_to_first_s": times[0],
        "p50_s": times[len(times) // 2],
    }


def coalescing(args, notes: list[str]) -> dict:
    import uvloop

    from syslab.cdn.origin import Origin

    out = {}
    with Origin() as origin:
        makers = {
            "syslab": lambda: SyslabCdn(
                origin.url, extra_args=["--capacity", "64MiB", "--admin-token", TOKEN]
            ),
            "nginx_proxy_cache_lock": lambda: NginxProxyCache(origin.url),
            "aiohttp_proxy": lambda: AiohttpProxy(origin.url),
        }
        for name, make in makers.items():
            path = f"/gen/cold-{uuid.uuid4().hex[:12]}?size={OBJECT_SIZE}&delay={args.delay}"
            try:
                with make() as server:
                    before = origin.hits[path]
                    r = uvloop.run(burst(server.url, path, args.concurrent))
                    r["origin_fetches"] = origin.hits[path] - before
                    if name == "syslab":
                        counts = node_stats(server.url)["counts"]
                        r["node_counts"] = {
                            k: counts[k] for k in ("misses", "coalesced", "origin_fetches", "hits")
                        }
            except Exception as exc:  # a reference that cannot run must not sink ours
                notes.append(f"coalescing {name}: {exc}")
                continue
            r["path"] = path
            out[name] = r
            console.print(
                f"coalescing {name:24s} origin fetches {r['origin_fetches']:5d}  "
                f"statuses {r['statuses']}  all answered in {r['time_to_all_s'] * 1e3:.0f} ms"
            )
    ours = out.get("syslab", {})
    out["goal_exactly_one_origin_fetch"] = ours.get("origin_fetches") == 1 and ours.get("all_200")
    return out


# --------------------------------------------------------------------------- output


def figure(summary: dict) -> Path | None:
    from syslab.common.plotting import grid, save

    tp, co = summary["throughput"], summary["coalescing"]
    fig, (ax1, ax2) = grid(2, cols=2, width=5.0, height=3.6)
    names = list(tp["runs"])
    labels = {
        "syslab": "syslab node",
        "aiohttp_proxy": "aiohttp proxy\n(no cache)",
        "syslab_gc_off": "syslab, GC off\n(diagnostic)",
    }
    for i, name in enumerate(names):
        vals = [r["req_per_cpu_s"] for r in tp["runs"][name]]
        ax1.bar(i, statistics.median(vals), color=f"C{i}", alpha=0.8)
        ax1.plot([i] * len(vals), vals, "k.", ms=5)
    ax1.set_xticks(range(len(names)), [labels.get(n, n) for n in names])
    ax1.set_ylabel("requests per proxy CPU-second")
    ax1.set_title("(a) every request a cold key, 10 KiB", fontsize=10)
    refs = [n for n in ("syslab", "nginx_proxy_cache_lock", "aiohttp_proxy") if n in co]
    short = {
        "syslab": "syslab",
        "nginx_proxy_cache_lock": "nginx\ncache_lock",
        "aiohttp_proxy": "aiohttp\nproxy",
    }
    fetches = [co[n]["origin_fetches"] for n in refs]
    bars = ax2.bar(range(len(refs)), fetches, color=["C0", "C2", "C1"][: len(refs)], alpha=0.8)
    for bar, n in zip(bars, refs, strict=True):
        ax2.annotate(
            f"{co[n]['origin_fetches']} fetch\n{co[n]['time_to_all_s'] * 1e3:.0f} ms",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax2.set_yscale("log")
    ax2.set_ylim(0.5, max(fetches + [1]) * 4)
    ax2.set_xticks(range(len(refs)), [short[n] for n in refs])
    ax2.set_ylabel("origin fetches")
    ax2.set_title(
        f"(b) {summary['config']['concurrent']} concurrent requests, one cold key", fontsize=10
    )
    return save(fig, FIGURES / "miss_path.png")


def write_results(summary: dict) -> Path:
    return update_json(RESULTS / "cdn.json", "miss_path", summary)


def show(summary: dict) -> None:
    tp = summary["throughput"]
    rows = [
        {
            "proxy": name,
            "req/CPU-s (median)": s["req_per_cpu_s_median"],
            "req/CPU-s (best)": s["req_per_cpu_s_best"],
            "req/s (median)": s["req_per_s_median"],
            "CPU use": s["cpu_utilisation_median"],
            "p50 ms": s["p50_ms_median"],
            "p99 ms": s["p99_ms_median"],
            "errors": s["errors"],
        }
        for name, s in tp["servers"].items()
    ]
    fmt = {c: ",.0f" for c in ("req/CPU-s (median)", "req/CPU-s (best)", "req/s (median)")}
    fmt.update({"CPU use": ".0%", "p50 ms": ".2f", "p99 ms": ".2f"})
    title = "CDN miss path: every request a cold 10 KiB key, nginx origin, wrk -t1 -c50"
    console.print(Table(title, list(rows[0]), rows, fmt).to_rich())
    r = tp["ratios"]
    console.print(
        f"ours / aiohttp proxy: {r['req_per_cpu_s_median']:.2f}x per CPU-s (median of rounds), "
        f"{r['req_per_s_median']:.2f}x wall req/s; goal >= 1: "
        f"{'met' if tp['goal_ours_at_least_aiohttp_per_cpu'] else 'NOT met'}"
    )
    if "gc_off_vs_aiohttp_req_per_cpu_s_median" in r:
        console.print(
            f"diagnostic, our node with the cyclic GC off: "
            f"{r['gc_off_vs_syslab_req_per_cpu_s_median']:.2f}x our node, "
            f"{r['gc_off_vs_aiohttp_req_per_cpu_s_median']:.2f}x the aiohttp proxy per CPU-s"
        )
    co = summary["coalescing"]
    rows = [
        {
            "server": name,
            "origin fetches": c["origin_fetches"],
            "200s": c["statuses"].get("200", 0),
            "collapsed": c.get("collapsed"),
            "first ms": c["time_to_first_s"] * 1e3,
            "p50 ms": c["p50_s"] * 1e3,
            "all ms": c["time_to_all_s"] * 1e3,
        }
        for name, c in co.items()
        if isinstance(c, dict)
    ]
    if rows:
        title = (
            f"Coalescing: {summary['config']['concurrent']} concurrent requests for one cold key, "
            f"origin delay {summary['config']['delay_s'] * 1e3:.0f} ms"
        )
        fmt = {c: ".0f" for c in ("first ms", "p50 ms", "all ms")}
        console.print(Table(title, list(rows[0]), rows, fmt).to_rich())
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/] {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=6, help="wrk seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating the proxies")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections")
    parser.add_argument("--files", type=int, default=1000, help="10 KiB files at the origin")
    parser.add_argument("--capacity", default="128MiB", help="our node's memory tier")
    parser.add_argument("--warmup", type=int, default=12, help="unmeasured seconds first")
    parser.add_argument("--concurrent", type=int, default=1000, help="(b) concurrent requests")
    parser.add_argument("--delay", type=float, default=0.2, help="(b) origin delay, seconds")
    parser.add_argument(
        "--diagnostic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure our node with the cyclic GC off (what GC costs)",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s, 200 concurrent")
    parser.add_argument("--serve-proxy", metavar="ORIGIN", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    if "--quick" in sys.argv[1:]:
        parser.set_defaults(duration=2, rounds=1, concurrent=200, warmup=1)
    args = parser.parse_args()
    if args.serve_proxy:
        serve_aiohttp_proxy(args.serve_proxy, args.port)
        return
    for binary in ("nginx", "wrk"):
        if find_binary(binary) is None:
            sys.exit(f"{binary} not found: run `make services` (apt-get install nginx-light wrk)")
    reason = SyslabCdn.unavailable()
    if reason:
        sys.exit(reason)
    notes: list[str] = []
    load_before = os.getloadavg()
    started = time.time()
    tp = throughput(args, notes)
    co = coalescing(args, notes)
    import aiohttp

    summary = {
        "command": "python benchmarks/cdn/miss_path.py " + " ".join(sys.argv[1:]),
        "config": {
            "object_bytes": OBJECT_SIZE,
            "origin": f"nginx (testbed.NginxOrigin), {args.files} files of 10 KiB; a new query "
            "string per request makes every URL a cold key",
            "wrk": f"-t1 -c{args.connections} -d{args.duration}s, Lua counter: unique URLs",
            "rounds": args.rounds,
            "node": f"syslab cdn serve --workers 1 --capacity {args.capacity} --policy s3fifo",
            "diagnostic": "syslab_gc_off: the same node with gc.disable() in the worker, "
            "not a shipped configuration"
            if args.diagnostic
            else None,
            "baseline": "aiohttp.web + one pooled aiohttp.ClientSession (limit 512), no cache, "
            "uvloop, 1 process",
            "pinning": f"proxy CPU {PROXY_CPU}; wrk and nginx origin CPU {CLIENT_CPU}",
            "concurrent": args.concurrent,
            "delay_s": args.delay,
            "coalescing_origin": "syslab.cdn.origin.Origin on a thread of the benchmark "
            "process (counts fetches per path); /gen/cold-<id>?size=10240&delay=<delay>",
            "quick": args.quick,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "nginx": tool_version([find_binary("nginx") or "nginx", "-v"]),
            "wrk": tool_version([find_binary("wrk") or "wrk", "-v"]),
            "load_avg_before": list(load_before),
            "load_avg_after": list(os.getloadavg()),
            "note": "2-core shared machine: wall req/s is noisy; compare per-CPU figures, "
            "rounds alternate the two proxies",
        },
        "elapsed_s": round(time.time() - started, 1),
        "throughput": tp,
        "coalescing": co,
        "notes": notes,
    }
    try:
        summary["figure"] = str(figure(summary).relative_to(ROOT))
    except Exception as exc:
        notes.append(f"figure failed: {exc}")
    out = write_results(summary)
    show(summary)
    console.print(f"[green]wrote[/] {out} (miss_path)")


if __name__ == "__main__":
    main()
