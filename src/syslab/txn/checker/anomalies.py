"""Anomaly names, what a found anomaly holds, and the anomalies that are not cycles.

Cycle anomalies (Adya; Elle's names), most severe first:

- G0: a cycle of write-write (ww) edges only: dirty write;
- G1c: a cycle of ww and write-read (wr) edges: circular information flow;
- G-single: a cycle with exactly one read-write anti-dependency (rw): read skew;
- G2-item: a cycle with rw edges: write skew and the like.

A cycle that needs real-time edges gets the suffix `-realtime`, one that needs per-client
issue-order (process) edges `-process` (an issue-order violation under MDSS).

Not cycles: G1a (aborted read), G1b (intermediate read), internal (a read contradicting
its own transaction's writes), incompatible-order (two reads of a list no single order
explains), duplicate-elements, garbage-read (a value nobody wrote), and MDSS's
failure-suffix (a later-issued transaction committed though an earlier one in flight
failed).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any

from syslab.txn.checker import explain
from syslab.txn.checker.versions import ListKey, Observations, RegisterKey
from syslab.txn.history import FAIL

CYCLE_KINDS = ("G0", "G1c", "G-single", "G2-item")  # most severe first
LEVELS = ("", "-realtime", "-process")  # edges a cycle may need beyond data edges
CYCLE_NAMES = tuple(kind + level for level in LEVELS for kind in CYCLE_KINDS)
READ_ANOMALIES = ("G1a", "G1b", "internal", "incompatible-order", "duplicate-elements",
                  "garbage-read")
ANOMALY_NAMES = CYCLE_NAMES + READ_ANOMALIES + ("failure-suffix",)


@dataclass(frozen=True, slots=True)
class Edge:
    """One dependency T(src) < T(dst), with the key and values that justify it.

    ww: dst's `after` followed src's `before` in the key's version order; wr: dst read
    `before` (a list read: ending in it), which src wrote; rw: src read `before` (None:
    the initial state or an empty list) and dst wrote `after`, the next version;
    realtime: src completed before dst was invoked; process: the same client issued src
    before dst.
    """

    src: int
    dst: int
    kind: str
    key: int | None = None
    before: Any = None
    after: Any = None

    def to_json(self) -> dict:
        d: dict = {"src": self.src, "dst": self.dst, "kind": self.kind}
        if self.key is not None:
            d.update(key=self.key, before=self.before, after=self.after)
        return d


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A found anomaly: its name, the transactions that witness it (ids; for a cycle, in
    cycle order), the cycle's edges (empty for other anomalies), and an explanation."""

    name: str
    txns: tuple[int, ...]
    explanation: str
    cycle: tuple[Edge, ...] = ()
    key: int | None = None

    def to_json(self) -> dict:
        d: dict = {"name": self.name, "txns": list(self.txns), "explanation": self.explanation}
        if self.cycle:
            d["cycle"] = [e.to_json() for e in self.cycle]
        if self.key is not None:
            d["key"] = self.key
        return d


def cycle_name(kinds: list[str]) -> str:
    """Classify a cycle by its edges: the rw count picks the kind, the order edges the
    suffix."""
    rw = kinds.count("rw")
    base = CYCLE_KINDS[min(rw, 2) + 1] if rw or "wr" in kinds else "G0"
    if "process" in kinds:
        return base + "-process"
    return base + "-realtime" if "realtime" in kinds else base


def base_kind(name: str) -> str:
    """G-single-realtime -> G-single."""
    for level in LEVELS[1:]:
        if name.endswith(level):
            return name[: -len(level)]
    return name


def level_of(name: str) -> int:
    """0 for a cycle of data edges only, 1 for -realtime, 2 for -process."""
    return LEVELS.index(name[len(base_kind(name)):])


