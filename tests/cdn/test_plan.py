"""Placement planning: the planner and simulator on hand-checked cases, inputs, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from syslab.cdn import plan as pl
from syslab.cdn.plan import simulate as plan_simulate
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


# --- several nodes: transfer between nodes, facility location ---------------------------------


def three_nodes(storage=(0.10, 0.20, 0.30), transfer=0.02, capacity=10**10) -> pl.Prices:
    """Nodes a, b, c: fill 0.09 $/GB, egress 0.01, one transfer price for every pair."""
    nodes = [pl.Node(r, s, 0.01, 0.09, capacity) for r, s in zip("abc", storage, strict=True)]
    return pl.Prices(nodes, transfer_price=transfer)


def regional(counts: list[int], size: float = 1e9) -> pl.Demand:
    """One object, `counts[r]` requests from region r over a month."""
    return pl.Demand(np.array([[c] for c in counts]), np.array([int(size)]), MONTH)


def test_object_wanted_in_three_regions_is_stored_once_at_the_cheapest_node() -> None:
    # Per GB, a month: no holder costs 6 * 0.09 = 0.54. Holder a: storage 0.10 + push 0.09 +
    # b's and c's 4 requests at 0.02 = 0.27 (saves 0.27); b saves 0.17, c 0.07. From {a},
    # a copy on b saves 2 * 0.02 = 0.04 but costs 0.20 storage + 0.02 copy: stop.
    plan = pl.plan_placement(regional([2, 2, 2]), three_nodes(), MONTH)
    assert [n.keys.tolist() for n in plan.nodes] == [[0], [], []]
    assert plan.nodes[0].expected_saving == pytest.approx(0.27)
    assert plan.nodes[0].expected_requests == pytest.approx(6)
    assert plan.nodes[0].expected_remote == pytest.approx(4)
    # Single-region model: a holder serves only its own 2 requests, 0.18 < 0.19 of costs.
    local = pl.plan_placement(regional([2, 2, 2]), three_nodes().local_only(), MONTH)
    assert [n.keys.tolist() for n in local.nodes] == [[], [], []]
    assert local.nodes[0].unprofitable == 1


def test_object_is_replicated_where_local_demand_pays_for_a_copy() -> None:
    # (20, 20, 2): a first (saves 3.78 - 0.63 = 3.15 per GB); then b's copy, from a at 0.02,
    # saves b's 20 * 0.02 = 0.40 against 0.20 + 0.02; c's 2 requests do not pay (0.04 < 0.32).
    plan = pl.plan_placement(regional([20, 20, 2]), three_nodes(), MONTH)
    assert [n.keys.tolist() for n in plan.nodes] == [[0], [0], []]
    assert [n.expected_saving for n in plan.nodes] == pytest.approx([3.15, 0.18, 0.0])
    assert plan.nodes[1].push_prices.tolist() == pytest.approx([0.02])  # copied from a
    # Replayed: c's request is a remote hit from a (the cheapest holder), at 0.02 per GB.
    ev = log_of([(0, 0, 0, 10**9), (1, 1, 0, 10**9), (2, 2, 0, 10**9)], regions="abc")
    out = pl.simulate_plan(plan, ev, three_nodes())
    assert out.hit_ratio == 1.0 and out.local_hit_ratio == pytest.approx(2 / 3)
    assert out.remote_bytes.tolist() == [0, 0, 10**9]
    # Fill: a's push from the origin only; transfer: b's copy (0.02) + c's request (0.02).
    assert out.fill_bytes.tolist() == [10**9, 0, 0]
    assert out.fill_cost.sum() == pytest.approx(0.09)
    assert out.transfer_cost.tolist() == pytest.approx([0.0, 0.02, 0.02])
    assert out.push_bytes.sum() == 2 * 10**9


def test_remote_hits_use_the_cheapest_holder_only_when_cheaper_than_the_origin() -> None:
    prices = three_nodes()
    prices.transfer = {"b": {"a": 0.05}, "c": {"a": 0.01, "b": 0.12}}  # c -> b above fill
    assert prices.transfer_matrix()[:, 0].tolist() == [0.0, 0.05, 0.01]
    held = [np.array([], dtype=np.int64), np.array([0]), np.array([0])]
    plan = pl.Plan([pl.NodePlan(r, 10**10, 10**10, k, np.full(len(k), 100), 100 * len(k),
                                0, 0, 0, 0.0, 0.0) for r, k in zip("abc", held, strict=True)],
                   MONTH, 1.0, 0.0)  # fmt: skip
    ev = log_of([(0, 0, 0, 100), (1, 1, 0, 100), (2, 2, 0, 100)], regions="abc")
    local, remote, price = plan_simulate._routes(plan_simulate._held(plan, 1), ev, prices)
    assert local.tolist() == [False, True, True]
    assert remote.tolist() == [True, False, False] and price.tolist() == [0.01, 0.0, 0.0]
    # Without c, a's only source is b at 0.05 < 0.09; with b -> a at 0.10 it is the origin.
    plan.nodes[2].keys = np.array([], dtype=np.int64)
    assert plan_simulate._routes(plan_simulate._held(plan, 1), ev, prices)[2][0] == 0.05
    prices.transfer["b"]["a"] = 0.10
    local, remote, _ = plan_simulate._routes(plan_simulate._held(plan, 1), ev, prices)
    assert not local[0] and not remote[0]
    out = pl.simulate_plan(plan, ev, prices)
    assert out.hit_ratio == pytest.approx(2 / 3) and out.fill_bytes[0] == 100 + 0  # a misses


def test_capacity_sends_an_object_to_its_next_best_node() -> None:
    # Both objects are best at a (cheapest storage) but a holds only one: o0 (3 + 3 requests)
    # saves 0.29 per GB there, o1 (2 + 2) 0.13. o1 does not fit at a and goes to b (saves 0.03).
    nodes = [pl.Node("a", 0.10, 0.01, 0.09, 10**9), pl.Node("b", 0.20, 0.01, 0.09, 10**10)]
    prices = pl.Prices(nodes, transfer_price=0.02)
    d = pl.Demand(np.array([[3, 2], [3, 2]]), np.array([10**9, 10**9]), MONTH)
    plan = pl.plan_placement(d, prices, MONTH)
    assert [n.keys.tolist() for n in plan.nodes] == [[0], [1]]
    assert plan.nodes[0].no_room == 1 and plan.nodes[0].bytes <= 10**9
    assert plan.nodes[1].expected_saving == pytest.approx(0.03)
    half = pl.plan_placement(d, prices, MONTH, budget=0.5)  # a: 0.5 GB, b: 5 GB
    assert [n.keys.tolist() for n in half.nodes] == [[], [0, 1]]


def test_cooperative_lru_fetches_a_local_miss_from_a_sibling() -> None:
    nodes = [pl.Node(r, 0.10, 0.01, 0.09, 1000) for r in "ab"]
    prices = pl.Prices(nodes, transfer_price=0.02)
    ev = log_of([(0, 0, 0, 100), (1, 1, 0, 100), (2, 1, 0, 100), (3, 0, 1, 100)], regions="ab")
    plain = pl.simulate_lru(None, ev, prices, 4.0)
    assert (plain.hits.sum(), plain.fill_bytes.sum(), plain.transfer_cost.sum()) == (1, 300, 0)
    coop = pl.simulate_lru(None, ev, prices, 4.0, cooperative=True)
    # a misses (origin), b gets it from a (remote hit, then cached), b hits, a misses p.
    assert (coop.hits.sum(), coop.local_hits.sum()) == (2, 1)
    assert coop.hit_ratio == 0.5 and coop.local_hit_ratio == 0.25
    assert coop.fill_bytes.tolist() == [200, 0] and coop.remote_bytes.tolist() == [0, 100]
    assert coop.transfer_cost.sum() == pytest.approx(0.02 * 100 / GB)
    # Storage: b holds 100 B from t = 1 to the window's end (its last request, t = 3).
    assert coop.byte_seconds[1] == pytest.approx(200.0)
    local_only = pl.simulate_lru(None, ev, prices.local_only(), 4.0, cooperative=True)
    assert local_only.hits.sum() == 1


def test_transfer_prices_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({
        "origin_egress": 0.09, "transfer_price": 0.02, "egress_price": 0.05,
        "storage_price": 0.1,
        "nodes": [{"region": "a"}, {"region": "b", "transfer_price": 0.08, "fill_price": 0.2},
                  {"region": "c", "capacity": "1GB"}],
        "transfer": {"a": {"c": 0.03}},
    }))  # fmt: skip
    prices = pl.read_prices(path)
    assert prices.fill_prices.tolist() == [0.09, 0.2, 0.09]
    assert prices.nodes[0].capacity == pl.UNLIMITED and prices.nodes[2].capacity == 10**9
    assert prices.transfer_matrix().tolist() == [[0.0, 0.02, 0.03], [0.08, 0.0, 0.08],
                                                 [0.02, 0.02, 0.0]]  # fmt: skip
    assert prices.cooperative and not prices.local_only().cooperative
    assert pl.read_prices("cloud").regions == ["na", "eu", "apac", "sa"]
    for bad, needle in (({"transfer": {"a": {"z": 1}}}, "unknown region 'z'"),
                        ({"transfer_price": -1}, "must not be negative"),
                        ({"origin_egress": "x"}, "origin_egress must be a number")):  # fmt: skip
        with pytest.raises(UserError, match=needle):
            pl.parse_prices({"nodes": [{"region": "a", "storage_price": 1, "egress_price": 1,
                                        "fill_price": 1}]} | bad)  # fmt: skip
    with pytest.raises(UserError, match="or a top-level 'origin_egress'"):
        pl.parse_prices({"nodes": [{"region": "a", "storage_price": 1, "egress_price": 1}]})


def test_compare_reports_both_lru_baselines_and_the_local_only_model() -> None:
    log = pl.synthetic_log(n_requests=8000, n_objects=800, size_mean=64_000, seed=5)
    data = json.loads(json.dumps(pl.EXAMPLE_PRICES))
    for node in data["nodes"]:
        node["capacity"] = "8MB"
    prices = pl.parse_prices(data)
    comp = pl.compare(log, prices, budgets=(0.25, 0.5, 1.0), lru_scales=(1.0,))
    assert comp.coop is not None and comp.equal_coop is not None
    assert comp.coop.hit_ratio > comp.lru.hit_ratio  # siblings turn misses into remote hits
    assert comp.lru.local_hit_ratio == comp.lru.hit_ratio
    assert comp.plan_outcome.hit_ratio > comp.plan_outcome.local_hit_ratio
    data = comp.to_dict()
    assert {"coop_lru", "equal_hit_ratio_coop", "curve_coop"} <= set(data)
    assert "cooperative LRU" in pl.verdict(comp)
    old = pl.compare(log, prices, budgets=(0.25, 0.5, 1.0), lru_scales=(1.0,), local_only=True)
    assert old.coop is None and old.equal_coop is None
    assert old.plan_outcome.hit_ratio == old.plan_outcome.local_hit_ratio
    assert old.plan_outcome.transfer_cost.sum() == 0


def test_cost_on_the_plans_curve_at_exactly_the_target() -> None:
    ev = log_of([(0, 0, 0, 10), (1, 0, 0, 10)])

    def point(hits: int, cost: float) -> pl.Outcome:
        out = pl.simulate_lru(None, ev, one_node(), 1.0)
        out.hits = np.array([hits])
        out.storage_cost = np.array([cost])
        out.fill_cost = out.egress_cost = np.array([0.0])
        return out

    pts = [point(0, 1.0), point(1, 3.0), point(2, 2.0)]  # hit ratios 0, 0.5, 1
    assert pl.cost_at(pts, 0.5)["on_curve_cost"] == 3.0  # the plan at 0.5, not the 100 % one
    assert pl.cost_at(pts[:2], 0.25)["on_curve_cost"] == pytest.approx(2.0)  # (0, 1) - (0.5, 3)
    eq = pl.equal_hit(pts, point(1, 2.5))["hit_ratio"]
    assert eq["step_saving_pct"] == pytest.approx(20.0)  # 2.0 vs 2.5
    assert eq["on_curve_saving_pct"] == pytest.approx(-20.0)  # 3.0 vs 2.5


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
    # Changed with the multi-node model: capacity is optional (unlimited), no longer an error.
    free = pl.parse_prices({"nodes": [{"region": "a", "storage_price": 1, "egress_price": 1,
                                       "fill_price": 1}]})  # fmt: skip
    assert free.nodes[0].capacity == pl.UNLIMITED
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


def test_cli_local_only_with_built_in_cloud_prices(tmp_path: Path, capsys) -> None:
    path = pl.write_log(
        pl.synthetic_log(n_requests=1500, n_objects=200, seed=2), tmp_path / "l.csv"
    )
    out = tmp_path / "out"
    code, stdout, err = run_cli(str(path), "--prices", "cloud", "--local-only", "--out", str(out),
                                capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert "single-region model" in stdout and "cooperative LRU" not in stdout
    data = json.loads((out / "results.json").read_text())
    assert data["local_only"] is True and data["coop_lru"] is None


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
