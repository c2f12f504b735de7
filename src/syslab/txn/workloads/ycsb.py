"""YCSB core workloads A-F (Cooper et al., SoCC'10) and YCSB+T's closed economy (Dey et al.,
ICDEW'14), on integer keys with one integer field per record.

| workload | mix                                             | keys                      |
|----------|-------------------------------------------------|---------------------------|
| A        | 50 % read, 50 % update                          | zipf over the records     |
| B        | 95 % read, 5 % update                           | zipf                      |
| C        | 100 % read                                      | zipf                      |
| D        | 95 % read, 5 % insert                           | reads favour recent inserts |
| E        | 95 % scan (1..max_scan keys), 5 % insert        | zipf start key            |
| F        | 50 % read, 50 % read-modify-write               | zipf                      |

A transaction holds `ops_per_txn` such operations (YCSB+T groups operations into
transactions; 1 is classic YCSB). Records 0..keys-1 start at 0; inserts take fresh keys.
"""

from __future__ import annotations

from typing import Any

from syslab.common.errors import UserError
from syslab.txn.history import OK, History, Op
from syslab.txn.workloads.base import Workload

# mix: (read, update, insert, scan, read-modify-write) probabilities
MIXES = {
    "a": (0.5, 0.5, 0, 0, 0),
    "b": (0.95, 0.05, 0, 0, 0),
    "c": (1.0, 0, 0, 0, 0),
    "d": (0.95, 0, 0.05, 0, 0),
    "e": (0, 0, 0.05, 0.95, 0),
    "f": (0.5, 0, 0, 0, 0.5),
}


class Ycsb(Workload):
    """One of YCSB's core workloads (`variant` a..f)."""

    def __init__(self, variant: str, keys: int = 1000, zipf: float = 0.99, seed: int = 0, *,
                 ops_per_txn: int = 1, max_scan: int = 10) -> None:
        super().__init__(keys, zipf, seed)
        if variant not in MIXES:
            raise UserError(f"unknown YCSB workload {variant!r} (known: {', '.join(MIXES)})")
        if ops_per_txn < 1 or max_scan < 1:
            raise UserError("ops per transaction and scan length must be at least 1")
        self.variant, self.ops_per_txn, self.max_scan = variant, ops_per_txn, max_scan
        self.name = f"ycsb-{variant}"
        self.cdf = [sum(MIXES[variant][:i + 1]) for i in range(5)]
        self.inserted = keys  # next fresh key
        self.value = 0

    def initial(self) -> dict[int, Any]:
        return dict.fromkeys(range(self.n_keys), 0)

    def _read_key(self) -> int:
        if self.variant == "d":  # read-latest: skew towards the newest records
            return max(0, self.inserted - 1 - self.keys.draw())
        return self.keys.draw()

    def next(self, client: int) -> list[Op]:
        ops: list[Op] = []
        for u in self.rng.random(self.ops_per_txn):
            self.value += 1
            kind = next(i for i, c in enumerate(self.cdf) if u < c or i == 4)
            if kind == 0:
                ops.append(("r", self._read_key(), None))
            elif kind == 1:
                ops.append(("w", self.keys.draw(), self.value))
            elif kind == 2:
                ops.append(("w", self.inserted, self.value))
                self.inserted += 1
            elif kind == 3:
                ops.append(("scan", self.keys.draw(),
                            int(self.rng.integers(1, self.max_scan + 1))))
            else:
                key = self.keys.draw()
                ops += [("r", key, None), ("w", key, self.value)]
        return ops

    def describe(self) -> dict:
        return super().describe() | {"ops_per_txn": self.ops_per_txn}


class ClosedEconomy(Workload):
    """YCSB+T's closed economy: accounts start with `balance` each; a transaction moves a
    random amount between two accounts (read both, add -x and +x), and `audit_every`-th
    transaction reads a window of accounts. Money is neither made nor lost, so a final
    read of every account must add up to accounts x balance; `anomaly_score` is YCSB+T's
    |observed total - expected| / expected over the audits that read every account."""

    name = "closed-economy"

    def __init__(self, keys: int = 1000, zipf: float = 0.99, seed: int = 0, *,
                 balance: int = 1000, audit_every: int = 100, audit_width: int = 10) -> None:
        super().__init__(keys, zipf, seed)
        self.balance, self.audit_every, self.audit_width = balance, audit_every, audit_width
        self.count = 0

    def initial(self) -> dict[int, Any]:
        return dict.fromkeys(range(self.n_keys), self.balance)

    def next(self, client: int) -> list[Op]:
        self.count += 1
        if self.audit_every and self.count % self.audit_every == 0:
            start = int(self.rng.integers(0, max(1, self.n_keys - self.audit_width + 1)))
            return [("scan", start, min(self.audit_width, self.n_keys))]
        a, b = self.keys.distinct(2)
        x = int(self.rng.integers(1, 11))
        return [("r", a, None), ("r", b, None), ("add", a, -x), ("add", b, x)]

    def audit(self) -> list[Op]:
        """A transaction that reads every account (run it last, alone)."""
        return [("scan", 0, self.n_keys)]

    def anomaly_score(self, history: History) -> float | None:
        """YCSB+T's anomaly score over committed full audits; None when there was none."""
        expected = self.n_keys * self.balance
        totals = [sum(v or 0 for v in op[2]) for t in history if t.outcome == OK
                  for op in t.ops if op[0] == "scan" and isinstance(op[2], list)
                  and len(op[2]) == self.n_keys]
        if not totals:
            return None
        return max(abs(total - expected) for total in totals) / expected


__all__ = ["MIXES", "ClosedEconomy", "Ycsb"]
