"""CDN tiers: key movement and balance of rendezvous vs ring hashing, pick cost, failover time.

    .venv/bin/python benchmarks/cdn/tier_hashing.py [--keys 100000] [--no-failover]

For N = 2..8 parents and 100k URL-like keys, both schemes (`syslab.cdn.tiers`): the fraction of
keys that move when each parent in turn leaves (ideal 1/N, and it must be only that parent's
keys) and when one joins (ideal 1/(N+1), only towards it); the load of the busiest parent over
the mean; µs per pick; weighted rendezvous shares; the ring's balance against its vnodes; and
how long `HealthChecker` takes to mark a parent down that stops or goes silent (goal: < 1 s).

Writes key "tier_hashing" of benchmarks/results/cdn.json; other scripts own the other keys,
which are kept (read-modify-write).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import time
import timeit
from collections import Counter
from pathlib import Path

from aiohttp import web
from rich.console import Console

from syslab.cdn.tiers import HashRing, HealthChecker, HealthState, Rendezvous, balance
from syslab.common.records import update_json
from syslab.common.report import Table

RESULTS = Path(__file__).resolve().parents[1] / "results"
SCHEMES = {"rendezvous": Rendezvous, "ring": HashRing}
console = Console(width=120)  # wide enough for the movement table when piped


def node_names(n: int) -> list[str]:
    return [f"http://parent{i}.cdn.test:8080" for i in range(n)]


def movement(n_keys: int) -> list[dict]:
    keys = [f"/v1/assets/{i:07d}/object.bin" for i in range(n_keys)]
    rows = []
    for scheme, cls in SCHEMES.items():
        for n in range(2, 9):
            nodes = node_names(n)
            h0 = cls(nodes)
            before = [h0.pick(k) for k in keys]
            removed, only_own = [], True
            for gone in nodes:
                h = cls([x for x in nodes if x != gone])
                moved = 0
                for k, old in zip(keys, before, strict=True):
                    new = h.pick(k)
                    if new != old:
                        moved += 1
                        only_own &= old == gone
                    else:
                        only_own &= old != gone
                removed.append(moved / n_keys)
            newcomer = "http://parent-new.cdn.test:8080"
            h = cls([*nodes, newcomer])
            added = [h.pick(k) for k in keys]
            moved_add = [new for old, new in zip(before, added, strict=True) if new != old]
            b = balance(nodes, keys, scheme)
            rows.append(
                {
                    "scheme": scheme,
                    "nodes": n,
                    "remove_ideal": 1 / n,
                    "remove_mean": statistics.fmean(removed),
                    "remove_min": min(removed),
                    "remove_max": max(removed),
                    "remove_only_its_keys": only_own,
                    "add_ideal": 1 / (n + 1),
                    "add": len(moved_add) / n_keys,
                    "add_only_to_new": all(x == newcomer for x in moved_add),
                    "max_over_mean": b["max_over_mean"],
                    "min_over_mean": b["min"] / b["mean"],
                }
            )
            console.print(f"  {scheme} N={n} done", style="dim")
    return rows


def pick_cost() -> dict:
    """µs per call for 5 parents, best of 7 repeats (the machine is shared)."""
    nodes = node_names(5)
    state = HealthState(nodes=nodes)
    state.report_failure(nodes[1])
    state.report_failure(nodes[1])
    r, ring = Rendezvous(nodes), HashRing(nodes)
    rw = Rendezvous(nodes, {n: i + 1.0 for i, n in enumerate(nodes)})
    key = "/v1/assets/0012345/object.bin"
    cases = {
        "rendezvous_pick": lambda: r.pick(key),
        "rendezvous_pick_healthstate": lambda: r.pick(key, state),
        "rendezvous_weighted_pick": lambda: rw.pick(key),
        "rendezvous_order": lambda: r.order(key),
        "ring_pick": lambda: ring.pick(key),
        "ring_pick_healthstate": lambda: ring.pick(key, state),
        "ring_order": lambda: ring.order(key),
    }
    number = 50_000
    return {
        name: min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6
        for name, fn in cases.items()
    }


def weighted_shares(n_keys: int) -> list[dict]:
    nodes = node_names(4)
    weights = {n: float(i + 1) for i, n in enumerate(nodes)}
    r = Rendezvous(nodes, weights)
    counts = Counter(r.pick(f"/v1/assets/{i:07d}/object.bin") for i in range(n_keys))
    total = sum(weights.values())
    return [
        {"node": n, "weight": w, "ideal": w / total, "share": counts[n] / n_keys}
        for n, w in weights.items()
    ]


def ring_vnodes(n_keys: int) -> list[dict]:
    keys = [f"/v1/assets/{i:07d}/object.bin" for i in range(n_keys)]
    nodes = node_names(5)
    rows = [
        {"vnodes": v, "max_over_mean": balance(nodes, keys, "ring", vnodes=v)["max_over_mean"]}
        for v in (10, 40, 160, 640)
    ]
    rows.append({"vnodes": "rendezvous", "max_over_mean": balance(nodes, keys)["max_over_mean"]})
    return rows


async def _failover(trials: int) -> dict:
    """Seconds from a parent stopping (connection refused) or going silent (accepts, never
    answers) until the checker marks it down, and from its restart until it is up again;
    defaults interval=0.2, timeout=0.5, fall=rise=2."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    silent = False
    release = asyncio.Event()

    async def health(request: web.Request) -> web.Response:
        if silent:
            await release.wait()
        return web.Response(text="ok")

    async def serve() -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/health", health)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    async def until(cond) -> float:
        t0 = time.monotonic()
        while not cond():
            await asyncio.sleep(0.002)
        return time.monotonic() - t0

    url = f"http://127.0.0.1:{port}"
    state = HealthState()
    out: dict[str, list[float]] = {"stopped_down_s": [], "silent_down_s": [], "restart_up_s": []}
    runner = await serve()
    async with HealthChecker([url], path="/health", state=state):
        for i in range(trials):
            await until(lambda: state.is_up(url))
            await asyncio.sleep(0.037 * i)  # spread the phase against the probe cadence
            await runner.cleanup()
            out["stopped_down_s"].append(await until(lambda: not state.is_up(url)))
            runner = await serve()
            out["restart_up_s"].append(await until(lambda: state.is_up(url)))
            await asyncio.sleep(0.037 * i)
            silent = True
            out["silent_down_s"].append(await until(lambda: not state.is_up(url)))
            silent = False
            release.set()
            release = asyncio.Event()
    await runner.cleanup()
    return {
        k: {"mean": statistics.fmean(v), "max": max(v), "trials": len(v)} for k, v in out.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--no-failover", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    result: dict = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg": os.getloadavg(),
        },
        "command": "python benchmarks/cdn/tier_hashing.py --keys "
        + str(args.keys)
        + (" --no-failover" if args.no_failover else ""),
        "keys": args.keys,
        "ring_vnodes": 160,
    }
    console.print("key movement and balance, N = 2..8")
    result["movement"] = rows = movement(args.keys)
    result["pick_us_5_nodes"] = cost = pick_cost()
    result["weighted_shares"] = shares = weighted_shares(args.keys)
    result["ring_balance_vs_vnodes"] = vn = ring_vnodes(args.keys)
    if not args.no_failover:
        result["failover"] = asyncio.run(_failover(trials=8))
    result["seconds"] = time.perf_counter() - t0

    short = {
        "scheme": "scheme",
        "nodes": "N",
        "remove_ideal": "rm ideal",
        "remove_mean": "rm mean",
        "remove_max": "rm max",
        "remove_only_its_keys": "rm only own",
        "add_ideal": "add ideal",
        "add": "add",
        "add_only_to_new": "add only new",
        "max_over_mean": "max/mean",
    }
    shown = [
        {
            short[k]: ("yes" if v else "NO") if isinstance(v, bool) else v
            for k, v in r.items()
            if k in short
        }
        for r in rows
    ]
    cols = list(short.values())
    floats = ["rm ideal", "rm mean", "rm max", "add ideal", "add", "max/mean"]
    tables = [
        Table("key movement and balance", cols, shown, dict.fromkeys(floats, ".4f")),
        Table(
            "µs per call, 5 parents",
            ["call", "µs"],
            [{"call": k, "µs": v} for k, v in cost.items()],
            {"µs": ".3f"},
        ),
        Table(
            "weighted rendezvous",
            ["node", "weight", "ideal", "share"],
            shares,
            {"ideal": ".4f", "share": ".4f"},
        ),
        Table(
            "ring balance vs vnodes, N=5", ["vnodes", "max_over_mean"], vn, {"max_over_mean": ".4f"}
        ),
    ]
    if "failover" in result:
        fo = [{"event": k, **v} for k, v in result["failover"].items()]
        tables.append(
            Table(
                "failover (s)",
                ["event", "mean", "max", "trials"],
                fo,
                {"mean": ".3f", "max": ".3f"},
            )
        )
    for t in tables:
        console.print(t.to_rich())

    out = update_json(RESULTS / "cdn.json", "tier_hashing", result)
    console.print(f"wrote {out} (tier_hashing) in {result['seconds']:.1f} s")


if __name__ == "__main__":
    main()
