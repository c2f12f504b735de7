"""Workload generators, seeded and skewed: `make_workload(name, keys=, zipf=, seed=)`."""

from __future__ import annotations

from collections.abc import Callable

from syslab.common.errors import UserError
from syslab.txn.workloads.base import Workload, ZipfKeys
from syslab.txn.workloads.elle import ListAppend, RwRegister
from syslab.txn.workloads.fanout import Fanout, OrderProbe, probe_violations
from syslab.txn.workloads.retwis import Retwis
from syslab.txn.workloads.tpcc import Tpcc
from syslab.txn.workloads.ycsb import MIXES, ClosedEconomy, Ycsb


def _ycsb(variant: str) -> Callable[..., Workload]:
    return lambda **kw: Ycsb(variant, **kw)


WORKLOADS: dict[str, tuple[Callable[..., Workload], str]] = {
    "list-append": (ListAppend, "Elle list-append: reads and appends, checkable"),
    "rw-register": (RwRegister, "Elle rw-register: reads and writes, checkable"),
    **{f"ycsb-{v}": (_ycsb(v), f"YCSB {v.upper()}") for v in MIXES},
    "closed-economy": (ClosedEconomy, "YCSB+T closed economy: transfers and audits"),
    "retwis": (Retwis, "Retwis: add_user, follow, post_tweet, get_timeline"),
    "tpcc": (Tpcc, "key-value TPC-C: NewOrder and Payment"),
    "fanout": (Fanout, "single-key reads and writes, for fan-out requests"),
    "order-probe": (OrderProbe, "write a fresh key, then read it: issue-order violations"),
}


def make_workload(name: str, **options) -> Workload:
    """The workload `name` (see WORKLOADS) with `options` (keys, zipf, seed, ...)."""
    if name not in WORKLOADS:
        raise UserError(f"unknown workload {name!r} (known: {', '.join(WORKLOADS)})")
    return WORKLOADS[name][0](**options)


__all__ = ["WORKLOADS", "ClosedEconomy", "Fanout", "ListAppend", "OrderProbe", "Retwis",
           "RwRegister", "Tpcc", "Workload", "Ycsb", "ZipfKeys", "make_workload",
           "probe_violations"]
