"""Replaying a cache trace as HTTP requests against real nodes, recording what each answer was.

Each trace request becomes `GET /gen/<key>?size=<bytes>` — the path the bundled origin
(`syslab.cdn.origin`) answers with an object of that size — so any trace the cache lab
reads can drive a live node, and its hit ratio can be set beside the simulator's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aiohttp
import numpy as np

from syslab.cache.trace import Trace


@dataclass
class ReplayResult:
    latency: np.ndarray  # seconds per request, in trace order
    status: np.ndarray  # HTTP status per request (0: connection failed)
    hit: np.ndarray  # bool: the edge answered from its store (Cache-Status "hit")
    nbytes: np.ndarray  # body bytes received
    wall: float

    @property
    def hit_ratio(self) -> float:
        return float(self.hit.mean()) if len(self.hit) else 0.0

    @property
    def byte_hit_ratio(self) -> float:
        total = self.nbytes.sum()
        return float(self.nbytes[self.hit].sum() / total) if total else 0.0

    @property
    def errors(self) -> int:
        return int((self.status != 200).sum())


def request_path(key: int, size: int) -> str:
    return f"/gen/{key}?size={size}"


def edge_hit(cache_status: str) -> bool:
    """Did the last cache (the one nearest the client, RFC 9211) answer from its store?"""
    last = cache_status.rsplit(",", 1)[-1]
    return "; hit" in last


def object_sizes(trace: Trace, default: int = 10240, cap: int = 8 * 2**20) -> np.ndarray:
    if trace.sizes is None:
        return np.full(len(trace.keys), default, dtype=np.int64)
    return np.clip(trace.sizes.astype(np.int64), 1, cap)


@dataclass
class Exchanges:
    """What each request of a replay got: timings (seconds from the start), status, bytes and
    the full Cache-Status (every tier's member), in request order."""

    sent: np.ndarray
    done: np.ndarray
    status: np.ndarray  # 0: the connection failed
    nbytes: np.ndarray
    cache_status: list[str]
    wall: float


async def replay_paths(
    targets: Sequence[str],
    paths: Sequence[str],
    *,
    concurrency: int = 8,
    route: Callable[[int], int] | None = None,
    progress: Callable[[int], None] | None = None,
    before: Callable[[int], None] | None = None,
) -> Exchanges:
    """GET each path from `targets[route(i)]` (default: round robin) with `concurrency`
    keep-alive clients taking requests in order; `before(i)` runs just before request i."""
    n = len(paths)
    route = route or (lambda i: i % len(targets))
    sent, done = np.zeros(n), np.zeros(n)
    status = np.zeros(n, dtype=np.int32)
    nbytes = np.zeros(n, dtype=np.int64)
    cache_status = [""] * n
    position = 0
    connector = aiohttp.TCPConnector(limit=concurrency * len(targets) + 8)
    timeout = aiohttp.ClientTimeout(total=30)
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False
    ) as session:

        async def client() -> None:
            nonlocal position
            while position < n:
                i = position
                position += 1
                if before is not None:
                    before(i)
                sent[i] = time.perf_counter() - t0
                try:
                    async with session.get(targets[route(i)] + paths[i]) as r:
                        body = await r.read()
                        status[i] = r.status
                        nbytes[i] = len(body)
                        cache_status[i] = ", ".join(r.headers.getall("Cache-Status", []))
                except (aiohttp.ClientError, TimeoutError, OSError):
                    status[i] = 0
                done[i] = time.perf_counter() - t0
                if progress is not None:
                    progress(1)

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return Exchanges(sent, done, status, nbytes, cache_status, time.perf_counter() - t0)


async def replay(
    targets: Sequence[str],
    trace: Trace,
    *,
    concurrency: int = 8,
    route: Callable[[int, int], int] | None = None,
    progress: Callable[[int], None] | None = None,
    sizes: np.ndarray | None = None,
) -> ReplayResult:
    """Send every request of `trace` to `targets[route(i, key)]` (default: round robin).

    `concurrency` clients take requests in trace order, so the order seen by a node is the
    trace's up to that much reordering.
    """
    keys = trace.keys
    sizes = object_sizes(trace) if sizes is None else sizes
    paths = [request_path(int(k), int(z)) for k, z in zip(keys, sizes, strict=True)]
    by_key = None if route is None else (lambda i: route(i, int(keys[i])))
    x = await replay_paths(targets, paths, concurrency=concurrency, route=by_key, progress=progress)
    hit = np.array([edge_hit(cs) for cs in x.cache_status], dtype=bool)
    return ReplayResult(x.done - x.sent, x.status, hit, x.nbytes, x.wall)


def run_replay(targets: Sequence[str], trace: Trace, **options: object) -> ReplayResult:
    """`replay` from synchronous code."""
    return asyncio.run(replay(targets, trace, **options))  # type: ignore[arg-type]
