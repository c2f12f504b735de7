"""The multi-dispatch client runner, against in-memory stores built for the test."""

from __future__ import annotations

import asyncio
import random

import pytest

from syslab.common.errors import UserError
from syslab.txn.history import FAIL, INFO, OK
from syslab.txn.runner import run_clients
from syslab.txn.stores.base import Session, Store, TxnFailed, TxnUnknown
from syslab.txn.workloads import make_workload, probe_violations


class MemoryStore(Store):
    """Applies each transaction atomically when it is submitted, answers after a random
    delay; `apply_late` applies it after the delay instead, so a client's concurrent
    transactions take effect in any order (no issue order)."""

    name = "memory"

    def __init__(self, apply_late: bool = False, seed: int = 0) -> None:
        self.state: dict = {}
        self.apply_late = apply_late
        self.rng = random.Random(seed)
        self.max_in_flight = 0
        self.in_flight = 0

    async def load(self, initial: dict) -> None:
        self.state = dict(initial)

    async def session(self, client: int, depth: int) -> Session:
        store = self

        class _Session(Session):
            async def execute(self, ops):
                store.in_flight += 1
                store.max_in_flight = max(store.max_in_flight, store.in_flight)
                try:
                    if not store.apply_late:
                        done = store.apply(ops)
                    await asyncio.sleep(store.rng.random() * 0.002)
                    if store.apply_late:
                        done = store.apply(ops)
                    return done
                finally:
                    store.in_flight -= 1

        return _Session()

    def apply(self, ops):
        out = []
        for f, key, value in ops:
            if f == "r":
                out.append(("r", key, self.state.get(key)))
            else:
                self.state[key] = value
                out.append((f, key, value))
        return out


def test_depth_bounds_what_is_in_flight_and_indices_follow_invocation() -> None:
    store = MemoryStore()
    w = make_workload("rw-register", seed=0)
    run = asyncio.run(run_clients(store, w.next, clients=3, depth=4, txns=300))
    h = run.history
    assert len(h) == 300 and all(t.outcome == OK for t in h)
    assert 4 < store.max_in_flight <= 12
    for txns in h.by_client().values():
        assert [t.index for t in txns] == list(range(len(txns)))
        assert all(a.invoke <= b.invoke for a, b in zip(txns, txns[1:], strict=False))
        assert all(t.complete >= t.invoke for t in txns)


def test_issue_order_violations_show_only_without_issue_order() -> None:
    for apply_late, depth, expect_violations in ((False, 8, False), (True, 1, False),
                                                 (True, 8, True)):
        w = make_workload("order-probe")
        run = asyncio.run(run_clients(MemoryStore(apply_late), w.next, clients=2, depth=depth,
                                      txns=400))
        pairs, violations = probe_violations(run.history)
        assert pairs >= 195  # a client may stop between a write and its read
        assert (violations > 0) == expect_violations, (apply_late, depth, violations)


class FlakyStore(MemoryStore):
    async def session(self, client: int, depth: int) -> Session:
        class _Session(Session):
            async def execute(self, ops):
                kind = ops[0][2] % 4 if ops[0][0] == "w" else 3
                if kind == 0:
                    raise TxnFailed("serialization failure\n(retry)")
                if kind == 1:
                    raise TxnUnknown("connection lost")
                if kind == 2:
                    await asyncio.sleep(10)
                return ops

        return _Session()


def test_failures_unknowns_and_timeouts_are_recorded_as_the_client_saw_them() -> None:
    values = iter(range(1000))
    run = asyncio.run(run_clients(FlakyStore(), lambda c: [("w", 1, next(values))],
                                  clients=1, depth=4, txns=8, timeout=0.05))
    by_value = {t.ops[0][2]: t for t in run.history}
    assert by_value[0].outcome == FAIL and by_value[0].error == "serialization failure (retry)"
    assert by_value[0].complete is not None
    assert by_value[1].outcome == INFO and by_value[1].complete is None
    assert by_value[2].outcome == INFO and "no answer within 0.05 s" in by_value[2].error
    assert by_value[3].outcome == OK


def test_request_mode_waits_for_the_whole_fanout() -> None:
    w = make_workload("fanout", seed=0)
    single = asyncio.run(run_clients(MemoryStore(), w.next, clients=1, depth=1, txns=80,
                                     request_size=8))
    multi = asyncio.run(run_clients(MemoryStore(), w.next, clients=1, depth=8, txns=80,
                                    request_size=8))
    for run in (single, multi):
        assert len(run.requests) == 10 and all(r.ok for r in run.requests)
    mean = [sum(r.end - r.start for r in run.requests) / 10 for run in (single, multi)]
    assert mean[0] > 2 * mean[1]  # 8 delays in a row vs 8 at once


def test_bad_settings_are_user_errors() -> None:
    with pytest.raises(UserError, match="at least 1"):
        asyncio.run(run_clients(MemoryStore(), lambda c: [], clients=1, depth=0, txns=1))
    with pytest.raises(UserError, match="duration or a transaction count"):
        asyncio.run(run_clients(MemoryStore(), lambda c: [], clients=1, depth=1))


def test_one_big_runs_each_request_as_one_transaction() -> None:
    w = make_workload("fanout", seed=0)
    run = asyncio.run(run_clients(MemoryStore(), w.next, clients=2, depth=1, txns=10,
                                  request_size=8, one_big=True))
    assert len(run.history) == 10 and all(len(t.ops) == 8 for t in run.history)
    assert len(run.requests) == 10 and all(r.ok for r in run.requests)
    with pytest.raises(UserError, match="needs a request size"):
        asyncio.run(run_clients(MemoryStore(), w.next, clients=1, depth=1, txns=1,
                                one_big=True))
