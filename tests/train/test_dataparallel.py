"""Our DataParallel rungs against torch DDP over gloo on loopback.

One set of spawned processes (`_worker`) runs every distributed scenario once and saves what
it saw; the tests below assert on that, so process start-up (seconds) is paid once. Three
processes are spawned: ranks 0 and 1 run the main suite in a two-rank group while rank 2 waits,
then all three run a few scenarios where two ranks cannot tell right from wrong. Each scenario
trains a fresh model 5 SGD steps with ours and with DDP from the same rank-0 weights (each rank
seeds differently: the construction-time broadcast must fix that) on rank-dependent data.

Where results are bit-identical with DDP, and why:

- At 2 ranks, always (asserted for every rung): each element's allreduce is one addition,
  a + b, which is commutative, so the result depends neither on gloo's ring chunking nor on
  the bucket layout. Pre-division is DDP's (x * 1/2 on copy-in, x / 2 in place; both exact for
  a power of two, so at 2 ranks even dividing after the allreduce would agree). fp16
  compression matches `fp16_compress_hook` op for op: cast, divide in fp16, allreduce, cast
  back (dividing before the cast rounds fp16 subnormals differently, and fails).
- At 3 ranks, when the flat layouts match DDP's (the overlap rung with `rebuild_buckets`, which
  follows DDP's schedule: one bucket in iteration 1, rebuilt from the ready order after):
  gloo's ring then adds the same partial sums in the same order, and the pre-division is
  DDP's exact op (x * (1/3) on copy-in, x / 3 in place for gradient views, which differ in the
  last bit for some x). Otherwise the summation order differs and results are allclose only
  (rtol 1e-6, atol 1e-7; fp16 looser).
"""

from __future__ import annotations

import socket
import time
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from syslab.common.errors import UserError
from syslab.train.dataparallel import RUNGS, make_dataparallel
from syslab.train.dataparallel.bucketing import assign_buckets
from syslab.train.hooks import CommLog

PAIR = 2  # the main suite's world size
TRIO = 3  # the world size that tells pre-division and summation order apart
STEPS = 5
SMALL_CAP_MB = 0.002  # ~2 KiB: several buckets even for these tiny models


