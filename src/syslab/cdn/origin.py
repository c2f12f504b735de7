"""A small origin server whose answers a test (or the tour) controls, and which counts fetches.

`/gen/<name>?size=N&cc=...&delay=S` makes a deterministic body of N bytes with the given
Cache-Control, an ETag and Last-Modified, and honours If-None-Match / If-Modified-Since with
304 — enough to exercise every caching path without files. `route()` pins exact answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from syslab.cdn.rfc9111 import http_date, parse_range

EPOCH = 1_700_000_000.0  # a fixed Last-Modified, so generated objects revalidate to 304


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # Called with the request; may return a Route to answer instead (stateful origins).
    dynamic: Callable[[web.Request], Route] | None = None


def generated_body(name: str, size: int) -> bytes:
    seed = hashlib.sha256(name.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


class Origin:
    """An aiohttp origin on a background thread: `with Origin() as o: o.url …`."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, delay: float = 0.0, ranges: bool = True
    ) -> None:
        self.host, self.port = host, port
        self.ranges = ranges  # answer single byte ranges with 206, as file servers do
        self.range_requests: list[tuple[str, str]] = []
        self.delay = delay  # added to every answer: an origin that is far away
        self.bytes_sent = 0
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()  # requests received per path (with query)
        self.requests: list[web.Request] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> Route:
        route = Route(
            body.encode() if isinstance(body, str) else body, status, dict(headers or {}), delay
        )
        self.routes[path] = route
        return route

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path_qs] += 1
        self.requests.append(request)
        route = self.routes.get(request.path_qs) or self.routes.get(request.path)
        if route is not None and route.dynamic is not None:
            route = route.dynamic(request)
        if route is None:
            if not request.path.startswith("/gen/"):
                return web.Response(
                    status=404, text="not found", headers={"Cache-Control": "max-age=60"}
                )
            route = self._generated(request)
        if route.delay or self.delay:
            await asyncio.sleep(route.delay + self.delay)
        headers = dict(route.headers)
        etag = headers.get("ETag")
        inm = request.headers.get("If-None-Match")
        if etag and inm and etag in [t.strip() for t in inm.split(",")]:
            keep = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            return web.Response(status=304, headers=keep)
        lm = headers.get("Last-Modified")
        if lm and not inm and request.headers.get("If-Modified-Since") == lm:
            return web.Response(status=304, headers=headers)
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(route.body))
            return web.Response(status=route.status, headers=headers)
        body, status = route.body, route.status
        part = self._range(request, headers, body) if status == 200 and self.ranges else None
        if part is not None:
            status, body = 206, part
        self.bytes_sent += len(body)
        return web.Response(status=status, body=body, headers=headers)

    def _range(self, request: web.Request, headers: dict[str, str], body: bytes) -> bytes | None:
        """One `bytes=a-b` range, honouring If-Range (RFC 9110 §14); None: send it all."""
        value = request.headers.get("Range")
        if not value:
            return None
        self.range_requests.append((request.path_qs, value))
        if_range = request.headers.get("If-Range")
        if if_range is not None and if_range not in (
            headers.get("ETag"),
            headers.get("Last-Modified"),
        ):
            return None
        ranges = parse_range(value, len(body))
        if not ranges or len(ranges) != 1:
            return None
        first, last = ranges[0]
        headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
        return body[first : last + 1]

    def _generated(self, request: web.Request) -> Route:
        q = request.query
        try:
            size = int(q.get("size", "10240"))
        except ValueError:
            size = 10240
        body = generated_body(request.path, max(0, min(size, 64 * 2**20)))
        headers = {
            "Cache-Control": q.get("cc", "max-age=3600"),
            "ETag": '"' + hashlib.sha256(body).hexdigest()[:16] + '"',
            "Last-Modified": http_date(EPOCH),
            "Content-Type": q.get("type", "application/octet-stream"),
        }
        if "tag" in q:
            headers["Surrogate-Key"] = q["tag"]
        if "vary" in q:
            headers["Vary"] = q["vary"]
        return Route(body, 200, headers, float(q.get("delay", "0") or 0))

    # -- running on a thread (tests, tour) or in the foreground (CLI)

    def __enter__(self) -> Origin:
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._start())
            except BaseException as e:  # report to the caller's thread
                failure.append(e)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
            loop.close()

        self._thread = threading.Thread(target=run, name="syslab-origin", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
