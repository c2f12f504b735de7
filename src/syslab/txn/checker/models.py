"""Which anomalies each consistency model forbids.

Every model forbids the read anomalies (G1a, G1b, internal, incompatible-order,
duplicate-elements, garbage-read): the last four mean the store lost its single order of
versions or its own writes, which no model in Adya's hierarchy allows. Cycles:

| model               | forbidden cycle kinds      | cycles that count         |
|---------------------|----------------------------|---------------------------|
| read-committed      | G0, G1c                    | data edges only           |
| snapshot-isolation  | G0, G1c, G-single          | data edges only           |
| serializable        | G0, G1c, G-single, G2-item | data edges only           |
| strict-serializable | all four                   | data + realtime edges     |
| mdss                | all four                   | data + realtime + process |

Strict serializability does not count `-process` cycles. A single-dispatch client invokes
a transaction only after the previous one completed, so its process edges are realtime
edges already and a `-process` cycle cannot arise from it; one arises only when a
multi-dispatch client's transactions overlapped, and strict serializability leaves
overlapping transactions unordered. Ordering them by issue order is exactly what MDSS
adds, together with suffix-closed failures (`failure-suffix`, see `mdss`).
"""

from __future__ import annotations

from dataclasses import dataclass

from syslab.common.errors import UserError
from syslab.txn.checker.anomalies import (
    CYCLE_KINDS,
    CYCLE_NAMES,
    READ_ANOMALIES,
    base_kind,
    level_of,
)


@dataclass(frozen=True)
class Model:
    name: str
    kinds: tuple[str, ...]  # cycle kinds it forbids
    levels: int  # 1: data edges, 2: + realtime, 3: + process
    mdss: bool  # suffix-closed failures, and commits they prove

    def forbids(self, anomaly: str) -> bool:
        if anomaly in READ_ANOMALIES:
            return True
        if anomaly == "failure-suffix":
            return self.mdss
        if anomaly not in CYCLE_NAMES:
            raise ValueError(f"unknown anomaly {anomaly!r}")
        return base_kind(anomaly) in self.kinds and level_of(anomaly) < self.levels


MODELS: dict[str, Model] = {m.name: m for m in (
    Model("read-committed", ("G0", "G1c"), 1, False),
    Model("snapshot-isolation", ("G0", "G1c", "G-single"), 1, False),
    Model("serializable", CYCLE_KINDS, 1, False),
    Model("strict-serializable", CYCLE_KINDS, 2, False),
    Model("mdss", CYCLE_KINDS, 3, True),
)}


def model(name: str) -> Model:
    """The model called `name`; a UserError naming the known ones otherwise."""
    if name not in MODELS:
        raise UserError(f"unknown consistency model {name!r} (known: {', '.join(MODELS)})")
    return MODELS[name]


__all__ = ["MODELS", "Model", "model"]
