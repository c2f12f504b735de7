"""`Policy.remove` (a purge, for the CDN): every online policy forgets a key cleanly."""

from __future__ import annotations

from collections.abc import Hashable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syslab.cache.policies import POLICIES, make_policy
from syslab.cache.policies.base import Policy
from syslab.common.errors import UserError

ONLINE = tuple(name for name in POLICIES if name != "belady")


def residents(p: Policy, universe) -> set:
    return {k for k in universe if k in p}


def build(name: str, capacity: int, evicted: list) -> Policy:
    p = make_policy(name, capacity)
    p.on_evict = evicted.append
    return p


# ------------------------------------------------------------------------ internals
# Structural checks that the public API cannot see (a dangling hand, a stale queue slot).
def _check_sieve(p) -> None:
    walk, k = [], p._tail
    while k is not None:
        walk.append(k)
        k = p._newer[k]
    assert walk == list(reversed(_head_walk(p)))
    assert set(walk) == set(p._sizes) == set(p._newer) == set(p._older)
    assert p._hand is None or p._hand in p._sizes
    assert p._visited <= set(p._sizes)


def _head_walk(p) -> list:
    walk, k = [], p._head
    while k is not None:
        walk.append(k)
        k = p._older[k]
    return walk


def _check_lirs(p) -> None:
    from syslab.cache.policies.lirs import GHOST, HIR, LIR

    st_ = p._status
    assert p._s_used == sum(p._size[k] for k in p._s)
    assert p._lir_used == sum(p._size[k] for k, s in st_.items() if s == LIR)
    assert all(k in p._s for k, s in st_.items() if s == LIR)
    assert set(p._q) == {k for k, s in st_.items() if s == HIR}
    assert set(p._ghosts) == {k for k, s in st_.items() if s == GHOST} <= set(p._s)
    assert set(st_) == set(p._size) == set(p._s) | set(p._q)
    assert p._lir_used <= p.lir_limit


def _check_arc(p) -> None:
    for d, used in ((p._t1, p._t1_used), (p._t2, p._t2_used)):
        assert used == sum(d.values())
    for d, used in ((p._b1, p._b1_used), (p._b2, p._b2_used)):
        assert used == sum(d.values())
    resident = set(p._t1) | set(p._t2)
    assert not resident & (set(p._b1) | set(p._b2))
    assert not set(p._t1) & set(p._t2)


def _check_2q(p) -> None:
    assert p._a1in_used == sum(p._a1in.values())
    assert p._am_used == sum(p._am.values())
    assert p._a1out_used == sum(p._a1out.values())
    assert not set(p._a1in) & set(p._am)


def _check_slru(p) -> None:
    for seg, used in zip(p._segs, p._seg_used, strict=True):
        assert used == sum(seg.values())
    assert {k: i for i, seg in enumerate(p._segs) for k in seg} == p._where
    assert p.used == sum(p._seg_used)


def _check_s3fifo(p) -> None:
    assert p._small_used == sum(p._small.values())
    assert p._main_used == sum(p._main.values())
    assert set(p._freq) == set(p._small) | set(p._main)


def _check_as3fifo(p) -> None:
    for queue, live, dead in (
        (p._small, p._in_small, p._dead_small),
        (p._main, p._in_main, p._dead_main),
    ):
        slots: dict[Hashable, int] = {}
        for k in queue:
            slots[k] = slots.get(k, 0) + 1
        # every live key has exactly one live slot; every other slot is counted as dead
        assert {k: slots[k] - dead.get(k, 0) for k in slots if slots[k] > dead.get(k, 0)} == {
            k: 1 for k in live
        }
        assert all(slots.get(k, 0) >= n for k, n in dead.items())
    assert p.used_small == sum(p._in_small.values())
    assert p.used_main == sum(p._in_main.values())
    assert set(p._freq) == set(p._returns) == set(p._in_small) | set(p._in_main)


def _check_wtinylfu(p) -> None:
    assert p._window_used == sum(p._window.values())
    assert not set(p._window) & set(p._main._where)
    _check_slru(p._main)


CHECKS = {
    "sieve": _check_sieve,
    "lirs": _check_lirs,
    "arc": _check_arc,
    "2q": _check_2q,
    "slru": _check_slru,
    "s3fifo": _check_s3fifo,
    "as3fifo": _check_as3fifo,
    "wtinylfu": _check_wtinylfu,
}


# ------------------------------------------------------------------------ examples
@pytest.mark.parametrize("byte_mode", [False, True])
@pytest.mark.parametrize("name", ONLINE)
def test_remove_resident_and_absent(name: str, byte_mode: bool):
    capacity = 200 if byte_mode else 40
    evicted: list = []
    p = build(name, capacity, evicted)
    size_of = {k: (1 + k % 5 if byte_mode else 1) for k in range(60)}
    # a scan with some reuse, so that ghosts, promoted and demoted keys all exist
    for k in [*range(60), *range(0, 60, 3), *range(30, 60)]:
        p.request(k, size_of[k])
    universe = set(size_of) | {"never"}
    present = residents(p, universe)
    assert present, "the scenario must leave residents"
    evicted.clear()

    # absent keys (ghosts included): False, nothing changes
    for k in sorted(universe - present, key=str):
        before = (p.used, len(p), residents(p, universe))
        assert p.remove(k) is False
        assert (p.used, len(p), residents(p, universe)) == before

    stored = {k: size_of[k] for k in present}  # every key here was admitted with size_of[k]
    for k in sorted(present):
        used, n = p.used, len(p)
        assert p.remove(k) is True
        assert k not in p
        assert p.used == used - stored[k]
        assert len(p) == n - 1
        assert p.remove(k) is False  # idempotent
        if name in CHECKS:
            CHECKS[name](p)
    assert evicted == [], "remove must not call on_evict"
    assert p.used == 0 and len(p) == 0

    # a removed key comes back as a miss and is admitted again
    for k in sorted(present)[:5]:
        assert p.request(k, size_of[k]) is False
        assert k in p
        assert p.request(k, size_of[k]) is True


