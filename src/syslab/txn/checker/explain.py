"""Anomalies in words, Elle-style: each dependency of a witness cycle says which key and
values order its two transactions, e.g.

    T3 < T8: T3 read key 5 = [..., 2] without T8's append of 3 (rw).
    T8 < T3: T8 completed at 0.0041 s before T3 was invoked at 0.0057 s (realtime).
    A cycle: G-single-realtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syslab.txn.checker.anomalies import Edge
    from syslab.txn.checker.versions import InternalRead
    from syslab.txn.history import Txn

SHOWN = 6  # list values longer than this show their last elements only


def name(tid: int) -> str:
    return f"T{tid}"


def value(v: Any, is_list: bool) -> str:
    """A read value: a list shortened to its tail, None as the initial state."""
    if is_list:
        v = tuple(v or ())
        if len(v) <= SHOWN:
            return "[" + ", ".join(map(str, v)) + "]"
        return "[..., " + ", ".join(map(str, v[-(SHOWN - 1):])) + "]"
    return "None (the initial state)" if v is None else str(v)


def edge(e: Edge, txns: dict[int, Txn], list_keys: set[int] | frozenset[int]) -> str:
    """One dependency as a sentence: "T1 < T2: why (kind)."."""
    a, b = name(e.src), name(e.dst)
    k, before, after = e.key, e.before, e.after
    if e.kind == "realtime":
        why = (f"{a} completed at {txns[e.src].complete:.6g} s before {b} was invoked at "
               f"{txns[e.dst].invoke:.6g} s")
    elif e.kind == "process":
        src, dst = txns[e.src], txns[e.dst]
        why = (f"client {src.client} issued {a} (index {src.index}) before {b} "
               f"(index {dst.index})")
    elif k in list_keys:
        seen = "[]" if before is None else f"[..., {before}]"
        if e.kind == "ww":
            why = f"{b} appended {after} after {a} appended {before} to key {k}"
        elif e.kind == "wr":
            why = f"{b} read key {k} = {seen}, which ends with {a}'s append of {before}"
        else:
            why = f"{a} read key {k} = {seen} without {b}'s append of {after}"
    elif e.kind == "ww":
        why = f"{b} read key {k} = {before}, written by {a}, then overwrote it with {after}"
    elif e.kind == "wr":
        why = f"{b} read key {k} = {before}, written by {a}"
    else:
        why = f"{a} read key {k} = {value(before, False)}, which {b} overwrote with {after}"
    return f"{a} < {b}: {why} ({e.kind})."


def cycle(edges: Sequence[Edge], anomaly: str, txns: dict[int, Txn],
          list_keys: set[int] | frozenset[int]) -> str:
    text = " ".join(edge(e, txns, list_keys) for e in edges) + f" A cycle: {anomaly}."
    if anomaly.endswith("-process"):
        text += (" It needs the clients' issue order: an issue-order violation (MDSS), "
                 "allowed by strict serializability when the transactions overlapped.")
    return text


def internal(r: InternalRead) -> str:
    if r.is_list:
        own = ", ".join(map(str, r.own))
        return (f"{name(r.txn)} appended {own} to key {r.key}, then read key {r.key} = "
                f"{value(r.value, True)}, which does not end with its own appends "
                f"(internal).")
    return (f"{name(r.txn)} wrote key {r.key} = {r.own[-1]}, then read key {r.key} = "
            f"{value(r.value, False)} (internal).")


def incompatible(key: int, longest: tuple[int, tuple], other: tuple[int, tuple],
                 count: int) -> str:
    more = f" ({count} reads of the key disagree with the longest)" if count > 1 else ""
    return (f"{name(longest[0])} read key {key} = {value(longest[1], True)} but "
            f"{name(other[0])} read {value(other[1], True)}, which is not a prefix of it: "
            f"no single order of appends explains both{more} (incompatible-order).")


def duplicate(reader: int, key: int, prefix: tuple) -> str:
    return (f"{name(reader)} read key {key} = {value(prefix, True)}, which holds "
            f"{prefix[-1]} twice; appended values are unique (duplicate-elements).")


def garbage(reader: int, key: int, seen: Any, is_list: bool) -> str:
    v = seen[-1] if is_list else seen
    verb = "appended" if is_list else "wrote"
    return (f"{name(reader)} read key {key} = {value(seen, is_list)}, but no transaction "
            f"{verb} {v} to key {key} (garbage-read).")


def aborted_read(reader: int, writer: int, key: int, seen: Any, is_list: bool) -> str:
    v = seen[-1] if is_list else seen
    verb = "appended" if is_list else "wrote"
    return (f"{name(reader)} read key {key} = {value(seen, is_list)}: {name(writer)} "
            f"{verb} {v}, and {name(writer)} failed (aborted read: G1a).")


def intermediate_read(reader: int, writer: int, key: int, seen: Any, final: int,
                      is_list: bool) -> str:
    v = seen[-1] if is_list else seen
    verb = "appended" if is_list else "wrote"
    return (f"{name(reader)} read key {key} = {value(seen, is_list)}: {v} is an "
            f"intermediate version, {name(writer)} {verb} {final} to key {key} after it "
            f"(intermediate read: G1b).")


def failure_suffix(failed: Txn, later: Txn, more: int) -> str:
    until = "it never completed" if failed.complete is None else \
        f"until {failed.complete:.6g} s"
    others = f" ({more} more such transactions committed)" if more else ""
    return (f"Client {failed.client} issued {name(failed.id)} (index {failed.index}), which "
            f"failed, and {name(later.id)} (index {later.index}) at {later.invoke:.6g} s while "
            f"{name(failed.id)} was in flight ({until}); {name(later.id)} committed{others}. "
            f"Under MDSS a failure fails every later transaction issued while it was in "
            f"flight (failure-suffix).")


__all__ = ["aborted_read", "cycle", "duplicate", "edge", "failure_suffix", "garbage",
           "incompatible", "intermediate_read", "internal", "name", "value"]
