"""The classic reference policies: 2Q, SLRU, ARC, LIRS, W-TinyLFU and LeCaR.

Hand-worked sequences pin each algorithm's defining rule; the invariant checks hold every
policy to the shared `Policy` contract in count and byte mode.
"""

from __future__ import annotations

import random

import pytest

from syslab.cache.policies import make_policy

CLASSIC = ["2q", "slru", "arc", "lirs", "wtinylfu", "lecar"]
SCAN_RESISTANT = ["2q", "arc", "lirs", "wtinylfu"]


def run(policy, keys, size: int = 1) -> list[bool]:
    return [policy.request(k, size) for k in keys]


# ------------------------------------------------------------------ hand-worked sequences
def test_arc_ghost_hit_in_b1_grows_p_and_promotes_to_t2() -> None:
    arc = make_policy("arc", 4)
    run(arc, [1, 1, 2, 2])  # 1 and 2 reach T2
    run(arc, [3, 4])  # T1 = [3, 4], the cache is full
    assert arc.p == 0
    assert run(arc, [5]) == [False]  # |T1| = 2 > p = 0: 3 goes to ghost B1
    assert 3 not in arc and {1, 2, 4, 5} == {k for k in range(10) if k in arc}
    assert run(arc, [3]) == [False]  # ghost hit in B1: T1 was too small
    assert arc.p == 1
    assert 4 not in arc  # REPLACE took T1's LRU again (|T1| = 2 > p = 1)
    assert run(arc, [3]) == [True]  # 3 came back into T2


def test_arc_ghost_hit_in_b2_shrinks_p() -> None:
    arc = make_policy("arc", 2)
    run(arc, [1, 1, 2, 2])  # T2 = [1, 2]
    run(arc, [3])  # T1 empty, so REPLACE evicts T2's LRU 1 into B2
    assert 1 not in arc
    run(arc, [4])  # 4 evicts 3 (T1 > p), B1 = [3]
    run(arc, [3])  # B1 hit: p grows to 1
    assert arc.p == 1
    run(arc, [1])  # B2 hit: p shrinks back
    assert arc.p == 0
    assert 1 in arc


def test_2q_hits_in_a1in_do_not_promote_and_a1out_hits_go_to_am() -> None:
    q = make_policy("2q", 8)  # Kin = 2, Kout = 4, Am = 6
    run(q, [1, 1, 1, 2, 3, 4, 5, 6, 7, 8])  # fills; 1 was hit in A1in, still a first-timer
    assert run(q, [9]) == [False]  # A1in (8 > Kin) gives up its oldest: 1, despite its hits
    assert 1 not in q
    assert run(q, [1]) == [False]  # 1 is in A1out: now admitted to Am
    assert 1 in q and 1 in q._am


def test_slru_promotes_one_segment_per_hit() -> None:
    s = make_policy("slru", 8)  # 4 segments of 2
    run(s, range(8))  # fills segments from the bottom: 0,1 | 2,3 | 4,5 | 6,7
    run(s, [0])  # a hit moves 0 one segment up; that segment's LRU (2) cools down
    assert s._where[0] == 1 and s._where[2] == 0
    assert run(s, [100]) == [False]
    assert 1 not in s  # the victim is the LRU of the lowest segment


def test_lirs_keeps_a_loop_hot_where_lru_thrashes() -> None:
    keys = [k for _ in range(20) for k in range(11)]  # a loop of capacity + 1 keys
    assert sum(run(make_policy("lru", 10), keys)) == 0
    hits = sum(run(make_policy("lirs", 10), keys))
    assert hits >= 150  # LIR keys stay resident; only the HIR slot churns


def test_lirs_reused_ghost_becomes_lir() -> None:
    lirs = make_policy("lirs", 4)  # 3 LIR units, 1 resident HIR unit
    run(lirs, [1, 2, 3])  # warm-up: all LIR
    run(lirs, [4, 5])  # HIR: 4 is resident then evicted by 5, stays in S as a ghost
    assert 4 not in lirs and 5 in lirs
    assert run(lirs, [4]) == [False]
    assert lirs._status[4] == 0  # LIR: its reuse beat the oldest LIR block (1)
    assert 1 in lirs  # 1 was demoted to resident HIR, not evicted: 5 went instead
    assert 5 not in lirs


def test_wtinylfu_admits_only_more_frequent_candidates() -> None:
    w = make_policy("wtinylfu", 10)  # window 1, main 9
    hot = list(range(9))
    for _ in range(5):
        run(w, hot)
    assert all(k in w for k in hot)
    run(w, range(100, 130))  # one-hit wonders pass through the window and die there
    assert sum(k in w for k in hot) == 9


