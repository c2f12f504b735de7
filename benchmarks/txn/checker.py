"""History checker: seconds to check long histories, and detection rate on the anomaly corpus.

    .venv/bin/python benchmarks/txn/checker.py [--txns 100000] [--repeat 3] [--seeds 20]
                                               [--quick]

Histories come from the seeded in-memory simulation of tests/txn/corpus.py: closed-loop
clients against a store that applies each transaction atomically inside its lifetime
(strict serializable and MDSS), Elle's workloads with 100 key slots, Zipf 0.99, 1-4
micro-ops per transaction, a key retiring after 32 writes. Timed cells:

- "list-append 10x1": 10 single-dispatch clients, no anomalies, under
  strict-serializable: the goal (issue) is at most 10 s for 100k transactions on this
  2-core VM;
- "list-append 4x8 fail+info": under mdss, 4 clients at depth 8 (multi-dispatch), 1 %
  failed and 1 % indeterminate transactions (a failure fails the client's transactions
  issued while it was in flight, as MDSS asks);
- "rw-register 10x1";
- "jitter 2ms": a broken history, commit points moved by up to +-2 ms (serializable, not
  strict), so thousands of realtime cycles, each named and explained.

Each cell times `check` alone (the history is built first), `--repeat` times: median and
best, and the median CPU time of the process (the VM is shared: a busy neighbour shows as
wall time above CPU time). The corpus part checks every case of `cases(seed)` for
`--seeds` seeds under mdss: a case is detected when its anomaly is among those reported,
exact when nothing else is; clean cases count false alarms.

Writes the "checker" key of benchmarks/results/txn.json (other keys are kept).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console

from syslab.common.records import machine_record, update_json
from syslab.common.report import Table
from syslab.txn.checker import check

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from txn.corpus import cases, simulate  # noqa: E402  (the corpus lives with the tests)

RESULTS = ROOT / "benchmarks" / "results"
GOAL_S = 10.0


def timed_cells(txns: int, repeat: int) -> list[dict]:
    cells = [
        ("list-append 10x1", "strict-serializable",
         dict(workload="list-append", clients=10)),
        ("list-append 4x8 fail+info", "mdss",
         dict(workload="list-append", clients=4, depth=8, fail_rate=0.01, info_rate=0.01)),
        ("rw-register 10x1", "strict-serializable",
         dict(workload="rw-register", clients=10)),
        ("list-append 10x1 jitter 2ms", "strict-serializable",
         dict(workload="list-append", clients=10, jitter=2e-3)),
    ]
    rows = []
    for name, model, options in cells:
        start = time.perf_counter()
        history = simulate(txns, keys=100, zipf=0.99, seed=1, **options)
        generate = time.perf_counter() - start
        walls, cpus = [], []
        for _ in range(repeat):
            start, cpu = time.perf_counter(), time.process_time()
            report = check(history, model)
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        rows.append({
            "history": name, "model": model, "txns": txns,
            "committed": report.stats["committed"],
            "edges": sum(report.stats["edges"].values()),
            "edges_by_kind": report.stats["edges"],
            "anomalies": len(report.anomalies), "counts": report.counts(),
            "valid": report.valid,
            "median_s": statistics.median(walls), "best_s": min(walls),
            "median_cpu_s": statistics.median(cpus),
            "generate_s": generate,
        })
    return rows


def corpus(seeds: int) -> dict:
    per: dict[str, dict[str, int]] = {}
    clean = {"cases": 0, "false_alarms": 0}
    start = time.perf_counter()
    for seed in range(seeds):
        for case in cases(seed):
            found = set(check(case.history, "mdss").counts())
            if not case.expect:
                clean["cases"] += 1
                clean["false_alarms"] += bool(found)
                continue
            row = per.setdefault(case.expect, {"cases": 0, "detected": 0, "exact": 0})
            row["cases"] += 1
            row["detected"] += case.expect in found
            row["exact"] += found == {case.expect}
    total = sum(r["cases"] for r in per.values())
    return {
        "seeds": seeds,
        "per_anomaly": {name: r | {"detection_rate": r["detected"] / r["cases"]}
                        for name, r in sorted(per.items())},
        "cases": total,
        "detection_rate": sum(r["detected"] for r in per.values()) / total,
        "exact_rate": sum(r["exact"] for r in per.values()) / total,
        "clean": clean,
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--txns", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="10k transactions, 3 seeds")
    args = parser.parse_args()
    txns, seeds, repeat = ((10_000, 3, 1) if args.quick
                           else (args.txns, args.seeds, max(1, args.repeat)))
    console = Console(width=max(110, Console().width))
    load_before = os.getloadavg()
    rows = timed_cells(txns, repeat)
    detection = corpus(seeds)
    console.print(Table(f"check time, {txns} transactions", [
        "history", "model", "committed", "edges", "anomalies", "median_s", "best_s",
        "median_cpu_s"], rows, {"median_s": ".2f", "best_s": ".2f", "median_cpu_s": ".2f"}
        ).to_rich())
    console.print(Table(f"corpus detection, {seeds} seeds, mdss", [
        "anomaly", "cases", "detected", "exact", "detection_rate"],
        [{"anomaly": k, **v} for k, v in detection["per_anomaly"].items()],
        {"detection_rate": ".0%"}).to_rich())
    goal = rows[0]["median_s"] <= GOAL_S and rows[0]["txns"] >= 100_000
    console.print(f"detection {detection['detection_rate']:.1%}, exact "
                  f"{detection['exact_rate']:.1%}, false alarms on clean histories "
                  f"{detection['clean']['false_alarms']}/{detection['clean']['cases']}; "
                  f"{txns} list-append check {rows[0]['median_s']:.2f} s (goal <= {GOAL_S:g} s: "
                  f"{'met' if goal else 'not met'})")
    command = ("python benchmarks/txn/checker.py" + (" --quick" if args.quick else
               f" --txns {txns} --repeat {repeat} --seeds {seeds}"))
    value = {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine_record(load_before),
        "goal": f"median check <= {GOAL_S:g} s for a 100k-transaction list-append history",
        "goal_met": goal,
        "timings": rows,
        "corpus": detection,
    }
    out = update_json(RESULTS / "txn.json", "checker", value)
    console.print(f"wrote {out} (key checker)")


if __name__ == "__main__":
    sys.exit(main())
