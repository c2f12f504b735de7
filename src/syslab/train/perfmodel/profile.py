"""One rank's compute profile: the input every prediction replays.

Measured once per (model, batch) from a single process (or a no_sync run), it holds the
phase times and, per parameter, when its gradient became ready during backward. Those ready
times decide when each bucket can start its allreduce, which is all the overlap model needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ComputeProfile:
    """Phase times (seconds) and per-parameter gradient-ready times of one iteration.

    `ready_s[i]` is seconds from the start of backward until parameter i's gradient is
    accumulated, in parameter index order (`model.parameters()`), as are `param_bytes`.
    Ready times must lie within [0, backward_s]: a gradient cannot be ready after backward
    ends, and the replay's exposed-communication accounting relies on it.
    """

    data_s: float
    forward_s: float
    backward_s: float
    optimizer_s: float
    ready_s: list[float]
    param_bytes: list[int]

    def __post_init__(self) -> None:
        # Own copies as plain floats and ints: the caller's lists (or numpy arrays) may
        # change later, and to_dict must hand json plain Python numbers.
        for name in ("data_s", "forward_s", "backward_s", "optimizer_s"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "ready_s", [float(t) for t in self.ready_s])
        object.__setattr__(self, "param_bytes", [int(b) for b in self.param_bytes])
        self._validate()

    def _validate(self) -> None:
        phases = (self.data_s, self.forward_s, self.backward_s, self.optimizer_s)
        if any(t < 0 for t in phases):
            raise ValueError(f"phase times must be >= 0, got {phases}")
        if len(self.ready_s) != len(self.param_bytes):
            raise ValueError(f"{len(self.ready_s)} ready times for "
                             f"{len(self.param_bytes)} parameters")
        if any(b < 0 for b in self.param_bytes):
            raise ValueError("parameter sizes must be >= 0")
        if any(not 0.0 <= t <= self.backward_s for t in self.ready_s):
            raise ValueError(f"ready times must lie in [0, backward_s={self.backward_s}]")

    @property
    def compute_s(self) -> float:
        """Data + forward + backward + optimizer: the iteration with no communication."""
        return self.data_s + self.forward_s + self.backward_s + self.optimizer_s

    @property
    def total_bytes(self) -> int:
        """Gradient bytes per iteration: what one allreduce of everything would carry."""
        return sum(self.param_bytes)

    def ready_order(self) -> list[int]:
        """Parameter indices in the order their gradients become ready (DDP's rebuild order).

        Ties (a layer's weight and bias, timed together) go to the higher index first, to
        agree with `assign_buckets`' default order; autograd's real order within a layer
        varies (torch 2.13 ResNet-18: fc bias before weight, BatchNorm weight before bias)
        and matters only where a bucket boundary falls between the two.
        """
        return sorted(range(len(self.ready_s)), key=lambda i: (self.ready_s[i], -i))

    def scaled(self, factor: float) -> ComputeProfile:
        """Every compute time, ready times included, stretched by `factor` (CPU contention:
        ranks sharing cores run the same work proportionally slower). Bytes are unchanged."""
        if factor <= 0:
            raise ValueError(f"factor must be > 0, got {factor}")
        return ComputeProfile(self.data_s * factor, self.forward_s * factor,
                              self.backward_s * factor, self.optimizer_s * factor,
                              [t * factor for t in self.ready_s], self.param_bytes)

    def to_dict(self) -> dict[str, Any]:
        """Plain floats, ints and lists: what `json.dump` takes."""
        return {
            "data_s": self.data_s,
            "forward_s": self.forward_s,
            "backward_s": self.backward_s,
            "optimizer_s": self.optimizer_s,
            "ready_s": list(self.ready_s),
            "param_bytes": list(self.param_bytes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComputeProfile:
        """Inverse of `to_dict`; extra keys are ignored so a result file can carry more."""
        return cls(data["data_s"], data["forward_s"], data["backward_s"], data["optimizer_s"],
                   data["ready_s"], data["param_bytes"])
