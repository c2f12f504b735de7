"""Histories: what every run records and what the checker reads.

A history is a list of transactions as clients saw them. One transaction:

- `id`: unique in the history;
- `client`, `index`: which client issued it and its issue index there (0, 1, 2, ... in
  invocation order: under multi-dispatch several are in flight at once);
- `invoke`, `complete`: seconds on one clock (the run's monotonic clock); `complete` is None
  when no response came;
- `outcome`: "ok" (committed), "fail" (certainly not committed: an abort, a refused
  request) or "info" (indeterminate: a timeout, a lost connection; it may have committed);
- `ops`: micro-operations, each `(f, key, value)`:

  | f        | value sent        | value recorded (ok)                                  |
  |----------|-------------------|------------------------------------------------------|
  | "r"      | None              | what was read: an int, a list of ints, or None        |
  | "w"      | int               | int                                                   |
  | "append" | int               | int (appended to the key's list)                      |
  | "add"    | int (delta)       | int (delta)                                           |
  | "scan"   | int (n keys)      | list of the values of keys key..key+n-1 (None: none) |

  Keys are ints. List-append histories use "r" and "append"; rw-register histories "r"
  and "w"; the benchmark workloads add "add" and "scan".
- `error`: why it failed or is indeterminate (one line), else None.

On disk a history is JSON Lines: an optional first line `{"meta": {...}}` (system,
workload, depth, model, ...), then one object per transaction. `read_history` names the
file and line of anything malformed, as a UserError.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syslab.common.errors import UserError

OK, FAIL, INFO = "ok", "fail", "info"
OUTCOMES = (OK, FAIL, INFO)
OP_KINDS = ("r", "w", "append", "add", "scan")

Op = tuple[str, int, Any]


@dataclass(slots=True)
class Txn:
    """One transaction as its client saw it (see the module doc)."""

    id: int
    client: int
    index: int
    invoke: float
    complete: float | None
    outcome: str
    ops: list[Op]
    error: str | None = None

    def to_json(self) -> dict:
        d = {"id": self.id, "client": self.client, "index": self.index,
             "invoke": self.invoke, "complete": self.complete, "outcome": self.outcome,
             "ops": [list(op) for op in self.ops]}
        if self.error is not None:
            d["error"] = self.error
        return d


@dataclass
class History:
    """Transactions (any order) and what produced them."""

    txns: list[Txn]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.txns)

    def __iter__(self) -> Iterator[Txn]:
        return iter(self.txns)

    def by_client(self) -> dict[int, list[Txn]]:
        """Each client's transactions in issue order."""
        out: dict[int, list[Txn]] = {}
        for t in self.txns:
            out.setdefault(t.client, []).append(t)
        for ts in out.values():
            ts.sort(key=lambda t: t.index)
        return out


def write_history(path: Path | str, history: History) -> Path:
    """Write `history` as JSON Lines (meta first); parents created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        out.write(json.dumps({"meta": history.meta}) + "\n")
        for t in history.txns:
            out.write(json.dumps(t.to_json()) + "\n")
    return path


def read_history(path: Path | str) -> History:
    """The history in `path`; a UserError naming file and line for anything malformed."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise UserError(f"{path}: no such history file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: cannot read history ({err})") from None
    return parse_history(lines, str(path))


def parse_history(lines: Iterable[str], name: str = "<history>") -> History:
    """Parse JSON Lines (see `read_history`); `name` is used in error messages."""
    meta: dict = {}
    txns: list[Txn] = []
    seen: set[int] = set()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{where}: not JSON ({err.msg})") from None
        if not isinstance(obj, dict):
            raise UserError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        if "meta" in obj and len(obj) == 1:
            if txns or meta:
                raise UserError(f"{where}: the meta line must come first")
            if not isinstance(obj["meta"], dict):
                raise UserError(f"{where}: meta must be an object")
            meta = obj["meta"]
            continue
        t = _txn(obj, where)
        if t.id in seen:
            raise UserError(f"{where}: duplicate transaction id {t.id}")
        seen.add(t.id)
        txns.append(t)
    _check_issue_indices(txns, name)
    return History(txns, meta)


def _txn(obj: dict, where: str) -> Txn:
    missing = [k for k in ("id", "client", "index", "invoke", "outcome", "ops") if k not in obj]
    if missing:
        raise UserError(f"{where}: missing field {missing[0]!r}")
    for k in ("id", "client", "index"):
        if not _is_int(obj[k]) or obj[k] < 0:
            raise UserError(f"{where}: {k} must be a non-negative integer, got {obj[k]!r}")
    invoke, complete = obj["invoke"], obj.get("complete")
    if not _is_num(invoke):
        raise UserError(f"{where}: invoke must be a number, got {invoke!r}")
    if complete is not None and (not _is_num(complete) or complete < invoke):
        raise UserError(f"{where}: complete must be a number not before invoke, "
                        f"got {complete!r}")
    outcome = obj["outcome"]
    if outcome not in OUTCOMES:
        raise UserError(f"{where}: outcome must be one of {', '.join(OUTCOMES)}, "
                        f"got {outcome!r}")
    if outcome == OK and complete is None:
        raise UserError(f"{where}: a committed (ok) transaction needs a complete time")
    ops = obj["ops"]
    if not isinstance(ops, list):
        raise UserError(f"{where}: ops must be a list")
    error = obj.get("error")
    if error is not None and not isinstance(error, str):
        raise UserError(f"{where}: error must be a string")
    return Txn(obj["id"], obj["client"], obj["index"], float(invoke),
               None if complete is None else float(complete), outcome,
               [_op(op, where) for op in ops], error)


def _op(op: Any, where: str) -> Op:
    if not isinstance(op, list | tuple) or len(op) != 3:
        raise UserError(f"{where}: an op must be [f, key, value], got {op!r}")
    f, key, value = op
    if f not in OP_KINDS:
        raise UserError(f"{where}: unknown op {f!r} (known: {', '.join(OP_KINDS)})")
    if not _is_int(key):
        raise UserError(f"{where}: keys are integers, got {key!r}")
    if f in ("w", "append", "add") and not _is_int(value):
        raise UserError(f"{where}: {f} takes an integer, got {value!r}")
    if f == "r" and not (value is None or _is_int(value) or _is_int_list(value)):
        raise UserError(f"{where}: a read holds None, an integer or a list of integers, "
                        f"got {value!r}")
    if f == "scan" and not (_is_int(value) or isinstance(value, list)):
        raise UserError(f"{where}: a scan holds its key count or the values it read, "
                        f"got {value!r}")
    if f == "r" and isinstance(value, list):
        value = tuple(value)  # hashable, and no one mutates a recorded read
    return (f, key, value)


def _check_issue_indices(txns: list[Txn], name: str) -> None:
    seen: set[tuple[int, int]] = set()
    for t in txns:
        if (t.client, t.index) in seen:
            raise UserError(f"{name}: client {t.client} has two transactions with issue "
                            f"index {t.index}")
        seen.add((t.client, t.index))


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and x == x  # not NaN


def _is_int_list(x: Any) -> bool:
    return isinstance(x, list) and all(_is_int(v) for v in x)


__all__ = ["FAIL", "INFO", "OK", "OP_KINDS", "OUTCOMES", "History", "Op", "Txn",
           "parse_history", "read_history", "write_history"]
