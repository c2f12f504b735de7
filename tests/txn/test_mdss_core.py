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
    QUIET_TURNS,
    UNKNOWN,
    Chain,
    ClientTxn,
)
from syslab.txn.mdss.ops import merge, split
from syslab.txn.mdss.shard import VOTES_KEPT, Shard

SHARDS = 3


class Net:
    """Shard leaders and client chains; messages delivered in one global FIFO order, except
    on client -> shard links that are `paused` (held back until `resume`). A shard's log
    counts as replicated at once unless the shard is in `hold`. Chains' clocks tick once per
    reading, so earlier transactions are older, unless a chain is given its own clock."""

    def __init__(self) -> None:
        self.shards = [Shard(s, SHARDS) for s in range(SHARDS)]
        self.chains: dict[str, Chain] = {}
        self.q: deque = deque()
        self.delivered: list[ClientTxn] = []
        self.hold: set[int] = set()
        self.lost: set[int] = set()
        self.paused: dict[tuple[str, int], list] = {}
        self.sent: list[tuple[str, int, dict]] = []
        self.now = 0.0
        self.ticking: set[str] = set()  # chains holding failures until quiet

    def tick(self) -> float:
        self.now += 1.0
        return self.now

    def chain(self, cid: str, single: bool = False, clock=None) -> Chain:
        def send(s: int, msg: dict) -> None:
            self.sent.append((cid, s, msg))
            held = self.paused.get((cid, s))
            if held is not None:
                held.append(("to-shard", cid, s, msg))
            else:
                self.q.append(("to-shard", cid, s, msg))

        c = Chain(cid, SHARDS, send, self.delivered.append, single=single,
                  clock=clock or self.tick, on_hold=lambda: self.ticking.add(cid))
        self.chains[cid] = c
        return c

    def pause(self, cid: str, s: int) -> None:
        self.paused[cid, s] = []

    def resume(self, cid: str, s: int) -> None:
        self.q.extend(self.paused.pop((cid, s)))

    def run(self, ticks: bool = True) -> None:
        """Deliver everything; then let event-loop turns pass until held failures go."""
        while self.q or (ticks and self.ticking):
            if not self.q:
                for cid in list(self.ticking):
                    if not self.chains[cid].tick():
                        self.ticking.discard(cid)
                continue
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
            if isinstance(origin, tuple):  # a vote forwarded to another leader
                held = self.paused.get((("peer", s), origin[1]))
                msg = ("to-shard", ("peer", s), origin[1], reply)
                (held if held is not None else self.q).append(msg)
            else:
                self.q.append(("to-client", origin, s, reply))

    def replicate(self, s: int) -> None:
        self.hold.discard(s)
        self._release(s)

    def lose(self, s: int) -> None:
        self.lost.add(s)
        for c in self.chains.values():
            c.on_lost(s)
        for other in range(SHARDS):
            if other not in self.lost:
                self.shards[other].peer_lost(s)
                self._release(other)


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


def test_a_request_waits_for_an_older_holder() -> None:
    net = Net()
    a, b = net.chain("a"), net.chain("b")
    ta = a.issue([("w", 1, 1), ("w", 2, 1)])  # prepares first on both shards, holds key 1
    tb = b.issue([("r", 1, None)])  # one-shot, younger: waits for key 1
    tb2 = b.issue([("w", 1, 2), ("w", 5, 2)])  # behind tb at shard 1 (issue order)
    net.run()
    committed(ta)
    assert committed(tb) == [("r", 1, 1)]  # ordered after ta, whose lock it waited for
    committed(tb2)
    assert net.shards[1].kv[1] == 2
    assert all(not s.locks and not s.prepared and not s.waiting for s in net.shards)


