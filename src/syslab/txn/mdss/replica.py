"""One replica of one shard: an OS process with an asyncio TCP server and its own log.

Replica 0 of every shard is its leader, fixed (no failover, see the package doc); the others
are followers. The `Cluster` starts each as `python -m syslab.txn.mdss ...`; it prints
`READY <port>` on stdout once it listens, logs to stderr, and exits when its stdin closes (so
a replica never outlives the process that started it) or on SIGTERM.

Leader. Runs the shard's transaction logic (`shard.Shard`) on messages from clients. Records
it appends are, once per event-loop turn: written to its own log (`wal`), queued for group
commit, and streamed to every connected follower (`A`, raw payload bytes, no re-encoding).
A follower answers with how far its log is durable (`K`); a record is durable on a majority
when two of the three replicas (the leader's own sync counts) have it, and the leader then
sends the replies that waited for it. The leader dials its followers and redials a lost one
every 50 ms; a follower greets it (`H`) with the length of its log, and the leader resumes
streaming from there: that is how a restarted follower catches up.

Follower. Replays its own log on start (truncating a torn or corrupt tail, `wal`), then
appends what its leader streams, in order, applies it, and acknowledges after each group
commit. Records it already has (a resend) are skipped; a gap closes the connection so that
the leader's redial resumes from the follower's actual log end.

Leaders also talk to each other: a client's `hello` tells a leader where the others are, and
it dials each of them to forward the votes of single-shard transactions that a chained
transaction there waits for (`shard`); losing the link from a leader aborts what waits for
its votes.

Both answer `S` with their state (keys, log length, durable and commit points and a digest of
the log), which the tests use to compare a caught-up follower with its leader.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import signal
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from syslab.common.errors import UserError
from syslab.txn.mdss import transport
from syslab.txn.mdss.shard import Shard, apply_record
from syslab.txn.mdss.transport import Link
from syslab.txn.mdss.wal import Wal, encode

log = logging.getLogger("syslab.txn.mdss.replica")

REDIAL_S = 0.05
CATCH_UP_CHUNK = 512  # records per `A` message when a follower catches up


def _append_frame(first: int, payloads: list[bytes]) -> bytes:
    body = b'{"t":"A","p":%d,"r":[%s]}' % (first, b",".join(payloads))
    return transport.LENGTH.pack(len(body)) + body


class Replica(ABC):
    """What leader and follower share: the log, the state, group commit, `S`."""

    def __init__(self, shard: int, index: int, shards: int, data_dir: Path,
                 delay: float) -> None:
        self.shard = shard
        self.index = index
        self.shards = shards
        self.delay = delay
        self.wal, self.payloads = Wal.open(data_dir / f"shard{shard}-replica{index}.wal")
        self.kv: dict[int, Any] = {}
        for p in self.payloads:
            apply_record(self.kv, json.loads(p))
        self.durable = len(self.payloads)  # Wal.open synced what it found
        self._dirty = asyncio.Event()
        self._stopping = asyncio.Event()
        self.server: asyncio.AbstractServer | None = None
        if self.payloads:
            log.info("replayed %d records from %s", len(self.payloads), self.wal.path)

    def write(self, payloads: list[bytes]) -> None:
        self.payloads.extend(payloads)
        self.wal.append(payloads)
        self._dirty.set()

    async def syncer(self) -> None:
        """Group commit: one fdatasync covers everything written while the last one ran."""
        loop = asyncio.get_running_loop()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            n = len(self.payloads)
            await loop.run_in_executor(None, self.wal.sync)
            self.durable = n
            self.on_durable(n)

    @abstractmethod
    def on_durable(self, n: int) -> None:
        """The first `n` records of this replica's log are on its disk."""

    def state(self) -> dict:
        digest = hashlib.sha256()
        for p in self.payloads:
            digest.update(p)
            digest.update(b"\n")
        return {"t": "s", "shard": self.shard, "replica": self.index,
                "kv": sorted([k, v] for k, v in self.kv.items()),
                "log_end": len(self.payloads), "durable": self.durable,
                "digest": digest.hexdigest()}

    async def serve(self, port: int) -> int:
        what = f"shard {self.shard} replica {self.index}"
        self.server = await transport.serve(port, self.delay, self.on_message, self.on_close,
                                            what=what)
        return self.server.sockets[0].getsockname()[1]

    @abstractmethod
    def on_message(self, link: Link, msg: dict) -> None:
        """A message on a link accepted by this replica's server."""

    def on_close(self, link: Link) -> None:  # noqa: B027 - only the leader cares
        """A link accepted by this replica's server closed."""

    async def run(self, port: int) -> None:
        bound = await self.serve(port)
        tasks = [asyncio.create_task(self.syncer()), *self.background()]
        print(f"READY {bound}", flush=True)
        await self._stopping.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.server is not None:
            self.server.close()
        self.wal.close()

    def background(self) -> list[asyncio.Task]:
        return []

    def stop(self) -> None:
        self._stopping.set()


