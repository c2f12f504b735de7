"""Tier selection: consistent hashing (rendezvous, ring), health bookkeeping, active checks."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter

import pytest
import xxhash
from aiohttp import web

from syslab.cdn.tiers import (
    HashRing,
    HealthChecker,
    HealthState,
    Rendezvous,
    balance,
    key_movement,
    status_is_up,
)

NODES = [f"http://parent{i}.test:8080" for i in range(5)]
KEYS = [f"/assets/{i}/img.png" for i in range(10_000)]
SCHEMES = {"rendezvous": Rendezvous, "ring": HashRing}

# Generous on purpose: a loaded 2-core CI box must not fail these. The < 1 s failover figure
# is measured by benchmarks/cdn/tier_hashing.py, where timing belongs.
TIMELY = 3.0


def owners(h: Rendezvous | HashRing) -> list[str | None]:
    return [h.pick(k) for k in KEYS]


# ---------------------------------------------------------------- hashing


@pytest.mark.parametrize("scheme", SCHEMES)
def test_deterministic_and_independent_of_node_order(scheme: str) -> None:
    cls = SCHEMES[scheme]
    a, b, c = cls(NODES), cls(list(reversed(NODES))), cls(NODES)
    for k in KEYS[:500]:
        assert a.order(k) == b.order(k) == c.order(k)
        assert sorted(a.order(k)) == sorted(NODES)
        assert a.pick(k) == a.order(k)[0]


def test_rendezvous_follows_its_definition() -> None:
    # The score is xxh3_64(key, seed=xxh3_64(node)). Pinned, so that an accidental change of
    # hash or seeding, which would move keys between edges running different versions,
    # fails loudly.
    r = Rendezvous(["a", "b", "c"])
    for i in range(200):
        key = f"k{i}"
        scores = {
            n: xxhash.xxh3_64_intdigest(key.encode(), xxhash.xxh3_64_intdigest(n.encode()))
            for n in "abc"
        }
        assert r.order(key) == sorted(scores, key=scores.__getitem__, reverse=True)
        assert r.score("a", key) == scores["a"]
    assert [r.pick(f"k{i}") for i in range(8)] == ["b", "a", "b", "c", "a", "a", "c", "b"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_removing_a_node_moves_only_its_keys(scheme: str) -> None:
    cls = SCHEMES[scheme]
    before = owners(cls(NODES))
    for gone in NODES:
        after = owners(cls([n for n in NODES if n != gone]))
        moved = [i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y]
        # Exactly the keys the removed node owned move, and none of them to it.
        assert moved == [i for i, x in enumerate(before) if x == gone]
        assert gone not in after
        frac = len(moved) / len(KEYS)
        tolerance = 0.02 if scheme == "rendezvous" else 0.06  # the ring's arcs are uneven
        assert abs(frac - 1 / len(NODES)) < tolerance, (gone, frac)


def test_rendezvous_removed_keys_go_to_their_second_choice() -> None:
    r, r4 = Rendezvous(NODES), Rendezvous(NODES[1:])
    for k in KEYS[:2000]:
        order = r.order(k)
        if order[0] == NODES[0]:
            assert r4.pick(k) == order[1]
        assert r4.order(k) == [n for n in order if n != NODES[0]]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_adding_a_node_moves_about_one_over_n_plus_one(scheme: str) -> None:
    cls = SCHEMES[scheme]
    new = "http://parent-new.test:8080"
    before, after = owners(cls(NODES)), owners(cls([*NODES, new]))
    moved = [(x, y) for x, y in zip(before, after, strict=True) if x != y]
    assert all(y == new for _, y in moved)  # keys only move to the newcomer
    frac = len(moved) / len(KEYS)
    tolerance = 0.02 if scheme == "rendezvous" else 0.06
    assert abs(frac - 1 / (len(NODES) + 1)) < tolerance
    assert key_movement(NODES, [*NODES, new], KEYS, scheme) == frac


def test_key_movement_helper() -> None:
    assert key_movement(NODES, NODES, KEYS) == 0.0
    assert key_movement(NODES, NODES, [], "ring") == 0.0
    frac = key_movement(NODES, NODES[:-1], KEYS, "rendezvous")
    assert frac == sum(o == NODES[-1] for o in owners(Rendezvous(NODES))) / len(KEYS)
    with pytest.raises(ValueError, match="scheme"):
        key_movement(NODES, NODES, KEYS, "maglev")  # type: ignore[arg-type]


@pytest.mark.parametrize(("scheme", "bound"), [("rendezvous", 1.08), ("ring", 1.3)])
def test_balance(scheme: str, bound: float) -> None:
    b = balance(NODES, KEYS, scheme)
    assert sum(b["counts"].values()) == len(KEYS)
    assert b["mean"] == len(KEYS) / len(NODES)
    assert b["max"] == max(b["counts"].values()) and b["min"] > 0
    assert 1.0 <= b["max_over_mean"] < bound, b


def test_ring_balance_improves_with_vnodes() -> None:
    few = balance(NODES, KEYS, "ring", vnodes=4)["max_over_mean"]
    many = balance(NODES, KEYS, "ring", vnodes=640)["max_over_mean"]
    assert many < few


def test_weighted_rendezvous_shares_are_proportional() -> None:
    weights = {NODES[0]: 1.0, NODES[1]: 2.0, NODES[2]: 3.0, NODES[3]: 4.0}
    r = Rendezvous(NODES[:4], weights)
    keys = [f"w{i}" for i in range(40_000)]
    counts = Counter(r.pick(k) for k in keys)
    for n, w in weights.items():
        assert abs(counts[n] / len(keys) - w / 10) < 0.01, (n, counts)
    # Raising one node's weight moves keys only towards that node.
    heavier = Rendezvous(NODES[:4], {**weights, NODES[0]: 2.0})
    for k in keys[:5000]:
        a, b = r.pick(k), heavier.pick(k)
        assert a == b or b == NODES[0]
    # Equal weights order like no weights.
    equal = Rendezvous(NODES, dict.fromkeys(NODES, 3.0))
    plain = Rendezvous(NODES)
    assert all(equal.order(k) == plain.order(k) for k in keys[:2000])


def test_rendezvous_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Rendezvous(["a", "a"])
    with pytest.raises(ValueError, match="positive"):
        Rendezvous(["a", "b"], {"a": 0.0})
    with pytest.raises(ValueError, match="unknown"):
        Rendezvous(["a"], {"b": 1.0})
    with pytest.raises(ValueError, match="vnodes"):
        HashRing(["a"], vnodes=0)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_pick_skips_unhealthy_like_removal(scheme: str) -> None:
    cls = SCHEMES[scheme]
    h = cls(NODES)
    dead = NODES[2]
    without = cls([n for n in NODES if n != dead])
    alive = set(NODES) - {dead}
    state = HealthState(nodes=NODES)
    state.record(dead, False)
    state.record(dead, False)
    for k in KEYS[:3000]:
        expect = without.pick(k)
        assert h.pick(k, alive) == expect  # a plain container
        assert h.pick(k, state) == expect  # HealthState (fast path)
        assert h.pick(k, tuple(alive)) == expect
        assert h.pick(k, state) == next(n for n in h.order(k) if n != dead)
    assert h.pick("k", set()) is None
    for n in NODES:
        state.record(n, False)
        state.record(n, False)
    assert h.pick("k", state) is None
    assert cls([]).pick("k") is None and cls([]).order("k") == []


def test_weighted_pick_skips_unhealthy() -> None:
    r = Rendezvous(NODES, {n: i + 1.0 for i, n in enumerate(NODES)})
    state = HealthState()
    state.record(NODES[4], False)
    state.record(NODES[4], False)
    for k in KEYS[:1000]:
        expect = next(n for n in r.order(k) if n != NODES[4])
        assert r.pick(k, state) == expect == r.pick(k, set(NODES[:4]))


# ---------------------------------------------------------------- health bookkeeping


def test_health_state_fall_and_rise() -> None:
    s = HealthState(fall=2, rise=3, nodes=["a", "b"])
    assert s.is_up("a") and "a" in s and s.up_nodes() == {"a", "b"}
    assert s.is_up("never-seen")  # nodes start up
    assert s.record("a", False) is False  # one failure is not enough
    assert s.record("a", True) is False  # and a success resets the streak
    assert s.record("a", False) is False
    assert s.record("a", False) is True  # second consecutive failure: down
    assert not s.is_up("a") and "a" not in s and s.up_nodes() == {"b"}
    assert s.record("a", False) is False  # already down
    assert s.record("a", True) is False
    assert s.record("a", True) is False
    assert s.record("a", False) is False  # streak broken
    assert [s.record("a", True) for _ in range(3)] == [False, False, True]
    assert s.is_up("a")


def test_health_state_passive_failures() -> None:
    s = HealthState(fall=2, rise=2)
    assert s.report_failure("p") is False
    assert s.report_failure("p") is True  # two failed real requests: down right away
    assert not s.is_up("p") and s.down == {"p"}
    s.remove("p")
    assert s.is_up("p") and s.nodes() == []
    one = HealthState(fall=1, rise=1)
    assert one.report_failure("q") is True and one.record("q", True) is True
    with pytest.raises(ValueError):
        HealthState(fall=0)


def test_status_is_up_follows_haproxy() -> None:
    assert all(status_is_up(c) for c in (200, 204, 301, 304, 399))
    assert not any(status_is_up(c) for c in (100, 404, 403, 429, 500, 503))


# ---------------------------------------------------------------- active checks (real server)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Origin:
    """An aiohttp server on loopback whose /health can answer, hang or fail, and restart."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.mode = "ok"  # ok | hang | 500 | 302
        self.release = asyncio.Event()
        self.runner: web.AppRunner | None = None

    async def health(self, request: web.Request) -> web.Response:
        if self.mode == "hang":
            await self.release.wait()  # accepts, then says nothing
        if self.mode == "302":
            return web.Response(status=302, headers={"Location": "/elsewhere"})
        return web.Response(status=500 if self.mode == "500" else 200, text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self.health)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self.release.set()
        assert self.runner is not None
        await self.runner.cleanup()
        self.runner = None
        self.release = asyncio.Event()


