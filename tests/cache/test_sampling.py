"""SHARDS-style key sampling: whole keys in or out, about `rate` of them."""

from __future__ import annotations

import numpy as np
import pytest

from syslab.cache.trace import Trace
from syslab.cache.workloads import hash_keys, sample_keys, zipf
from syslab.common.errors import UserError


@pytest.fixture(scope="module")
def trace() -> Trace:
    return zipf(200_000, 20_000, 0.8, seed=1)


def test_rate_one_keeps_everything(trace: Trace) -> None:
    sampled = sample_keys(trace, 1.0)
    assert np.array_equal(sampled.keys, trace.keys)
    assert sampled.meta["sample_rate"] == 1.0


def test_kept_keys_keep_all_their_requests(trace: Trace) -> None:
    sampled = sample_keys(trace, 0.1, seed=3)
    kept = np.isin(trace.keys, np.unique(sampled.keys))
    assert np.array_equal(trace.keys[kept], sampled.keys)  # same requests, same order
    assert sampled.meta["sample_rate"] == 0.1


def test_fraction_of_kept_keys_is_about_the_rate(trace: Trace) -> None:
    for rate in (0.01, 0.1, 0.5):
        fraction = sample_keys(trace, rate).n_unique / trace.n_unique
        assert abs(fraction - rate) < max(0.2 * rate, 0.004), rate


def test_sequential_keys_sample_fairly() -> None:
    keys = np.arange(100_000, dtype=np.uint64)  # block numbers: the hash must still spread
    kept = hash_keys(keys, 0) < np.uint64(2**62)
    assert abs(kept.mean() - 0.25) < 0.01
    assert abs(kept[:1000].mean() - 0.25) < 0.06


def test_seed_changes_the_sample_and_sizes_follow() -> None:
    sized = Trace("t", np.arange(10_000) % 1000, np.arange(10_000) % 1000 + 1)
    a, b = sample_keys(sized, 0.3, seed=1), sample_keys(sized, 0.3, seed=2)
    assert not np.array_equal(np.unique(a.keys), np.unique(b.keys))
    assert np.array_equal(a.sizes, a.keys.astype(np.int64) + 1)


def test_hash_keys_is_deterministic_and_64_bit() -> None:
    keys = np.array([0, 1, 2**64 - 1], dtype=np.uint64)
    h = hash_keys(keys, 7)
    assert h.dtype == np.uint64 and np.array_equal(h, hash_keys(keys, 7))
    assert len(set(h.tolist())) == 3 and not np.array_equal(h, hash_keys(keys, 8))
    assert np.array_equal(keys, np.array([0, 1, 2**64 - 1], dtype=np.uint64))  # not modified


@pytest.mark.parametrize("rate", [0, -0.5, 1.5, float("nan")])
def test_rate_outside_unit_interval(trace: Trace, rate: float) -> None:
    with pytest.raises(UserError):
        sample_keys(trace, rate)
