"""The MDSS protocol cores (`shard.Shard`, `coordinator.Chain`) over an in-memory network:
values, issue order, lock conflicts and suffix-closed failures, return order, single
dispatch, lost leaders, durability, without processes or sockets."""

from __future__ import annotations

from collections import deque

import pytest

from syslab.txn.mdss.coordinator import (
    FAILED,
    OK,
    PRED_FAILED,
    PRED_LOST,
    UNKNOWN,
    Chain,
    ClientTxn,
)
from syslab.txn.mdss.ops import merge, split
from syslab.txn.mdss.shard import Shard

SHARDS = 3


class Net:
    """Shard leaders and client chains; messages delivered in one global FIFO order.
    A shard's log counts as replicated at once unless the shard is in `hold`."""

    def __init__(self) -> None:
        self.shards = [Shard(s, SHARDS) for s in range(SHARDS)]
        self.chains: dict[str, Chain] = {}
        self.q: deque = deque()
        self.delivered: list[ClientTxn] = []
        self.hold: set[int] = set()
        self.lost: set[int] = set()
        self.sent: list[tuple[str, int, dict]] = []

    def chain(self, cid: str, single: bool = False) -> Chain:
        def send(s: int, msg: dict) -> None:
            self.sent.append((cid, s, msg))
            self.q.append(("to-shard", cid, s, msg))

        c = Chain(cid, SHARDS, send, self.delivered.append, single=single)
        self.chains[cid] = c
        return c

    def run(self) -> None:
        while self.q:
            kind, cid, s, msg = self.q.popleft()
            if s in self.lost:
                continue
            if kind == "to-shard":
                shard = self.shards[s]
                shard.handle(cid, msg)
                self._release(s)
            else:
                self.chains[cid].on_message(s, msg)

    def _release(self, s: int) -> None:
        shard = self.shards[s]
        shard.take_records()
        if s not in self.hold:
            shard.durable(shard.log_end)
        for origin, reply in shard.take_out():
            self.q.append(("to-client", origin, s, reply))

    def replicate(self, s: int) -> None:
        self.hold.discard(s)
        self._release(s)

    def lose(self, s: int) -> None:
        self.lost.add(s)
        for c in self.chains.values():
            c.on_lost(s)


def committed(t: ClientTxn) -> list:
    assert t.outcome == OK, (t.outcome, t.error)
    return t.result


def test_split_and_merge_a_scan_across_shards() -> None:
    ops = [("scan", 4, 5), ("r", 5, None)]
    parts = split(ops, SHARDS)
    assert sorted(parts) == [0, 1, 2]
    results = {0: [[60]], 1: [[40, 70]], 2: [[50, 80], 5]}
    assert merge(ops, results, parts, SHARDS) == [("scan", 4, [40, 50, 60, 70, 80]),
                                                  ("r", 5, 5)]
    assert merge([("scan", 1, 0)], {}, split([("scan", 1, 0)], SHARDS), SHARDS) == [
        ("scan", 1, [])]


def test_single_and_multi_shard_transactions_compute_the_right_values() -> None:
    net = Net()
    a = net.chain("a")
    t1 = a.issue([("w", 1, 10), ("append", 2, 7), ("add", 3, 5), ("append", 2, 8)])
    net.run()
    t2 = a.issue([("r", 1, None), ("r", 2, None), ("add", 3, -2), ("r", 3, None),
                  ("scan", 0, 5), ("r", 9, None)])
    net.run()
    assert committed(t1) == [("w", 1, 10), ("append", 2, 7), ("add", 3, 5), ("append", 2, 8)]
    assert committed(t2) == [("r", 1, 10), ("r", 2, [7, 8]), ("add", 3, -2), ("r", 3, 3),
                             ("scan", 0, [None, 10, [7, 8], 3, None]), ("r", 9, None)]
    one = a.issue([("add", 4, 1)])  # one shard, nothing undecided: one-shot
    assert one.one_shot
    net.run()
    committed(one)
    assert net.shards[1].kv == {1: 10, 4: 1}
    assert all(not s.locks and not s.prepared for s in net.shards)


