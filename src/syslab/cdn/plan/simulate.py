"""Replaying an evaluation window against a plan and against LRU caches: hits and costs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from syslab.cdn.plan.constants import GB, MONTH_S
from syslab.cdn.plan.logs import RequestLog
from syslab.cdn.plan.planner import Plan
from syslab.cdn.plan.prices import UNLIMITED, Prices


@dataclass
class Outcome:
    """One strategy replayed over the evaluation window, per requesting region and in total.

    hits = local + remote hits (served by some CDN node: the origin offload); fill bytes =
    pushes + bytes fetched from the origin; transfer = bytes a node sent to another region's
    node, priced at x[holder, region] and booked here under the requesting region.
    """

    name: str
    regions: list[str]
    requests: np.ndarray
    hits: np.ndarray
    bytes: np.ndarray
    hit_bytes: np.ndarray
    fill_bytes: np.ndarray  # pushes + origin fetches
    push_bytes: np.ndarray
    byte_seconds: np.ndarray  # storage occupancy integrated over the window (per node)
    storage_cost: np.ndarray
    fill_cost: np.ndarray
    egress_cost: np.ndarray
    period_s: float
    params: dict = field(default_factory=dict)
    local_hits: np.ndarray | None = None
    local_hit_bytes: np.ndarray | None = None
    remote_bytes: np.ndarray | None = None
    transfer_cost: np.ndarray | None = None

    def __post_init__(self) -> None:
        zero = np.zeros(len(self.regions))
        if self.local_hits is None:
            self.local_hits = np.asarray(self.hits).copy()
        if self.local_hit_bytes is None:
            self.local_hit_bytes = np.asarray(self.hit_bytes, dtype=np.float64).copy()
        if self.remote_bytes is None:
            self.remote_bytes = zero.copy()
        if self.transfer_cost is None:
            self.transfer_cost = zero.copy()

    @property
    def hit_ratio(self) -> float:
        """Origin offload: requests served by any CDN node."""
        return float(self.hits.sum() / max(1, self.requests.sum()))

    @property
    def byte_hit_ratio(self) -> float:
        return float(self.hit_bytes.sum() / max(1, self.bytes.sum()))

    @property
    def local_hit_ratio(self) -> float:
        """Requests served by the client's own region's node."""
        return float(self.local_hits.sum() / max(1, self.requests.sum()))

    @property
    def local_byte_hit_ratio(self) -> float:
        return float(self.local_hit_bytes.sum() / max(1, self.bytes.sum()))

    @property
    def cost(self) -> float:
        return float(
            self.storage_cost.sum()
            + self.fill_cost.sum()
            + self.transfer_cost.sum()
            + self.egress_cost.sum()
        )

    def summary(self) -> dict:
        requested_gb = max(1.0, float(self.bytes.sum())) / GB
        return {
            "strategy": self.name,
            "hit_ratio": self.hit_ratio,
            "byte_hit_ratio": self.byte_hit_ratio,
            "local_hit_ratio": self.local_hit_ratio,
            "local_byte_hit_ratio": self.local_byte_hit_ratio,
            "remote_hit_ratio": self.hit_ratio - self.local_hit_ratio,
            "storage_cost": float(self.storage_cost.sum()),
            "fill_cost": float(self.fill_cost.sum()),
            "transfer_cost": float(self.transfer_cost.sum()),
            "egress_cost": float(self.egress_cost.sum()),
            "total_cost": self.cost,
            "push_bytes": int(self.push_bytes.sum()),
            "fill_bytes": int(self.fill_bytes.sum()),
            "remote_bytes": int(self.remote_bytes.sum()),
            "mean_stored_bytes": float(self.byte_seconds.sum() / self.period_s),
            # $/GB the edges paid to get the bytes they delivered (0: all local hits).
            "mean_source_price": (float(self.fill_cost.sum() + self.transfer_cost.sum()))
            / requested_gb,
            **self.params,
        }

    def to_dict(self) -> dict:
        per_node = []
        for i, region in enumerate(self.regions):
            per_node.append(
                {
                    "region": region,
                    "requests": int(self.requests[i]),
                    "hits": int(self.hits[i]),
                    "local_hits": int(self.local_hits[i]),
                    "bytes": int(self.bytes[i]),
                    "hit_bytes": int(self.hit_bytes[i]),
                    "fill_bytes": int(self.fill_bytes[i]),
                    "push_bytes": int(self.push_bytes[i]),
                    "remote_bytes": int(self.remote_bytes[i]),
                    "mean_stored_bytes": float(self.byte_seconds[i] / self.period_s),
                    "storage_cost": float(self.storage_cost[i]),
                    "fill_cost": float(self.fill_cost[i]),
                    "transfer_cost": float(self.transfer_cost[i]),
                    "egress_cost": float(self.egress_cost[i]),
                }
            )
        return {**self.summary(), "per_node": per_node}


def _outcome(
    name: str,
    prices: Prices,
    ev: RequestLog,
    local: np.ndarray,
    remote: np.ndarray,
    remote_price: np.ndarray,
    byte_seconds: np.ndarray,
    period_s: float,
    params: dict,
    push: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Outcome:
    """`push`: per node (bytes pushed, of them from the origin, $ of the copies from other
    nodes)."""
    n = len(prices.nodes)
    zero = np.zeros(n)
    push_bytes, push_fill, push_transfer = push if push is not None else (zero, zero, zero)

    def per_region(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(ev.regions, weights=weights, minlength=n)

    size = ev.sizes.astype(np.float64)
    hit = local | remote
    fill_bytes = np.asarray(push_fill, dtype=np.float64) + per_region(size * ~hit)
    storage = np.array([p.storage_price for p in prices.nodes])
    egress = np.array([p.egress_price for p in prices.nodes])
    return Outcome(
        name=name,
        regions=prices.regions,
        requests=per_region(),
        hits=per_region(hit.astype(np.float64)).astype(np.int64),
        bytes=per_region(size),
        hit_bytes=per_region(size * hit),
        fill_bytes=fill_bytes,
        push_bytes=np.asarray(push_bytes, dtype=np.float64),
        byte_seconds=byte_seconds,
        storage_cost=storage * byte_seconds / (GB * MONTH_S),
        fill_cost=prices.fill_prices * fill_bytes / GB,
        egress_cost=egress * per_region(size) / GB,
        period_s=period_s,
        params=params,
        local_hits=per_region(local.astype(np.float64)).astype(np.int64),
        local_hit_bytes=per_region(size * local),
        remote_bytes=per_region(size * remote),
        transfer_cost=per_region(size * remote_price) / GB + push_transfer,
    )


def _held(plan: Plan, n_obj: int) -> np.ndarray:
    """(n_nodes, n_obj) bool: node r holds object o."""
    n_obj = max([n_obj] + [int(p.keys.max()) + 1 for p in plan.nodes if len(p.keys)])
    held = np.zeros((len(plan.nodes), n_obj), dtype=bool)
    for r, node_plan in enumerate(plan.nodes):
        held[r, node_plan.keys] = True
    return held


def _routes(
    held: np.ndarray, ev: RequestLog, prices: Prices
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per request of `ev`: local hit, remote hit, and the remote hit's $/GB (cheapest holder,
    only when cheaper than the origin)."""
    x, fill = prices.transfer_matrix(), prices.fill_prices
    keys, regions = ev.keys, ev.regions
    local = held[regions, keys]
    best = np.full(len(ev), np.inf)
    for h in range(held.shape[0]):
        if not held[h].any() or not np.any(x[h] < fill):
            continue
        has = held[h, keys]
        best = np.where(has, np.minimum(best, x[h, regions]), best)
    remote = ~local & (best < fill[regions])
    return local, remote, np.where(remote, best, 0.0)


