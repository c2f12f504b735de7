"""A shard leader's transaction logic, as a plain object driven by messages (no I/O).

The replica process (`replica`) feeds it every message from a client and tells it how far the
log is durable on a majority; it answers with replies to send and log records to replicate.

Messages from clients (`x` is the transaction id, `c` the client, `i` its issue index, `o` the
transaction's ops on this shard, see `ops.split`, `ts` its priority, see below):

- `P` prepare. Two-phase locking: a shared lock on every key the part reads, an exclusive
  one on every key it writes, all taken at once; then the part runs over the keys' current
  values, keeps its effects, holds the locks, and votes yes with what it read (`V`, ok 1,
  `r`). If a lock is taken, the request waits or is refused (`V`, ok 0, why), see below.
  *Lock inheritance*: a lock held by an *earlier* transaction of the same client (in issue
  order) is no conflict, and the later one sees the earlier one's tentative values. A client
  dispatches its next transactions before the earlier ones commit; they are decided in issue
  order, and if an earlier one aborts the later ones abort too (the client sees to both, see
  `coordinator`), so reading a tentative value is safe: it is either committed before the
  reader or the reader aborts with it. Write-then-read pairs issued back to back therefore
  neither conflict nor miss each other.
- `P` with `1` set: a *one-shot* transaction, which the client sends when it touches one
  shard and nothing of the same client is undecided. The shard decides it alone: once it
  has its locks it runs and commits at once (one round trip instead of two).
- `D` decide: commit (apply the effects, append them to the log, release the locks) or abort
  (release the locks, or leave the wait queue).
- `P` with `d` (its dependencies: the client's earlier transactions undecided when it was
  issued, each `[index, shard]`, all of them one-shot or chained): a *chained* transaction,
  sent when it touches one shard and so do all its dependencies. Its leader decides it
  alone, with no round trip to the client: it prepares as above, and commits once every
  dependency has voted yes (aborts once one voted no), in issue order among the client's
  chained transactions here (`O` at once, `C` with what it read once durable). Votes of
  single-shard transactions on other shards arrive from their leaders (`F`): the client
  asks each of those leaders (`N`) to forward them here, so they come one shard-to-shard
  message after the votes were cast, all in parallel. A dependency's vote decides it: it
  commits if it and all its own dependencies (a subset of ours, or already committed) voted
  yes. If the link from a leader whose vote is awaited is lost, the transaction aborts.
- `Q` query: has this one-shot transaction been ordered? (`O` as soon as it is; a refusal
  is sent anyway.) A client asks when a later transaction of its depends on the answer, which
  the commit reply (`C`) would only bring after replication.
- `L` load: replace the whole state (benchmarks reset it between points).
- `B` bye: a client session is done; its votes are forgotten.

Waiting without deadlock. Every transaction carries a priority `ts`: its client's clock when
it was issued (ties go by client id). A request that finds a lock held by an *older*
transaction (or wanted by an older one already waiting here) waits; one held by a *younger*
transaction refuses it. So every lock wait points to an older transaction, and so do a
transaction's other waits: for its dependencies (votes or decisions of its client's earlier
transactions) and for its client's earlier request waiting here (a client's requests run
here in arrival order, which is its issue order). Along any chain of waits the priority
strictly decreases, so none closes into a cycle, and a waiting request is retried whenever a
lock is released. A newcomer usually meets older holders and waits, so a hot key costs
waiting, not aborts (and the aborts' suffixes).

Nothing is acknowledged before it is durable on a majority: a commit's `C` waits until the log
is replicated through its record, a read-only transaction's `C` until the log is replicated
through everything it could have read (the log's end when it ran), so no client ever sees a
value that a crash could take back.

Locks are held from prepare to decision, and every transaction is decided while it holds all
its locks, so conflicting transactions of different clients are ordered by their lock hold
intervals, which are disjoint (the package doc gives the whole argument).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from syslab.txn.mdss.ops import EXCLUSIVE, SHARED, OpError, apply_effects, part_keys, run_part

GO, WAIT, REFUSE = 0, 1, 2
PRED_FAILED = "an earlier transaction of this client failed while this one was in flight"
VOTES_KEPT = 256  # votes per client kept before pruning those the client no longer needs


def apply_record(kv: dict[int, Any], record: dict) -> None:
    """Apply one log record to a replica's state."""
    if record.get("clear"):
        kv.clear()
    apply_effects(kv, record["e"])


