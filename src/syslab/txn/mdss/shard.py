"""A shard leader's transaction logic, as a plain object driven by messages (no I/O).

The replica process (`replica`) feeds it every message from a client and tells it how far the
log is durable on a majority; it answers with replies to send and log records to replicate.

Messages from clients (`x` is the transaction id, `c` the client, `i` its issue index, `o` the
transaction's ops on this shard, see `ops.split`):

- `P` prepare. Under no-wait two-phase locking: take a shared lock on every key the part
  reads and an exclusive one on every key it writes; any conflict refuses the transaction at
  once (`V`, ok 0, why). Otherwise run the part over the keys' current values, keep its
  effects, hold the locks, and vote yes with what it read (`V`, ok 1, `r`).
  *Lock inheritance*: a lock held by an *earlier* transaction of the same client (in issue
  order) is no conflict, and the later one sees the earlier one's tentative values. A client
  dispatches its next transactions before the earlier ones commit; they are decided in issue
  order, and if an earlier one aborts the later ones abort too (the client sees to both, see
  `coordinator`), so reading a tentative value is safe: it is either committed before the
  reader or the reader aborts with it. Write-then-read pairs issued back to back therefore
  neither conflict nor miss each other.
- `P` with `1` set: a *one-shot* transaction, which the client sends when it touches one
  shard and nothing of the same client is undecided. The shard decides it alone: conflicts
  refuse it, else it runs and commits at once (one round trip instead of two).
- `D` decide: commit (apply the effects, append them to the log, release the locks) or abort
  (release the locks).
- `Q` query: has this one-shot transaction been ordered? (`O` if so; a refusal was already
  sent.) A client asks when a later transaction of its depends on the answer, which the commit
  reply (`C`) would only bring after replication.
- `L` load: replace the whole state (benchmarks reset it between points).

Nothing is acknowledged before it is durable on a majority: a commit's `C` waits until the log
is replicated through its record, a read-only transaction's `C` until the log is replicated
through everything it could have read (the log's end when it ran), so no client ever sees a
value that a crash could take back.

Locks are held from prepare to decision, and a transaction's serialization point is when its
coordinator decides it (the client, for a two-phase transaction) or when it runs (one-shot):
every transaction holds all its locks at that instant, so conflicting transactions of
different clients are ordered by their lock hold intervals, which are disjoint (`__init__` of
the package gives the whole argument).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from syslab.txn.mdss.ops import SHARED, OpError, apply_effects, part_keys, run_part


def apply_record(kv: dict[int, Any], record: dict) -> None:
    """Apply one log record to a replica's state."""
    if record.get("clear"):
        kv.clear()
    apply_effects(kv, record["e"])


class Part:
    """A transaction's part prepared here, holding its locks until decided."""

    __slots__ = ("id", "client", "index", "keys", "local", "effects", "origin")

    def __init__(self, tid: str, client: str, index: int, origin: Any) -> None:
        self.id = tid
        self.client = client
        self.index = index
        self.origin = origin
        self.keys: dict[int, int] = {}
        self.local: dict[int, Any] = {}
        self.effects: list = []


class Shard:
    """The leader's state and rules (see the module doc)."""

    def __init__(self, shard: int, shards: int, kv: dict[int, Any] | None = None,
                 log_end: int = 0) -> None:
        self.shard = shard
        self.shards = shards
        self.kv: dict[int, Any] = kv if kv is not None else {}
        self.locks: dict[int, list[tuple[Part, int]]] = {}
        self.prepared: dict[str, Part] = {}
        self.log_end = log_end  # records in the leader's log
        self.commit = 0  # records durable on a majority (a prefix of the log)
        self.records: list[dict] = []  # appended since `take_records`
        self.out: list[tuple[Any, dict]] = []  # replies ready to send
        self._waiting: deque[tuple[int, Any, dict]] = deque()  # (log length, to, reply)
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
            if msg["x"] in self._ordered:
                self.out.append((origin, {"t": "O", "x": msg["x"]}))
        elif kind == "L":
            self._load(origin, msg)
        else:
            raise ValueError(f"unknown message {kind!r}")

    def durable(self, n: int) -> None:
        """The first `n` records are durable on a majority: release what waited for them."""
        if n <= self.commit:
            return
        self.commit = n
        w = self._waiting
        while w and w[0][0] <= n:
            _, origin, reply = w.popleft()
            self._ordered.discard(reply["x"])
            self.out.append((origin, reply))

    def forget(self, origin: Any) -> None:
        """A client's connection is gone: abort what it left prepared (the client, as
        coordinator, aborts them too: it never decided them)."""
        for tid in [tid for tid, p in self.prepared.items() if p.origin is origin]:
            self._decide(tid, False)

    def take_records(self) -> list[dict]:
        recs, self.records = self.records, []
        return recs

    def take_out(self) -> list[tuple[Any, dict]]:
        out, self.out = self.out, []
        return out

    # ------------------------------------------------------------------ rules

    def _prepare(self, origin: Any, msg: dict) -> None:
        tid, client, index, part = msg["x"], msg["c"], msg["i"], msg["o"]
        one = bool(msg.get("1"))
        need = part_keys(part, self.shard, self.shards)
        key = self._conflict(need, client, index, one)
        if key is not None:
            self.out.append((origin, {"t": "V", "x": tid, "ok": 0,
                                      "e": f"lock conflict on key {key}"}))
            return
        p = Part(tid, client, index, origin)
        base = self._committed if one else (lambda k: self._inherited(k, client, index))
        try:
            results, p.effects = run_part(part, self.shard, self.shards, p.local, base)
        except OpError as err:
            self.out.append((origin, {"t": "V", "x": tid, "ok": 0, "e": str(err)}))
            return
        if one:
            self._ordered.add(tid)
            self._commit(p, {"t": "C", "x": tid, "r": results}, origin)
            return
        p.keys = need
        for k, mode in need.items():
            self.locks.setdefault(k, []).append((p, mode))
        self.prepared[tid] = p
        self.out.append((origin, {"t": "V", "x": tid, "ok": 1, "r": results}))

    def _conflict(self, need: dict[int, int], client: str, index: int,
                  one: bool) -> int | None:
        locks = self.locks
        for k, mode in need.items():
            for holder, held in locks.get(k, ()):
                if mode == SHARED and held == SHARED:
                    continue
                if not one and holder.client == client and holder.index < index:
                    continue  # inherited from an earlier transaction of the same client
                return k
        return None

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
            return  # refused here, or already aborted when its client went away
        for k in p.keys:
            holders = self.locks[k]
            holders[:] = [h for h in holders if h[0] is not p]
            if not holders:
                del self.locks[k]
        if commit:
            self._commit(p, {"t": "C", "x": tid}, p.origin)

    def _commit(self, p: Part, reply: dict, origin: Any) -> None:
        if p.effects:
            apply_effects(self.kv, p.effects)
            self._append({"x": p.id, "e": p.effects})
        # a read-only part waits for what it read: everything logged so far
        self._reply_when_durable(reply, origin)

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
            self._waiting.append((self.log_end, origin, reply))


__all__ = ["Part", "Shard", "apply_record"]
