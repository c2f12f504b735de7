"""PostgreSQL 15 at SERIALIZABLE (SSI), REPEATABLE READ (snapshot isolation) or READ COMMITTED.

Data: one table `kv(k bigint primary key, v bigint, l bigint[])`; a key holds an int (`v`,
written by "w" and "add") or a list (`l`, grown by "append"), never both.

A transaction is the implicit transaction of one pipeline segment: its statements (prepared
once per connection) and a Sync, with the isolation level as the connection's default. The
server runs a segment as one transaction, commits it at the Sync, and on any error rolls it
back and skips the rest of the segment only, so a failed transaction never spills into the
next one on the same connection (an explicit BEGIN ... COMMIT would leave the connection in
an aborted transaction block that swallows the next transaction sent behind it).

Two ways to keep `depth` transactions of one client in flight:

- `pooled` (the default): `depth` connections, one transaction on each at a time, the way
  an application with a connection pool runs. Transactions in flight on different
  connections are ordered by the server, not by issue order.
- `pipelined`: one connection in libpq pipeline mode; transactions are written back to back
  as they are issued, without waiting for earlier answers, and the server runs them in that
  order.

Both drive libpq through psycopg's `pq` layer directly rather than psycopg's
AsyncConnection: that one holds its connection lock while it waits for a pipeline sync's
results, so a second transaction cannot be sent on the connection until the first one's
answer is back, which is exactly the pipelining we measure. The pooled mode uses the same
one-round-trip segments so that the two modes differ only in how transactions share
connections.

Outcomes: a serialization failure, a deadlock or any other error inside a segment is
`TxnFailed` (the implicit transaction rolled back); a connection lost or shut down once a
transaction was sent is `TxnUnknown`; a transaction issued on a connection already lost (or
given up after a cancelled transaction) is `TxnFailed`: it was never sent.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import psycopg
from psycopg import pq

from syslab.common.errors import UserError
from syslab.txn.history import Op
from syslab.txn.stores.base import Session, Store, TxnFailed, TxnUnknown

ISOLATION = {"serializable": "serializable", "repeatable-read": "repeatable read",
             "read-committed": "read committed"}
MODES = ("pooled", "pipelined")
DEFAULT_MODE = "pooled"

SCHEMA = "CREATE TABLE IF NOT EXISTS kv (k bigint PRIMARY KEY, v bigint, l bigint[])"
# The micro-ops, prepared once per connection (pipeline mode then sends Bind/Execute only).
STATEMENTS = {
    "r": "SELECT v, l FROM kv WHERE k = $1",
    "w": "INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE "
         "SET v = EXCLUDED.v, l = NULL",
    "append": "INSERT INTO kv (k, l) VALUES ($1, ARRAY[$2]) ON CONFLICT (k) DO UPDATE "
              "SET l = coalesce(kv.l, '{}') || EXCLUDED.l, v = NULL",
    "add": "INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE "
           "SET v = coalesce(kv.v, 0) + EXCLUDED.v, l = NULL",
    "scan": "SELECT k, v, l FROM kv WHERE k >= $1 AND k < $1 + $2 ORDER BY k",
}
TYPES = {"r": "bigint", "w": "bigint, bigint", "append": "bigint, bigint",
         "add": "bigint, bigint", "scan": "bigint, bigint"}

FATAL = pq.ExecStatus.FATAL_ERROR
ABORTED = pq.ExecStatus.PIPELINE_ABORTED
SYNC = pq.ExecStatus.PIPELINE_SYNC
SQLSTATE = pq.DiagnosticField.SQLSTATE
# SQLSTATEs after which the transaction may have committed: the connection or the server
# went away while it ran (class 08: connection exception; 57P01-3: shutdown, crash).
UNKNOWN_STATES = ("08", "57P01", "57P02", "57P03")


def _line(text: str) -> str:
    return " ".join(text.split())


class _Pipe:
    """One connection in pipeline mode: `submit` writes a transaction's segment without
    waiting; one reader callback hands each segment's results to its future, in order."""

    def __init__(self, conn: psycopg.AsyncConnection) -> None:
        self.conn = conn
        self.pg = conn.pgconn
        self.loop = asyncio.get_running_loop()
        self.fd = self.pg.socket
        self.pending: deque[tuple[asyncio.Future, list]] = deque()
        self.broken: str | None = None
        self.writing = False
        self.flushing = False
        self.pg.nonblocking = 1
        self.pg.enter_pipeline_mode()
        self.loop.add_reader(self.fd, self._on_readable)

    def submit(self, stmts: list[tuple[bytes, list[bytes]]]) -> asyncio.Future:
        if self.broken is not None:
            raise TxnFailed(f"not sent: {self.broken}")
        fut = self.loop.create_future()
        try:
            for name, params in stmts:
                self.pg.send_query_prepared(name, params)
            self.pg.pipeline_sync()
        except psycopg.OperationalError as err:
            # libpq refuses before writing anything when the connection is already bad
            self.close(f"connection lost ({_line(str(err))})")
            raise TxnFailed(f"not sent: {self.broken}") from None
        self.pending.append((fut, []))
        # One flush per turn of the event loop: the transactions issued together go out in
        # one write, in issue order.
        if not self.flushing:
            self.flushing = True
            self.loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self.flushing = False
        if self.broken is not None:
            return
        try:
            more = self.pg.flush()
        except psycopg.OperationalError as err:
            self.close(f"connection lost ({_line(str(err))})")
            return
        if more and not self.writing:
            self.writing = True
            self.loop.add_writer(self.fd, self._on_writable)
        elif not more and self.writing:
            self.writing = False
            self.loop.remove_writer(self.fd)

    def _on_writable(self) -> None:
        self._flush()

    def _on_readable(self) -> None:
        try:
            self.pg.consume_input()
        except psycopg.OperationalError as err:
            self.close(f"connection lost ({_line(str(err))})")
            return
        nulls = 0
        while self.pending and not self.pg.is_busy():
            res = self.pg.get_result()
            if res is None:  # the end of one statement's results
                nulls += 1
                if nulls > 1:
                    break
                continue
            nulls = 0
            fut, results = self.pending[0]
            if res.status == SYNC:
                self.pending.popleft()
                if not fut.done():
                    fut.set_result(results)
            else:
                results.append(res)
        if self.pg.status == pq.ConnStatus.BAD:
            self.close("connection lost")

    def close(self, why: str) -> None:
        """Give the connection up: transactions in flight become indeterminate, later ones
        fail without being sent."""
        if self.broken is not None:
            return
        self.broken = why
        self.loop.remove_reader(self.fd)
        if self.writing:
            self.loop.remove_writer(self.fd)
        while self.pending:
            fut, _ = self.pending.popleft()
            if not fut.done():
                fut.set_exception(TxnUnknown(why))
        self.pg.finish()