def test_a_younger_holder_refuses_and_the_suffix_fails() -> None:
    net = Net()
    a, b = net.chain("a"), net.chain("b", clock=lambda: 0.0)  # b is older than a
    ta = a.issue([("w", 1, 1), ("w", 2, 1)])  # prepares first on both shards, holds key 1
    tb = b.issue([("w", 1, 2)])  # older, meets a younger holder: refused
    tb2 = b.issue([("w", 5, 2)])  # issued while tb was in flight
    tb3 = b.issue([("r", 6, None), ("w", 7, 3)])
    net.run()
    committed(ta)
    assert tb.outcome == FAILED and "lock conflict on key 1" in tb.error
    assert [tb2.outcome, tb3.outcome] == [FAILED, FAILED]
    assert tb2.error.startswith(PRED_FAILED) and tb3.error.startswith(PRED_FAILED)
    # until the application has seen the failure, new transactions fail too
    tb4 = b.issue([("w", 8, 4)])
    assert tb4.outcome == FAILED and tb4.error.startswith(PRED_FAILED)
    for t in (tb, tb2, tb3, tb4):
        b.settle(t)
    tb5 = b.issue([("w", 8, 5)])
    net.run()
    committed(tb5)
    assert net.shards[2].kv.get(5) is None and 7 not in net.shards[1].kv
    assert net.shards[2].kv[8] == 5
    assert all(not s.locks and not s.prepared for s in net.shards)


def test_failures_are_answered_together_once_the_client_is_quiet() -> None:
    net = Net()
    a, b = net.chain("a"), net.chain("b", clock=lambda: 0.0)
    a.issue([("w", 1, 1), ("w", 2, 1)])
    tb = b.issue([("w", 1, 2)])  # refused
    tb2 = b.issue([("w", 5, 2)])
    net.run(ticks=False)
    assert tb.outcome == tb2.outcome == FAILED and not net.delivered[1:]
    assert b.tick()  # a turn passes
    tb3 = b.issue([("w", 8, 1)])  # issued while they are held: fails, joins them
    assert tb3.outcome == FAILED and tb3.error.startswith(PRED_FAILED)
    turns = 1
    while b.tick():
        turns += 1
    assert turns == QUIET_TURNS
    assert net.delivered[1:] == [tb, tb2, tb3]


def test_an_abort_releases_the_chain_it_leaves_behind() -> None:
    """A refused transaction whose successors inherited its locks on other shards: they
    all abort and every lock goes."""
    net = Net()
    a, b = net.chain("a"), net.chain("b", clock=lambda: 0.0)
    a.issue([("w", 2, 1), ("w", 4, 1)])  # holds key 2 (shard 2) and 4 (shard 1)
    t1 = b.issue([("w", 3, 1), ("w", 2, 9)])  # shard 0 ok, shard 2 refused
    t2 = b.issue([("r", 3, None), ("w", 6, 1)])  # inherits key 3 on shard 0
    net.run()
    assert t1.outcome == t2.outcome == FAILED
    assert net.shards[0].kv == {}
    assert all(not s.locks and not s.prepared and not s.waiting for s in net.shards)


def test_a_waiting_request_keeps_its_place() -> None:
    """An older request waiting for a key also holds off younger ones from the other keys
    it wants, so it is not starved (and not refused by them later)."""
    net = Net()
    h, w, n = net.chain("h"), net.chain("w"), net.chain("n")
    th = h.issue([("w", 0, 1), ("w", 1, 1)])  # oldest: holds key 0 on shard 0
    tw = w.issue([("add", 0, 10), ("add", 3, 10)])  # waits for key 0, wants key 3 too
    tn = n.issue([("add", 3, 100)])  # youngest, key 3 is free: still waits behind tw
    net.run()
    committed(th)
    committed(tw)
    committed(tn)
    assert net.shards[0].kv == {0: 11, 3: 110}
    assert net.shards[0].log_end == 3


@pytest.mark.parametrize("older", ["a", "b"])
def test_waits_never_close_a_cycle(older: str) -> None:
    """The cycle naive waiting would build: A1 waits for B2's lock, B2's decision for its
    predecessor B1, B1 for A2's lock, A2's decision for A1. Priorities break it: only a
    wait for an older holder is allowed, so the older client's request, which meets the
    younger one's lock, is refused, and the younger client commits everything."""
    net = Net()
    a = net.chain("a", clock=lambda: 1.0 if older == "a" else 2.0)
    b = net.chain("b", clock=lambda: 2.0 if older == "a" else 1.0)
    net.pause("b", 1)
    b1 = b.issue([("w", 1, 1), ("w", 2, 1)])  # shards 1 (held back) and 2
    b2 = b.issue([("w", 0, 2), ("w", 5, 2)])  # shards 0 and 2: holds key 0
    net.run()
    a1 = a.issue([("w", 0, 3), ("w", 8, 3)])  # wants key 0 on shard 0
    a2 = a.issue([("w", 1, 4), ("w", 11, 4)])  # takes key 1 on shard 1
    net.run()
    net.resume("b", 1)  # now b1 wants key 1
    net.run()
    losers, winners = ((a1, a2), (b1, b2)) if older == "a" else ((b1, b2), (a1, a2))
    assert all(t.outcome == OK for t in winners)
    assert all(t.outcome == FAILED for t in losers)
    assert all(not s.locks and not s.prepared and not s.waiting for s in net.shards)


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


