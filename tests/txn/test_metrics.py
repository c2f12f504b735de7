"""The run metrics, hand-checked on a tiny history."""

from __future__ import annotations

import pytest

from syslab.txn.history import FAIL, INFO, OK, History, Txn
from syslab.txn.metrics import cascaded_failures, summarize
from syslab.txn.runner import Request, Run


def _t(i: int, client: int, index: int, invoke: float, complete: float | None,
       outcome: str) -> Txn:
    return Txn(i, client, index, invoke, complete, outcome, [("r", 1, None)])


def test_summary_of_a_small_run() -> None:
    txns = [
        _t(0, 0, 0, 0.0, 0.010, OK),
        _t(1, 0, 1, 0.001, 0.020, FAIL),   # fails ...
        _t(2, 0, 2, 0.002, 0.021, FAIL),   # ... and takes this in-flight successor with it
        _t(3, 0, 3, 0.030, 0.040, FAIL),   # issued after both answered: not a cascade
        _t(4, 1, 0, 0.0, 0.030, OK),
        _t(5, 1, 1, 0.0, None, INFO),
    ]
    run = Run(History(txns), [Request(0, 0.0, 0.05, False), Request(1, 0.0, 0.03, True)], 2.0)
    s = summarize(run)
    assert (s["txns"], s["committed"], s["failed"], s["unknown"]) == (6, 2, 3, 1)
    assert s["throughput"] == 2.5 and s["goodput"] == 1.0
    assert s["abort_rate"] == pytest.approx(3 / 5)
    assert cascaded_failures(run.history) == 1 and s["cascade_rate"] == pytest.approx(1 / 3)
    assert s["p50_ms"] == pytest.approx(20.0)  # committed latencies 10 and 30 ms
    assert s["requests"] == 2 and s["requests_ok"] == 1
    assert s["request_p50_ms"] == pytest.approx(30.0)


def test_warmup_leaves_out_what_started_before_it() -> None:
    txns = [_t(0, 0, 0, 0.1, 0.9, FAIL), _t(1, 0, 1, 1.0, 1.2, OK), _t(2, 1, 0, 1.1, 1.4, OK)]
    run = Run(History(txns), [Request(0, 0.1, 0.9, False), Request(0, 1.0, 1.2, True)], 2.0)
    s = summarize(run, warmup=0.5)
    assert (s["txns"], s["committed"], s["failed"]) == (2, 2, 0)
    assert s["goodput"] == pytest.approx(2 / 1.5) and s["p50_ms"] == pytest.approx(250.0)
    assert s["requests"] == 1 and s["requests_ok"] == 1
