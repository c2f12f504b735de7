"""From ranks' records to the numbers a report shows: one row per run.

A step is synchronous across ranks, so each phase is averaged over ranks per step and then
the median over steps is taken (robust to the odd slow step on a shared machine).
"""

from __future__ import annotations

import statistics

from syslab.train.launcher import RunResult
from syslab.train.timers import PHASES
from syslab.train.worker import DDP_LOGGER_FIELDS

# Our per-step timers and the DDP logger field each is compared with (cut where the
# logger cuts: see IterationTimes.logger_backward_compute).
TIMER_PAIRS = {"forward": ("forward", "forward_compute_time"),
               "backward_compute": ("logger_backward_compute", "backward_compute_time"),
               "communication": ("logger_comm", "backward_comm_time")}


def ring_bytes(model_bytes: int, workers: int) -> float:
    """What one rank sends per allreduce of `model_bytes` with a ring: 2(N-1)/N x size."""
    return 2 * (workers - 1) / workers * model_bytes


def _per_step(ranks: list[dict], key: str) -> list[float]:
    """`key` of every measured step, averaged over ranks."""
    n = min(len(r["steps"]) for r in ranks)
    return [statistics.fmean(r["steps"][i][key] for r in ranks) for i in range(n)]


def summarize(result: RunResult) -> dict:
    """One flat row: the configuration, median phase times, bytes and DDP's own timers."""
    cfg, ranks, n = result.config, result.ranks, result.workers
    steps = len(ranks[0]["steps"])
    row: dict = {
        "model": cfg.model, "batch": cfg.batch, "workers": n, "impl": cfg.impl,
        "bucket_cap_mb": cfg.bucket_cap_mb, "instrument": cfg.instrument,
        "network": result.network, "rate_mbit": result.rate_mbit, "image_size": cfg.image_size,
        "steps": steps, "param_bytes": ranks[0]["param_bytes"],
        "buffer_bytes": ranks[0]["buffer_bytes"],
    }
    for key in (*PHASES, "total", "comm_busy", "comm_span", "overlap"):
        row[f"{key}_s"] = statistics.median(_per_step(ranks, key))
    row["iteration_s"] = row.pop("total_s")
    row["accumulate"] = cfg.accumulate
    row["samples_per_s"] = n * cfg.batch * cfg.accumulate / row["iteration_s"]
    payloads = {s["payload_bytes"] for r in ranks for s in r["steps"]}
    row["payload_bytes"] = max(payloads) if payloads else 0
    row["payload_constant"] = len(payloads) <= 1
    row["buckets"] = statistics.median(len(s["buckets"]) for s in ranks[0]["steps"])
    # Against the model's full-precision size: fp16 compression then shows as a 0.5 ratio.
    row["ring_bytes"] = ring_bytes(row["param_bytes"], n)
    if result.network == "veth":
        row["wire_tx_per_rank"] = statistics.fmean(r["wire"]["tx"] for r in ranks) / steps
    elif result.network == "loopback":  # one lo for all ranks: each packet counted once
        row["wire_tx_per_rank"] = ranks[0]["wire"]["tx"] / n / steps
    else:
        row["wire_tx_per_rank"] = None  # the host's lo carries other processes' traffic
    if row["wire_tx_per_rank"] is not None and row["ring_bytes"]:
        row["wire_ratio"] = row["wire_tx_per_rank"] / row["ring_bytes"]
    if all(r["ddp_logger"] for r in ranks):
        for key in DDP_LOGGER_FIELDS:
            per_step = [statistics.fmean(r["ddp_logger"][i][key] for r in ranks)
                        for i in range(steps)]
            row[f"ddp_{key}_s"] = statistics.median(per_step)
        # Ours against DDP's logger step by step (both timed the same step on the same
        # rank): the median ratio, so a slow step does not count as a disagreement.
        for name, (ours, theirs) in TIMER_PAIRS.items():
            ratios = [r["steps"][i][ours] / r["ddp_logger"][i][theirs]
                      for r in ranks for i in range(steps) if r["ddp_logger"][i][theirs] > 0]
            row[f"timer_ratio_{name}"] = statistics.median(ratios) if ratios else None
    row["checksums_equal"] = len({r["checksum"] for r in ranks}) == 1
    row["checksum"] = ranks[0]["checksum"]  # sum of the final weights, to compare impls
    # The compute profile a performance model replays: each parameter's gradient-ready time
    # (median over steps, rank 0) and its size.
    first = ranks[0]
    row["param_sizes"] = first["param_sizes"]
    timed = first["config"].get("instrument", True)
    row["ready_s"] = ([_median_ready(first["steps"], i) for i in range(len(row["param_sizes"]))]
                      if timed else None)
    return row


def _median_ready(steps: list[dict], index: int) -> float | None:
    """Median gradient-ready time of parameter `index` over the steps it got a gradient."""
    times = [s["ready"][index] for s in steps if s["ready"][index] is not None]
    return statistics.median(times) if times else None


def comm_rows(ranks: list[dict], network: str, rate: float | None) -> list[dict]:
    """One row per size: the median time (slowest rank) and wire bytes over the ring's."""
    n = len(ranks)
    rows = []
    for i, first in enumerate(ranks[0]["sizes"]):
        size = first["bytes"]
        tx = (sum(r["sizes"][i]["tx"] for r in ranks) / n if network == "veth"
              else first["tx"] / n if network == "loopback" else None)
        rows.append({"workers": n, "network": network, "rate_mbit": rate, "bytes": size,
                     "median_s": max(r["sizes"][i]["median_s"] for r in ranks),
                     "wire_tx_per_rank": tx,
                     "wire_ratio": tx / ring_bytes(size, n) if tx is not None else None})
    return rows
