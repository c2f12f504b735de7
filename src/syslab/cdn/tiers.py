"""Tiers: which parent an edge asks for a key, and which parents are alive.

An edge sends a miss for key ``k`` to one parent, chosen by consistent hashing so that every
edge agrees on it (one parent caches ``k``, not all of them) and so that a parent leaving moves
only its own keys. Two schemes, same API (``order`` / ``pick``):

* `Rendezvous` (highest random weight, Thaler & Ravishankar 1998): every node scores the key,
  the highest score wins. Removing a node moves exactly the keys it owned, each to its
  second-best node, so about 1/N of the keys; adding one takes about 1/(N+1). Balance is the
  multinomial's: no virtual nodes to tune. Cost O(N) per key, 0.7-1.2 µs for 5 nodes (measured by
  benchmarks/cdn/tier_hashing.py), which is nothing next to an HTTP request.
* `HashRing` (ketama, Karger et al. 1997): ``vnodes`` points per node on a 64-bit circle, a key
  goes to the first point clockwise. The classic baseline: O(log(N·vnodes)) per key, balance
  depends on the number of virtual nodes.

Health is kept apart from the hashing. `HealthState` is sans-I/O bookkeeping with HAProxy's
``fall``/``rise`` hysteresis, fed by `HealthChecker` (active asyncio probes) and by the proxy
itself through `HealthState.report_failure` (passive: a failed real request). ``pick(key,
healthy=state)`` then skips nodes that are down; because both schemes fail over to the node
that would own the key if the dead one were removed, a failover moves only the dead node's keys.

`key_movement` and `balance` measure the two schemes on a key set (tests and the benchmark).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import aiohttp
import xxhash

__all__ = [
    "Rendezvous",
    "HashRing",
    "HealthState",
    "HealthChecker",
    "status_is_up",
    "key_movement",
    "balance",
]

log = logging.getLogger(__name__)

Scheme = Literal["rendezvous", "ring"]

_h64 = xxhash.xxh3_64_intdigest
_TWO_POW_MINUS_53 = 2.0**-53


def _check_nodes(nodes: Sequence[str]) -> list[str]:
    nodes = list(nodes)
    if len(set(nodes)) != len(nodes):
        raise ValueError(f"duplicate nodes in {nodes!r}")
    return nodes


class Rendezvous:
    """Highest-random-weight hashing over ``nodes`` (xxh3_64).

    The score of node ``n`` for key ``k`` is ``xxh3_64(k, seed=xxh3_64(n))``: the node enters the
    hash as its seed rather than by concatenating ``n + k``, which halves the cost per key
    (no new bytes object per node) and gives the same independence between nodes.

    Weighted variant (``weights``, Schindelhauer & Schomaker 2005; the "logarithmic method"):
    map the hash to ``u`` uniform in (0, 1) and score ``-w / ln(u)``. ``-ln(u)/w`` is an
    exponential variable with rate ``w``, and the minimum of independent exponentials is the one
    with rate ``w_i`` with probability ``w_i / sum(w)``, so each node owns its weight's share of
    the keys, and changing one node's weight moves keys only to or from that node. Without
    weights the raw 64-bit hashes are compared (same order as all weights equal, cheaper).
    Nodes missing from ``weights`` weigh 1.
    """

    def __init__(self, nodes: Sequence[str], weights: Mapping[str, float] | None = None) -> None:
        self.nodes: list[str] = _check_nodes(nodes)
        self._seeds = [(n, _h64(n.encode())) for n in self.nodes]
        self.weights: dict[str, float] | None = None
        if weights is not None:
            unknown = set(weights) - set(self.nodes)
            if unknown:
                raise ValueError(f"weights for unknown nodes: {sorted(unknown)}")
            w = {n: float(weights.get(n, 1.0)) for n in self.nodes}
            bad = [n for n, x in w.items() if not (x > 0 and math.isfinite(x))]
            if bad:
                raise ValueError(f"weights must be positive and finite: {bad}")
            self.weights = w
            self._wseeds = [(n, s, w[n]) for n, s in self._seeds]

    def score(self, node: str, key: str) -> float:
        """The node's score for ``key``; the highest score owns the key."""
        h = _h64(key.encode(), _h64(node.encode()))
        if self.weights is None:
            return h  # the exact 64-bit integer (a float would round it)
        return self._weighted(h, self.weights[node])

    @staticmethod
    def _weighted(h: int, w: float) -> float:
        # Top 53 bits, centred in their bucket: u is strictly inside (0, 1), so ln(u) < 0.
        u = ((h >> 11) + 0.5) * _TWO_POW_MINUS_53
        return -w / math.log(u)

    def _scores(self, key: str) -> list[tuple[float, str]]:
        kb = key.encode()
        if self.weights is None:
            return [(_h64(kb, s), n) for n, s in self._seeds]
        return [(self._weighted(_h64(kb, s), w), n) for n, s, w in self._wseeds]

    def order(self, key: str) -> list[str]:
        """All nodes, most preferred first (ties, which need a 64-bit collision, by name)."""
        return [n for _, n in sorted(self._scores(key), reverse=True)]

    def pick(self, key: str, healthy: Container[str] | None = None) -> str | None:
        """The first node of ``order(key)`` that is in ``healthy`` (all if None); None if none.

        ``healthy`` can be a `HealthState` itself (``node in state`` is `HealthState.is_up`);
        it is the fast path, as is None.
        """
        kb = key.encode()
        best: str | None = None
        top = -1.0
        # One pass instead of order(): this is on the request path (about 1 µs for 5 nodes).
        # A 64-bit tie is broken by name, as in order(); it is an elif so it costs ~nothing.
        if healthy is None or isinstance(healthy, HealthState):
            down = () if healthy is None else healthy.down
            if self.weights is None:
                for n, s in self._seeds:
                    if n in down:
                        continue
                    v = _h64(kb, s)
                    if v > top:
                        top, best = v, n
                    elif v == top and n > best:
                        best = n
                return best
            log_ = math.log
            for n, s, w in self._wseeds:
                if n in down:
                    continue
                v = -w / log_(((_h64(kb, s) >> 11) + 0.5) * _TWO_POW_MINUS_53)  # _weighted
                if v > top:
                    top, best = v, n
                elif v == top and n > best:
                    best = n
            return best
        for n in self.order(key):
            if n in healthy:
                return n
        return None

    def __repr__(self) -> str:
        return f"Rendezvous({self.nodes!r}, weights={self.weights!r})"


