"""Our MDSS store: multi-dispatch strictly serializable transactions over 3 shards x 3 replicas.

Multi-dispatch strict serializability (MDSS, see `shared/research/consistency.md` §1): a
client may have many transactions in flight, and there is one serial order of the committed
ones that respects (1) each client's *issue* order, even for transactions whose lifetimes
overlap, (2) real time across clients, and (3) suffix-closed failures: if a client's
transaction fails, those it issued while it was in flight fail too.

Pieces (each module's doc has its details):

- `replica`: one OS process per replica (kill -9 is real), an asyncio TCP server on
  127.0.0.1 with a write-ahead log (`wal`: length + CRC32 records, group commit with
  fdatasync, a torn or corrupt tail truncated on open and never replayed). Replica 0 is its
  shard's fixed leader; it streams its log to the followers and acknowledges nothing before a
  majority (2 of 3) has it on disk. A follower that restarts replays its log, then catches up
  from the leader.
- `transport`: length-prefixed JSON over TCP, every message delivered after a configurable
  one-way delay T (no netem on this kernel), FIFO per connection.
- `shard`: the leader's transaction logic (two-phase locking with deadlock-free waiting,
  one-shot and chained transactions, lock inheritance along a client's chain), a plain
  object driven by messages.
- `coordinator`: the client's side, also a plain object: which path each transaction takes,
  its dependencies, the two-phase commits it coordinates, suffix-closed failures.
- `client`, `cluster`: the asyncio client library and the process manager;
  `syslab.txn.stores.mdss` wraps them as the "mdss", "mdss-single" and "mdss-1bt" stores.

Design. Ellis orders a client's operations with a chain of shard-to-shard messages, one hop
per transaction whose predecessor is on another shard, so its latency grows with the fan-out
(about 6T + (N-1)T). We make every transaction depend on *all* of its client's transactions
that are undecided when it is issued, not just the previous one, so nothing waits for a chain:

- every transaction of a request is sent to its shards at once and *prepared* in parallel
  (locks taken, reads done, effects held);
- a transaction on one shard whose dependencies are all on one shard each is decided by its
  own leader, from its dependencies' votes, which their leaders forward to it (one
  shard-to-shard message each, all in parallel): about 5T for a request of any size (T to
  the leaders, T for the forwarded votes, 2T to replicate, T back);
- any other transaction is decided by the client, as two-phase-commit coordinator, once its
  shards voted and its dependencies are decided: about 6T;
- a transaction on one shard with nothing of its client undecided is *one-shot*: its leader
  runs and commits it at once (4T for a write, 2T for a read), which is also what a
  single-dispatch client does for every such transaction, so at fan-out 1 both are equal.

A single-dispatch client pays 4T to 6T per transaction, N times. Later transactions of a
client may read an earlier one's tentative writes (lock inheritance), so a write and the read
issued right after it neither conflict nor miss each other. A request that meets another
client's lock waits if the holder is older and is refused if it is younger (priorities by
issue time, so that no wait can close a cycle, see `shard`); a refusal fails the
transaction and, by suffix closure, its client's later transactions in flight: that is the
price of deciding without a global order.

Why the histories are MDSS. Give every committed transaction a point in time: the latest of
its own prepare (of all its parts) and its dependencies' points (recursively, the latest
prepare among it and everything it depends on). A transaction is decided only after all
those prepares (it waits for their votes or decisions), so the point lies inside its
lock-hold interval on every shard it touches. Order the committed transactions by these
points (ties by issue order).

- Legal: two conflicting transactions of different clients never hold conflicting locks at
  the same time, and each one's point lies inside its own hold interval, so their order on
  every shared key is the order of their points. Two of the same client may hold a key
  together (lock inheritance), but then the later one read the earlier one's tentative
  values, depends on it, and so has the later point; a leader commits a client's
  transactions in issue order, and a transaction never reads the writes of one that aborts,
  because it aborts with it. Each read therefore sees the last write before it in this order.
- Issue order: a transaction's point is at least its dependencies' points, and an earlier
  transaction decided before a later one was issued has its point before that issue.
- Real time: a point lies between invocation and response (it is no earlier than the
  transaction's own prepare and earlier than its decision), so if T1 answered before T2 was
  invoked, T1's point is earlier.
- Suffix-closed failures: a transaction commits only if every transaction it depends on
  commits (`coordinator` shows that the leaders' vote-based decisions and the client's agree);
  one issued after an earlier one failed but before the application recorded that failure
  fails at once.
- Durability: a commit is answered only when its log record is on a majority, a read only
  when everything it could have read is, and answers come in issue order, so no
  acknowledged transaction, and none it depends on, is lost when a follower dies.

Faults supported: kill -9 of any follower at any time (the leader and the other follower are
a majority; the restarted follower replays its log, truncating a torn or corrupt tail, and
catches up from its leader). Not supported: leader failover. Leaders are fixed; killing one
stops its shard (transactions touching it fail, or are indeterminate if their commit was in
flight there, and one whose commit was in flight to it may be committed on its other shards
only), and a leader is not restarted. A client is its transactions' coordinator, so a client
process that dies between sending its commit messages can likewise leave a transaction
committed on some shards only; the clients live in the benchmark process, which does not
die mid-run.
"""

from syslab.txn.mdss.client import MdssClient, Session
from syslab.txn.mdss.cluster import Cluster

__all__ = ["Cluster", "MdssClient", "Session"]
