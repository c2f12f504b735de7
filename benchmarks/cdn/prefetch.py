"""CDN prefetch benchmark: first-byte hit ratio of sequential HLS viewers, live, by depth.

    .venv/bin/python benchmarks/cdn/prefetch.py [--depths 0 1 2 3] [--viewers 300] [--quick]

A static HLS VOD tree (`make_vod`: 40 videos x 25 segments x 3 renditions of 16/32/64 KiB,
4 s segments) is written to a temp dir and served by nginx (`NginxOrigin`), behind a small
aiohttp "far origin" process that adds a fixed delay (default 30 ms) to every answer and logs
what it sent. For each prefetch depth a fresh node (`syslab cdn serve --prefetch k`, its own
process) is started in front of it and a `viewers(...)` schedule is replayed through it by
concurrent asyncio viewers (aiohttp, one task per viewer), each sequential: a request goes
at its scheduled time, or when the viewer's previous response has arrived if that is later.

Time compression: playback is replayed at `--time-scale` (default 0.05: a 4 s segment every
0.2 s), the arrival window likewise (20 s here is 400 s of real arrivals), but the origin
delay is not scaled. So the origin fetch is 30 ms of a 200 ms segment interval (15 %),
harsher than a real far origin (100-300 ms of 4 s, 2.5-7.5 %): prefetch has less slack
here than it would in production, not more. The player's start-up gap (`startup_gap`,
50 ms between back-to-back requests) and the burst of `--burst` start-up segments are
real time too.

Per segment request we read the node's Cache-Status (last member): `hit` = answered from
the store (a first-byte hit, the goal's measure); `collapsed` = a miss that waited for a
fetch already in flight (usually the prefetch, still on its way: the viewer waits for the
origin, so it is not a first-byte hit, but the origin is asked once); anything else a
plain miss. Also time to first byte (p50/p99, client side), origin bytes and fetches (from
the far origin's log), and wasted prefetch bytes (segments the origin sent that no viewer
asked for). `simulate_prefetch` is run on the same schedule (fetch_delay = the origin delay,
and once more with the live median miss TTFB) for the model's numbers beside the live ones.

A shared 2-core machine disturbs such a replay: when other jobs take the CPU the viewers
fall behind their schedule and bunch up, which eats into the prefetch lead. A run whose
viewers ran more than 100 ms behind (p99) is repeated (`--retries`, default 1) and the
least disturbed attempt kept; the choice looks at the lag only, and every attempt is kept
in the results.

Live vs model: the model serves every request at its scheduled instant and issues a
miss's prefetches then; the node issues them when the miss's response has arrived from the
origin. So the first segment after a playlist that was itself a miss is a hit in the model
but, live, usually collapses onto its own prefetch still in flight (the viewer waits the
rest of the origin delay). Those first segments are most of the gap between the two. On a
loaded machine a few more: the node runs at most 16 prefetches at once, and a viewer who
asks for a segment whose prefetch still waits for a slot fetches it itself (a plain miss;
the prefetch then finds it stored, so the origin is still asked once).

Writes the "prefetch" key of benchmarks/results/cdn.json (other keys are kept) and
docs/figures/cdn/prefetch.{png,svg}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

from rich.console import Console

from syslab.cdn.hls_workload import Request, VodCatalog, make_vod, simulate_prefetch, viewers
from syslab.cdn.testbed import NginxOrigin, SyslabCdn, find_binary, free_port
from syslab.common.records import update_json
from syslab.common.report import Table

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
FIGURES = ROOT / "docs" / "figures" / "cdn"
TOKEN = "prefetch-bench"
GOAL = 0.90
LAG_LIMIT_MS = 100.0  # viewers further behind schedule (p99): a disturbed run, retried
console = Console()
if not console.is_terminal:
    console = Console(width=180)


# --------------------------------------------------------------------------- the far origin


def content_type(path: str) -> str:
    return "application/vnd.apple.mpegurl" if path.endswith(".m3u8") else "video/mp2t"


def serve_far_origin(port: int, delay: float, upstream: str | None, catalog: dict) -> None:
    """An origin `delay` s away: forwards to nginx (`upstream`), or answers from the catalog.

    GET /.origin/log gives what it has sent since the last POST /.origin/reset.
    """
    import aiohttp
    import uvloop
    from aiohttp import web

    cat = VodCatalog.create(**catalog)
    fetches: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    state: dict = {}

    async def handle(request: web.Request) -> web.Response:
        path = request.path
        if path == "/.origin/log":
            return web.json_response({"fetches": fetches, "bytes": sent})
        if path == "/.origin/reset":
            fetches.clear()
            sent.clear()
            return web.json_response({"ok": True})
        await asyncio.sleep(delay)
        if upstream is not None:
            async with state["session"].get(upstream + request.path_qs) as r:
                body, status = await r.read(), r.status
                headers = {
                    k: v
                    for k, v in r.headers.items()
                    if k in ("Cache-Control", "Expires", "ETag", "Last-Modified")
                }
        else:
            found = cat.fetch(path)
            status, body = (404, b"not found\n") if found is None else (200, found)
            headers = {"Cache-Control": "max-age=2592000"}
        headers["Content-Type"] = content_type(path)  # nginx here has no mime.types
        fetches[path] += 1
        sent[path] += len(body)
        return web.Response(status=status, body=body, headers=headers)

    async def main() -> None:
        state["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    uvloop.run(main())


class FarOrigin:
    def __init__(self, delay: float, upstream: str | None, catalog: dict) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, __file__, "--serve-origin", json.dumps([delay, upstream, catalog])]
        cmd += ["--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"far origin did not start ({line!r})")

    def call(self, path: str, method: str = "GET") -> dict:
        req = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def node_stats(url: str) -> dict:
    req = urllib.request.Request(
        url + "/.syslab/stats", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


# --------------------------------------------------------------------------- viewers


def classify(cache_status: str) -> str:
    """'hit', 'collapsed' (waited on a fetch in flight) or 'miss', from the last member."""
    params = [p.strip() for p in cache_status.split(",")[-1].split(";")[1:]]
    if "hit" in params:
        return "hit"
    return "collapsed" if "collapsed" in params else "miss"


async def replay(base: str, schedule: list[Request]) -> list[dict]:
    """Every viewer as its own task; returns one record per request."""
    import aiohttp

    per_viewer: dict[int, list[Request]] = defaultdict(list)
    for r in schedule:
        per_viewer[r.viewer].append(r)
    records: list[dict] = []
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False
    ) as session:
        t0 = loop.time() + 0.5

        async def viewer(reqs: list[Request]) -> None:
            for r in reqs:
                wait = t0 + r.time - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                lag = loop.time() - (t0 + r.time)  # behind schedule (previous one slow)
                sent = time.perf_counter()  # loop.time() has 1 ms resolution under uvloop
                try:
                    async with session.get(base + r.url) as resp:
                        first = time.perf_counter()
                        body = await resp.read()
                        status, cs = resp.status, resp.headers.get("Cache-Status", "")
                except (aiohttp.ClientError, TimeoutError) as e:
                    first, body, status, cs = time.perf_counter(), b"", 0, type(e).__name__
                records.append(
                    {
                        "viewer": r.viewer,
                        "url": r.url,
                        "segment": r.url.endswith(".ts"),
                        "lag": lag,
                        "ttfb": first - sent,
                        "status": status,
                        "bytes": len(body),
                        "class": classify(cs),
                    }
                )

        await asyncio.gather(*(viewer(reqs) for reqs in per_viewer.values()))
    return records


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def run_depth(depth: int, origin: FarOrigin, schedule: list[Request], catalog: VodCatalog) -> dict:
    import uvloop

    origin.call("/.origin/reset", "POST")
    args = ["--prefetch", str(depth), "--capacity", "1GiB", "--admin-token", TOKEN]
    with SyslabCdn(origin.url, extra_args=args) as node:
        origin.call("/.origin/reset", "POST")  # the readiness probe's GET /
        started = time.perf_counter()
        records = uvloop.run(replay(node.url, schedule))
        wall = time.perf_counter() - started
        time.sleep(1.0)  # prefetches still in flight land (and are counted) first
        stats = node_stats(node.url)
    log = origin.call("/.origin/log")
    segs = [r for r in records if r["segment"]]
    by_class = Counter(r["class"] for r in segs)
    n = len(segs)
    requested = {r["url"] for r in records}
    seg_fetched = {u: c for u, c in log["fetches"].items() if u.endswith(".ts")}
    wasted = sum(log["bytes"][u] for u in seg_fetched if u not in requested)
    ttfb = [r["ttfb"] for r in segs]
    out = {
        "depth": depth,
        "wall_s": round(wall, 2),
        "requests": len(records),
        "segment_requests": n,
        "errors": sum(r["status"] != 200 for r in records),
        "short_bodies": sum(
            r["status"] == 200 and r["segment"] and r["bytes"] != catalog.size(r["url"])
            for r in records
        ),
        "hit_ratio": by_class["hit"] / n if n else 0.0,
        "collapsed_ratio": by_class["collapsed"] / n if n else 0.0,
        "miss_ratio": by_class["miss"] / n if n else 0.0,
        "ttfb_p50_ms": pct(ttfb, 0.50) * 1e3 if n else None,
        "ttfb_p90_ms": pct(ttfb, 0.90) * 1e3 if n else None,
        "ttfb_p99_ms": pct(ttfb, 0.99) * 1e3 if n else None,
        "ttfb_mean_ms": statistics.fmean(ttfb) * 1e3 if n else None,
        "ttfb_p50_ms_by_class": {
            c: pct([r["ttfb"] for r in segs if r["class"] == c], 0.5) * 1e3 for c in by_class
        },
        "lag_p99_ms": (pct([r["lag"] for r in records], 0.99) or 0.0) * 1e3,
        "origin_fetches": sum(log["fetches"].values()),
        "origin_bytes": sum(log["bytes"].values()),
        "origin_segment_fetches": sum(seg_fetched.values()),
        "origin_duplicate_fetches": sum(c - 1 for c in log["fetches"].values() if c > 1),
        "wasted_prefetch_bytes": wasted,
        "wasted_prefetch_segments": sum(1 for u in seg_fetched if u not in requested),
        "node_counts": {
            k: stats["counts"][k]
            for k in ("hits", "misses", "coalesced", "prefetches", "origin_fetches", "bytes_in")
        },
    }
    first = [r for r in segs if r["url"].endswith("seg00000.ts")]
    later = [r for r in segs if not r["url"].endswith("seg00000.ts")]
    out["hit_ratio_first_segment"] = (
        sum(r["class"] == "hit" for r in first) / len(first) if first else None
    )
    out["hit_ratio_later_segments"] = (
        sum(r["class"] == "hit" for r in later) / len(later) if later else None
    )
    return out


def measure(
    depth: int, origin: FarOrigin, schedule: list[Request], catalog: VodCatalog, retries: int
) -> dict:
    """`run_depth`, once more (up to `retries` times) if the run was disturbed.

    Disturbed: the viewers fell more than LAG_LIMIT_MS (p99) behind their schedule, i.e. the
    client or the node did not get the CPU (other jobs on a shared machine). Which attempt
    is kept is decided by that lag alone, never by the hit ratio; all are recorded.
    """
    attempts = []
    for _ in range(1 + retries):
        console.print(f"depth {depth}: replaying {len(schedule)} requests ...")
        attempts.append(run_depth(depth, origin, schedule, catalog))
        if attempts[-1]["lag_p99_ms"] <= LAG_LIMIT_MS:
            break
    kept = min(attempts, key=lambda r: r["lag_p99_ms"])
    keys = ("hit_ratio", "collapsed_ratio", "miss_ratio", "ttfb_p50_ms", "lag_p99_ms")
    kept["attempts"] = [{k: a[k] for k in keys} for a in attempts]
    return kept


# --------------------------------------------------------------------------- report


def model(schedule: list[Request], depth: int, delay: float, catalog: VodCatalog) -> dict:
    m = simulate_prefetch(schedule, depth, delay, origin=catalog.fetch)
    seg = m["segment_requests"]
    return {
        "fetch_delay_s": delay,
        "hit_ratio": m["hit_ratio"],
        "late_ratio": m["late"] / seg if seg else 0.0,
        "origin_bytes": m["origin_bytes"],
        "prefetches": m["prefetches"],
        "wasted_prefetch_bytes": m["wasted_prefetch_bytes"],
    }


def figure(summary: dict) -> Path:
    import matplotlib.ticker

    from syslab.common.plotting import grid, save

    runs, mod = summary["runs"], summary["model"]
    depths = sorted(int(d) for d in runs)
    x = range(len(depths))
    fig, (ax1, ax2, ax3) = grid(3, cols=3, width=4.2, height=3.4)
    hit = [runs[str(d)]["hit_ratio"] for d in depths]
    col = [runs[str(d)]["collapsed_ratio"] for d in depths]
    ax1.bar(x, hit, color="C0", alpha=0.85, label="live: hit (from store)")
    ax1.bar(x, col, bottom=hit, color="C0", alpha=0.3, hatch="//", label="live: collapsed")
    ax1.plot(x, [mod[str(d)]["hit_ratio"] for d in depths], "kD", ms=6, label="model")
    ax1.axhline(GOAL, color="C3", ls="--", lw=1, label=f"goal {GOAL:.0%}")
    ax1.set_xticks(list(x), [str(d) for d in depths])
    ax1.set_xlabel("prefetch depth (segments)")
    ax1.set_ylabel("segment requests")
    ax1.set_ylim(0, 1.3)
    ax1.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax1.set_title("(a) first-byte hit ratio", fontsize=10)
    ax1.legend(fontsize=7, loc="upper center", ncol=2)
    w = 0.27
    for j, (q, color) in enumerate((("p50", "C0"), ("p90", "C2"), ("p99", "C1"))):
        vals = [runs[str(d)][f"ttfb_{q}_ms"] for d in depths]
        ax2.bar([i + (j - 1) * w for i in x], vals, w, color=color, alpha=0.85, label=q)
    delay_ms = summary["config"]["origin_delay_s"] * 1e3
    ax2.axhline(delay_ms, color="k", ls=":", lw=1, label="origin delay")
    ax2.set_yscale("log")
    ax2.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax2.set_xticks(list(x), [str(d) for d in depths])
    ax2.set_xlabel("prefetch depth (segments)")
    ax2.set_ylabel("ms (client side)")
    ax2.set_ylim(top=delay_ms * 8)
    ax2.set_title("(b) segment time to first byte", fontsize=10)
    ax2.legend(fontsize=7, loc="upper right", ncol=2)
    mib = 2**20
    wb = [runs[str(d)]["wasted_prefetch_bytes"] / mib for d in depths]
    bars = ax3.bar(x, wb, color="C3", alpha=0.8, label="live")
    ax3.plot(x, [mod[str(d)]["wasted_prefetch_bytes"] / mib for d in depths], "kD", ms=6,
             label="model")  # fmt: skip
    for bar, d in zip(bars, depths, strict=True):
        r = runs[str(d)]
        extra = r["origin_bytes"] / runs[str(depths[0])]["origin_bytes"] - 1
        ax3.annotate(
            f"{r['origin_bytes'] / mib:.1f} MiB\n{extra:+.1%}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            xytext=(0, 7),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax3.set_xticks(list(x), [str(d) for d in depths])
    ax3.set_xlabel("prefetch depth (segments)")
    ax3.set_ylabel("MiB never requested")
    ax3.set_ylim(top=max(wb + [0.1]) * 1.45)
    ax3.set_title(f"(c) wasted prefetch (labels: origin bytes,\nvs depth {depths[0]})", fontsize=10)
    ax3.legend(fontsize=7, loc="upper left")
    return save(fig, FIGURES / "prefetch.png")


def write_results(summary: dict) -> Path:
    return update_json(RESULTS / "cdn.json", "prefetch", summary)


def show(summary: dict) -> None:
    rows = []
    for d, r in sorted(summary["runs"].items(), key=lambda kv: int(kv[0])):
        m = summary["model"][d]
        rows.append(
            {
                "depth": int(d),
                "hit (live)": r["hit_ratio"],
                "collapsed": r["collapsed_ratio"],
                "miss": r["miss_ratio"],
                "hit (model)": m["hit_ratio"],
                "hit (model @live)": summary["model_at_live_delay"][d]["hit_ratio"],
                "TTFB p50": r["ttfb_p50_ms"],
                "TTFB p99": r["ttfb_p99_ms"],
                "origin MiB": r["origin_bytes"] / 2**20,
                "model MiB": m["origin_bytes"] / 2**20,
                "wasted MiB": r["wasted_prefetch_bytes"] / 2**20,
                "model wasted": m["wasted_prefetch_bytes"] / 2**20,
                "dup fetches": r["origin_duplicate_fetches"],
                "errors": r["errors"],
            }
        )
    fmt = {c: ".1%" for c in ("hit (live)", "collapsed", "miss", "hit (model)")}
    fmt["hit (model @live)"] = ".1%"
    fmt.update({c: ".2f" for c in ("TTFB p50", "TTFB p99", "origin MiB", "model MiB")})
    fmt.update({"wasted MiB": ".2f", "model wasted": ".2f"})
    c = summary["config"]
    title = (
        f"Prefetch, {c['viewers']} sequential HLS viewers, origin delay "
        f"{c['origin_delay_s'] * 1e3:.0f} ms, segment every {c['segment_interval_s']:.2f} s "
        f"(segment requests; TTFB ms)"
    )
    console.print(Table(title, list(rows[0]), rows, fmt).to_rich())
    g = summary["goals"]
    verdict = "met" if g["first_byte_hit_ratio_at_least_90pct"] else "NOT met"
    console.print(
        f"goal: first-byte hit ratio >= {GOAL:.0%} at depth {g['goal_depth']}: "
        f"{g['hit_ratio']:.1%} -> {verdict}"
    )
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/] {note}")


def version(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return ((proc.stdout + proc.stderr).strip().splitlines() or ["?"])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--goal-depth", type=int, default=3, help="depth the goal is judged at")
    parser.add_argument("--viewers", type=int, default=300)
    parser.add_argument("--videos", type=int, default=40)
    parser.add_argument("--segments", type=int, default=25)
    parser.add_argument("--renditions", type=int, default=3)
    parser.add_argument("--segment-kib", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--segment-duration", type=float, default=4.0, help="playback seconds")
    parser.add_argument("--time-scale", type=float, default=0.05, help="replay speed-up")
    parser.add_argument("--arrival-window", type=float, default=20.0, help="wall seconds")
    parser.add_argument("--burst", type=int, default=3, help="start-up segments back to back")
    parser.add_argument("--startup-gap", type=float, default=0.05)
    parser.add_argument("--abandon", type=float, default=0.2)
    parser.add_argument("--delay", type=float, default=0.03, help="origin delay, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--retries", type=int, default=1, help="re-runs of a disturbed depth (client lag)"
    )
    parser.add_argument("--no-nginx", action="store_true", help="serve the catalog from Python")
    parser.add_argument("--no-figure", action="store_true")
    parser.add_argument("--quick", action="store_true", help="depths 0 and 3, 100 viewers, 8 s")
    parser.add_argument("--serve-origin", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    if "--quick" in sys.argv[1:]:
        parser.set_defaults(depths=[0, 3], viewers=100, arrival_window=8.0, videos=20)
    args = parser.parse_args()
    if args.serve_origin:
        delay, upstream, catalog = json.loads(args.serve_origin)
        serve_far_origin(args.port, delay, upstream, catalog)
        return
    if args.goal_depth not in args.depths:
        args.depths.append(args.goal_depth)
    reason = SyslabCdn.unavailable()
    if reason is not None:
        sys.exit(reason)
    notes: list[str] = []
    started = time.time()
    load_before = os.getloadavg()
    sizes = [k * 1024 for k in args.segment_kib]
    if len(sizes) == 1:
        sizes *= args.renditions
    spec = {
        "n_videos": args.videos,
        "n_segments": args.segments,
        "renditions": args.renditions,
        "segment_bytes": sizes,
        "segment_duration": args.segment_duration,
    }
    use_nginx = not args.no_nginx and find_binary("nginx") is not None
    if not use_nginx:
        notes.append("origin: catalog served from Python (no nginx)")
    with tempfile.TemporaryDirectory(prefix="syslab-prefetch-") as tmp:
        root = Path(tmp) / "vod"
        catalog = make_vod(
            root,
            args.videos,
            args.segments,
            args.renditions,
            sizes,
            segment_duration=args.segment_duration,
        )
        schedule = list(
            viewers(
                args.viewers,
                catalog,
                seed=args.seed,
                arrival_window=args.arrival_window,
                time_scale=args.time_scale,
                abandon_fraction=args.abandon,
                startup_gap=args.startup_gap,
                burst=args.burst,
            )
        )
        nginx = NginxOrigin(root).start() if use_nginx else None
        origin = FarOrigin(args.delay, nginx.url if nginx else None, spec)
        runs = {}
        try:
            for depth in args.depths:
                runs[str(depth)] = measure(depth, origin, schedule, catalog, args.retries)
        finally:
            origin.stop()
            if nginx is not None:
                nginx.stop()
    live_delay = (runs.get("0") or runs[str(args.depths[0])])["ttfb_p50_ms_by_class"].get("miss")
    live_delay = live_delay / 1e3 if live_delay else args.delay
    mod = {str(d): model(schedule, d, args.delay, catalog) for d in args.depths}
    mod_live = {str(d): model(schedule, d, live_delay, catalog) for d in args.depths}
    for d, r in runs.items():
        if r["errors"] or r["short_bodies"]:
            notes.append(f"depth {d}: {r['errors']} errors, {r['short_bodies']} short bodies")
        if r["origin_duplicate_fetches"]:
            notes.append(f"depth {d}: {r['origin_duplicate_fetches']} duplicate origin fetches")
        if len(r["attempts"]) > 1:
            lags = ", ".join(f"{a['lag_p99_ms']:.0f}" for a in r["attempts"])
            notes.append(f"depth {d}: {len(r['attempts'])} attempts (p99 lag ms: {lags})")
        if r["lag_p99_ms"] > LAG_LIMIT_MS:
            notes.append(f"depth {d}: disturbed, viewers ran {r['lag_p99_ms']:.0f} ms behind (p99)")
    goal_run = runs[str(args.goal_depth)]
    summary = {
        "command": "python benchmarks/cdn/prefetch.py " + " ".join(sys.argv[1:]),
        "config": {
            "catalog": spec,
            "viewers": args.viewers,
            "requests": len(schedule),
            "segment_requests": sum(r.url.endswith(".ts") for r in schedule),
            "time_scale": args.time_scale,
            "segment_interval_s": args.segment_duration * args.time_scale,
            "arrival_window_s": args.arrival_window,
            "burst": args.burst,
            "startup_gap_s": args.startup_gap,
            "abandon_fraction": args.abandon,
            "origin_delay_s": args.delay,
            "origin_delay_over_segment_interval": args.delay
            / (args.segment_duration * args.time_scale),
            "origin": "nginx behind a delaying aiohttp process" if use_nginx else "python",
            "seed": args.seed,
            "viewer_model": "sequential: each request at its scheduled time or when the "
            "previous response arrived, whichever is later",
            "disturbed_run": f"p99 viewer lag > {LAG_LIMIT_MS:.0f} ms: re-run up to "
            f"{args.retries} time(s), the least lagging attempt kept (all in 'attempts')",
            "first_byte_hit": "segment request answered from the store (Cache-Status hit); "
            "collapsed onto an in-flight fetch counts as not a hit",
            "model_vs_live": "the model issues a miss's prefetches at request time, the node "
            "once the miss's response has arrived: first segments after a missed playlist "
            "are model hits but live collapse onto their prefetch in flight",
        },
        "runs": runs,
        "model": mod,
        "model_at_live_delay": mod_live,
        "model_live_delay_s": live_delay,
        "goals": {
            "goal_depth": args.goal_depth,
            "hit_ratio": goal_run["hit_ratio"],
            "first_byte_hit_ratio_at_least_90pct": goal_run["hit_ratio"] >= GOAL,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_before": load_before,
            "load_avg_after": os.getloadavg(),
            "python": platform.python_version(),
            "nginx": version([find_binary("nginx") or "nginx", "-v"]) if use_nginx else None,
        },
        "elapsed_s": round(time.time() - started, 1),
        "notes": notes,
    }
    out = write_results(summary)
    console.print(f"[green]wrote[/] {out} (prefetch)")
    if not args.no_figure:
        console.print(f"[green]wrote[/] {figure(summary)}")
    show(summary)


if __name__ == "__main__":
    main()
