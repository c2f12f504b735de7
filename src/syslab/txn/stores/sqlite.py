"""SQLite 3 in a file: serializable by construction, one writer at a time.

Data: `kv(k INTEGER PRIMARY KEY, v INTEGER, l TEXT)`, a key holding an int (`v`) or a list
(`l`, JSON, grown with json_insert).

Each session has its own connection. A transaction is BEGIN IMMEDIATE (take the database's
write lock up front, so two transactions never both read and then fail to upgrade), the
micro-ops, COMMIT, run in a worker thread since sqlite3 blocks. A session runs its
transactions one at a time, in the order they were issued (an asyncio.Lock is FIFO), so a
client's transactions keep issue order; different sessions' transactions queue on the write
lock (up to 5 s; giving up is `TxnFailed`).

WAL journal with synchronous=OFF: the file is thrown away after the run, and the order of
transactions does not depend on fsync (as for the servers in `syslab.txn.servers`).

A cancelled `execute` interrupts the statement running in the thread and gives the
connection up (later transactions of the session fail without running), since the thread
may still be inside the transaction when the caller moves on.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from syslab.txn.history import Op
from syslab.txn.stores.base import Session, Store, TxnFailed, TxnUnknown

SCHEMA = "CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v INTEGER, l TEXT)"
SQL = {
    "r": "SELECT v, l FROM kv WHERE k = ?",
    "w": "INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE "
         "SET v = excluded.v, l = NULL",
    "append": "INSERT INTO kv (k, l) VALUES (?1, json_array(?2)) ON CONFLICT (k) DO UPDATE "
              "SET l = json_insert(coalesce(kv.l, '[]'), '$[#]', ?2), v = NULL",
    "add": "INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE "
           "SET v = coalesce(kv.v, 0) + excluded.v, l = NULL",
    "scan": "SELECT k, v, l FROM kv WHERE k >= ?1 AND k < ?1 + ?2",
}
BUSY_TIMEOUT = 5.0
# SQLite's own busy wait, per attempt: short, so that between attempts the thread can see
# that its transaction was cancelled (sqlite3_interrupt does not end a busy wait).
BUSY_STEP = 0.05


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_STEP, isolation_level=None,
                           check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def _value(v: int | None, lst: str | None) -> int | list[int] | None:
    return json.loads(lst) if lst is not None else v


class SqliteSession(Session):
    """One connection of one client."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()
        self.running: asyncio.Future | None = None
        self.broken: str | None = None

    async def execute(self, ops: list[Op]) -> list[Op]:
        async with self.lock:
            if self.broken is not None:
                raise TxnFailed(f"not run: {self.broken}")
            loop = asyncio.get_running_loop()
            self.running = loop.run_in_executor(None, self._run, ops)
            try:
                return await asyncio.shield(self.running)
            except asyncio.CancelledError:
                self.broken = "gave the connection up after a cancelled transaction"
                self.conn.interrupt()
                raise

    def _run(self, ops: list[Op]) -> list[Op]:
        c = self.conn
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                c.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as err:
                if self.broken is not None or time.monotonic() > deadline or not str(
                        err).startswith("database is locked"):
                    raise TxnFailed(f"BEGIN: {err}") from None
        try:
            out = []
            for f, k, v in ops:
                if f == "r":
                    row = c.execute(SQL["r"], (k,)).fetchone()
                    v = _value(*row) if row else None
                elif f == "scan":
                    found = {rk: _value(rv, rl) for rk, rv, rl in c.execute(SQL["scan"], (k, v))}
                    v = [found.get(k + i) for i in range(v)]
                else:
                    c.execute(SQL[f], (k, v))
                out.append((f, k, v))
        except sqlite3.Error as err:
            c.execute("ROLLBACK")
            raise TxnFailed(f"{err}") from None
        try:
            c.execute("COMMIT")
        except sqlite3.Error as err:
            # A failed COMMIT in SQLite leaves the transaction open (busy) or rolls it back;
            # either way it did not commit, once we roll back what is left.
            if c.in_transaction:
                try:
                    c.execute("ROLLBACK")
                except sqlite3.Error:
                    raise TxnUnknown(f"COMMIT: {err}; ROLLBACK failed too") from None
            raise TxnFailed(f"COMMIT: {err}") from None
        return out

    async def close(self) -> None:
        if self.running is not None and not self.running.done():
            await asyncio.gather(self.running, return_exceptions=True)
        self.conn.close()


class SqliteStore(Store):
    """A SQLite database file at `path` (created if missing)."""

    name = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.sessions: list[SqliteSession] = []
        conn = _connect(self.path)
        conn.execute(SCHEMA)
        conn.close()

    async def session(self, client: int, depth: int) -> SqliteSession:
        s = SqliteSession(_connect(self.path))
        self.sessions.append(s)
        return s

    async def load(self, initial: dict[int, Any]) -> None:
        def load() -> None:
            conn = _connect(self.path)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM kv")
                conn.executemany("INSERT INTO kv (k, v, l) VALUES (?, ?, ?)", [
                    (k, None, json.dumps(list(v))) if isinstance(v, list | tuple)
                    else (k, v, None) for k, v in initial.items()])
                conn.execute("COMMIT")
            finally:
                conn.close()

        await asyncio.to_thread(load)

    async def close(self) -> None:
        for s in self.sessions:
            await s.close()
        self.sessions.clear()


__all__ = ["SqliteSession", "SqliteStore"]
