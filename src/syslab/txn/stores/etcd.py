"""etcd 3.4 through aetcd: If/Then/Else transactions, linearizable reads.

Data: key k is etcd key `k/<k + 2^63, 20 digits>` (zero-padded so that a scan is one key
range), its value JSON: an int or a list of ints.

A transaction that only reads and blindly writes ("r", "w", "scan"; no key read after this
transaction wrote it, none written twice) is one etcd txn: its gets and puts in op order,
no compares; etcd runs it atomically at one revision. Any other (an "append" or "add" needs
the old value; a read of a key this transaction wrote needs it too) is read-then-CAS, the way
Elle's etcd tests do it: one txn gets every key the transaction touches with its
mod_revision; the client computes what the transaction reads and the new values; a second
txn puts them if every touched key still has the mod_revision it was read at (0: still
absent). A lost race is `TxnFailed`; it is never retried silently, since a retry is a
different transaction from the checker's point of view.

One aetcd client (one gRPC channel) per session, shared by all of the session's transactions
in flight: they are concurrent RPCs on one HTTP/2 connection, which the server runs in any
order, so a later transaction of the same client can take effect before an earlier one (the
research note measured this on 211 of 500 write-then-read pairs).

Errors: a failed RPC before anything was written (the read step of a CAS, a read-only txn,
a channel that could not connect) is `TxnFailed`; a failed or timed-out RPC that carried
writes is `TxnUnknown`. A cancelled `execute` cancels its RPC on its own stream: gRPC calls
on a channel are independent, so the channel stays usable and later transactions go on.
"""

from __future__ import annotations

import json
from typing import Any

import aetcd
import aetcd.exceptions as aetcd_errors

from syslab.common.errors import UserError
from syslab.txn.history import Op
from syslab.txn.stores.base import Session, Store, TxnFailed, TxnUnknown
from syslab.txn.stores.registry import apply_ops, touched_keys

PREFIX = b"k/"
OFFSET = 2 ** 63
MAX_TXN_OPS = 128  # etcd's default --max-txn-ops


def _key(k: int) -> bytes:
    return b"k/%020d" % (k + OFFSET)


def _decode_key(raw: bytes) -> int:
    return int(raw[len(PREFIX):]) - OFFSET


def _encode(v: Any) -> bytes:
    return json.dumps(list(v) if isinstance(v, tuple) else v).encode()


def _one_shot(ops: list[Op]) -> bool:
    """Whether the ops can run as one txn of gets and puts (see the module doc)."""
    written: set[int] = set()
    for f, k, v in ops:
        if f in ("append", "add"):
            return False
        if f == "r" and k in written:
            return False
        if f == "scan" and any(k + i in written for i in range(v)):
            return False
        if f == "w":
            if k in written:
                return False
            written.add(k)
    return True


# Errors with which etcd refuses a request without applying it.
REFUSED = (aetcd_errors.InvalidArgumentError, aetcd_errors.PreconditionFailedError,
           aetcd_errors.UnauthenticatedError)


def _error(err: Exception, wrote: bool) -> Exception:
    text = " ".join(str(err).split()) or type(err).__name__
    never_sent = "failed to connect" in text.lower() or "connection refused" in text.lower()
    if not wrote or never_sent or isinstance(err, REFUSED):
        return TxnFailed(f"etcd: {text}")
    return TxnUnknown(f"etcd: {text}")


class EtcdSession(Session):
    """A client's one gRPC channel (see the module doc)."""

    def __init__(self, client: aetcd.Client) -> None:
        self.client = client
        self.t = client.transactions

    async def _txn(self, compare: list, success: list, wrote: bool) -> tuple[bool, list]:
        try:
            return await self.client.transaction(compare=compare, success=success, failure=[])
        except (aetcd_errors.ClientError, OSError) as err:
            raise _error(err, wrote) from None

    async def execute(self, ops: list[Op]) -> list[Op]:
        if _one_shot(ops):
            return await self._one_shot(ops)
        return await self._read_then_cas(ops)

    async def _one_shot(self, ops: list[Op]) -> list[Op]:
        req = []
        for f, k, v in ops:
            if f == "r":
                req.append(self.t.get(_key(k)))
            elif f == "scan":
                req.append(self.t.get(_key(k), _key(k + v)))
            else:
                req.append(self.t.put(_key(k), _encode(v)))
        _, responses = await self._txn([], req, any(f == "w" for f, _, _ in ops))
        out = []
        for (f, k, v), res in zip(ops, responses, strict=True):
            if f == "r":
                v = json.loads(res[0][0]) if res else None
            elif f == "scan":
                found = {_decode_key(meta.key): json.loads(value) for value, meta in res}
                v = [found.get(k + i) for i in range(v)]
            out.append((f, k, v))
        return out

    async def _read_then_cas(self, ops: list[Op]) -> list[Op]:
        keys = touched_keys(ops)
        if len(keys) > MAX_TXN_OPS:
            raise TxnFailed(f"touches {len(keys)} keys; an etcd txn takes at most "
                            f"{MAX_TXN_OPS} operations")
        _, responses = await self._txn([], [self.t.get(_key(k)) for k in keys], False)
        state, revs = {}, {}
        for k, res in zip(keys, responses, strict=True):
            state[k] = json.loads(res[0][0]) if res else None
            revs[k] = res[0][1].mod_revision if res else 0
        done, new = apply_ops(ops, state)
        if not new:
            return done
        # blindly written keys need no check: what the transaction read does not depend on them
        compare = [self.t.mod(_key(k)) == revs[k] for k in touched_keys(
            [op for op in ops if op[0] != "w"])]
        puts = [self.t.put(_key(k), _encode(v)) for k, v in new.items()]
        succeeded, _ = await self._txn(compare, puts, True)
        if not succeeded:
            raise TxnFailed("lost a compare-and-swap race: a key changed since it was read")
        return done

    async def close(self) -> None:
        await self.client.close()


class EtcdStore(Store):
    """An etcd server at host:port."""

    name = "etcd"

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.sessions: list[EtcdSession] = []

    async def _client(self) -> aetcd.Client:
        client = aetcd.Client(self.host, self.port)
        try:
            await client.connect()
        except aetcd_errors.ClientError as err:
            raise UserError(f"etcd: cannot connect to {self.host}:{self.port} ({err})") from None
        return client

    async def session(self, client: int, depth: int) -> EtcdSession:
        s = EtcdSession(await self._client())
        self.sessions.append(s)
        return s

    async def load(self, initial: dict[int, Any]) -> None:
        client = await self._client()
        try:
            await client.delete_prefix(PREFIX)
            t = client.transactions
            items = list(initial.items())
            for i in range(0, len(items), MAX_TXN_OPS):
                await client.transaction(compare=[], success=[
                    t.put(_key(k), _encode(v)) for k, v in items[i:i + MAX_TXN_OPS]], failure=[])
        finally:
            await client.close()

    async def close(self) -> None:
        for s in self.sessions:
            await s.close()
        self.sessions.clear()


__all__ = ["EtcdSession", "EtcdStore"]
