"""Clients that keep up to D transactions in flight against a store, recording a history.

Each client is a closed loop: it issues its next transaction as soon as fewer than `depth`
of its transactions are in flight, so depth 1 is the classic single-dispatch client and
depth D > 1 is multi-dispatch. The invocation time is taken when the client issues the
transaction, before the store sees it, so issue order is invocation order.

With `request_size` R the clients run requests instead (the fan-out workload of the Ellis
evaluation): a request is R transactions issued together, at most `depth` in flight; the
client waits for all of them before its next request, and the request's latency is that
wait. `depth=1` then runs the R transactions one after another (single dispatch) and
`depth=R` all at once; `one_big` runs each request as one transaction holding all R
transactions' operations (the "one big transaction" baseline).

A transaction that does not answer within `timeout` seconds is recorded as indeterminate
("info"): the store may still commit it. The adapter's `execute` is cancelled then, and the
adapter must treat its connection as unusable (see `stores.base`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from syslab.common.errors import UserError
from syslab.txn.history import FAIL, INFO, OK, History, Op, Txn
from syslab.txn.stores.base import Session, Store, TxnFailed, TxnUnknown


@dataclass
class Request:
    """One fan-out request: its client, start, end and whether every transaction committed."""

    client: int
    start: float
    end: float
    ok: bool


@dataclass
class Run:
    """What a run produced: the history, the requests (request mode only), the wall time."""

    history: History
    requests: list[Request] = field(default_factory=list)
    wall_s: float = 0.0


class _Ids:
    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        self.next += 1
        return self.next - 1


async def run_clients(
    store: Store,
    next_txn: Callable[[int], list[Op]],
    *,
    clients: int,
    depth: int,
    duration: float | None = None,
    txns: int | None = None,
    request_size: int | None = None,
    one_big: bool = False,
    timeout: float = 10.0,
    meta: dict | None = None,
    on_complete: Callable[[Txn], None] | None = None,
) -> Run:
    """Run `clients` closed-loop clients of `store` until `duration` seconds have passed or
    `txns` transactions have been issued (whichever comes first; one must be given).

    `next_txn(client)` plans the client's next transaction (reads unfilled): a workload's
    `next`. `on_complete` sees every transaction as it completes (progress bars).
    """
    if clients < 1 or depth < 1:
        raise UserError(f"clients and depth must be at least 1, got {clients} and {depth}")
    if duration is None and txns is None:
        raise UserError("a run needs a duration or a transaction count")
    if request_size is not None and request_size < 1:
        raise UserError(f"request size must be at least 1, got {request_size}")
    if one_big and request_size is None:
        raise UserError("one big transaction per request needs a request size")
    ids = _Ids()
    history: list[Txn] = []
    requests: list[Request] = []

    def more() -> bool:
        return ((deadline is None or time.monotonic() < deadline)
                and (txns is None or ids.next < txns))

    async def one(session: Session, t: Txn) -> Txn:
        try:
            done = await asyncio.wait_for(session.execute(t.ops), timeout)
        except TxnFailed as err:
            t.outcome, t.error = FAIL, _line(err)
        except TxnUnknown as err:
            t.error = _line(err)
        except TimeoutError:
            t.error = f"no answer within {timeout:g} s"
        else:
            t.outcome, t.ops = OK, done
        if t.outcome != INFO:
            # an indeterminate one keeps complete=None: it may still take effect any time
            # later, so it orders after nothing in real time
            t.complete = time.monotonic() - t0
        if on_complete is not None:
            on_complete(t)
        return t

    async def client_loop(client: int, session: Session) -> None:
        slots = asyncio.Semaphore(depth)
        index = 0
        pending: set[asyncio.Task] = set()
        per_request = 1 if one_big else request_size

        def plan() -> list[Op]:
            if one_big:  # the request's transactions, concatenated into one
                return [op for _ in range(request_size) for op in next_txn(client)]
            return next_txn(client)

        async def issue() -> asyncio.Task | None:
            """The next transaction, issued once a slot is free; None when the run is over."""
            nonlocal index
            await slots.acquire()
            if not more():  # checked again: other clients issued while this one waited
                slots.release()
                return None
            # id, index and invocation time are taken here, when the client issues it
            t = Txn(ids.take(), client, index, time.monotonic() - t0, None, INFO, plan())
            history.append(t)
            task = asyncio.create_task(one(session, t))
            index += 1
            pending.add(task)
            task.add_done_callback(lambda tk: (pending.discard(tk), slots.release()))
            return task

        try:
            if request_size is None:
                while await issue() is not None:
                    pass
            else:
                while more():
                    start = time.monotonic() - t0
                    batch = [task for _ in range(per_request)
                             if (task := await issue()) is not None]
                    done = await asyncio.gather(*batch)
                    if len(done) == per_request:  # a request cut short by the end is not one
                        requests.append(Request(client, start, time.monotonic() - t0,
                                                all(t.outcome == OK for t in done)))
            if pending:
                await asyncio.gather(*pending)
        finally:
            await session.close()

    # Sessions open before the clock starts: a pooled adapter's `depth` connections per
    # client take a while to open, and that is not the store's transaction throughput.
    sessions = []
    try:
        for c in range(clients):
            sessions.append(await store.session(c, depth))
    except BaseException:
        for s in sessions:
            await s.close()
        raise
    t0 = time.monotonic()
    deadline = None if duration is None else t0 + duration
    await asyncio.gather(*(client_loop(c, s) for c, s in enumerate(sessions)))
    return Run(History(history, dict(meta or {})), requests, time.monotonic() - t0)


def _line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


__all__ = ["Request", "Run", "run_clients"]
