"""Fetching from upstream: parents chosen by rendezvous hashing with failover, then the origin.

`client.OriginPool` does the HTTP (keep-alive, httptools); aiohttp only runs the health
checks. Every failure becomes an
`UpstreamError` carrying the status the client should see: 502 when upstream could not be
reached (every parent and the origin) or answered garbage, 504 when it was too slow.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from syslab.cdn.client import OriginPool, ResponseError
from syslab.cdn.rfc9111 import Headers
from syslab.cdn.tiers import HealthChecker, HealthState, Rendezvous

MAX_RESPONSE = 512 * 2**20  # bodies are buffered whole; bigger ones are refused (502)


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: Headers
    body: bytes
    request_time: float
    response_time: float
    source: str


class UpstreamError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Upstream:
    """The origin, and optionally parents in front of it (edges → parents → origin)."""

    def __init__(
        self,
        origin: str,
        parents: list[str] | None = None,
        timeout: float = 10.0,
        health_interval: float = 0.25,
    ) -> None:
        self.origin = origin.rstrip("/")
        self.parents = [p.rstrip("/") for p in parents or []]
        self.timeout = timeout
        self.ring = Rendezvous(self.parents) if self.parents else None
        self.health = HealthState(fall=2, rise=2)
        self.health_interval = health_interval
        self.session: aiohttp.ClientSession | None = None  # admin fan-out, health checks
        self.pool = OriginPool(timeout, timeout, limit=256, max_body=MAX_RESPONSE)
        self._addresses: dict[str, tuple[str, int]] = {}
        self.checker: HealthChecker | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=512, limit_per_host=256, force_close=False)
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,  # bodies are cached and replayed byte for byte
            timeout=aiohttp.ClientTimeout(total=None, connect=self.timeout, sock_read=self.timeout),
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
        )
        if self.parents:
            self.checker = HealthChecker(
                self.parents,
                path="/.syslab/health",
                interval=self.health_interval,
                timeout=min(0.5, self.timeout),
                state=self.health,
            )
            await self.checker.start()

    async def close(self) -> None:
        if self.checker is not None:
            await self.checker.stop()
        if self.session is not None:
            await self.session.close()
        self.pool.close()

    def route(self, target: str) -> list[str]:
        """Where to send a request for `target`, in order: healthy parents, then the origin."""
        if self.ring is None:
            return [self.origin]
        order = self.ring.order(target)
        healthy = [p for p in order if self.health.is_up(p)]
        return [*healthy, self.origin]

    async def fetch(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> UpstreamResponse:
        """Send one request upstream, failing over from a dead parent to the next."""
        assert self.session is not None, "Upstream.start() first"
        last: UpstreamError | None = None
        for base in self.route(target):
            try:
                return await self._fetch_one(base, method, target, headers, body)
            except UpstreamError as e:
                last = e
                if base != self.origin and e.status == 502:
                    self.health.report_failure(base)  # passive check: skip it until it recovers
                    continue
                raise
        assert last is not None
        raise last

    async def _fetch_one(
        self, base: str, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> UpstreamResponse:
        request_time = time.time()
        host, port = self._address(base)
        try:
            status, raw, data = await self.pool.request(host, port, method, target, headers, body)
        except ResponseError as e:
            raise UpstreamError(e.status, f"upstream {base}: {e}") from e
        except TimeoutError as e:
            raise UpstreamError(504, f"upstream {base} timed out") from e
        except (OSError, ValueError) as e:
            raise UpstreamError(502, f"upstream {base} unreachable: {type(e).__name__}") from e
        if status < 200:
            # we never forward Upgrade (hop-by-hop), so a 101 (or any 1xx as the final
            # answer) is invalid; passed on, it would end the client's HTTP
            raise UpstreamError(502, f"upstream {base} sent an unexpected {status}")
        return UpstreamResponse(status, Headers(raw), data, request_time, time.time(), base)

    def _address(self, base: str) -> tuple[str, int]:
        address = self._addresses.get(base)
        if address is None:
            parts = urlsplit(base)
            address = self._addresses[base] = (parts.hostname or "127.0.0.1", parts.port or 80)
        return address
