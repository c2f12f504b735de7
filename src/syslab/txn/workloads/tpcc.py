"""A key-value TPC-C of NewOrder and Payment, as TAPIR, Janus and NCC port it.

Tables live in disjoint key ranges; a row is one integer. TPC-C's full mix is NewOrder 45 %,
Payment 43 % and three others 4 % each; like those ports we run the first two, in the same
proportion (51 % / 49 %), with TPC-C's NURand for customers and items.

- NewOrder: read the warehouse and the customer, take the district's next order id
  (`add` 1), then for 5..15 items read the item, take the quantity off its stock (`add`)
  and write an order line. The order line's key is fresh per transaction instead of
  derived from the order id: an order id is only known after the read, and our
  transactions are one-shot (all operations sent up front, as in Calvin-style stores).
- Payment: add the amount to the warehouse's and the district's year-to-date totals, take
  it off the customer's balance, write a history row.
"""

from __future__ import annotations

from typing import Any

from syslab.common.errors import UserError
from syslab.txn.history import Op
from syslab.txn.workloads.base import Workload

DISTRICTS = 10


class Tpcc(Workload):
    name = "tpcc"

    def __init__(self, keys: int = 1000, zipf: float = 0.0, seed: int = 0, *,
                 warehouses: int = 1, customers: int = 3000, items: int = 10_000) -> None:
        super().__init__(max(keys, 1), zipf, seed)
        if warehouses < 1 or customers < 1 or items < 1:
            raise UserError("TPC-C needs at least one warehouse, customer and item")
        self.w, self.c, self.i = warehouses, customers, items
        # key ranges: warehouse, district, customer, item, stock, then fresh rows
        self.base_d = warehouses
        self.base_c = self.base_d + warehouses * DISTRICTS
        self.base_i = self.base_c + warehouses * DISTRICTS * customers
        self.base_s = self.base_i + items
        self.fresh = self.base_s + warehouses * items
        self.c_nurand = int(self.rng.integers(0, 1024))
        self.i_nurand = int(self.rng.integers(0, 8192))

    def _nurand(self, a: int, c: int, n: int) -> int:
        """TPC-C's non-uniform random number in 0..n-1 (clause 2.1.6, 0-based)."""
        x = int(self.rng.integers(0, a + 1)) | int(self.rng.integers(0, n))
        return (x + c) % n

    def initial(self) -> dict[int, Any]:
        state = dict.fromkeys(range(self.base_s, self.fresh), 100)  # stock quantities
        state |= dict.fromkeys(range(self.base_d, self.base_c), 3001)  # next order ids
        return state

    def _district(self) -> tuple[int, int]:
        w = int(self.rng.integers(0, self.w))
        return w, w * DISTRICTS + int(self.rng.integers(0, DISTRICTS))

    def next(self, client: int) -> list[Op]:
        w, d = self._district()
        cust = self.base_c + d * self.c + self._nurand(1023, self.c_nurand, self.c)
        if self.rng.random() < 45 / 88:
            ops: list[Op] = [("r", w, None), ("add", self.base_d + d, 1), ("r", cust, None)]
            items = {self._nurand(8191, self.i_nurand, self.i)
                     for _ in range(int(self.rng.integers(5, 16)))}
            for item in sorted(items):
                qty = int(self.rng.integers(1, 11))
                ops += [("r", self.base_i + item, None),
                        ("add", self.base_s + w * self.i + item, -qty),
                        ("w", self.fresh, qty)]
                self.fresh += 1
            return ops
        amount = int(self.rng.integers(1, 5001))
        self.fresh += 1
        return [("add", w, amount), ("add", self.base_d + d, amount), ("add", cust, -amount),
                ("w", self.fresh - 1, amount)]

    def describe(self) -> dict:
        return super().describe() | {"warehouses": self.w, "customers": self.c, "items": self.i}


__all__ = ["DISTRICTS", "Tpcc"]
