"""Cycles of the dependency graph, found and named by a staged search per strongly
connected component (SCC).

A plain "find a cycle" labels by whatever cycle it happens to hit: a stale read came out
as G2-realtime in the research prototype. Instead, per SCC, each anomaly kind gets its own
shortest-cycle search, most severe first, over data edges, then data + realtime edges,
then data + realtime + process edges:

- G0: a cycle through a ww edge over ww edges;
- G1c: through a wr edge over ww and wr edges;
- G-single: an rw edge a -> b closed by a shortest path b -> a over ww and wr edges, so
  the cycle has exactly one rw edge;
- G2-item: through an rw edge over all data edges.

A kind is searched at a level only if neither it nor a more severe kind was found at
that level or below: every model forbids a severity prefix of the kinds over a prefix of
the levels, so what is skipped can never change a verdict. A found cycle is named by its
own edges (`anomalies.cycle_name`), so the name always matches the witness.

Each candidate edge a -> b is closed by a breadth-first search from b back to a, so the
witness is the shortest cycle through any candidate. Large components are pruned first:
for G0, G1c and G2-item to candidates inside one SCC of the allowed edges, each of which
closes a cycle; for G-single to candidates whose ends are in topological order of the
acyclic ww/wr graph, which may or may not close one. Each search has a budget of node
visits, so a history that is one giant tangle still finishes. For G0, G1c and G2-item the
budget only bounds the hunt for a shorter witness (the first cycle is always found). A
G-single search can run out before closing any cycle: it is then counted as cut short
(`Cycles.cut_short`, in the report's stats), and the component reports the kinds it did
find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from syslab.txn.checker.anomalies import CYCLE_KINDS, base_kind, cycle_name, level_of
from syslab.txn.checker.graph import KIND_NAMES, PROCESS, REALTIME, RW, WR, WW, Graph

LEVEL_EXTRA = ((), (REALTIME,), (REALTIME, PROCESS))
# per kind of CYCLE_KINDS (G0, G1c, G-single, G2-item): (the edge kind a cycle must go
# through, the kinds its closing path may use besides the level's order edges)
SEARCHES = ((WW, (WW,)), (WR, (WW, WR)), (RW, (WW, WR)), (RW, (WW, WR, RW)))
SMALL = 64  # components up to this many nodes are searched without pruning
BUDGET = 400_000  # node visits per search


def components(graph: Graph) -> list[np.ndarray]:
    """Edge ids of each SCC with more than one node (edges with both ends inside)."""
    n = graph.n
    if n == 0 or len(graph.src) == 0:
        return []
    m = csr_matrix((np.ones(len(graph.src), dtype=np.float32), (graph.src, graph.dst)),
                   shape=(n, n))
    count, labels = connected_components(m, directed=True, connection="strong")
    if count == n:
        return []
    sizes = np.bincount(labels, minlength=count)
    ls, ld = labels[graph.src], labels[graph.dst]
    inside = np.flatnonzero((ls == ld) & (sizes[ls] > 1))
    inside = inside[np.argsort(ls[inside], kind="stable")]
    cuts = np.flatnonzero(np.diff(ls[inside])) + 1
    return np.split(inside, cuts)


@dataclass
class Cycles:
    """Per cyclic component, (anomaly name, edge ids of its witness cycle in order) for
    each cycle anomaly found there; and how many searches ran out of budget before
    closing a cycle."""

    found: list[list[tuple[str, list[int]]]]
    cut_short: int


def find_cycles(graph: Graph) -> Cycles:
    out = Cycles([], 0)
    for edges in components(graph):
        out.found.append(_search_component(graph, edges, out))
    return out


class _Component:
    """One SCC with local node numbers 0..n-1 and its edges in CSR form (Python lists:
    the breadth-first searches walk them one edge at a time)."""

    def __init__(self, graph: Graph, edges: np.ndarray) -> None:
        nodes, local = np.unique(np.concatenate([graph.src[edges], graph.dst[edges]]),
                                 return_inverse=True)
        self.n = len(nodes)
        self.src, self.dst = local[:len(edges)], local[len(edges):]
        self.kind, self.ids = graph.kind[edges], edges
        by_src = np.argsort(self.src, kind="stable")
        self.indptr = np.searchsorted(self.src[by_src], np.arange(self.n + 1)).tolist()
        self.succ = self.dst[by_src].tolist()
        self.succ_kind = self.kind[by_src].tolist()
        self.succ_id = by_src.tolist()  # positions in this component's edge arrays
        self._candidates: dict[int, np.ndarray] = {}

    def candidates(self, required: int) -> np.ndarray:
        """Positions of the `required`-kind edges, one per (src, dst) pair."""
        if required not in self._candidates:
            pos = np.flatnonzero(self.kind == required)
            pair = self.src[pos] * self.n + self.dst[pos]
            _, first = np.unique(pair, return_index=True)
            self._candidates[required] = pos[np.sort(first)]
        return self._candidates[required]


def _search_component(graph: Graph, edges: np.ndarray, tally: Cycles
                      ) -> list[tuple[str, list[int]]]:
    comp = _Component(graph, edges)
    found: dict[str, int] = {}  # kind -> lowest level at which a cycle of it was found
    out: list[tuple[str, list[int]]] = []
    for level, extra in enumerate(LEVEL_EXTRA):
        for rank, (required, path_kinds) in enumerate(SEARCHES):
            if any(found.get(k, len(LEVEL_EXTRA)) <= level for k in CYCLE_KINDS[:rank + 1]):
                continue
            allowed = frozenset(path_kinds + extra)
            candidates = comp.candidates(required)
            order, closing = None, False
            if comp.n > SMALL and len(candidates):
                closing = required in allowed
                candidates, order = _prune(comp, candidates, allowed, closing)
            cycle, cut = _shortest_cycle(comp, candidates, allowed, order, closing)
            tally.cut_short += cut
            if cycle is None:
                continue
            cycle = comp.ids[cycle].tolist()
            name = cycle_name([KIND_NAMES[graph.kind[e]] for e in cycle])
            found.setdefault(base_kind(name), level_of(name))
            if all(name != n for n, _ in out):
                out.append((name, cycle))
    return out


def _prune(comp: _Component, candidates: np.ndarray, allowed: frozenset[int], closes: bool
           ) -> tuple[np.ndarray, list[int] | None]:
    """Candidates that can close a cycle; for paths that must avoid the candidate's own
    kind (G-single), also a topological rank that bounds the search."""
    keep = np.isin(comp.kind, list(allowed))
    ls, ld = comp.src[keep], comp.dst[keep]
    a, b = comp.src[candidates], comp.dst[candidates]
    if closes:
        m = csr_matrix((np.ones(len(ls), dtype=np.float32), (ls, ld)), shape=(comp.n, comp.n))
        _, labels = connected_components(m, directed=True, connection="strong")
        return candidates[labels[a] == labels[b]], None
    topo = _topological(comp.n, ls, ld)
    if topo is None:
        return candidates, None
    gap = topo[a] - topo[b]
    ok = np.flatnonzero(gap > 0)
    ok = ok[np.argsort(gap[ok], kind="stable")]  # near in order: short cycles first
    return candidates[ok], topo.tolist()


def _topological(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Rank of each node in a topological order, or None when there is a cycle."""
    indegree = np.bincount(dst, minlength=n).tolist()
    order = np.argsort(src, kind="stable")
    starts = np.searchsorted(src[order], np.arange(n + 1)).tolist()
    succ = dst[order].tolist()
    ready = [v for v in range(n) if indegree[v] == 0]
    rank = [0] * n
    done = 0
    while ready:
        v = ready.pop()
        rank[v] = done
        done += 1
        for w in succ[starts[v]:starts[v + 1]]:
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    return np.asarray(rank, dtype=np.int64) if done == n else None


