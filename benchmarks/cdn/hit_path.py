"""CDN hit-path benchmark: our node vs nginx proxy_cache vs Varnish, in one run.

    .venv/bin/python benchmarks/cdn/hit_path.py [--duration 6] [--rounds 2] [--rate 3000] [--quick]

N 10 KiB objects behind an nginx origin; every cache is warmed (each path twice, the second
pass must hit), then, interleaved over rounds (best round kept): wrk -t1 -c50 over keep-alive,
server pinned to CPU 0 and wrk to CPU 1, giving requests per server CPU-second (utime+stime
of the server's process tree) and wall req/s; then latency at a fixed offered load with the
open-loop paced client (latency from each request's scheduled send time). The origin itself
is measured too, as the static-file reference. Writes the "hit_path" key of
benchmarks/results/cdn.json (other keys are kept).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from syslab.cdn.testbed import (
    NginxOrigin,
    NginxProxyCache,
    SyslabCdn,
    Varnish,
    find_binary,
    paced_load,
    run_wrk,
    tool_version,
    warm,
)
from syslab.common.records import update_json
from syslab.common.report import Table

RESULTS = Path(__file__).resolve().parents[1] / "results"
OBJECT_SIZE = 10 * 1024
SERVER_CPU, CLIENT_CPU = "0", "1"  # apart, so client and server never share a core
console = Console()
if not console.is_terminal:  # piped into a log: do not squeeze the table into 80 columns
    console = Console(width=180)


def make_objects(root: Path, n: int) -> list[str]:
    (root / "obj").mkdir(parents=True)
    for i in range(n):
        (root / "obj" / f"{i:05d}").write_bytes(os.urandom(OBJECT_SIZE))
    return [f"/obj/{i:05d}" for i in range(n)]


def start_caches(origin_url: str, pin: str | None, notes: list[str]) -> dict:
    """name -> started server; one that cannot start is left out with a note."""
    wanted = [("nginx_proxy_cache", lambda: NginxProxyCache(origin_url, cpus=pin))]
    if find_binary("varnishd"):
        wanted.append(("varnish", lambda: Varnish(origin_url, cpus=pin)))
    else:
        notes.append("varnish: varnishd not installed, skipped")
    reason = SyslabCdn.unavailable()
    if reason is None:
        # 1 GiB like nginx's max_size: every object fits in every cache
        wanted.append(
            ("syslab", lambda: SyslabCdn(origin_url, extra_args=["--capacity", "1GiB"], cpus=pin))
        )
    else:
        notes.append(f"syslab: skipped, {reason}")
    servers = {}
    for name, make in wanted:
        try:
            servers[name] = make().start()
        except Exception as exc:  # one broken server must not sink the others' numbers
            notes.append(f"{name}: failed to start: {exc}")
    return servers


def best(rounds: list[dict], key: str, lowest: bool = False) -> dict:
    ok = [r for r in rounds if r.get(key) is not None]
    if not ok:
        return rounds[0] if rounds else {}
    return (min if lowest else max)(ok, key=lambda r: r[key])


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=6.0, help="wrk seconds per run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; best kept")
    parser.add_argument("--rate", type=float, default=3000.0, help="paced offered load, req/s")
    parser.add_argument("--paced-duration", type=float, default=5.0, help="paced seconds")
    parser.add_argument("--objects", type=int, default=1000, help="number of 10 KiB objects")
    parser.add_argument("--quick", action="store_true", help="1 round, 2 s runs, 2000 req/s")
    if "--quick" in sys.argv[1:]:  # quick defaults; flags given explicitly still win
        parser.set_defaults(duration=2.0, rounds=1, rate=2000.0, paced_duration=2.0)
    args = parser.parse_args()
    for binary in ("nginx", "wrk"):
        if find_binary(binary) is None:
            sys.exit(f"{binary} not found: run `make services` (apt-get install nginx-light wrk)")
    # pinning needs two CPUs we may use; otherwise everything floats (and the note says so)
    usable = os.sched_getaffinity(0)
    pinned = {int(SERVER_CPU), int(CLIENT_CPU)} <= usable
    server_pin, client_pin = (SERVER_CPU, CLIENT_CPU) if pinned else (None, None)
    notes: list[str] = [] if pinned else ["CPUs 0 and 1 not both available: nothing pinned"]
    load_before = os.getloadavg()
    started = time.time()

    with tempfile.TemporaryDirectory(prefix="syslab-hitpath-") as tmp:
        paths = make_objects(Path(tmp) / "www", args.objects)
        with NginxOrigin(Path(tmp) / "www", cpus=server_pin) as origin:
            servers = start_caches(origin.url, server_pin, notes)
            try:
                runs = measure(origin, servers, paths, args, client_pin, notes)
            finally:
                for server in servers.values():
                    server.stop()

    summary = summarise(runs, args, pinned, notes, load_before, time.time() - started)
    write_results(summary)
    show(summary)


def measure(origin, servers: dict, paths: list[str], args, client_pin, notes: list) -> dict:
    """Warm every cache, then interleave wrk and paced runs over the rounds."""
    everyone = {"nginx_static": origin, **servers}
    runs: dict[str, dict] = {name: {"wrk": [], "paced": []} for name in everyone}
    for name, server in list(servers.items()):
        try:
            hit = warm(server.url, paths, passes=2, is_hit=server.is_hit)
        except Exception as exc:  # a cache that cannot serve the objects is left out
            notes.append(f"{name}: warm-up failed, not measured: {exc}")
            del everyone[name]
            continue
        runs[name]["warm_hit_fraction"] = hit
        if hit != 1.0:
            notes.append(f"{name}: only {hit:.1%} of the second warm-up pass were hits")
        console.print(f"warmed {name}: second-pass hits {hit if hit is None else f'{hit:.0%}'}")
    names = list(everyone)
    for rnd in range(args.rounds):
        order = names[rnd % len(names) :] + names[: rnd % len(names)]  # no fixed position
        for name in order:
            server = everyone[name]
            try:
                w = run_wrk(
                    server.url,
                    paths,
                    threads=1,
                    connections=50,
                    duration=args.duration,
                    cpu_pids=server.pids(),
                    taskset=client_pin,
                )
                p = paced_load(
                    server.url, paths, rate=args.rate, duration=args.paced_duration, cpus=client_pin
                )
            except Exception as exc:  # e.g. our server crashed under load: keep the others
                notes.append(f"{name} round {rnd + 1}: {exc}")
                continue
            w["load_avg_1m"] = os.getloadavg()[0]
            runs[name]["wrk"].append(w)
            runs[name]["paced"].append(p)
            console.print(
                f"round {rnd + 1} {name:24s} {w['req_per_cpu_s'] or 0:9,.0f} req/CPU-s "
                f"{w['req_per_s']:9,.0f} req/s  paced p99 {p['p99_ms'] or 0:7.2f} ms "
                f"({p['achieved_rate']:,.0f} req/s)"
            )
    return runs


def summarise(runs: dict, args, pinned: bool, notes: list, load_before, elapsed: float) -> dict:
    servers = {}
    for name, r in runs.items():
        if not r["wrk"]:
            continue
        w = best(r["wrk"], "req_per_cpu_s")
        p = best(r["paced"], "p99_ms", lowest=True)
        servers[name] = {
            "req_per_cpu_s": w.get("req_per_cpu_s"),
            "req_per_s": max(x["req_per_s"] for x in r["wrk"]),
            "wrk": w,
            "paced": p,
            "warm_hit_fraction": r.get("warm_hit_fraction"),
            "rounds": r,
        }
    nginx, ours = servers.get("nginx_proxy_cache", {}), servers.get("syslab", {})
    varnish = servers.get("varnish", {})

    def p99(s: dict) -> float | None:
        return s.get("paced", {}).get("p99_ms")

    ratios = {
        "ours_vs_nginx_req_per_cpu_s": ratio(ours.get("req_per_cpu_s"), nginx.get("req_per_cpu_s")),
        "ours_vs_nginx_req_per_s": ratio(ours.get("req_per_s"), nginx.get("req_per_s")),
        "ours_vs_nginx_paced_p99": ratio(p99(ours), p99(nginx)),
        "varnish_vs_nginx_req_per_cpu_s": ratio(
            varnish.get("req_per_cpu_s"), nginx.get("req_per_cpu_s")
        ),
        "varnish_vs_nginx_paced_p99": ratio(p99(varnish), p99(nginx)),
    }
    goals = None
    if ratios["ours_vs_nginx_req_per_cpu_s"] is not None:
        goals = {  # docs: research goals CDN 1 (>= 50 % of nginx per CPU, p99 <= 2x nginx)
            "req_per_cpu_s_at_least_half_nginx": ratios["ours_vs_nginx_req_per_cpu_s"] >= 0.5,
            "p99_at_most_twice_nginx": (ratios["ours_vs_nginx_paced_p99"] or 99) <= 2.0,
        }
    return {
        "command": "python benchmarks/cdn/hit_path.py " + " ".join(sys.argv[1:]),
        "config": {
            "objects": args.objects,
            "object_bytes": OBJECT_SIZE,
            "wrk": f"-t1 -c50 -d{max(1, round(args.duration))}s, rotating over all objects",
            "rounds": args.rounds,
            "paced_rate": args.rate,
            "paced_duration_s": args.paced_duration,
            "paced_connections": 32,
            "pinning": f"server CPU {SERVER_CPU}, client CPU {CLIENT_CPU}" if pinned else None,
            "best_of_rounds": "req/CPU-s: best round; wall req/s: best; p99: lowest round",
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "nginx": tool_version([find_binary("nginx") or "nginx", "-v"]),
            "varnish": tool_version([find_binary("varnishd") or "varnishd", "-V"]),
            "wrk": tool_version([find_binary("wrk") or "wrk", "-v"]),
            "load_avg_before": list(load_before),
            "load_avg_after": list(os.getloadavg()),
            "root": os.geteuid() == 0,
        },
        "elapsed_s": round(elapsed, 1),
        "servers": servers,
        "ratios": ratios,
        "goals": goals,
        "notes": notes,
    }


def write_results(summary: dict) -> None:
    out = update_json(RESULTS / "cdn.json", "hit_path", summary)
    console.print(f"[green]wrote[/] {out} (hit_path)")


def show(summary: dict) -> None:
    rate = summary["config"]["paced_rate"]
    rows = []
    for name, s in summary["servers"].items():
        w, p = s["wrk"], s["paced"]
        rows.append(
            {
                "server": name,
                "req/CPU-s": s["req_per_cpu_s"],
                "req/s": s["req_per_s"],
                "CPU-s": w.get("server_cpu_s"),
                "wrk p50": w["p50_ms"],
                "wrk p99": w["p99_ms"],
                "paced p50": p["p50_ms"],
                "paced p99": p["p99_ms"],
                "paced p99.9": p["p999_ms"],
                "achieved req/s": p["achieved_rate"],
                "errors": w["errors"] + p["errors"] + p["timeouts"],
            }
        )
    columns = list(rows[0]) if rows else ["server"]
    formats = {c: ".2f" for c in columns if "p50" in c or "p99" in c}
    formats.update({"req/CPU-s": ",.0f", "req/s": ",.0f", "achieved req/s": ",.0f", "CPU-s": ".2f"})
    title = f"CDN hit path: 10 KiB, keep-alive, loopback; latency ms; paced at {rate:,.0f} req/s"
    console.print(Table(title, columns, rows, formats).to_rich())
    for key, value in summary["ratios"].items():
        if value is not None:
            console.print(f"{key}: {value:.2f}")
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/] {note}")


if __name__ == "__main__":
    main()
