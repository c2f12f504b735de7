"""The client library: links to the shard leaders, and one `Session` per application client.

    client = MdssClient(cluster.leader_ports, delay=0.005)
    await client.connect()
    session = client.session()                 # multi-dispatch; single=True: one at a time
    ops = await session.execute([("append", 3, 1), ("r", 4, None)])
    await client.close()

One link per leader carries every session's messages (the delay and FIFO order are per link,
which keeps each session's messages in order too). Replies are routed by transaction id to the
session's `coordinator.Chain`, which does all the deciding; this module only turns its
deliveries into the outcomes an application sees: the ops with their reads, `TxnFailed`
(certainly not committed) or `TxnUnknown` (may have committed).

`execute` may be called again before an earlier call returns (multi-dispatch): the issue
order is the order of the calls. Cancelling a call (a client-side timeout) only stops waiting
for it: the transaction still runs to its decision, so the chain's later transactions are
still ordered after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import Callable
from typing import Any

from syslab.txn.history import Op
from syslab.txn.mdss import transport
from syslab.txn.mdss.coordinator import FAILED, OK, Chain, ClientTxn
from syslab.txn.mdss.ops import shard_of
from syslab.txn.mdss.transport import Link
from syslab.txn.stores import base
from syslab.txn.stores.base import TxnFailed, TxnUnknown

# When has the application seen a failure (see coordinator.settle)? When it takes the answer
# (`result()` or `exception()` on it: wait_for, await and gather all do), and the runner
# records the completion in that same step. The runner takes a transaction's invocation time
# in the step that creates its task, and the task calls `execute` one loop turn later. So
# settling one turn after the take (one call_soon) is exact: the loop runs a turn's callbacks
# in the order they were scheduled, so a transaction invoked before the take in that turn
# reaches `execute` before the settle runs (and fails), one invoked after reaches it after.
# Not later: each transaction failed needlessly is a failure too, whose own flight fails the
# next ones issued during it, and such failures chain for as long as the client keeps issuing.
SETTLE_TURNS = 1
# An answer nobody takes (or cancelled: recorded as indeterminate, which fails nothing)
# settles this many turns after delivery.
UNTAKEN_TURNS = 64


class _Answer(asyncio.Future):
    """A transaction's answer, which tells its session when the application takes it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, taken: Callable[[], None]) -> None:
        super().__init__(loop=loop)
        self._taken = taken

    def result(self) -> Any:
        self._taken()
        return super().result()

    def exception(self) -> BaseException | None:
        self._taken()
        return super().exception()


class Session(base.Session):
    """One application client's transactions (see the module doc)."""

    def __init__(self, client: MdssClient, cid: str, single: bool) -> None:
        self._client = client
        self.chain = Chain(cid, client.shards, client._send, self._deliver, single=single,
                           on_hold=self._tick_soon)
        self._loop = asyncio.get_running_loop()
        self._idle: asyncio.Future | None = None

    def execute(self, ops: list[Op]) -> asyncio.Future[list[Op]]:  # type: ignore[override]
        """Run `ops` as one transaction: a future of the ops with their reads filled in, or
        of TxnFailed / TxnUnknown. Not a coroutine, on purpose: the transaction is issued
        in the very step that calls this, next to where the application takes its
        invocation time (a coroutine would issue it a turn later, after other events)."""
        holder: list[ClientTxn] = []
        answer = _Answer(self._loop, lambda: self._taken(holder[0]))
        holder.append(self.chain.issue(list(ops), answer))
        return answer

    def _deliver(self, t: ClientTxn) -> None:
        answer = t.handle
        if answer.done():  # cancelled: the application gave up on it
            self._settle_later(t, SETTLE_TURNS)
        else:
            if t.outcome == OK:
                answer.set_result(t.result)
            elif t.outcome == FAILED:
                answer.set_exception(TxnFailed(t.error))
            else:
                answer.set_exception(TxnUnknown(t.error))
            self._settle_later(t, UNTAKEN_TURNS)
        if self._idle is not None and self.chain.idle() and not self._idle.done():
            self._idle.set_result(None)

    def _tick_soon(self) -> None:
        self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        if self.chain.tick():
            self._loop.call_soon(self._tick)

    def _taken(self, t: ClientTxn) -> None:
        if t.outcome is not None:
            self._settle_later(t, SETTLE_TURNS)

    def _settle_later(self, t: ClientTxn, turns: int) -> None:
        # each call_soon runs in the next turn of the loop
        if t.settled:
            return
        if turns > 0:
            self._loop.call_soon(self._settle_later, t, turns - 1)
        else:
            self.chain.settle(t)

    async def close(self, timeout: float = 5.0) -> None:
        """Wait (up to `timeout`) for transactions in flight to be decided, then detach."""
        if not self.chain.idle():
            self._idle = self._loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._idle), timeout)
        self._client._sessions.pop(self.chain.cid, None)
        for s in range(self._client.shards):
            self._client._send(s, {"t": "B", "c": self.chain.cid})