class TinyCNN(nn.Module):
    """Two conv+BatchNorm blocks: BatchNorm gives buffers for DDP to broadcast."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(x.mean(dim=(2, 3)))


class SmallMLP(nn.Module):
    def __init__(self, unused: bool = False) -> None:
        super().__init__()
        if unused:  # first parameters, so their bucket is the last one to launch
            self.unused = nn.Linear(4, 4)
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


MODELS: dict[str, Callable[[], nn.Module]] = {"cnn": TinyCNN, "mlp": SmallMLP}


def _batch(model: str, rank: int, step: int, micro: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 * rank + 10 * step + micro)
    shape = (8, 3, 8, 8) if model == "cnn" else (8, 32)
    return torch.randn(shape, generator=g), torch.randint(0, 10, (8,), generator=g)


def _fresh(model: str, rank: int) -> nn.Module:
    torch.manual_seed(100 + rank)  # differs per rank: the wrappers broadcast rank 0's weights
    return MODELS[model]()


def _train(wrapped: nn.Module, model: str, rank: int, micro: int = 1,
           set_to_none: bool = True) -> dict[str, torch.Tensor]:
    """STEPS SGD steps; with micro > 1, micro-1 no_sync micro-batches then a synced one."""
    opt = torch.optim.SGD(wrapped.parameters(), lr=0.1, momentum=0.9)
    for step in range(STEPS):
        opt.zero_grad(set_to_none=set_to_none)
        for m in range(micro):
            ctx = wrapped.no_sync() if m < micro - 1 else nullcontext()
            with ctx:
                x, y = _batch(model, rank, step, m)
                F.cross_entropy(wrapped(x), y).backward()
        opt.step()
    inner = wrapped.module
    params = torch.cat([p.detach().reshape(-1) for p in inner.parameters()])
    buffers = [b.detach().clone() for b in inner.buffers()]
    return {"params": params.clone(), "buffers": buffers}


def _ddp(module: nn.Module, fp16: bool = False, **kw: Any) -> nn.Module:
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import fp16_compress_hook
    from torch.nn.parallel import DistributedDataParallel

    ddp = DistributedDataParallel(module, **kw)
    if fp16:  # the hook's state is its process group (None: the default group)
        ddp.register_comm_hook(kw.get("process_group"), fp16_compress_hook)
    return ddp


# (name, model, our rung, our options, DDP options, micro-batches, zero_grad set_to_none)
VERSUS_DDP: list[tuple[str, str, str, dict, dict, int, bool]] = [
    ("naive", "cnn", "naive", {}, {}, 1, True),
    ("bucketed-cnn", "cnn", "bucketed", {}, {}, 1, True),
    ("bucketed-mlp", "mlp", "bucketed", {}, {}, 1, True),
    ("overlap", "cnn", "overlap", {}, {}, 1, True),
    ("overlap-rebuild", "cnn", "overlap", {"rebuild_buckets": True}, {}, 1, True),
    ("overlap-views", "cnn", "overlap", {"gradient_as_bucket_view": True},
     {"gradient_as_bucket_view": True}, 1, False),
    ("overlap-views-none", "mlp", "overlap", {"gradient_as_bucket_view": True},
     {"gradient_as_bucket_view": True}, 1, True),
    ("bucketed-fp16", "cnn", "bucketed", {"compression": "fp16"}, {"fp16": True}, 1, True),
    ("overlap-fp16", "mlp", "overlap", {"compression": "fp16"}, {"fp16": True}, 1, True),
    ("nosync-overlap", "cnn", "overlap", {}, {}, 3, True),
    ("nosync-bucketed", "mlp", "bucketed", {}, {}, 3, True),
    ("nosync-views", "cnn", "overlap", {"gradient_as_bucket_view": True},
     {"gradient_as_bucket_view": True}, 3, False),
]


def _versus_ddp(rank: int, group: dist.ProcessGroup | None, model: str, rung: str,
                ours_kw: dict, ddp_kw: dict, micro: int, set_to_none: bool) -> dict[str, Any]:
    ours = make_dataparallel(rung, _fresh(model, rank), bucket_cap_mb=SMALL_CAP_MB,
                             process_group=group, **ours_kw)
    out: dict[str, Any] = {"ours": _train(ours, model, rank, micro, set_to_none)}
    out["bucket_sizes"] = ours.bucket_sizes if hasattr(ours, "bucket_sizes") else []
    out["grads_are_views"] = all(
        any(p.grad.data_ptr() == v.data_ptr() for b in ours.buckets for v in b.views)
        for p in ours.params) if ours_kw.get("gradient_as_bucket_view") else None
    ddp = _ddp(_fresh(model, rank), bucket_cap_mb=SMALL_CAP_MB, process_group=group, **ddp_kw)
    out["ddp"] = _train(ddp, model, rank, micro, set_to_none)
    logging = ddp._get_ddp_logging_data()
    out["ddp_rebuilt_bucket_sizes"] = [int(s) for s in
                                       str(logging.get("rebuilt_bucket_sizes", "")).split(",")
                                       if s.strip()]
    return out


# At 3 ranks: bit-identical where the layouts match DDP's (rebuild), allclose elsewhere.
TRIO_VERSUS_DDP: list[tuple[str, str, str, dict, dict, int, bool]] = [
    ("trio-rebuild", "cnn", "overlap", {"rebuild_buckets": True}, {}, 1, True),
    ("trio-rebuild-views", "cnn", "overlap",
     {"rebuild_buckets": True, "gradient_as_bucket_view": True},
     {"gradient_as_bucket_view": True}, 1, False),
    ("trio-rebuild-fp16", "mlp", "overlap", {"rebuild_buckets": True, "compression": "fp16"},
     {"fp16": True}, 1, True),
    ("trio-rebuild-nosync", "mlp", "overlap", {"rebuild_buckets": True}, {}, 3, True),
    ("trio-naive", "cnn", "naive", {}, {}, 1, True),
    ("trio-overlap", "mlp", "overlap", {}, {}, 1, True),
    ("trio-overlap-fp16", "mlp", "overlap", {"compression": "fp16"}, {"fp16": True}, 1, True),
]


def _backward_only_in_no_sync(rank: int, group: dist.ProcessGroup) -> dict[str, Any]:
    """DDP's gotcha, reproduced: forward outside no_sync arms, so backward inside syncs."""
    grads = {}
    for name, wrap in (("ours", partial(make_dataparallel, "overlap")), ("ddp", _ddp)):
        wrapped = wrap(_fresh("mlp", rank), process_group=group)
        x, y = _batch("mlp", rank, 0)
        loss = F.cross_entropy(wrapped(x), y)
        with wrapped.no_sync():
            loss.backward()
        grads[name] = torch.cat([p.grad.reshape(-1) for p in wrapped.module.parameters()])
    return grads


