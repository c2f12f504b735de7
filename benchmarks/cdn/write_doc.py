"""Regenerate the measured parts of docs/cdn.md from benchmarks/results/cdn.json.

    .venv/bin/python benchmarks/cdn/write_doc.py

Each `<!-- results:NAME -->` block is rebuilt from the section of cdn.json its benchmark
script wrote; a section that is missing says so instead of keeping old numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from syslab.common.report import markdown_table, regenerate_doc

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "cdn.json"
DOC = ROOT / "docs" / "cdn.md"


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _load(r: dict) -> str:
    m = r.get("machine", {})
    before, after = m.get("load_avg_before"), m.get("load_avg_after")
    if before and after:
        return f"load average {before[0]:.1f} before, {after[0]:.1f} after"
    return ""


def hit_path(r: dict) -> str:
    names = {
        "nginx_static": "nginx static file (the origin, for scale)",
        "nginx_proxy_cache": "nginx proxy_cache HIT",
        "varnish": "Varnish HIT",
        "syslab": "**syslab cdn HIT**",
    }
    rows = []
    for key, label in names.items():
        s = r["servers"].get(key)
        if s is None:
            continue
        paced = s.get("paced") or {}
        rows.append(
            [
                label,
                f"{s['req_per_cpu_s']:,.0f}",
                f"{s['req_per_s']:,.0f}",
                _ms(paced.get("p50_ms")),
                _ms(paced.get("p99_ms")),
            ]
        )
    ratios = r["ratios"]
    c = r["config"]
    head = (
        f"{c['objects']:,} objects of {c['object_bytes'] // 1024} KiB, {c['wrk']}; "
        f"{c['pinning']}; best of {c['rounds']} interleaved rounds; paced client at "
        f"{c['paced_rate']:,.0f} req/s for {c['paced_duration_s']:.0f} s; {_load(r)}.\n\n"
    )
    table = markdown_table(
        [
            "server (1 process)",
            "req per server CPU-s",
            "wall req/s",
            "paced p50 ms",
            "paced p99 ms",
        ],
        rows,
    )
    tail = (
        f"\n\nOurs / nginx proxy_cache: **{ratios['ours_vs_nginx_req_per_cpu_s']:.2f}x** per "
        f"CPU-second (goal >= 0.5, stretch 1.0), {ratios['ours_vs_nginx_req_per_s']:.2f}x wall "
        f"req/s, p99 at fixed load {ratios['ours_vs_nginx_paced_p99']:.2f}x (goal <= 2). "
        f"Varnish / nginx: {ratios['varnish_vs_nginx_req_per_cpu_s']:.2f}x per CPU-second."
    )
    return head + table + tail


def miss_path(r: dict) -> str:
    t = r["throughput"]
    rows = []
    for name, runs in t["runs"].items():
        per_cpu = sorted(x["req_per_cpu_s"] for x in runs)
        wall = sorted(x["req_per_s"] for x in runs)
        p99 = sorted(x["p99_ms"] for x in runs)
        mid = len(runs) // 2
        rows.append([name, f"{per_cpu[mid]:,.0f}", f"{wall[mid]:,.0f}", _ms(p99[mid]), len(runs)])
    ratio = t["ratios"]["req_per_cpu_s_median"]
    table = markdown_table(
        ["proxy", "req per CPU-s (median)", "wall req/s (median)", "p99 ms", "rounds"], rows
    )
    c = r["coalescing"]
    crow = []
    for name in ("syslab", "nginx_proxy_cache_lock", "aiohttp_proxy"):
        x = c.get(name)
        if x:
            crow.append(
                [
                    name,
                    x["requests"],
                    x["origin_fetches"],
                    x["collapsed"],
                    f"{x['time_to_all_s'] * 1e3:.0f}",
                ]
            )
    ctable = markdown_table(
        ["server", "concurrent requests", "origin fetches", "collapsed", "all answered (ms)"], crow
    )
    return (
        f"Every request a cold 10 KiB key (wrk with a counter in the query), nginx origin; "
        f"{_load(r)}.\n\n{table}\n\nOurs / aiohttp reverse proxy: **{ratio:.2f}x** per "
        f"CPU-second (goal >= 1).\n\nOne cold key, origin 200 ms away:\n\n{ctable}"
    )


def tiered(r: dict) -> str:
    live = r["live"]
    tr = r["trace"]
    split = r["split"]
    rows = [
        [
            "3 edges + 2 parents",
            f"{live['tiered']['byte_hit_ratio']:.4f}",
            f"{live['tiered']['edge_hit_ratio']:.3f}",
            live["tiered"]["errors"],
        ],
        [
            "one node, same total size",
            f"{live['single']['byte_hit_ratio']:.4f}",
            f"{live['single']['edge_hit_ratio']:.3f}",
            live["single"]["errors"],
        ],
    ]
    f = r["failover"]
    return (
        f"{tr['requests']:,} requests ({tr['name']}: Zipf {tr['alpha']}, "
        f"{tr['one_hit_fraction']:.0%} one-hit wonders, {tr['sizes']}); "
        f"edges {split['edge_capacity'] / 2**20:.0f} MiB each, parents "
        f"{split['parent_capacity'] / 2**20:.0f} MiB each, {split['total_mib']:.0f} MiB in all.\n\n"
        + markdown_table(
            ["setup", "byte hit ratio (origin offload)", "edge hit ratio", "errors"], rows
        )
        + f"\n\nTiered / single: **{live['ratio']:.3f}** (goal >= 0.95). A parent killed "
        f"(SIGKILL) mid-run: {f['keys_moved_rendezvous']:.3f} of keys changed parent "
        f"(1/N = {f['keys_moved_expected']:.2f}); the first good answer for a key the dead "
        f"parent owned came **{f['failover_s'] * 1e3:.0f} ms** after the kill (goal < 1 s); "
        f"{f['errors_around_kill']} errors around the switch."
    )


def tier_hashing(r: dict) -> str:
    by = {(m["scheme"], m["nodes"]): m for m in r["movement"]}
    ns = sorted({n for _, n in by})
    rows = []
    for n in ns:
        rv, rg = by.get(("rendezvous", n)), by.get(("ring", n))
        if rv is None or rg is None:
            continue
        rows.append(
            [
                n,
                f"{1 / n:.3f}",
                f"{rv['remove_mean']:.4f} / {rv['remove_max']:.4f}",
                f"{rg['remove_mean']:.4f} / {rg['remove_max']:.4f}",
                f"{rv['max_over_mean']:.3f} / {rg['max_over_mean']:.3f}",
                "yes" if rv["remove_only_its_keys"] and rg["remove_only_its_keys"] else "no",
            ]
        )
    fo = r["failover"]
    return (
        f"{r['keys']:,} keys; ring with {r['ring_vnodes']} virtual nodes per node.\n\n"
        + markdown_table(
            [
                "parents N",
                "ideal 1/N",
                "moved, rendezvous (mean / worst)",
                "moved, ring (mean / worst)",
                "busiest / mean (rdv / ring)",
                "only the removed node's keys moved",
            ],
            rows,
        )
        + f"\n\nHealth checks (0.2 s interval, fall 2): a stopped parent is marked down in "
        f"{fo['stopped_down_s']['max'] * 1e3:.0f} ms at worst, one that stops answering in "
        f"{fo['silent_down_s']['max'] * 1e3:.0f} ms; `pick` costs "
        f"{r['pick_us_5_nodes']['rendezvous_pick']:.1f} µs for 5 parents."
    )


def prefetch(r: dict) -> str:
    g = r["goals"]
    rows = []
    for depth, run in sorted(r["runs"].items(), key=lambda kv: int(kv[0])):
        model = (r.get("model") or {}).get(depth, {})
        rows.append(
            [
                depth,
                f"{run['hit_ratio']:.3f}",
                f"{run['collapsed_ratio']:.3f}",
                f"{model['hit_ratio']:.3f}" if "hit_ratio" in model else "-",
                f"{run['ttfb_p50_ms']:.1f} / {run['ttfb_p99_ms']:.1f}",
                f"{run['origin_bytes'] / 2**20:.1f}",
                f"{run['wasted_prefetch_bytes'] / 2**20:.2f}",
            ]
        )
    c = r["config"]
    cat = c["catalog"]
    head = (
        f"{c['viewers']} sequential viewers of {cat['n_videos']} videos x {cat['n_segments']} "
        f"segments x {cat['renditions']} renditions; nginx origin behind "
        f"{c['origin_delay_s'] * 1e3:.0f} ms of delay; time compressed x{c['time_scale']} "
        f"(a {cat['segment_duration']:.0f} s segment every {c['segment_interval_s']} s, so the "
        f"origin wait is {c['origin_delay_over_segment_interval']:.0%} of a segment interval); "
        "a segment counts as a first-byte hit only when answered from the store."
    )
    return (
        f"{head}\n\n"
        + markdown_table(
            [
                "depth",
                "segments from store",
                "collapsed onto a fetch",
                "model",
                "TTFB p50 / p99 ms",
                "origin MiB",
                "prefetched, never asked MiB",
            ],
            rows,
        )
        + f"\n\nGoal (>= 0.90 at depth {g['goal_depth']}): {g['hit_ratio']:.3f}, "
        + ("met." if g["first_byte_hit_ratio_at_least_90pct"] else "not met.")
    )


def placement(r: dict) -> str:
    def pct(v: float | None) -> str:
        return "no plan reaches it" if v is None else f"{v:+.1f} %"

    rows = []
    for x in r["rows"]:
        model = x["model"] + (", LRU on spare capacity" if x.get("remainder") else "")
        rows.append(
            [
                x["workload"],
                x["prices"],
                x["mode"],
                model,
                f"{x['lru_hit']:.3f}",
                f"{x['coop_hit']:.3f}" if x.get("coop_hit") is not None else "-",
                f"{x['plan_hit']:.3f}" if x.get("plan_hit") is not None else "-",
                pct(x.get("vs_lru_pct")),
                pct(x.get("vs_coop_pct")),
            ]
        )
    met = r["headline"].get("goal_met_on_a_replayed_trace")
    return (
        markdown_table(
            [
                "workload",
                "prices",
                "push accounting",
                "model",
                "LRU hit",
                "coop LRU hit",
                "plan hit",
                "plan saving vs LRU",
                "vs cooperative LRU",
            ],
            rows,
        )
        + "\n\nSaving = cost of the cheapest swept plan whose origin offload is at least the "
        "baseline's, same per-node capacity (positive: the plan is cheaper). Goal (>= 10 % on "
        f"a replayed trace): {'met' if met else 'not met'}."
    )


def tiered_split(r: dict) -> str:
    rows = [
        [
            x["trace"],
            f"{x['cdn_size']:.0%}",
            f"{x['edge_share']:.0%}",
            f"{x['tiered_bhr']:.4f}",
            f"{x['single_bhr']:.4f}",
            f"{x['ratio']:.3f}" if x["ratio"] is not None else "-",
        ]
        for x in r["rows"]
    ]
    return markdown_table(
        ["trace", "CDN size / footprint", "edges' share", "tiered BHR", "one node BHR", "ratio"],
        rows,
    )


BLOCKS: dict[str, Callable[[dict], str]] = {
    "hit-path": hit_path,
    "miss-path": miss_path,
    "tiered": tiered,
    "tier-hashing": tier_hashing,
    "tiered-split": tiered_split,
    "prefetch": prefetch,
    "placement": placement,
}
SECTIONS = {
    "hit-path": "hit_path",
    "miss-path": "miss_path",
    "tiered": "tiered",
    "tier-hashing": "tier_hashing",
    "tiered-split": "tiered_split",
    "prefetch": "prefetch",
    "placement": "placement",
}


def main() -> None:
    results = json.loads(RESULTS.read_text())
    blocks = {}
    for name, render in BLOCKS.items():
        section = results.get(SECTIONS[name])
        if section is None:
            blocks[name] = f"(not measured: run benchmarks/cdn/{SECTIONS[name]}.py)"
            continue
        command = section.get("command", "")
        blocks[name] = render(section) + (f"\n\n_Made by `{command}`._" if command else "")
    regenerate_doc(DOC, blocks)


if __name__ == "__main__":
    main()