class HashRing:
    """Ketama-style consistent-hash ring: ``vnodes`` points per node on a 64-bit circle.

    Points are ``xxh3_64(f"{node}-{i}")`` and keys ``xxh3_64(key)`` (ketama proper uses md5 and
    32-bit points; xxh3 keeps the hash the same as `Rendezvous` so that a comparison measures the
    scheme, not the hash function). A key belongs to the first point at or after its hash,
    wrapping around.
    """

    def __init__(self, nodes: Sequence[str], vnodes: int = 160) -> None:
        if vnodes < 1:
            raise ValueError(f"vnodes must be >= 1, got {vnodes}")
        self.nodes: list[str] = _check_nodes(nodes)
        self.vnodes = vnodes
        # (point, node) sorted: a point collision (2^-64) is broken by name, deterministically.
        ring = sorted((_h64(f"{n}-{i}".encode()), n) for n in self.nodes for i in range(vnodes))
        self._points = [p for p, _ in ring]
        self._owners = [n for _, n in ring]

    def _start(self, key: str) -> int:
        i = bisect.bisect_left(self._points, _h64(key.encode()))
        return 0 if i == len(self._points) else i

    def order(self, key: str) -> list[str]:
        """All nodes in the order met walking clockwise from the key's position."""
        if not self._points:
            return []
        seen: dict[str, None] = {}
        owners, m, want = self._owners, len(self._owners), len(self.nodes)
        i = self._start(key)
        for step in range(m):
            seen.setdefault(owners[(i + step) % m])
            if len(seen) == want:
                break
        return list(seen)

    def pick(self, key: str, healthy: Container[str] | None = None) -> str | None:
        """The first node clockwise that is in ``healthy`` (all if None); None if none is.

        Skipping a node's points is the same as removing it from the ring, so a failover moves
        only the dead node's keys, just as removal would.
        """
        if not self._points:
            return None
        owners, m = self._owners, len(self._owners)
        i = self._start(key)
        if healthy is None:
            return owners[i]
        if isinstance(healthy, HealthState):
            down = healthy.down
            if not down:
                return owners[i]
            for step in range(m):
                n = owners[(i + step) % m]
                if n not in down:
                    return n
            return None
        for step in range(m):
            n = owners[(i + step) % m]
            if n in healthy:
                return n
        return None

    def __repr__(self) -> str:
        return f"HashRing({self.nodes!r}, vnodes={self.vnodes})"