def _comm_log(rank: int, group: dist.ProcessGroup, rung: str,
              compression: str | None) -> dict[str, Any]:
    """One iteration's CommLog, and when the first parameter's gradient (ready last) came."""
    log = CommLog()
    model = _fresh("cnn", rank)
    wrapped = make_dataparallel(rung, model, bucket_cap_mb=SMALL_CAP_MB, process_group=group,
                                compression=compression, comm_log=log)
    first_ready: list[float] = []
    first = next(model.parameters())
    first.register_post_accumulate_grad_hook(
        lambda _p: first_ready.append(time.perf_counter()))
    x, y = _batch("cnn", rank, 0)
    F.cross_entropy(wrapped(x), y).backward()
    events = log.take()
    return {
        "param_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
        "payloads": [e.payload_bytes for e in events],
        "indices": [e.index for e in events],
        "all_done": all(e.done is not None and e.done >= e.launched for e in events),
        "launched": [e.launched for e in events],
        "first_param_ready": first_ready[0],
        "n_params": len(list(model.parameters())),
        "n_buckets": len(getattr(wrapped, "buckets", [])),
    }


def _unused_parameter(rank: int, group: dist.ProcessGroup, rung: str) -> dict[str, Any]:
    wrapped = make_dataparallel(rung, SmallMLP(unused=True), bucket_cap_mb=SMALL_CAP_MB,
                                process_group=group, comm_log=(log := CommLog()))
    x, y = _batch("mlp", rank, 0)
    try:
        F.cross_entropy(wrapped(x), y).backward()
        message = ""
    except RuntimeError as e:
        message = str(e)
    launched = len(log.take())
    # The process group is still in step: a collective after the error completes.
    probe = torch.ones(1)
    dist.all_reduce(probe, group=group)
    return {"message": message, "launched": launched, "after": probe.item()}


def _worker(rank: int, port: int, outdir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=TRIO, timeout=timedelta(seconds=30))
    pair = dist.new_group(list(range(PAIR)))
    results: dict[str, Any] = {}

    def run(name: str, fn: Callable[[], Any]) -> None:
        try:
            results[name] = fn()
        except Exception:  # recorded, so the other scenarios still report
            results[name] = {"error": traceback.format_exc()}

    if rank < PAIR:
        for name, *args in VERSUS_DDP:
            run(name, partial(_versus_ddp, rank, pair, *args))
        run("backward-only-no-sync", partial(_backward_only_in_no_sync, rank, pair))
        for rung in RUNGS:
            run(f"log-{rung}", partial(_comm_log, rank, pair, rung, None))
        for rung in ("bucketed", "overlap"):
            run(f"log-{rung}-fp16", partial(_comm_log, rank, pair, rung, "fp16"))
        for rung in RUNGS:
            run(f"unused-{rung}", partial(_unused_parameter, rank, pair, rung))
    for name, *args in TRIO_VERSUS_DDP:
        run(name, partial(_versus_ddp, rank, None, *args))
    torch.save(results, Path(outdir) / f"rank{rank}.pt")
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Every scenario's results, one dict per rank (one process pair for the module)."""
    outdir = tmp_path_factory.mktemp("dataparallel")
    mp.start_processes(_worker, args=(_free_port(), str(outdir)), nprocs=TRIO,
                       start_method="spawn")
    return [torch.load(outdir / f"rank{r}.pt", weights_only=False) for r in range(TRIO)]


