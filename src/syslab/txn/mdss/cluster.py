"""`Cluster`: an MDSS store on this machine, shards x replicas OS processes on 127.0.0.1.

    async with Cluster(delay_ms=5) as cluster:    # or `with Cluster(...)`, same thing
        cluster.leader_ports          # where clients connect (see `client.MdssClient`)
        cluster.kill(1, 2)            # kill -9 shard 1's replica 2 (a follower)
        await cluster.restart(1, 2)   # it replays its log, then catches up from its leader
        await cluster.state(1, 2)     # its keys, log length, durable point, log digest

Every replica runs `python -m syslab.txn.mdss` (see `replica`) with its log in the cluster's
data directory (a temporary one unless given), on a free port (or `base_port + shard *
replicas + replica`). Followers start first, then each leader with its followers' ports;
`start` returns when every replica printed READY. A replica that cannot start (a taken port,
a bad directory) is a one-line UserError with its own last words, and whatever had started is
stopped. `stop` closes every replica's stdin and sends SIGTERM, then SIGKILL to any still
running after a few seconds; a replica also exits by itself when its stdin closes, so none
outlives this process even if it is killed.

The processes are plain `subprocess.Popen` children, not tied to an event loop: one cluster
can serve several `asyncio.run`s (the tests share one). The async entry points run the
blocking parts (starting, waiting for READY) in a thread so that clients keep running.

What is supported: kill -9 of any follower, at any time, and its restart (it catches up).
Killing a leader stops its shard (no leader failover; restarting a leader is refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

import syslab
from syslab.common.errors import UserError
from syslab.txn.mdss import transport

START_TIMEOUT_S = 30.0
STOP_GRACE_S = 3.0


class _Replica:
    def __init__(self, shard: int, index: int, port: int, log: Path) -> None:
        self.shard = shard
        self.index = index
        self.port = port
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def name(self) -> str:
        return f"shard {self.shard} replica {self.index}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Cluster:
    """`shards` x `replicas` replica processes (see the module doc)."""

    def __init__(self, shards: int = 3, replicas: int = 3, delay_ms: float = 0.0,
                 data_dir: Path | str | None = None, base_port: int | None = None,
                 start_timeout: float = START_TIMEOUT_S) -> None:
        if shards < 1 or replicas < 1 or replicas % 2 == 0:
            raise UserError(f"a cluster needs at least one shard and an odd number of "
                            f"replicas, got {shards} shards x {replicas} replicas")
        if delay_ms < 0:
            raise UserError(f"the one-way delay must be non-negative, got {delay_ms:g} ms")
        self.shards = shards
        self.replicas = replicas
        self.delay_ms = delay_ms
        self.base_port = base_port
        self.start_timeout = start_timeout
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._nodes: dict[tuple[int, int], _Replica] = {}

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        try:
            await asyncio.to_thread(self.start)
        except BaseException:
            self.stop()  # cancelled while the thread was starting them
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    def start(self) -> None:
        """Start every replica; returns when all are ready (UserError if one is not)."""
        if self.data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="syslab-mdss-")
            self.data_dir = Path(self._tmp.name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for s in range(self.shards):
            for r in range(self.replicas):
                port = 0 if self.base_port is None else self.base_port + s * self.replicas + r
                self._nodes[s, r] = _Replica(s, r, port, self.data_dir / f"s{s}r{r}.log")
        try:
            followers = [n for n in self._nodes.values() if n.index > 0]
            for n in followers:
                self._spawn(n)
            for n in followers:
                self._ready(n)
            leaders = [self._nodes[s, 0] for s in range(self.shards)]
            for n in leaders:
                self._spawn(n)
            for n in leaders:
                self._ready(n)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every replica (no orphans) and remove a temporary data directory."""
        running = [n for n in self._nodes.values() if n.alive()]
        for n in running:
            assert n.proc is not None
            with contextlib.suppress(OSError):
                if n.proc.stdin is not None:
                    n.proc.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                n.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for n in running:
            assert n.proc is not None
            try:
                n.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait()
        for n in self._nodes.values():
            if n.proc is not None and n.proc.stdout is not None:
                n.proc.stdout.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.data_dir = None

    def _spawn(self, node: _Replica) -> None:
        assert self.data_dir is not None
        cmd = [sys.executable, "-m", "syslab.txn.mdss", "--shard", str(node.shard),
               "--replica", str(node.index), "--shards", str(self.shards),
               "--dir", str(self.data_dir), "--port", str(node.port),
               "--delay-ms", repr(float(self.delay_ms))]
        if node.index == 0:
            cmd += ["--followers", ",".join(str(self._nodes[node.shard, r].port)
                                            for r in range(1, self.replicas))]
        env = dict(os.environ)
        src = str(Path(syslab.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
        with node.log.open("ab") as log:
            node.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, env=env)

    def _ready(self, node: _Replica) -> None:
        """Wait for the READY line; the port the replica listens on."""
        assert node.proc is not None and node.proc.stdout is not None
        out = node.proc.stdout
        ready, _, _ = select.select([out], [], [], self.start_timeout)
        if not ready:
            node.proc.kill()
            node.proc.wait()
            raise UserError(f"{node.name} did not start within {self.start_timeout:g} s "
                            f"(log: {node.log})")
        line = out.readline()
        if not line.startswith(b"READY "):
            node.proc.wait()
            raise UserError(f"{node.name} did not start: {_last_line(node.log)}")
        node.port = int(line.split()[1])

    # ------------------------------------------------------------------ faults

    def kill(self, shard: int, replica: int) -> None:
        """kill -9 one replica (and reap it)."""
        node = self._node(shard, replica)
        if node.alive():
            assert node.proc is not None
            with contextlib.suppress(ProcessLookupError):
                node.proc.send_signal(signal.SIGKILL)
            node.proc.wait()

    async def restart(self, shard: int, replica: int) -> None:
        """Start a killed follower again, on its old port, from its log."""
        await asyncio.to_thread(self.restart_sync, shard, replica)

    def restart_sync(self, shard: int, replica: int) -> None:
        """`restart`, blocking."""
        node = self._node(shard, replica)
        if replica == 0:
            raise UserError("restarting a leader is not supported (fixed leaders, no "
                            "failover)")
        if node.alive():
            raise UserError(f"{node.name} is running")
        if node.proc is not None and node.proc.stdout is not None:
            node.proc.stdout.close()
        self._spawn(node)
        self._ready(node)

    # ------------------------------------------------------------------ inspection

    @property
    def leader_ports(self) -> list[int]:
        return [self._nodes[s, 0].port for s in range(self.shards)]

    def port(self, shard: int, replica: int) -> int:
        return self._node(shard, replica).port

    def pid(self, shard: int, replica: int) -> int | None:
        node = self._node(shard, replica)
        return node.proc.pid if node.alive() and node.proc is not None else None

    def pids(self) -> list[int]:
        """The process ids of the running replicas."""
        return [n.proc.pid for n in self._nodes.values() if n.alive() and n.proc is not None]

    def alive(self, shard: int, replica: int) -> bool:
        return self._node(shard, replica).alive()

    async def state(self, shard: int, replica: int, timeout: float = 10.0) -> dict:
        """A replica's state: `kv` ([key, value] pairs), `log_end`, `durable`, `digest` of
        its log, and (leaders) `commit`."""
        node = self._node(shard, replica)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future = loop.create_future()

        def on_message(_link: transport.Link, msg: dict) -> None:
            if not answer.done():
                answer.set_result(msg)

        def on_close(_link: transport.Link) -> None:
            if not answer.done():
                answer.set_exception(UserError(f"{node.name} closed the connection"))

        try:
            link = await transport.connect(node.port, 0.0, on_message, on_close)
        except OSError as err:
            raise UserError(f"{node.name} is not reachable ({err.strerror})") from None
        try:
            link.send({"t": "S"})
            return await asyncio.wait_for(answer, timeout)
        finally:
            link.abort()

    def _node(self, shard: int, replica: int) -> _Replica:
        try:
            return self._nodes[shard, replica]
        except KeyError:
            raise UserError(f"no replica {replica} of shard {shard} in a "
                            f"{self.shards}x{self.replicas} cluster") from None


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    if not lines:
        return "exited without a word"
    last = lines[-1].strip()
    return last.removeprefix("error: ")


__all__ = ["Cluster"]
