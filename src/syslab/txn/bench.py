"""`syslab txn bench`: systems × Zipf skews × depths, each point a real run with its history.

For every system the harness starts the server(s) once (`stores.registry.open_system`),
then for each (zipf, depth) point: loads the workload's initial state (which also clears
what the previous point left), runs the clients for `duration` seconds, summarises the run
(`metrics.summarize`), writes the history as JSON Lines, and — with `probe` — runs the
issue-order probe at the same depth for `probe_s` seconds, whose reads that miss the write
just issued by the same client give the issue-order violation rate. Checkable workloads
(list-append, rw-register, the probe) can be checked afterwards with `syslab txn check`;
`check=True` does it at once with the model the system claims.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from syslab.common.errors import UserError
from syslab.txn.history import write_history
from syslab.txn.metrics import summarize
from syslab.txn.runner import run_clients
from syslab.txn.workloads import make_workload, probe_violations


@dataclass
class BenchConfig:
    """One sweep: what runs, how long, where histories go."""

    systems: Sequence[str]
    workload: str = "list-append"
    depths: Sequence[int] = (1, 2, 4, 8, 16, 32, 64)
    zipfs: Sequence[float] = (0.99,)
    clients: int = 4
    duration: float = 3.0
    warmup: float = 0.5  # seconds at the start left out of the numbers (metrics.summarize)
    keys: int = 100
    seed: int = 0
    request_size: int | None = None
    one_big: bool = False
    timeout: float = 10.0
    probe: bool = True
    probe_s: float = 1.0
    check: bool = False
    out_dir: Path | None = None
    system_options: dict = field(default_factory=dict)

    def validate(self) -> None:
        from syslab.txn.stores.registry import SYSTEMS
        from syslab.txn.workloads import WORKLOADS

        unknown = [s for s in self.systems if s not in SYSTEMS]
        if unknown:
            raise UserError(f"unknown system {unknown[0]!r} (known: {', '.join(SYSTEMS)})")
        if self.workload not in WORKLOADS:
            raise UserError(f"unknown workload {self.workload!r} "
                            f"(known: {', '.join(WORKLOADS)})")
        if not self.systems or not self.depths or not self.zipfs:
            raise UserError("a sweep needs at least one system, depth and zipf value")
        if any(d < 1 for d in self.depths):
            raise UserError(f"depths must be at least 1, got {list(self.depths)}")
        if any(not 0 <= z <= 5 for z in self.zipfs):
            raise UserError(f"zipf skews must be in 0..5, got {list(self.zipfs)}")
        if self.clients < 1 or self.duration <= 0 or self.keys < 1 or self.warmup < 0:
            raise UserError("clients, duration and keys must be positive, warm-up >= 0")


# The strongest model each system promises a single-dispatch client; the bench checks its
# histories against it. (Issue order under multi-dispatch is promised by MDSS alone.)
CLAIMED_MODELS = {"pg-serializable": "strict-serializable",
                  "pg-repeatable-read": "snapshot-isolation",
                  "pg-read-committed": "read-committed",
                  "redis": "strict-serializable", "etcd": "strict-serializable",
                  "zookeeper": "serializable", "sqlite": "strict-serializable",
                  "mdss": "mdss"}


def claimed_model(system: str) -> str:
    """The model `system` claims (its family's: pg-serializable-pooled -> pg-serializable)."""
    family = max((f for f in CLAIMED_MODELS if system.startswith(f)), key=len, default=None)
    return CLAIMED_MODELS[family] if family else "serializable"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


async def _point(store, cfg: BenchConfig, system: str, zipf: float, depth: int) -> dict:
    workload = make_workload(cfg.workload, keys=cfg.keys, zipf=zipf, seed=cfg.seed)
    await store.load(workload.initial())
    meta = {"system": system, "model": claimed_model(system), "depth": depth,
            "clients": cfg.clients, "request_size": cfg.request_size, "timeout": cfg.timeout,
            **workload.describe()}
    run = await run_clients(store, workload.next, clients=cfg.clients, depth=depth,
                            duration=cfg.warmup + cfg.duration, timeout=cfg.timeout, meta=meta,
                            request_size=cfg.request_size, one_big=cfg.one_big)
    row = {**meta, **summarize(run, cfg.warmup)}
    if cfg.out_dir is not None:
        name = f"{_slug(system)}_{_slug(cfg.workload)}_z{zipf:g}_d{depth}.jsonl"
        row["history"] = str(write_history(Path(cfg.out_dir) / name, run.history))
    if cfg.check and workload.checkable:
        from syslab.txn.checker import check

        report = check(run.history, model=claimed_model(system))
        row |= {"model": report.model, "valid": report.valid, "anomalies": report.counts()}
    if cfg.probe:
        probe = make_workload("order-probe", seed=cfg.seed)
        await store.load({})
        prun = await run_clients(store, probe.next, clients=cfg.clients, depth=depth,
                                 duration=cfg.probe_s, timeout=cfg.timeout)
        pairs, violations = probe_violations(prun.history)
        row |= {"probe_pairs": pairs, "probe_violations": violations,
                "violation_rate": violations / pairs if pairs else None}
    return row


async def run_bench(cfg: BenchConfig,
                    on_point: Callable[[dict], None] | None = None) -> list[dict]:
    """Every point of the sweep, in order; `on_point` sees each row as it is done."""
    from syslab.txn.stores.registry import open_system

    cfg.validate()
    rows = []
    for system in cfg.systems:
        async with open_system(system, **cfg.system_options.get(system, {})) as store:
            for zipf in cfg.zipfs:
                for depth in cfg.depths:
                    row = await _point(store, cfg, system, zipf, depth)
                    rows.append(row)
                    if on_point is not None:
                        on_point(row)
    return rows


def bench(cfg: BenchConfig, on_point: Callable[[dict], None] | None = None) -> list[dict]:
    """`run_bench` on a fresh event loop."""
    return asyncio.run(run_bench(cfg, on_point))


__all__ = ["CLAIMED_MODELS", "BenchConfig", "bench", "claimed_model", "run_bench"]
