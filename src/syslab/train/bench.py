"""`syslab train bench`: models x batch sizes x worker counts x implementations, repeated.

Repeats are interleaved (every configuration once, then every configuration again) so that a
slow spell on this shared machine spreads over all configurations instead of sinking one.
Every run appends its row to a JSON Lines file as soon as it ends, so an interrupted sweep
keeps what it measured; `aggregate` folds the repeats into median and min per configuration.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from syslab.common.errors import UserError
from syslab.common.records import write_jsonl
from syslab.train.impls import get_impl
from syslab.train.launcher import NETWORKS, launch
from syslab.train.metrics import summarize
from syslab.train.worker import RunConfig

# What identifies a configuration across repeats.
CONFIG_KEYS = ("model", "batch", "workers", "impl", "bucket_cap_mb", "network", "rate_mbit",
               "image_size", "accumulate", "instrument")


@dataclass
class BenchConfig:
    """One sweep: the grid, how many steps per run, how many repeats, where rows go."""

    models: Sequence[str]
    batches: Sequence[int] = (32,)
    workers: Sequence[int] = (1, 2)
    impls: Sequence[str] = ("ddp",)
    repeats: int = 3
    iterations: int = 10
    warmup: int = 3
    bucket_cap_mb: Sequence[float | None] = (None,)  # None: DDP's default layout
    image_size: int = 32
    classes: int = 1000
    network: str = "auto"
    rate_mbit: Sequence[float | None] = (None,)
    threads: int = 1
    timeout_s: float = 120.0
    accumulate: int = 1
    trace_dir: Path | None = None  # torch.profiler traces of every run, one folder each
    out: Path | None = None

    def validate(self) -> None:
        from syslab.train.models import model_bytes

        for name in self.models:
            model_bytes(name, num_classes=self.classes, image_size=self.image_size)
        for impl in self.impls:
            get_impl(impl)
        if not (self.models and self.batches and self.workers and self.impls):
            raise UserError("a sweep needs at least one model, batch size, worker count "
                            "and implementation")
        if any(b < 1 for b in self.batches):
            raise UserError(f"batch sizes must be at least 1, got {list(self.batches)}")
        if any(n < 1 for n in self.workers):
            raise UserError(f"worker counts must be at least 1, got {list(self.workers)}")
        if self.accumulate < 1:
            raise UserError(f"accumulate must be at least 1, got {self.accumulate}")
        if self.repeats < 1 or self.iterations < 1 or self.warmup < 0:
            raise UserError("repeats and iterations must be at least 1, warm-up at least 0")
        if any(b is not None and b <= 0 for b in self.bucket_cap_mb):
            raise UserError(f"bucket sizes must be positive, got {list(self.bucket_cap_mb)}")
        if self.network not in NETWORKS:
            raise UserError(f"unknown network {self.network!r}; known: {', '.join(NETWORKS)}")
        if any(r is not None for r in self.rate_mbit) and self.network != "veth":
            raise UserError("a bandwidth limit needs --network veth")

    def runs(self) -> list[tuple[RunConfig, int, float | None]]:
        """One round of the grid: (config, workers, rate), skipping what cannot run
        (`local` needs one worker)."""
        plan = []
        for model in self.models:
            for batch in self.batches:
                for n in self.workers:
                    for impl in self.impls:
                        if get_impl(impl).kind == "local" and n != 1:
                            continue
                        for cap in self.bucket_cap_mb:
                            for rate in self.rate_mbit:
                                if rate is not None and n == 1:
                                    continue
                                cfg = RunConfig(
                                    model=model, batch=batch, impl=impl,
                                    iterations=self.iterations, warmup=self.warmup,
                                    image_size=self.image_size, classes=self.classes,
                                    bucket_cap_mb=cap,
                                    threads=self.threads, timeout_s=self.timeout_s,
                                    accumulate=self.accumulate,
                                    profile=self.trace_dir is not None)
                                plan.append((cfg, n, rate))
        return plan


def run_bench(bench: BenchConfig, *, on_row: Callable[[dict], None] | None = None,
              progress: Callable[[int, int, str], None] | None = None) -> list[dict]:
    """Run every configuration `repeats` times, interleaved; return (and append) the rows."""
    bench.validate()
    plan = bench.runs()
    rows: list[dict] = []
    total = len(plan) * bench.repeats
    done = 0
    for repeat in range(bench.repeats):
        for cfg, n, rate in plan:
            label = f"{cfg.model} b{cfg.batch} N{n} {cfg.impl}"
            if progress:
                progress(done, total, label)
            run_dir = None
            if bench.trace_dir is not None:
                cap = "default" if cfg.bucket_cap_mb is None else f"{cfg.bucket_cap_mb:g}"
                run_dir = bench.trace_dir / (f"{cfg.model}_b{cfg.batch}_n{n}_{cfg.impl}_"
                                             f"cap{cap}_rate{rate or 'none'}_r{repeat}")
            result = launch(cfg, n, network=bench.network, rate_mbit=rate, out_dir=run_dir)
            row = {**summarize(result), "repeat": repeat, "wall_s": result.wall_s}
            rows.append(row)
            if bench.out is not None:
                write_jsonl(bench.out, [row], append=True)
            if on_row:
                on_row(row)
            done += 1
    if progress:
        progress(done, total, "done")
    return rows


def config_key(row: dict) -> tuple:
    return tuple(row.get(k) for k in CONFIG_KEYS)


def aggregate(rows: Sequence[dict]) -> list[dict]:
    """Repeats folded into one row per configuration: medians of every timing, the min of
    the iteration time, and the repeat count. Byte counts are taken as they are (exact)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(config_key(row), []).append(row)
    out = []
    for group in groups.values():
        merged = dict(group[0])
        for key, value in group[0].items():
            if key.endswith("_s") and isinstance(value, int | float):
                values = [g[key] for g in group if g.get(key) is not None]
                merged[key] = statistics.median(values)
        merged["iteration_min_s"] = min(g["iteration_s"] for g in group)
        merged["samples_per_s"] = (merged["workers"] * merged["batch"]
                                   * merged.get("accumulate", 1) / merged["iteration_s"])
        merged["repeats"] = len(group)
        merged.pop("repeat", None)
        out.append(merged)
    return out


def with_baseline(rows: Sequence[dict]) -> list[dict]:
    """Add scaling efficiency: samples/s over N x the one-worker samples/s of the same model
    and batch (the `local` run if there is one, else the one-worker run of the same impl)."""
    single: dict[tuple, float] = {}
    for row in rows:
        if row["workers"] == 1:
            key = (row["model"], row["batch"])
            if row["impl"] == "local" or key not in single:
                single[key] = row["samples_per_s"]
    out = []
    for row in rows:
        base = single.get((row["model"], row["batch"]))
        eff = row["samples_per_s"] / (row["workers"] * base) if base else None
        out.append({**row, "scaling_efficiency": eff})
    return out
