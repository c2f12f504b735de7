"""MDSS's rules beyond strict serializability (issue-order edges are in `graph`).

Suffix-closed failures: if a client's T1 fails, every transaction the client issued after
T1 while T1 was in flight (invoke(T2) < complete(T1)) must fail too. So a committed T2
after a failed T1 is a `failure-suffix` anomaly, and a committed T2 after an
indeterminate T1 proves T1 committed.

A transaction without a completion time (no answer came) was in flight until its client
gave up on it, which the history records only as the run's `timeout` (in its meta): then
it was in flight until invoke + timeout. Without one its flight has no known end and the
rule draws no conclusion from it: the formal model lets a pending transaction be dropped,
and a client that timed out and moved on issued its next transactions after the flight.
"""

from __future__ import annotations

from collections.abc import Iterable

from syslab.txn.checker import explain
from syslab.txn.checker.anomalies import Anomaly
from syslab.txn.history import FAIL, INFO, OK, Txn


def _clients(txns: Iterable[Txn]) -> dict[int, list[Txn]]:
    out: dict[int, list[Txn]] = {}
    for t in txns:
        out.setdefault(t.client, []).append(t)
    for ts in out.values():
        ts.sort(key=lambda t: t.index)
    return out


def _later_committed(ts: list[Txn], i: int, timeout: float | None) -> list[Txn]:
    """The committed transactions issued after ts[i] while it was in flight."""
    t1 = ts[i]
    if t1.complete is not None:
        end = t1.complete
    elif timeout is not None:
        end = t1.invoke + timeout
    else:
        return []
    out = []
    for t2 in ts[i + 1:]:
        if t2.invoke >= end:
            break  # issue order is invocation order: the rest were issued later still
        if t2.outcome == OK:
            out.append(t2)
    return out


def suffix_committed(txns: Iterable[Txn], timeout: float | None = None) -> set[int]:
    """Ids of indeterminate transactions that MDSS proves committed: a later transaction
    of the same client, issued while they were in flight, committed."""
    return {t.id for ts in _clients(txns).values() for i, t in enumerate(ts)
            if t.outcome == INFO and _later_committed(ts, i, timeout)}


def failure_suffix(txns: Iterable[Txn], timeout: float | None = None) -> list[Anomaly]:
    """One `failure-suffix` anomaly per failed transaction followed, while in flight, by a
    committed one of the same client (the first such is the witness)."""
    out: list[Anomaly] = []
    for ts in _clients(txns).values():
        for i, t1 in enumerate(ts):
            if t1.outcome != FAIL:
                continue
            later = _later_committed(ts, i, timeout)
            if later:
                t2 = later[0]
                out.append(Anomaly("failure-suffix", (t1.id, t2.id),
                                   explain.failure_suffix(t1, t2, len(later) - 1)))
    return out


__all__ = ["failure_suffix", "suffix_committed"]