def served_by_plan(held: np.ndarray, prices: Prices) -> np.ndarray:
    """(n_nodes, n_obj) bool: region r's requests for o are served by some node (not the
    origin) under the holdings `held`."""
    x, fill = prices.transfer_matrix(), prices.fill_prices
    served = held.copy()
    for r in range(held.shape[0]):
        for h in np.flatnonzero((x[:, r] < fill[r]) & (np.arange(held.shape[0]) != r)):
            served[r] |= held[h]
    return served


def simulate_plan(
    plan: Plan,
    ev: RequestLog,
    prices: Prices,
    *,
    remainder: float = 0.0,
    warm: RequestLog | None = None,
    resident: Plan | None = None,
) -> Outcome:
    """Replay `ev` against a plan: a request is a local hit when its region's node holds the
    object, a remote hit when another node holds it and sends it for less than the origin
    would (the cheapest such node), else a miss fetched from the origin (pass-through), or
    served by a remainder LRU.

    The plan is pushed at the start of the window and stays for the whole window
    (`plan.period_s` of storage). A copy comes from the origin (fill) or, when the planner
    found it cheaper, from another node that holds the object (transfer at its price);
    objects the previous period's plan (`resident`) already put on that node cost nothing.
    With `remainder` > 0 each node also runs a local LRU over that fraction of its unplanned
    capacity for the requests the plan leaves to the origin, warmed on `warm`.
    """
    held = _held(plan, ev.n_objects)
    local, remote, price = _routes(held, ev, prices)
    stored = np.array([p.bytes for p in plan.nodes], dtype=np.float64)
    n = len(plan.nodes)
    push_bytes, push_fill, push_transfer = np.zeros(n), np.zeros(n), np.zeros(n)
    fill = prices.fill_prices
    for r, new in enumerate(plan.nodes):
        sizes = new.key_sizes.astype(np.float64)
        # The planner's price per copy; a key it counted as resident that is not: the origin.
        each = np.full(len(sizes), fill[r]) if new.push_prices is None else new.push_prices
        each = np.where(each > 0, each, fill[r])
        paid = np.ones(len(sizes), dtype=bool)
        if resident is not None:
            paid = ~np.isin(new.keys, resident.nodes[r].keys)
        origin = paid & (each >= fill[r])
        push_bytes[r] = sizes[paid].sum()
        push_fill[r] = sizes[origin].sum()
        push_transfer[r] = float((sizes * each)[paid & ~origin].sum()) / GB
    byte_seconds = stored * plan.period_s
    if remainder > 0:
        caps = [int(remainder * (p.capacity - p.bytes)) for p in plan.nodes]
        skip = served_by_plan(held, prices)
        rest_hit, _, _, rest_bs = _lru_replay(ev, caps, warm, plan.period_s, skip=skip)
        local = local | rest_hit
        byte_seconds = byte_seconds + rest_bs
    params = {
        "budget": plan.budget,
        "min_saving": plan.min_saving,
        "remainder": remainder,
        "steady": resident is not None,
    }
    push = (push_bytes, push_fill, push_transfer)
    return _outcome(
        "plan", prices, ev, local, remote, price, byte_seconds, plan.period_s, params, push
    )


