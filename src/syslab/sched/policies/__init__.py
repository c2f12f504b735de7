"""Scheduling policies, one small file each, behind `base.Policy`.

`make_policy("las-het")` gives the heterogeneity-aware variant of any ranked policy:
same ranking, but each job goes to the GPU type where it runs fastest.
"""

from __future__ import annotations

from syslab.common.errors import UserError
from syslab.sched.policies.base import AllocationPolicy, Policy
from syslab.sched.policies.fifo import Fifo
from syslab.sched.policies.ftf import FinishTimeFairness
from syslab.sched.policies.gittins import Gittins
from syslab.sched.policies.las import Las
from syslab.sched.policies.las2d import Las2d
from syslab.sched.policies.max_min import MaxMin
from syslab.sched.policies.max_throughput import MaxThroughput
from syslab.sched.policies.min_makespan import MinMakespan
from syslab.sched.policies.rho_guard import RhoGuard
from syslab.sched.policies.sjf import Sjf
from syslab.sched.policies.srtf import Srtf
from syslab.sched.policies.themis import Themis

POLICIES: dict[str, type[Policy]] = {
    p.name: p for p in (Fifo, Sjf, Srtf, Las, Las2d, Gittins,
                        MaxMin, FinishTimeFairness, Themis, MinMakespan, MaxThroughput,
                        RhoGuard)
}
HET_SUFFIX = "-het"


def policy_names() -> list[str]:
    return list(POLICIES) + [n + HET_SUFFIX for n, cls in POLICIES.items()
                             if not cls.heterogeneity_aware]


def make_policy(name: str) -> Policy:
    """A fresh policy object for `name` (a policy is stateful across one simulation)."""
    base = name.removesuffix(HET_SUFFIX)
    cls = POLICIES.get(base)
    if cls is None:
        raise UserError(f"unknown policy {name!r} (one of {', '.join(policy_names())})")
    if name.endswith(HET_SUFFIX):
        if cls.heterogeneity_aware:
            raise UserError(f"{base!r} is heterogeneity-aware already: use {base!r}")
        if issubclass(cls, AllocationPolicy):
            how = "sees each GPU type's throughput"
        elif cls.preemptive:
            how = "GPU types dealt by speedup per GPU"
        else:
            how = "each job on its fastest free GPU type"
        cls = type(cls.__name__ + "Het", (cls,), {
            "name": name, "heterogeneity_aware": True, "description": f"{cls.description}; {how}",
        })
    return cls()


__all__ = ["AllocationPolicy", "Policy", "POLICIES", "make_policy", "policy_names"]