async def until(cond, limit: float = 3.0) -> float:
    """Seconds until cond() holds (polling every 5 ms); fails after `limit`."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > limit:
            raise AssertionError(f"condition not met within {limit} s")
        await asyncio.sleep(0.005)
    return time.monotonic() - t0


def test_checker_marks_stopped_server_down_within_a_second_and_back_up() -> None:
    async def main() -> None:
        origin = Origin(free_port())
        await origin.start()
        changes: list[tuple[str, bool]] = []
        state = HealthState()
        checker = HealthChecker(
            [origin.url],
            path="/health",
            state=state,
            on_change=lambda n, up: changes.append((n, up)),
        )
        async with checker:
            await checker.start()  # a second start is a no-op
            await until(lambda: checker.last.get(origin.url) == "200")
            assert state.is_up(origin.url)

            await origin.stop()
            took = await until(lambda: not state.is_up(origin.url))
            assert took < TIMELY, took
            assert checker.last[origin.url] != "200"

            await origin.start()
            took = await until(lambda: state.is_up(origin.url))
            assert took < TIMELY, took
        assert not checker.running and not checker._probes
        assert changes == [(origin.url, False), (origin.url, True)]
        await origin.stop()

    asyncio.run(main())


def test_checker_marks_silent_server_down_within_a_second() -> None:
    async def main() -> None:
        origin = Origin(free_port())
        await origin.start()
        state = HealthState()
        async with HealthChecker([origin.url + "/"], path="health", state=state) as checker:
            node = origin.url + "/"
            await until(lambda: checker.last.get(node) == "200")
            origin.mode = "hang"
            took = await until(lambda: not state.is_up(node))
            assert took < TIMELY, took
            assert checker.last[node] == "timeout"
            origin.mode = "ok"
            origin.release.set()  # the hung requests finish too
            took = await until(lambda: state.is_up(node))
            assert took < TIMELY, took
        await origin.stop()

    asyncio.run(main())


def test_checker_closed_port_and_bad_status() -> None:
    async def main() -> None:
        failing, redirecting = Origin(free_port()), Origin(free_port())
        failing.mode, redirecting.mode = "500", "302"
        await failing.start()
        await redirecting.start()
        closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        nodes = [closed, failing.url, redirecting.url]
        state = HealthState()
        async with HealthChecker(nodes, path="/health", state=state) as checker:
            down = [closed, failing.url]
            took = await until(lambda: not any(state.is_up(n) for n in down))
            assert took < TIMELY, took
            assert state.is_up(redirecting.url)  # 3xx is up, and redirects are not followed
            assert checker.last[failing.url] == "500"
            assert checker.last[redirecting.url] == "302"
            assert state.up_nodes() == {redirecting.url}
        await failing.stop()
        await redirecting.stop()

    asyncio.run(main())


def test_checker_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        HealthChecker(["http://a"], interval=0)
    with pytest.raises(ValueError, match="duplicate"):
        HealthChecker(["http://a", "http://a"])
