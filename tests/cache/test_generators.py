"""Synthetic workloads: deterministic, the requested shape, and the advertised properties."""

from __future__ import annotations

import numpy as np
import pytest

from syslab.cache.workloads import synthetic, zipf
from syslab.cache.workloads.generators import zipf_ranks
from syslab.common.errors import UserError


def test_same_seed_same_trace_other_seed_differs() -> None:
    options = {"one_hit_fraction": 0.1, "scan_fraction": 0.2, "size_dist": "lognormal"}
    a = synthetic(20_000, 1_000, 0.9, seed=3, **options)
    b = synthetic(20_000, 1_000, 0.9, seed=3, **options)
    c = synthetic(20_000, 1_000, 0.9, seed=4, **options)
    assert np.array_equal(a.keys, b.keys) and np.array_equal(a.sizes, b.sizes)
    assert not np.array_equal(a.keys, c.keys)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"one_hit_fraction": 0.3},
        {"scan_fraction": 0.4},
        {"scan_fraction": 0.5, "loop": True, "scan_length": 70},
        {"scan_fraction": 1.0},
        {"one_hit_fraction": 1.0},
    ],
)
def test_requested_length(options: dict) -> None:
    trace = synthetic(12_345, 500, 0.8, **options)
    assert len(trace) == 12_345 and trace.keys.dtype == np.uint64


def test_zipf_stays_within_the_objects_and_ranks_are_not_keys() -> None:
    trace = zipf(50_000, 1_000, 1.0, seed=1)
    assert trace.keys.max() < 1_000
    counts = np.bincount(trace.keys.astype(np.int64), minlength=1_000)
    assert not np.array_equal(np.argsort(-counts)[:10], np.arange(10))  # popularity permuted


def test_skew_top_one_percent_gets_most_requests() -> None:
    trace = zipf(200_000, 10_000, 1.2, seed=0)
    counts = np.sort(np.bincount(trace.keys.astype(np.int64)))[::-1]
    assert counts[:100].sum() / len(trace) > 0.5


def test_uniform_when_alpha_is_zero() -> None:
    counts = np.bincount(zipf(100_000, 10, 0.0).keys.astype(np.int64), minlength=10)
    assert counts.min() > 9_000 and counts.max() < 11_000


def test_zipf_ranks_match_the_distribution() -> None:
    ranks = zipf_ranks(400_000, 50, 0.7, np.random.default_rng(0))
    expected = np.arange(1, 51) ** -0.7
    expected /= expected.sum()
    observed = np.bincount(ranks, minlength=50) / len(ranks)
    assert np.abs(observed - expected).max() < 0.005


def test_one_hit_fraction_is_roughly_honored() -> None:
    trace = synthetic(100_000, 1_000, 0.9, one_hit_fraction=0.25, seed=2)
    _, counts = np.unique(trace.keys, return_counts=True)
    injected = (trace.keys >= 1_000).sum()
    assert abs(injected / len(trace) - 0.25) < 0.01
    assert (counts[np.unique(trace.keys) >= 1_000] == 1).all()


def test_scans_are_sequential_runs_of_fresh_keys() -> None:
    trace = synthetic(50_000, 1_000, 0.9, scan_fraction=0.3, scan_length=100, seed=5)
    scan = trace.keys >= 1_000
    assert scan.sum() == 15_000
    assert np.unique(trace.keys[scan]).size == 15_000  # each scanned key once
    steps = np.diff(trace.keys[scan].astype(np.int64))
    assert (steps == 1).mean() > 0.99


def test_loops_revisit_the_same_range() -> None:
    trace = synthetic(50_000, 1_000, 0.9, scan_fraction=0.4, scan_length=300, loop=True)
    looped = trace.keys[trace.keys >= 1_000]
    assert len(looped) == 20_000 and np.unique(looped).size == 300


def test_sizes_are_per_object() -> None:
    for dist in ("fixed", "lognormal", "pareto"):
        trace = synthetic(
            30_000,
            2_000,
            0.8,
            size_dist=dist,
            size_mean=1000,
            one_hit_fraction=0.1,
            scan_fraction=0.1,
        )
        order = np.argsort(trace.keys, kind="stable")
        keys, sizes = trace.keys[order], trace.sizes[order]
        same = keys[1:] == keys[:-1]
        assert (sizes[1:][same] == sizes[:-1][same]).all(), dist
        assert sizes.min() >= 1
    fixed = synthetic(1_000, 100, 1.0, size_dist="fixed", size_mean=512)
    assert set(fixed.sizes.tolist()) == {512}
    lognormal = synthetic(1_000, 100_000, 0.0, size_dist="lognormal", size_mean=1000)
    first = np.unique(lognormal.keys, return_index=True)[1]
    assert 700 < lognormal.sizes[first].mean() < 1400


def test_sizes_do_not_change_the_keys() -> None:
    plain = synthetic(5_000, 300, 0.9, seed=9)
    sized = synthetic(5_000, 300, 0.9, seed=9, size_dist="pareto")
    assert np.array_equal(plain.keys, sized.keys) and plain.sizes is None


@pytest.mark.parametrize(
    "bad",
    [
        {"n_requests": 0},
        {"n_objects": 0},
        {"alpha": -1},
        {"one_hit_fraction": 1.5},
        {"scan_fraction": -0.1},
        {"scan_fraction": 0.6, "one_hit_fraction": 0.6},
        {"scan_length": 0},
        {"size_dist": "weird"},
        {"size_dist": "pareto", "size_shape": 1.0},
    ],
)
def test_bad_parameters(bad: dict) -> None:
    args = {"n_requests": 100, "n_objects": 10, "alpha": 1.0} | bad
    with pytest.raises(UserError):
        synthetic(**args)


def test_default_name_and_meta() -> None:
    trace = synthetic(100, 10, 0.8, one_hit_fraction=0.2, seed=1)
    assert trace.name == "zipf0.8-onehit0.2-s1"
    assert synthetic(100, 10, 0.8, name="mine").name == "mine"
    assert trace.meta["alpha"] == 0.8
