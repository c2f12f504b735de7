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
from typing import Any

from syslab.txn.history import Op
from syslab.txn.mdss import transport
from syslab.txn.mdss.coordinator import FAILED, OK, Chain, ClientTxn
from syslab.txn.mdss.ops import shard_of
from syslab.txn.mdss.transport import Link
from syslab.txn.stores import base
from syslab.txn.stores.base import TxnFailed, TxnUnknown

# A failed transaction keeps failing newly issued ones until the application has recorded
# its outcome (see coordinator.settle): that many event-loop turns after delivery, and at
# least SETTLE_S seconds. The runner records it two turns after `execute` returns.
SETTLE_TURNS = 8
SETTLE_S = 0.002


class Session(base.Session):
    """One application client's transactions (see the module doc)."""

    def __init__(self, client: MdssClient, cid: str, single: bool) -> None:
        self._client = client
        self.chain = Chain(cid, client.shards, client._send, self._deliver, single=single)
        self._loop = asyncio.get_running_loop()
        self._idle: asyncio.Future | None = None

    async def execute(self, ops: list[Op]) -> list[Op]:
        """Run `ops` as one transaction: the ops with their reads filled in; TxnFailed or
        TxnUnknown otherwise."""
        answer = self._loop.create_future()
        self.chain.issue(list(ops), answer)
        return await answer

    def _deliver(self, t: ClientTxn) -> None:
        answer = t.handle
        if not answer.done():
            if t.outcome == OK:
                answer.set_result(t.result)
            elif t.outcome == FAILED:
                answer.set_exception(TxnFailed(t.error))
            else:
                answer.set_exception(TxnUnknown(t.error))
        self._settle_later(t, SETTLE_TURNS)
        if self._idle is not None and self.chain.idle() and not self._idle.done():
            self._idle.set_result(None)

    def _settle_later(self, t: ClientTxn, turns: int) -> None:
        if turns > 0:
            self._loop.call_soon(self._settle_later, t, turns - 1)
        else:
            self._loop.call_later(SETTLE_S, self._settled, t)

    def _settled(self, t: ClientTxn) -> None:
        self.chain.settle(t)

    async def close(self, timeout: float = 5.0) -> None:
        """Wait (up to `timeout`) for transactions in flight to be decided, then detach."""
        if not self.chain.idle():
            self._idle = self._loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._idle), timeout)
        self._client._sessions.pop(self.chain.cid, None)


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
