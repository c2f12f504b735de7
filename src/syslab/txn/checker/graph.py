"""The dependency graph: committed transactions as nodes, edges as numpy arrays.

Nodes are the committed transactions: every "ok" one, plus each indeterminate ("info")
one whose writes a committed read observed (so it committed), plus those MDSS proves
committed (see `mdss`). Failed transactions are never nodes: reads of their writes are
G1a.

Data edges (Adya), from `versions`:

- list-append key with version order e0, e1, ...: ww writer(e_i) -> writer(e_i+1); a
  read ending at e_i gives wr writer(e_i) -> reader and rw reader -> writer(e_i+1) (an
  empty read: rw reader -> writer(e0)). The rw edge is left out when writer(e_i) also
  wrote e_i+1: that read saw an intermediate state (G1b, reported as such), and the edge
  would only restate it as a cycle;
- register: wr writer(v) -> reader; for each proven pair v < v', ww writer(v) ->
  writer(v') and rw reader(v) -> writer(v'); readers of the initial state (None) precede
  every committed writer of the key.

Order edges:

- realtime, T1 -> T2 when complete(T1) < invoke(T2), by a frontier sweep over invoke and
  complete events: at T's invoke, edges from every frontier transaction to T; at T's
  completion, T replaces its recorded predecessors in the frontier. Reachability then
  equals real-time order with O(n * concurrency) edges. An indeterminate transaction never
  completes, so it has no outgoing realtime edges;
- process: consecutive committed transactions of a client in issue order.

Edges into and out of the same transaction are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from syslab.txn.checker.versions import Observations
from syslab.txn.history import INFO, OK, Txn

WW, WR, RW, REALTIME, PROCESS = range(5)
KIND_NAMES = ("ww", "wr", "rw", "realtime", "process")


@dataclass
class Graph:
    """Nodes 0..n-1 are `nodes` (transactions); edge i is src[i] -> dst[i] of kind[i].
    Data edges come first: for i < len(keys), keys/before/after say what justifies edge i
    (see `anomalies.Edge`)."""

    nodes: list[Txn]
    src: np.ndarray
    dst: np.ndarray
    kind: np.ndarray
    keys: list[int]
    before: list
    after: list
    list_keys: frozenset[int]

    @property
    def n(self) -> int:
        return len(self.nodes)

    def counts(self) -> dict[str, int]:
        per = np.bincount(self.kind, minlength=len(KIND_NAMES))
        return {name: int(c) for name, c in zip(KIND_NAMES, per, strict=True)}


def committed_nodes(obs: Observations, also: Iterable[int] = ()) -> list[Txn]:
    """The transactions that are graph nodes, in history order."""
    observed: set[int] = set(also)
    for lk in obs.lists.values():
        w = lk.writer
        observed.update(w[e] for e in lk.order if e in w)
        for i in lk.incompatible:
            observed.update(w[e] for e in lk.reads[i][1] if e in w)
    for rk in obs.registers.values():
        w = rk.writer
        observed.update(w[v] for _, v in rk.reads if v in w)
    return [t for t in obs.txns.values()
            if t.outcome == OK or (t.outcome == INFO and t.id in observed)]


def build(obs: Observations, also_committed: Iterable[int] = ()) -> Graph:
    """The graph of `obs`'s history; `also_committed` names indeterminate transactions to
    take as committed whatever was observed."""
    nodes = committed_nodes(obs, also_committed)
    node_of = {t.id: i for i, t in enumerate(nodes)}
    src: list[int] = []
    dst: list[int] = []
    kind: list[int] = []
    keys: list[int] = []
    before: list = []
    after: list = []

    def add(a: int, b: int, k: int, key: int, v1, v2) -> None:
        src.append(a)
        dst.append(b)
        kind.append(k)
        keys.append(key)
        before.append(v1)
        after.append(v2)

    for lk in obs.lists.values():
        if not lk.order:
            continue
        key, order = lk.key, lk.order
        w = [node_of.get(lk.writer.get(e, -1), -1) for e in order]
        for i in range(len(order) - 1):
            a, b = w[i], w[i + 1]
            if a >= 0 and b >= 0 and a != b:
                add(a, b, WW, key, order[i], order[i + 1])
        bad = set(lk.incompatible)
        m = len(order)
        for j, (tid, v) in enumerate(lk.reads):
            r = node_of[tid]
            n = len(v)
            if n:
                last = v[-1]
                a = node_of.get(lk.writer.get(last, -1), -1)
                if a >= 0 and a != r:
                    add(a, r, WR, key, last, None)
            if j in bad or n >= m:
                continue  # a read off the order says nothing of what came next
            b = w[n]
            if b >= 0 and b != r and (n == 0 or w[n - 1] != b):
                add(r, b, RW, key, v[-1] if n else None, order[n])

    for rk in obs.registers.values():
        key, writer = rk.key, rk.writer
        readers: dict[int | None, list[int]] = {}
        for tid, v in rk.reads:
            r = node_of[tid]
            readers.setdefault(v, []).append(r)
            if v is not None:
                a = node_of.get(writer.get(v, -1), -1)
                if a >= 0 and a != r:
                    add(a, r, WR, key, v, None)
        for v, v2, tid in rk.successors:
            b = node_of[tid]
            if v is None:
                continue  # covered below: the initial state precedes every version
            a = node_of.get(writer.get(v, -1), -1)
            if a >= 0 and a != b:
                add(a, b, WW, key, v, v2)
            for r in readers.get(v, ()):
                if r != b:
                    add(r, b, RW, key, v, v2)
        initial = readers.get(None)
        if initial:
            for v2, tid in writer.items():
                b = node_of.get(tid, -1)
                if b < 0 or (key, v2) in obs.intermediate:
                    continue
                for r in initial:
                    if r != b:
                        add(r, b, RW, key, None, v2)

    rt_src, rt_dst = realtime_edges(nodes)
    pr_src, pr_dst = process_edges(nodes)
    data = len(src)
    return Graph(
        nodes,
        np.concatenate([np.asarray(src, dtype=np.int64), rt_src, pr_src]),
        np.concatenate([np.asarray(dst, dtype=np.int64), rt_dst, pr_dst]),
        np.concatenate([np.asarray(kind, dtype=np.int8),
                        np.full(len(rt_src), REALTIME, dtype=np.int8),
                        np.full(len(pr_src), PROCESS, dtype=np.int8)]),
        keys[:data], before, after, frozenset(obs.lists))


def realtime_edges(nodes: list[Txn]) -> tuple[np.ndarray, np.ndarray]:
    """(src, dst) of the frontier sweep (see the module doc)."""
    n = len(nodes)
    invoke = np.fromiter((t.invoke for t in nodes), dtype=float, count=n)
    complete = np.fromiter((np.inf if t.complete is None else t.complete for t in nodes),
                           dtype=float, count=n)
    done = np.flatnonzero(np.isfinite(complete))
    times = np.concatenate([invoke, complete[done]])
    node = np.concatenate([np.arange(n), done])
    is_completion = np.concatenate([np.zeros(n, dtype=bool), np.ones(len(done), dtype=bool)])
    # at equal times invocations come first: T1 -> T2 needs complete(T1) < invoke(T2)
    events = np.lexsort((is_completion, times))
    frontier: set[int] = set()
    preds: dict[int, list[int]] = {}
    src: list[int] = []
    invoked: list[int] = []  # destinations, one per invocation, with how many edges each
    fan_in: list[int] = []
    for i, completes in zip(node[events].tolist(), is_completion[events].tolist(),
                            strict=True):
        if completes:
            frontier.difference_update(preds.pop(i))
            frontier.add(i)
        else:
            p = list(frontier)
            preds[i] = p
            src.extend(p)
            invoked.append(i)
            fan_in.append(len(p))
    return (np.asarray(src, dtype=np.int64),
            np.repeat(np.asarray(invoked, dtype=np.int64), np.asarray(fan_in, dtype=np.int64)))


def process_edges(nodes: list[Txn]) -> tuple[np.ndarray, np.ndarray]:
    """(src, dst): each client's consecutive committed transactions in issue order."""
    n = len(nodes)
    client = np.fromiter((t.client for t in nodes), dtype=np.int64, count=n)
    index = np.fromiter((t.index for t in nodes), dtype=np.int64, count=n)
    order = np.lexsort((index, client))
    same = client[order][1:] == client[order][:-1]
    return order[:-1][same], order[1:][same]


__all__ = ["KIND_NAMES", "PROCESS", "REALTIME", "RW", "WR", "WW", "Graph", "build",
           "committed_nodes", "process_edges", "realtime_edges"]
