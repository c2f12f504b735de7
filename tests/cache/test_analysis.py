"""Trace statistics: exact answers on hand-built traces, sane ones on synthetic workloads."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from syslab.cache.analysis import (
    TraceStats,
    analyze,
    log2_histogram,
    reuse_times,
    sequential_fraction,
    top_share,
    working_set_sizes,
    zipf_alpha,
)
from syslab.cache.trace import Trace


def zipf_trace(n: int, n_objects: int, alpha: float, seed: int = 0) -> Trace:
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(np.arange(1, n_objects + 1, dtype=np.float64) ** -alpha)
    ranks = np.minimum(np.searchsorted(cdf / cdf[-1], rng.random(n)), n_objects - 1)
    return Trace(f"zipf{alpha}", rng.permutation(n_objects)[ranks].astype(np.uint64))


def test_one_hit_wonders_by_hand() -> None:
    stats = analyze(Trace("t", np.array([1, 1, 2, 3])))
    assert stats.requests == 4
    assert stats.unique_objects == 3
    assert stats.one_hit_objects == 2  # 2 and 3
    assert stats.one_hit_object_fraction == pytest.approx(2 / 3)
    assert stats.one_hit_request_fraction == pytest.approx(2 / 4)


def test_reuse_histograms_by_hand() -> None:
    # 1 2 3 1 2 3 1: every reuse has stack distance 3 and reuse time 3 -> bin 1 = [2, 4)
    stats = analyze(Trace("t", np.array([1, 2, 3, 1, 2, 3, 1])))
    assert stats.reuse_distance_log2 == [0, 4]
    assert stats.reuse_time_log2 == [0, 4]
    # a a b b b a: distances 1, 1, 1, 2; reuse times 1, 1, 1, 4 -> [3, 1] and [3, 0, 1]
    stats = analyze(Trace("t", np.array([7, 7, 8, 8, 8, 7])))
    assert stats.reuse_distance_log2 == [3, 1]
    assert stats.reuse_time_log2 == [3, 0, 1]
    assert stats.reuse_distance_median == 1.0


def test_reuse_times_and_log2_bins() -> None:
    assert reuse_times(Trace("t", np.array([5, 6, 5, 5]))).tolist() == [-1, -1, 2, 1]
    values = np.array([-1, 1, 2, 3, 4, 7, 8, 1024])
    assert log2_histogram(values) == [1, 2, 2, 1, 0, 0, 0, 0, 0, 0, 1]
    assert log2_histogram(np.array([], dtype=np.int64)) == []


def test_working_set_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    import syslab.cache.analysis as analysis

    monkeypatch.setattr(analysis, "WORKING_SET_WINDOWS", (2, 4, 100))
    trace = Trace("t", np.array([1, 1, 2, 3, 3, 3, 1, 2]))
    # windows of 2: {1}, {2,3}, {3}, {1,2} -> 1.5; of 4: {1,2,3}, {3,1,2} -> 3; 100 > trace
    assert working_set_sizes(reuse_times(trace)) == {2: 1.5, 4: 3.0}
    sizes = np.array([10, 10, 20, 30, 30, 30, 10, 20])
    # bytes: 10, 20 + 30, 30, 10 + 20 -> 30; 60, 60 -> 60
    assert working_set_sizes(reuse_times(trace), sizes) == {2: 30.0, 4: 60.0}


def test_sequential_runs() -> None:
    # 1 2 3 4 is a run of four; 9 then 5 6 (only two) does not count
    assert sequential_fraction(np.array([1, 2, 3, 4, 9, 5, 6])) == pytest.approx(4 / 7)
    assert sequential_fraction(np.array([3, 3, 3, 3])) == 0.0
    assert sequential_fraction(np.arange(100, 200)) == 1.0
    assert sequential_fraction(np.array([1, 2, 3])) == 0.0


def test_popularity_shares() -> None:
    counts = np.array([50, 30, 10, 5, 5])
    assert top_share(counts, 0.01) == pytest.approx(0.5)  # the single top object
    assert top_share(counts, 0.4) == pytest.approx(0.8)


@pytest.mark.parametrize("alpha", [0.6, 0.8, 1.0, 1.2])
def test_zipf_alpha_is_recovered(alpha: float) -> None:
    trace = zipf_trace(300_000, 50_000, alpha, seed=2)
    fitted, ranks = zipf_alpha(np.bincount(trace.ids))
    assert fitted == pytest.approx(alpha, abs=0.06)
    assert 10 <= ranks <= 5_000


def test_zipf_alpha_needs_reused_objects() -> None:
    assert zipf_alpha(np.ones(100, dtype=np.int64)) == (0.0, 0)


def test_sizes_and_footprint() -> None:
    keys = np.array([1, 2, 1, 3])
    sizes = np.array([100, 20, 100, 60])
    stats = analyze(Trace("t", keys, sizes))
    assert stats.footprint_bytes == 180
    assert stats.mean_object_size == pytest.approx(60.0)
    assert stats.median_object_size == 60.0
    assert stats.max_object_size == 100
    unsized = analyze(Trace("t", keys))
    assert unsized.footprint_bytes is None and unsized.working_set_bytes is None


def test_family_guesses() -> None:
    skewed = analyze(zipf_trace(100_000, 10_000, 1.2, seed=1))
    assert skewed.family == "highly skewed key-value"
    moderate = analyze(zipf_trace(100_000, 2_000, 0.7, seed=1))
    assert moderate.family == "skewed web/object"
    flat = analyze(zipf_trace(100_000, 2_000, 0.2, seed=1))
    assert flat.family == "low-skew / low-locality"
    # half the requests in long sequential scans over fresh blocks
    hot = zipf_trace(50_000, 2_000, 0.9, seed=1).keys
    scans = np.arange(10**6, 10**6 + 50_000, dtype=np.uint64)
    mixed = np.concatenate([hot[:25_000], scans[:25_000], hot[25_000:], scans[25_000:]])
    assert analyze(Trace("t", mixed)).family == "scan/loop-heavy block"
    # a mostly-unique tail: many objects never come back
    rng = np.random.default_rng(0)
    web = np.concatenate(
        [
            zipf_trace(50_000, 5_000, 0.8, seed=1).keys,
            rng.permutation(np.arange(10**7, 10**7 + 30_000, 2, dtype=np.uint64)),
        ]
    )
    assert analyze(Trace("t", rng.permutation(web))).family == "web/CDN: many one-hit wonders"


def test_record_is_flat_and_json_ready() -> None:
    stats = analyze(Trace("t", np.array([1, 2, 3, 1, 2, 3, 1]), np.array([5] * 7)))
    assert isinstance(stats, TraceStats)
    record = stats.to_record()
    assert all(not isinstance(v, list | dict) for v in record.values())
    assert record["reuse_distance_log2_1"] == 4
    assert record["family"] == stats.family
    json.dumps(record)
    assert math.isnan(analyze(Trace("t", np.array([1, 2]))).reuse_time_median)
