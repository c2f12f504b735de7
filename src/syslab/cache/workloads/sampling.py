"""SHARDS-style spatial sampling: keep every request of a pseudo-random subset of the keys.

Sampling by key (not by request) keeps each kept object's full reuse pattern, so a cache
`rate` times smaller sees the sampled trace roughly as the full cache sees the full trace
(Waldspurger et al., "Efficient MRC Construction with SHARDS", FAST'15).
"""

from __future__ import annotations

import math

import numpy as np

from syslab.cache.trace import Trace, TraceError
from syslab.common.errors import UserError

_GOLDEN = 0x9E3779B97F4A7C15
_MASK = 2**64 - 1


def hash_keys(keys: np.ndarray, seed: int = 0) -> np.ndarray:
    """A well-mixed uint64 hash of each key (splitmix64's finalizer), salted by `seed`.

    Trace keys are often sequential block numbers; the mixer spreads them uniformly over
    [0, 2**64) so "hash < rate * 2**64" picks a fair random subset of keys.
    """
    salt = np.uint64((_GOLDEN * (int(seed) + 1)) & _MASK)
    z = np.asarray(keys).astype(np.uint64, copy=True)
    # uint64 array arithmetic wraps modulo 2**64, which is what splitmix64 wants
    z += salt
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def threshold(rate: float) -> int:
    """Keys whose hash is below this (out of 2**64) are kept at `rate`."""
    return min(int(rate * 2**64), 2**64)


def sample_keys(trace: Trace, rate: float, *, seed: int = 0) -> Trace:
    """The requests of a `rate` fraction of the keys (chosen by hash); meta['sample_rate']=rate."""
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int | float)
        or math.isnan(rate)
        or not 0 < rate <= 1
    ):
        raise UserError(f"sample rate must be in (0, 1], got {rate!r}")
    meta = dict(trace.meta) | {"sample_rate": float(rate), "sample_seed": seed}
    if rate == 1:
        return Trace(trace.name, trace.keys, trace.sizes, meta)
    keep = hash_keys(trace.keys, seed) < np.uint64(threshold(rate))
    if not keep.any():
        raise TraceError(f"{trace.name}: no key sampled at rate {rate}; use a higher rate")
    sizes = None if trace.sizes is None else trace.sizes[keep]
    return Trace(trace.name, trace.keys[keep], sizes, meta)