class PostgresSession(Session):
    """A client's connections (see the module doc for the two modes)."""

    def __init__(self, pipes: list[_Pipe], mode: str) -> None:
        self.pipes = pipes
        self.mode = mode
        self.free: asyncio.Queue[_Pipe] = asyncio.Queue()
        for p in pipes:
            self.free.put_nowait(p)

    async def execute(self, ops: list[Op]) -> list[Op]:
        stmts = [_statement(op) for op in ops]
        if self.mode == "pipelined":
            return await self._run(self.pipes[0], ops, stmts)
        pipe = await self.free.get()
        try:
            return await self._run(pipe, ops, stmts)
        finally:
            self.free.put_nowait(pipe)

    async def _run(self, pipe: _Pipe, ops: list[Op], stmts: list) -> list[Op]:
        fut = pipe.submit(stmts)
        try:
            results = await fut
        except asyncio.CancelledError:
            pipe.close("gave the connection up after a cancelled transaction")
            raise
        return _fill(ops, results)

    async def close(self) -> None:
        for p in self.pipes:
            p.close("session closed")
        for p in self.pipes:
            await p.conn.close()


def _statement(op: Op) -> tuple[bytes, list[bytes]]:
    f, key, value = op
    if f == "r":
        return b"r", [b"%d" % key]
    return f.encode(), [b"%d" % key, b"%d" % value]


def _fill(ops: list[Op], results: list[pq.abc.PGresult]) -> list[Op]:
    for res in results:
        if res.status == FATAL:
            state = (res.error_field(SQLSTATE) or b"").decode()
            msg = _line(res.get_error_message())
            if state.startswith(UNKNOWN_STATES):
                raise TxnUnknown(f"{state}: {msg}")
            raise TxnFailed(f"{state}: {msg}")
    if len(results) != len(ops) or any(r.status == ABORTED for r in results):
        raise TxnFailed("pipeline aborted")
    out = []
    for (f, key, value), res in zip(ops, results, strict=True):
        if f == "r":
            value = _value(res.get_value(0, 0), res.get_value(0, 1)) if res.ntuples else None
        elif f == "scan":
            found = {int(res.get_value(i, 0)): _value(res.get_value(i, 1), res.get_value(i, 2))
                     for i in range(res.ntuples)}
            value = [found.get(key + i) for i in range(value)]
        out.append((f, key, value))
    return out


def _value(v: bytes | None, lst: bytes | None) -> int | list[int] | None:
    if lst is not None:
        inner = lst[1:-1]
        return [int(x) for x in inner.split(b",")] if inner else []
    return None if v is None else int(v)


class PostgresStore(Store):
    """A PostgreSQL server at `dsn`, as system `name` (see the module doc)."""

    def __init__(self, dsn: str, isolation: str = "serializable", mode: str = DEFAULT_MODE,
                 name: str | None = None) -> None:
        if isolation not in ISOLATION:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATION)}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.dsn = dsn
        self.isolation = isolation
        self.mode = mode
        self.name = name or f"pg-{isolation}-{mode}"
        self.sessions: list[PostgresSession] = []
        self._schema = False

    async def _create_schema(self) -> None:
        if not self._schema:  # once: concurrent CREATE TABLE IF NOT EXISTS can still clash
            self._schema = True
            async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as c:
                await c.execute(SCHEMA)

    async def _connect(self) -> _Pipe:
        iso = ISOLATION[self.isolation].replace(" ", r"\ ")
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, options=f"-c default_transaction_isolation={iso}")
            for f, sql in STATEMENTS.items():
                await conn.execute(f"PREPARE {f} ({TYPES[f]}) AS {sql}")
        except psycopg.OperationalError as err:
            raise UserError(f"PostgreSQL: cannot connect ({_line(str(err))})") from None
        return _Pipe(conn)

    async def session(self, client: int, depth: int) -> PostgresSession:
        n = depth if self.mode == "pooled" else 1
        await self._create_schema()
        pipes = list(await asyncio.gather(*(self._connect() for _ in range(n))))
        s = PostgresSession(pipes, self.mode)
        self.sessions.append(s)
        return s

    async def load(self, initial: dict[int, Any]) -> None:
        await self._create_schema()
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await conn.execute("TRUNCATE kv")
            async with conn.cursor().copy("COPY kv (k, v, l) FROM STDIN") as copy:
                for k, v in initial.items():
                    lst = isinstance(v, list | tuple)
                    await copy.write_row((k, None if lst else v, list(v) if lst else None))

    async def close(self) -> None:
        for s in self.sessions:
            await s.close()
        self.sessions.clear()


__all__ = ["DEFAULT_MODE", "ISOLATION", "MODES", "PostgresSession", "PostgresStore"]
