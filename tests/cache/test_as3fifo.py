"""AS3-FIFO: fast kernel == reference exactly, invariants, the adaptive split and the return
credit by hand."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syslab.cache.fast.as3fifo import hits as fast_hits
from syslab.cache.policies import make_policy
from syslab.cache.policies.as3fifo import AS3FIFO
from syslab.cache.trace import Trace


def _reference(keys, sizes, capacity):
    cache = AS3FIFO(capacity)
    return np.array([cache.request(k, s) for k, s in zip(keys, sizes, strict=True)], dtype=bool)


requests = st.lists(st.tuples(st.integers(0, 40), st.integers(1, 30)), min_size=1, max_size=400)


@settings(max_examples=200, deadline=None)
@given(reqs=requests, capacity=st.integers(1, 120))
def test_fast_equals_reference_bytes(reqs, capacity):
    """Byte mode: random sizes, some of them larger than the whole cache (they bypass)."""
    keys = [k for k, _ in reqs]
    sizes = [s for _, s in reqs]
    trace = Trace("h", np.array(keys, dtype=np.uint64), np.array(sizes, dtype=np.int64))
    fast = fast_hits(trace, trace.unit_sizes, capacity)
    assert np.array_equal(fast, _reference(keys, sizes, capacity))


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.integers(0, 60), min_size=1, max_size=500), capacity=st.integers(1, 50))
def test_fast_equals_reference_count(keys, capacity):
    trace = Trace("h", np.array(keys, dtype=np.uint64))
    ones = [1] * len(keys)
    fast = fast_hits(trace, np.ones(len(keys), dtype=np.int64), capacity)
    assert np.array_equal(fast, _reference(keys, ones, capacity))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(reqs=requests, capacity=st.integers(1, 120))
def test_invariants(reqs, capacity):
    cache = make_policy("as3fifo", capacity)
    evicted = []
    cache.on_evict = evicted.append
    for key, size in reqs:
        was_in = key in cache
        n_before = len(evicted)
        hit = cache.request(key, size)
        assert all(k not in cache and k != key for k in evicted[n_before:])
        assert hit == was_in
        if size > capacity and not was_in:
            assert key not in cache  # oversize objects bypass
        elif not was_in:
            assert key in cache  # admitted on a miss
        assert 0 <= cache.used <= capacity
        assert cache.used == cache.used_small + cache.used_main
        assert cache.t_min <= cache.target <= cache.t_max
        assert len(cache) == len(cache._in_small) + len(cache._in_main)
        assert set(cache._in_small).isdisjoint(cache._in_main)
        assert cache.used_small == sum(cache._in_small.values())
        assert cache.used_main == sum(cache._in_main.values())
        assert all(0 <= f <= 3 for f in cache._freq.values())
        assert cache._returns.keys() == cache._freq.keys()
        assert all(0 <= r <= 4 for r in cache._returns.values())


def test_hits_never_change_size_and_bypass_leaves_no_trace():
    cache = AS3FIFO(10)
    assert not cache.request("big", 11)
    assert "big" not in cache and cache.used == 0 and len(cache.ghost_small) == 0
    assert not cache.request("a", 4)
    assert cache.request("a", 9)  # a hit keeps the stored size
    assert cache.used == 4


def test_adaptive_split_by_hand():
    """A ghost hit from S grows the small target; a ghost hit from M shrinks it.

    Capacity 100 objects: target starts at 10 (10 %), bounds 5..90, ghosts span 90.
    """
    c = AS3FIFO(100)
    assert (c.target, c.t_min, c.t_max) == (10, 5, 90)
    # Warm-up: 0..9 fill S up to the target; 10..99 find S at target with room left -> M.
    for k in range(100):
        c.request(k)
    assert c.used_small == 10 and c.used_main == 90
    assert list(c._small) == list(range(10))
    # 100 is new: the cache is full and S is not above target (10 <= 10), so M's CLOCK
    # evicts its head, 10 (never read), into ghost GM. 100 goes to S (11 > target now).
    assert not c.request(100)
    assert 10 not in c and 10 in c.ghost_main and c.used_small == 11
    # 101: S is above target, so S's head 0 (unread) is evicted into ghost GS.
    assert not c.request(101)
    assert 0 not in c and 0 in c.ghost_small
    # 0 again: a ghost hit from S -> S was too small: the target grows by one unit,
    # and 0 is admitted straight to M.
    assert not c.request(0)
    assert c.target == 11 and 0 in c._in_main
    # 10 again: a ghost hit from M -> M was too small: the target shrinks by one unit.
    assert not c.request(10)
    assert c.target == 10 and 10 in c._in_main
    # A read object in S is promoted to M instead of being evicted.
    c.request(1)  # hit in S, freq 1
    before = c.target
    for k in range(200, 205):
        c.request(k)
    assert 1 in c._in_main and c.target == before


def test_target_tracks_workload():
    """Ghost hits from S push the target up; ghost hits from M push it down."""
    # A hot set of 40 keys stays in M; every new key is requested a second time 25 new keys
    # later: S (10 units) is too short to see that, the key is in GS by then -> T grows.
    c = AS3FIFO(100)
    new, pending = 1000, []
    for r in range(3000):
        for h in range(0, 40, 8):
            c.request(h + r % 8)
        c.request(new)
        pending.append(new)
        new += 1
        if len(pending) > 25:
            c.request(pending.pop(0))
    assert c.target > 40
    # Every key is read twice in a row, so it is promoted from S to M; a loop over 120 such
    # keys overflows M and each key comes back from GM -> M was too small: T hits its floor.
    d = AS3FIFO(100)
    for _ in range(40):
        for k in range(120):
            d.request(k)
            d.request(k)
    assert d.target == d.t_min


def test_return_credit_by_hand():
    """Each return from a ghost in a row earns one more trip round M (CLOCK counter)."""
    c = AS3FIFO(20)  # target 2, bounds 1..18, ghost span 18
    for k in range(20):
        c.request(k)  # warm-up: 0, 1 in S; 2..19 in M
    assert not c.request(100)  # M's head 2 leaves into GM
    assert 2 in c.ghost_main and c._returns[100] == 0
    assert not c.request(2)  # first return: no credit, like S3-FIFO
    assert c._returns[2] == 1 and c._freq[2] == 0 and 2 in c._in_main
    # push 2 out of M again with keys read twice (S promotes them, so M has to evict)
    k = 200
    while 2 in c and k < 1000:
        c.request(k)
        c.request(k)
        k += 1
    assert c.ghost_main.get(2) == 1  # the ghost keeps the count
    assert not c.request(2)  # second return in a row: one trip of credit
    assert c._returns[2] == 2 and c._freq[2] == 1 and 2 in c._in_main
    # a cold miss (the ghost forgot the key) resets the count
    for _ in range(100):
        c.request(k)
        c.request(k)
        k += 1
    assert 2 not in c.ghost_main and 2 not in c.ghost_small
    assert not c.request(2)
    assert c._returns[2] == 0 and c._freq[2] == 0


def test_registered():
    from syslab.cache.fast import fast_hits as lookup

    assert lookup("as3fifo") is fast_hits
    assert isinstance(make_policy("as3fifo", 5), AS3FIFO)
