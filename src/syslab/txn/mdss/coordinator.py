"""One client's side of the protocol, as a plain object driven by messages (no I/O).

A `Chain` is one client (one runner session). It sends every transaction to its shards the
moment it is issued and makes sure each one commits only if every transaction of the client
that was still undecided when it was issued (its *dependencies*) commits too. Nothing waits
for a chain of messages through the shards: a whole request's transactions prepare in
parallel and are decided about one round trip later, however many there are.

- `issue(ops)` numbers the transaction (its issue index, taken when the application invokes
  it) and notes its dependencies. If an earlier transaction has already failed and the
  application may not have seen that yet (see `settle`), the new one fails at once.
- `start` sends it, on one of three paths (each part prepares under a lock priority: its
  issue time, see `shard`):
  - *one-shot*: one shard, no dependencies: the leader decides it alone (one round trip).
  - *chained*: one shard, and every dependency is one-shot or chained itself: the leader
    decides it from the dependencies' votes, which their leaders forward to it (the chain
    asks them with `N`): one shard-to-shard message, all in parallel, no round trip to
    the client (5 one-way delays with replication, against 6 for two-phase commit).
  - *two-phase*: anything else. The chain is the coordinator: the transaction is decided
    when all its shards voted and all its dependencies are decided, commit if every vote
    was yes and every dependency committed. One-shot dependencies are asked (`Q`) to report
    as soon as they are ordered, so as not to wait for their replication.
- Results are delivered in issue order (return ordering): a transaction's answer waits for
  its predecessors' answers, so an acknowledged transaction's predecessors are acknowledged.

Why the leaders' decisions and the chain's agree, and failures are suffix-closed: a one-shot
or chained transaction is decided by its vote and its dependencies' votes alone, a two-phase
one by its votes and its dependencies' decisions. A dependency's own dependencies were
undecided when it was issued; each is either still undecided when the later transaction is
issued (so it is a dependency of that one too) or decided since, and then committed: had one
failed, the later transaction would have failed at issue, because a failure is not delivered
(`tick`) while any later transaction is undecided, so it cannot have settled yet. So "every
dependency voted yes" means "every dependency commits", and a transaction commits only if
everything in flight when it was issued commits: a failure fails exactly the transactions
issued while it was in flight (and perhaps a few more, which is always allowed).

`settle` closes the one gap an in-process library has: the application records a failed
transaction's completion a little after the library delivered it, and a transaction it issues
in between counts, in the history, as issued while the failed one was in flight. So a failed
transaction keeps failing newly issued ones until `settle` says the application has seen it
(the asyncio shell calls it when the application takes the answer, plus one loop turn).

Failures are also delivered *together*. A continuous multi-dispatch client refills each
slot as soon as its transaction answers; if failures answered one by one, the slots would
drift out of phase, every refill would land while some other failure is still in flight
(and so must fail too), and a single conflict could fail the client's transactions for as
long as it runs. So a failure waits at the head of the delivery order until everything after
it is decided and the client has been quiet (no issue, no delivery) for a few event-loop
turns (`tick`); by then everything issued after it has failed too, all are answered in one
turn, and all the slots refill at once, with nothing in flight to fail them. (Holding a
failure only lengthens its flight, and whatever is issued meanwhile fails anyway.)

If a leader's connection is lost, what it was deciding is resolved from what the coordinator
knows: an undecided two-phase transaction aborts (no leader can commit it without the
coordinator's word, so it certainly failed); a one-shot or chained one there, or a committed
one not yet durable there, is indeterminate; transactions that depend on an indeterminate
one fail (it may have failed), unless a leader decides them (chained ones); new ones touching
that shard fail.

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

COMMIT, ABORT, LOST = "commit", "abort", "lost"  # decisions (LOST: its leader died)
OK, FAILED, UNKNOWN = "ok", "fail", "info"  # outcomes, as the history records them

PRED_FAILED = "an earlier transaction of this client failed while this one was in flight"
PRED_LOST = "an earlier transaction of this client may have failed (its leader was lost)"

# Failures are delivered together once the client has issued and received nothing for this
# many event-loop turns (longer than the runner takes from a delivery to its next issue).
QUIET_TURNS = 6


class ClientTxn:
    """One transaction as its coordinator tracks it."""

    __slots__ = ("id", "index", "ops", "handle", "parts", "deps", "one_shot", "chained",
                 "started", "pending", "refused", "votes", "decision", "dones", "outcome",
                 "error", "result", "successors", "queried", "settled", "ts")

    def __init__(self, tid: str, index: int, ops: list[Op], handle: Any) -> None:
        self.id = tid
        self.index = index
        self.ops = ops
        self.handle = handle  # the shell's (a future to resolve)
        self.parts: dict[int, list] = {}
        self.deps: list[ClientTxn] = []  # undecided when it was issued
        self.one_shot = False
        self.chained = False
        self.started = False
        self.pending: set[int] = set()  # shards whose vote is awaited
        self.refused: set[int] = set()
        self.votes: dict[int, list] = {}
        self.decision: str | None = None
        self.dones: set[int] = set()  # shards whose durable commit is awaited
        self.outcome: str | None = None
        self.error: str | None = None
        self.result: list[Op] | None = None
        self.successors: list[ClientTxn] = []  # two-phase transactions that depend on it
        self.queried = False
        self.settled = False
        self.ts = 0.0  # lock priority (see shard): when it was issued

    @property
    def leader_decides(self) -> bool:
        return self.one_shot or self.chained


class Chain:
    """One client's transactions (see the module doc). `send(shard, msg)` sends to that
    shard's leader; `deliver(txn)` hands a finished transaction (`outcome` set) back, in
    issue order; `on_hold()` asks for `tick` to be called once per event-loop turn."""

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
        self._failed_open = 0  # unsettled transactions decided ABORT
        self._lost_open = 0  # ... decided LOST
        self._delivering = False
        self._deciding = False
        self._todo: list[ClientTxn] = []
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
        t.deps = [u for u in self.open if u.decision is None]
        self.open.append(t)
        self.undelivered.append(t)
        self.by_id[t.id] = t
        why = check_ops(ops)
        if why is not None:
            self._decide(t, ABORT, why)
        elif self._failed_open:
            self._decide(t, ABORT, PRED_FAILED)
        elif self._lost_open:
            self._decide(t, ABORT, PRED_LOST)
        elif not self.single or self.undelivered[0] is t:
            self._start(t)
        return t

    def settle(self, t: ClientTxn) -> None:
        """The application has recorded `t`'s outcome: it no longer fails new transactions."""
        if t.settled:
            return
        t.settled = True
        if t.decision == ABORT:
            self._failed_open -= 1
        elif t.decision == LOST:
            self._lost_open -= 1
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
            if t.leader_decides:
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
            if t.leader_decides:
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
        deps = [u for u in t.deps if u.decision != COMMIT]
        bad = [u for u in deps if u.decision is not None]
        if bad:  # single dispatch: decided while it waited for its turn
            self._decide(t, ABORT, PRED_LOST if bad[0].decision == LOST else PRED_FAILED)
            return
        t.deps = deps
        t.parts = split(t.ops, self.shards)
        dead = sorted(self.dead & t.parts.keys())
        if dead:
            self._decide(t, ABORT, f"no connection to the leader of shard {dead[0]}")
            return
        t.ts = self.clock()  # younger than everything it may wait for (see shard)
        base = {"t": "P", "x": t.id, "c": self.cid, "i": t.index, "ts": t.ts}
        if len(t.parts) == 1 and (not deps or (not self.single
                                               and all(u.leader_decides for u in deps))):
            (s, part), = t.parts.items()
            t.pending = {s}
            t.dones = {s}
            if not deps:
                t.one_shot = True
                self.send(s, base | {"o": part, "1": 1})
                return
            t.chained = True
            self.send(s, base | {"o": part, "lo": self.open[0].index,
                                 "d": [[u.index, next(iter(u.parts))] for u in deps]})
            remote: dict[int, list[int]] = {}
            for u in deps:
                (us,) = u.parts
                if us != s:
                    remote.setdefault(us, []).append(u.index)
            for us, indices in remote.items():
                self.send(us, {"t": "N", "c": self.cid, "i": indices, "to": s})
            return
        t.pending = set(t.parts)
        for s, part in t.parts.items():
            self.send(s, base | {"o": part})
        for u in deps:
            u.successors.append(t)
            if u.one_shot and not u.queried:
                u.queried = True  # report as soon as it is ordered, not when durable
                (us,) = u.parts
                self.send(us, {"t": "Q", "x": u.id})
        if not t.pending:
            self._try_decide(t)

    def _try_decide(self, t: ClientTxn) -> None:
        if t.decision is not None or not t.started or t.leader_decides:
            return
        for u in t.deps:
            if u.decision is not None and u.decision != COMMIT:  # at once: free its locks
                self._decide(t, ABORT, PRED_LOST if u.decision == LOST else PRED_FAILED)
                return
        if t.pending or any(u.decision is None for u in t.deps):
            return  # decided when its votes and its dependencies are
        self._decide(t, COMMIT)

    def _decide(self, t: ClientTxn, decision: str, why: str | None = None) -> None:
        t.decision = decision
        if not t.settled:
            if decision == ABORT:
                self._failed_open += 1
            elif decision == LOST:
                self._lost_open += 1
        if t.started and not t.leader_decides:
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
                for u in list(self.undelivered):
                    if u.index > t.index and not u.started and u.decision is None:
                        self._decide(u, ABORT, PRED_FAILED)
            self._finish(t, FAILED, why)
        elif decision == COMMIT and not t.dones:
            self._finish(t, OK)  # no ops
        # successors are retried from a loop at the outermost call: a decision can decide a
        # long run of them
        self._todo.extend(t.successors)
        t.successors = []
        if self._deciding:
            return
        self._deciding = True
        try:
            while self._todo:
                self._try_decide(self._todo.pop())
        finally:
            self._deciding = False

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


__all__ = ["ABORT", "COMMIT", "FAILED", "LOST", "OK", "PRED_FAILED", "PRED_LOST",
           "QUIET_TURNS", "UNKNOWN", "Chain", "ClientTxn"]
