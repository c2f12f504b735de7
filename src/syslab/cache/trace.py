"""A request trace: the one data structure every reader produces and every simulator consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from syslab.common.errors import UserError


class TraceError(UserError):
    """A trace that cannot be read: missing, truncated, corrupt, empty or of the wrong format."""


@dataclass(eq=False)
class Trace:
    """Requests in order: `keys[i]` of `sizes[i]` bytes.

    `keys` are the trace's own object ids (uint64). `sizes` is None when the trace has no
    sizes, which every simulation then treats as size 1. Dense ids and next-access times are
    derived lazily, once, because the fast kernels and Belady need them.
    """

    name: str
    keys: np.ndarray
    sizes: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = np.ascontiguousarray(self.keys, dtype=np.uint64)
        if self.sizes is not None:
            self.sizes = np.ascontiguousarray(self.sizes, dtype=np.int64)
            if self.sizes.shape != self.keys.shape:
                raise TraceError(f"{self.name}: {len(self.sizes)} sizes for {len(self.keys)} keys")
        if len(self.keys) == 0:
            raise TraceError(f"{self.name}: trace is empty")

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def has_sizes(self) -> bool:
        return self.sizes is not None

    @cached_property
    def _dense(self) -> tuple[np.ndarray, int]:
        uniq, inverse = np.unique(self.keys, return_inverse=True)
        return inverse.astype(np.int32 if len(uniq) < 2**31 else np.int64), len(uniq)

    @property
    def ids(self) -> np.ndarray:
        """Keys renumbered densely to 0..n_unique-1 (what the fast kernels index arrays by)."""
        return self._dense[0]

    @property
    def n_unique(self) -> int:
        return self._dense[1]

    @cached_property
    def unit_sizes(self) -> np.ndarray:
        """Sizes as the simulators use them: the trace's sizes, or 1 for every request."""
        return self.sizes if self.sizes is not None else np.ones(len(self.keys), dtype=np.int64)

    @cached_property
    def next_access(self) -> np.ndarray:
        """Index of the next request to the same key, or -1 if never (what Belady needs)."""
        ids = self.ids
        nxt = np.full(len(ids), -1, dtype=np.int64)
        order = np.argsort(ids, kind="stable")  # requests grouped by key, in time order
        same = ids[order[1:]] == ids[order[:-1]]
        nxt[order[:-1][same]] = order[1:][same]
        return nxt

    @cached_property
    def footprint_bytes(self) -> int:
        """Sum of each object's size (first seen) -- what 100 % of a byte cache means."""
        if self.sizes is None:
            return self.n_unique
        first = np.unique(self.ids, return_index=True)[1]
        return int(self.sizes[first].sum())

    def head(self, n: int) -> Trace:
        """The first n requests, as a new trace."""
        sizes = None if self.sizes is None else self.sizes[:n]
        return Trace(self.name, self.keys[:n], sizes, dict(self.meta))