def kinds(net: Net) -> list[str]:
    return [m["t"] for _, _, m in net.sent]


def test_single_shard_transactions_are_decided_by_their_leaders() -> None:
    """A request of single-shard transactions on different shards: the first is one-shot,
    the others chained; their leaders decide them from forwarded votes, with no vote or
    decision round trip to the client, and in issue order where they share a key."""
    net = Net()
    a = net.chain("a")
    t1 = a.issue([("append", 1, 1)])  # shard 1, one-shot
    t2 = a.issue([("append", 2, 2)])  # shard 2, chained on t1
    t3 = a.issue([("r", 1, None), ("r", 4, None)])  # shard 1, chained on t1 and t2
    t4 = a.issue([("append", 2, 4), ("r", 2, None)])  # shard 2: inherits t2's tentative list
    net.run()
    assert t1.one_shot and all(t.chained for t in (t2, t3, t4))
    assert committed(t3) == [("r", 1, [1]), ("r", 4, None)]
    assert committed(t4) == [("append", 2, 4), ("r", 2, [2, 4])]
    assert "D" not in kinds(net)  # no decisions from the client
    assert kinds(net).count("N") == 3  # t2 asks shard 1; t3 shard 2; t4 shard 1
    assert net.shards[2].kv == {2: [2, 4]}
    assert all(not s.locks and not s.chained for s in net.shards)
    assert net.shards[1].votes["a"] == {0: True, 1: True, 2: True}  # 1: forwarded
    for s in net.shards:  # the session closes: its votes go
        s.handle("conn", {"t": "B", "c": "a"})
    assert all(not s.votes for s in net.shards)


def test_a_no_vote_fails_the_chained_transactions_after_it() -> None:
    net = Net()
    a, b = net.chain("a"), net.chain("b", clock=lambda: 0.0)
    a.issue([("w", 1, 1), ("w", 2, 1)])  # younger, holds key 1
    tb1 = b.issue([("w", 1, 2)])  # older one-shot, refused at shard 1
    tb2 = b.issue([("w", 3, 2)])  # chained at shard 0: its leader hears tb1's no vote
    tb3 = b.issue([("w", 5, 2)])  # chained at shard 2
    net.run()
    assert tb2.chained and tb3.chained
    assert [t.outcome for t in (tb1, tb2, tb3)] == [FAILED] * 3
    assert tb2.error.startswith(PRED_FAILED) and tb3.error.startswith(PRED_FAILED)
    assert 3 not in net.shards[0].kv and 5 not in net.shards[2].kv
    assert all(not s.locks and not s.chained and not s.waiting for s in net.shards)


def test_a_slow_vote_holds_back_the_later_chained_transactions_on_its_shard() -> None:
    """t2 and t3 are chained on shard 2; t2 waits for t1's vote from shard 1, which is slow:
    t3 (which inherits t2's write) commits only after t2, in issue order."""
    net = Net()
    a = net.chain("a")
    net.pause(("peer", 1), 2)
    t1 = a.issue([("w", 1, 1)])
    t2 = a.issue([("append", 2, 1)])
    t3 = a.issue([("append", 2, 2)])
    net.run()
    assert t1.outcome == OK and t2.decision is None and t3.decision is None
    assert net.shards[2].kv == {}
    net.resume(("peer", 1), 2)
    net.run()
    committed(t2)
    committed(t3)
    assert net.shards[2].kv == {2: [1, 2]}