@pytest.mark.parametrize("name", ONLINE)
def test_remove_then_fill_keeps_working(name: str):
    # Purge most of a full cache, then refill past capacity: the eviction paths must cope
    # with the holes (emptied segments, a hand on a removed key, dead queue slots).
    evicted: list = []
    p = build(name, 30, evicted)
    for k in range(100):
        p.request(k % 45, 1)
        if k % 4 == 3:
            p.remove((k * 7) % 45)
    for k in range(100, 300):
        p.request(k, 1)
        p.request(k - 1, 1)
    assert p.used == len(p) <= 30
    if name in CHECKS:
        CHECKS[name](p)


def test_sieve_remove_moves_the_hand():
    p = make_policy("sieve", 3)
    for k in "ABC":
        p.request(k)
    p.request("A")  # A visited: the next eviction passes it, evicts B, hand rests on C
    p.request("D")
    assert p._hand == "C"
    assert p.remove("C") is True
    assert p._hand == "D"  # C's newer neighbour, where the hand would go after evicting C
    p.request("E")  # fills the hole C left
    p.request("F")  # the hand starts at D (unvisited): D goes, A stays
    assert residents(p, "ABCDEF") == {"A", "E", "F"}


def test_lirs_remove_bottom_lir_prunes_the_stack():
    from syslab.cache.policies.lirs import LIR

    p = make_policy("lirs", 10)  # LIR share 9, HIR share 1
    for k in range(12):
        p.request(k)
    bottom = next(iter(p._s))
    assert p._status[bottom] == LIR
    assert p.remove(bottom) is True
    assert not p._s or p._status[next(iter(p._s))] == LIR
    _check_lirs(p)


def test_as3fifo_sweeps_dead_slots():
    # Purge and refetch on a cache that never evicts: dead queue slots must not pile up.
    p = make_policy("as3fifo", 1000)
    for k in range(50):
        p.request(k)
    for i in range(2000):
        p.remove(i % 50)
        p.request(i % 50)
        p.request(i % 50)  # read: moves to M when S is next evicted
        if i % 97 == 0:
            _check_as3fifo(p)
    assert len(p._small) + len(p._main) <= 2 * len(p) + 2 * 64 + 2
    _check_as3fifo(p)
    evicted: list = []
    p.on_evict = evicted.append
    for k in range(1000, 3000):  # now evict through the survivors
        p.request(k)
    assert p.used == len(p) == 1000
    assert len(set(evicted)) == len(evicted)
    _check_as3fifo(p)


def test_belady_refuses_remove():
    p = make_policy("belady", 2, next_access=[-1])
    p.request("a")
    with pytest.raises(UserError, match="offline"):
        p.remove("a")


# ------------------------------------------------------------------------ property
ops_strategy = st.lists(
    st.tuples(
        st.sampled_from(["get", "get", "get", "del"]), st.integers(0, 29), st.integers(1, 12)
    ),
    max_size=200,
)


def _run_ops(name: str, capacity: int, ops, byte_mode: bool) -> None:
    shadow: dict[Hashable, int] = {}  # resident key -> stored size
    evicted: list = []

    def on_evict(key: Hashable) -> None:
        assert key in shadow, f"evicted {key!r}, which was not resident"
        del shadow[key]
        evicted.append(key)

    p = make_policy(name, capacity)
    p.on_evict = on_evict
    universe = range(30)
    for op, key, size in ops:
        size = size if byte_mode else 1
        was = key in shadow
        if op == "get":
            hit = p.request(key, size)
            assert hit == was
            if not hit and key in p:
                shadow[key] = size
        else:
            n = len(evicted)
            assert p.remove(key) is was
            assert len(evicted) == n, "remove must not evict"
            shadow.pop(key, None)
            assert key not in p
        assert p.used == sum(shadow.values())
        assert p.used <= p.capacity
        assert len(p) == len(shadow)
        assert residents(p, universe) == set(shadow)
        if name in CHECKS:
            CHECKS[name](p)


@pytest.mark.parametrize("name", ONLINE)
@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 24), ops=ops_strategy)
def test_random_requests_and_removes_count_mode(name: str, capacity: int, ops):
    _run_ops(name, capacity, ops, byte_mode=False)


@pytest.mark.parametrize("name", ONLINE)
@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(8, 60), ops=ops_strategy)
def test_random_requests_and_removes_byte_mode(name: str, capacity: int, ops):
    _run_ops(name, capacity, ops, byte_mode=True)
