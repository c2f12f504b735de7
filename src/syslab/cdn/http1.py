"""HTTP/1.1 connections: parsing with httptools (llhttp), limits, pipelining, back-pressure.

The connection is a raw `asyncio.Protocol` rather than a framework handler because a cache
hit then costs one parse and one `transport.write` of stored bytes — the difference between
a third of nginx's requests per CPU-second and parity (research note, §3). Responses that
need upstream are produced by coroutines; a per-connection queue keeps pipelined responses
in request order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable
from typing import Protocol as TypingProtocol

import httptools

from syslab.cdn.rfc9111 import Headers

log = logging.getLogger("syslab.cdn")

MAX_URL = 8192  # bytes; longer → 414, as nginx's large_client_header_buffers
MAX_HEADER_BYTES = 32768  # all fields together; more → 431
MAX_HEADERS = 100
MAX_BODY = 64 * 2**20  # request bodies are forwarded whole; more → 413
MAX_PIPELINE = 64  # queued responses per connection before we stop reading
WRITE_HIGH_WATER = 1 << 20
# nginx's defaults: a request must arrive whole within 60 s (client_header_timeout, and a
# slow-loris client is cut off), an idle keep-alive connection is closed after 75 s.
REQUEST_TIMEOUT = 60.0
KEEPALIVE_TIMEOUT = 75.0

# Request fields that a plain cache hit must look at; any of them sends the request to
# the full decision logic (`Node.respond_now` still answers most of them without I/O).
SPECIAL_FIELDS = frozenset(
    {
        b"cache-control",
        b"pragma",
        b"range",
        b"if-none-match",
        b"if-modified-since",
        b"if-range",
        b"if-match",
        b"if-unmodified-since",
        b"authorization",
        b"transfer-encoding",
    }
)


class Request:
    """One parsed request; fields are decoded only when someone asks for `headers`."""

    __slots__ = (
        "method",
        "target",
        "raw",
        "body",
        "http10",
        "keep_alive",
        "started",
        "plain",
        "_headers",
    )

    def __init__(
        self,
        method: str,
        target: str,
        headers: Headers | list[tuple[bytes, bytes]],
        body: bytes,
        http10: bool,
        keep_alive: bool,
        started: float,
        plain: bool,
    ) -> None:
        self.method = method
        self.target = target
        self.body = body
        self.http10 = http10
        self.keep_alive = keep_alive
        self.started = started
        self.plain = plain  # no field in SPECIAL_FIELDS: eligible for the simplest hit
        if isinstance(headers, Headers):
            self._headers: Headers | None = headers
            self.raw: list[tuple[bytes, bytes]] = []
        else:
            self._headers = None
            self.raw = headers

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in self.raw)
        return self._headers


class Handler(TypingProtocol):
    """What a connection needs from the node that serves it."""

    metrics: object
    connections: set[Connection]  # open connections, for `close_idle`

    def respond_now(self, request: Request) -> bytes | None: ...

    def handle(self, request: Request) -> Awaitable[bytes]: ...

    def observe(self, request: Request, response: bytes, peer: str) -> None: ...


def close_idle(connections: set[Connection]) -> None:
    """Apply the request and keep-alive timeouts to every open connection (run each second)."""
    now = time.perf_counter()
    for conn in list(connections):
        conn.idle_check(now)


class HttpError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


def error_response(status: int, text: str, close: bool = True) -> bytes:
    """A small plain-text response; errors close the connection unless told otherwise."""
    from syslab.cdn.store import reason

    body = (text + "\n").encode()
    head = (
        f"HTTP/1.1 {status} {reason(status)}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    )
    return head.encode() + body


class Connection(asyncio.Protocol):
    """One client connection."""

    __slots__ = (
        "handler",
        "parser",
        "transport",
        "url",
        "fields",
        "header_bytes",
        "body",
        "body_size",
        "plain",
        "queue",
        "draining",
        "closed",
        "can_write",
        "started",
        "reading",
        "last_active",
        "peer",
    )

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.queue: deque[tuple[asyncio.Future[bytes], bool]] = deque()
        self.draining = False
        self.closed = False
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.reading = False  # a request has begun and is not complete yet
        self.peer = "-"
        self.last_active = time.perf_counter()
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.fields: list[tuple[bytes, bytes]] = []
        self.header_bytes = 0
        self.body: list[bytes] = []
        self.body_size = 0
        self.plain = True
        self.started = 0.0

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)  # type: ignore[attr-defined]
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else "-"
        self.handler.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.handler.connections.discard(self)
        self.closed = True
        self.can_write.set()
        for fut, _ in self.queue:
            fut.cancel()  # a client that left does not need its answers (shared fetches go on)
        self.queue.clear()

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(501, "protocol upgrade is not supported")
        except httptools.HttpParserError as e:
            # httptools wraps exceptions raised in our callbacks; the limit's own is inside
            cause = e.__context__
            if isinstance(cause, HttpError):
                self._fail(cause.status, str(cause))
            else:
                self._fail(400, f"malformed request: {e}")

    # -- httptools callbacks

    def on_message_begin(self) -> None:
        self._reset()
        self.started = time.perf_counter()
        self.reading = True

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_URL:
            raise HttpError(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value) + 4
        if self.header_bytes > MAX_HEADER_BYTES or len(self.fields) >= MAX_HEADERS:
            raise HttpError(431, "request header fields too large")
        if self.plain and name.lower() in SPECIAL_FIELDS:
            self.plain = False
        self.fields.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size > MAX_BODY:
            raise HttpError(413, "request body too large")
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.reading = False
        self.last_active = self.started
        parser = self.parser
        if parser.should_upgrade():
            # Upgrade/CONNECT: llhttp completes the message before pausing; refuse it here,
            # or the request would be answered and then refused (two answers to one request)
            raise HttpError(501, "protocol upgrade is not supported")
        request = Request(
            method=parser.get_method().decode("ascii", "replace"),
            target=self.url.decode("latin-1"),
            headers=self.fields,
            body=b"".join(self.body) if self.body else b"",
            http10=parser.get_http_version() == "1.0",
            keep_alive=parser.should_keep_alive(),
            started=self.started,
            plain=self.plain,
        )
        if not request.target.startswith("/"):
            # absolute-form targets belong to forward proxies; we are a reverse proxy
            raise HttpError(400, "request target must be a path")
        if not self.queue:
            data = self.handler.respond_now(request)
            if data is not None:
                self.transport.write(data)  # type: ignore[union-attr]
                self.handler.observe(request, data, self.peer)
                if not request.keep_alive:
                    self.transport.close()  # type: ignore[union-attr]
                return
        fut = asyncio.ensure_future(self._answer(request))
        self.queue.append((fut, request.keep_alive))
        if len(self.queue) >= MAX_PIPELINE:
            self.transport.pause_reading()  # type: ignore[union-attr]
        if not self.draining:
            self.draining = True
            asyncio.ensure_future(self._drain())

    # -- responses

    async def _answer(self, request: Request) -> bytes:
        data = self.handler.respond_now(request)
        if data is None:
            data = await self.handler.handle(request)
        self.handler.observe(request, data, self.peer)
        return data

    async def _drain(self) -> None:
        """Write queued responses in request order, respecting the client's read speed."""
        transport = self.transport
        try:
            while self.queue and not self.closed:
                fut, keep_alive = self.queue[0]
                try:
                    data = await fut
                except asyncio.CancelledError:
                    return
                except Exception as e:  # a bug must cost one response, not the worker
                    log.exception("error answering a request")
                    data = error_response(500, f"internal error: {type(e).__name__}")
                    keep_alive = False
                if self.closed:
                    return
                self.queue.popleft()
                await self.can_write.wait()
                transport.write(data)  # type: ignore[union-attr]
                if not keep_alive:
                    transport.close()  # type: ignore[union-attr]
                    return
                if len(self.queue) < MAX_PIPELINE // 2:
                    transport.resume_reading()  # type: ignore[union-attr]
        finally:
            self.draining = False

    def idle_check(self, now: float) -> None:
        """Cut off a request that is taking too long to arrive, or an idle keep-alive."""
        if self.closed or self.queue:  # answers pending: the wait is ours, not the client's
            return
        if self.reading:
            if now - self.started > REQUEST_TIMEOUT:
                self._fail(408, "request not received in time")
        elif now - self.last_active > KEEPALIVE_TIMEOUT:
            self.transport.close()  # type: ignore[union-attr]

    def _fail(self, status: int, text: str) -> None:
        """Answer a request we could not parse, after any queued answers, then close."""
        self.handler.metrics.counts["bad_requests"] += 1  # type: ignore[attr-defined]
        if self.closed:
            return
        self.transport.pause_reading()  # type: ignore[union-attr]
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        fut.set_result(error_response(status, text))
        self.queue.append((fut, False))
        if not self.draining:
            self.draining = True
            asyncio.ensure_future(self._drain())