def simulate_lru(
    train: RequestLog | None,
    ev: RequestLog,
    prices: Prices,
    period_s: float,
    *,
    scale: float = 1.0,
    policy: str = "lru",
    cooperative: bool = False,
) -> Outcome:
    """Cache everywhere: each node an LRU of `scale` * capacity bytes, warmed on `train`.

    A local miss goes to the origin and the object is cached locally. `cooperative`: a local
    miss first asks the other nodes; the cheapest one holding the object (and cheaper than
    the origin) sends it -- a remote hit; the sender's LRU counts it as a hit, the requesting
    node caches a copy (sibling caching, as with ICP/HTCP siblings).
    """
    caps = [max(1, int(min(node.capacity, UNLIMITED) * scale)) for node in prices.nodes]
    local, remote, price, byte_seconds = _lru_replay(
        ev, caps, train, period_s, policy=policy, siblings=prices if cooperative else None
    )
    name = f"coop-{policy}" if cooperative else policy
    params = {"scale": scale, "cooperative": cooperative}
    return _outcome(name, prices, ev, local, remote, price, byte_seconds, period_s, params)


def _lru_replay(
    ev: RequestLog,
    capacities: Sequence[int],
    warm: RequestLog | None,
    period_s: float,
    *,
    skip: np.ndarray | None = None,
    policy: str = "lru",
    siblings: Prices | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(local hit, remote hit, remote $/GB) per request of `ev`, and per-node stored
    byte-seconds; one cache per node. Requests for objects in `skip[node]` bypass the caches
    (they are served elsewhere). `siblings`: prices whose transfer matrix lets a node fetch a
    local miss from the cheapest other node that holds it (see `simulate_lru`)."""
    from syslab.cache.policies import make_policy

    n = len(capacities)
    caches = [make_policy(policy, c) if c > 0 else None for c in capacities]
    order: list[list[int]] = [[] for _ in range(n)]
    x = np.zeros((n, n))
    if siblings is not None:
        x, fill = siblings.transfer_matrix(), siblings.fill_prices
        for r in range(n):
            ranked = np.argsort(x[:, r], kind="stable").tolist()
            order[r] = [h for h in ranked if h != r and x[h, r] < fill[r]]
    xs = x.tolist()

    def keep(log: RequestLog) -> np.ndarray:
        if skip is None:
            return np.ones(len(log), dtype=bool)
        inside = log.keys < skip.shape[1]
        out = np.ones(len(log), dtype=bool)
        out[inside] = ~skip[log.regions[inside], log.keys[inside]]
        return out

    def replay(log: RequestLog, record: bool) -> tuple[np.ndarray, ...]:
        local = np.zeros(len(log), dtype=bool)
        remote = np.zeros(len(log), dtype=bool)
        price = np.zeros(len(log))
        byte_seconds = np.zeros(n)
        if len(log) == 0:
            return local, remote, price, byte_seconds
        end = float(log.times[-1])
        last = [end - period_s] * n  # the window starts at the cut, before its first request
        mask = keep(log).tolist()
        rows = zip(log.times.tolist(), log.regions.tolist(), log.keys.tolist(),
                   log.sizes.tolist(), mask, strict=True)  # fmt: skip
        for i, (t, r, k, s, go) in enumerate(rows):
            if not go:
                continue
            cache = caches[r]
            if cache is not None:
                if record:  # occupancy since this node's last change
                    byte_seconds[r] += cache.used * (t - last[r])
                    last[r] = t
                if cache.request(k, s):
                    local[i] = True
                    continue
            for h in order[r]:  # cooperative: the cheapest sibling that holds it
                other = caches[h]
                if other is not None and k in other:
                    other.request(k, s)
                    remote[i] = True
                    price[i] = xs[h][r]
                    break
        if record:
            for r, cache in enumerate(caches):
                if cache is not None:
                    byte_seconds[r] += cache.used * (end - last[r])
        return local, remote, price, byte_seconds

    if warm is not None:
        replay(warm, record=False)
    return replay(ev, record=True)
