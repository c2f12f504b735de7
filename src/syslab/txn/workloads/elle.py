"""Elle's two checkable workloads: list-append and rw-register (Kingsbury & Alvaro, VLDB'20).

Both write values that are unique per key, so every read names the writes it saw: that is
what lets the checker infer the dependency graph from a black-box history. As in Elle's
generators, a key retires after `max_writes` writes and a fresh key takes its slot, so
reads stay short (a list-append read returns every element ever appended) and the checker
stays fast on long runs. The skewed choice is over slots, so the hot slot stays hot.
"""

from __future__ import annotations

from syslab.txn.history import Op
from syslab.txn.workloads.base import Workload


class _RotatingKeys(Workload):
    def __init__(self, keys: int = 100, zipf: float = 0.99, seed: int = 0, *,
                 max_ops: int = 4, max_writes: int = 32, read_fraction: float = 0.5) -> None:
        super().__init__(keys, zipf, seed)
        self.max_ops, self.max_writes, self.read_fraction = max_ops, max_writes, read_fraction
        self.slot_key = list(range(keys))  # slot -> the key it holds now
        self.writes = [0] * keys  # slot -> writes issued to its current key
        self.fresh = keys  # next unused key

    def _write_to(self, slot: int) -> tuple[int, int]:
        """The key in `slot` and the next unique value for it; rotates a full slot."""
        if self.writes[slot] >= self.max_writes:
            self.slot_key[slot], self.writes[slot] = self.fresh, 0
            self.fresh += 1
        self.writes[slot] += 1
        return self.slot_key[slot], self.writes[slot]

    def next(self, client: int) -> list[Op]:
        ops: list[Op] = []
        n = int(self.rng.integers(1, self.max_ops + 1))
        for slot, is_read in zip(self.keys.distinct(n), self.rng.random(n) < self.read_fraction,
                                 strict=False):
            if is_read:
                ops.append(("r", self.slot_key[slot], None))
            else:
                key, value = self._write_to(slot)
                ops.append((self.write_op, key, value))
        return ops

    def describe(self) -> dict:
        return super().describe() | {"max_ops": self.max_ops, "max_writes": self.max_writes}


class ListAppend(_RotatingKeys):
    """Transactions of 1..max_ops reads and appends; appended values count up per key."""

    name = "list-append"
    checkable = True
    write_op = "append"


class RwRegister(_RotatingKeys):
    """Transactions over 1..max_ops keys, each read, written, or read then written; written
    values count up per key. The read-then-write pairs matter: a register's versions carry
    no history, and a transaction that read v and wrote v' is what tells the checker v
    came before v' (Elle's rw-register does the same)."""

    name = "rw-register"
    checkable = True
    write_op = "w"

    def next(self, client: int) -> list[Op]:
        ops: list[Op] = []
        n = int(self.rng.integers(1, self.max_ops + 1))
        for slot, kind in zip(self.keys.distinct(n), self.rng.integers(0, 3, n), strict=False):
            if kind == 0:
                ops.append(("r", self.slot_key[slot], None))
                continue
            key, value = self._write_to(slot)  # may rotate the slot: read the key written
            if kind == 2:
                ops.append(("r", key, None))
            ops.append(("w", key, value))
        return ops


__all__ = ["ListAppend", "RwRegister"]
