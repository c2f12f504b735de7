"""Every fast kernel gives exactly its reference policy's per-request hits (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syslab.cache.engine import reference_hits
from syslab.cache.fast import FAST_POLICIES, fast_hits
from syslab.cache.trace import Trace


@st.composite
def traces(draw, with_sizes: bool) -> tuple[Trace, np.ndarray]:
    """Keys from a small alphabet (so there are hits and evictions), optional sizes 1..20."""
    alphabet = draw(st.integers(1, 40))
    keys = draw(st.lists(st.integers(0, alphabet - 1), min_size=1, max_size=300))
    if not with_sizes:
        trace = Trace("t", np.array(keys))
        return trace, np.ones(len(keys), dtype=np.int64)
    per_key = draw(st.lists(st.integers(1, 20), min_size=alphabet, max_size=alphabet))
    sizes = np.array([per_key[k] for k in keys], dtype=np.int64)
    if draw(st.booleans()):  # real traces sometimes change an object's size between requests
        sizes = np.array(draw(st.lists(st.integers(1, 20), min_size=len(keys), max_size=len(keys))))
    trace = Trace("t", keys, sizes)
    return trace, trace.unit_sizes


def _agree(policy: str, trace: Trace, sizes: np.ndarray, capacity: int) -> None:
    fast = fast_hits(policy)(trace, sizes, capacity)
    ref = reference_hits(trace, policy, capacity, sizes)
    assert fast.dtype == np.bool_ and fast.shape == ref.shape
    if not np.array_equal(fast, ref):
        first = int(np.argmax(fast != ref))
        pytest.fail(f"{policy}: fast and reference differ first at request {first}")


@pytest.mark.parametrize("policy", FAST_POLICIES)
@settings(max_examples=150, deadline=None)
@given(data=traces(with_sizes=False), capacity=st.integers(1, 50))
def test_count_capacity(policy: str, data, capacity: int) -> None:
    _agree(policy, *data, capacity)


@pytest.mark.parametrize("policy", FAST_POLICIES)
@settings(max_examples=150, deadline=None)
@given(data=traces(with_sizes=True), capacity=st.integers(1, 50))
def test_byte_capacity(policy: str, data, capacity: int) -> None:
    _agree(policy, *data, capacity)


@pytest.mark.parametrize("policy", FAST_POLICIES)
def test_longer_zipf_trace(policy: str) -> None:
    """A few thousand requests: long enough for wrap-around, ghost churn and heap depth."""
    rng = np.random.default_rng(7)
    weights = 1.0 / np.arange(1, 501)
    keys = rng.choice(500, size=5000, p=weights / weights.sum())
    sizes = rng.integers(1, 200, size=500)[keys]
    trace = Trace("zipf", keys, sizes)
    for capacity in (20, 100, 300):
        _agree(policy, trace, np.ones(len(trace), dtype=np.int64), capacity)
    for capacity in (150, 2000, 10000):
        _agree(policy, trace, trace.unit_sizes, capacity)


def test_s3fifo_ghost_churn():
    """Many ghost hits leave dead ghost entries: the kernel's ghost ring must compact them."""
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 60, 20000)
    trace = Trace("churn", keys, rng.integers(1, 6, 60)[keys])
    _agree("s3fifo", trace, np.ones(len(trace), dtype=np.int64), 25)
    _agree("s3fifo", trace, trace.unit_sizes, 120)
