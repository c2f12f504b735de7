"""Our MDSS store against its single-dispatch and one-big-transaction baselines.

    .venv/bin/python benchmarks/txn/mdss.py [--delay-ms 5] [--seconds 3] [--quick]

One cluster (3 shards x 3 replicas, 9 processes on loopback, `--delay-ms` one-way delay on
every message in our transport) serves every run; the baselines are the same servers. Each
run's first 0.5 s is a warm-up left out of its numbers (not of its checked history):

1. **fan-out**: 2 clients send requests of F single-key transactions (`fanout` workload,
   50 % writes, Zipf 0.5 over 1000 keys), F = 1, 2, 4, ..., 32. `mdss` has all F in flight;
   `mdss-single` sends them one after another. Median request latency, and its ratio.
   Goals: ratio within 1 +- 0.1 at F = 1, >= 2 at F = 8, >= 3 at F = 32.
2. **peak throughput**: closed-loop clients (1, 4, 16 of them) of single-key transactions;
   `mdss` with 8 in flight per client, `mdss-single` with 1. Peak committed txn/s of each
   over the loads. Goal: mdss's peak >= 50 % of the baseline's.
3. **skew**: requests of 8 transactions (2 clients, writes only, 100 keys), Zipf 0 .. 1.2;
   `mdss` vs `mdss-1bt` (the request as one transaction). Goodput = requests whose
   transactions all committed, per second. Goal: mdss >= 1bt at Zipf >= 0.9.
4. **checks**: every history above, plus a multi-dispatch list-append run, against MDSS.
5. **fault**: a list-append run during which shard 1's replica 2 (a follower) is killed
   with SIGKILL and later restarted; the history must check, and every write the clients
   saw committed must be in the leader's and the restarted follower's state.

Writes the "mdss" key of benchmarks/results/txn.json and docs/figures/txn/mdss_fanout.png.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from syslab.common.plotting import grid, save
from syslab.common.records import machine_record, update_json
from syslab.common.report import Table
from syslab.txn.checker import check
from syslab.txn.history import OK
from syslab.txn.mdss.cluster import Cluster
from syslab.txn.mdss.ops import shard_of
from syslab.txn.metrics import summarize
from syslab.txn.runner import run_clients
from syslab.txn.stores.mdss import open_mdss
from syslab.txn.workloads import make_workload

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "txn.json"
FIGURES = ROOT / "docs" / "figures" / "txn"
FANOUTS = (1, 2, 4, 8, 16, 32)
LOADS = (1, 4, 16)
ZIPFS = (0.0, 0.5, 0.7, 0.9, 0.99, 1.2)
WARMUP_S = 0.5  # each run's first half second is left out of its numbers (metrics.summarize)


class Bench:
    def __init__(self, cluster: Cluster, seconds: float, console: Console) -> None:
        self.cluster, self.seconds, self.console = cluster, seconds, console
        self.checks: list[dict] = []

    async def run(self, system: str, workload: str, *, clients: int, depth: int,
                  request_size: int | None = None, zipf: float = 0.5, keys: int = 1000,
                  label: str = "", **wopts) -> dict:
        async with open_mdss(system, cluster=self.cluster) as store:
            w = make_workload(workload, keys=keys, zipf=zipf, seed=len(self.checks), **wopts)
            await store.load(w.initial())
            run = await run_clients(store, w.next, clients=clients, depth=depth,
                                    duration=WARMUP_S + self.seconds, timeout=30.0,
                                    request_size=request_size,
                                    one_big=system == "mdss-1bt" and request_size is not None,
                                    meta={"timeout": 30.0})
        row = {"system": system, "workload": workload, "clients": clients, "depth": depth,
               "request_size": request_size, "zipf": zipf, **summarize(run, WARMUP_S)}
        report = check(run.history, model="mdss")
        self.checks.append({"run": label or f"{system} {workload}", "txns": len(run.history),
                            "committed": report.stats["committed"], "valid": report.valid,
                            "anomalies": report.counts()})
        row["valid_mdss"] = report.valid
        self.console.print(f"  {label or system}: {row['committed']} committed, "
                           f"valid {report.valid}", highlight=False)
        return row


async def fanout(b: Bench, fanouts) -> list[dict]:
    rows = []
    for f in fanouts:
        for system, depth in (("mdss", f), ("mdss-single", 1)):
            rows.append(await b.run(system, "fanout", clients=2, depth=depth, request_size=f,
                                    label=f"fan-out {f} {system}"))
    return rows


async def throughput(b: Bench, loads) -> list[dict]:
    rows = []
    for clients in loads:
        for system, depth in (("mdss", 8), ("mdss-single", 1)):
            rows.append(await b.run(system, "fanout", clients=clients, depth=depth,
                                    label=f"load {clients} {system}"))
    return rows


async def skew(b: Bench, zipfs) -> list[dict]:
    rows = []
    for z in zipfs:
        for system, depth in (("mdss", 8), ("mdss-1bt", 1)):
            rows.append(await b.run(system, "fanout", clients=2, depth=depth, request_size=8,
                                    zipf=z, keys=100, read_fraction=0.0,
                                    label=f"zipf {z:g} {system}"))
    return rows


async def fault(cluster: Cluster, seconds: float, console: Console) -> dict:
    """Kill a follower mid-run, restart it; check the history and the replicas' states."""
    async with open_mdss("mdss", cluster=cluster) as store:
        w = make_workload("list-append", keys=50, zipf=0.99, seed=7)
        await store.load(w.initial())

        async def chaos() -> None:
            await asyncio.sleep(seconds / 3)
            cluster.kill(1, 2)
            await asyncio.sleep(seconds / 3)
            await cluster.restart(1, 2)

        killer = asyncio.create_task(chaos())
        run = await run_clients(store, w.next, clients=3, depth=4, duration=seconds,
                                timeout=30.0, meta={"timeout": 30.0})
        await killer
    report = check(run.history, model="mdss")
    # every committed append must be in the final state of shard 1's leader and follower
    await asyncio.sleep(1.0)  # let the restarted follower finish catching up
    leader, follower = await cluster.state(1, 0), await cluster.state(1, 2)
    acked = {(k, v) for t in run.history if t.outcome == OK for f, k, v in t.ops
             if f == "append" and shard_of(k, cluster.shards) == 1}

    def has(state: dict) -> set:
        return {(int(k), v) for k, vs in state["kv"] if isinstance(vs, list) for v in vs}

    lost_leader = len(acked - has(leader))
    lost_follower = len(acked - has(follower))
    row = {"txns": len(run.history), "committed": sum(t.outcome == OK for t in run.history),
           "valid_mdss": report.valid, "anomalies": report.counts(),
           "acked_appends_on_shard": len(acked), "missing_on_leader": lost_leader,
           "missing_on_restarted_follower": lost_follower,
           "same_log": leader.get("digest") == follower.get("digest")}
    console.print(f"  fault: {row}", highlight=False)
    return row


