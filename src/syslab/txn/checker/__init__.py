"""An Elle-style checker for list-append and rw-register histories, up to MDSS.

`check(history, model)` infers the dependency graph of the committed transactions
(`versions`, `graph`), finds cycles per strongly connected component with a staged search
that names each one by its edges (`cycles`), adds the anomalies that are not cycles
(`anomalies`) and MDSS's failure rule (`mdss`), and judges them against the model
(`models`). Every anomaly comes with its witness and an explanation in words (`explain`).
No I/O: the CLI reads the history and prints `Report.lines()` or `Report.to_json()`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from syslab.txn.checker import explain, models
from syslab.txn.checker.anomalies import ANOMALY_NAMES, Anomaly, Edge, read_anomalies
from syslab.txn.checker.cycles import find_cycles
from syslab.txn.checker.graph import KIND_NAMES, Graph, build
from syslab.txn.checker.mdss import failure_suffix, suffix_committed
from syslab.txn.checker.models import MODELS
from syslab.txn.checker.versions import observe
from syslab.txn.history import INFO, History, Txn


@dataclass
class Report:
    """What `check` found: every anomaly (model-independent), the names of those the model
    forbids, whether the history is valid under the model, and graph statistics."""

    model: str
    valid: bool
    anomalies: list[Anomaly]
    violations: list[str]  # names of the found anomalies the model forbids, sorted
    stats: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many anomalies of each name were found, in the order of ANOMALY_NAMES."""
        c = Counter(a.name for a in self.anomalies)
        return {name: c[name] for name in ANOMALY_NAMES if c[name]}

    def forbidden(self, anomaly: Anomaly) -> bool:
        return anomaly.name in self.violations

    def to_json(self) -> dict:
        return {"model": self.model, "valid": self.valid, "violations": self.violations,
                "counts": self.counts(), "stats": self.stats,
                "anomalies": [a.to_json() | {"violation": self.forbidden(a)}
                              for a in self.anomalies]}

    def lines(self, examples: int = 3) -> list[str]:
        """A text summary: the verdict, then up to `examples` explained anomalies per name,
        the model's violations first."""
        counts = self.counts()
        s = self.stats
        size = f"{s.get('txns', 0)} transactions, {s.get('committed', 0)} committed"
        if not counts:
            return [f"{self.model}: valid ({size}; no anomalies)"] + self._cut_short()
        bad = [f"{n} x{c}" for n, c in counts.items() if n in self.violations]
        allowed = [f"{n} x{c}" for n, c in counts.items() if n not in self.violations]
        verdict = "valid" if self.valid else "NOT valid"
        head = f"{self.model}: {verdict} ({size})"
        if bad:
            head += "; violations: " + ", ".join(bad)
        if allowed:
            head += "; found but allowed: " + ", ".join(allowed)
        out = [head]
        names = [n for n in counts if n in self.violations] + \
                [n for n in counts if n not in self.violations]
        for n in names:
            shown = [a for a in self.anomalies if a.name == n][:examples]
            out += [f"  {n}: {a.explanation}" for a in shown]
            if counts[n] > len(shown):
                out.append(f"  ... and {counts[n] - len(shown)} more {n}")
        return out + self._cut_short()

    def _cut_short(self) -> list[str]:
        cut = self.stats.get("searches_cut_short", 0)
        return [f"  note: {cut} G-single searches ran out of budget in tangled components; "
                f"a G-single there may be unreported"] if cut else []


def check(history: History | Iterable[Txn], model: str = "strict-serializable") -> Report:
    """Check `history` against `model` (see `models.MODELS`): a Report of every anomaly
    found, which of them the model forbids, and whether the history is valid under it.
    A History's meta "timeout" (seconds) bounds the flight of unanswered transactions
    (see `mdss`)."""
    m = models.model(model)
    txns = list(history)
    timeout = history.meta.get("timeout") if isinstance(history, History) else None
    if not isinstance(timeout, int | float) or isinstance(timeout, bool):
        timeout = None
    obs = observe(txns)
    proven = suffix_committed(txns, timeout) if m.mdss else set()
    graph = build(obs, proven)
    anomalies = read_anomalies(obs) + failure_suffix(txns, timeout)
    cycles = find_cycles(graph)
    anomalies += [_cycle_anomaly(graph, name, ids, obs.txns)
                  for found in cycles.found for name, ids in found]
    anomalies.sort(key=lambda a: (ANOMALY_NAMES.index(a.name), a.txns))
    violations = sorted({a.name for a in anomalies if m.forbids(a.name)},
                        key=ANOMALY_NAMES.index)
    stats = {
        "txns": len(txns),
        "committed": graph.n,
        "indeterminate_committed": sum(t.outcome == INFO for t in graph.nodes),
        "list_keys": len(obs.lists),
        "register_keys": len(obs.registers),
        "unchecked_ops": obs.unchecked_ops,
        "edges": graph.counts(),
        "cyclic_components": len(cycles.found),
        "searches_cut_short": cycles.cut_short,
    }
    return Report(model, not violations, anomalies, violations, stats)


def _cycle_anomaly(graph: Graph, name: str, ids: list[int], txns: dict[int, Txn]) -> Anomaly:
    edges = []
    for e in ids:
        a, b = graph.nodes[graph.src[e]].id, graph.nodes[graph.dst[e]].id
        kind = KIND_NAMES[graph.kind[e]]
        if e < len(graph.keys):
            edges.append(Edge(a, b, kind, graph.keys[e], graph.before[e], graph.after[e]))
        else:
            edges.append(Edge(a, b, kind))
    edges = _shortcut(edges)
    text = explain.cycle(edges, name, txns, graph.list_keys)
    return Anomaly(name, tuple(e.src for e in edges), text, tuple(edges))


def _shortcut(cycle: list[Edge]) -> list[Edge]:
    """Merge each run of consecutive realtime edges (or process edges) into one edge.

    The frontier sweep gives real-time order as chains through whatever transactions
    completed in between: T1 < T5 < T9 in real time means T1 completed before T9 began,
    which is the one fact the cycle needs; the same holds for a client's issue order. The
    merged edge is as real as the chain and keeps bystanders out of the explanation."""
    n = len(cycle)
    # start at an edge that does not continue a run from the end of the cycle
    start = next((i for i in range(n)
                  if cycle[i].kind not in ("realtime", "process")
                  or cycle[i - 1].kind != cycle[i].kind), 0)
    out: list[Edge] = []
    for e in cycle[start:] + cycle[:start]:
        if out and e.kind in ("realtime", "process") and out[-1].kind == e.kind:
            out[-1] = Edge(out[-1].src, e.dst, e.kind)
        else:
            out.append(e)
    return out


__all__ = ["ANOMALY_NAMES", "MODELS", "Anomaly", "Edge", "Report", "check"]