def test_a_read_issued_right_after_a_write_sees_it() -> None:
    """Issue order under multi-dispatch: nothing has answered when the read is sent."""
    net = Net()
    a = net.chain("a")
    w = a.issue([("w", 1, 1), ("w", 2, 2)])  # two shards: prepared, holding its locks
    r = a.issue([("r", 1, None), ("r", 2, None)])  # inherits them, sees the tentative values
    w1 = a.issue([("append", 4, 1)])
    r1 = a.issue([("r", 4, None)])
    assert not r.one_shot and not w1.one_shot
    net.run()
    committed(w)
    committed(w1)
    assert committed(r) == [("r", 1, 1), ("r", 2, 2)]
    assert committed(r1) == [("r", 4, [1])]
    assert [t.index for t in net.delivered] == [0, 1, 2, 3]


def test_a_conflict_fails_the_transaction_and_its_successors_in_flight() -> None:
    net = Net()
    a, b = net.chain("a"), net.chain("b")
    ta = a.issue([("w", 1, 1), ("w", 2, 1)])  # prepares first on both shards
    tb = b.issue([("w", 1, 2)])  # one-shot at shard 1: key 1 is locked -> refused
    tb2 = b.issue([("w", 5, 2)])  # issued while tb was in flight
    tb3 = b.issue([("r", 6, None), ("w", 7, 3)])
    net.run()
    committed(ta)
    assert tb.outcome == FAILED and "lock conflict on key 1" in tb.error
    assert [tb2.outcome, tb3.outcome] == [FAILED, FAILED]
    assert tb2.error == tb3.error == PRED_FAILED
    # until the application has seen the failure, new transactions fail too
    tb4 = b.issue([("w", 8, 4)])
    assert tb4.outcome == FAILED and tb4.error == PRED_FAILED
    for t in (tb, tb2, tb3, tb4):
        b.settle(t)
    tb5 = b.issue([("w", 8, 5)])
    net.run()
    committed(tb5)
    assert net.shards[2].kv.get(5) is None and 7 not in net.shards[1].kv
    assert net.shards[2].kv[8] == 5
    assert all(not s.locks and not s.prepared for s in net.shards)


def test_an_abort_releases_the_chain_it_leaves_behind() -> None:
    """A refused transaction whose successors inherited its locks on other shards: they
    all abort and every lock goes."""
    net = Net()
    a, b = net.chain("a"), net.chain("b")
    a.issue([("w", 2, 1), ("w", 4, 1)])  # holds key 2 (shard 2) and 4 (shard 1)
    t1 = b.issue([("w", 3, 1), ("w", 2, 9)])  # shard 0 ok, shard 2 refused
    t2 = b.issue([("r", 3, None), ("w", 6, 1)])  # inherits key 3 on shard 0
    net.run()
    assert t1.outcome == t2.outcome == FAILED
    assert net.shards[0].kv == {}
    assert all(not s.locks and not s.prepared for s in net.shards)


def test_answers_come_in_issue_order() -> None:
    net = Net()
    a = net.chain("a")
    net.hold.add(1)  # shard 1's log is not replicated yet
    t1 = a.issue([("w", 1, 1), ("w", 2, 1)])
    t2 = a.issue([("w", 3, 1)])
    net.run()
    assert t2.decision == "commit" and t2.outcome == OK and not net.delivered
    net.replicate(1)
    net.run()
    assert [t.index for t in net.delivered] == [0, 1]
    assert t1.outcome == OK


def test_a_read_is_answered_only_when_what_it_read_is_durable() -> None:
    net = Net()
    a, b = net.chain("a"), net.chain("b")
    net.hold.add(1)
    w = a.issue([("w", 1, 5)])
    net.run()
    r = b.issue([("r", 1, None)])
    net.run()
    assert w.outcome is None and r.outcome is None  # both wait for replication
    net.replicate(1)
    net.run()
    assert committed(r) == [("r", 1, 5)]


def test_single_dispatch_sends_the_next_transaction_after_the_previous_answered() -> None:
    net = Net()
    a = net.chain("a", single=True)
    ts = [a.issue([("w", k, k)]) for k in range(4)]
    assert [m["x"] for _, _, m in net.sent] == [ts[0].id]
    net.run()
    assert all(t.outcome == OK and t.one_shot for t in ts)
    assert [m["x"] for _, _, m in net.sent] == [t.id for t in ts]


