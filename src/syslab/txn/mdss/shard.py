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
- `Q` query: has this one-shot transaction been ordered? (`O` as soon as it is; a refusal
  is sent anyway.) A client asks when a later transaction of its depends on the answer, which
  the commit reply (`C`) would only bring after replication.
- `L` load: replace the whole state (benchmarks reset it between points).

Waiting without deadlock. Every transaction carries a priority `ts`: the client's clock when
the transaction started a new *segment* of its chain (nothing of the client undecided), or,
if it has an undecided predecessor, its predecessor's; ties go by client id. A request that
finds a lock held by an *older* transaction (or wanted by an older one already waiting here)
waits; one held by a *younger* transaction refuses it. So every lock wait points to an
older transaction, and a transaction's other waits (for its predecessor's decision, for its
client's earlier request waiting here: a client's requests run here in arrival order, which
is its issue order) point to the same priority and an earlier issue index. Along any chain of
waits the (priority, index) strictly decreases, so none closes into a cycle, and a waiting
request is retried whenever a lock is released. No transaction waits on one that could be
waiting on it, and a hot key costs waiting instead of aborts (and the aborts' suffixes).

Nothing is acknowledged before it is durable on a majority: a commit's `C` waits until the log
is replicated through its record, a read-only transaction's `C` until the log is replicated
through everything it could have read (the log's end when it ran), so no client ever sees a
value that a crash could take back.

Locks are held from prepare to decision, and a transaction's serialization point is when its
coordinator decides it (the client, for a two-phase transaction) or when it runs (one-shot):
every transaction holds all its locks at that instant, so conflicting transactions of
different clients are ordered by their lock hold intervals, which are disjoint (the package
doc gives the whole argument).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from syslab.txn.mdss.ops import EXCLUSIVE, SHARED, OpError, apply_effects, part_keys, run_part

GO, WAIT, REFUSE = 0, 1, 2


def apply_record(kv: dict[int, Any], record: dict) -> None:
    """Apply one log record to a replica's state."""
    if record.get("clear"):
        kv.clear()
    apply_effects(kv, record["e"])


class Part:
    """A transaction's part here: waiting for its locks, or prepared and holding them."""

    __slots__ = ("id", "client", "index", "ts", "ops", "one", "need", "local", "effects",
                 "origin", "queried")

    def __init__(self, tid: str, client: str, index: int, ts: tuple, ops: list, one: bool,
                 need: dict[int, int], origin: Any) -> None:
        self.id = tid
        self.client = client
        self.index = index
        self.ts = ts  # (priority, client): a total order over transactions
        self.ops = ops
        self.one = one
        self.need = need  # key -> lock mode
        self.origin = origin
        self.local: dict[int, Any] = {}
        self.effects: list = []
        self.queried = False


class Shard:
    """The leader's state and rules (see the module doc)."""

    def __init__(self, shard: int, shards: int, kv: dict[int, Any] | None = None,
                 log_end: int = 0) -> None:
        self.shard = shard
        self.shards = shards
        self.kv: dict[int, Any] = kv if kv is not None else {}
        self.locks: dict[int, list[tuple[Part, int]]] = {}
        self.prepared: dict[str, Part] = {}
        self.waiting: list[Part] = []  # in arrival order
        self.log_end = log_end  # records in the leader's log
        self.commit = 0  # records durable on a majority (a prefix of the log)
        self.records: list[dict] = []  # appended since `take_records`
        self.out: list[tuple[Any, dict]] = []  # replies ready to send
        self._durable_waits: deque[tuple[int, Any, dict]] = deque()  # (log length, to, reply)
        self._ordered: set[str] = set()  # one-shots run here, their `C` not yet sent

    # ------------------------------------------------------------------ driving

    def handle(self, origin: Any, msg: dict) -> None:
        """One message from a client; replies land in `out`, new records in `records`."""
        kind = msg["t"]
        if kind == "P":
            self._prepare(origin, msg)
        elif kind == "D":
            self._decide(msg["x"], bool(msg["c"]))
        elif kind == "Q":
            self._query(origin, msg["x"])
        elif kind == "L":
            self._load(origin, msg)
        else:
            raise ValueError(f"unknown message {kind!r}")

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
        """A client's connection is gone: abort what it left prepared or waiting (the
        client, as coordinator, aborts them too: it never decided them)."""
        gone = [p.id for p in (*self.prepared.values(), *self.waiting) if p.origin is origin]
        for tid in gone:
            self._decide(tid, False)

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
        p = Part(msg["x"], client, msg["i"], (msg["ts"], client), part, bool(msg.get("1")),
                 part_keys(part, self.shard, self.shards), origin)
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

    def _refuse(self, p: Part, key: int | None) -> None:
        self.out.append((p.origin, {"t": "V", "x": p.id, "ok": 0,
                                    "e": f"lock conflict on key {key} with a younger "
                                         "transaction"}))

    def _run(self, p: Part) -> None:
        base = self._committed if p.one else (
            lambda k: self._inherited(k, p.client, p.index))
        try:
            results, p.effects = run_part(p.ops, self.shard, self.shards, p.local, base)
        except OpError as err:
            self.out.append((p.origin, {"t": "V", "x": p.id, "ok": 0, "e": str(err)}))
            return
        if p.one:
            self._ordered.add(p.id)
            if p.queried:
                self.out.append((p.origin, {"t": "O", "x": p.id}))
            self._commit(p, {"t": "C", "x": p.id, "r": results})
            return
        for k, mode in p.need.items():
            self.locks.setdefault(k, []).append((p, mode))
        self.prepared[p.id] = p
        self.out.append((p.origin, {"t": "V", "x": p.id, "ok": 1, "r": results}))

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

    def _decide(self, tid: str, commit: bool) -> None:
        p = self.prepared.pop(tid, None)
        if p is None:
            for i, w in enumerate(self.waiting):
                if w.id == tid:  # aborted while waiting for its locks
                    del self.waiting[i]
                    self._pump()
                    break
            return  # else refused here, or already aborted when its client went away
        for k in p.need:
            holders = self.locks[k]
            holders[:] = [h for h in holders if h[0] is not p]
            if not holders:
                del self.locks[k]
        if commit:
            self._commit(p, {"t": "C", "x": tid})
        if self.waiting:
            self._pump()

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
