"""A small HTTP/1.1 client for origin and parent fetches: keep-alive pool, httptools parser.

Hand-written instead of aiohttp's client because the miss path is bounded by it: profiled
under cold-key load, aiohttp's request machinery (auto headers, writer, timeouts, tracing
hooks) took ~45 % of a worker's CPU, which made our miss path slower than a plain aiohttp
proxy. What a cache needs is narrow — send one request on a pooled connection, read one
whole response — and that is all this does. aiohttp stays for the admin fan-out and health
checks, where speed does not matter.
"""

from __future__ import annotations

import asyncio
from collections import deque

import httptools

MAX_HEADER_BYTES = 64 * 1024


class ResponseError(Exception):
    """The upstream's answer could not be used; `status` is what the client should see."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


class _Stale(Exception):
    """A pooled connection died before any byte of the answer: safe to retry on a new one."""


class _UpstreamConnection(asyncio.Protocol):
    def __init__(
        self, pool: OriginPool, key: tuple[str, int], read_timeout: float, max_body: int
    ) -> None:
        self.pool = pool
        self.key = key
        self.read_timeout = read_timeout
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        self._start(head=False)

    def _start(self, head: bool) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.head = head
        self.fields: list[tuple[str, str]] = []
        self.header_bytes = 0
        self.body: list[bytes] = []
        self.body_size = 0
        self.got_bytes = False
        self.headers_done = False

    # -- one exchange

    def send(self, data: bytes, head: bool) -> asyncio.Future:
        self._start(head)
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.transport.write(data)  # type: ignore[union-attr]
        self._arm()
        return self.waiter

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(self.read_timeout, self._timed_out)

    def _timed_out(self) -> None:
        self._finish(TimeoutError("upstream read timed out"))
        if self.transport is not None:
            self.transport.abort()

    def _finish(self, result: object) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        if isinstance(result, BaseException):
            waiter.set_exception(result)
        else:
            waiter.set_result(result)

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: this connection cannot be trusted
            self.transport.close()  # type: ignore[union-attr]
            return
        self.got_bytes = True
        self._arm()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            cause = e.__context__ if isinstance(e.__context__, ResponseError) else None
            self._finish(cause or ResponseError(502, f"invalid upstream response: {e}"))
            self.transport.close()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        if self.waiter is None:
            return
        if not self.got_bytes:
            self._finish(_Stale())
        elif self.headers_done and self._close_delimited():
            self._complete(keep_alive=False)  # RFC 9112 §6.3: the body ends with the connection
        else:
            self._finish(ResponseError(502, "upstream closed the connection mid-response"))

    def _close_delimited(self) -> bool:
        names = {k.lower() for k, _ in self.fields}
        return "content-length" not in names and "transfer-encoding" not in names

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        if self.waiter is None:
            raise ResponseError(502, "upstream sent an answer nobody asked for")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value)
        if self.header_bytes > MAX_HEADER_BYTES:
            raise ResponseError(502, "upstream response header too large")
        self.fields.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        if self.head:  # a HEAD answer has no body, whatever Content-Length says
            self._complete(keep_alive=False)

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size > self.max_body:
            raise ResponseError(502, "upstream response too large")
        self.body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.fields, self.header_bytes, self.headers_done = [], 0, False
            return  # an interim answer (100 Continue, 103 Early Hints): the real one follows
        self._complete(self.parser.should_keep_alive())

    def _complete(self, keep_alive: bool) -> None:
        if self.waiter is None:
            return
        status = self.parser.get_status_code()
        self._finish((status, self.fields, b"".join(self.body)))
        if keep_alive and not self.closed and not 100 <= status < 200:
            self.pool._release(self)
        elif self.transport is not None:
            self.transport.close()


class OriginPool:
    """Keep-alive connections per upstream (host, port), at most `limit` each."""

    def __init__(
        self,
        connect_timeout: float = 10.0,
        read_timeout: float = 10.0,
        limit: int = 256,
        max_body: int = 512 * 2**20,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.limit = limit
        self.max_body = max_body
        self._idle: dict[tuple[str, int], deque[_UpstreamConnection]] = {}
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}
        self._all: set[_UpstreamConnection] = set()

    async def request(
        self,
        host: str,
        port: int,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """One exchange; raises ResponseError, TimeoutError or OSError."""
        key = (host, port)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = asyncio.Semaphore(self.limit)
        async with slots:
            for _attempt in range(3):
                conn = await self._connection(key)
                try:
                    return await conn.send(data, head=method == "HEAD")
                except _Stale:
                    if method not in ("GET", "HEAD"):  # it may have been applied: no replay
                        raise ResponseError(502, "upstream closed the connection") from None
                    continue  # the server had closed this idle connection: try another
            raise ResponseError(502, "upstream closed every connection before answering")

    async def _connection(self, key: tuple[str, int]) -> _UpstreamConnection:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(
            loop.create_connection(
                lambda: _UpstreamConnection(self, key, self.read_timeout, self.max_body), *key
            ),
            self.connect_timeout,
        )
        self._all.add(conn)
        return conn

    def _release(self, conn: _UpstreamConnection) -> None:
        self._idle.setdefault(conn.key, deque()).append(conn)

    def _forget(self, conn: _UpstreamConnection) -> None:
        self._all.discard(conn)
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    def close(self) -> None:
        for conn in list(self._all):
            if conn.transport is not None:
                conn.transport.close()
        self._idle.clear()
