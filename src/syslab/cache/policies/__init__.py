"""Eviction policies: one small file per algorithm, all behind `Policy` (see base.py).

`make_policy("s3fifo", capacity)` builds one by name; `POLICIES` lists them all. Modules are
imported on first use so that listing names stays cheap.
"""

from __future__ import annotations

from importlib import import_module

from syslab.cache.policies.base import Policy
from syslab.common.errors import UserError

# name -> "module:Class" (module under syslab.cache.policies)
_REGISTRY: dict[str, str] = {
    "fifo": "fifo:FIFO",
    "lru": "lru:LRU",
    "clock": "clock:Clock",
    "lfu": "lfu:LFU",
    "2q": "twoq:TwoQ",
    "slru": "slru:SLRU",
    "arc": "arc:ARC",
    "lirs": "lirs:LIRS",
    "s3fifo": "s3fifo:S3FIFO",
    "sieve": "sieve:Sieve",
    "wtinylfu": "wtinylfu:WTinyLFU",
    "lecar": "lecar:LeCaR",
    "gdsf": "gdsf:GDSF",
    "belady": "belady:Belady",
    "as3fifo": "as3fifo:AS3FIFO",
}

POLICIES: tuple[str, ...] = tuple(_REGISTRY)


def policy_class(name: str) -> type[Policy]:
    """The class registered under `name` (case-insensitive); UserError if there is none."""
    try:
        module, cls = _REGISTRY[name.lower()].split(":")
    except KeyError:
        raise UserError(f"unknown policy {name!r}; choose from {', '.join(POLICIES)}") from None
    return getattr(import_module(f"syslab.cache.policies.{module}"), cls)


def make_policy(name: str, capacity: int, *, next_access=None) -> Policy:
    """Build policy `name` over `capacity` units; offline policies also need `next_access`."""
    cls = policy_class(name)
    if cls.needs_future:
        if next_access is None:
            raise UserError(f"policy {name!r} is offline: it needs the trace's future")
        return cls(capacity, next_access=next_access)
    return cls(capacity)


__all__ = ["POLICIES", "Policy", "make_policy", "policy_class"]
