"""The MDSS store for real: 3 shards x 3 replica processes on loopback with an injected
delay, driven by the runner and by hand: values, issue order, suffix-closed failures, kill -9
of a follower mid-run, the delay, start-up errors, no orphan processes."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from syslab.common.errors import UserError
from syslab.txn.history import OK, History
from syslab.txn.mdss import Cluster, MdssClient
from syslab.txn.mdss.coordinator import PRED_FAILED
from syslab.txn.runner import run_clients
from syslab.txn.stores.base import TxnFailed, TxnUnknown
from syslab.txn.stores.mdss import open_mdss
from syslab.txn.workloads import make_workload, probe_violations

DELAY_MS = 2.0
T = DELAY_MS / 1000


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster(delay_ms=DELAY_MS) as c:
        yield c
    assert all(not _running(pid) for pid in c.pids())


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead too
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def assert_checks(history: History) -> None:
    checker = pytest.importorskip("syslab.txn.checker")
    report = checker.check(history, model="mdss")
    assert report.valid, report.lines()


async def _client(cluster: Cluster) -> MdssClient:
    client = MdssClient(cluster.leader_ports, cluster.delay_ms / 1000)
    await client.connect()
    return client


def test_runner_histories_are_mdss(cluster: Cluster) -> None:
    """Concurrent multi-dispatch clients, multi-shard list-append transactions under skew:
    the history passes the MDSS checker and most transactions commit."""

    async def main() -> History:
        async with open_mdss("mdss", cluster=cluster) as store:
            w = make_workload("list-append", keys=30, zipf=0.99, seed=3)
            await store.load(w.initial())
            run = await run_clients(store, w.next, clients=4, depth=8, duration=1.5,
                                    timeout=10.0, meta={"timeout": 10.0})
            return run.history

    history = asyncio.run(main())
    ok = [t for t in history if t.outcome == OK]
    assert len(history) > 200 and len(ok) > 0.5 * len(history)
    assert any(len({k % 3 for _, k, _ in t.ops}) > 1 for t in ok)  # multi-shard commits
    assert all(t.outcome in ("ok", "fail") for t in history)
    assert_checks(history)


def test_many_clients_with_many_in_flight_never_stall(cluster: Cluster) -> None:
    """16 clients x 8 in flight, single-key transactions (one-shot and chained, forwarded
    votes) on hot keys: every transaction is answered. Regression: a leader pruned a
    dependency's vote that a waiting chained transaction still needed, and from then on
    every transaction in flight was indeterminate."""

    async def main() -> History:
        async with open_mdss("mdss", cluster=cluster) as store:
            w = make_workload("fanout", keys=200, zipf=0.9, seed=5)
            await store.load(w.initial())
            run = await run_clients(store, w.next, clients=16, depth=8, duration=2.0,
                                    timeout=5.0, meta={"timeout": 5.0})
            return run.history

    history = asyncio.run(main())
    assert len(history) > 1000
    assert not [t for t in history if t.outcome == "info"]
    assert_checks(history)


def test_transfers_across_shards_keep_the_total(cluster: Cluster) -> None:
    """Multi-shard transfers and whole-range scans from concurrent multi-dispatch
    sessions: every committed scan sees the right total, and so does the end state."""
    accounts = 12

    async def main() -> tuple[list, dict]:
        client = await _client(cluster)
        await client.load({k: 100 for k in range(accounts)})
        rnd = random.Random(5)

        async def session_work() -> list:
            s = client.session()
            futs = []
            for _ in range(40):
                a, b = rnd.sample(range(accounts), 2)
                futs.append(s.execute([("add", a, -3), ("add", b, 3)]))
                if rnd.random() < 0.3:
                    futs.append(s.execute([("scan", 0, accounts)]))
                if rnd.random() < 0.2:
                    await asyncio.sleep(0.004)
            return await asyncio.gather(*futs, return_exceptions=True)

        results = [r for rs in await asyncio.gather(*(session_work() for _ in range(4)))
                   for r in rs]
        final = await client.session().execute([("scan", 0, accounts)])
        await client.close()
        return results, final

    results, final = asyncio.run(main())
    assert sum(final[0][2]) == 100 * accounts
    scans = [r[0][2] for r in results if isinstance(r, list) and r[0][0] == "scan"]
    assert scans and all(sum(s) == 100 * accounts for s in scans)
    assert all(isinstance(r, list | TxnFailed) for r in results)
    assert sum(isinstance(r, list) for r in results) > 0.25 * len(results)


def test_a_read_issued_right_after_a_write_sees_it(cluster: Cluster) -> None:
    """The issue-order probe (write a fresh key, read it at once) at depth 8: no read
    misses its write, single- or multi-shard."""

    async def main() -> tuple[History, list]:
        async with open_mdss("mdss", cluster=cluster) as store:
            probe = make_workload("order-probe", seed=1)
            await store.load({})
            run = await run_clients(store, probe.next, clients=3, depth=8, duration=1.0,
                                    meta={"timeout": 10.0})
            s = await store.session(0, 8)
            pairs = []
            for k in range(20):  # a write on two shards, then reads of both keys
                w = s.execute([("w", 1000 + k, k), ("w", 2000 + k, k)])
                r = s.execute([("r", 2000 + k, None), ("r", 1000 + k, None)])
                pairs.append((await w, await r))
            return run.history, pairs

    history, pairs = asyncio.run(main())
    n, violations = probe_violations(history)
    assert n > 100 and violations == 0
    assert all(r == [("r", 2000 + k, k), ("r", 1000 + k, k)] for k, (_, r) in enumerate(pairs))
    assert_checks(history)


def test_a_refused_transaction_fails_the_ones_issued_after_it(cluster: Cluster) -> None:
    """Client B's transaction is older than client A's but reaches the leader after A's has
    locked the key (B's links are slower): it is refused, B's transactions issued while it
    was in flight fail with it, and B's next transaction after the failure commits."""

    async def main() -> tuple:
        fast, slow = MdssClient(cluster.leader_ports, 0.04), MdssClient(cluster.leader_ports,
                                                                         0.06)
        await fast.connect()
        await slow.connect()
        await fast.load({})
        a, b = fast.session(), slow.session()
        refused = b.execute([("w", 12, 2)])  # issued first (older), arrives at 60 ms
        later = [b.execute([("w", 20 + i, 2)]) for i in range(3)]
        await asyncio.sleep(0.01)
        held = a.execute([("w", 12, 1), ("w", 13, 1)])  # younger: holds key 12, 50-92 ms
        out = await asyncio.gather(held, refused, *later, return_exceptions=True)
        await asyncio.sleep(0.01)
        after = await b.execute([("r", 12, None), ("r", 20, None)])
        await fast.close()
        await slow.close()
        return out, after

    (held, refused, *later), after = asyncio.run(main())
    assert isinstance(held, list)
    assert isinstance(refused, TxnFailed) and "lock conflict on key 12" in str(refused)
    assert all(isinstance(x, TxnFailed) and str(x).startswith(PRED_FAILED) for x in later)
    assert after == [("r", 12, 1), ("r", 20, None)]


def test_the_delay_is_applied(cluster: Cluster) -> None:
    """Single dispatch: a read takes 2 one-way delays, a one-shot write 4 (there and back,
    plus replication), a two-shard transaction 6."""

    async def main() -> dict:
        client = await _client(cluster)
        s = client.session(single=True)
        took: dict[str, float] = {}
        for name, ops in [("read", [("r", 1, None)]), ("write", [("w", 1, 1)]),
                          ("two shards", [("w", 1, 2), ("w", 2, 2)])]:
            best = float("inf")
            for _ in range(3):
                t0 = time.monotonic()
                await s.execute(ops)
                best = min(best, time.monotonic() - t0)
            took[name] = best
        await client.close()
        return took

    took = asyncio.run(main())
    assert took["read"] >= 2 * T
    assert took["write"] >= 4 * T
    assert took["two shards"] >= 6 * T


def test_a_follower_killed_mid_run_loses_nothing_and_catches_up(cluster: Cluster) -> None:
    """kill -9 of a follower during a run; its log's tail is then torn; it restarts,
    truncates the tail, replays the rest and catches up from its leader. No acknowledged
    append is missing, and the history still checks."""
    victim = (1, 2)

    async def main() -> tuple[History, dict]:
        async with open_mdss("mdss", cluster=cluster) as store:
            w = make_workload("list-append", keys=30, zipf=0.9, seed=7)
            await store.load(w.initial())

            async def fault() -> None:
                await asyncio.sleep(0.5)
                cluster.kill(*victim)
                await asyncio.sleep(0.4)
                log = cluster.data_dir / f"shard{victim[0]}-replica{victim[1]}.wal"
                with log.open("ab") as f:
                    f.write(b"\x00\x00\x01\x00torn")  # a record cut short by the crash
                await cluster.restart(*victim)

            run, _ = await asyncio.gather(
                run_clients(store, w.next, clients=4, depth=8, duration=2.0, timeout=10.0,
                            meta={"timeout": 10.0}),
                fault())
            final = {}
            for s in range(3):
                leader = await cluster.state(s, 0)
                final[s] = leader
                for _ in range(200):  # the restarted follower catches up
                    states = [await cluster.state(s, r) for r in (1, 2)]
                    if all(st["digest"] == leader["digest"] for st in states):
                        break
                    await asyncio.sleep(0.02)
                    leader = await cluster.state(s, 0)
                for st in states:
                    assert st["log_end"] == leader["log_end"] and st["kv"] == leader["kv"]
                    assert st["digest"] == leader["digest"]
            return run.history, final

    history, final = asyncio.run(main())
    kv = {k: v for st in final.values() for k, v in st["kv"]}
    acked = [(k, v) for t in history if t.outcome == OK for f, k, v in t.ops if f == "append"]
    assert len(acked) > 100
    assert all(v in kv.get(k, []) for k, v in acked)
    log = (cluster.data_dir / f"s{victim[0]}r{victim[1]}.log").read_text()
    assert "truncated" in log and "not replayed" in log
    assert_checks(history)


def test_the_store_adapters(cluster: Cluster) -> None:
    async def main() -> None:
        async with open_mdss("mdss-single", cluster=cluster) as store:
            assert store.single and not store.one_big
            await store.load({5: [1], 6: 2})
            s = await store.session(0, 4)
            got = await asyncio.gather(s.execute([("append", 5, 2)]),
                                       s.execute([("r", 5, None), ("add", 6, 1)]))
            assert got[1] == [("r", 5, [1, 2]), ("add", 6, 1)]
            await s.close()
        async with open_mdss("mdss-1bt", cluster=cluster) as store:
            assert store.single and store.one_big
        with pytest.raises(UserError, match="unknown MDSS system"):
            async with open_mdss("mdss-nope", cluster=cluster):
                pass
        with pytest.raises(UserError, match="unknown option 'colour'"):
            async with open_mdss("mdss", cluster=cluster, colour=1):
                pass

    asyncio.run(main())


def test_a_killed_leader_fails_its_shard_fast() -> None:
    """No leader failover: killing one fails what touches its shard, quickly and never as
    committed, while the other shards go on."""

    async def main() -> tuple:
        async with Cluster(shards=2, replicas=3, delay_ms=DELAY_MS) as c:
            client = MdssClient(c.leader_ports, T)
            await client.connect()
            s = client.session()
            await s.execute([("w", 0, 1), ("w", 1, 1)])
            inflight = [s.execute([("w", 1, 2)]), s.execute([("w", 0, 3), ("w", 1, 3)])]
            c.kill(1, 0)
            t0 = time.monotonic()
            out = await asyncio.gather(*inflight, return_exceptions=True)
            took = time.monotonic() - t0
            await asyncio.sleep(0.01)
            fresh = [await asyncio.gather(s.execute([("w", 3, 1)]), return_exceptions=True)]
            await asyncio.sleep(0.01)
            fresh.append(await s.execute([("w", 2, 4)]))
            await client.close()
            return out, took, fresh

    out, took, fresh = asyncio.run(main())
    assert took < 1.0
    assert all(isinstance(x, TxnFailed | TxnUnknown) for x in out)
    assert isinstance(fresh[0][0], TxnFailed) and "shard 1" in str(fresh[0][0])
    assert fresh[1] == [("w", 2, 4)]


def test_a_taken_port_is_a_one_line_user_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        c = Cluster(shards=1, replicas=1, base_port=port)
        with pytest.raises(UserError) as err:
            c.start()
    message = str(err.value)
    assert "\n" not in message and f"127.0.0.1:{port} is taken" in message
    assert not c.pids()


def test_replicas_do_not_outlive_their_parent(tmp_path) -> None:
    """Even a parent killed by -9 leaves no replica behind (they watch their stdin)."""
    script = ("import time\nfrom syslab.txn.mdss import Cluster\n"
              "c = Cluster(shards=1, replicas=3)\nc.start()\n"
              "print(*c.pids(), flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 3 and all(_running(p) for p in pids)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        parent.stdout.close()
    deadline = time.monotonic() + 10
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(p) for p in pids)
