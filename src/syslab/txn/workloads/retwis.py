"""Retwis, the Twitter clone TAPIR and Spanner-RSS benchmark with, as their mix:

| transaction  | share | micro-ops                                         |
|--------------|-------|---------------------------------------------------|
| add_user     | 5 %   | read the user, write user, followers, timeline    |
| follow       | 15 %  | read and write both users' follow lists           |
| post_tweet   | 30 %  | read and write 3 counters, write the post twice   |
| get_timeline | 50 %  | read 1..10 timeline entries                       |

Keys are drawn with the workload's skew (Zipf 0.7 in those papers); posts take fresh keys
above the user key space. Values are counters, so the workload measures performance, not
consistency (its histories are not checkable: values repeat).
"""

from __future__ import annotations

from syslab.txn.history import Op
from syslab.txn.workloads.base import Workload

MIX = (("add_user", 0.05), ("follow", 0.15), ("post_tweet", 0.30), ("get_timeline", 0.50))


class Retwis(Workload):
    name = "retwis"

    def __init__(self, keys: int = 1000, zipf: float = 0.7, seed: int = 0) -> None:
        super().__init__(keys, zipf, seed)
        self.post = keys  # posts get fresh keys
        self.value = 0

    def _w(self, key: int) -> Op:
        self.value += 1
        return ("w", key, self.value)

    def next(self, client: int) -> list[Op]:
        kind = MIX[int(self.rng.choice(len(MIX), p=[share for _, share in MIX]))][0]
        if kind == "add_user":
            user, followers, timeline = self.keys.distinct(3)
            return [("r", user, None), self._w(user), self._w(followers), self._w(timeline)]
        if kind == "follow":
            a, b = self.keys.distinct(2)
            return [("r", a, None), ("r", b, None), self._w(a), self._w(b)]
        if kind == "post_tweet":
            ops: list[Op] = []
            for key in self.keys.distinct(3):
                ops += [("r", key, None), self._w(key)]
            self.post += 2
            return ops + [self._w(self.post - 2), self._w(self.post - 1)]
        n = int(self.rng.integers(1, 11))
        return [("r", key, None) for key in self.keys.distinct(n)]


__all__ = ["MIX", "Retwis"]
