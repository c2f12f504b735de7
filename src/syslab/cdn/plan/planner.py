"""Demand learned on a training window, and the planner that decides which nodes hold what."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from syslab.cdn.plan.constants import GB, MONTH_S
from syslab.cdn.plan.logs import RequestLog
from syslab.cdn.plan.prices import Prices
from syslab.common.errors import UserError


@dataclass
class Demand:
    """Requests per (node, object) on the training window, and each object's size."""

    counts: np.ndarray  # shape (n_nodes, n_objects)
    sizes: np.ndarray  # bytes per object (last size seen; 0 if never seen)
    train_s: float


def learn_demand(train: RequestLog, n_nodes: int, n_objects: int, train_s: float) -> Demand:
    flat = train.regions * n_objects + train.keys
    counts = np.bincount(flat, minlength=n_nodes * n_objects).reshape(n_nodes, n_objects)
    sizes = np.zeros(n_objects, dtype=np.int64)
    sizes[train.keys] = train.sizes  # fancy assignment: the last occurrence wins
    return Demand(counts, sizes, train_s)


@dataclass
class NodePlan:
    region: str
    capacity: int
    budget: int
    keys: np.ndarray  # object ids stored on this node (ascending)
    key_sizes: np.ndarray  # their sizes (bytes)
    bytes: int
    candidates: int  # objects with demand in this node's region
    unprofitable: int  # of those: stored nowhere because no placement beat the bar
    no_room: int  # placements on this node that beat the bar but did not fit
    expected_requests: float  # requests this node is expected to serve (any region's)
    expected_saving: float  # $ over the window: the greedy gains of the placements here
    expected_remote: float = 0.0  # of expected_requests: other regions' requests
    # $/GB of each key's copy: fill (from the origin), less (from a holder), 0 (resident)
    push_prices: np.ndarray | None = None


@dataclass
class Plan:
    nodes: list[NodePlan]
    period_s: float
    budget: float
    min_saving: float


@dataclass
class _Problem:
    """The planner's inputs over the candidate objects (rows) and nodes (columns)."""

    cand: np.ndarray  # object ids with demand somewhere
    n_hat: np.ndarray  # (m, n) expected requests per region in the period
    sizes: np.ndarray  # (m,) bytes
    fill: np.ndarray  # (n,) $/GB origin -> node
    x: np.ndarray  # (n, n) $/GB node -> node
    sigma: np.ndarray  # (n,) storage $/GB for the period
    pay: np.ndarray  # (m, n) 1 where placing the object must be paid for, 0 when resident


def _problem(demand: Demand, prices: Prices, period_s: float, resident: Plan | None) -> _Problem:
    scale = period_s / demand.train_s
    cand = np.flatnonzero(demand.counts.sum(axis=0) > 0)
    n_hat = demand.counts[:, cand].T.astype(np.float64) * scale
    fill = prices.fill_prices
    sigma = np.array([n.storage_price for n in prices.nodes]) * period_s / MONTH_S
    pay = np.ones(n_hat.shape)
    if resident is not None:
        for h, old in enumerate(resident.nodes):
            pay[np.isin(cand, old.keys), h] = 0.0
    return _Problem(cand, n_hat, demand.sizes[cand], fill, prices.transfer_matrix(), sigma, pay)


