"""Single-key transactions for the fan-out experiment, and the issue-order probe.

`Fanout`: each transaction reads or writes one skewed key. The runner's request mode
issues R of them together (an application request that fans out to R operations, as in the
Ellis evaluation); what is measured is the request's latency.

`OrderProbe`: each client alternates "write a fresh key" and "read that key", so under
multi-dispatch every read is issued right after the write it should see. A store that keeps
issue order always shows the write; a read that misses it is an issue-order violation
(the research note measured 887 in 1000 such pairs on PostgreSQL through a pool).
"""

from __future__ import annotations

from syslab.common.errors import UserError
from syslab.txn.history import OK, History, Op
from syslab.txn.workloads.base import Workload


class Fanout(Workload):
    name = "fanout"

    def __init__(self, keys: int = 1000, zipf: float = 0.99, seed: int = 0, *,
                 read_fraction: float = 0.5) -> None:
        super().__init__(keys, zipf, seed)
        if not 0 <= read_fraction <= 1:
            raise UserError(f"read fraction must be in 0..1, got {read_fraction:g}")
        self.read_fraction = read_fraction
        self.value = 0

    def next(self, client: int) -> list[Op]:
        key = self.keys.draw()
        if self.rng.random() < self.read_fraction:
            return [("r", key, None)]
        self.value += 1
        return [("w", key, self.value)]


class OrderProbe(Workload):
    name = "order-probe"
    checkable = True  # unique writes, and a read per write: an rw-register history
    KEYS_PER_CLIENT = 1 << 32  # probe keys never collide across clients

    def __init__(self, keys: int = 1000, zipf: float = 0.0, seed: int = 0) -> None:
        super().__init__(keys, zipf, seed)
        self.pairs: dict[int, int] = {}

    def next(self, client: int) -> list[Op]:
        n = self.pairs.get(client, 0)
        self.pairs[client] = n + 1
        key = client * self.KEYS_PER_CLIENT + n // 2
        return [("w", key, 1)] if n % 2 == 0 else [("r", key, None)]


def probe_violations(history: History) -> tuple[int, int]:
    """(pairs where both committed, pairs whose read missed its write) in an order-probe
    history: the issue-order violation rate is the second over the first."""
    writes: dict[int, tuple[int, int]] = {}  # key -> (client, index) of the committed write
    reads: dict[int, tuple[int, int, object]] = {}
    for t in history:
        if t.outcome != OK or len(t.ops) != 1:
            continue
        f, key, value = t.ops[0]
        if f == "w":
            writes[key] = (t.client, t.index)
        elif f == "r":
            reads[key] = (t.client, t.index, value)
    pairs = violations = 0
    for key, (client, index, value) in reads.items():
        if writes.get(key) == (client, index - 1):
            pairs += 1
            violations += value is None
    return pairs, violations


__all__ = ["Fanout", "OrderProbe", "probe_violations"]