def _shortest_cycle(comp: _Component, candidates: np.ndarray, allowed: frozenset[int],
                    rank: list[int] | None, closing: bool) -> tuple[list[int] | None, bool]:
    """Edge positions of the shortest cycle through one of `candidates` (tried in order),
    and whether the budget ran out before any was found. `closing`: every candidate
    closes a cycle, so the first search runs to its end whatever the budget."""
    best: list[int] | None = None
    budget = [BUDGET]
    for c, a, b in zip(candidates.tolist(), comp.src[candidates].tolist(),
                       comp.dst[candidates].tolist(), strict=True):
        max_len = len(best) - 2 if best else comp.n  # path edges that would improve
        if max_len < 1:
            break
        path = _path(comp, b, a, allowed, max_len, rank, budget,
                     bounded=best is not None or not closing)
        if path is not None:
            best = [c, *path]
        if budget[0] <= 0:
            return best, best is None
    return best, False


def _path(comp: _Component, start: int, goal: int, allowed: frozenset[int], max_len: int,
          rank: list[int] | None, budget: list[int], bounded: bool) -> list[int] | None:
    """Edge positions of a shortest path start -> goal over `allowed` kinds with at most
    `max_len` edges (breadth-first); with `rank`, only through nodes ranked up to goal."""
    indptr, succ, succ_kind, succ_id = comp.indptr, comp.succ, comp.succ_kind, comp.succ_id
    parent: dict[int, tuple[int, int]] = {start: (-1, -1)}
    frontier = [start]
    limit = rank[goal] if rank is not None else 0
    for _ in range(max_len):
        nxt: list[int] = []
        for u in frontier:
            for j in range(indptr[u], indptr[u + 1]):
                v = succ[j]
                if (succ_kind[j] not in allowed or v in parent
                        or (rank is not None and rank[v] > limit)):
                    continue
                parent[v] = (u, succ_id[j])
                if v == goal:
                    path = []
                    while v != start:
                        v, e = parent[v]
                        path.append(e)
                    return path[::-1]
                nxt.append(v)
        budget[0] -= len(nxt)
        if not nxt or (bounded and budget[0] <= 0):
            return None
        frontier = nxt
    return None


__all__ = ["BUDGET", "LEVEL_EXTRA", "SEARCHES", "Cycles", "components", "find_cycles"]