def figure(fan: list[dict], path: Path, delay_ms: float) -> Path:
    fig, (lat, ratio) = grid(2, cols=2, width=4.6, height=3.4)
    for system in ("mdss", "mdss-single"):
        rs = [r for r in fan if r["system"] == system]
        lat.plot([r["request_size"] for r in rs], [r["request_p50_ms"] for r in rs],
                 marker="o", label=system)
    ratios = ratios_by_fanout(fan)
    ratio.plot(list(ratios), list(ratios.values()), marker="o", color="C2")
    for ax in (lat, ratio):
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(ratios), [str(f) for f in ratios])
        ax.set_xlabel("transactions per request (fan-out)")
    lat.set_ylabel("median request latency, ms")
    lat.set_yscale("log")
    lat.legend(fontsize=8)
    ratio.set_ylabel("single-dispatch / mdss latency")
    fig.suptitle(f"MDSS store, {delay_ms:g} ms one-way delay")
    return save(fig, path)


def ratios_by_fanout(fan: list[dict]) -> dict[int, float]:
    by = {(r["system"], r["request_size"]): r["request_p50_ms"] for r in fan}
    return {f: by[("mdss-single", f)] / by[("mdss", f)]
            for f in sorted({r["request_size"] for r in fan})}


def fault_seconds(seconds: float) -> float:
    return max(6.0, 2 * seconds)