class Leader(Replica):
    """Replica 0: clients' transactions, replication, the commit point."""

    def __init__(self, shard: int, index: int, shards: int, data_dir: Path, delay: float,
                 followers: list[int]) -> None:
        super().__init__(shard, index, shards, data_dir, delay)
        self.core = Shard(shard, shards, self.kv, len(self.payloads))
        self.follower_ports = followers
        self.links: list[Link | None] = [None] * len(followers)
        self.sent = [0] * len(followers)  # records streamed to each on its current link
        self.acked = [0] * len(followers)  # durable on each, as it last said
        self.majority = (len(followers) + 1) // 2 + 1
        self._flush_due = False
        self.peer_ports: list[int] | None = None
        self.peer_links: dict[int, Link] = {}
        self.peer_backlog: dict[int, list[dict]] = {}  # forwarded votes before the link is up
        self._tasks: list[asyncio.Task] = []

    # clients -------------------------------------------------------------------------

    def on_message(self, link: Link, msg: dict) -> None:
        kind = msg["t"]
        if kind == "S":
            link.send(self.state() | {"commit": self.core.commit})
            return
        if kind == "hello":  # a client tells us where the other leaders are
            self._meet(msg["ports"])
            return
        if kind == "peer":  # another leader's link, for forwarded votes
            link.peer = msg["s"]
            self.core.peer_back(msg["s"])
            return
        self.core.handle(link, msg)
        self._after()

    def on_close(self, link: Link) -> None:
        if link.peer is not None:
            self.core.peer_lost(link.peer)
        else:
            self.core.forget(link)
        self._after()

    def _after(self) -> None:
        core = self.core
        for to, reply in core.take_out():
            if isinstance(to, tuple):  # ("peer", shard)
                self._to_peer(to[1], reply)
            else:
                to.send(reply)
        if core.records and not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        records = self.core.take_records()
        if records:
            self.write([encode(r) for r in records])
        for i, link in enumerate(self.links):
            if link is not None:
                self._stream(i, link)

    def _stream(self, i: int, link: Link) -> None:
        end = len(self.payloads)
        while self.sent[i] < end:
            first = self.sent[i]
            last = min(end, first + CATCH_UP_CHUNK)
            link.send_frame(_append_frame(first, self.payloads[first:last]))
            self.sent[i] = last

    # durability ----------------------------------------------------------------------

    def on_durable(self, n: int) -> None:
        self._advance()

    def _advance(self) -> None:
        points = sorted([self.durable, *self.acked], reverse=True)
        commit = points[self.majority - 1]
        if commit > self.core.commit:
            self.core.durable(commit)
            self._after()

    # other leaders -------------------------------------------------------------------

    def _meet(self, ports: list[int]) -> None:
        if self.peer_ports is not None:
            return
        self.peer_ports = ports
        for s, port in enumerate(ports):
            if s != self.shard:
                self._tasks.append(asyncio.create_task(self._dial_peer(s, port)))

    def _to_peer(self, shard: int, msg: dict) -> None:
        link = self.peer_links.get(shard)
        if link is not None:
            link.send(msg)
        else:
            self.peer_backlog.setdefault(shard, []).append(msg)

    async def _dial_peer(self, shard: int, port: int) -> None:
        """Keep a link to `shard`'s leader (ours to send on), redialling if it is lost."""
        while True:
            closed = asyncio.get_running_loop().create_future()

            def on_close(_link: Link, closed: asyncio.Future = closed) -> None:
                if not closed.done():
                    closed.set_result(None)

            try:
                link = await transport.connect(port, self.delay, lambda _lk, _m: None,
                                               on_close)
            except OSError:
                await asyncio.sleep(REDIAL_S)
                continue
            link.send({"t": "peer", "s": self.shard})
            for msg in self.peer_backlog.pop(shard, []):
                link.send(msg)
            self.peer_links[shard] = link
            await closed
            self.peer_links.pop(shard, None)
            log.warning("lost the link to shard %d's leader", shard)
            await asyncio.sleep(REDIAL_S)

    # followers -----------------------------------------------------------------------

    def background(self) -> list[asyncio.Task]:
        self._tasks.extend(asyncio.create_task(self._follow(i)) for i in range(len(self.links)))
        return self._tasks

    async def _follow(self, i: int) -> None:
        """Keep a link to follower i, redialling whenever it is lost."""
        port = self.follower_ports[i]
        down_logged = False
        while True:
            closed = asyncio.get_running_loop().create_future()

            def on_close(link: Link, closed: asyncio.Future = closed) -> None:
                if not closed.done():
                    closed.set_result(None)

            try:
                link = await transport.connect(
                    port, self.delay, lambda lk, m, i=i: self._from_follower(i, lk, m),
                    on_close)
            except OSError:
                if not down_logged:
                    log.warning("follower %d (port %d) unreachable; redialling", i + 1, port)
                    down_logged = True
                await asyncio.sleep(REDIAL_S)
                continue
            down_logged = False
            link.send({"t": "J"})
            await closed
            self.links[i] = None
            log.warning("lost follower %d", i + 1)
            await asyncio.sleep(REDIAL_S)

    def _from_follower(self, i: int, link: Link, msg: dict) -> None:
        kind = msg["t"]
        if kind == "H":
            n = msg["n"]
            if n > len(self.payloads):
                log.error("follower %d has %d records, more than the leader's %d: ignored",
                          i + 1, n, len(self.payloads))
                link.abort()
                return
            log.info("follower %d joined with %d records; streaming from there", i + 1, n)
            self.sent[i] = n
            self.acked[i] = msg["d"]
            self.links[i] = link
            self._stream(i, link)
            self._advance()
        elif kind == "K":
            self.acked[i] = msg["d"]
            self._advance()


