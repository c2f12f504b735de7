"""Running a node: one uvloop event loop per worker process, SO_REUSEPORT to share the port.

Workers share nothing but configuration (each has its own store, as nginx workers would
without a shared-memory zone); each also listens on a private loopback port so that
admin calls — purge, push, stats — can reach its siblings.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from syslab.cdn.http1 import Connection, close_idle
from syslab.cdn.node import Node, NodeConfig
from syslab.common.errors import UserError


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` or `:PORT` → (host, port); a one-line error otherwise."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UserError(f"--listen must be HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


def bind(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror}") from e
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


async def run_node(
    config: NodeConfig,
    sockets: list[socket.socket],
    siblings: list[str],
    ready: Callable[[Node], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve `config` on the given listening sockets until `stop` is set (or forever)."""
    loop = asyncio.get_running_loop()
    node = Node(config)
    node.siblings = siblings
    await node.start()
    servers = [
        await loop.create_server(lambda: Connection(node), sock=s, backlog=4096) for s in sockets
    ]
    stop = stop or asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        # not possible off the main thread (tests run nodes in threads): `stop` is set instead
        with contextlib.suppress(RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)

    async def timeouts() -> None:
        while True:
            await asyncio.sleep(1.0)
            close_idle(node.connections)
            if node.access_log is not None:
                node.access_log.flush()

    sweeper = asyncio.ensure_future(timeouts())
    if ready is not None:
        ready(node)
    try:
        await stop.wait()
    finally:
        sweeper.cancel()
        for server in servers:
            server.close()
        await node.close()


class BackgroundNode:
    """A node on a thread of this process (tests and the tour): `with BackgroundNode(c) as n:`."""

    def __init__(
        self,
        config: NodeConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        siblings: list[str] | None = None,
    ) -> None:
        self.config = config
        self.sock = bind(host, port, reuse_port=False)
        self.host, self.port = self.sock.getsockname()[:2]
        self.siblings = siblings or []
        self.node: Node | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> BackgroundNode:
        import uvloop

        started = threading.Event()
        failure: list[BaseException] = []

        def ready(node: Node) -> None:
            self.node = node
            started.set()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await run_node(self.config, [self.sock], self.siblings, ready, self._stop)

        def run() -> None:
            try:
                uvloop.run(main())
            except BaseException as e:
                failure.append(e)
                started.set()

        self._thread = threading.Thread(target=run, name="syslab-cdn-node", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        return self

    def call(self, fn: Callable[[], object]) -> object:
        """Run `fn` on the node's event loop thread and return its result."""
        done = threading.Event()
        out: list[object] = []
        self._loop.call_soon_threadsafe(lambda: (out.append(fn()), done.set()))  # type: ignore[union-attr]
        done.wait(10)
        return out[0]

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:  # already stopped: exiting twice is harmless
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._thread = None


def _worker(config: NodeConfig, host: str, port: int, internal: list[int], index: int) -> None:
    import uvloop

    main_sock = bind(host, port, reuse_port=True)
    own = bind("127.0.0.1", internal[index], reuse_port=False)
    siblings = [f"http://127.0.0.1:{p}" for i, p in enumerate(internal) if i != index]
    tune_gc()
    uvloop.run(run_node(config, [main_sock, own], siblings))


def tune_gc() -> None:
    """Make the cyclic GC cheap for a process whose heap is mostly a long-lived cache.

    Stored responses are acyclic (refcounting frees them on eviction), yet every full
    collection walks all of them: profiled at ~20 % of a miss-heavy worker's CPU. Freezing
    what startup allocated and collecting the old generations less often keeps the GC for
    the short-lived cycles (tasks, exceptions) it exists for.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def worker_config(config: NodeConfig, index: int) -> NodeConfig:
    """Worker `index`'s configuration: its own disk folder (stores are not shared)."""
    if config.disk_path is None:
        return replace(config)
    return replace(config, disk_path=str(Path(config.disk_path) / f"worker-{index}"))


def serve(
    config: NodeConfig, listen: str, workers: int = 1, announce: Callable[[str], None] = print
) -> None:
    """Run a node in the foreground with `workers` processes until SIGINT/SIGTERM."""
    host, port = parse_listen(listen)
    probe = bind(host, port, reuse_port=True)  # fail early, with one line, if the port is taken
    port = probe.getsockname()[1]
    # Closed before forking: a child would inherit it, and a listening socket nobody accepts
    # on stays in the SO_REUSEPORT group, where the kernel parks a share of new connections.
    probe.close()
    internal = [free_port() for _ in range(workers)]
    announce(
        f"syslab cdn: {config.name} on http://{host}:{port} → {config.origin} "
        f"({workers} worker{'s' * (workers > 1)}, policy {config.policy}, "
        f"{config.capacity / 2**20:.0f} MiB per worker)"
    )
    if workers == 1:
        _worker(worker_config(config, 0), host, port, internal, 0)
        return
    ctx = multiprocessing.get_context("fork")
    configs = [worker_config(config, i) for i in range(workers)]
    procs = {
        i: ctx.Process(target=_worker, args=(configs[i], host, port, internal, i), daemon=True)
        for i in range(workers)
    }
    for p in procs.values():
        p.start()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping:
            for i, p in list(procs.items()):
                p.join(timeout=0.2)
                if not p.is_alive() and not stopping:  # a crashed worker is replaced, as nginx does
                    print(
                        f"syslab cdn: worker {i} exited ({p.exitcode}); restarting", file=sys.stderr
                    )
                    procs[i] = ctx.Process(
                        target=_worker, args=(configs[i], host, port, internal, i), daemon=True
                    )
                    procs[i].start()
    finally:
        for p in procs.values():
            if p.is_alive():
                os.kill(p.pid, signal.SIGTERM)
        for p in procs.values():
            p.join(timeout=5)
