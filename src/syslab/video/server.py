"""The analytics server: one detector behind an asyncio TCP endpoint (`protocol` on the wire).

Each connection is one camera: HELLO names its query (checked against the detector's class
names), then every FRAME's JPEG is decoded and run through the detector, and an ANSWER with
the query's count goes back. Frames are handled in order, one at a time, per connection and
across connections: a single worker thread owns the detector (the models are single-threaded
and not re-entrant, and one core is all the lab gives the server), and the event loop only
moves bytes, so it keeps accepting and reading while a frame is in the detector.

Robustness: anything a peer sends that breaks the protocol (garbage, a length over the limit,
bad JSON, a FRAME before HELLO, an image that does not decode, an unknown class) gets one
ERROR message and that connection is closed; an unexpected failure in handling one request
does the same (logged with its type). The server itself never stops on a request.
Stopping (`close`, or SIGTERM/SIGINT under `serve`) stops accepting, closes the open
connections, and lets a frame already in the detector finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from syslab.common.errors import UserError
from syslab.video import protocol as wire
from syslab.video.detectors import Detector
from syslab.video.query import Query, counts, parse_query

READ_CHUNK = 1 << 16
LINGER_S = 1.0  # after an ERROR, how long unread input is drained before closing (see _fail)
LINGER_BYTES = wire.MAX_MESSAGE


@dataclass
class ServerStats:
    """What the server has done so far (read by tests and printed on stop)."""

    connections: int = 0
    frames: int = 0
    errors: int = 0  # connections closed because of a bad request
    detect_cpu_s: float = 0.0  # worker-thread CPU in JPEG decode + detector


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class DetectionServer:
    """One detector served over TCP; `await start(host, port)` returns the bound port."""

    def __init__(self, detector: Detector, *, log: Callable[[str], None] = _stderr) -> None:
        self.detector = detector
        self.log = log
        self.stats = ServerStats()
        # One worker: frames go through the detector one at a time, in arrival order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="detector")
        self._server: asyncio.base_events.Server | None = None
        self._handlers: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.host, self.port = "", 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        try:
            self._server = await asyncio.start_server(self._handle, host, port,
                                                      limit=READ_CHUNK)
        except OSError as err:
            raise UserError(f"cannot listen on {host}:{port} "
                            f"({err.strerror or err})") from None
        sock = self._server.sockets[0]
        self.host, self.port = sock.getsockname()[:2]
        return self.port

    async def close(self) -> None:
        """Stop accepting, close every connection, wait for the handlers and the detector."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()  # a handler blocked in read() sees EOF and ends
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5.0)
        for task in list(self._handlers):
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
        # A frame already in the detector finishes; nothing new is queued after this.
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: self._executor.shutdown(wait=True))

    # --- one connection ------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._writers.add(writer)
        self.stats.connections += 1
        peer = _peer(writer)
        decoder = wire.Decoder()
        query: Query | None = None
        try:
            while True:
                data = await reader.read(READ_CHUNK)
                if not data:
                    return  # the camera hung up (a half-sent message is simply dropped)
                for msg in decoder.feed(data):
                    query = await self._dispatch(msg, query, writer)
        except (wire.ProtocolError, UserError) as err:
            self.stats.errors += 1
            self.log(f"{peer}: bad request: {err}")
            await self._fail(reader, writer, str(err))
        except (ConnectionError, OSError):
            pass  # the peer went away mid-write: nothing to tell it
        except asyncio.CancelledError:
            pass  # server stopping
        except Exception as err:  # noqa: BLE001 (a bug must cost one connection, not the server)
            self.stats.errors += 1
            self.log(f"{peer}: internal error: {type(err).__name__}: {err}")
            await self._fail(reader, writer, f"internal server error ({type(err).__name__})")
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._handlers.discard(task)

    async def _dispatch(self, msg: wire.Message, query: Query | None,
                        writer: asyncio.StreamWriter) -> Query:
        if msg.type == wire.HELLO:
            if query is not None:
                raise wire.ProtocolError("HELLO sent twice on one connection")
            text, wanted = wire.check_hello(msg)
            if wanted is not None and wanted != self.detector.name:
                raise wire.ProtocolError(f"this server runs detector {self.detector.name!r}, "
                                         f"not {wanted!r}")
            query = parse_query(text, self.detector.classes)  # UserError: unknown class
            await _send(writer, wire.ready(self.detector.name, self.detector.signature,
                                           query.text, time.process_time()))
            return query
        if msg.type == wire.FRAME:
            if query is None:
                raise wire.ProtocolError("FRAME before HELLO: say HELLO with a query first")
            index, capture, jpeg = wire.check_frame(msg)
            loop = asyncio.get_running_loop()
            count, cpu_ms = await loop.run_in_executor(self._executor, self._detect, index,
                                                       jpeg, query)
            self.stats.frames += 1
            self.stats.detect_cpu_s += cpu_ms / 1e3
            await _send(writer, wire.answer(index, count, capture, cpu_ms, time.process_time()))
            return query
        raise wire.ProtocolError(f"a camera does not send {msg.type.upper()} messages")

    def _detect(self, index: int, jpeg: bytes, query: Query) -> tuple[int, float]:
        """In the worker thread: JPEG -> detector -> the query's count, and the CPU it took."""
        t0 = time.thread_time()  # this thread only: the loop's work is not charged here
        try:
            img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        except cv2.error:
            img = None
        if img is None or img.size == 0:
            raise wire.ProtocolError(f"FRAME {index}: payload of {len(jpeg):,} bytes is not a "
                                     "decodable JPEG image")
        dets = self.detector.detect(img)
        count = int(counts(query, [dets])[0])
        return count, (time.thread_time() - t0) * 1e3

    async def _fail(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    message: str) -> None:
        """Send ERROR, then close gracefully.

        Closing a socket with unread input makes the kernel send RST, and a RST can make
        the peer drop our ERROR before reading it. So: ERROR, FIN (write_eof), then read
        and discard what the peer still sends, for a short while, and only then close.
        """
        with contextlib.suppress(Exception):
            await _send(writer, wire.error(message))
            if writer.can_write_eof():
                writer.write_eof()
            deadline = asyncio.get_running_loop().time() + LINGER_S
            drained = 0
            while drained < LINGER_BYTES:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                chunk = await asyncio.wait_for(reader.read(READ_CHUNK), left)
                if not chunk:
                    break
                drained += len(chunk)


