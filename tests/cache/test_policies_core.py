"""Hand-worked examples and invariants for the core reference policies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syslab.cache.policies import make_policy
from syslab.cache.policies.base import Policy
from syslab.cache.trace import Trace

CORE = ("fifo", "lru", "clock", "sieve", "s3fifo", "lfu", "gdsf", "belady")


def next_access(keys) -> list[int]:
    """Index of the next request to the same key, -1 if none (any hashable keys)."""
    future, seen = [-1] * len(keys), {}
    for i in range(len(keys) - 1, -1, -1):
        future[i] = seen.get(keys[i], -1)
        seen[keys[i]] = i
    return future


def build(name: str, capacity: int, keys) -> Policy:
    return make_policy(name, capacity, next_access=next_access(list(keys)))


def run(name: str, capacity: int, keys, sizes=None) -> tuple[list[bool], Policy]:
    keys = list(keys)
    cache = build(name, capacity, keys)
    sizes = sizes or [1] * len(keys)
    return [cache.request(k, s) for k, s in zip(keys, sizes, strict=True)], cache


def contents(cache: Policy, alphabet) -> set:
    return {k for k in alphabet if k in cache}


# ------------------------------------------------------------------ hand-worked examples
def test_lru_and_fifo_differ_on_a_reused_key():
    # capacity 2: A B A C A. LRU evicts B for C (A was just used); FIFO evicts A (oldest).
    assert run("lru", 2, "ABACA")[0] == [False, False, True, False, True]
    assert run("fifo", 2, "ABACA")[0] == [False, False, True, False, False]


def test_clock_gives_a_second_chance():
    # A's bit saves it when C arrives (B goes); the bit is cleared, so C's neighbour A is
    # next in line after B comes back, and then C arrives and A goes.
    hits, cache = run("clock", 2, "ABACABC")
    assert hits == [False, False, True, False, True, False, False]
    assert contents(cache, "ABC") == {"B", "C"}


def test_sieve_keeps_survivors_in_place_unlike_clock():
    # capacity 3: A B C A D E D F. SIEVE's hand passes A (visited) and evicts B, then C; it
    # rests on D, which is visited, so F evicts E -- A stays at the tail, untouched.
    # CLOCK moved A to the head with its bit cleared, so there F evicts A.
    keys = "ABCADEDF"
    sieve_hits, sieve = run("sieve", 3, keys)
    clock_hits, clock = run("clock", 3, keys)
    assert sieve_hits == clock_hits == [False] * 3 + [True, False, False, True, False]
    assert contents(sieve, "ABCDEF") == {"A", "D", "F"}
    assert contents(clock, "ABCDEF") == {"D", "E", "F"}


def test_sieve_hand_wraps_when_everything_is_visited():
    hits, cache = run("sieve", 2, "ABABC")
    assert hits == [False, False, True, True, False]
    # both visited: the hand clears A and B, wraps to the tail and evicts A
    assert contents(cache, "ABC") == {"B", "C"}


def test_s3fifo_small_queue_ghost_and_main():
    # capacity 20: |S| = 2, |M| = 18, ghost 18. Keys 0,1 fill S; before any eviction the rest
    # go straight to M (libCacheSim), 2..19 fill it.
    keys = list(range(20)) + [20, 0, 0, 21]
    hits, cache = run("s3fifo", 20, keys)
    assert hits == [False] * 22 + [True, False]
    # 20 evicted 0 from S into the ghost; 0's return was a ghost hit, so 0 went to M (and
    # 1 left S for the ghost); M was then over its share, so 21 evicted M's oldest, 2.
    assert 0 in cache and 20 in cache and 21 in cache
    assert 1 not in cache and 2 not in cache
    assert cache.used == len(cache) == 20


def test_s3fifo_moves_twice_hit_objects_to_main():
    # capacity 20; prefill, then 0 and 1 are hit twice while in S: evicting S moves them to M
    keys = list(range(20)) + [0, 0, 1, 1] + list(range(100, 103))
    hits, cache = run("s3fifo", 20, keys)
    assert sum(hits) == 4
    assert 0 in cache and 1 in cache  # survived S by moving to M
    assert 100 not in cache  # S holds 2: 100 was pushed out by 101, 102


def test_s3fifo_tiny_count_cache_admits_nothing():
    # libCacheSim rule: a new object needs size < |S| = floor(10 % of capacity)
    hits, cache = run("s3fifo", 19, [1, 1, 2, 2])
    assert hits == [False] * 4 and len(cache) == 0


def test_belady_textbook_reference_string():
    # Silberschatz's reference string, 3 frames: OPT has 9 faults (LRU 12, FIFO 15).
    keys = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]
    assert run("belady", 3, keys)[0].count(False) == 9
    assert run("lru", 3, keys)[0].count(False) == 12
    assert run("fifo", 3, keys)[0].count(False) == 15


def test_belady_admits_objects_never_seen_again():
    # Like libCacheSim: C (never requested again) is admitted and evicts B, the farther of A, B.
    hits, cache = run("belady", 2, "ABCAB")
    assert hits == [False, False, False, True, False]


def test_lfu_evicts_least_frequent_then_least_recent():
    hits, cache = run("lfu", 2, "AABC")
    assert contents(cache, "ABC") == {"A", "C"}  # B (1 use) goes, A (2 uses) stays
    hits, cache = run("lfu", 2, "ABC")
    assert contents(cache, "ABC") == {"B", "C"}  # tie on 1 use: A is least recent


def test_lfu_forgets_frequency_on_eviction():
    # capacity 2: A and B both reach 3 uses; C evicts A (tie, A least recent). A returns
    # with 1 use, not 4, so it ties with C and evicts C (least recent), not B.
    hits, cache = run("lfu", 2, "AAABBBCA")
    assert hits == [False, True, True, False, True, True, False, False]
    assert contents(cache, "ABC") == {"A", "B"}


def test_next_access_helper_matches_trace():
    keys = [3, 1, 3, 3, 2, 1]
    assert Trace("t", np.array(keys)).next_access.tolist() == next_access(keys)


def test_gdsf_priorities_and_inflation():
    # capacity 10 units. H = L + freq/size: A(5) 0.2, B(2) 0.5; C(5) evicts A, L = 0.2,
    # C gets 0.4; D(4) evicts C (0.4 < 0.5), L = 0.4, D gets 0.65.
    hits, cache = run("gdsf", 10, "ABCD", [5, 2, 5, 4])
    assert contents(cache, "ABCD") == {"B", "D"}
    assert cache.inflation == pytest.approx(0.4)
    assert cache.used == 6


@pytest.mark.parametrize("name", CORE)
def test_objects_larger_than_the_cache_bypass(name: str):
    hits, cache = run(name, 5, "ABAB", [6, 1, 6, 1])
    assert "A" not in cache and hits[0] is False and hits[2] is False


# ------------------------------------------------------------------ invariants
@st.composite
def workloads(draw):
    alphabet = draw(st.integers(1, 30))
    keys = draw(st.lists(st.integers(0, alphabet - 1), min_size=1, max_size=200))
    if draw(st.booleans()):
        sizes = [1] * len(keys)
    else:
        per_key = draw(st.lists(st.integers(1, 20), min_size=alphabet, max_size=alphabet))
        sizes = [per_key[k] for k in keys]
    return alphabet, keys, sizes, draw(st.integers(1, 50))


@pytest.mark.parametrize("name", CORE)
@settings(max_examples=100, deadline=None)
@given(workload=workloads())
def test_invariants(name: str, workload):
    alphabet, keys, sizes, capacity = workload
    cache = build(name, capacity, keys)
    evicted: list[int] = []
    cache.on_evict = evicted.append
    model: dict[int, int] = {}  # what must be resident -> the size it was admitted with
    for key, size in zip(keys, sizes, strict=True):
        was_resident = key in model
        hit = cache.request(key, size)
        assert hit == was_resident, "hit iff the key was resident"
        for victim in evicted:
            assert victim in model and victim != key, "on_evict names residents"
            del model[victim]
        evicted.clear()
        if key in cache and not was_resident:
            model[key] = size
        assert (key in cache) == (key in model)
        assert len(cache) == len(model)
        assert cache.used == sum(model.values()) <= capacity
    assert {k for k in range(alphabet) if k in cache} == set(model)


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(st.integers(0, 25), min_size=1, max_size=300),
    capacity=st.integers(1, 30),
)
def test_belady_is_never_beaten(keys, capacity):
    opt = run("belady", capacity, keys)[0].count(False)
    for name in CORE:
        assert opt <= run(name, capacity, keys)[0].count(False), name