@dataclass
class _Node:
    up: bool = True
    count: int = 0  # consecutive results against the current state (failures if up, else oks)


class HealthState:
    """Per-node up/down with HAProxy's hysteresis; no I/O, no clock.

    A node that is up goes down after ``fall`` consecutive failed checks; a node that is down
    comes back after ``rise`` consecutive good ones. A result that agrees with the current state
    resets the streak. Nodes start up (a fresh edge must not refuse traffic until the first
    probes are in) and unknown nodes count as up, so ``pick(key, healthy=state)`` works before
    any check. ``node in state`` is `is_up`, which is what `Rendezvous.pick` and
    `HashRing.pick` need.
    """

    def __init__(self, fall: int = 2, rise: int = 2, nodes: Iterable[str] = ()) -> None:
        if fall < 1 or rise < 1:
            raise ValueError(f"fall and rise must be >= 1, got fall={fall} rise={rise}")
        self.fall = fall
        self.rise = rise
        self._nodes: dict[str, _Node] = {}
        # The nodes that are down, kept in step with _nodes: pick() tests membership in it
        # directly, which is 2x cheaper per node than calling is_up().
        self.down: set[str] = set()
        for n in nodes:
            self.add(n)

    def add(self, node: str) -> None:
        """Start tracking ``node`` (up) if not yet tracked."""
        self._nodes.setdefault(node, _Node())

    def remove(self, node: str) -> None:
        self._nodes.pop(node, None)
        self.down.discard(node)

    def record(self, node: str, ok: bool) -> bool:
        """Count one check result; True if the node went up or down because of it."""
        st = self._nodes.get(node)
        if st is None:
            st = self._nodes[node] = _Node()
        if ok == st.up:
            st.count = 0
            return False
        st.count += 1
        if st.count >= (self.fall if st.up else self.rise):
            st.up = not st.up
            st.count = 0
            if st.up:
                self.down.discard(node)
            else:
                self.down.add(node)
            return True
        return False

    def report_failure(self, node: str) -> bool:
        """Passive check: a real request to ``node`` failed to connect or timed out.

        Counts as one failed check right now instead of waiting for the next probe, so with
        ``fall=2`` two failed requests are enough to fail over. True if the node went down.
        """
        return self.record(node, False)

    def is_up(self, node: str) -> bool:
        return node not in self.down

    __contains__ = is_up

    def up_nodes(self) -> set[str]:
        """The tracked nodes that are up."""
        return {n for n, st in self._nodes.items() if st.up}

    def nodes(self) -> list[str]:
        return list(self._nodes)

    def __repr__(self) -> str:
        states = {n: "up" if st.up else "down" for n, st in self._nodes.items()}
        return f"HealthState(fall={self.fall}, rise={self.rise}, {states})"


def status_is_up(status: int) -> bool:
    """HAProxy's default ``http-check``: 2xx and 3xx are up, anything else is down.

    A 4xx counts as down on purpose: a 404 or 403 on the health path means the node is
    misconfigured or is not what we think it is, and a parent answering 404 to everything
    must not keep its keys.
    """
    return 200 <= status < 400