class Follower(Replica):
    """Replicas 1 and 2: the leader's log, applied and acknowledged."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.leader: Link | None = None

    def on_message(self, link: Link, msg: dict) -> None:
        kind = msg["t"]
        if kind == "A":
            if link is self.leader:
                self._append(link, msg["p"], msg["r"])
        elif kind == "J":
            if self.leader is not None:
                self.leader.abort()  # a new link from the leader replaces the old one
            self.leader = link
            link.send({"t": "H", "n": len(self.payloads), "d": self.durable})
        elif kind == "S":
            link.send(self.state())

    def on_close(self, link: Link) -> None:
        if link is self.leader:
            self.leader = None

    def _append(self, link: Link, first: int, records: list[dict]) -> None:
        end = len(self.payloads)
        if first > end:
            log.error("gap in the leader's stream (record %d, have %d): reconnecting",
                      first, end)
            link.abort()
            return
        new = records[end - first:]
        if not new:
            return
        for r in new:
            apply_record(self.kv, r)
        self.write([encode(r) for r in new])

    def on_durable(self, n: int) -> None:
        if self.leader is not None:
            self.leader.send({"t": "K", "d": n})


# ------------------------------------------------------------------------------ process


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m syslab.txn.mdss",
                                description="One replica of an MDSS shard (started by "
                                "syslab.txn.mdss.Cluster).")
    p.add_argument("--shard", type=int, required=True)
    p.add_argument("--replica", type=int, required=True)
    p.add_argument("--shards", type=int, default=3)
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--followers", default="", help="follower ports (leader only), comma-sep")
    return p.parse_args(argv)


async def _amain(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    delay = args.delay_ms / 1000.0
    if args.replica == 0:
        ports = [int(p) for p in args.followers.split(",") if p]
        node: Replica = Leader(args.shard, 0, args.shards, args.dir, delay, ports)
    else:
        node = Follower(args.shard, args.replica, args.shards, args.dir, delay)
    loop.add_signal_handler(signal.SIGTERM, node.stop)

    class _Stdin(asyncio.Protocol):
        def connection_lost(self, exc: Exception | None) -> None:
            node.stop()  # whoever started us is gone

    await loop.connect_read_pipe(_Stdin, sys.stdin)
    await node.run(args.port)


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s shard{args.shard}/replica{args.replica} "
                        "%(levelname)s %(name)s: %(message)s")
    try:
        args.dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(_amain(args))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


__all__ = ["Follower", "Leader", "Replica", "main"]