class MdssClient:
    """Links to the shard leaders, shared by every session made from it."""

    _nonce = itertools.count()

    def __init__(self, leader_ports: list[int], delay: float = 0.0) -> None:
        self.ports = list(leader_ports)
        self.shards = len(self.ports)
        self.delay = delay
        self._links: list[Link | None] = [None] * self.shards
        self._sessions: dict[str, Session] = {}
        self._loads: dict[str, asyncio.Future] = {}  # load id -> its answer
        self._prefix = f"{os.getpid():x}{next(self._nonce):x}"
        self._ids = itertools.count()

    async def connect(self) -> None:
        """Open the links (OSError if a leader does not answer)."""
        for s, port in enumerate(self.ports):
            self._links[s] = await transport.connect(
                port, self.delay, lambda _lk, msg, s=s: self._on_message(s, msg),
                lambda _lk, s=s: self._on_lost(s))
        for link in self._links:
            assert link is not None
            link.send({"t": "hello", "ports": self.ports})  # leaders find each other

    def session(self, single: bool = False) -> Session:
        """A new client: multi-dispatch, or single-dispatch with `single`."""
        cid = f"{self._prefix}-{next(self._ids)}"
        session = Session(self, cid, single)
        self._sessions[cid] = session
        return session

    async def load(self, kv: dict[int, Any]) -> None:
        """Replace the whole state with `kv` (key -> int or list), durably, on every shard.
        Only while no transactions run."""
        loop = asyncio.get_running_loop()
        per_shard: list[list] = [[] for _ in range(self.shards)]
        for k, v in kv.items():
            per_shard[shard_of(k, self.shards)].append(
                [k, list(v) if isinstance(v, list | tuple) else v])
        waits = []
        for s in range(self.shards):
            lid = f"{self._prefix}-load{next(self._ids)}"
            done = loop.create_future()
            self._loads[lid] = done
            waits.append(done)
            self._send(s, {"t": "L", "x": lid, "kv": per_shard[s]})
        await asyncio.gather(*waits)

    async def close(self) -> None:
        for session in list(self._sessions.values()):
            await session.close()
        for link in self._links:
            if link is not None:
                await link.aclose()

    # ------------------------------------------------------------------ plumbing

    def _send(self, shard: int, msg: dict) -> None:
        link = self._links[shard]
        if link is not None:
            link.send(msg)

    def _on_message(self, shard: int, msg: dict) -> None:
        cid, dot, _ = msg["x"].rpartition(".")  # transaction ids are "<client id>.<index>"
        if dot:
            session = self._sessions.get(cid)
            if session is not None:
                session.chain.on_message(shard, msg)
            return
        done = self._loads.pop(msg["x"], None)
        if done is not None and not done.done():
            done.set_result(None)

    def _on_lost(self, shard: int) -> None:
        self._links[shard] = None
        for session in list(self._sessions.values()):
            session.chain.on_lost(shard)
        for done in self._loads.values():
            if not done.done():
                done.set_exception(TxnUnknown(f"connection to the leader of shard {shard} "
                                              "lost during a load"))
        self._loads.clear()


__all__ = ["MdssClient", "Session"]
