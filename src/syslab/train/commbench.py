"""The allreduce microbenchmark behind the alpha-beta fit: `python -m syslab.train.commbench`.

Each rank allreduces float32 tensors of every size in the sweep, `repeats` times after a
warm-up, timing each call between barriers (so every rank starts together and the time is
the collective's, not a straggler's). Run through `launcher.launch(CommConfig(...), n)`, in a
private namespace, it also reads the interface counters around each size: the wire bytes
per rank that gloo's ring sends, against 2(N-1)/N x the size.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from syslab.common.errors import UserError
from syslab.train.worker import rank_main

DEFAULT_SIZES = tuple(2**k for k in range(16, 27, 2))  # 64 KiB .. 64 MiB


@dataclass
class CommConfig:
    """Sizes in bytes (float32 tensors), repeats per size, and the launcher's fields."""

    sizes: list[int] = field(default_factory=lambda: list(DEFAULT_SIZES))
    repeats: int = 5
    warmup: int = 1
    threads: int = 1
    timeout_s: float = 120.0
    interface: str = "lo"

    ENTRY: ClassVar[str] = "syslab.train.commbench"

    def __post_init__(self) -> None:
        if not self.sizes or any(s < 4 for s in self.sizes):
            raise UserError("allreduce sizes must be at least 4 bytes (one float32)")
        if self.repeats < 1 or self.warmup < 0:
            raise UserError("repeats must be at least 1 and warm-up at least 0")

    @property
    def total_steps(self) -> int:
        return len(self.sizes)

    def memory_per_worker(self) -> int:
        return 3 * max(self.sizes) + 300 * 2**20

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> CommConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def run(cfg: CommConfig, out_dir: Path) -> dict:
    import torch
    import torch.distributed as dist

    from syslab.train.netns import interface_bytes

    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    torch.set_num_threads(cfg.threads)
    dist.init_process_group("gloo", rank=rank, world_size=world,
                            timeout=timedelta(seconds=cfg.timeout_s))
    results = []
    for i, size in enumerate(cfg.sizes):
        tensor = torch.ones(size // 4)
        for _ in range(cfg.warmup):
            dist.all_reduce(tensor)
        dist.barrier()  # bytes: back-to-back calls, no barrier traffic in the window
        before = interface_bytes(cfg.interface)
        dist.barrier()
        for _ in range(cfg.repeats):
            dist.all_reduce(tensor)
        dist.barrier()
        after = interface_bytes(cfg.interface)
        times = []  # time: each call from a common start
        for _ in range(cfg.repeats):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(tensor)
            times.append(time.perf_counter() - start)
        results.append({"bytes": tensor.numel() * 4, "times": times,
                         "median_s": statistics.median(times),
                         "tx": (after[1] - before[1]) / cfg.repeats,
                         "rx": (after[0] - before[0]) / cfg.repeats})
        (out_dir / f"rank{rank}.progress").write_text(str(i + 1))
    dist.destroy_process_group()
    record = {"rank": rank, "world_size": world, "config": asdict(cfg), "sizes": results}
    (out_dir / f"rank{rank}.json").write_text(json.dumps(record))
    return record


if __name__ == "__main__":
    sys.exit(rank_main(CommConfig, run))