def _best_source(held: np.ndarray, x: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """(m, n): $/GB for region r to get object o: min(fill_r, min over holders h of x[h, r])."""
    best = np.broadcast_to(fill, held.shape).copy()
    for h in range(held.shape[1]):
        rows = held[:, h]
        if rows.any():
            best[rows] = np.minimum(best[rows], x[h])
    return best


@dataclass
class _Items:
    """Candidate additions (parallel arrays): object row, node, gain ($/GB of the object),
    sort key (the running minimum of the gains along the object's sequence, so that an
    addition never sorts before the ones it assumes), step, and push price ($/GB)."""

    row: np.ndarray
    node: np.ndarray
    gain: np.ndarray
    key: np.ndarray
    step: np.ndarray
    push: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    def take(self, index: np.ndarray) -> _Items:
        return _Items(*(getattr(self, f)[index] for f in _Items.__dataclass_fields__))


def _greedy_items(
    p: _Problem,
    held: np.ndarray,
    excluded: np.ndarray,
    min_saving: float,
    rows: np.ndarray | None = None,
) -> _Items:
    """Uncapacitated greedy facility location, per object, from the holders in `held`.

    At each step every object adds the node with the largest saving per GB of its size,
    gain(h | H) = sum_r n_hat_r * (B_r(H) - B_r(H + h)) - sigma_h - pay_h * B_h(H), B_r(H) =
    min(fill_r, min_{g in H} x[g, r]) -- the cheapest source for region r, which is also what
    a copy for node h costs (from the origin, or from a holder when that is cheaper) -- among
    nodes that serve some region more cheaply, are not `excluded`, and beat `min_saving`; it
    stops when none is left.
    """
    rows = np.arange(len(p.cand)) if rows is None else np.asarray(rows)
    held = held.copy()
    best = _best_source(held[rows], p.x, p.fill)
    floor = np.full(len(rows), np.inf)
    out: list[tuple[np.ndarray, ...]] = []
    step, live = 0, np.arange(len(rows))  # positions into rows/best
    while len(live):
        r = rows[live]
        b = best[live]
        after = np.minimum(b[:, None, :], p.x[None, :, :])  # (k, h, region)
        serve = np.einsum("kr,khr->kh", p.n_hat[r], b[:, None, :] - after)
        push = p.pay[r] * b
        gain = serve - p.sigma[None, :] - push
        ok = (serve > 0) & ~held[r] & ~excluded[r] & (gain > min_saving)
        gain = np.where(ok, gain, -np.inf)
        pick = gain.argmax(axis=1)
        at = np.arange(len(live))
        value, price = gain[at, pick], push[at, pick]
        go = value > -np.inf
        live, pick, value, price = live[go], pick[go], value[go], price[go]
        if not len(live):
            break
        floor[live] = np.minimum(floor[live], value)
        out.append((rows[live], pick, value, floor[live], np.full(len(live), step), price))
        held[rows[live], pick] = True
        best[live] = np.minimum(best[live], p.x[pick])
        step += 1
    if not out:
        empty = np.zeros(0, dtype=np.int64)
        return _Items(empty, empty, np.zeros(0), np.zeros(0), empty, np.zeros(0))
    return _Items(*(np.concatenate(a) for a in zip(*out, strict=True)))


def _fit(
    p: _Problem,
    items: _Items,
    space: list[int],
    no_room: np.ndarray,
    excluded: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Take additions best saving per byte first while they fit (the knapsack's value
    density). An addition that does not fit blocks the rest of its object's additions (they
    assumed it) and excludes that node for the object. Returns (taken item indices, blocked
    rows)."""
    row, node = items.row, items.node
    weight = p.n_hat.sum(axis=1)[row]
    order = np.lexsort((items.step, p.cand[row], -weight, -items.key))
    # Fast path: everything before the first item that overflows its node is taken as is.
    by_node = node[order]
    used = np.zeros(len(order), dtype=np.int64)
    for h in range(len(space)):
        at = by_node == h
        used[at] = np.cumsum(p.sizes[row[order[at]]])
    over = np.flatnonzero(used > np.array(space, dtype=np.int64)[by_node])
    head = int(over[0]) if len(over) else len(order)
    taken: list[int] = order[:head].tolist()
    for h in range(len(space)):
        space[h] -= int(p.sizes[row[order[:head]][by_node[:head] == h]].sum())
    order = order[head:]
    sizes = p.sizes[row[order]].tolist()
    blocked: set[int] = set()
    for i, o, h, s in zip(order.tolist(), row[order].tolist(), node[order].tolist(), sizes,
                          strict=True):  # fmt: skip
        if o in blocked:
            continue
        if s <= space[h]:
            space[h] -= s
            taken.append(i)
        else:
            blocked.add(o)
            no_room[h] += 1
            excluded[o, h] = True
    return np.array(taken, dtype=np.int64), np.array(sorted(blocked), dtype=np.int64)


def plan_placement(
    demand: Demand,
    prices: Prices,
    period_s: float,
    *,
    budget: float = 1.0,
    min_saving: float = 0.0,
    resident: Plan | None = None,
    fallback_rounds: int = 2,
) -> Plan:
    """Choose the nodes that hold each object: greedy facility location under capacities.

    Per object o (size s, expected requests n_hat_r per region in the period) the cost of a
    holder set H is s/GB * [sum_{h in H} (storage_h * T/month + push_h)
    + sum_r n_hat_r * min(fill_r, min_{h in H} x[h, r])], x[r, r] = 0; push_h is what the
    copy for h costs when it is added: from the origin (fill_h) or from a node that already
    holds o (x[g, h]) when cheaper, and 0 when the `resident` plan already put o on h.
    `_greedy_items` builds each object's additions (gain per GB > `min_saving`; -inf: any
    addition that serves some demand more cheaply); `_fit` takes them best saving per byte
    first within `budget` * capacity; objects blocked by a full node are re-planned without
    it up to `fallback_rounds` times.
    """
    if not 0 < budget <= 1:
        raise UserError(f"plan budget must be a fraction of capacity in (0, 1], got {budget}")
    p = _problem(demand, prices, period_s, resident)
    m, n = p.n_hat.shape
    caps = [int(node.capacity * budget) for node in prices.nodes]
    space = list(caps)
    held = np.zeros((m, n), dtype=bool)
    excluded = np.zeros((m, n), dtype=bool)
    no_room = np.zeros(n, dtype=np.int64)
    saving = np.zeros(n)
    push = np.zeros((m, n))  # $/GB paid for each placement's copy
    items = _greedy_items(p, held, excluded, min_saving)
    wanted = np.zeros(m, dtype=bool)
    wanted[items.row] = True
    for attempt in range(fallback_rounds + 1):
        if not len(items):
            break
        taken, blocked = _fit(p, items, space, no_room, excluded)
        got = items.take(taken)
        held[got.row, got.node] = True
        push[got.row, got.node] = got.push
        saving += np.bincount(got.node, weights=got.gain * p.sizes[got.row] / GB, minlength=n)
        if not len(blocked) or attempt == fallback_rounds:
            break
        excluded[blocked] |= p.sizes[blocked, None] > np.array(space)[None, :]
        items = _greedy_items(p, held, excluded, min_saving, rows=blocked)

    # Who serves what, as planned: the region's own node, else the cheapest holder under fill.
    served = np.zeros(n)
    remote = np.zeros(n)
    for r in range(n):
        price = np.where(held, p.x[:, r][None, :], np.inf)
        src = price.argmin(axis=1)
        ok = held[:, r] | (price[np.arange(m), src] < p.fill[r])
        served += np.bincount(src[ok], weights=p.n_hat[ok, r], minlength=n)
        far = ok & ~held[:, r]
        remote += np.bincount(src[far], weights=p.n_hat[far, r], minlength=n)
    nodes = []
    for h, node in enumerate(prices.nodes):
        mine = held[:, h]
        demand_here = p.n_hat[:, h] > 0
        nodes.append(
            NodePlan(
                region=node.region,
                capacity=node.capacity,
                budget=caps[h],
                keys=p.cand[mine],
                key_sizes=p.sizes[mine],
                bytes=int(p.sizes[mine].sum()),
                candidates=int(np.count_nonzero(demand.counts[h])),
                unprofitable=int(np.count_nonzero(demand_here & ~wanted)),
                no_room=int(no_room[h]),
                expected_requests=float(served[h]),
                expected_saving=float(saving[h]),
                expected_remote=float(remote[h]),
                push_prices=push[mine, h],
            )
        )
    return Plan(nodes, period_s, budget, min_saving)
