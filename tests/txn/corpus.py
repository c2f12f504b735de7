"""Seeded histories for the checker: clean ones from a simulated store, and a corpus with
one injected anomaly each.

`simulate` runs closed-loop clients against an in-memory store that applies each
transaction atomically at a random point of its lifetime (and, per client, in issue
order), so its histories are strict serializable and MDSS: they must check clean under
every model. `cases(seed)` puts each anomaly template on fresh keys and clients inside
such a background history, with random values, times, ids and transaction order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from syslab.txn.history import FAIL, INFO, OK, History, Txn
from syslab.txn.workloads import make_workload

ANOMALY_KEY_BASE = 1_000_000  # injected keys: far from the background's
ANOMALY_CLIENT_BASE = 1_000


def simulate(n: int, *, workload: str = "list-append", clients: int = 10, depth: int = 1,
             keys: int = 100, zipf: float = 0.99, seed: int = 0, fail_rate: float = 0.0,
             info_rate: float = 0.0, max_writes: int = 32, jitter: float = 0.0) -> History:
    """`n` transactions of `clients` clients, each keeping up to `depth` in flight, against
    an atomic store. A failed transaction takes no effect (and fails those of its client
    issued while it was in flight, as MDSS asks); an indeterminate one takes effect with
    probability 1/2 and records no completion and no read values. `jitter` (seconds) moves
    each commit point by a uniform random amount up to that much either way: still
    serializable, but no longer strict (stale reads, lost real-time order)."""
    rng = np.random.default_rng(seed)
    plans = make_workload(workload, keys=keys, zipf=zipf, seed=seed, max_writes=max_writes)
    in_flight: list[list[float]] = [[] for _ in range(clients)]  # completion-time heaps
    last_invoke = [0.0] * clients
    last_commit = [0.0] * clients
    fail_until = [-1.0] * clients
    index = [0] * clients
    rows = []  # (commit time or None, txn)
    shift = rng.uniform(-jitter, jitter, n)
    client_of = rng.integers(0, clients, n)
    durations = rng.exponential(1e-3, n) + 1e-5
    commit_at = rng.random(n)
    outcome_draw = rng.random(n)
    applies = rng.random(n) < 0.5
    for i in range(n):
        c = int(client_of[i])
        heap = in_flight[c]
        invoke = last_invoke[c]
        if len(heap) >= depth:
            invoke = max(invoke, heapq.heappop(heap))
        invoke += 1e-6
        complete = invoke + float(durations[i])
        last_invoke[c] = invoke
        if invoke < fail_until[c]:
            # failed by a failure in flight: the client hears of it as of that one
            outcome, complete = FAIL, max(invoke, min(complete, fail_until[c]))
        elif outcome_draw[i] < fail_rate:
            outcome, fail_until[c] = FAIL, complete
        elif outcome_draw[i] < fail_rate + info_rate:
            outcome = INFO
        else:
            outcome = OK
        commit = None
        if outcome == OK or (outcome == INFO and applies[i]):
            commit = max(invoke + float(commit_at[i]) * (complete - invoke),
                         last_commit[c] + 1e-9)  # per client in issue order
            complete = max(complete, commit)
            last_commit[c] = commit
        heapq.heappush(heap, complete)
        t = Txn(i, c, index[c], invoke, None if outcome == INFO else complete, outcome,
                plans.next(c))
        index[c] += 1
        rows.append((None if commit is None else commit + float(shift[i]), t))
    state: dict[int, object] = {}
    for _, t in sorted((r for r in rows if r[0] is not None), key=lambda r: r[0]):
        done = []
        for f, k, v in t.ops:
            if f == "r":
                cur = state.get(k)
                done.append(("r", k, list(cur) if isinstance(cur, list) else cur))
            elif f == "append":
                state.setdefault(k, []).append(v)
                done.append((f, k, v))
            else:
                state[k] = v
                done.append((f, k, v))
        if t.outcome == OK:
            t.ops = done
    meta = {"workload": workload, "clients": clients, "depth": depth, "seed": seed}
    return History([t for _, t in rows], meta)


@dataclass
class Case:
    """One corpus history: `expect` is the anomaly it holds ("" for a clean one)."""

    label: str
    workload: str
    expect: str
    history: History


# Templates: (client, invoke, complete, ops, outcome). Keys "x", "y" and values 1, 2 are
# symbols, mapped to fresh keys and random unique values per case; a client's
# transactions get issue indices in template order.
def _ap(k, v):
    return ("append", k, v)


def _w(k, v):
    return ("w", k, v)


def _r(k, v):
    return ("r", k, v)


LIST_APPEND = {
    "G0": [("a", 0, 2, [_ap("x", 1), _ap("y", 1)]), ("b", 0, 2, [_ap("x", 2), _ap("y", 2)]),
           ("c", 3, 4, [_r("x", [1, 2]), _r("y", [2, 1])])],
    "G1c": [("a", 0, 2, [_ap("x", 1), _r("y", [1])]), ("b", 0, 2, [_ap("y", 1), _r("x", [1])])],
    "G-single": [("a", 0, 2, [_ap("x", 1), _ap("y", 1)]), ("b", 0, 2, [_r("x", []), _r("y", [1])]),
                 ("c", 3, 4, [_r("x", [1])])],
    "G-single/info-writer": [("a", 0, None, [_ap("x", 1), _ap("y", 1)], INFO),
                             ("b", 0, 2, [_r("x", []), _r("y", [1])]),
                             ("c", 3, 4, [_r("x", [1])])],
    "G2-item": [("a", 0, 2, [_r("x", []), _r("y", []), _ap("x", 1)]),
                ("b", 0, 2, [_r("x", []), _r("y", []), _ap("y", 1)]),
                ("c", 3, 4, [_r("x", [1]), _r("y", [1])])],
    "G1a": [("a", 0, 1, [_ap("x", 1)], FAIL), ("b", 2, 3, [_r("x", [1])])],
    "G1b": [("a", 0, 2, [_ap("x", 1), _ap("x", 2)]), ("b", 0, 2, [_r("x", [1])]),
            ("c", 3, 4, [_r("x", [1, 2])])],
    "internal": [("a", 0, 1, [_ap("x", 1), _r("x", [])])],
    "incompatible-order": [("a", 0, 1, [_ap("x", 1)]), ("b", 0, 1, [_ap("x", 2)]),
                           ("c", 2, 3, [_r("x", [1, 2])]), ("d", 2, 3, [_r("x", [2, 1])])],
    "duplicate-elements": [("a", 0, 1, [_ap("x", 1)]), ("b", 2, 3, [_r("x", [1, 1])])],
    "garbage-read": [("b", 0, 1, [_r("x", [1])])],
    "G0-realtime": [("a", 0, 1, [_ap("x", 1)]), ("b", 2, 3, [_ap("x", 2)]),
                    ("c", 4, 5, [_r("x", [2, 1])])],
    "G1c-realtime": [("a", 0, 1, [_r("x", [1])]), ("b", 2, 3, [_ap("x", 1)])],
    # a stale read: b misses a's append though a completed before b began
    "G-single-realtime": [("a", 0, 1, [_ap("x", 1)]), ("b", 2, 3, [_r("x", [])]),
                          ("c", 4, 5, [_r("x", [1])])],
    "G2-item-realtime": [("c", 0, 1, [_ap("y", 1)]), ("a", 2, 5, [_r("x", [])]),
                         ("b", 0.5, 5, [_r("y", []), _ap("x", 1)]),
                         ("d", 6, 7, [_r("x", [1]), _r("y", [1])])],
    "G0-process": [("a", 0, 3, [_ap("x", 1)]), ("a", 1, 2, [_ap("x", 2)]),
                   ("c", 4, 5, [_r("x", [2, 1])])],
    "G1c-process": [("a", 0, 3, [_r("x", [1])]), ("a", 1, 2, [_ap("x", 1)])],
    # an issue-order violation: a's second transaction misses its first one's append
    "G-single-process": [("a", 0, 3, [_ap("x", 1)]), ("a", 1, 2, [_r("x", [])]),
                         ("c", 4, 5, [_r("x", [1])])],
    "G2-item-process": [("a", 0, 3, [_ap("x", 1)]), ("a", 1, 2, [_r("y", [])]),
                        ("b", 0, 3, [_r("x", []), _ap("y", 1)]),
                        ("d", 4, 5, [_r("x", [1]), _r("y", [1])])],
    "failure-suffix": [("a", 0, 3, [_ap("x", 1)], FAIL), ("a", 1, 2, [_ap("y", 1)])],
}

RW_REGISTER = {
    "G0": [("a", 0, 2, [_w("x", 1), _r("y", 2), _w("y", 1)]),
           ("b", 0, 2, [_r("x", 1), _w("x", 2), _w("y", 2)])],
    "G1c": [("a", 0, 2, [_w("x", 1), _r("y", 1)]), ("b", 0, 2, [_w("y", 1), _r("x", 1)])],
    "G-single": [("a", 0, 2, [_w("x", 1), _w("y", 1)]), ("b", 0, 2, [_r("x", None), _r("y", 1)])],
    "G-single/info-writer": [("a", 0, None, [_w("x", 1), _w("y", 1)], INFO),
                             ("b", 0, 2, [_r("x", None), _r("y", 1)])],
    "G2-item": [("a", 0, 2, [_r("x", None), _r("y", None), _w("x", 1)]),
                ("b", 0, 2, [_r("x", None), _r("y", None), _w("y", 1)])],
    "G1a": [("a", 0, 1, [_w("x", 1)], FAIL), ("b", 2, 3, [_r("x", 1)])],
    "G1b": [("a", 0, 2, [_w("x", 1), _w("x", 2)]), ("b", 0, 2, [_r("x", 1)])],
    "internal": [("a", 0, 1, [_w("x", 1), _r("x", None)])],
    "garbage-read": [("b", 0, 1, [_r("x", 1)])],
    "G0-realtime": [("a", 0, 1, [_r("x", 2), _w("x", 1)]), ("b", 2, 3, [_w("x", 2)])],
    "G1c-realtime": [("a", 0, 1, [_r("x", 1)]), ("b", 2, 3, [_w("x", 1)])],
    "G-single-realtime": [("a", 0, 1, [_w("x", 1)]), ("b", 2, 3, [_r("x", None)])],
    "G2-item-realtime": [("c", 0, 1, [_w("y", 1)]), ("a", 2, 5, [_r("x", None)]),
                         ("b", 0.5, 5, [_r("y", None), _w("x", 1)])],
    "G0-process": [("a", 0, 3, [_r("x", 2), _w("x", 1)]), ("a", 1, 2, [_w("x", 2)])],
    "G1c-process": [("a", 0, 3, [_r("x", 1)]), ("a", 1, 2, [_w("x", 1)])],
    "G-single-process": [("a", 0, 3, [_w("x", 1)]), ("a", 1, 2, [_r("x", None)])],
    "G2-item-process": [("a", 0, 3, [_w("x", 1)]), ("a", 1, 2, [_r("y", None)]),
                        ("b", 0, 3, [_r("x", None), _w("y", 1)])],
    "failure-suffix": [("a", 0, 3, [_w("x", 1)], FAIL), ("a", 1, 2, [_w("y", 1)])],
}

TEMPLATES = {"list-append": LIST_APPEND, "rw-register": RW_REGISTER}


def _inject(template: list, background: History, rng: np.random.Generator) -> list[Txn]:
    """The template's transactions on fresh keys and clients, at a random time inside the
    background, with random unique values."""
    span = max((t.complete or t.invoke) for t in background) if len(background) else 1.0
    base = float(rng.uniform(0, span))
    unit = float(rng.uniform(2e-4, 2e-3))  # a template time unit, in seconds
    keys: dict[str, int] = {}
    values: dict[tuple[str, int], int] = {}
    clients: dict[str, int] = {}
    issued: dict[str, int] = {}

    def key(s: str) -> int:
        if s not in keys:
            keys[s] = ANOMALY_KEY_BASE + len(keys) * 1000 + int(rng.integers(1000))
        return keys[s]

    def val(s: str, v: int) -> int:
        if (s, v) not in values:
            taken = {x for (k, _), x in values.items() if k == s}
            while (x := int(rng.integers(1, 10**6))) in taken:
                pass
            values[(s, v)] = x
        return values[(s, v)]

    out = []
    for row in template:
        client, invoke, complete, ops = row[:4]
        outcome = row[4] if len(row) > 4 else OK
        c = clients.setdefault(client, ANOMALY_CLIENT_BASE + len(clients))
        mapped = []
        for f, k, v in ops:
            if f == "r" and isinstance(v, list):
                v = [val(k, x) for x in v]
            elif v is not None:
                v = val(k, v)
            mapped.append((f, key(k), v))
        index = issued.get(client, 0)
        issued[client] = index + 1
        out.append(Txn(-1, c, index, base + invoke * unit,
                       None if complete is None else base + complete * unit, outcome, mapped))
    return out


def cases(seed: int = 0, background: int = 30) -> list[Case]:
    """Every template of both workloads in a `background`-transaction clean history, plus
    clean histories (serial, concurrent, multi-dispatch with failures and timeouts)."""
    rng = np.random.default_rng(seed)
    out: list[Case] = []
    for workload, templates in TEMPLATES.items():
        for label, template in templates.items():
            bg = simulate(background, workload=workload, clients=3, keys=4,
                          seed=int(rng.integers(1 << 30)), fail_rate=0.05, info_rate=0.05)
            txns = bg.txns + _inject(template, bg, rng)
            out.append(Case(f"{workload}/{label}", workload, label.split("/")[0],
                            _shuffle(txns, rng)))
        clean = {
            "serial": dict(clients=1),
            "concurrent": dict(clients=5, fail_rate=0.05, info_rate=0.05),
            "multi-dispatch": dict(clients=3, depth=4, fail_rate=0.05, info_rate=0.05),
        }
        for label, options in clean.items():
            h = simulate(background * 4, workload=workload, keys=5,
                         seed=int(rng.integers(1 << 30)), **options)
            out.append(Case(f"{workload}/clean-{label}", workload, "",
                            _shuffle(h.txns, rng)))
    return out


def _shuffle(txns: list[Txn], rng: np.random.Generator) -> History:
    """Random ids and a random order: the checker must depend on neither."""
    ids = rng.permutation(len(txns) * 3)[:len(txns)]
    for t, i in zip(txns, ids.tolist(), strict=True):
        t.id = i
    order = rng.permutation(len(txns))
    return History([txns[i] for i in order])


__all__ = ["ANOMALY_CLIENT_BASE", "ANOMALY_KEY_BASE", "Case", "LIST_APPEND", "RW_REGISTER",
           "TEMPLATES", "cases", "simulate"]
