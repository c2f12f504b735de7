"""Workload generators: seeded, skewed as asked, and the shapes each workload promises."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from syslab.common.errors import UserError
from syslab.txn.history import OK, History, Txn
from syslab.txn.workloads import WORKLOADS, ZipfKeys, make_workload, probe_violations
from syslab.txn.workloads.ycsb import ClosedEconomy


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_every_workload_is_seeded_and_plans_valid_ops(name: str) -> None:
    a, b = make_workload(name, seed=3), make_workload(name, seed=3)
    plans = [a.next(c % 4) for c in range(300)]
    assert plans == [b.next(c % 4) for c in range(300)]
    assert plans != [make_workload(name, seed=4).next(c % 4) for c in range(300)]
    for ops in plans:
        assert ops
        for f, key, value in ops:
            assert f in ("r", "w", "append", "add", "scan") and isinstance(key, int)
            assert (value is None) == (f == "r")


def test_zipf_skew_orders_key_popularity() -> None:
    rng = np.random.default_rng(0)
    flat, skew = ZipfKeys(100, 0.0, rng), ZipfKeys(100, 1.2, rng)
    uniform = Counter(flat.draw() for _ in range(50_000))
    skewed = Counter(skew.draw() for _ in range(50_000))
    assert max(uniform.values()) < 2 * min(uniform.values())  # ~500 each
    top = skewed.most_common(1)[0][1] / 50_000
    # P(rank 1) = 1 / H(100, 1.2) ~ 0.26 for theta 1.2
    assert 0.22 < top < 0.30
    with pytest.raises(UserError, match="zipf skew"):
        ZipfKeys(10, -1, rng)


def test_list_append_values_are_unique_per_key_and_keys_rotate() -> None:
    w = make_workload("list-append", keys=5, zipf=0.0, seed=1, max_writes=4)
    seen: set[tuple[int, int]] = set()
    per_key: Counter = Counter()
    for _ in range(200):
        ops = w.next(0)
        assert len({k for _, k, _ in ops}) == len(ops) <= 4  # distinct keys per txn
        for f, key, value in ops:
            if f == "append":
                assert (key, value) not in seen
                seen.add((key, value))
                per_key[key] += 1
    assert max(per_key.values()) <= 4 and len(per_key) > 5  # retired keys were replaced


def test_rw_register_reads_then_writes_the_same_key() -> None:
    w = make_workload("rw-register", keys=3, zipf=0.0, seed=2, max_writes=2)
    rmw = 0
    for _ in range(200):
        ops = w.next(0)
        for (f1, k1, _), (f2, k2, _) in zip(ops, ops[1:], strict=False):
            rmw += f1 == "r" and f2 == "w" and k1 == k2
    assert rmw > 20


def test_ycsb_mixes_match_their_definition() -> None:
    kinds = Counter()
    w = make_workload("ycsb-b", seed=0)
    for _ in range(4000):
        kinds.update(f for f, _, _ in w.next(0))
    assert 0.93 < kinds["r"] / 4000 < 0.97
    e = make_workload("ycsb-e", seed=0)
    scans = [op for _ in range(1000) for op in e.next(0) if op[0] == "scan"]
    assert 900 < len(scans) < 990 and all(1 <= n <= 10 for _, _, n in scans)
    with pytest.raises(UserError, match="unknown workload"):
        make_workload("ycsb-z")


def test_closed_economy_conserves_money_and_scores_audits() -> None:
    w = ClosedEconomy(keys=10, seed=0)
    state = dict(w.initial())
    for _ in range(500):
        for f, key, value in w.next(0):
            if f == "add":
                state[key] += value
    assert sum(state.values()) == 10 * 1000
    audit = Txn(0, 0, 0, 0.0, 1.0, OK, [("scan", 0, [state[k] for k in range(10)])])
    assert w.anomaly_score(History([audit])) == 0.0
    bad = Txn(1, 0, 1, 0.0, 1.0, OK, [("scan", 0, [state[k] for k in range(9)] + [0])])
    assert w.anomaly_score(History([bad])) == pytest.approx(state[9] / 10_000)


def test_tpcc_mix_and_key_ranges() -> None:
    w = make_workload("tpcc", seed=0, customers=100, items=1000)
    new_orders = sum(len(w.next(0)) > 4 for _ in range(2000))
    assert 0.46 < new_orders / 2000 < 0.56  # 45 / 88
    assert all(v == 100 for k, v in w.initial().items() if k >= w.base_s)


def test_probe_counts_reads_that_miss_their_write() -> None:
    w = make_workload("order-probe")
    ops = [w.next(0) for _ in range(4)]
    assert ops[0][0][0] == "w" and ops[1][0][:2] == ("r", ops[0][0][1])
    txns = [Txn(0, 0, 0, 0.0, 1.0, OK, ops[0]),
            Txn(1, 0, 1, 0.1, 1.0, OK, [("r", ops[1][0][1], 1)]),
            Txn(2, 0, 2, 2.0, 3.0, OK, ops[2]),
            Txn(3, 0, 3, 2.1, 3.0, OK, [("r", ops[3][0][1], None)])]
    assert probe_violations(History(txns)) == (2, 1)
