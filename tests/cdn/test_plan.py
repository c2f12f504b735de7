"""Placement planning: the planner and simulator on hand-checked cases, inputs, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from syslab.cdn import plan as pl
from syslab.common.errors import UserError

GB = pl.GB
MONTH = pl.MONTH_S


def one_node(storage: float = 0.10, fill: float = 0.09, egress: float = 0.01, capacity=10**9):
    return pl.Prices([pl.Node("r", storage, egress, fill, int(capacity))])


def demand(counts: list[int], sizes: list[float], train_s: float = MONTH) -> pl.Demand:
    return pl.Demand(np.array([counts]), np.array(sizes, dtype=np.int64), train_s)


def log_of(rows: list[tuple[float, int, int, int]], regions=("r",)) -> pl.RequestLog:
    t, r, k, s = zip(*rows, strict=True)
    return pl.RequestLog(np.array(t), np.array(r), np.array(k), np.array(s), list(regions))


# --- planner -----------------------------------------------------------------------------------


def test_pushes_when_saving_exceeds_storage_cost() -> None:
    # One month of training, a one-month period: n_hat = count. Per GB: A saves
    # (5 - 1) * 0.09 - 0.10 = 0.26 > 0; B saves (1 - 1) * 0.09 - 0.10 < 0.
    plan = pl.plan_placement(demand([5, 1], [1e8, 1e8]), one_node(), MONTH)
    node = plan.nodes[0]
    assert node.keys.tolist() == [0]
    assert node.bytes == 10**8
    assert node.unprofitable == 1
    assert node.expected_saving == pytest.approx(0.1 * 0.26)
    assert node.expected_requests == pytest.approx(5)


def test_skips_everything_when_storage_is_too_expensive() -> None:
    # A saves 4 * 0.09 = 0.36 $/GB of fill but costs 1.00 $/GB of storage.
    plan = pl.plan_placement(demand([5, 1], [1e8, 1e8]), one_node(storage=1.0), MONTH)
    assert plan.nodes[0].keys.tolist() == []
    assert plan.nodes[0].unprofitable == 2


def test_period_scales_demand_and_storage() -> None:
    # Trained on a month, planned for a day: A's 31 requests -> n_hat = 1.0333 (saves
    # 0.003 $/GB of fill), storage for a day costs 0.10 / 30 = 0.00333 $/GB: skipped.
    day = MONTH / 30
    assert pl.plan_placement(demand([31], [1e8]), one_node(), day).nodes[0].keys.size == 0
    assert pl.plan_placement(demand([62], [1e8]), one_node(), day).nodes[0].keys.size == 1


def test_respects_capacity_and_skips_what_does_not_fit() -> None:
    # Density order A (10 req), B (8), C (3); A + B > 1 GB, so B is skipped and C still fits.
    d = demand([10, 8, 3], [6e8, 5e8, 3e8])
    node = pl.plan_placement(d, one_node(capacity=1e9), MONTH).nodes[0]
    assert sorted(node.keys.tolist()) == [0, 2]
    assert node.bytes == 9 * 10**8 <= 10**9
    assert node.no_room == 1
    half = pl.plan_placement(d, one_node(capacity=1e9), MONTH, budget=0.5).nodes[0]
    assert half.keys.tolist() == [1] and half.budget == 5 * 10**8  # A no longer fits; B just does


def test_resident_objects_do_not_pay_the_push_again() -> None:
    # n_hat = 2: a newcomer saves one fill (0.09 $/GB) < storage (0.10), a resident one two.
    d = demand([2], [1e8])
    assert pl.plan_placement(d, one_node(), MONTH).nodes[0].keys.size == 0
    resident = pl.Plan([pl.NodePlan("r", 10**9, 10**9, np.array([0]), np.array([10**8]),
                                    10**8, 1, 0, 0, 1.0, 0.0)], MONTH, 1.0, 0.0)  # fmt: skip
    assert pl.plan_placement(d, one_node(), MONTH, resident=resident).nodes[0].keys.size == 1


# --- simulator ---------------------------------------------------------------------------------


def test_plan_simulation_hand_checked() -> None:
    prices = pl.Prices([pl.Node("r", storage_price=3.0, egress_price=2.0, fill_price=1.0,
                                capacity=1000)])  # fmt: skip
    plan = pl.plan_placement(demand([4, 0], [100, 50], train_s=10.0), prices, 10.0)
    assert plan.nodes[0].keys.tolist() == [0]
    ev = log_of([(0, 0, 0, 100), (1, 0, 1, 50), (2, 0, 0, 100), (3, 0, 1, 50)])
    out = pl.simulate_plan(plan, ev, prices)
    assert (out.hits.sum(), out.requests.sum()) == (2, 4)
    assert out.hit_ratio == 0.5 and out.byte_hit_ratio == pytest.approx(200 / 300)
    # fill = push 100 B + two pass-through misses of 50 B; egress = every byte served.
    assert out.fill_bytes.sum() == 200 and out.push_bytes.sum() == 100
    assert out.fill_cost.sum() == pytest.approx(1.0 * 200 / GB)
    assert out.egress_cost.sum() == pytest.approx(2.0 * 300 / GB)
    assert out.storage_cost.sum() == pytest.approx(3.0 * 100 * 10.0 / (GB * MONTH))
    assert out.cost == pytest.approx(out.storage_cost.sum() + 200e-9 + 600e-9)


def test_lru_simulation_hand_checked() -> None:
    ev = log_of([(0, 0, 0, 100), (1, 0, 1, 100), (2, 0, 0, 100)])
    small = pl.simulate_lru(None, ev, one_node(capacity=150), 2.0)
    assert small.hits.sum() == 0  # b evicts a
    big = pl.simulate_lru(None, ev, one_node(capacity=200), 2.0)
    assert big.hits.sum() == 1 and big.fill_bytes.sum() == 200
    # Occupancy: 100 B during [0, 1) (after a), 200 B during [1, 2] (after b).
    assert big.byte_seconds.sum() == pytest.approx(300.0)
    warm = pl.simulate_lru(log_of([(-1, 0, 0, 100)]), ev, one_node(capacity=200), 2.0)
    assert warm.hits.sum() == 2  # a was cached during training


def test_steady_state_pushes_only_new_objects() -> None:
    prices = one_node(capacity=10**9)
    old = pl.plan_placement(demand([5, 0], [1e8, 2e8]), prices, MONTH)
    new = pl.plan_placement(demand([5, 5], [1e8, 2e8]), prices, MONTH)
    ev = log_of([(0, 0, 0, 10**8), (1, 0, 1, 2 * 10**8)])
    assert pl.simulate_plan(new, ev, prices).push_bytes.sum() == 3e8
    assert pl.simulate_plan(new, ev, prices, resident=old).push_bytes.sum() == 2e8


def test_cost_at_equal_hit_ratio() -> None:
    prices = one_node()
    ev = log_of([(0, 0, 0, 10), (1, 0, 0, 10)])

    def point(hits: int, cost: float) -> pl.Outcome:
        out = pl.simulate_lru(None, ev, prices, 1.0)
        out.hits = np.array([hits])
        out.storage_cost = np.array([cost])
        out.fill_cost = out.egress_cost = np.array([0.0])
        return out

    pts = [point(0, 1.0), point(1, 3.0), point(2, 2.0)]  # hit ratios 0, 0.5, 1
    at = pl.cost_at(pts, 0.5)
    assert at["step_cost"] == 2.0  # cheapest with hit ratio >= 0.5 is the 100 % point
    assert at["interpolated_cost"] == pytest.approx(1.5)  # frontier (0, 1) -> (1, 2)
    assert pl.cost_at(pts, 1.01)["step_cost"] is None


# --- workloads ---------------------------------------------------------------------------------


def test_synthetic_log_is_deterministic_by_seed() -> None:
    a = pl.synthetic_log(n_requests=5000, n_objects=500, seed=3)
    b = pl.synthetic_log(n_requests=5000, n_objects=500, seed=3)
    c = pl.synthetic_log(n_requests=5000, n_objects=500, seed=4)
    for field in ("times", "regions", "keys", "sizes"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.keys, c.keys)
    assert np.all(np.diff(a.times) >= 0) and a.sizes.min() >= 1000
    shares = np.bincount(a.regions) / len(a)
    assert shares[0] > shares[-1]  # default region weights 0.4 .. 0.1
    # Regional popularity differs: the regions' most requested objects are not all the same.
    tops = {int(np.bincount(a.keys[a.regions == r]).argmax()) for r in range(4)}
    assert len(tops) > 1


def test_regionalize_is_deterministic_with_home_regions() -> None:
    keys = np.repeat(np.arange(50, dtype=np.uint64) * 7919, 40)
    r1, r2 = pl.regionalize(keys, 4, 0.75), pl.regionalize(keys, 4, 0.75)
    assert np.array_equal(r1, r2)
    # Each object's most common region takes about 0.75 + 0.25 / 4 of its requests.
    share = np.mean([np.bincount(r1[keys == k], minlength=4).max() / 40 for k in np.unique(keys)])
    assert 0.7 < share < 0.92


def test_log_round_trip_and_windows(tmp_path: Path) -> None:
    log = pl.synthetic_log(n_requests=2000, n_objects=200, seed=1)
    back = pl.read_log(pl.write_log(log, tmp_path / "log.csv"))
    assert len(back) == 2000 and back.region_names == log.region_names[: len(back.region_names)]
    assert np.array_equal(back.sizes, log.sizes)
    train, ev, train_s, eval_s = back.split(0.5)
    assert len(train) + len(ev) == 2000 and train.times[-1] < ev.times[0]
    assert train_s == pytest.approx(eval_s)


def test_prices_files(tmp_path: Path) -> None:
    toml = tmp_path / "p.toml"
    toml.write_text(
        'fill_price = 0.09\nstorage_price = 0.1\n[[nodes]]\nregion = "a"\negress_price = 0.01\n'
        'capacity = "1.5GiB"\n[[nodes]]\nregion = "b"\negress_price = 0.02\ncapacity = 1e9\n'
        "fill_price = 0.2\n"
    )
    prices = pl.read_prices(toml)
    assert prices.regions == ["a", "b"]
    assert prices.nodes[0].capacity == int(1.5 * 2**30) and prices.nodes[0].fill_price == 0.09
    assert prices.nodes[1].fill_price == 0.2
    with pytest.raises(UserError, match="no 'capacity'"):
        pl.parse_prices({"nodes": [{"region": "a", "storage_price": 1, "egress_price": 1,
                                    "fill_price": 1}]})  # fmt: skip
    with pytest.raises(UserError, match="must not be negative"):
        pl.parse_prices({"nodes": [{"region": "a", "storage_price": -1, "egress_price": 1,
                                    "fill_price": 1, "capacity": 5}]})  # fmt: skip


# --- end to end --------------------------------------------------------------------------------


def test_plan_is_cheaper_than_lru_at_equal_hit_ratio_when_storage_matters() -> None:
    # RAM-class storage prices ($2-4/GB-month, 20-40x the example's SSD prices): storage is a
    # sizeable share of LRU's bill, and the plan reaches LRU's hit ratio with fewer bytes.
    log = pl.synthetic_log(n_requests=30_000, n_objects=3000, size_mean=64_000, seed=0)
    data = json.loads(json.dumps(pl.EXAMPLE_PRICES))
    for node in data["nodes"]:
        node["storage_price"] *= 20
        node["capacity"] = "24MB"
    comp = pl.compare(log, pl.parse_prices(data), lru_scales=(0.5, 1.0))
    eq = comp.equal["hit_ratio"]
    assert eq["step"]["hit_ratio"] >= comp.lru.hit_ratio
    assert eq["step_saving_pct"] > 0
    assert eq["step_cost"] < comp.lru.cost


# --- the command line --------------------------------------------------------------------------


def run_cli(*args: str, capsys) -> tuple[int, str, str]:
    from syslab.cli import main

    argv, sys.argv = sys.argv, ["syslab", "cdn", "plan", *args]
    try:
        with pytest.raises(SystemExit) as exit_:
            main()
            raise SystemExit(0)
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return exit_.value.code, captured.out, captured.err


@pytest.fixture
def prices_file(tmp_path: Path) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(pl.EXAMPLE_PRICES))
    return path


def assert_one_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("time,region,size\n1,na,10\n", "missing column 'url'"),
        ("time,url,size\n1,/a,10\n", "missing column 'region'"),
        ("time,region,url,size\n1,na,/a,ten\n", "bad size 'ten'"),
        ("time,region,url,size\nnow,na,/a,10\n", "bad time 'now'"),
        ("time,region,url,size\n1,na,/a\n", ":2: expected 4 fields"),
        ("", "empty request log"),
        ("time,region,url,size\n", "no requests"),
        ("time,region,url,size\n1,mars,/a,10\n2,mars,/b,10\n", "region 'mars' has no node"),
    ],
)
def test_bad_log_is_one_line(tmp_path, prices_file, capsys, content, needle) -> None:
    log = tmp_path / "log.csv"
    log.write_text(content)
    code, _, err = run_cli(str(log), "--prices", str(prices_file), capsys=capsys)
    assert_one_line(code, err, needle)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('{"nodes": []}', "non-empty list 'nodes'"),
        ('{"nodes": [{"region": "na", "storage_price": "x", "egress_price": 1, '
         '"fill_price": 1, "capacity": 1}]}', "storage_price must be a number"),
        ('{"nodes": [{"region": "na", "storage_price": 1, "egress_price": 1, '
         '"fill_price": 1, "capacity": "12 parsecs"}]}', "capacity"),
    ],
)  # fmt: skip
def test_bad_prices_is_one_line(tmp_path, capsys, content, needle) -> None:
    log = tmp_path / "log.csv"
    log.write_text("time,region,url,size\n1,na,/a,10\n2,na,/a,10\n")
    prices = tmp_path / "p.json"
    prices.write_text(content)
    code, _, err = run_cli(str(log), "--prices", str(prices), capsys=capsys)
    assert_one_line(code, err, needle)


def test_cli_needs_a_log_or_synthetic(capsys) -> None:
    code, _, err = run_cli(capsys=capsys)
    assert_one_line(code, err, "--synthetic")


def test_cli_runs_on_a_csv_log(tmp_path: Path, prices_file: Path, capsys) -> None:
    log = pl.synthetic_log(n_requests=4000, n_objects=400, seed=2)
    path = pl.write_log(log, tmp_path / "log.csv")
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        str(path), "--prices", str(prices_file), "--train-fraction", "0.4", "--out", str(out),
        capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "plan per node" in stdout and "LRU everywhere" in stdout
    data = json.loads((out / "results.json").read_text())
    assert {"plan", "lru", "equal_hit_ratio", "plan_sweep", "lru_sweep"} <= set(data)
    assert (out / "cost_vs_hit_ratio.png").stat().st_size > 0
    assert (out / "cost_vs_hit_ratio.svg").stat().st_size > 0


def test_cli_bad_flag_in_a_fresh_process(tmp_path: Path, prices_file: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("time,region,url,size\n1,na,/a,10\n2,na,/a,10\n")
    bad = subprocess.run(
        [sys.executable, "-m", "syslab", "cdn", "plan", str(path), "--prices", str(prices_file),
         "--train-fraction", "1.5"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2, bad.stderr
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "train fraction" in lines[0] and "Traceback" not in bad.stderr
