"""What a transaction's micro-ops mean on one shard, and how a transaction is cut into shards.

Keys go to shards by a fixed hash, `key % shards`. A transaction's ops are sent to each shard
it touches as a *part*: the ops (with their position in the transaction) whose keys live
there; a scan that spans shards goes to each of them and each shard answers for its own keys.
Ops on one shard keep their order, and ops on different shards touch different keys, so the
parts run independently and `merge` puts the answers back together.

A shard runs a part over a `View`: the values the transaction sees (the committed state, or
the tentative values of the same client's earlier transactions still in flight, see
`shard`), and records the *effects* it would have if it commits: `["w", k, v]` (set),
`["append", k, v]`, `["add", k, delta]`. Effects, not new values, go into the log, so that an
append to a long list logs one element; applying them in log order gives every replica the
same state (`apply_effects`). Values are ints or lists of ints; a missing key reads as None
and counts as 0 for "add" and as the empty list for "append".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syslab.txn.history import OP_KINDS, Op

SHARED, EXCLUSIVE = 1, 2  # lock modes: reads share, writes exclude
MODE = {"r": SHARED, "scan": SHARED, "w": EXCLUSIVE, "append": EXCLUSIVE, "add": EXCLUSIVE}

#: one op of a part: [position in the transaction, f, key, value]
PartOp = list


class OpError(Exception):
    """An op cannot run on the value it finds (an add to a list, an append to an int)."""


def shard_of(key: int, shards: int) -> int:
    return key % shards


def check_ops(ops: list[Op]) -> str | None:
    """Why `ops` is not a transaction we can run (one line), or None."""
    for op in ops:
        if not isinstance(op, list | tuple) or len(op) != 3:
            return f"an op must be (f, key, value), got {op!r}"
        f, k, v = op
        if f not in OP_KINDS:
            return f"unknown op {f!r} (known: {', '.join(OP_KINDS)})"
        if not isinstance(k, int) or isinstance(k, bool):
            return f"keys are integers, got {k!r}"
        if f in ("w", "append", "add", "scan") and (not isinstance(v, int)
                                                    or isinstance(v, bool)):
            return f"{f} takes an integer, got {v!r}"
        if f == "scan" and v < 0:
            return f"a scan reads a non-negative number of keys, got {v}"
    return None


def split(ops: list[Op], shards: int) -> dict[int, list[PartOp]]:
    """The parts of a transaction: shard -> its ops, in transaction order."""
    parts: dict[int, list[PartOp]] = {}
    for i, (f, k, v) in enumerate(ops):
        if f == "scan":
            for s in sorted({shard_of(k + j, shards) for j in range(min(v, shards))}):
                parts.setdefault(s, []).append([i, f, k, v])
        else:
            parts.setdefault(shard_of(k, shards), []).append([i, f, k, v])
    return parts


def part_keys(part: list[PartOp], shard: int, shards: int) -> dict[int, int]:
    """The keys a part touches on `shard`, each with the lock mode it needs."""
    need: dict[int, int] = {}
    for _, f, k, v in part:
        mode = MODE[f]
        keys = (range(k + ((shard - k) % shards), k + v, shards) if f == "scan" else (k,))
        for key in keys:
            if need.get(key, 0) < mode:
                need[key] = mode
    return need


View = Callable[[int], Any]  # key -> the value the transaction sees (a private copy)


def run_part(part: list[PartOp], shard: int, shards: int, local: dict[int, Any],
             base: View) -> tuple[list, list]:
    """Run a part: (results, effects). `local` holds the transaction's own working values
    (filled from `base` on first touch, updated by its writes); results hold, per op, what a
    read or scan saw (None for writes). Raises OpError."""

    def get(key: int) -> Any:
        if key not in local:
            local[key] = base(key)
        return local[key]

    def copy(v: Any) -> Any:
        return list(v) if isinstance(v, list) else v

    results: list = []
    effects: list = []
    for _, f, k, v in part:
        if f == "r":
            results.append(copy(get(k)))
            continue
        if f == "scan":
            results.append([copy(get(key))
                            for key in range(k + ((shard - k) % shards), k + v, shards)])
            continue
        cur = get(k)
        if f == "w":
            local[k] = v
        elif f == "append":
            if cur is None:
                local[k] = [v]
            elif isinstance(cur, list):
                cur.append(v)
            else:
                raise OpError(f"key {k} holds an integer; append needs a list")
        else:  # add
            if isinstance(cur, list):
                raise OpError(f"key {k} holds a list; add needs an integer")
            local[k] = (cur or 0) + v
        effects.append([f, k, v])
        results.append(None)
    return results, effects


def apply_effects(kv: dict[int, Any], effects: list) -> None:
    """Apply logged effects to a replica's state (in place; lists are extended in place)."""
    for f, k, v in effects:
        if f == "w":
            kv[k] = list(v) if isinstance(v, list) else v  # the record keeps its own
        elif f == "append":
            cur = kv.get(k)
            if cur is None:
                kv[k] = [v]
            else:
                cur.append(v)
        else:
            kv[k] = (kv.get(k) or 0) + v


def merge(ops: list[Op], results: dict[int, list], parts: dict[int, list[PartOp]],
          shards: int) -> list[Op]:
    """The transaction's ops with what its reads saw, from each shard's results."""
    out: list[Op] = [tuple(op) for op in ops]
    scans: dict[int, dict[int, list]] = {}  # op position -> shard -> values
    for s, part in parts.items():
        for (i, f, k, _), got in zip(part, results[s], strict=True):
            if f == "r":
                out[i] = ("r", k, got)
            elif f == "scan":
                scans.setdefault(i, {})[s] = got
    for i, (f, k, n) in enumerate(ops):
        if f != "scan":
            continue
        by_shard = scans.get(i, {})  # none: a scan of no keys
        its = {s: iter(vals) for s, vals in by_shard.items()}
        out[i] = ("scan", k, [next(its[shard_of(k + j, shards)]) for j in range(n)])
    return out


__all__ = ["EXCLUSIVE", "MODE", "SHARED", "OpError", "PartOp", "View", "apply_effects",
           "check_ops", "merge", "part_keys", "run_part", "shard_of", "split"]
