"""The workload interface and the skewed key chooser every workload shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from syslab.common.errors import UserError
from syslab.txn.history import Op


class ZipfKeys:
    """Keys 0..n-1 drawn with P(rank r) ∝ 1/r^theta (theta 0 = uniform), YCSB-style
    scrambled: ranks map to keys through a fixed random permutation, so the hot keys are
    spread over shards instead of being 0, 1, 2, ..."""

    BLOCK = 4096  # draws are made in blocks: one numpy call instead of one per key

    def __init__(self, n: int, theta: float, rng: np.random.Generator) -> None:
        if n < 1:
            raise UserError(f"a workload needs at least one key, got {n}")
        if not 0 <= theta <= 5:
            raise UserError(f"zipf skew must be in 0..5, got {theta:g}")
        self.n, self.theta, self.rng = n, theta, rng
        weights = 1.0 / np.arange(1, n + 1, dtype=float) ** theta
        self.cdf = np.cumsum(weights / weights.sum())
        self.cdf[-1] = 1.0
        self.perm = rng.permutation(n)
        self._block: list[int] = []

    def draw(self) -> int:
        if not self._block:
            ranks = np.searchsorted(self.cdf, self.rng.random(self.BLOCK), side="right")
            self._block = self.perm[np.minimum(ranks, self.n - 1)].tolist()
        return self._block.pop()

    def distinct(self, k: int) -> list[int]:
        """`k` different keys (k <= n), each drawn from the skewed distribution."""
        k = min(k, self.n)
        out: list[int] = []
        while len(out) < k:
            key = self.draw()
            if key not in out:
                out.append(key)
        return out


class Workload(ABC):
    """Plans transactions: `next(client)` returns the micro-ops of that client's next
    transaction, reads unfilled (see `syslab.txn.history`). `initial()` is the state to load
    before the run. `checkable` says whether the checker can verify its histories
    (list-append and rw-register, whose written values are unique per key)."""

    name: str
    checkable: bool = False

    def __init__(self, keys: int = 1000, zipf: float = 0.99, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.keys = ZipfKeys(keys, zipf, self.rng)
        self.n_keys, self.zipf = keys, zipf

    def initial(self) -> dict[int, Any]:
        return {}

    @abstractmethod
    def next(self, client: int) -> list[Op]:
        """The next transaction of `client`, as micro-ops with unfilled reads."""

    def describe(self) -> dict:
        return {"workload": self.name, "keys": self.n_keys, "zipf": self.zipf}


__all__ = ["Workload", "ZipfKeys"]
