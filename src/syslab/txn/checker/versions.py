"""What the history shows about each key: who wrote which value, what committed reads saw,
and the version order those reads imply.

Keys are typed by their operations: a key with appends (or list reads) is a list-append
key, a key with writes (or integer reads) a register; a key with "add" ops is a counter,
which the checker cannot order (deltas carry no history), so its ops are skipped, as are
scans. Only reads of committed ("ok") transactions are evidence: an aborted or
indeterminate transaction records no read values.

A read that contradicts the reader's own earlier writes in the same transaction is
recorded as internal and used for nothing else, so one bad read yields one anomaly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from syslab.txn.history import OK, Txn


@dataclass(slots=True)
class ListKey:
    """A list-append key. `order` is its longest committed read: the version order (the
    i-th element is the i-th append to take effect). `incompatible` holds the positions in
    `reads` of reads that are not prefixes of `order`."""

    key: int
    writer: dict[int, int] = field(default_factory=dict)  # element -> appending txn id
    reads: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)  # (reader, value)
    order: tuple[int, ...] = ()
    incompatible: list[int] = field(default_factory=list)


@dataclass(slots=True)
class RegisterKey:
    """A read-write register. `successors` holds the version pairs v < v' the history
    proves: a transaction read v (None: the initial state) and then wrote v'. The initial
    state precedes every written value."""

    key: int
    writer: dict[int, int] = field(default_factory=dict)  # value -> writing txn id
    reads: list[tuple[int, int | None]] = field(default_factory=list)  # external reads
    successors: list[tuple[int | None, int, int]] = field(default_factory=list)  # (v, v', txn)


@dataclass(slots=True)
class InternalRead:
    """A read that does not reflect its own transaction's earlier writes to the key."""

    txn: int
    key: int
    value: Any
    own: tuple[int, ...]  # the transaction's earlier appends/writes to the key, in order
    is_list: bool


@dataclass
class Observations:
    txns: dict[int, Txn]
    lists: dict[int, ListKey]
    registers: dict[int, RegisterKey]
    intermediate: set[tuple[int, int]]  # (key, value) a writer overwrote in the same txn
    final: dict[tuple[int, int], int]  # (txn id, key) -> its last write to the key (if several)
    internal: list[InternalRead]
    unchecked_ops: int


def observe(txns: Iterable[Txn]) -> Observations:
    """Collect writers, committed reads and version orders of every checkable key."""
    by_id: dict[int, Txn] = {}
    list_writer: dict[int, dict[int, int]] = {}
    reg_writer: dict[int, dict[int, int]] = {}
    raw_reads: dict[int, list[tuple[int, Any]]] = {}
    successors: dict[int, list[tuple[int | None, int, int]]] = {}
    counters: set[int] = set()
    intermediate: set[tuple[int, int]] = set()
    final: dict[tuple[int, int], int] = {}
    internal: list[InternalRead] = []
    unchecked = 0

    for t in txns:
        tid = t.id
        by_id[tid] = t
        committed = t.outcome == OK
        appended: dict[int, list[int]] | None = None  # this txn's appends so far, per key
        written: dict[int, int] | None = None  # this txn's last write so far, per key
        first_read: dict[int, Any] | None = None  # register reads before any own write
        for f, k, v in t.ops:
            if f == "r":
                if not committed:
                    continue
                if appended is not None and k in appended:
                    own = appended[k]
                    if not _shows_own_appends(v, own):
                        internal.append(InternalRead(tid, k, v, tuple(own), True))
                        continue
                elif written is not None and k in written:
                    if v != written[k]:
                        internal.append(InternalRead(tid, k, v, (written[k],), False))
                    continue  # a read of one's own write teaches nothing about others
                else:
                    if first_read is None:
                        first_read = {}
                    first_read.setdefault(k, v)
                reads = raw_reads.get(k)
                if reads is None:
                    raw_reads[k] = reads = []
                reads.append((tid, v))
            elif f == "append":
                w = list_writer.get(k)
                if w is None:
                    list_writer[k] = w = {}
                w.setdefault(v, tid)
                if appended is None:
                    appended = {}
                own = appended.get(k)
                if own is None:
                    appended[k] = [v]
                else:
                    intermediate.add((k, own[-1]))
                    own.append(v)
                    final[(tid, k)] = v
            elif f == "w":
                w = reg_writer.get(k)
                if w is None:
                    reg_writer[k] = w = {}
                w.setdefault(v, tid)
                if written is None:
                    written = {}
                if k in written:
                    intermediate.add((k, written[k]))
                    final[(tid, k)] = v
                written[k] = v
            elif f == "add":
                counters.add(k)
                unchecked += 1
            else:
                unchecked += 1
        if committed and written is not None and first_read is not None:
            for k, v in written.items():
                if k in first_read:
                    pairs = successors.get(k)
                    if pairs is None:
                        successors[k] = pairs = []
                    pairs.append((first_read[k], v, tid))

    lists: dict[int, ListKey] = {k: ListKey(k, w) for k, w in list_writer.items()
                                 if k not in counters}
    registers: dict[int, RegisterKey] = {
        k: RegisterKey(k, w, [], successors.get(k, [])) for k, w in reg_writer.items()
        if k not in counters and k not in lists}
    for k, reads in raw_reads.items():
        if k in counters:
            unchecked += len(reads)
        elif k in lists or (k not in registers and any(isinstance(v, list | tuple)
                                                        for _, v in reads)):
            lk = lists.get(k)
            if lk is None:
                lists[k] = lk = ListKey(k)
            for tid, v in reads:
                if v is None:
                    lk.reads.append((tid, ()))
                elif isinstance(v, list | tuple):
                    lk.reads.append((tid, tuple(v)))
                else:
                    unchecked += 1  # an integer read of a list key: nothing to order
        else:
            rk = registers.get(k)
            if rk is None:
                registers[k] = rk = RegisterKey(k)
            for tid, v in reads:
                if v is None or isinstance(v, int):
                    rk.reads.append((tid, v))
                else:
                    unchecked += 1
    for lk in lists.values():
        _order_list(lk)
    return Observations(by_id, lists, registers, intermediate, final, internal, unchecked)


def _shows_own_appends(value: Any, own: list[int]) -> bool:
    """Whether a read ends with the txn's latest append and holds its earlier ones in order."""
    if not isinstance(value, list | tuple) or not value or value[-1] != own[-1]:
        return False
    if len(own) == 1:
        return True
    rest = iter(value)
    return all(a in rest for a in own)  # consumes `rest`: an in-order subsequence test


def _order_list(lk: ListKey) -> None:
    """The longest read is the version order; every other read must be a prefix of it."""
    if not lk.reads:
        return
    order = max((v for _, v in lk.reads), key=len)
    lk.order = order
    for i, (_, v) in enumerate(lk.reads):
        n = len(v)
        if n and order[:n] != v:
            lk.incompatible.append(i)


__all__ = ["InternalRead", "ListKey", "Observations", "RegisterKey", "observe"]