def test_single_dispatch_failures_are_suffix_closed_too() -> None:
    net = Net()
    a, b = net.chain("a"), net.chain("b", single=True)
    a.issue([("w", 1, 1), ("w", 2, 1)])
    t1 = b.issue([("w", 1, 2)])
    t2 = b.issue([("w", 4, 2)])  # waits its turn; t1 fails meanwhile
    net.run()
    assert t1.outcome == t2.outcome == FAILED and t2.error == PRED_FAILED
    assert all(m["x"] != t2.id for _, _, m in net.sent)  # never sent


def test_a_bad_op_fails_the_transaction() -> None:
    net = Net()
    a = net.chain("a")
    t1 = a.issue([("append", 1, 1)])
    net.run()
    a.settle(t1)
    t2 = a.issue([("add", 1, 1)])
    t3 = a.issue([("nope", 1, 1)])
    net.run()
    assert t2.outcome == FAILED and "add needs an integer" in t2.error
    assert t3.outcome == FAILED


def test_a_lost_leader_fails_what_it_had_not_decided() -> None:
    net = Net()
    a = net.chain("a")
    t1 = a.issue([("w", 1, 1)])  # one-shot to shard 1: may or may not have run
    t2 = a.issue([("w", 0, 1), ("w", 2, 1)])  # depends on t1, shards 0 and 2
    net.lose(1)
    assert t1.outcome == UNKNOWN
    assert t2.outcome == FAILED and t2.error == PRED_LOST
    a.settle(t1)
    a.settle(t2)
    t3 = a.issue([("w", 1, 2)])
    assert t3.outcome == FAILED and "shard 1" in t3.error
    a.settle(t3)
    t4 = a.issue([("w", 3, 1), ("w", 5, 1)])  # shards 0 and 2 still work
    t5 = a.issue([("w", 4, 1), ("w", 6, 1)])  # shard 1: fails at once
    net.run()
    committed(t4)
    assert t5.outcome == FAILED


def test_a_lost_leader_mid_two_phase_commit() -> None:
    net = Net()
    a = net.chain("a")
    net.hold.add(2)
    t1 = a.issue([("w", 0, 1), ("w", 2, 1)])
    net.run()  # decided commit; shard 2's record not durable yet
    t2 = a.issue([("w", 3, 1), ("w", 4, 1)])
    net.q.clear()  # t2's prepares are lost with the leaders' replies
    net.lose(2)
    assert t1.outcome == UNKNOWN and "before the commit was durable" in t1.error
    net.lost.discard(2)
    net.lose(1)
    assert t2.outcome == FAILED and "before the transaction was decided" in t2.error


def test_a_client_gone_releases_its_locks() -> None:
    shard = Shard(0, SHARDS)
    shard.handle("conn", {"t": "P", "x": "a.0", "c": "a", "i": 0,
                          "o": [[0, "w", 3, 1]]})
    assert shard.locks and shard.prepared
    shard.forget("conn")
    assert not shard.locks and not shard.prepared and shard.kv == {}


@pytest.mark.parametrize("single", [False, True])
def test_many_clients_interleaved_keep_a_consistent_bank(single: bool) -> None:
    """Transfers between accounts on different shards, with conflicts: money is neither
    created nor lost, and every committed read of the total is right."""
    net = Net()
    accounts = list(range(6))
    init = net.chain("init")
    init.issue([("w", k, 100) for k in accounts])
    net.run()
    chains = [net.chain(f"c{i}", single=single) for i in range(4)]
    totals = []
    for round_ in range(30):
        for i, c in enumerate(chains):
            src, dst = (round_ + i) % 6, (round_ + 2 * i + 1) % 6
            if src != dst:
                c.issue([("add", src, -1), ("add", dst, 1)])
            totals.append(c.issue([("scan", 0, 6)]))
        if round_ % 3 == 2:
            net.run()
            for c in chains:
                for t in list(c.open):
                    if t.outcome is not None:
                        c.settle(t)
    net.run()
    kv = {k: v for s in net.shards for k, v in s.kv.items()}
    assert sum(kv[k] for k in accounts) == 600
    ok = [t for t in totals if t.outcome == OK]
    assert ok
    assert all(sum(t.result[0][2]) == 600 for t in ok)