class Part:
    """A transaction's part here: waiting for its locks, or prepared and holding them."""

    __slots__ = ("id", "client", "index", "ts", "ops", "one", "deps", "need", "local",
                 "effects", "results", "origin", "queried", "prepared")

    def __init__(self, tid: str, client: str, index: int, ts: tuple, ops: list, one: bool,
                 deps: list | None, need: dict[int, int], origin: Any) -> None:
        self.id = tid
        self.client = client
        self.index = index
        self.ts = ts  # (priority, client): a total order over transactions
        self.ops = ops
        self.one = one
        self.deps = deps  # chained: [(index, shard)] of the votes it waits for
        self.need = need  # key -> lock mode
        self.origin = origin
        self.local: dict[int, Any] = {}
        self.effects: list = []
        self.results: list = []
        self.queried = False
        self.prepared = False


class Shard:
    """The leader's state and rules (see the module doc). Replies go to a client's
    `origin`, forwarded votes to `("peer", shard)`."""

    def __init__(self, shard: int, shards: int, kv: dict[int, Any] | None = None,
                 log_end: int = 0) -> None:
        self.shard = shard
        self.shards = shards
        self.kv: dict[int, Any] = kv if kv is not None else {}
        self.locks: dict[int, list[tuple[Part, int]]] = {}
        self.prepared: dict[str, Part] = {}
        self.waiting: list[Part] = []  # in arrival order
        self.chained: dict[str, deque[Part]] = {}  # client -> undecided chained parts
        self.votes: dict[str, dict[int, bool]] = {}  # client -> index -> vote
        self.log_end = log_end  # records in the leader's log
        self.commit = 0  # records durable on a majority (a prefix of the log)
        self.records: list[dict] = []  # appended since `take_records`
        self.out: list[tuple[Any, dict]] = []  # replies ready to send
        self._durable_waits: deque[tuple[int, Any, dict]] = deque()  # (log length, to, reply)
        self._ordered: set[str] = set()  # one-shots run here, their `C` not yet sent
        self._subs: dict[tuple[str, int], set[int]] = {}  # (client, index) -> shards
        self._lost: set[int] = set()  # shards whose link to us is gone
        self._pump_due = False
        self._dirty: set[str] = set()  # clients whose chained parts may be decidable

    # ------------------------------------------------------------------ driving

    def handle(self, origin: Any, msg: dict) -> None:
        """One message from a client (or a peer leader); replies land in `out`, new records
        in `records`."""
        kind = msg["t"]
        if kind == "P":
            self._prepare(origin, msg)
        elif kind == "D":
            self._decide(msg["x"], bool(msg["c"]))
        elif kind == "F":
            self._vote(msg["c"], msg["i"], bool(msg["ok"]))
        elif kind == "N":
            self._forward(msg["c"], msg["i"], msg["to"])
        elif kind == "Q":
            self._query(origin, msg["x"])
        elif kind == "L":
            self._load(origin, msg)
        elif kind == "B":  # a client session closed: its votes are needed no more
            self._prune(msg["c"], None)
        else:
            raise ValueError(f"unknown message {kind!r}")
        self._progress()

    def durable(self, n: int) -> None:
        """The first `n` records are durable on a majority: release what waited for them."""
        if n <= self.commit:
            return
        self.commit = n
        w = self._durable_waits
        while w and w[0][0] <= n:
            _, origin, reply = w.popleft()
            self._ordered.discard(reply["x"])
            self.out.append((origin, reply))

    def forget(self, origin: Any) -> None:
        """A client's connection is gone: abort what it left prepared, chained or waiting
        (the client, as coordinator, aborts them too: it never decided them)."""
        for chain in self.chained.values():
            for p in [p for p in chain if p.origin is origin]:
                chain.remove(p)
                self._drop(p)
        gone = [p.id for p in (*self.prepared.values(), *self.waiting) if p.origin is origin]
        for tid in gone:
            self._decide(tid, False)
        self._progress()

    def peer_lost(self, shard: int) -> None:
        """The link from `shard`'s leader is gone: votes it had yet to forward never come."""
        self._lost.add(shard)
        self._dirty.update(self.chained)
        self._progress()

    def peer_back(self, shard: int) -> None:
        self._lost.discard(shard)

    def take_records(self) -> list[dict]:
        recs, self.records = self.records, []
        return recs

    def take_out(self) -> list[tuple[Any, dict]]:
        out, self.out = self.out, []
        return out

    # ------------------------------------------------------------------ locking

    def _prepare(self, origin: Any, msg: dict) -> None:
        client = msg["c"]
        part = msg["o"]
        deps = msg.get("d")
        p = Part(msg["x"], client, msg["i"], (msg["ts"], client), part, bool(msg.get("1")),
                 None if deps is None else [tuple(d) for d in deps],
                 part_keys(part, self.shard, self.shards), origin)
        if "lo" in msg:
            self._prune(client, msg["lo"])
        if p.deps is not None:
            self.chained.setdefault(client, deque()).append(p)
            self._dirty.add(client)
        if any(w.client == client for w in self.waiting):
            self.waiting.append(p)  # behind the client's earlier request: issue order
            return
        verdict, key = self._check(p, len(self.waiting))
        if verdict == WAIT:
            self.waiting.append(p)
        elif verdict == GO:
            self._run(p)
        else:
            self._refuse(p, key)

    def _check(self, p: Part, ahead: int) -> tuple[int, int | None]:
        """GO, WAIT (for an older holder, or an older request among the first `ahead`
        waiting) or REFUSE (a younger holder), with the key that decided it."""
        wait_on = None
        for k, mode in p.need.items():
            for holder, held in self.locks.get(k, ()):
                if mode == SHARED and held == SHARED:
                    continue
                if not p.one and holder.client == p.client and holder.index < p.index:
                    continue  # inherited from an earlier transaction of the same client
                if holder.ts < p.ts:
                    wait_on = k
                else:
                    return REFUSE, k
            if wait_on is None:
                for w in self.waiting[:ahead]:
                    wants = w.need.get(k)
                    if (wants is not None and w.client != p.client and w.ts < p.ts
                            and (mode == EXCLUSIVE or wants == EXCLUSIVE)):
                        wait_on = k
                        break
        return (GO, None) if wait_on is None else (WAIT, wait_on)

    def _pump(self) -> None:
        """Retry the waiting requests, in arrival order, after locks were released."""
        i = 0
        blocked: set[str] = set()  # clients with an earlier request still waiting
        while i < len(self.waiting):
            p = self.waiting[i]
            if p.client in blocked:
                i += 1
                continue
            verdict, key = self._check(p, i)
            if verdict == WAIT:
                blocked.add(p.client)
                i += 1
                continue
            del self.waiting[i]
            if verdict == GO:
                self._run(p)
            else:
                self._refuse(p, key)

    def _progress(self) -> None:
        """Retry waiting requests and decide chained parts until nothing changes."""
        while self._pump_due or self._dirty:
            if self._pump_due:
                self._pump_due = False
                if self.waiting:
                    self._pump()
            while self._dirty:
                self._advance(self._dirty.pop())

    def _refuse(self, p: Part, key: int | None) -> None:
        self._reject(p, f"lock conflict on key {key} with a younger transaction")

    def _reject(self, p: Part, why: str) -> None:
        """Refused before it held its locks: a no vote."""
        self.out.append((p.origin, {"t": "V", "x": p.id, "ok": 0, "e": why}))
        if p.one or p.deps is not None:
            self._vote(p.client, p.index, False)
        if p.deps is not None:
            self._dirty.add(p.client)

    def _run(self, p: Part) -> None:
        base = self._committed if p.one else (
            lambda k: self._inherited(k, p.client, p.index))
        try:
            p.results, p.effects = run_part(p.ops, self.shard, self.shards, p.local, base)
        except OpError as err:
            self._reject(p, str(err))
            return
        if p.one:
            self._vote(p.client, p.index, True)
            self._ordered.add(p.id)
            if p.queried:
                self.out.append((p.origin, {"t": "O", "x": p.id}))
            self._commit(p, {"t": "C", "x": p.id, "r": p.results})
            return
        for k, mode in p.need.items():
            self.locks.setdefault(k, []).append((p, mode))
        p.prepared = True
        if p.deps is not None:  # chained: its vote is for its successors, not the client
            self._vote(p.client, p.index, True)
            return
        self.prepared[p.id] = p
        self.out.append((p.origin, {"t": "V", "x": p.id, "ok": 1, "r": p.results}))

    def _release(self, p: Part) -> None:
        for k in p.need:
            holders = self.locks[k]
            holders[:] = [h for h in holders if h[0] is not p]
            if not holders:
                del self.locks[k]
        self._pump_due = True

    def _drop(self, p: Part) -> None:
        """Abort a chained or two-phase part: release its locks or leave the queue."""
        if p.prepared:
            self._release(p)
        elif p in self.waiting:
            self.waiting.remove(p)
            self._pump_due = True

    def _decide(self, tid: str, commit: bool) -> None:
        p = self.prepared.pop(tid, None)
        if p is None:
            for w in self.waiting:
                if w.id == tid:  # aborted while waiting for its locks
                    self._drop(w)
                    break
            return  # else refused here, or already aborted when its client went away
        self._release(p)
        if commit:
            self._commit(p, {"t": "C", "x": tid})

    # ------------------------------------------------------------------ chained

    def _vote(self, client: str, index: int, ok: bool) -> None:
        """A single-shard transaction's vote: kept, and forwarded where it was asked for."""
        self.votes.setdefault(client, {})[index] = ok
        for shard in self._subs.pop((client, index), ()):
            self.out.append((("peer", shard), {"t": "F", "c": client, "i": index,
                                               "ok": int(ok)}))
        if client in self.chained:
            self._dirty.add(client)

    def _forward(self, client: str, indices: list[int], to: int) -> None:
        known = self.votes.get(client, {})
        for i in indices:
            ok = known.get(i)
            if ok is None:
                self._subs.setdefault((client, i), set()).add(to)
            else:
                self.out.append((("peer", to), {"t": "F", "c": client, "i": i,
                                                "ok": int(ok)}))

    def _advance(self, client: str) -> None:
        """Decide the client's chained parts here, in issue order, as far as votes allow."""
        chain = self.chained.get(client)
        votes = self.votes.get(client, {})
        while chain:
            p = chain[0]
            failed = undecided = False
            for i, shard in p.deps:
                ok = votes.get(i)
                if ok is None and shard in self._lost:
                    ok = False
                if ok is None:
                    undecided = True
                elif not ok:
                    failed = True
                    break
            if not failed and (undecided or not p.prepared):
                if p.prepared or p in self.waiting:
                    break  # its own vote or a dependency's is still to come
                chain.popleft()  # refused itself (its no vote is out)
                continue
            chain.popleft()
            if failed:
                if p.prepared or p in self.waiting:
                    self._drop(p)
                    self.out.append((p.origin, {"t": "V", "x": p.id, "ok": 0,
                                                "e": PRED_FAILED}))
                continue
            self._release(p)
            self.out.append((p.origin, {"t": "O", "x": p.id}))
            self._commit(p, {"t": "C", "x": p.id, "r": p.results})
        if not chain:
            self.chained.pop(client, None)

    def _prune(self, client: str, lo: int | None) -> None:
        """Forget the client's votes (and requests to forward them) below `lo`, the oldest
        transaction it may still depend on; all of them if `lo` is None. Never the votes
        that the client's undecided chained parts here still wait for."""
        votes = self.votes.get(client)
        if lo is not None and (votes is None or len(votes) <= VOTES_KEPT):
            return
        # `lo` is the client's oldest *unsettled* transaction, but a chained part here may
        # still wait (for a lock, or behind its chain head) for the vote of a dependency
        # that has since committed and settled: a.300 waits for a lock with a.299's
        # forwarded vote already here, a.299 commits and settles, a.301 arrives with lo
        # 300. Pruning that vote left a.300 waiting for it forever, holding its locks, and
        # everything behind those locks stalled (a live run lost all 128 transactions in
        # flight). So the floor is the oldest dependency of any undecided chained part.
        for p in self.chained.get(client, ()):
            for i, _ in p.deps or ():
                lo = i if lo is None else min(lo, i)
        if lo is None or votes is None:
            self.votes.pop(client, None)
        else:
            for i in [i for i in votes if i < lo]:
                del votes[i]
        for key in [key for key in self._subs if key[0] == client
                    and (lo is None or key[1] < lo)]:
            del self._subs[key]

    # ------------------------------------------------------------------ reads

    def _query(self, origin: Any, tid: str) -> None:
        if tid in self._ordered:
            self.out.append((origin, {"t": "O", "x": tid}))
            return
        for p in self.waiting:
            if p.id == tid:
                p.queried = True  # answered when it runs

    def _committed(self, k: int) -> Any:
        v = self.kv.get(k)
        return list(v) if isinstance(v, list) else v

    def _inherited(self, k: int, client: str, index: int) -> Any:
        """k as a transaction of `client` sees it: the latest tentative value of an earlier
        transaction of the same client holding k, else the committed value."""
        for holder, _ in reversed(self.locks.get(k, ())):
            if holder.client == client and holder.index < index and k in holder.local:
                v = holder.local[k]
                return list(v) if isinstance(v, list) else v
        return self._committed(k)

    # ------------------------------------------------------------------ the log

    def _commit(self, p: Part, reply: dict) -> None:
        if p.effects:
            apply_effects(self.kv, p.effects)
            self._append({"x": p.id, "e": p.effects})
        # a read-only part waits for what it read: everything logged so far
        self._reply_when_durable(reply, p.origin)

    def _load(self, origin: Any, msg: dict) -> None:
        self.kv.clear()
        effects = [["w", k, v] for k, v in msg["kv"]]
        apply_effects(self.kv, effects)
        self._append({"x": msg["x"], "clear": 1, "e": effects})
        self._reply_when_durable({"t": "C", "x": msg["x"]}, origin)

    def _append(self, record: dict) -> None:
        self.records.append(record)
        self.log_end += 1

    def _reply_when_durable(self, reply: dict, origin: Any) -> None:
        if self.log_end <= self.commit:
            self._ordered.discard(reply["x"])
            self.out.append((origin, reply))
        else:
            self._durable_waits.append((self.log_end, origin, reply))


__all__ = ["Part", "Shard", "apply_record"]