class HealthChecker:
    """Active HTTP health checks: ``GET node + path`` for every node, every ``interval`` s.

    Probes run on a fixed cadence and may overlap: a probe does not wait for the previous one to
    time out, so a node that accepts connections but never answers is down after about
    ``interval + (fall - 1) * interval + timeout`` (0.9 s with the defaults), and one that
    refuses connections after about ``fall * interval`` (0.4 s). A result older than the newest
    one already recorded for that node is dropped. Every probe uses a fresh connection
    (``force_close``), as HAProxy's checks do, so a stale keep-alive connection to a restarted
    node is never mistaken for a failure. Redirects are not followed (a 3xx is up). Status codes
    are judged by `status_is_up`; timeouts, connection errors and anything else a probe raises
    are failures, and nothing escapes the loop.

    ``on_change(node, up)`` is called on every transition (for logs and metrics). `last` holds
    each node's latest result as text (``"200"``, ``"timeout"``, ``"ClientConnectorError"``).
    """

    def __init__(
        self,
        nodes: Sequence[str],
        path: str = "/",
        interval: float = 0.2,
        timeout: float = 0.5,
        state: HealthState | None = None,
        on_change: Callable[[str, bool], None] | None = None,
    ) -> None:
        if interval <= 0 or timeout <= 0:
            raise ValueError(f"interval and timeout must be > 0, got {interval}, {timeout}")
        self.nodes = _check_nodes(nodes)
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.state = state if state is not None else HealthState()
        self.on_change = on_change
        self.last: dict[str, str] = {}
        for n in self.nodes:
            self.state.add(n)
        self._session: aiohttp.ClientSession | None = None
        self._loops: list[asyncio.Task[None]] = []
        self._probes: set[asyncio.Task[None]] = set()
        self._seq: dict[str, int] = {}  # newest probe recorded, per node

    def url(self, node: str) -> str:
        return node.rstrip("/") + "/" + self.path.lstrip("/")

    @property
    def running(self) -> bool:
        return bool(self._loops)

    async def start(self) -> None:
        """Start probing (the first round goes out now). A no-op if already running."""
        if self._loops:
            return
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True, limit=0),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        )
        self._seq = {}
        self._loops = [asyncio.create_task(self._loop(n), name=f"health {n}") for n in self.nodes]

    async def stop(self) -> None:
        """Stop probing and close the session; in-flight probes are cancelled, not recorded."""
        tasks = self._loops + list(self._probes)
        self._loops = []
        self._probes.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> HealthChecker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _loop(self, node: str) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        k = 0
        while True:
            task = asyncio.create_task(self._probe(node, k))
            self._probes.add(task)
            task.add_done_callback(self._probes.discard)
            # Fixed cadence from t0; if the loop was blocked past several ticks, skip them
            # rather than firing a burst of probes.
            k = max(k + 1, math.floor((loop.time() - t0) / self.interval) + 1)
            await asyncio.sleep(max(0.0, t0 + k * self.interval - loop.time()))

    async def _probe(self, node: str, seq: int) -> None:
        ok, what = await self._check(node)
        if seq < self._seq.get(node, -1):
            return  # a newer probe has already spoken for this node
        self._seq[node] = seq
        self.last[node] = what
        if self.state.record(node, ok):
            up = self.state.is_up(node)
            log.info("parent %s is %s (%s)", node, "up" if up else "down", what)
            if self.on_change is not None:
                try:
                    self.on_change(node, up)
                except Exception:
                    log.exception("on_change callback failed for %s", node)

    async def _check(self, node: str) -> tuple[bool, str]:
        session = self._session
        if session is None:
            return False, "stopped"
        try:
            async with session.get(self.url(node), allow_redirects=False) as resp:
                # The body is not read: the connection is closed anyway (force_close).
                return status_is_up(resp.status), str(resp.status)
        except TimeoutError:
            return False, "timeout"
        except Exception as e:  # connection refused, reset, bad URL, ...: all failures
            return False, type(e).__name__


def _scheme(nodes: Sequence[str], scheme: Scheme, vnodes: int) -> Rendezvous | HashRing:
    if scheme == "rendezvous":
        return Rendezvous(nodes)
    if scheme == "ring":
        return HashRing(nodes, vnodes=vnodes)
    raise ValueError(f"unknown scheme {scheme!r} (rendezvous or ring)")


def key_movement(
    old: Sequence[str],
    new: Sequence[str],
    keys: Iterable[str],
    scheme: Scheme = "rendezvous",
    *,
    vnodes: int = 160,
) -> float:
    """Fraction of ``keys`` whose owner differs between node sets ``old`` and ``new``."""
    a, b = _scheme(old, scheme, vnodes), _scheme(new, scheme, vnodes)
    moved = total = 0
    for k in keys:
        total += 1
        moved += a.pick(k) != b.pick(k)
    return moved / total if total else 0.0


def balance(
    nodes: Sequence[str], keys: Iterable[str], scheme: Scheme = "rendezvous", *, vnodes: int = 160
) -> dict:
    """Keys per node: ``counts``, ``max``, ``min``, ``mean`` and ``max_over_mean`` (1 = perfect)."""
    h = _scheme(nodes, scheme, vnodes)
    counts = dict.fromkeys(h.nodes, 0)
    for k in keys:
        n = h.pick(k)
        if n is not None:
            counts[n] += 1
    if not counts:
        return {"counts": {}, "max": 0, "min": 0, "mean": 0.0, "max_over_mean": 0.0}
    mean = sum(counts.values()) / len(counts)
    mx = max(counts.values())
    return {
        "counts": counts,
        "max": mx,
        "min": min(counts.values()),
        "mean": mean,
        "max_over_mean": mx / mean if mean else 0.0,
    }
