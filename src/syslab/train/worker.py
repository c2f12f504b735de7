"""One rank of a data-parallel training run: `python -m syslab.train.worker CONFIG OUTDIR`.

It reads its place the way torchrun sets it (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so
`torchrun --nproc-per-node 2 -m syslab.train.worker run.json out/` works too; our launcher
(`launcher.py`) sets the same variables and can put each rank in its own network namespace.

A rank trains `warmup + iterations` steps on synthetic data, times every step (`timers.py`),
records its buckets (`hooks.py`), reads its interface counters around the measured steps and,
under torch DDP, DDP's own per-step timers. It writes `OUTDIR/rank<k>.json`. Any failure
(a peer that died, a timeout) ends in one line on stderr and exit code 3, so the launcher can
report it instead of hanging.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from syslab.common.errors import UserError

# The per-step fields of DDP's logging data (ns), sampled every step (sample rate 1).
DDP_LOGGER_FIELDS = ("forward_compute_time", "backward_compute_time", "backward_comm_time",
                     "backward_compute_comm_overlap_time")


@dataclass
class RunConfig:
    """Everything one run needs; the same for every rank (written as JSON by the launcher)."""

    model: str
    batch: int
    impl: str = "ddp"
    iterations: int = 10
    warmup: int = 3
    image_size: int = 32
    classes: int = 1000
    # None: DDP's default layout (25 MiB buckets, the first one 1 MiB); a number: that cap
    # for every bucket, the first included (DDP's own rule when bucket_cap_mb is given).
    bucket_cap_mb: float | None = None
    threads: int = 1
    seed: int = 0
    lr: float = 0.01
    timeout_s: float = 120.0
    interface: str = "lo"
    profile: bool = False
    instrument: bool = True  # gradient-ready hooks, DDP's counting hook and logger sampling
    accumulate: int = 1  # micro-batches per step; all but the last run under no_sync()

    ENTRY: ClassVar[str] = "syslab.train.worker"  # the module the launcher runs per rank

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise UserError(f"batch size must be at least 1, got {self.batch}")
        if self.iterations < 1 or self.warmup < 0:
            raise UserError("iterations must be at least 1 and warm-up at least 0")
        if self.bucket_cap_mb is not None and self.bucket_cap_mb <= 0:
            raise UserError(f"bucket size must be positive, got {self.bucket_cap_mb} MiB")
        if self.accumulate < 1:
            raise UserError(f"accumulate must be at least 1, got {self.accumulate}")
        if self.threads < 1 or self.timeout_s <= 0:
            raise UserError("threads and the timeout must be positive")

    @property
    def total_steps(self) -> int:
        return self.warmup + self.iterations

    def memory_per_worker(self) -> int:
        """Bytes one rank needs, generously: weights, gradients, momentum and buckets (~4x
        the parameters), activations (estimated from the batch) and the interpreter."""
        from syslab.train.models import model_bytes

        weights = model_bytes(self.model, num_classes=self.classes, image_size=self.image_size)
        activations = self.batch * 3 * self.image_size**2 * 400
        return 4 * weights + activations + 300 * 2**20

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _counters(interface: str) -> tuple[int, int]:
    from syslab.train.netns import interface_bytes

    return interface_bytes(interface)


def run(cfg: RunConfig, out_dir: Path) -> dict:
    """Train as this rank and return (and write) its record."""
    import torch
    import torch.distributed as dist

    from syslab.train.hooks import CommLog
    from syslab.train.impls import get_impl, sync_context, wrap
    from syslab.train.models import build_model, parameter_bytes
    from syslab.train.timers import GradReadyClock, iteration_times
    from syslab.train.workloads import SyntheticImages

    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    impl = get_impl(cfg.impl)
    if impl.kind == "local" and world != 1:
        raise UserError("implementation 'local' runs one worker only")
    torch.set_num_threads(cfg.threads)
    data = SyntheticImages(cfg.batch, cfg.image_size, cfg.classes)
    torch.manual_seed(cfg.seed)  # same initial weights everywhere (DDP broadcasts them too)
    module = build_model(cfg.model, num_classes=cfg.classes, image_size=cfg.image_size)
    params = list(module.parameters())
    distributed = impl.kind != "local"
    if distributed:
        dist.init_process_group("gloo", rank=rank, world_size=world,
                                timeout=timedelta(seconds=cfg.timeout_s))
    log = CommLog()
    model = wrap(impl, module, log, bucket_cap_mb=cfg.bucket_cap_mb,
                 instrument=cfg.instrument)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    clock = GradReadyClock(params if cfg.instrument else [])
    gen = data.generator(cfg.seed, rank)
    progress = out_dir / f"rank{rank}.progress"
    steps, ddp_steps = [], []
    wire_start = (0, 0)

    def barrier() -> None:
        if distributed:
            dist.barrier()

    profiler = None
    for step in range(cfg.warmup + cfg.iterations):
        measured = step >= cfg.warmup
        if step == cfg.warmup:  # counters bracket the measured steps; barriers keep the
            barrier()           # other ranks' traffic from falling outside the window
            wire_start = _counters(cfg.interface)
            barrier()
            if cfg.profile:
                profiler = torch.profiler.profile(
                    activities=[torch.profiler.ProfilerActivity.CPU])
                profiler.__enter__()
        log.take()
        extra = _accumulate(cfg.accumulate - 1, model, data, gen, loss_fn)
        marks = {"start": time.perf_counter()}
        images, labels = data.batch_of(gen)
        marks["data"] = time.perf_counter()
        with sync_context(impl, model):
            loss = loss_fn(model(images), labels)
            marks["forward"] = time.perf_counter()
            loss.backward()
        marks["backward"] = time.perf_counter()
        optimizer.step()
        optimizer.zero_grad(set_to_none=not impl.grad_views)
        marks["optimizer"] = time.perf_counter()
        if measured:
            timed = iteration_times(marks, clock.ready, log.take())
            for phase, seconds in extra.items():  # the micro-steps that did not sync
                setattr(timed, phase, getattr(timed, phase) + seconds)
            steps.append(timed.to_dict())
            if impl.kind == "ddp" and not impl.no_sync and cfg.instrument:
                logged = model._get_ddp_logging_data()
                ddp_steps.append({k: logged.get(k, 0) / 1e9 for k in DDP_LOGGER_FIELDS})
        progress.write_text(str(step + 1))
    barrier()
    wire_end = _counters(cfg.interface)
    if profiler is not None:
        profiler.__exit__(None, None, None)
        profiler.export_chrome_trace(str(out_dir / f"trace_rank{rank}.json"))
    clock.remove()
    record = {
        "rank": rank, "world_size": world, "config": asdict(cfg),
        "param_bytes": parameter_bytes(module),
        "param_count": sum(p.numel() for p in params),
        "param_sizes": [p.numel() * p.element_size() for p in params],
        "buffer_bytes": sum(b.numel() * b.element_size() for b in module.buffers()),
        "steps": steps, "ddp_logger": ddp_steps,
        "wire": {"interface": cfg.interface, "rx": wire_end[0] - wire_start[0],
                 "tx": wire_end[1] - wire_start[1]},
        "checksum": float(sum(p.detach().double().sum() for p in params)),
    }
    if distributed:
        dist.destroy_process_group()
    (out_dir / f"rank{rank}.json").write_text(json.dumps(record))
    return record


def _accumulate(micro_steps: int, model, data, gen, loss_fn) -> dict[str, float]:
    """Forward and backward of `micro_steps` batches without synchronising (gradient
    accumulation: `no_sync()` around forward and backward); their phase times, to add to the
    synchronised micro-step that follows and completes the step."""
    spent = {"data": 0.0, "forward": 0.0, "backward_compute": 0.0}
    for _ in range(micro_steps):
        t0 = time.perf_counter()
        images, labels = data.batch_of(gen)
        t1 = time.perf_counter()
        with model.no_sync() if hasattr(model, "no_sync") else contextlib.nullcontext():
            loss = loss_fn(model(images), labels)
            t2 = time.perf_counter()
            loss.backward()
        t3 = time.perf_counter()
        spent["data"] += t1 - t0
        spent["forward"] += t2 - t1
        spent["backward_compute"] += t3 - t2
    return spent


def rank_main(config_cls: type, run_fn: Callable[[Any, Path], dict],
              argv: list[str] | None = None) -> int:
    """A rank's entry point: `CONFIG.json OUTDIR` in, exit code out (0 done, 2 bad input,
    3 anything else, with one line on stderr for the launcher to show)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(f"usage: python -m {config_cls.ENTRY} CONFIG.json OUTDIR", file=sys.stderr)
        return 2
    rank = os.environ.get("RANK", "0")
    try:
        run_fn(config_cls.from_dict(json.loads(Path(argv[0]).read_text())), Path(argv[1]))
    except UserError as e:
        print(f"rank {rank}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a dead peer, a timeout: one line for the launcher to show
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"rank {rank}: {type(e).__name__}: {first}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(rank_main(RunConfig, run))