def _scenario(results: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The scenario's results from every rank that ran it."""
    per_rank = [r[name] for r in results if name in r]
    assert len(per_rank) == (TRIO if name.startswith("trio-") else PAIR)
    for rank, r in enumerate(per_rank):
        assert "error" not in r, f"rank {rank}: {r.get('error')}"
    return per_rank


@pytest.mark.parametrize("name", [s[0] for s in VERSUS_DDP])
def test_matches_ddp_bit_for_bit(results: list[dict[str, Any]], name: str) -> None:
    """Every rung after 5 steps (with no_sync accumulation for nosync-*): equal to DDP."""
    per_rank = _scenario(results, name)
    for r in per_rank:
        ours, ddp = r["ours"], r["ddp"]
        torch.testing.assert_close(ours["params"], ddp["params"], rtol=1e-6, atol=1e-7)
        # Bit-identical at 2 ranks (module docstring), fp16 included.
        assert torch.equal(ours["params"], ddp["params"])
        for a, b in zip(ours["buffers"], ddp["buffers"], strict=True):
            assert torch.equal(a, b)  # BatchNorm stats: same broadcast rule as DDP
    # Replicas identical across ranks. (Buffers are not: the last forward updated each rank's
    # BatchNorm statistics after the broadcast, under DDP as under ours.)
    assert torch.equal(per_rank[0]["ours"]["params"], per_rank[1]["ours"]["params"])


@pytest.mark.parametrize("name", [s[0] for s in TRIO_VERSUS_DDP])
def test_three_ranks_bit_identical_when_layouts_match(results: list[dict[str, Any]],
                                                     name: str) -> None:
    per_rank = _scenario(results, name)
    fp16 = name.endswith("fp16")
    for r in per_rank:
        ours, ddp = r["ours"]["params"], r["ddp"]["params"]
        if fp16:
            torch.testing.assert_close(ours, ddp, rtol=1e-3, atol=1e-4)
        else:
            torch.testing.assert_close(ours, ddp, rtol=1e-6, atol=1e-7)
        if "rebuild" in name:
            assert torch.equal(ours, ddp)
            assert r["bucket_sizes"] == r["ddp_rebuilt_bucket_sizes"]
    for r in per_rank[1:]:
        assert torch.equal(r["ours"]["params"], per_rank[0]["ours"]["params"])


def test_rebuilt_buckets_match_ddp_layout(results: list[dict[str, Any]]) -> None:
    for r in _scenario(results, "overlap-rebuild"):
        assert len(r["bucket_sizes"]) > 1
        assert r["bucket_sizes"] == r["ddp_rebuilt_bucket_sizes"]


def test_gradient_as_bucket_view_leaves_grads_as_views(results: list[dict[str, Any]]) -> None:
    for name in ("overlap-views", "overlap-views-none", "nosync-views"):
        for r in _scenario(results, name):
            assert r["grads_are_views"] is True


def test_no_sync_wrapping_only_backward_still_syncs_like_ddp(
        results: list[dict[str, Any]]) -> None:
    per_rank = _scenario(results, "backward-only-no-sync")
    for r in per_rank:
        assert torch.equal(r["ours"], r["ddp"])
    assert torch.equal(per_rank[0]["ours"], per_rank[1]["ours"])  # averaged, not local


@pytest.mark.parametrize("name", ["log-naive", "log-bucketed", "log-overlap",
                                  "log-bucketed-fp16", "log-overlap-fp16"])
def test_comm_log_payload_is_exactly_the_parameter_bytes(results: list[dict[str, Any]],
                                                         name: str) -> None:
    for r in _scenario(results, name):
        expected = r["param_bytes"] // 2 if name.endswith("fp16") else r["param_bytes"]
        assert sum(r["payloads"]) == expected
        assert r["all_done"]  # completion callbacks ran before backward returned
        if name == "log-naive":
            assert r["indices"] == list(range(r["n_params"]))
        else:
            assert r["indices"] == list(range(r["n_buckets"]))
            assert r["n_buckets"] > 1


def test_overlap_launches_during_backward(results: list[dict[str, Any]]) -> None:
    """Overlap sends its first bucket before the first layer's gradient exists; bucketed
    waits for the end of backward."""
    for r in _scenario(results, "log-overlap"):
        assert r["launched"][0] < r["first_param_ready"]
    for r in _scenario(results, "log-bucketed"):
        assert r["launched"][0] > r["first_param_ready"]


@pytest.mark.parametrize("rung", list(RUNGS))
def test_parameter_without_gradient_is_a_clear_error(results: list[dict[str, Any]],
                                                     rung: str) -> None:
    for r in _scenario(results, f"unused-{rung}"):
        assert "unused.weight" in r["message"] and "unused.bias" in r["message"]
        assert "no gradient" in r["message"]
        assert "fc1" not in r["message"]
        assert r["after"] == PAIR
        if rung == "overlap":
            assert r["launched"] > 0  # buckets before the stuck one went out, and finished
        else:
            assert r["launched"] == 0


def test_unknown_rung_is_a_user_error() -> None:
    with pytest.raises(UserError, match="known: naive, bucketed, overlap"):
        make_dataparallel("ring", nn.Linear(2, 2))


def test_unknown_compression_is_a_user_error() -> None:
    with pytest.raises(UserError, match="fp16"):
        make_dataparallel("overlap", nn.Linear(2, 2), compression="int8")


@pytest.mark.parametrize("limits", [[100, 100], [64, 400], [1 << 40, 1 << 40], [1, 1]])
def test_bucket_assignment_is_ddps(limits: list[int]) -> None:
    """Same buckets as DDP's own `compute_bucket_assignment_by_size` for a given order."""
    g = torch.Generator().manual_seed(0)
    params = [torch.empty(int(n)) for n in torch.randint(1, 60, (23,), generator=g)]
    params[5] = torch.empty(7, dtype=torch.float64)  # a second dtype gets its own buckets
    order = torch.randperm(len(params), generator=g).tolist()
    theirs, _ = dist._compute_bucket_assignment_by_size(
        [params[i] for i in order], limits, [False] * len(params), order)
    ours = assign_buckets(params, order, limits)
    assert sorted(ours) == sorted(theirs)
    # Same launch order too, except where DDP's is an unordered_map's: the float64 bucket.
    assert [b for b in ours if 5 not in b] == [b for b in theirs if 5 not in b]
