"""Redis 7: MULTI/EXEC transactions, and WATCH for optimistic read-then-write.

Data: a key holds an int (a string value: SET, INCRBY) or a list (RPUSH). Reads inside a
transaction are queued like everything else and answered by EXEC, so their values are taken
from EXEC's reply. A read does not know which of the two a key holds, so it is a small Lua
script (TYPE, then LRANGE or GET) run atomically by the server; a scan is the same over
n keys.

Three systems:

- `redis`: one connection per client; transactions are written back to back as they are
  issued (MULTI, commands, EXEC) without waiting, and the server runs them in that order.
- `redis-pooled`: `depth` connections, one transaction on each at a time, as a connection
  pool would run them: no issue order.
- `redis-watch`: `depth` connections; a transaction that reads first WATCHes every key it
  touches and reads them (one round trip), computes what it reads from that snapshot and its
  own writes, then sends its writes in MULTI/EXEC; EXEC refusing (a watched key changed) is
  `TxnFailed`. WATCH state belongs to a connection, so one transaction per connection.

We speak RESP2 ourselves (`_Conn`) rather than through redis-py: its asyncio client takes a
connection from its pool for each command or pipeline and waits for the reply before the
connection serves the next one, so transactions in flight on one client would go out on
different connections (the pooled mode) and never pipeline on one. The protocol is small:
one writer, one reader that hands replies to waiters in FIFO order.

Redis has no rollback: a command that fails inside EXEC (a type error) leaves the others
applied, so such a transaction is reported as indeterminate (`TxnUnknown`), not failed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from syslab.common.errors import UserError
from syslab.txn.history import Op
from syslab.txn.stores.base import Session, Store, TxnFailed, TxnUnknown
from syslab.txn.stores.registry import apply_ops, touched_keys

MODES = ("pipelined", "pooled", "watch")

# A typed read: nil, [0, int-as-string] or [1, [list items]]; with ARGV "scan" (scans and
# WATCH reads) a list of those, one per key, also for a single key.
READ_LUA = b"""
local function one(k)
  local t = redis.call('TYPE', k).ok
  if t == 'list' then return {1, redis.call('LRANGE', k, 0, -1)} end
  if t == 'none' then return false end
  return {0, redis.call('GET', k)}
end
if #KEYS == 1 and ARGV[1] == nil then return one(KEYS[1]) end
local out = {}
for i, k in ipairs(KEYS) do out[i] = one(k) end
return out
"""


class RedisError(Exception):
    """An error reply (`-ERR ...`)."""


class _Incomplete(Exception):
    pass


def _encode(*args: bytes | str | int) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = b"%d" % a
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _parse(buf: bytearray, pos: int) -> tuple[Any, int]:
    """One RESP2 reply from `buf` at `pos` -> (value, next pos); _Incomplete if cut off."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind, line = buf[pos], bytes(buf[pos + 1:end])
    pos = end + 2
    if kind == 43:  # +
        return line, pos
    if kind == 45:  # -
        return RedisError(line.decode(errors="replace")), pos
    if kind == 58:  # :
        return int(line), pos
    if kind == 36:  # $
        n = int(line)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise _Incomplete
        return bytes(buf[pos:pos + n]), pos + n + 2
    if kind == 42:  # *
        n = int(line)
        if n < 0:
            return None, pos
        items = []
        for _ in range(n):
            item, pos = _parse(buf, pos)
            items.append(item)
        return items, pos
    raise RedisError(f"bad reply type {chr(kind)!r}")


