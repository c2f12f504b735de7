"""Regenerate the measured parts of docs/txn.md from benchmarks/results/txn.json.

    .venv/bin/python benchmarks/txn/write_doc.py

Each `<!-- results:NAME -->` block is rebuilt from the key of txn.json its benchmark script
wrote; a key that is missing says which script to run instead of keeping old numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from syslab.common.report import made_by, markdown_table, regenerate_doc

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "txn.json"
DOC = ROOT / "docs" / "txn.md"


def _f(x: object, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _counts(c: dict | None) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in (c or {}).items()) or "none"


def checker(r: dict) -> str:
    rows = [[t["history"], f"{t['txns']:,}", f"{t['committed']:,}", f"{t['edges']:,}",
             t["model"], "yes" if t["valid"] else "no", _counts(t.get("counts")),
             f"{t['median_s']:.2f}"] for t in r["timings"]]
    c = r["corpus"]
    per = [[name, str(a["cases"]), str(a["detected"]), str(a.get("exact", "-"))]
           for name, a in c["per_anomaly"].items()]
    return (
        "Check time (median of repeats, this 2-core machine), then the seeded corpus: one "
        "injected anomaly per case, checked under MDSS (the tests check every model); "
        "*exact* means the anomaly was reported under its own name.\n\n"
        + markdown_table(["history", "transactions", "committed", "edges", "model", "valid",
                          "anomalies", "seconds"], rows)
        + f"\n\nGoal: {r['goal']}: **{'met' if r['goal_met'] else 'not met'}**.\n\n"
        + markdown_table(["anomaly", "cases", "detected", "exact"], per)
        + f"\n\nDetection {c['detection_rate']:.0%} over {c['cases']} cases; "
          f"{c['clean']['false_alarms']} false alarms on {c['clean']['cases']} clean "
          "histories."
        + made_by(r)
    )


def stores(r: dict) -> str:
    rows = [[x["system"], str(x["depth"]), f"{x['throughput']:,.0f}",
             _f(x["p50_ms"], ".2f"), _f(x["p99_ms"], ".1f"), f"{x['abort_rate']:.3f}",
             _f(x.get("violation_rate"), ".3f"),
             f"{x['model']}: {'yes' if x['valid'] else 'NO'}",
             "yes" if x.get("valid_mdss") else "NO: " + _counts(x.get("anomalies_mdss"))]
            for x in r["depth_rows"]]
    zrows = [[x["system"], f"{x['zipf']:g}", f"{x['goodput']:,.0f}", f"{x['abort_rate']:.3f}",
              f"{x['cascade_rate']:.3f}"] for x in r["zipf_rows"]]
    figs = "\n".join(f"![{Path(f).stem}](figures/txn/{Path(f).name})" for f in r["figures"])
    return (
        f"{r['workload']}, {r['clients']} clients, {r['keys']} keys, {r['duration_s']:g} s "
        f"per point; the violation rate is from a {r['probe_s']:g}-s write-then-read probe "
        "at the same depth. *Claimed model* checks each history against what the system "
        "promises; *MDSS* against multi-dispatch strict serializability.\n\n"
        + markdown_table(["system", "depth", "txn/s", "p50 ms", "p99 ms", "abort rate",
                          "issue-order violations", "claimed model", "MDSS"], rows)
        + "\n\nSkew, at depth 8 (cascade rate: failed transactions issued while an earlier "
          "failed one of the same client was in flight):\n\n"
        + markdown_table(["system", "zipf", "committed/s", "abort rate", "cascade rate"],
                         zrows)
        + "\n\n" + figs + made_by(r)
    )


def _goal(flag: object) -> str:
    return {True: "**met**", False: "**not met**"}.get(flag, "-")


def mdss(r: dict) -> str:
    by = {(x["system"], x["request_size"]): x for x in r["fanout"]}
    fan = [[str(f), _f(by[("mdss", int(f))]["request_p50_ms"], ".1f"),
            _f(by[("mdss-single", int(f))]["request_p50_ms"], ".1f"), f"{ratio:.2f}"]
           for f, ratio in sorted(r["fanout_ratio"].items(), key=lambda kv: int(kv[0]))]
    thr = [[x["system"], str(x["clients"]), str(x["depth"]), f"{x['goodput']:,.0f}",
            _f(x["p50_ms"], ".1f"), f"{x['abort_rate']:.3f}"] for x in r["throughput"]]
    skw = [[x["system"], f"{x['zipf']:g}", _f(x.get("request_goodput"), ".1f"),
            f"{x['abort_rate']:.3f}"] for x in r["skew"]]
    checks = [[c["run"], f"{c['txns']:,}", f"{c['committed']:,}",
               "yes" if c["valid"] else "NO: " + _counts(c["anomalies"])] for c in r["checks"]]
    f = r["fault"]
    g = r["goals"]
    goals = "\n".join(f"- {name.replace('_', ' ')}: {_goal(met)}" for name, met in g.items())
    figs = "\n".join(f"![{Path(p).stem}](figures/txn/{Path(p).name})" for p in r["figures"])
    return (
        f"{r['delay_ms']:g} ms one-way delay on every message, {r['seconds']:g} s per run, "
        "one cluster for all runs (the baselines are the same servers).\n\n"
        "Fan-out: median latency of a request of F single-key transactions (ms).\n\n"
        + markdown_table(["F", "mdss", "mdss-single", "single / mdss"], fan)
        + "\n\nLoad: committed transactions per second, single-key transactions.\n\n"
        + markdown_table(["system", "clients", "in flight", "committed/s", "p50 ms",
                          "abort rate"], thr)
        + "\n\nSkew: requests of 8 writes over 100 keys; goodput counts requests whose "
          "transactions all committed.\n\n"
        + markdown_table(["system", "zipf", "requests/s", "abort rate"], skw)
        + "\n\nEvery history, checked against MDSS:\n\n"
        + markdown_table(["run", "transactions", "committed", "MDSS"], checks)
        + f"\n\nFault: shard 1's follower killed with SIGKILL a third into a "
          f"{r['fault_seconds']:g}-s list-append run and restarted a third later: "
          f"{f['committed']:,} of {f['txns']:,} transactions committed, history "
          f"{'passes' if f['valid_mdss'] else 'FAILS'} the MDSS check; of "
          f"{f['acked_appends_on_shard']} acknowledged appends on that shard, "
          f"{f['missing_on_leader']} missing on the leader and "
          f"{f['missing_on_restarted_follower']} on the restarted follower; logs "
          f"{'identical' if f['same_log'] else 'differ'} after catch-up.\n\nGoals:\n\n"
        + goals + "\n\n" + figs + made_by(r)
    )


BLOCKS: dict[str, tuple[str, Callable[[dict], str]]] = {
    "checker": ("checker", checker),
    "stores": ("stores", stores),
    "mdss": ("mdss", mdss),
}


def main() -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    blocks = {name: render(results[key]) if key in results
              else f"(not measured: run benchmarks/txn/{key}.py)"
              for name, (key, render) in BLOCKS.items()}
    regenerate_doc(DOC, blocks)


if __name__ == "__main__":
    main()
