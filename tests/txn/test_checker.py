"""The history checker: every injected anomaly found by name, clean histories clean,
witnesses that are real and minimal cycles, verdicts per model, MDSS's rules."""

from __future__ import annotations

import json
import time
from collections import deque

import numpy as np
import pytest

from syslab.common.errors import UserError
from syslab.txn.checker import ANOMALY_NAMES, MODELS, check, cycles
from syslab.txn.checker.graph import KIND_NAMES, build, realtime_edges
from syslab.txn.checker.mdss import suffix_committed
from syslab.txn.checker.versions import observe
from syslab.txn.history import (
    FAIL,
    INFO,
    OK,
    History,
    Txn,
    parse_history,
    read_history,
    write_history,
)

from .corpus import Case, cases, simulate

SEEDS = (0, 1, 2)
CORPUS = [(seed, c) for seed in SEEDS for c in cases(seed)]
IDS = [f"{c.label}@{seed}" for seed, c in CORPUS]
READ = {"G1a", "G1b", "internal", "incompatible-order", "duplicate-elements", "garbage-read"}
# what each model forbids, written out (not derived from the checker's table)
FORBIDDEN = {
    "read-committed": READ | {"G0", "G1c"},
    "snapshot-isolation": READ | {"G0", "G1c", "G-single"},
    "serializable": READ | {"G0", "G1c", "G-single", "G2-item"},
    "strict-serializable": READ | {"G0", "G1c", "G-single", "G2-item", "G0-realtime",
                                   "G1c-realtime", "G-single-realtime", "G2-item-realtime"},
    "mdss": READ | {"G0", "G1c", "G-single", "G2-item", "G0-realtime", "G1c-realtime",
                    "G-single-realtime", "G2-item-realtime", "G0-process", "G1c-process",
                    "G-single-process", "G2-item-process", "failure-suffix"},
}


def T(tid: int, client: int, index: int, invoke: float, complete: float | None, ops: list,
      outcome: str = OK) -> Txn:
    return Txn(tid, client, index, invoke, complete, outcome, ops)


def test_the_corpus_covers_every_anomaly_in_both_workloads() -> None:
    expected = {c.expect for _, c in CORPUS if c.expect}
    assert expected == set(ANOMALY_NAMES)
    for workload in ("list-append", "rw-register"):
        names = {c.expect for _, c in CORPUS if c.workload == workload}
        assert {"G0", "G1a", "G1b", "G1c", "G-single", "G2-item", "G-single-realtime",
                "G-single-process", "failure-suffix", ""} <= names


@pytest.mark.parametrize(("seed", "case"), CORPUS, ids=IDS)
def test_each_case_reports_exactly_its_anomaly(seed: int, case: Case) -> None:
    report = check(case.history, "mdss")
    assert set(report.counts()) == ({case.expect} if case.expect else set()), report.lines()
    assert report.counts().get(case.expect, 1) == 1


@pytest.mark.parametrize("model", list(MODELS))
def test_verdicts_per_model(model: str) -> None:
    for seed, case in CORPUS:
        report = check(case.history, model)
        bad = case.expect in FORBIDDEN[model]
        assert report.valid is not bad, (model, case.label, seed, report.lines())
        assert report.violations == ([case.expect] if bad else [])


def test_clean_histories_of_every_shape_check_clean_under_every_model() -> None:
    shapes = [dict(workload="list-append", clients=10, depth=1),
              dict(workload="list-append", clients=4, depth=8, fail_rate=0.05, info_rate=0.05),
              dict(workload="rw-register", clients=10, depth=1, fail_rate=0.05),
              dict(workload="rw-register", clients=4, depth=8, fail_rate=0.05, info_rate=0.05)]
    for i, shape in enumerate(shapes):
        h = simulate(1500, keys=8, seed=i, **shape)
        for model in MODELS:
            report = check(h, model)
            assert report.valid and not report.anomalies, (shape, model, report.lines())
        assert report.stats["edges"]["rw"] > 0 and report.stats["edges"]["realtime"] > 0


def _reads(t: Txn, key: int) -> list:
    return [v for f, k, v in t.ops if f == "r" and k == key]