async def _send(writer: asyncio.StreamWriter, msg: wire.Message) -> None:
    writer.write(wire.encode(msg))
    await writer.drain()


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


# --- running it -----------------------------------------------------------------------------


def serve(detector: Detector, host: str = "127.0.0.1", port: int = 0, *,
          announce: Callable[[str, int], None] | None = None,
          log: Callable[[str], None] = _stderr) -> ServerStats:
    """Serve until SIGTERM or SIGINT (main thread only), then stop gracefully."""

    async def main() -> ServerStats:
        server = DetectionServer(detector, log=log)
        bound = await server.start(host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if announce is not None:
            announce(server.host, bound)
        try:
            await stop.wait()
        finally:
            await server.close()
        return server.stats

    return asyncio.run(main())


class BackgroundServer:
    """A DetectionServer on its own event loop in a daemon thread (tests, notebooks).

        with BackgroundServer(load_detector("blobs")) as srv:
            ... connect to srv.port ...
    """

    def __init__(self, detector: Detector, host: str = "127.0.0.1", port: int = 0, *,
                 log: Callable[[str], None] | None = None) -> None:
        self.lines: list[str] = []
        self.server = DetectionServer(detector, log=log or self.lines.append)
        self.loop = asyncio.new_event_loop()
        started: list[int | BaseException] = []
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                started.append(self.loop.run_until_complete(self.server.start(host, port)))
            except BaseException as err:  # noqa: BLE001 (handed to the caller below)
                started.append(err)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="video-server", daemon=True)
        self.thread.start()
        ready.wait()
        if isinstance(started[0], BaseException):
            self.thread.join()
            self.loop.close()
            raise started[0]
        self.host, self.port = host, int(started[0])
        self._stopped = False

    @property
    def stats(self) -> ServerStats:
        return self.server.stats

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["BackgroundServer", "DetectionServer", "ServerStats", "serve"]
