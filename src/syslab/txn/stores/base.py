"""The one interface every store adapter implements, so one client runner drives them all.

A `Store` is a running system (a real server the harness started, or our MDSS cluster) seen
from the client side; a `Session` is one client's connection(s) to it. `Session.execute`
runs one transaction (a list of micro-ops, `syslab.txn.history`) and returns the ops with
the values it read filled in. It may be called again before an earlier call returns: that
is multi-dispatch. Whether the store keeps such transactions in issue order is the store's
business (and the checker's to find out), not the runner's.

Outcomes are exceptions, so that a history records exactly what the client knew:
`TxnFailed` means certainly not committed (an abort, a serialization failure, a refused
request); `TxnUnknown` means it may or may not have committed (a timeout, a connection lost
after the request went out).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from syslab.txn.history import Op


class TxnFailed(Exception):
    """The transaction certainly did not commit; the message says why, in one line."""


class TxnUnknown(Exception):
    """The transaction may or may not have committed; the message says why, in one line."""


class Session(ABC):
    """One client's view of a store."""

    @abstractmethod
    async def execute(self, ops: list[Op]) -> list[Op]:
        """Run `ops` as one transaction; the ops with read values filled in."""

    async def close(self) -> None:  # noqa: B027 - most sessions have nothing to release
        """Release the connection(s)."""


class Store(ABC):
    """A running system the runner can open client sessions on."""

    name: str

    @abstractmethod
    async def session(self, client: int, depth: int) -> Session:
        """A session for client `client`, which will keep up to `depth` transactions in
        flight (a pooled adapter opens that many connections)."""

    @abstractmethod
    async def load(self, initial: dict[int, Any]) -> None:
        """Set the initial state (key -> int value or list) before a run; other keys are
        absent (reads see None)."""

    async def close(self) -> None:  # noqa: B027 - most stores have nothing to release
        """Release what `session`/`load` opened (the servers themselves are the harness's)."""


__all__ = ["Session", "Store", "TxnFailed", "TxnUnknown"]
