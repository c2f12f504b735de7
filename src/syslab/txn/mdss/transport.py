"""Messages over TCP on 127.0.0.1, each delivered after an injected one-way delay.

A message is a JSON object, framed as `length (u32, big-endian) | JSON bytes`. `Link` is an
asyncio Protocol for one connection: it hands every complete message to its `on_message`
callback as soon as it arrives (synchronously, in arrival order, so the protocol cores
above stay plain state machines), and `send` encodes a message at once (a snapshot of it)
and delivers it `delay` seconds later.

This kernel has no netem, so the one-way delay T is ours: `send` puts the frame on a queue
with its due time send_time + T, and one timer per link writes everything due, in order.
The sender never sleeps, the delay is the same for every message, so FIFO per connection
holds, and frames due together go out in one write. Every hop (client -> leader, leader ->
follower and back, leader -> client) pays T, as it would on a network.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from syslab.common.errors import UserError

HOST = "127.0.0.1"
LENGTH = struct.Struct(">I")
MAX_MESSAGE = 1 << 28

log = logging.getLogger("syslab.txn.mdss.transport")


def encode(msg: dict) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode()
    return LENGTH.pack(len(body)) + body


class Link(asyncio.Protocol):
    """One connection's framing and delayed delivery (see the module doc)."""

    def __init__(self, delay: float, on_message: Callable[[Link, dict], None],
                 on_close: Callable[[Link], None] | None = None) -> None:
        self.delay = delay
        self.on_message = on_message
        self.on_close = on_close
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.peer: Any = None  # whatever the owner wants to remember about the other end
        self._buf = bytearray()
        self._queue: deque[tuple[float, bytes]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._drained: asyncio.Future | None = None

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos, n = 0, len(buf)
        while n - pos >= 4:
            (length,) = LENGTH.unpack_from(buf, pos)
            if length > MAX_MESSAGE:
                log.error("dropping a connection that sent a %d-byte frame", length)
                self.abort()
                return
            if n - pos - 4 < length:
                break
            msg = json.loads(bytes(buf[pos + 4:pos + 4 + length]))
            pos += 4 + length
            if self.closed:
                break
            self.on_message(self, msg)
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    # ------------------------------------------------------------------ sending

    def send(self, msg: dict) -> None:
        """Deliver `msg` after the link's delay (dropped if the link is closed)."""
        self.send_frame(encode(msg))

    def send_frame(self, frame: bytes) -> None:
        if self.closed or self.transport is None:
            return
        if self.delay <= 0:
            self.transport.write(frame)
            return
        self._queue.append((self._loop.time() + self.delay, frame))
        if self._timer is None:
            self._timer = self._loop.call_at(self._queue[0][0], self._flush)

    def _flush(self) -> None:
        self._timer = None
        if self.closed or self.transport is None:
            return
        now = self._loop.time()
        q = self._queue
        out = []
        while q and q[0][0] <= now:
            out.append(q.popleft()[1])
        if out:
            self.transport.write(b"".join(out))
        if q:
            self._timer = self._loop.call_at(q[0][0], self._flush)
        elif self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def drain(self) -> None:
        """Wait until every delayed frame has been written."""
        if self._queue and not self.closed:
            if self._drained is None or self._drained.done():
                self._drained = self._loop.create_future()
            await asyncio.shield(self._drained)

    # ------------------------------------------------------------------ closing

    def abort(self) -> None:
        """Close now, dropping frames not yet due (a crash, as far as the peer can tell)."""
        if self.transport is not None:
            self.transport.abort()
        self._finish()

    async def aclose(self) -> None:
        """Close after every queued frame has gone out."""
        await self.drain()
        if self.transport is not None:
            self.transport.close()
        self._finish()

    def _finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if self.on_close is not None:
            self.on_close(self)


async def serve(port: int, delay: float, on_message: Callable[[Link, dict], None],
                on_close: Callable[[Link], None] | None = None,
                what: str = "server") -> asyncio.Server:
    """Listen on 127.0.0.1:`port` (0: any free port); a taken port is a UserError."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.create_server(lambda: Link(delay, on_message, on_close), HOST, port)
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise UserError(f"{what}: port {HOST}:{port} is taken") from None
        raise UserError(f"{what}: cannot listen on {HOST}:{port} ({err.strerror})") from None


async def connect(port: int, delay: float, on_message: Callable[[Link, dict], None],
                  on_close: Callable[[Link], None] | None = None) -> Link:
    """A link to 127.0.0.1:`port` (OSError if nothing listens there)."""
    loop = asyncio.get_running_loop()
    _, link = await loop.create_connection(lambda: Link(delay, on_message, on_close),
                                           HOST, port)
    return link


__all__ = ["HOST", "Link", "connect", "encode", "serve"]