def test_wtinylfu_window_never_rounds_to_zero() -> None:
    # libCacheSim's 1 % window is 0 objects below capacity 100 and then caches nothing
    w = make_policy("wtinylfu", 5)
    assert sum(run(w, [1, 2, 1, 2, 1, 2])) == 4


def test_wtinylfu_sketch_is_libcachesims_counting_bloom_filter() -> None:
    from syslab.cache.policies.wtinylfu import CountingBloomFilter

    cbf = CountingBloomFilter(1000)  # 0.001 error: 10 hashes, ceil(14.38 x 1000) counters
    assert (cbf.hashes, cbf.n_counters) == (10, 14378)
    for _ in range(3):
        cbf.add(42)
    assert cbf.estimate(42) == 3  # unbounded counters: no 4-bit cap
    assert cbf.estimate(43) == 0
    cbf.decay()
    assert cbf.estimate(42) == 1


def test_wtinylfu_halves_the_sketch_after_32x_main_capacity_main_hits() -> None:
    w = make_policy("wtinylfu", 10)  # window 1, main 9: halves after 288 main hits
    run(w, range(11))  # 10 fills the cache: 0..8 move to main while it has room, 9 loses
    assert 0 in w._main and 9 not in w
    assert w.sketch.estimate(0) == 2  # its miss and its move out of the window
    run(w, [0] * 287)
    assert w.sketch.estimate(0) == 289
    run(w, [0])  # the 288th main hit: all counters halve
    assert w.sketch.estimate(0) == 290 // 2


def test_lecar_regret_moves_weight_away_from_the_expert_that_erred() -> None:
    lecar = make_policy("lecar", 2)
    run(lecar, [1, 2, 3])  # one eviction, by whichever expert was drawn
    (victim,) = [k for k in (1, 2) if k not in lecar]
    by_lru = lecar._history[victim][0]
    run(lecar, [victim])  # regret
    assert (lecar.w_lru < 0.5) == by_lru
    assert lecar.w_lru + lecar.w_lfu == pytest.approx(1.0)


def test_lecar_is_deterministic() -> None:
    rng = random.Random(7)
    keys = [int(rng.paretovariate(1.0)) for _ in range(5000)]
    first = run(make_policy("lecar", 20), keys)
    second = run(make_policy("lecar", 20), keys)
    assert first == second


# ------------------------------------------------------------------- scan resistance
def hot_then_scan(name: str) -> int:
    """Hits on a 20-key hot set right after a 2000-key scan, cache of 50 objects."""
    p = make_policy(name, 50)
    cold = 10_000
    for _ in range(30):
        run(p, range(20))
        run(p, range(cold, cold + 10))  # one-off keys, so that the cache sees churn
        cold += 10
    run(p, range(100_000, 102_000))
    return sum(run(p, range(20)))


def test_lru_loses_the_hot_set_to_a_scan() -> None:
    assert hot_then_scan("lru") == 0


@pytest.mark.parametrize("name", SCAN_RESISTANT)
def test_scan_resistance(name: str) -> None:
    assert hot_then_scan(name) >= 18


# --------------------------------------------------------------------------- invariants
@pytest.mark.parametrize("name", CLASSIC)
@pytest.mark.parametrize("sized", [False, True], ids=["count", "bytes"])
@pytest.mark.parametrize("capacity", [1, 3, 10, 64])
def test_contract_invariants(name: str, sized: bool, capacity: int) -> None:
    rng = random.Random(f"{name}-{sized}-{capacity}")  # str seeds are stable across runs
    p = make_policy(name, capacity)
    evicted: list = []
    p.on_evict = evicted.append
    universe = range(4 * capacity + 3)
    sizes: dict[int, int] = {}
    inserted = 0
    for _ in range(2000):
        key = rng.choice(universe) if rng.random() < 0.9 else rng.randrange(10**6, 10**7)
        size = rng.choice([1, 1, 2, 3, capacity, capacity + 1]) if sized else 1
        resident = key in p
        hit = p.request(key, size)
        assert hit == resident, "a hit exactly when the key was resident"
        if not hit and key in p:
            inserted += 1
            sizes[key] = size
        if not hit and size > capacity:
            assert key not in p, "objects bigger than the cache bypass it"
        assert 0 <= p.used <= p.capacity
        present = [k for k in sizes if k in p]
        assert len(p) == len(present)
        assert p.used == sum(sizes[k] for k in present)
    assert len(evicted) == inserted - len(p)


@pytest.mark.parametrize("name", CLASSIC)
def test_registered_names_build(name: str) -> None:
    p = make_policy(name, 100)
    assert p.name == name
    assert len(p) == 0 and p.used == 0
    with pytest.raises(ValueError):
        make_policy(name, 0)