def _writes(t: Txn, key: int) -> list:
    return [v for f, k, v in t.ops if f in ("w", "append") and k == key]


def _edge_is_real(e, txns: dict[int, Txn], workload: str) -> bool:
    """Check one witness edge against the history, independently of the checker."""
    a, b = txns[e.src], txns[e.dst]
    if e.kind == "realtime":
        return a.complete is not None and a.complete < b.invoke
    if e.kind == "process":
        return a.client == b.client and a.index < b.index
    k, before, after = e.key, e.before, e.after
    if workload == "list-append":
        committed_reads = [list(v or ()) for t in txns.values() if t.outcome == OK
                           for v in _reads(t, k)]

        def adjacent(x, y) -> bool:
            return any((x is None and r[:1] == [y]) or
                       any(r[i] == x and r[i + 1] == y for i in range(len(r) - 1))
                       for r in committed_reads)
        if e.kind == "ww":
            return before in _writes(a, k) and after in _writes(b, k) and adjacent(before, after)
        if e.kind == "wr":
            return before in _writes(a, k) and any(list(r)[-1:] == [before] for r in _reads(b, k))
        ends = [] if before is None else [before]
        return (after in _writes(b, k) and adjacent(before, after)
                and any(list(r)[-1:] == ends for r in _reads(a, k)))
    if e.kind == "ww":
        ops = b.ops
        read_at = [i for i, op in enumerate(ops) if op == ("r", k, before)]
        write_at = [i for i, op in enumerate(ops) if op == ("w", k, after)]
        return before in _writes(a, k) and bool(read_at) and read_at[0] < write_at[-1]
    if e.kind == "wr":
        return before in _writes(a, k) and before in _reads(b, k)
    return (after in _writes(b, k) and before in _reads(a, k)
            and (before is None or before in _reads(b, k)))


def _shortest(graph, name: str, closed: bool = False) -> int:
    """Brute force: the shortest cycle of `name`'s shape in the whole graph; `closed` adds
    every real-time and issue-order pair as an edge (the checker merges chains of them)."""
    base = name.removesuffix("-realtime").removesuffix("-process")
    extra = {"realtime", "process"} if name.endswith("-process") else \
        {"realtime"} if name.endswith("-realtime") else set()
    required, path = {"G0": ("ww", {"ww"}), "G1c": ("wr", {"ww", "wr"}),
                      "G-single": ("rw", {"ww", "wr"}), "G2-item": ("rw", {"ww", "wr", "rw"})
                      }[base]
    edges = list(zip(graph.src.tolist(), graph.dst.tolist(),
                     [KIND_NAMES[k] for k in graph.kind], strict=True))
    if closed:
        nodes = graph.nodes
        edges += [(i, j, "realtime") for i, a in enumerate(nodes) for j, b in enumerate(nodes)
                  if a.complete is not None and a.complete < b.invoke]
        edges += [(i, j, "process") for i, a in enumerate(nodes) for j, b in enumerate(nodes)
                  if a.client == b.client and a.index < b.index]
    adj: dict[int, list[int]] = {}
    for a, b, k in edges:
        if k in path | extra:
            adj.setdefault(a, []).append(b)
    best = 10**9
    for a, b, k in edges:
        if k != required:
            continue
        dist, queue = {b: 0}, deque([b])
        while queue:
            u = queue.popleft()
            for v in adj.get(u, ()):
                if v not in dist:
                    dist[v] = dist[u] + 1
                    queue.append(v)
        if a in dist:
            best = min(best, dist[a] + 1)
    return best


