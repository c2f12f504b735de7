"""One client's side of the protocol, as a plain object driven by messages (no I/O).

A `Chain` is one client (one runner session). It is the two-phase-commit coordinator of the
client's transactions and decides them *in issue order*; that is what makes multi-dispatch
cheap here, since no shard has to wait for a message from another shard:

- `issue(ops)` numbers the transaction (its issue index, taken when the application invokes
  it) and notes its *predecessor*: the latest earlier transaction of the client not yet
  decided. If the latest earlier one already failed (and the application may not have seen
  that yet, see `settle`), the new one fails at once.
- `start` sends the transaction's parts to the shard leaders at once, without waiting for
  anything: all of a request's transactions prepare in parallel (each with the lock priority
  of its chain segment, see `shard`). A transaction touching one
  shard with no undecided predecessor goes *one-shot* (the leader decides it alone).
- Votes come back; the transaction is decided when all its shards voted *and* its predecessor
  is decided: commit if every shard voted yes and the predecessor committed, else abort. Its
  successors' decisions follow immediately. So a whole request is decided one round trip
  after it was sent, however many transactions it has; the commits then go out, each is
  replicated, and each answers when durable (6 one-way delays for a request of any size,
  against 4 or 6 per transaction for a client that waits for each).
- A one-shot predecessor is decided by its leader; the chain asks it (`Q`) so as not to wait
  for its replication.
- Results are delivered in issue order (return ordering): a transaction's answer waits for
  its predecessors' answers, so an acknowledged transaction's predecessors are acknowledged.

Failures are suffix-closed by construction: a transaction commits only if its predecessor
committed, and its predecessor only if its own did, back to the first transaction that was
in flight when it was issued. A transaction that is refused (a lock conflict, an op on the
wrong type) fails its successors in the same instant, before any of them can commit.

`settle` closes the one gap an in-process library has: the application records a failed
transaction's completion a little after the library delivered it, and a transaction it issues
in between counts, in the history, as issued while the failed one was in flight. So a failed
transaction keeps failing newly issued ones until `settle` says the application has seen it
(the asyncio shell calls it a few event-loop turns after delivery). Failing a transaction is
always allowed; this only fails a few more.

Failures are also delivered *together*. A continuous multi-dispatch client refills each
slot as soon as its transaction answers; if failures answered one by one, the slots would
drift out of phase, every refill would land while some other failure is still in flight
(and so must fail too), and a single conflict could fail the client's transactions for as
long as it runs. So a failure waits at the head of the delivery order until the client has
been quiet (no issue, no delivery) for a few event-loop turns (`tick`); by then everything
issued after it has failed too, all are answered in one turn, and all the slots refill at
once, with nothing in flight to fail them. (Holding a failure only lengthens its flight, and
whatever is issued meanwhile fails anyway, as the rule demands.)

If a leader's connection is lost, what it was deciding is resolved from what the coordinator
knows: an undecided two-phase transaction aborts (no leader can commit it without the
coordinator's word, so it certainly failed); a one-shot one, or a committed one not yet
durable there, is indeterminate; later transactions that depended on an indeterminate one
fail (it may have failed); new ones touching that shard fail.

With `single=True` the chain dispatches one transaction at a time (the next starts when the
previous answered): the single-dispatch strictly serializable baseline, same servers, same
rules.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from syslab.txn.history import Op
from syslab.txn.mdss.ops import check_ops, merge, split

COMMIT, ABORT, LOST = "commit", "abort", "lost"  # decisions (LOST: a one-shot's leader died)
OK, FAILED, UNKNOWN = "ok", "fail", "info"  # outcomes, as the history records them

PRED_FAILED = "an earlier transaction of this client failed while this one was in flight"
PRED_LOST = "an earlier transaction of this client may have failed (its leader was lost)"

# Failures are delivered together once the client has issued and received nothing for this
# many event-loop turns (longer than the runner takes from a delivery to its next issue).
QUIET_TURNS = 6


class ClientTxn:
    """One transaction as its coordinator tracks it."""

    __slots__ = ("id", "index", "ops", "handle", "parts", "pred", "one_shot", "started",
                 "pending", "refused", "votes", "decision", "dones", "outcome", "error",
                 "result", "successors", "queried", "settled", "ts")

    def __init__(self, tid: str, index: int, ops: list[Op], handle: Any) -> None:
        self.id = tid
        self.index = index
        self.ops = ops
        self.handle = handle  # the shell's (a future to resolve)
        self.parts: dict[int, list] = {}
        self.pred: ClientTxn | None = None
        self.one_shot = False
        self.started = False
        self.pending: set[int] = set()  # shards whose vote is awaited
        self.refused: set[int] = set()
        self.votes: dict[int, list] = {}
        self.decision: str | None = None
        self.dones: set[int] = set()  # shards whose durable commit is awaited
        self.outcome: str | None = None
        self.error: str | None = None
        self.result: list[Op] | None = None
        self.successors: list[ClientTxn] = []
        self.queried = False
        self.settled = False
        self.ts = 0.0  # lock priority (see shard): its chain segment's start


class Chain:
    """One client's transactions (see the module doc). `send(shard, msg)` sends to that
    shard's leader; `deliver(txn)` hands a finished transaction (`outcome` set) back, in
    issue order."""

    def __init__(self, cid: str, shards: int, send: Callable[[int, dict], None],
                 deliver: Callable[[ClientTxn], None], single: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 on_hold: Callable[[], None] = lambda: None) -> None:
        self.cid = cid
        self.clock = clock
        self.on_hold = on_hold
        self.shards = shards
        self.send = send
        self.deliver = deliver
        self.single = single
        self.next_index = 0
        self.open: deque[ClientTxn] = deque()  # not yet settled, in issue order
        self.undelivered: deque[ClientTxn] = deque()
        self.by_id: dict[str, ClientTxn] = {}
        self.dead: set[int] = set()  # shards whose leader connection is gone
        self._delivering = False
        self._holding = False  # failures wait at the head of `undelivered` (see `tick`)
        self._ticking = False
        self._releasing = False
        self._quiet = 0  # turns without an issue or a delivery, while holding

    # ------------------------------------------------------------------ application side

    def issue(self, ops: list[Op], handle: Any = None) -> ClientTxn:
        """A new transaction, started at once (or, single-dispatch, when its turn comes)."""
        t = ClientTxn(f"{self.cid}.{self.next_index}", self.next_index, ops, handle)
        self.next_index += 1
        self._quiet = 0
        last = self.open[-1] if self.open and not self.open[-1].settled else None
        self.open.append(t)
        self.undelivered.append(t)
        self.by_id[t.id] = t
        why = check_ops(ops)
        if why is not None:
            self._decide(t, ABORT, why)
        elif last is not None:
            if last.decision is None:
                t.pred = last
            elif last.decision != COMMIT:
                self._decide(t, ABORT, PRED_LOST if last.decision == LOST else PRED_FAILED)
        if t.decision is None and (not self.single or self.undelivered[0] is t):
            self._start(t)
        return t

    def settle(self, t: ClientTxn) -> None:
        """The application has recorded `t`'s outcome: it no longer fails new transactions."""
        t.settled = True
        while self.open and self.open[0].settled:
            self.by_id.pop(self.open.popleft().id, None)

    def idle(self) -> bool:
        """Nothing in flight."""
        return not self.undelivered

    def tick(self) -> bool:
        """One event-loop turn has passed while failures are held (the shell calls this
        once per turn after `on_hold`, for as long as it returns True). Failures are
        released, all at once, after QUIET_TURNS turns without an issue or a delivery."""
        if not self._holding or any(u.outcome is None for u in self.undelivered):
            self._ticking = False  # resumed when the last one is decided
            return False
        self._quiet += 1
        if self._quiet < QUIET_TURNS:
            return True
        self._holding = self._ticking = False
        self._releasing = True
        try:
            self._deliver_ready()
        finally:
            self._releasing = False
        return False

    # ------------------------------------------------------------------ network side

    def on_message(self, shard: int, msg: dict) -> None:
        """A reply from `shard`'s leader."""
        t = self.by_id.get(msg["x"])
        if t is None:
            return
        kind = msg["t"]
        if kind == "V":
            t.pending.discard(shard)
            if not msg["ok"]:
                t.refused.add(shard)
                if t.decision is None:
                    self._decide(t, ABORT, f"{msg['e']} (shard {shard})")
                return
            t.votes[shard] = msg["r"]
            if not t.pending:
                self._try_decide(t)
        elif kind == "O":
            if t.decision is None:
                self._decide(t, COMMIT)
        elif kind == "C":
            if t.one_shot:
                t.votes[shard] = msg["r"]
                t.pending.discard(shard)
                if t.decision is None:
                    self._decide(t, COMMIT)
            t.dones.discard(shard)
            if not t.dones and t.decision == COMMIT and t.outcome is None:
                self._finish(t, OK)

    def on_lost(self, shard: int) -> None:
        """The connection to `shard`'s leader is gone (see the module doc)."""
        self.dead.add(shard)
        why = f"connection to the leader of shard {shard} lost"
        for t in list(self.undelivered):
            if t.outcome is not None or not t.started or shard not in t.parts:
                continue
            if t.one_shot:
                if t.decision is None:
                    self._decide(t, LOST)
                self._finish(t, UNKNOWN, why)
            elif t.decision is None:
                self._decide(t, ABORT, why + " before the transaction was decided")
            elif t.decision == COMMIT and shard in t.dones:
                self._finish(t, UNKNOWN, why + " before the commit was durable there")

    # ------------------------------------------------------------------ rules

    def _start(self, t: ClientTxn) -> None:
        t.started = True
        pred = t.pred
        if pred is not None and pred.decision is not None:
            if pred.decision != COMMIT:
                self._decide(t, ABORT, PRED_LOST if pred.decision == LOST else PRED_FAILED)
                return
            pred = t.pred = None
        t.parts = split(t.ops, self.shards)
        dead = sorted(self.dead & t.parts.keys())
        if dead:
            self._decide(t, ABORT, f"no connection to the leader of shard {dead[0]}")
            return
        # a new segment of the chain is as young as now; the rest of it is as old as its start
        t.ts = self.clock() if pred is None else pred.ts
        base = {"t": "P", "x": t.id, "c": self.cid, "i": t.index, "ts": t.ts}
        if pred is None and len(t.parts) == 1:
            t.one_shot = True
            (s, part), = t.parts.items()
            t.pending = {s}
            t.dones = {s}
            self.send(s, base | {"o": part, "1": 1})
            return
        t.pending = set(t.parts)
        for s, part in t.parts.items():
            self.send(s, base | {"o": part})
        if pred is not None:
            pred.successors.append(t)
            if pred.one_shot and not pred.queried:
                pred.queried = True
                (s,) = pred.parts
                self.send(s, {"t": "Q", "x": pred.id})
        if not t.pending:
            self._try_decide(t)

    def _try_decide(self, t: ClientTxn) -> None:
        if t.decision is not None or t.pending or not t.started:
            return
        pred = t.pred
        if pred is not None:
            if pred.decision is None:
                return  # decided when the predecessor is
            if pred.decision != COMMIT:
                self._decide(t, ABORT, PRED_LOST if pred.decision == LOST else PRED_FAILED)
                return
        self._decide(t, COMMIT)

    def _decide(self, t: ClientTxn, decision: str, why: str | None = None) -> None:
        # iterative: a decision can decide a long run of successors
        work = [(t, decision, why)]
        while work:
            t, decision, why = work.pop()
            if t.decision is not None:
                continue
            t.decision = decision
            if t.started and not t.one_shot:
                if decision == COMMIT:
                    t.dones = set(t.parts)
                    for s in t.parts:
                        self.send(s, {"t": "D", "x": t.id, "c": 1})
                else:
                    for s in t.parts:
                        if s not in t.refused and s not in self.dead:
                            self.send(s, {"t": "D", "x": t.id, "c": 0})
            if decision == ABORT:
                if self.single:  # those waiting their turn were issued while t was in flight
                    work.extend((u, ABORT, PRED_FAILED) for u in self.undelivered
                                if u.index > t.index and not u.started)
                self._finish(t, FAILED, why)
            elif decision == COMMIT and not t.dones:
                self._finish(t, OK)  # no ops
            for succ in t.successors:
                if decision != COMMIT:  # at once: free its locks
                    work.append((succ, ABORT, PRED_LOST if decision == LOST else PRED_FAILED))
                elif not succ.pending:
                    work.append((succ, COMMIT, None))
            t.successors = []

    def _finish(self, t: ClientTxn, outcome: str, why: str | None = None) -> None:
        if t.outcome is not None:
            return
        t.outcome = outcome
        t.error = why
        if outcome == OK:
            t.result = merge(t.ops, t.votes, t.parts, self.shards)
        self._deliver_ready()

    def _deliver_ready(self) -> None:
        """Deliver finished transactions in issue order; hold failures (see `tick`)."""
        if self._delivering:
            return  # the loop below, further up the stack, picks it up
        self._delivering = True
        try:
            q = self.undelivered
            while q and q[0].outcome is not None:
                if q[0].outcome == FAILED and not self._releasing:
                    self._hold()
                    break
                self._quiet = 0
                self.deliver(q.popleft())
                if self.single and q and not q[0].started and q[0].decision is None:
                    self._start(q[0])
        finally:
            self._delivering = False

    def _hold(self) -> None:
        if not self._holding:
            self._holding = True
            self._quiet = 0
        if not self._ticking and all(u.outcome is not None for u in self.undelivered):
            self._ticking = True
            self.on_hold()


__all__ = ["ABORT", "COMMIT", "FAILED", "LOST", "OK", "PRED_FAILED", "PRED_LOST", "UNKNOWN",
           "Chain", "ClientTxn"]