class _Conn(asyncio.Protocol):
    """One connection: `send` writes commands without waiting and returns a future for
    their replies; replies are handed out in the order the commands were sent."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.out: list[bytes] = []
        self.buf = bytearray()
        self.pending: deque[tuple[asyncio.Future, int, list]] = deque()
        self.broken: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self, commands: list[bytes]) -> asyncio.Future:
        if self.broken is not None:
            raise TxnFailed(f"not sent: {self.broken}")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.pending.append((fut, len(commands), []))
        # Everything sent in one turn of the event loop goes out in one write: one system
        # call for all the transactions issued together, in the order they were issued.
        if not self.out:
            loop.call_soon(self._flush)
        self.out.extend(commands)
        return fut

    def _flush(self) -> None:
        if self.broken is None and self.out:
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        pos = 0
        try:
            while self.pending:
                value, pos = _parse(self.buf, pos)
                fut, n, replies = self.pending[0]
                replies.append(value)
                if len(replies) == n:
                    self.pending.popleft()
                    if not fut.done():
                        fut.set_result(replies)
        except _Incomplete:
            pass
        except (ValueError, RedisError) as err:
            self.close(f"bad reply ({err})")
        del self.buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.close("connection lost" + (f" ({exc})" if exc else ""))

    def close(self, why: str) -> None:
        """Give the connection up: transactions in flight become indeterminate, later ones
        fail without being sent."""
        if self.broken is not None:
            return
        self.broken = why
        self.out.clear()
        while self.pending:
            fut, _, _ = self.pending.popleft()
            if not fut.done():
                fut.set_exception(TxnUnknown(why))
        if self.transport is not None:
            self.transport.abort()


async def _connect(host: str, port: int) -> _Conn:
    loop = asyncio.get_running_loop()
    try:
        _, conn = await loop.create_connection(_Conn, host, port)
    except OSError as err:
        raise UserError(f"Redis: cannot connect to {host}:{port} ({err.strerror})") from None
    return conn


MULTI, EXEC = _encode(b"MULTI"), _encode(b"EXEC")


def _key(k: int) -> bytes:
    return b"%d" % k


def _write_command(op: Op) -> bytes:
    f, k, v = op
    name = {"w": b"SET", "append": b"RPUSH", "add": b"INCRBY"}[f]
    return _encode(name, _key(k), v)


def _typed(reply: Any) -> int | list[int] | None:
    if reply is None:
        return None
    kind, value = reply
    return [int(x) for x in value] if kind == 1 else int(value)


class RedisSession(Session):
    """A client's connection(s) (see the module doc for the three modes)."""

    def __init__(self, conns: list[_Conn], mode: str, sha: bytes) -> None:
        self.conns = conns
        self.mode = mode
        self.sha = sha
        self.free: asyncio.Queue[_Conn] = asyncio.Queue()
        for c in conns:
            self.free.put_nowait(c)

    def _read_command(self, op: Op) -> bytes:
        f, k, v = op
        if f == "r":
            return _encode(b"EVALSHA", self.sha, 1, _key(k))
        keys = [_key(k + i) for i in range(v)]
        return _encode(b"EVALSHA", self.sha, len(keys), *keys, b"scan")

    async def execute(self, ops: list[Op]) -> list[Op]:
        if self.mode == "pipelined":
            return await self._multi(self.conns[0], ops)
        conn = await self.free.get()
        try:
            if self.mode == "watch" and any(f in ("r", "scan") for f, _, _ in ops):
                return await self._watch(conn, ops)
            return await self._multi(conn, ops)
        finally:
            self.free.put_nowait(conn)

    async def _await(self, conn: _Conn, fut: asyncio.Future) -> list:
        try:
            return await fut
        except asyncio.CancelledError:
            conn.close("gave the connection up after a cancelled transaction")
            raise

    async def _multi(self, conn: _Conn, ops: list[Op]) -> list[Op]:
        cmds = [MULTI]
        cmds += [self._read_command(op) if op[0] in ("r", "scan") else _write_command(op)
                 for op in ops]
        cmds.append(EXEC)
        replies = await self._await(conn, conn.send(cmds))
        return self._fill(ops, replies)

    def _fill(self, ops: list[Op], replies: list) -> list[Op]:
        queued = replies[1:-1]
        if isinstance(replies[0], RedisError) or any(isinstance(r, RedisError) for r in queued):
            raise TxnFailed(f"refused: {_first_error(replies)}")
        results = replies[-1]
        if isinstance(results, RedisError):
            raise TxnFailed(f"EXEC refused: {results}")
        if results is None:
            raise TxnFailed("EXEC aborted: a watched key changed")
        errors = [r for r in results if isinstance(r, RedisError)]
        if errors:
            raise TxnUnknown(f"partly applied (Redis has no rollback): {errors[0]}")
        out = []
        for (f, k, v), res in zip(ops, results, strict=True):
            if f == "r":
                v = _typed(res)
            elif f == "scan":
                v = [_typed(x) for x in res]
            out.append((f, k, v))
        return out

    async def _watch(self, conn: _Conn, ops: list[Op]) -> list[Op]:
        keys = touched_keys(ops)
        if not keys:
            return await self._multi(conn, ops)
        cmds = [_encode(b"WATCH", *map(_key, keys)),
                _encode(b"EVALSHA", self.sha, len(keys), *map(_key, keys), b"scan")]
        replies = await self._await(conn, conn.send(cmds))
        for r in replies:
            if isinstance(r, RedisError):
                await self._await(conn, conn.send([_encode(b"UNWATCH")]))
                raise TxnFailed(f"refused: {r}")
        snapshot = {k: _typed(x) for k, x in zip(keys, replies[1], strict=True)}
        done, _ = apply_ops(ops, snapshot)
        writes = [op for op in ops if op[0] not in ("r", "scan")]
        cmds = [MULTI, *map(_write_command, writes), EXEC]
        self._fill(writes, await self._await(conn, conn.send(cmds)))
        return done

    async def close(self) -> None:
        for c in self.conns:
            c.close("session closed")


def _first_error(replies: list) -> RedisError | None:
    return next((r for r in replies if isinstance(r, RedisError)), None)


class RedisStore(Store):
    """A Redis server at host:port, as system `name` (see the module doc)."""

    def __init__(self, host: str, port: int, mode: str = "pipelined",
                 name: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.host, self.port, self.mode = host, port, mode
        self.name = name or ("redis" if mode == "pipelined" else f"redis-{mode}")
        self.sessions: list[RedisSession] = []

    async def _script(self, conn: _Conn) -> bytes:
        (sha,) = await conn.send([_encode(b"SCRIPT", b"LOAD", READ_LUA)])
        if isinstance(sha, RedisError):
            raise TxnFailed(f"cannot load the read script: {sha}")
        return sha

    async def session(self, client: int, depth: int) -> RedisSession:
        n = 1 if self.mode == "pipelined" else depth
        conns = list(await asyncio.gather(*(_connect(self.host, self.port)
                                            for _ in range(n))))
        s = RedisSession(conns, self.mode, await self._script(conns[0]))
        self.sessions.append(s)
        return s

    async def load(self, initial: dict[int, Any]) -> None:
        conn = await _connect(self.host, self.port)
        try:
            cmds = [_encode(b"FLUSHDB")]
            for k, v in initial.items():
                if isinstance(v, list | tuple):
                    if v:
                        cmds.append(_encode(b"RPUSH", _key(k), *v))
                else:
                    cmds.append(_encode(b"SET", _key(k), v))
            for i in range(0, len(cmds), 1000):
                replies = await conn.send(cmds[i:i + 1000])
                if err := _first_error(replies):
                    raise TxnFailed(f"cannot load the initial state: {err}")
        finally:
            conn.close("loaded")

    async def close(self) -> None:
        for s in self.sessions:
            await s.close()
        self.sessions.clear()


__all__ = ["MODES", "RedisSession", "RedisStore"]