def read_anomalies(obs: Observations) -> list[Anomaly]:
    """G1a, G1b, internal, incompatible-order, duplicate-elements and garbage-read: one
    anomaly per offending value and key (the first read that shows it is the witness)."""
    out: list[Anomaly] = []
    for r in obs.internal:
        out.append(Anomaly("internal", (r.txn,), explain.internal(r), key=r.key))
    for lk in obs.lists.values():
        if lk.reads:
            out.extend(_list_anomalies(obs, lk))
    for rk in obs.registers.values():
        out.extend(_register_anomalies(obs, rk))
    return out


def _list_anomalies(obs: Observations, lk: ListKey) -> list[Anomaly]:
    out: list[Anomaly] = []
    k, order, writer = lk.key, lk.order, lk.writer
    bad = set(lk.incompatible)
    if bad:
        i = lk.incompatible[0]
        longest = next(r for r in lk.reads if r[1] is order)
        other = lk.reads[i]
        text = explain.incompatible(k, longest, other, len(bad))
        out.append(Anomaly("incompatible-order", (longest[0], other[0]), text, key=k))
    # every element a prefix read saw is in `order`: check each once, with the shortest
    # read that saw it as witness; elements of incompatible reads are checked per read
    prefix = sorted((len(v), tid) for i, (tid, v) in enumerate(lk.reads) if i not in bad)
    lengths = [n for n, _ in prefix]
    in_order = set(order)
    if len(in_order) < len(order):
        seen: set[int] = set()
        pos = next(p for p, e in enumerate(order) if e in seen or seen.add(e))
        reader = prefix[bisect_right(lengths, pos)][1]
        out.append(Anomaly("duplicate-elements", (reader,),
                           explain.duplicate(reader, k, order[:pos + 1]), key=k))
    witnesses = [(prefix[bisect_right(lengths, pos)][1], order[:pos + 1])
                 for pos in range(len(order))
                 if (w := writer.get(order[pos])) is None or obs.txns[w].outcome == FAIL]
    for i in lk.incompatible:
        reader, v = lk.reads[i]
        witnesses += [(reader, v[:j + 1]) for j, e in enumerate(v) if e not in in_order]
    reported: set[int] = set()
    for reader, seen_prefix in witnesses:
        e = seen_prefix[-1]
        w = writer.get(e)
        if e in reported or (w is not None and obs.txns[w].outcome != FAIL):
            continue
        reported.add(e)
        if w is None:
            out.append(Anomaly("garbage-read", (reader,),
                               explain.garbage(reader, k, seen_prefix, True), key=k))
        else:
            out.append(Anomaly("G1a", (w, reader),
                               explain.aborted_read(reader, w, k, seen_prefix, True), key=k))
    if obs.intermediate:
        for tid, v in lk.reads:
            if (v and (k, v[-1]) in obs.intermediate and writer.get(v[-1]) != tid
                    and v[-1] not in reported):
                reported.add(v[-1])
                w = writer[v[-1]]
                text = explain.intermediate_read(tid, w, k, v, obs.final[(w, k)], True)
                out.append(Anomaly("G1b", (w, tid), text, key=k))
    return out


def _register_anomalies(obs: Observations, rk: RegisterKey) -> list[Anomaly]:
    out: list[Anomaly] = []
    k, writer = rk.key, rk.writer
    reported: set[int] = set()
    for tid, v in rk.reads:
        if v is None or v in reported:
            continue
        w = writer.get(v)
        if w is None:
            reported.add(v)
            out.append(Anomaly("garbage-read", (tid,), explain.garbage(tid, k, v, False),
                               key=k))
        elif obs.txns[w].outcome == FAIL:
            reported.add(v)
            out.append(Anomaly("G1a", (w, tid), explain.aborted_read(tid, w, k, v, False),
                               key=k))
        elif (k, v) in obs.intermediate and w != tid:
            reported.add(v)
            text = explain.intermediate_read(tid, w, k, v, obs.final[(w, k)], False)
            out.append(Anomaly("G1b", (w, tid), text, key=k))
    return out


__all__ = ["ANOMALY_NAMES", "CYCLE_KINDS", "CYCLE_NAMES", "LEVELS", "READ_ANOMALIES",
           "Anomaly", "Edge", "base_kind", "cycle_name", "level_of", "read_anomalies"]