@pytest.mark.parametrize("small", [cycles.SMALL, 0], ids=["plain", "pruned"])
def test_witnesses_are_minimal_cycles_of_real_edges(small: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # small=0 sends every component through the pruning used for large ones
    monkeypatch.setattr(cycles, "SMALL", small)
    checked = 0
    for _, case in CORPUS:
        report = check(case.history, "mdss")
        txns = {t.id: t for t in case.history}
        for a in report.anomalies:
            if not a.cycle:
                continue
            checked += 1
            ids = [e.src for e in a.cycle]
            assert len(set(ids)) == len(ids), a.explanation  # a simple cycle
            for e, nxt in zip(a.cycle, a.cycle[1:] + a.cycle[:1], strict=True):
                assert e.dst == nxt.src
                assert _edge_is_real(e, txns, case.workload), (case.label, e)
                assert not (e.kind == nxt.kind and e.kind in ("realtime", "process"))
            graph = build(observe(case.history.txns), suffix_committed(case.history.txns))
            shortest = _shortest(graph, a.name)
            if a.name.endswith(("-realtime", "-process")):
                # the shortest cycle in the graph, its order chains merged
                assert _shortest(graph, a.name, closed=True) <= len(a.cycle) <= shortest
            else:
                assert len(a.cycle) == shortest, (case.label, a.explanation)
    assert checked > 40


def test_explanations_name_every_transaction_and_the_anomaly() -> None:
    for _, case in CORPUS:
        for a in check(case.history, "mdss").anomalies:
            for tid in a.txns:
                assert f"T{tid}" in a.explanation, a.explanation
            assert a.name in a.explanation
            for e in a.cycle:
                assert f"T{e.src} < T{e.dst}: " in a.explanation
                assert f"({e.kind})" in a.explanation


def test_explanation_of_a_stale_read_in_words() -> None:
    h = [T(1, 0, 0, 0.0, 1.0, [("append", 3, 4)]), T(2, 1, 0, 2.0, 3.0, [("r", 3, [])]),
         T(3, 2, 0, 4.0, 5.0, [("r", 3, [4])])]
    report = check(h)
    assert not report.valid and report.violations == ["G-single-realtime"]
    (a,) = report.anomalies
    assert a.explanation == (
        "T2 < T1: T2 read key 3 = [] without T1's append of 4 (rw). "
        "T1 < T2: T1 completed at 1 s before T2 was invoked at 2 s (realtime). "
        "A cycle: G-single-realtime.")
    assert check(h, "serializable").valid


def test_report_json_and_lines() -> None:
    case = next(c for _, c in CORPUS if c.label == "list-append/G-single-process")
    strict, mdss = check(case.history), check(case.history, "mdss")
    assert strict.valid and not mdss.valid
    j = json.loads(json.dumps(mdss.to_json()))
    assert j["model"] == "mdss" and j["valid"] is False
    assert j["counts"] == {"G-single-process": 1}
    (a,) = j["anomalies"]
    assert a["violation"] is True and [e["kind"] for e in a["cycle"]].count("process") == 1
    lines = mdss.lines()
    assert lines[0].startswith("mdss: NOT valid") and "G-single-process x1" in lines[0]
    assert lines[1].startswith("  G-single-process: T")
    assert "found but allowed: G-single-process x1" in strict.lines()[0]
    clean = check(simulate(50, seed=3))
    assert clean.lines() == [f"strict-serializable: valid (50 transactions, "
                             f"{clean.stats['committed']} committed; no anomalies)"]


def test_a_checked_history_survives_a_round_trip_through_its_file(tmp_path) -> None:
    for _, case in CORPUS[:12]:
        path = write_history(tmp_path / "h.jsonl", History(case.history.txns, {"x": 1}))
        again = read_history(path)
        for model in ("serializable", "mdss"):
            assert check(again, model).to_json() == check(case.history, model).to_json()


def test_unknown_ops_and_models_are_refused() -> None:
    line = json.dumps({"id": 0, "client": 0, "index": 0, "invoke": 0, "complete": 1,
                       "outcome": "ok", "ops": [["cas", 1, 2]]})
    with pytest.raises(UserError, match="unknown op 'cas'"):
        parse_history([line])
    with pytest.raises(UserError, match="unknown consistency model 'linearizable'"):
        check([], "linearizable")


def test_counters_and_scans_are_skipped_not_misread() -> None:
    h = [T(1, 0, 0, 0, 1, [("add", 5, 3), ("scan", 0, [None])]),
         T(2, 1, 0, 2, 3, [("r", 5, 3)])]
    report = check(h)
    assert report.valid and not report.anomalies and report.stats["unchecked_ops"] == 3


def test_an_unobserved_indeterminate_transaction_stays_out_of_the_graph() -> None:
    h = [T(1, 0, 0, 0, None, [("append", 1, 1)], INFO), T(2, 1, 0, 2, 3, [("r", 1, [])])]
    assert check(h).stats["committed"] == 1
    seen = h + [T(3, 2, 0, 4, 5, [("r", 1, [1])])]
    assert check(seen).stats["indeterminate_committed"] == 1


def test_mdss_takes_an_indeterminate_txn_as_committed_when_a_later_one_in_flight_commits(
) -> None:
    # client 0 issues T1 (write x=1, indeterminate), then T2 while T1 is in flight; T2
    # committed and read the initial x: only if T1 committed is that an issue-order cycle
    def history(complete1: float | None, invoke2: float, meta: dict) -> History:
        return History([T(1, 0, 0, 0.0, complete1, [("w", 9, 1)], INFO),
                        T(2, 0, 1, invoke2, invoke2 + 1, [("r", 9, None)])], meta)

    in_flight = history(5.0, 1.0, {})
    report = check(in_flight, "mdss")
    assert report.stats["indeterminate_committed"] == 1
    assert report.violations == ["G-single-process"]
    assert check(in_flight, "strict-serializable").stats["committed"] == 1
    assert check(history(5.0, 6.0, {}), "mdss").valid  # issued after T1 ended
    assert check(history(None, 1.0, {}), "mdss").valid  # flight end unknown: no conclusion
    assert not check(history(None, 1.0, {"timeout": 2.0}), "mdss").valid
    assert check(history(None, 3.0, {"timeout": 2.0}), "mdss").valid


def test_failure_suffix_needs_the_later_txn_issued_in_flight_and_committed() -> None:
    def history(invoke2: float, outcome2: str) -> list[Txn]:
        return [T(1, 0, 0, 0.0, 2.0, [("w", 1, 1)], FAIL),
                T(2, 0, 1, invoke2, invoke2 + 1, [("w", 2, 1)], outcome2),
                T(3, 1, 0, 0.0, 1.0, [("w", 3, 1)])]

    (a,) = check(history(1.0, OK), "mdss").anomalies
    assert a.name == "failure-suffix" and a.txns == (1, 2)
    assert "T1" in a.explanation and "T2" in a.explanation
    assert check(history(1.0, FAIL), "mdss").valid
    assert check(history(2.5, OK), "mdss").valid
    assert check(history(1.0, OK), "strict-serializable").valid


def test_realtime_edges_reach_exactly_the_realtime_order() -> None:
    rng = np.random.default_rng(5)
    n = 80
    invoke = rng.uniform(0, 10, n)
    complete = invoke + rng.exponential(0.7, n)
    txns = [T(i, i, 0, float(invoke[i]), None if i % 9 == 0 else float(complete[i]), [])
            for i in range(n)]
    src, dst = realtime_edges(txns)
    reach = np.zeros((n, n), dtype=bool)
    reach[src, dst] = True
    for k in range(n):  # transitive closure
        reach |= reach[:, [k]] & reach[[k], :]
    truth = np.array([[t1.complete is not None and t1.complete < t2.invoke for t2 in txns]
                      for t1 in txns])
    assert (reach == truth).all()
    assert len(src) < n * 8  # far fewer than the n^2/2 pairs
    assert not set(src.tolist()) & {i for i in range(n) if i % 9 == 0}


def test_a_g1b_read_is_not_also_reported_as_a_cycle() -> None:
    h = [T(1, 0, 0, 0, 2, [("append", 1, 1), ("append", 1, 2)]),
         T(2, 1, 0, 0, 2, [("r", 1, [1])]), T(3, 2, 0, 3, 4, [("r", 1, [1, 2])])]
    assert set(check(h, "mdss").counts()) == {"G1b"}


def test_internal_reads_must_show_the_txns_own_appends_in_order() -> None:
    ok = [T(1, 0, 0, 0, 1, [("append", 1, 1), ("append", 1, 2), ("r", 1, [7, 1, 2])]),
          T(2, 1, 0, 0, 1, [("append", 1, 7)])]
    assert check(ok).valid
    bad = [T(1, 0, 0, 0, 1, [("append", 1, 1), ("append", 1, 2), ("r", 1, [2, 1])])]
    (a,) = check(bad).anomalies
    assert a.name == "internal" and "T1 appended 1, 2 to key 1" in a.explanation


def test_a_long_history_checks_fast() -> None:
    h = simulate(20_000, clients=10, keys=100, seed=11)
    start = time.perf_counter()
    report = check(h)
    elapsed = time.perf_counter() - start
    assert report.valid and report.stats["committed"] == 20_000
    assert elapsed < 4.0, elapsed  # ~0.4 s here; the 100k goal is measured by the benchmark


def test_a_component_is_named_by_its_most_severe_cycle_not_its_shortest() -> None:
    # T1 and T2 write-skew (a 2-cycle of rw edges), and T1 -rw-> T2 -wr-> T3 -wr-> T1 is a
    # longer cycle with one rw edge: the component holds a G-single, which snapshot
    # isolation forbids; its shortest cycle alone would say G2-item, which it allows
    h = [T(1, 0, 0, 0, 2, [("r", 1, []), ("append", 2, 1), ("r", 4, [1])]),
         T(2, 1, 0, 0, 2, [("r", 2, []), ("append", 1, 1), ("append", 3, 1)]),
         T(3, 2, 0, 0, 2, [("r", 3, [1]), ("append", 4, 1)]),
         T(4, 3, 0, 3, 4, [("r", 1, [1]), ("r", 2, [1])])]
    report = check(h, "snapshot-isolation")
    assert set(report.counts()) == {"G-single"} and not report.valid
    (a,) = report.anomalies
    assert [e.kind for e in a.cycle].count("rw") == 1 and len(a.cycle) == 3
    # likewise a component with a G0 (ww both ways) and a G1c (ww and wr) reports G0 alone
    g0 = [T(1, 0, 0, 0, 2, [("append", 1, 1), ("append", 2, 1), ("r", 3, [1])]),
          T(2, 1, 0, 0, 2, [("append", 1, 2), ("append", 2, 2), ("append", 3, 1)]),
          T(3, 2, 0, 3, 4, [("r", 1, [1, 2]), ("r", 2, [2, 1])])]
    assert set(check(g0, "read-committed").counts()) == {"G0"}


def test_realtime_needs_completion_strictly_before_invocation() -> None:
    stale = [T(1, 0, 0, 0.0, 1.0, [("append", 3, 4)]), T(2, 1, 0, 1.0, 3.0, [("r", 3, [])]),
             T(3, 2, 0, 4.0, 5.0, [("r", 3, [4])])]
    assert check(stale).valid  # T2 began as T1 completed: concurrent, T2 may precede T1
    stale[1].invoke = 1.0 + 1e-9
    assert check(stale).violations == ["G-single-realtime"]


def test_a_serializable_but_not_strict_history_is_judged_per_model() -> None:
    # commit points moved out of the transactions' lifetimes: one serial order explains
    # every read, but not in real time
    h = simulate(1500, keys=8, clients=6, seed=4, jitter=2e-3)
    for model in ("read-committed", "snapshot-isolation", "serializable"):
        assert check(h, model).valid, model
    strict = check(h, "strict-serializable")
    assert not strict.valid and strict.violations
    assert all(name.endswith("-realtime") for name in strict.counts())


def test_a_search_out_of_budget_is_counted_and_later_stages_still_name_the_cycle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cycles, "SMALL", 0)
    monkeypatch.setattr(cycles, "BUDGET", 1)
    case = next(c for _, c in CORPUS if c.label == "rw-register/G-single-realtime")
    report = check(case.history)
    # the G-single search gave up; the G2-item search, whose pruned candidates all close
    # a cycle, found the one-rw cycle, which is named by its edges
    assert report.stats["searches_cut_short"] >= 1
    assert report.violations == ["G-single-realtime"]
    assert "ran out of budget" in report.lines()[-1]
