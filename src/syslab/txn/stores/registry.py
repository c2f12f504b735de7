"""The systems a run can name, and `open_system`, which starts one and hands out its Store.

    async with open_system("pg-serializable-pipelined") as store:
        await store.load(workload.initial())
        run = await run_clients(store, workload.next, clients=4, depth=8, duration=5)

`open_system(name, server=None, **opts)` starts the system's server on loopback (see
`syslab.txn.servers`; `opts` go to it: `port`, `timeout`, `durable`), connects a Store to
it, and on exit closes the store and stops the server, also after an error. Pass `server`
(a started `servers.Server` of the right kind) to use a running server instead; it is left
running. An unknown name is a UserError listing the known ones.

Other stores add themselves with `register(name, description, opener)`, where
`opener(**opts)` returns an async context manager yielding a `Store` (the MDSS store
registers "mdss", "mdss-single" and "mdss-1bt" this way).

Also here, shared by the adapters that compute reads on the client (etcd, ZooKeeper, Redis
WATCH): `apply_ops`, what a transaction's micro-ops read and write given the values of the
keys it touches.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from syslab.common.errors import UserError
from syslab.txn import servers
from syslab.txn.history import Op
from syslab.txn.stores.base import Store

Opener = Callable[..., AbstractAsyncContextManager[Store]]

#: system name -> one-line description
SYSTEMS: dict[str, str] = {}
#: system name -> opener(**opts): an async context manager yielding a connected Store
OPENERS: dict[str, Opener] = {}


def register(name: str, description: str, opener: Opener) -> None:
    """Make `name` known to `open_system` (and listed in `SYSTEMS`)."""
    SYSTEMS[name] = description
    OPENERS[name] = opener


@asynccontextmanager
async def open_system(name: str, **opts: Any) -> AsyncIterator[Store]:
    """Start system `name` and yield a connected Store; everything is stopped after."""
    opener = OPENERS.get(name)
    if opener is None:
        raise UserError(f"unknown system {name!r} (known: {', '.join(SYSTEMS)})")
    async with opener(**opts) as store:
        yield store


# --------------------------------------------------------------------------- shared


def apply_ops(ops: list[Op], state: dict[int, Any]) -> tuple[list[Op], dict[int, Any]]:
    """Run `ops` in order over `state` (key -> int, list, or None/missing for absent; not
    changed): the ops with their reads filled in, and the new values of the keys written."""
    new: dict[int, Any] = {}

    def get(k: int) -> Any:
        v = new[k] if k in new else state.get(k)
        return list(v) if isinstance(v, list | tuple) else v

    out: list[Op] = []
    for f, k, v in ops:
        if f == "r":
            out.append((f, k, get(k)))
            continue
        if f == "scan":
            out.append((f, k, [get(k + i) for i in range(v)]))
            continue
        if f == "w":
            new[k] = v
        elif f == "append":
            cur = get(k)
            new[k] = (cur if isinstance(cur, list) else []) + [v]
        elif f == "add":
            cur = get(k)
            new[k] = (cur if isinstance(cur, int) else 0) + v
        else:
            raise ValueError(f"unknown op {f!r}")
        out.append((f, k, v))
    return out, new


def touched_keys(ops: list[Op]) -> list[int]:
    """Every key the ops read or write, scans expanded, sorted."""
    return sorted({k + i for f, k, v in ops for i in range(v if f == "scan" else 1)})


# --------------------------------------------------------------------------- built-ins


@contextlib.contextmanager
def _server(kind: Callable[..., servers.Server], server: servers.Server | None,
            opts: dict[str, Any]):
    """`server` if given, else a new one of `kind` started with `opts` (and stopped)."""
    if server is not None:
        if opts:
            raise UserError(f"option {sorted(opts)[0]!r} is for a server open_system starts, "
                            "not for one it is given")
        yield server
        return
    unknown = set(opts) - {"port", "timeout", "durable"}
    if unknown:
        raise UserError(f"unknown option {sorted(unknown)[0]!r} (known: port, timeout, "
                        "durable)")
    # Started here, in the caller's thread (see servers: PDEATHSIG follows the thread).
    with kind(**opts) as s:
        yield s


def _postgres(isolation: str, mode: str, name: str) -> Opener:
    @asynccontextmanager
    async def opener(server: servers.Server | None = None, **opts: Any):
        from syslab.txn.stores.postgres import PostgresStore

        with _server(servers.postgres, server, opts) as pg:
            store = PostgresStore(pg.dsn, isolation, mode, name=name)
            try:
                yield store
            finally:
                await store.close()

    return opener


def _redis(mode: str, name: str) -> Opener:
    @asynccontextmanager
    async def opener(server: servers.Server | None = None, **opts: Any):
        from syslab.txn.stores.redis import RedisStore

        with _server(servers.redis, server, opts) as rd:
            store = RedisStore(servers.HOST, rd.port, mode, name=name)
            try:
                yield store
            finally:
                await store.close()

    return opener


@asynccontextmanager
async def _etcd(server: servers.Server | None = None, **opts: Any):
    from syslab.txn.stores.etcd import EtcdStore

    with _server(servers.etcd, server, opts) as ed:
        store = EtcdStore(servers.HOST, ed.port)
        try:
            yield store
        finally:
            await store.close()


@asynccontextmanager
async def _zookeeper(server: servers.Server | None = None, **opts: Any):
    from syslab.txn.stores.zookeeper import ZooKeeperStore

    with _server(servers.zookeeper, server, opts) as zk:
        store = ZooKeeperStore(zk.hosts)
        try:
            yield store
        finally:
            await store.close()


@asynccontextmanager
async def _sqlite(path: str | Path | None = None, server: None = None, **opts: Any):
    from syslab.txn.stores.sqlite import SqliteStore

    if opts or server is not None:
        raise UserError(f"unknown option {sorted(opts or ['server'])[0]!r} (SQLite runs in "
                        "process; known: path)")
    with contextlib.ExitStack() as stack:
        if path is None:
            path = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="syslab-txn-sqlite-"))) / "kv.db"
        store = SqliteStore(path)
        try:
            yield store
        finally:
            await store.close()


_ISOLATION = {"serializable": "SERIALIZABLE (SSI)",
              "repeatable-read": "REPEATABLE READ (snapshot isolation)",
              "read-committed": "READ COMMITTED"}
for _iso, _what in _ISOLATION.items():
    register(f"pg-{_iso}", f"PostgreSQL 15 {_what}, a pool of depth connections per client "
             "(= -pooled)", _postgres(_iso, "pooled", f"pg-{_iso}"))
    register(f"pg-{_iso}-pooled", f"PostgreSQL 15 {_what}, a pool of depth connections per "
             "client: no issue order", _postgres(_iso, "pooled", f"pg-{_iso}-pooled"))
    register(f"pg-{_iso}-pipelined", f"PostgreSQL 15 {_what}, one connection per client in "
             "libpq pipeline mode: issue order", _postgres(_iso, "pipelined",
                                                          f"pg-{_iso}-pipelined"))
register("redis", "Redis 7 MULTI/EXEC, one pipelined connection per client: issue order",
         _redis("pipelined", "redis"))
register("redis-pooled", "Redis 7 MULTI/EXEC, depth connections per client: no issue order",
         _redis("pooled", "redis-pooled"))
register("redis-watch", "Redis 7 optimistic WATCH, read then MULTI/EXEC; a changed key "
         "fails the transaction; depth connections per client", _redis("watch", "redis-watch"))
register("etcd", "etcd 3.4 txn (read, then compare-and-swap on mod revisions), one gRPC "
         "channel per client shared by its transactions in flight", _etcd)
register("zookeeper", "ZooKeeper 3.8 multi-op (version-checked read-modify-write), one "
         "session per client: FIFO requests", _zookeeper)
register("sqlite", "SQLite 3 BEGIN IMMEDIATE (serializable), one connection per client",
         _sqlite)



def _register_mdss() -> None:
    # imported here, not at the top: the MDSS package imports this module's helpers
    from functools import partial

    from syslab.txn.stores import mdss

    for name, what in mdss.SYSTEMS.items():
        register(name, what, partial(mdss.open_mdss, name))


_register_mdss()


__all__ = ["OPENERS", "SYSTEMS", "apply_ops", "open_system", "register", "touched_keys"]