def test_pruning_keeps_the_votes_a_waiting_chained_transaction_needs() -> None:
    """Regression (a live run stalled: all 16 x 8 transactions in flight indeterminate): a
    chained a.300 waits for an older holder's lock, with its dependency a.299's vote already
    here; a.299 commits and settles, so a.301 arrives with `lo` 300 and, the client having
    more than VOTES_KEPT votes here, pruning used to drop a.299's vote. a.300 then held its
    locks forever waiting for it, and everyone behind it waited too."""
    shard = Shard(0, SHARDS)
    shard.handle("b", {"t": "P", "x": "b.0", "c": "b", "i": 0, "ts": 1.0,
                       "o": [[0, "w", 3, 0]]})  # two-phase, older: holds key 3
    for i in range(VOTES_KEPT + 44):
        shard.handle(("peer", 1), {"t": "F", "c": "a", "i": i, "ok": 1})
    shard.handle("a", {"t": "P", "x": "a.300", "c": "a", "i": 300, "ts": 2.0, "lo": 0,
                       "d": [[299, 1]], "o": [[0, "w", 3, 1]]})
    assert [p.id for p in shard.waiting] == ["a.300"]
    shard.handle("a", {"t": "P", "x": "a.301", "c": "a", "i": 301, "ts": 3.0, "lo": 300,
                       "d": [[300, 0]], "o": [[0, "w", 6, 1]]})
    assert 299 in shard.votes["a"] and 0 not in shard.votes["a"]  # the rest is pruned
    shard.handle("b", {"t": "D", "x": "b.0", "c": 1})
    replies = [(m["t"], m["x"]) for _, m in shard.take_out()]
    shard.durable(shard.log_end)
    replies += [(m["t"], m["x"]) for _, m in shard.take_out()]
    assert ("O", "a.300") in replies and ("O", "a.301") in replies
    assert shard.kv == {3: 1, 6: 1}
    assert not shard.locks and not shard.chained and not shard.waiting


def test_a_lost_peer_aborts_what_waits_for_its_votes() -> None:
    net = Net()
    a = net.chain("a")
    net.pause(("peer", 1), 2)
    t1 = a.issue([("w", 1, 1)])  # shard 1 runs it, but its vote never reaches shard 2
    t2 = a.issue([("w", 2, 1)])
    net.run()
    net.lose(1)
    net.run()
    assert t1.outcome == OK  # answered before its leader went
    assert t2.outcome == FAILED and t2.error.startswith(PRED_FAILED)
    assert not net.shards[2].locks and 2 not in net.shards[2].kv


def test_a_two_phase_transaction_after_chained_ones_waits_for_their_decisions() -> None:
    net = Net()
    a = net.chain("a")
    t1 = a.issue([("append", 1, 1)])
    t2 = a.issue([("append", 2, 1)])
    t3 = a.issue([("r", 1, None), ("r", 2, None)])  # two shards: the client decides it
    net.run()
    assert t2.chained and not t3.chained and not t3.one_shot
    assert committed(t3) == [("r", 1, [1]), ("r", 2, [1])]
    assert [t.index for t in net.delivered] == [0, 1, 2]
    committed(t1)


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
    a, b = net.chain("a"), net.chain("b", single=True, clock=lambda: 0.0)
    a.issue([("w", 1, 1), ("w", 2, 1)])
    t1 = b.issue([("w", 1, 2)])
    t2 = b.issue([("w", 4, 2)])  # waits its turn; t1 fails meanwhile
    net.run()
    assert t1.outcome == t2.outcome == FAILED and t2.error.startswith(PRED_FAILED)
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
    assert t2.outcome == FAILED and t2.error.startswith(PRED_LOST)
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
    shard.handle("conn", {"t": "P", "x": "a.0", "c": "a", "i": 0, "ts": 1.0,
                          "o": [[0, "w", 3, 1]]})
    shard.handle("conn2", {"t": "P", "x": "b.0", "c": "b", "i": 0, "ts": 2.0,
                           "o": [[0, "r", 3, None]]})
    assert shard.locks and shard.prepared and shard.waiting
    shard.forget("conn")  # b's read gets the key
    assert [(to, m["t"], m["ok"]) for to, m in shard.take_out()] == [
        ("conn", "V", 1), ("conn2", "V", 1)]
    shard.forget("conn2")
    assert not shard.locks and not shard.prepared and not shard.waiting
    assert shard.kv == {}


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
