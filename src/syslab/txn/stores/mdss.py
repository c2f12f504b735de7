"""Our MDSS store as a `Store`: "mdss", "mdss-single" and "mdss-1bt".

    async with open_mdss("mdss", delay_ms=5) as store:
        await store.load(workload.initial())
        run = await run_clients(store, workload.next, clients=4, depth=8, duration=5)

`open_mdss` starts a `syslab.txn.mdss.Cluster` (3 shards x 3 replicas, every message
delayed by `delay_ms` one way, in our own transport), connects a client library to its
leaders, and on exit closes the client and stops every replica. Pass `cluster` (a started
Cluster) to use one that is already running; it is left running.

- "mdss": multi-dispatch strictly serializable. A session sends every transaction at once;
  the servers keep issue order and the failures are suffix-closed (see `syslab.txn.mdss`).
- "mdss-single": the same servers and library, one transaction in flight per session (the
  next is sent when the previous answered): the single-dispatch strictly serializable
  baseline. Transactions the application issues meanwhile wait in the library, so a
  request's latency is the sum of its transactions'.
- "mdss-1bt": one big transaction, also single-dispatch; the harness concatenates a
  request's transactions into one (`bench.BenchConfig.one_big`), which the store runs as one
  multi-shard transaction (`one_big` is set on the store to say it expects that).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from syslab.common.errors import UserError
from syslab.txn.mdss.client import MdssClient
from syslab.txn.mdss.cluster import Cluster
from syslab.txn.stores.base import Session, Store

#: system name -> one-line description
SYSTEMS = {
    "mdss": "our MDSS store (3 shards x 3 replicas, WAL, majority replication): "
            "multi-dispatch, issue order, suffix-closed failures",
    "mdss-single": "our MDSS store's servers, one transaction in flight per client: "
                   "the single-dispatch strictly serializable baseline",
    "mdss-1bt": "our MDSS store's servers, a request's transactions as one big "
                "transaction, single-dispatch",
}


class MdssStore(Store):
    """Sessions on a running cluster (see the module doc)."""

    def __init__(self, name: str, client: MdssClient, cluster: Cluster) -> None:
        self.name = name
        self.cluster = cluster
        self.single = name != "mdss"
        self.one_big = name == "mdss-1bt"
        self._client = client

    async def session(self, client: int, depth: int) -> Session:
        return self._client.session(single=self.single)

    async def load(self, initial: dict[int, Any]) -> None:
        await self._client.load(initial)

    async def close(self) -> None:
        await self._client.close()


@asynccontextmanager
async def open_mdss(name: str = "mdss", *, delay_ms: float = 5.0, shards: int = 3,
                    replicas: int = 3, data_dir: Path | str | None = None,
                    cluster: Cluster | None = None, **opts: Any) -> AsyncIterator[MdssStore]:
    """Start (or use) a cluster and yield a connected store; all stopped after."""
    if name not in SYSTEMS:
        raise UserError(f"unknown MDSS system {name!r} (known: {', '.join(SYSTEMS)})")
    if opts:
        raise UserError(f"unknown option {sorted(opts)[0]!r} (known: delay_ms, shards, "
                        "replicas, data_dir, cluster)")
    own = cluster is None
    if cluster is None:
        cluster = Cluster(shards=shards, replicas=replicas, delay_ms=delay_ms,
                          data_dir=data_dir)
        await cluster.__aenter__()
    try:
        client = MdssClient(cluster.leader_ports, cluster.delay_ms / 1000.0)
        try:
            await client.connect()
        except OSError as err:
            raise UserError(f"cannot connect to the MDSS leaders ({err.strerror})") from None
        store = MdssStore(name, client, cluster)
        try:
            yield store
        finally:
            await store.close()
    finally:
        if own:
            await cluster.__aexit__(None, None, None)


__all__ = ["SYSTEMS", "MdssStore", "open_mdss"]
