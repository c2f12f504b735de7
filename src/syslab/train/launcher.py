"""Start N workers over torch.distributed (gloo), watch them, and collect their records.

torchrun would start the ranks too, but it cannot put each rank in its own network
namespace, and it restarts or hangs where we want one clear line: here a rank that dies
stops the run at once (the others are killed after a short grace period), and a run that
outlives its time limit is killed, with the step each rank had reached.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar, Protocol

from syslab.common.errors import UserError

NETWORKS = ("auto", "host", "loopback", "veth")
WORKERS_PER_CORE = 4  # beyond this, ranks only wait for the CPU: refuse rather than crawl


@dataclass
class RunResult:
    """One run: its configuration, worker count, network and every rank's record."""

    config: LaunchConfig
    workers: int
    network: str
    rate_mbit: float | None
    ranks: list[dict] = field(default_factory=list)
    wall_s: float = 0.0


class LaunchConfig(Protocol):
    """What the launcher needs of a run's configuration (`RunConfig`, `CommConfig`)."""

    ENTRY: ClassVar[str]
    timeout_s: float
    threads: int
    interface: str

    @property
    def total_steps(self) -> int: ...

    def memory_per_worker(self) -> int: ...

    def to_json(self) -> str: ...


def max_workers(cfg: LaunchConfig) -> int:
    """How many ranks this machine can run: WORKERS_PER_CORE per core, and as many as fit
    in available memory."""
    cores = len(os.sched_getaffinity(0))
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return max(1, min(WORKERS_PER_CORE * cores, available // cfg.memory_per_worker()))


def resolve_network(network: str) -> tuple[str, str]:
    """The network a run will use and, when "auto" had to fall back, why: "auto" is a
    private loopback namespace (exact byte counts) where namespaces may be created, else the
    host's 127.0.0.1 (no wire counts). An explicit namespace mode that cannot be had is a
    UserError carrying the reason."""
    from syslab.train.netns import netns_available

    if network not in NETWORKS:
        raise UserError(f"unknown network {network!r}; known: {', '.join(NETWORKS)}")
    if network == "host":
        return network, ""
    ok, reason = netns_available()
    if network == "auto":
        return ("loopback", "") if ok else ("host", f"no private namespace ({reason}): "
                                            "running on the host's loopback, wire bytes not "
                                            "counted")
    if not ok:
        raise UserError(f"--network {network} needs network namespaces: {reason}")
    return network, ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _step(out_dir: Path, rank: int) -> int:
    try:
        return int((out_dir / f"rank{rank}.progress").read_text())
    except (OSError, ValueError):
        return 0


def launch(cfg: LaunchConfig, workers: int, *, network: str = "loopback",
           rate_mbit: float | None = None, out_dir: Path | None = None,
           time_limit_s: float | None = None, grace_s: float = 5.0,
           on_start: Callable[[list[int]], None] | None = None) -> RunResult:
    """Run `cfg` on `workers` ranks and return every rank's record.

    `network`: "host" (127.0.0.1 in our own namespace: wire counters mix in other traffic),
    "loopback" (one private namespace: exact counters of all ranks together), "veth" (a
    namespace per rank on a bridge: exact per-rank counters, optional tbf `rate_mbit`) or
    "auto" (loopback where namespaces may be created, else host: `resolve_network`).
    `on_start` gets the worker pids (tests use it to kill one).
    """
    if workers < 1:
        raise UserError(f"workers must be at least 1, got {workers}")
    network, _ = resolve_network(network)
    if rate_mbit is not None and network != "veth":
        raise UserError("a bandwidth limit needs --network veth")
    limit = max_workers(cfg)
    if workers > limit:
        raise UserError(f"{workers} workers are more than this machine can run ({limit}: "
                        f"{WORKERS_PER_CORE} per core, each needing "
                        f"{cfg.memory_per_worker() / 2**30:.1f} GiB of available memory)")
    if time_limit_s is None:
        time_limit_s = cfg.timeout_s + 60.0
    with ExitStack() as stack:
        if out_dir is None:
            out_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="syslab-train-")))
        out_dir.mkdir(parents=True, exist_ok=True)
        net = None
        if network != "host":
            from syslab.train.netns import Network

            net = stack.enter_context(Network(workers, mode=network, rate_mbit=rate_mbit))
        return _run(cfg, workers, network, rate_mbit, net, out_dir, time_limit_s, grace_s,
                    on_start)


def _run(cfg: LaunchConfig, workers: int, network: str, rate_mbit: float | None, net,
         out_dir: Path, time_limit_s: float, grace_s: float,
         on_start: Callable[[list[int]], None] | None) -> RunResult:
    interface = net.interface(0) if net is not None else "lo"
    cfg = replace(cfg, interface=interface)
    config_path = out_dir / "config.json"
    config_path.write_text(cfg.to_json())
    master = net.address(0) if net is not None else "127.0.0.1"
    port = 29500 if net is not None else free_port()  # a fresh namespace has every port free
    procs: list[subprocess.Popen] = []
    start = time.monotonic()
    try:
        for rank in range(workers):
            env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank),
                   "WORLD_SIZE": str(workers), "MASTER_ADDR": master, "MASTER_PORT": str(port),
                   "OMP_NUM_THREADS": str(cfg.threads), "GLOO_SOCKET_IFNAME": interface,
                   "PYTHONUNBUFFERED": "1"}
            prefix = net.prefix(rank) if net is not None else []
            argv = [*prefix, sys.executable, "-m", cfg.ENTRY, str(config_path),
                    str(out_dir)]
            with (out_dir / f"rank{rank}.log").open("w") as log:
                procs.append(subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT))
        if on_start is not None:
            on_start([p.pid for p in procs])
        _watch(procs, cfg, out_dir, start, time_limit_s, grace_s)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for p in procs:
            p.wait()
    ranks = [json.loads((out_dir / f"rank{r}.json").read_text()) for r in range(workers)]
    return RunResult(cfg, workers, network, rate_mbit, ranks, time.monotonic() - start)


def _watch(procs: list[subprocess.Popen], cfg: LaunchConfig, out_dir: Path, start: float,
           time_limit_s: float, grace_s: float) -> None:
    """Wait for every rank; on the first failure or the time limit, stop all and raise."""
    total = cfg.total_steps
    while True:
        codes = [p.poll() for p in procs]
        failed = [r for r, c in enumerate(codes) if c not in (None, 0)]
        if not failed and all(c == 0 for c in codes):
            return
        if failed:
            first = min(failed, key=lambda r: (codes[r] >= 0, r))  # a killed rank is the cause
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and any(p.poll() is None for p in procs):
                time.sleep(0.05)
            why = _last_line(out_dir / f"rank{first}.log")
            raise UserError(
                f"worker {first} {_describe_exit(codes[first])} at step "
                f"{_step(out_dir, first) + 1} of {total}" + (f" ({why})" if why else "")
                + "; the other workers were stopped")
        if time.monotonic() - start > time_limit_s:
            steps = ", ".join(str(_step(out_dir, r)) for r in range(len(procs)))
            raise UserError(f"run timed out after {time_limit_s:.0f} s (steps reached per "
                            f"worker: {steps} of {total}); workers were stopped")
        time.sleep(0.05)
