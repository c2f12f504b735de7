"""The training lab's quick experiment: one small CNN, data-parallel three ways.

A small CNN (1.3M parameters) on synthetic 32x32 images, batch 16 per worker: alone, then on
2 workers with torch DDP, our overlapped DataParallel and our naive one (an allreduce per
parameter). Every step is timed by phase and every byte counted; in a private network
namespace (when this machine allows one) the wire bytes too.
"""

from __future__ import annotations

from pathlib import Path

from syslab.common.report import Section, Table
from syslab.train.launcher import launch, resolve_network
from syslab.train.metrics import summarize
from syslab.train.plots import implementations
from syslab.train.worker import RunConfig

RUNS = (("local", 1), ("ddp", 2), ("ours-overlap", 2), ("ours-naive", 2))


def tour(out: Path) -> Section:
    """Phase breakdown, bytes and final weights of one model under four implementations."""
    out.mkdir(parents=True, exist_ok=True)
    network, why = resolve_network("auto")
    rows = []
    for impl, workers in RUNS:
        cfg = RunConfig(model="cnn", batch=16, impl=impl, iterations=4, warmup=2,
                        timeout_s=60)
        row = summarize(launch(cfg, workers, network=network))
        rows.append({**row, "ms per step": row["iteration_s"] * 1e3,
                     "forward ms": row["forward_s"] * 1e3,
                     "backward ms": row["backward_compute_s"] * 1e3,
                     "exposed comm ms": row["exposed_comm_s"] * 1e3,
                     "payload MB": row["payload_bytes"] / 1e6})
    ddp, ours = rows[1], rows[2]
    same = ddp["checksum"] == ours["checksum"]
    wire = (f"each worker sent {ddp['wire_ratio']:.3f}x the ring allreduce's 2(N-1)/N of the "
            "model (counted on the private namespace's loopback)" if "wire_ratio" in ddp
            else why)
    figure = implementations(rows, out / "train_impls.png", "small CNN, batch 16")
    columns = ["impl", "workers", "ms per step", "forward ms", "backward ms",
               "exposed comm ms", "payload MB", "buckets"]
    return Section(
        title="train: where a data-parallel step spends its time",
        text=(f"A small CNN ({ddp['param_bytes'] / 1e6:.1f} MB of weights) on synthetic "
              "images. Per step, DDP handed allreduce exactly the model's bytes "
              f"({ddp['payload_bytes']:,} B); {wire}. Our overlapped DataParallel "
              f"ended with weights {'bit-identical to' if same else 'different from'} DDP's "
              f"and took {ours['iteration_s'] / ddp['iteration_s']:.2f}x its step time; "
              "naive (an allreduce per parameter) "
              f"{rows[3]['iteration_s'] / ddp['iteration_s']:.2f}x. On 2 cores the "
              "workers share the CPU, so absolute times are this machine's."),
        tables=[Table("data-parallel training, small CNN, batch 16 per worker", columns, rows,
                      {"ms per step": ".1f", "forward ms": ".1f", "backward ms": ".1f",
                       "exposed comm ms": ".1f", "payload MB": ".2f"})],
        figures=[figure],
    )
