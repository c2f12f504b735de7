"""ZooKeeper 3.8 through kazoo: multi-op transactions over version-checked znodes.

Data: key k is znode `/kv/<k>`, its data JSON (an int or a list of ints). Keys are never
deleted during a run, so a znode seen once exists from then on.

What ZooKeeper gives: writes are linearizable (one leader orders them); each session's
requests are answered in the order it sent them (FIFO client order); reads are served by
whichever server the session is connected to, without a round of agreement, so they can be
stale on a follower. We run one standalone server, where every read is answered by the
server that orders the writes, so stale reads do not show up here. A session's requests in
flight are pipelined on its one TCP connection.

A transaction:

- blind writes only ("w"): one multi, sent at once, of set_data for keys known to exist
  and create for the others (if that guess was wrong, the multi took no effect and the
  transaction takes the third way);
- one read of one key: one get;
- anything else: every key it touches is read first (the gets pipelined), the client
  computes what the transaction reads and the new values, then one multi commits it,
  checking every key it depends on: check(version) for a key it only read, set_data(version)
  for one it changed, create for one that was absent (plus a delete for an absent key it
  only read, to check it is still absent). A lost version check fails the whole multi:
  `TxnFailed`, never retried.

So a client's transactions keep their issue order when each takes one request, and lose it
when a read-modify-write (two round trips) is overtaken by a later one-request transaction
of the same client.

Errors: a multi that was sent and got no answer (connection lost) is `TxnUnknown`; reads and
multis refused before sending are `TxnFailed`. When the session loses its server, everything
in flight ends at once (kazoo would otherwise hold the requests until it reconnects) and
later transactions fail. A cancelled `execute` leaves the session as it is: its requests are
answered in order anyway, and the answer is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    KazooException,
    NodeExistsError,
    NoNodeError,
    RolledBackError,
    ZookeeperError,
)
from kazoo.handlers.threading import KazooTimeoutError

from syslab.common.errors import UserError
from syslab.txn.history import Op
from syslab.txn.stores.base import Session, Store, TxnFailed, TxnUnknown
from syslab.txn.stores.registry import apply_ops, touched_keys

ROOT = "/kv"
# kazoo logs every dropped connection; silent unless the application configures logging.
LOG = logging.getLogger(__name__)
LOG.addHandler(logging.NullHandler())


def _path(k: int) -> str:
    return f"{ROOT}/{k}"


def _encode(v: Any) -> bytes:
    return json.dumps(list(v) if isinstance(v, tuple) else v).encode()


def _text(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class _Guessed(Exception):
    """A blind write guessed wrong whether a znode exists (the multi took no effect)."""


class ZooKeeperSession(Session):
    """One kazoo client (one ZooKeeper session) of one client."""

    def __init__(self, client: KazooClient, known: set[int]) -> None:
        self.client = client
        self.known = known  # keys whose znodes exist (shared by the store's sessions)
        self.loop = asyncio.get_running_loop()
        self.inflight: dict[asyncio.Future, bool] = {}  # future -> carries writes
        self.broken: str | None = None
        self.closed = False
        client.add_listener(self._on_state)

    def _on_state(self, state: str) -> None:  # kazoo's thread
        if state != KazooState.CONNECTED:
            self.loop.call_soon_threadsafe(self._break, f"session {state.lower()}")

    def _break(self, why: str) -> None:
        if self.broken is not None:
            return
        self.broken = why
        for fut, writes in list(self.inflight.items()):
            if not fut.done():
                fut.set_exception(TxnUnknown(why) if writes else TxnFailed(why))
        self.inflight.clear()

    def _call(self, async_result: Any, writes: bool) -> asyncio.Future:
        """A kazoo IAsyncResult as an asyncio future."""
        if self.broken is not None:
            raise TxnFailed(f"not sent: {self.broken}")
        fut = self.loop.create_future()
        self.inflight[fut] = writes

        def settle(result: Any) -> None:
            self.inflight.pop(fut, None)
            if fut.done():
                return
            if result.successful():
                fut.set_result(result.value)
            else:
                fut.set_exception(result.exception)

        async_result.rawlink(lambda r: self.loop.call_soon_threadsafe(settle, r))
        return fut

    async def _get(self, k: int) -> tuple[Any, int | None]:
        """(value, version), (None, None) if absent."""
        try:
            data, stat = await self._call(self.client.get_async(_path(k)), False)
        except NoNodeError:
            return None, None
        except (KazooException, ZookeeperError) as err:
            raise TxnFailed(f"read failed: {_text(err)}") from None
        self.known.add(k)
        return json.loads(data), stat.version

    async def _commit(self, txn: Any, guessed: bool = False) -> None:
        try:
            results = await self._call(txn.commit_async(), True)
        except (KazooException, ZookeeperError) as err:
            raise TxnUnknown(f"commit: {_text(err)}") from None
        failed = [r for r in results if isinstance(r, Exception)
                  and not isinstance(r, RolledBackError)]
        if failed and guessed and isinstance(failed[0], NodeExistsError | NoNodeError):
            raise _Guessed
        if failed:
            what = ("a key was created concurrently" if isinstance(failed[0], NodeExistsError)
                    else "a version check failed")
            raise TxnFailed(f"{what} ({type(failed[0]).__name__})")

    async def execute(self, ops: list[Op]) -> list[Op]:
        if self.broken is not None:
            raise TxnFailed(f"not sent: {self.broken}")
        if all(f == "w" for f, _, _ in ops) and len({k for _, k, _ in ops}) == len(ops):
            # Blind writes in one request: set_data where the znode is known to exist,
            # create where it is not known (a fresh key). If a guess was wrong the multi
            # failed as a whole, without effect, and the writes go the two-step way.
            txn = self.client.transaction()
            for _, k, v in ops:
                if k in self.known:
                    txn.set_data(_path(k), _encode(v))
                else:
                    txn.create(_path(k), _encode(v))
            try:
                await self._commit(txn, guessed=True)
            except _Guessed:
                return await self._read_modify_write(ops)
            self.known.update(k for _, k, _ in ops)
            return list(ops)
        if len(ops) == 1 and ops[0][0] == "r":
            value, _ = await self._get(ops[0][1])
            return [("r", ops[0][1], value)]
        return await self._read_modify_write(ops)

    async def _read_modify_write(self, ops: list[Op]) -> list[Op]:
        keys = touched_keys(ops)
        got = await asyncio.gather(*(self._get(k) for k in keys), return_exceptions=True)
        for g in got:
            if isinstance(g, BaseException):
                raise g
        state = {k: v for k, (v, _) in zip(keys, got, strict=True)}
        version = {k: ver for k, (_, ver) in zip(keys, got, strict=True)}
        done, new = apply_ops(ops, state)
        depends = set(touched_keys([op for op in ops if op[0] != "w"]))
        if not new and len(keys) == 1:
            return done  # one read: atomic on its own
        txn = self.client.transaction()
        for k in keys:
            if k in new:
                if version[k] is None:
                    txn.create(_path(k), _encode(new[k]))
                else:
                    txn.set_data(_path(k), _encode(new[k]),
                                 version[k] if k in depends else -1)
            elif version[k] is None:  # read as absent: still absent?
                txn.create(_path(k), b"")
                txn.delete(_path(k))
            else:
                txn.check(_path(k), version[k])
        await self._commit(txn)
        self.known.update(new)
        return done

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.client.remove_listener(self._on_state)
        await asyncio.to_thread(_stop, self.client)


def _stop(client: KazooClient) -> None:
    client.stop()
    client.close()


class ZooKeeperStore(Store):
    """A ZooKeeper server (or ensemble) at `hosts` ("host:port,...")."""

    name = "zookeeper"

    def __init__(self, hosts: str, timeout: float = 10.0) -> None:
        self.hosts = hosts
        self.timeout = timeout
        self.known: set[int] = set()
        self.sessions: list[ZooKeeperSession] = []

    async def _client(self) -> KazooClient:
        client = KazooClient(hosts=self.hosts, timeout=self.timeout, logger=LOG)
        try:
            await asyncio.to_thread(client.start, self.timeout)
        except KazooTimeoutError:
            await asyncio.to_thread(_stop, client)
            raise UserError(f"ZooKeeper: no session with {self.hosts} within "
                            f"{self.timeout:g} s") from None
        return client

    async def session(self, client: int, depth: int) -> ZooKeeperSession:
        s = ZooKeeperSession(await self._client(), self.known)
        self.sessions.append(s)
        return s

    async def load(self, initial: dict[int, Any]) -> None:
        client = await self._client()
        try:
            await asyncio.to_thread(_load, client, initial)
        finally:
            await asyncio.to_thread(_stop, client)
        self.known.clear()
        self.known.update(initial)

    async def close(self) -> None:
        for s in self.sessions:
            await s.close()
        self.sessions.clear()


def _load(client: KazooClient, initial: dict[int, Any]) -> None:
    client.ensure_path(ROOT)
    # Deleted and created asynchronously: one request at a time is ~1 ms each.
    waits = [client.delete_async(f"{ROOT}/{c}") for c in client.get_children(ROOT)]
    for w in waits:
        w.get()
    waits = [client.create_async(_path(k), _encode(v)) for k, v in initial.items()]
    for w in waits:
        w.get()


__all__ = ["ZooKeeperSession", "ZooKeeperStore"]
