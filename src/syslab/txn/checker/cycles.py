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
witness is the shortest cycle through any candidate. Large components are pruned first
(candidates inside one SCC of the allowed edges; for G-single, candidates whose ends are
in topological order of the acyclic ww/wr graph) and each search has a visit budget, so a
history that is one giant tangle still finishes; the budget only bounds how hard a
shorter witness is sought.
"""

from __future__ import annotations

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


def find_cycles(graph: Graph) -> list[list[tuple[str, list[int]]]]:
    """Per cyclic component, (anomaly name, edge ids of its witness cycle in order) for
    each cycle anomaly found there."""
    return [_search_component(graph, edges) for edges in components(graph)]


def _search_component(graph: Graph, edges: np.ndarray) -> list[tuple[str, list[int]]]:
    src, dst, kind = (graph.src[edges].tolist(), graph.dst[edges].tolist(),
                      graph.kind[edges].tolist())
    ids = edges.tolist()
    adj: dict[int, list[tuple[int, int, int]]] = {}
    for e, a, b, k in zip(ids, src, dst, kind, strict=True):
        adj.setdefault(a, []).append((b, k, e))
    large = len(adj) > SMALL
    found: dict[str, int] = {}  # kind -> lowest level at which a cycle of it was found
    out: list[tuple[str, list[int]]] = []
    for level, extra in enumerate(LEVEL_EXTRA):
        for rank, (required, path_kinds) in enumerate(SEARCHES):
            if any(found.get(k, len(LEVEL_EXTRA)) <= level for k in CYCLE_KINDS[:rank + 1]):
                continue
            allowed = frozenset(path_kinds + extra)
            candidates = list(dict.fromkeys(
                (a, b, e) for e, a, b, k in zip(ids, src, dst, kind, strict=True)
                if k == required))
            order = None
            if large:
                candidates, order = _prune(candidates, src, dst, kind, allowed,
                                           required in allowed)
            cycle = _shortest_cycle(adj, candidates, allowed, order)
            if cycle is None:
                continue
            name = cycle_name([KIND_NAMES[graph.kind[e]] for e in cycle])
            found.setdefault(base_kind(name), level_of(name))
            if all(name != n for n, _ in out):
                out.append((name, cycle))
    return out


def _prune(candidates: list[tuple[int, int, int]], src: list[int], dst: list[int],
           kind: list[int], allowed: frozenset[int], closes: bool
           ) -> tuple[list[tuple[int, int, int]], dict[int, int] | None]:
    """Candidates that can close a cycle; for paths that must avoid the candidate's own
    kind (G-single), also a topological rank that bounds the search."""
    nodes = sorted(set(src) | set(dst))
    local = {v: i for i, v in enumerate(nodes)}
    keep = [i for i, k in enumerate(kind) if k in allowed]
    ls = np.fromiter((local[src[i]] for i in keep), dtype=np.int64, count=len(keep))
    ld = np.fromiter((local[dst[i]] for i in keep), dtype=np.int64, count=len(keep))
    if closes:
        m = csr_matrix((np.ones(len(keep), dtype=np.float32), (ls, ld)),
                       shape=(len(nodes), len(nodes)))
        _, labels = connected_components(m, directed=True, connection="strong")
        return [c for c in candidates if labels[local[c[0]]] == labels[local[c[1]]]], None
    topo = _topological(len(nodes), ls, ld)
    if topo is None:
        return candidates, None
    rank = {v: int(topo[local[v]]) for v in nodes}
    ok = [c for c in candidates if rank[c[1]] < rank[c[0]]]
    ok.sort(key=lambda c: rank[c[0]] - rank[c[1]])  # near in order: short cycles first
    return ok, rank


def _topological(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Rank of each node in a topological order, or None when there is a cycle."""
    indegree = np.bincount(dst, minlength=n).tolist()
    order = np.argsort(src, kind="stable")
    starts = np.searchsorted(src[order], np.arange(n + 1))
    succ = dst[order].tolist()
    ready = [v for v in range(n) if indegree[v] == 0]
    rank = np.full(n, -1, dtype=np.int64)
    done = 0
    while ready:
        v = ready.pop()
        rank[v] = done
        done += 1
        for w in succ[starts[v]:starts[v + 1]]:
            indegree[w] -= 1
            if indegree[w] == 0:
                ready.append(w)
    return rank if done == n else None


def _shortest_cycle(adj: dict[int, list[tuple[int, int, int]]],
                    candidates: list[tuple[int, int, int]], allowed: frozenset[int],
                    rank: dict[int, int] | None) -> list[int] | None:
    best: list[int] | None = None
    budget = [BUDGET]
    tried: set[tuple[int, int]] = set()
    for a, b, e in candidates:
        if (a, b) in tried:
            continue
        tried.add((a, b))
        max_len = len(best) - 2 if best else len(adj) + 1  # path edges that would improve
        if max_len < 1:
            break
        path = _path(adj, b, a, allowed, max_len, rank, budget)
        if path is not None:
            best = [e, *path]
        if budget[0] <= 0:
            break
    return best


def _path(adj: dict[int, list[tuple[int, int, int]]], start: int, goal: int,
          allowed: frozenset[int], max_len: int, rank: dict[int, int] | None,
          budget: list[int]) -> list[int] | None:
    """Edge ids of a shortest path start -> goal over `allowed` kinds with at most
    `max_len` edges (breadth-first); with `rank`, only through nodes ranked up to goal."""
    parent: dict[int, tuple[int, int]] = {start: (-1, -1)}
    frontier = [start]
    limit = rank[goal] if rank is not None else 0
    for _ in range(max_len):
        nxt: list[int] = []
        for u in frontier:
            for v, k, e in adj.get(u, ()):
                if k not in allowed or v in parent or (rank is not None and rank[v] > limit):
                    continue
                parent[v] = (u, e)
                if v == goal:
                    path = []
                    while v != start:
                        v, e = parent[v]
                        path.append(e)
                    return path[::-1]
                nxt.append(v)
        budget[0] -= len(nxt)
        if not nxt or budget[0] <= 0:
            return None
        frontier = nxt
    return None


__all__ = ["BUDGET", "LEVEL_EXTRA", "SEARCHES", "components", "find_cycles"]