async def main_async(args, console: Console) -> dict:
    fanouts = (1, 8, 32) if args.quick else FANOUTS
    loads = (1, 16) if args.quick else LOADS
    zipfs = (0.0, 0.99) if args.quick else ZIPFS
    with tempfile.TemporaryDirectory(prefix="syslab-mdss-bench-") as tmp:
        async with Cluster(delay_ms=args.delay_ms, data_dir=tmp) as cluster:
            b = Bench(cluster, args.seconds, console)
            fan = await fanout(b, fanouts)
            thr = await throughput(b, loads)
            skw = await skew(b, zipfs)
            await b.run("mdss", "list-append", clients=3, depth=8, zipf=0.99, keys=50,
                        label="list-append mdss")
            flt = await fault(cluster, fault_seconds(args.seconds), console)
    ratios = ratios_by_fanout(fan)
    peak = {s: max(r["goodput"] for r in thr if r["system"] == s)
            for s in ("mdss", "mdss-single")}
    good = {(r["system"], r["zipf"]): r["request_goodput"] for r in skw}
    goals = {
        "fanout_1_within_10pct": abs(ratios[1] - 1) <= 0.1 if 1 in ratios else None,
        "fanout_8_2x": ratios[8] >= 2 if 8 in ratios else None,
        "fanout_32_3x": ratios[32] >= 3 if 32 in ratios else None,
        "peak_throughput_half": peak["mdss"] >= 0.5 * peak["mdss-single"],
        "goodput_vs_1bt_zipf_ge_0.9": all(good[("mdss", z)] >= good[("mdss-1bt", z)]
                                          for z in zipfs if z >= 0.9),
        "all_histories_check": all(c["valid"] for c in b.checks) and flt["valid_mdss"],
        "fault_no_acked_loss": flt["missing_on_leader"] == 0
        and flt["missing_on_restarted_follower"] == 0,
    }
    return {"fanout": fan, "fanout_ratio": {str(k): v for k, v in ratios.items()},
            "throughput": thr, "peak_goodput": peak, "skew": skw, "checks": b.checks,
            "fault": flt, "goals": goals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=3.0, help="per run")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    console = Console(width=max(Console().width, 180))
    load_before = os.getloadavg()
    res = asyncio.run(main_async(args, console))
    fmt = {"request_p50_ms": ".1f", "request_p99_ms": ".1f", "request_goodput": ".1f",
           "goodput": ".0f", "abort_rate": ".3f", "p50_ms": ".1f"}
    console.print(Table("fan-out", ["system", "request_size", "depth", "requests_ok",
                                    "request_p50_ms", "request_p99_ms", "abort_rate"],
                        res["fanout"], fmt).to_rich())
    console.print(Table("load", ["system", "clients", "depth", "goodput", "p50_ms",
                                 "abort_rate"], res["throughput"], fmt).to_rich())
    console.print(Table("skew (requests of 8 writes)", ["system", "zipf", "request_goodput",
                                                        "abort_rate"], res["skew"],
                        fmt).to_rich())
    fig = figure(res["fanout"], FIGURES / "mdss_fanout.png", args.delay_ms)
    for goal, met in res["goals"].items():
        console.print(f"{goal}: {met}")
    update_json(RESULTS, "mdss", {
        "command": " ".join(["python benchmarks/txn/mdss.py", *sys.argv[1:]]),
        "delay_ms": args.delay_ms, "seconds": args.seconds,
        "fault_seconds": fault_seconds(args.seconds), **res,
        "figures": [str(fig.relative_to(ROOT))],
        "machine": machine_record(load_before),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    })


if __name__ == "__main__":
    main()
