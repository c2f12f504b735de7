"""Private network namespaces for the training lab: exact wire bytes and emulated slow links.

Each rank of a run can live in its own network namespace, so that an interface counter sees
that rank's traffic and nothing else, and a tbf qdisc on its link emulates a slower network.

- mode "loopback": one private namespace with only `lo` up; every rank is 127.0.0.1. A packet
  on lo is counted once in tx_bytes (and once in rx_bytes), so lo's tx delta is the run's
  total; total / n is an *average* per rank, not any one rank's bytes.
- mode "veth": one namespace per rank plus a hub namespace holding a Linux bridge. Rank k's
  namespace has `eth0` (10.77.<c>.<k+1>/24), a veth whose peer `port<k>` is a bridge port in
  the hub. eth0's counters are exactly rank k's traffic. IPv6 is disabled on the veths and
  the bridge (router solicitations, DAD and MLD would otherwise add noise to the counters).

The interfaces only ever exist inside our namespaces, never in the caller's, so their names
are fixed (`eth0`, `port<k>`, `br0`); the namespaces are named `syslab-<pid>-<counter>-<role>`,
unique per Network and process, and `cleanup_stale()` removes those whose pid is dead.

Everything goes through `ip` and `tc` (iproute2) in subprocesses: no netlink library.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from types import TracebackType
from typing import Literal

from syslab.common.errors import UserError

PREFIX = "syslab-"
SUBNET = "10.77"  # 10.77.<counter % 256>.0/24: private per Network, so it never meets another
RANK_IFACE = "eth0"
HUB_BRIDGE = "br0"

# tbf: the bucket must hold at least one timer tick of traffic (rate / HZ; HZ is 100..1000, so
# 10 ms covers every kernel) and a whole GSO/TSO super-packet (64 KiB), or tbf has to split
# those in software. The queue limit must never drop: a drop of a locally sent TCP segment is
# retransmitted, and the retransmission would be counted as wire bytes the run did not need.
# TCP small queues keep at most tcp_limit_output_bytes (1-4 MiB) of one socket in the qdisc,
# so 32 MiB (or 2 s of traffic, if more) leaves room for the few sockets a rank has open.
TBF_MIN_BURST = 64 * 1024
TBF_BURST_S = 0.010
TBF_MIN_LIMIT = 32 * 1024 * 1024
TBF_LIMIT_S = 2.0
NETEM_LIMIT_PACKETS = 1_000_000

_COUNTER = itertools.count()
_PROBE: tuple[bool, str] | None = None
_NETEM: tuple[bool, str] | None = None
_PROBE_LOCK = threading.Lock()
_LIVE: set[Network] = set()


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "(no output)"


def _last_line(text: str) -> str:
    """The line of a Python traceback that says what went wrong."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _run(argv: list[str], stdin: str | None = None, timeout: float = 30.0) -> str:
    """Run one command; any failure becomes a one-line UserError naming it."""
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise UserError(f"`{argv[0]}` not found: install iproute2") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"`{' '.join(argv)}` timed out after {timeout:g} s") from None
    if done.returncode != 0:
        raise UserError(f"`{' '.join(argv)}` failed: {_first_line(done.stderr or done.stdout)}")
    return done.stdout


def _batch(argv: list[str], commands: list[str]) -> None:
    """Many `ip`/`tc` commands in one process (`-batch -`): setup costs one fork, not dozens."""
    try:
        done = subprocess.run([*argv, "-batch", "-"], input="\n".join(commands) + "\n",
                              capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        raise UserError(f"`{argv[0]}` not found: install iproute2") from None
    if done.returncode != 0:
        # "-batch" ends with "Command failed -:<line>": name that command, not the batch.
        m = re.search(r"Command failed -:(\d+)", done.stderr)
        line = int(m.group(1)) if m else 0
        what = commands[line - 1] if 0 < line <= len(commands) else "-batch -"
        raise UserError(f"`{' '.join(argv)} {what}` failed: {_first_line(done.stderr)}")


def _list_namespaces() -> list[str]:
    # `ip netns list` prints "name" or "name (id: 3)" per line.
    return [line.split()[0] for line in _run(["ip", "netns", "list"]).splitlines()
            if line.strip()]


def _delete_namespaces(names: list[str]) -> None:
    """Kill what still runs inside, then delete: a process left inside would keep the
    namespace (and its veths) alive after its name is gone."""
    if not names:
        return
    pids: list[int] = []
    for name in names:
        with contextlib.suppress(UserError):
            pids += [int(p) for p in _run(["ip", "netns", "pids", name]).split()]
    _terminate(pids)
    try:
        _batch(["ip", "-force"], [f"netns del {name}" for name in names])
    except UserError as e:
        # Another process's cleanup_stale may have deleted some first: only leftovers count.
        left = sorted(set(names) & set(_list_namespaces()))
        if left:
            raise UserError(f"could not delete {', '.join(left)}: {e}") from None


def _terminate(pids: list[int], grace_s: float = 1.0) -> None:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            alive.append(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [pid for pid in alive if _pid_alive(pid)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    """Running (a zombie counts as dead; reaping it is its parent's business, not ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _probe() -> tuple[bool, str]:
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return False, f"`{tool}` not found: install iproute2"
    ns = f"{PREFIX}{os.getpid()}-probe"
    try:
        _run(["ip", "netns", "add", ns])
    except UserError as e:
        if os.geteuid() != 0:
            return False, ("network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN): "
                           f"running as uid {os.geteuid()}")
        if "not permitted" in str(e):
            return False, ("network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN: running as "
                           "uid 0 without them (a container needs --cap-add SYS_ADMIN "
                           f"--cap-add NET_ADMIN or --privileged): {e}")
        return False, f"cannot create a network namespace: {e}"
    try:
        _batch(["ip", "-n", ns], ["link add br0 type bridge",
                                  "link add veth0 type veth peer name veth1",
                                  "link set veth0 master br0"])
        _run(["tc", "-n", ns, "qdisc", "add", "dev", "veth1", "root", "tbf", "rate", "1mbit",
              "burst", "64kb", "limit", "1mb"])
    except UserError as e:
        return False, f"network namespaces work but veth, bridge or tbf do not: {e}"
    finally:
        with contextlib.suppress(UserError):
            _run(["ip", "netns", "del", ns])
    return True, "network namespaces, veth pairs, bridges and tbf all work"


def netns_available() -> tuple[bool, str]:
    """Whether this process may build a Network, and if not, one line saying what to fix.

    Actually tries (a throwaway namespace with a bridge, a veth pair and a tbf qdisc), since
    root alone is not enough in a container without CAP_SYS_ADMIN. Cached per process.
    """
    global _PROBE
    with _PROBE_LOCK:
        if _PROBE is None:
            _PROBE = _probe()
        return _PROBE


def netem_available() -> tuple[bool, str]:
    """Whether tc's netem qdisc (for `delay_ms`) exists in this kernel; cached per process."""
    global _NETEM
    ok, reason = netns_available()
    if not ok:
        return ok, reason
    with _PROBE_LOCK:
        if _NETEM is None:
            ns = f"{PREFIX}{os.getpid()}-netem"
            try:
                _run(["ip", "netns", "add", ns])
                _run(["tc", "-n", ns, "qdisc", "add", "dev", "lo", "root", "netem", "delay",
                      "1ms"])
                _NETEM = (True, "netem works")
            except UserError as e:
                _NETEM = (False, f"delay_ms needs the sch_netem kernel module "
                                 f"(CONFIG_NET_SCH_NETEM): {e}")
            finally:
                with contextlib.suppress(UserError):
                    _run(["ip", "netns", "del", ns])
        return _NETEM


def cleanup_stale(prefix: str = PREFIX) -> list[str]:
    """Delete namespaces `<prefix><pid>-...` whose pid is dead (left by killed runs).

    Returns the names deleted. Namespaces of live processes are left alone, so concurrent
    runs may call this freely.
    """
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)-")
    stale = []
    for name in _list_namespaces():
        m = pattern.match(name)
        if m and not _pid_alive(int(m.group(1))):
            stale.append(name)
    _delete_namespaces(stale)
    return stale


def parse_net_dev(text: str) -> dict[str, tuple[int, int]]:
    """{interface: (rx_bytes, tx_bytes)} from the text of /proc/net/dev.

    Skips the two header lines (they have no ':'), and accepts "eth0:123" with no space after
    the colon (old kernels print it when the counter is wide).
    """
    counters = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if not sep or len(fields) < 16 or not name.strip():
            continue
        counters[name.strip()] = (int(fields[0]), int(fields[8]))
    return counters


def _pick(counters: dict[str, tuple[int, int]], iface: str, where: str) -> tuple[int, int]:
    if iface not in counters:
        raise UserError(f"no interface {iface!r} in {where} (have: {', '.join(counters)})")
    return counters[iface]


def interface_bytes(iface: str) -> tuple[int, int]:
    """(rx_bytes, tx_bytes) of `iface` in the calling process's own network namespace.

    /proc/self/net/dev follows the namespace of the reader, which is how a worker started
    with `net.prefix(rank)` reads its own counters.
    """
    with open("/proc/self/net/dev") as f:
        return _pick(parse_net_dev(f.read()), iface, "this network namespace")


def namespace_bytes(ns_name: str, iface: str) -> tuple[int, int]:
    """(rx_bytes, tx_bytes) of `iface` inside namespace `ns_name`, read from outside it
    (the launcher's before/after snapshots)."""
    text = _run(["ip", "netns", "exec", ns_name, "cat", "/proc/net/dev"])
    return _pick(parse_net_dev(text), iface, f"namespace {ns_name}")


def tbf_params(rate_mbit: float) -> tuple[int, int]:
    """(burst, limit) in bytes for a tbf at `rate_mbit`: see TBF_* above for why."""
    rate_bytes = rate_mbit * 1e6 / 8
    burst = max(TBF_MIN_BURST, math.ceil(rate_bytes * TBF_BURST_S))
    limit = max(TBF_MIN_LIMIT, math.ceil(rate_bytes * TBF_LIMIT_S), burst)
    return burst, limit


# Rank 0 listens; every other rank connects once. Python, not ping: ping may be missing.
_CHECK_SERVER = """
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.listen(64)
s.settimeout(float(sys.argv[3]))
print(s.getsockname()[1], flush=True)
for _ in range(int(sys.argv[2])):
    s.accept()[0].close()
"""
_CHECK_CLIENT = """
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
"""


class Network:
    """N ranks' network: private namespaces, with exact counters and optional slow links.

    `with Network(4, mode="veth", rate_mbit=100) as net:` then run rank k's process with
    `net.prefix(k) + argv`, point it at `net.address(0)` as master, and read its bytes from
    `net.interface(k)` (with `interface_bytes` inside, or `namespace_bytes` from outside).
    Everything is deleted on exit, exception or not, and processes still inside are killed.
    Workers should set GLOO_SOCKET_IFNAME to `net.interface(k)`.

    `rate_mbit` puts a tbf on each rank's eth0 egress: its uplink. Downlinks are not capped,
    so a rank receiving from k peers at once may receive k * rate. tbf counts every segment's
    headers, so 10 MB of payload at 100 Mbit/s takes 0.8 s * 1.046 (0.83 s measured).
    `delay_ms` puts netem on the same egress: one-way latency delay_ms, round trip 2 * delay_ms.

    `gso=False` (the default) caps eth0's GSO super-packets at one segment, so every TCP
    segment is its own packet with its own headers, as on a 1500-byte-MTU Ethernet: counters
    then show the real ~4.6% TCP/IP/Ethernet overhead. With `gso=True` veth counts a
    super-packet of up to 64 KiB with one set of headers (~0.1% overhead; more when a
    window-limited sender sends small ones) but moves ~10x more bytes per CPU second: use
    it for fast unshaped runs where bytes on the wire do not matter. tbf shapes
    by per-segment wire bytes either way.
    `check` opens a TCP connection from every rank to rank 0 on entry (veth mode).
    """

    def __init__(self, n_ranks: int, mode: Literal["veth", "loopback"] = "veth",
                 rate_mbit: float | None = None, delay_ms: float | None = None,
                 gso: bool = False, check: bool = True) -> None:
        if n_ranks < 1 or n_ranks > 253:
            raise UserError(f"a Network has 1 to 253 ranks, got {n_ranks}")
        if mode not in ("veth", "loopback"):
            raise UserError(f"bad network mode {mode!r}: choose veth or loopback")
        if mode != "veth" and (rate_mbit is not None or delay_ms is not None):
            raise UserError("rate_mbit and delay_ms need mode veth (loopback has no per-rank "
                            "link to shape)")
        if rate_mbit is not None and not rate_mbit > 0:
            raise UserError(f"rate_mbit must be > 0, got {rate_mbit}")
        if delay_ms is not None and not delay_ms > 0:
            raise UserError(f"delay_ms must be > 0, got {delay_ms}")
        self.n_ranks = n_ranks
        self.mode = mode
        self.rate_mbit = rate_mbit
        self.delay_ms = delay_ms
        self.gso = gso
        self.check_on_enter = check
        self.counter = next(_COUNTER)
        self.base = f"{PREFIX}{os.getpid()}-{self.counter}"
        self.subnet = f"{SUBNET}.{self.counter % 256}"
        self._created: list[str] = []

    # -- what a launcher asks -------------------------------------------------------------

    def namespace(self, rank: int) -> str:
        """The namespace rank `rank` runs in (the same one for every rank in loopback)."""
        self._check_rank(rank)
        return f"{self.base}-lo" if self.mode == "loopback" else f"{self.base}-r{rank}"

    def address(self, rank: int) -> str:
        """Rank `rank`'s IPv4 address; rank 0's is the master address."""
        self._check_rank(rank)
        return "127.0.0.1" if self.mode == "loopback" else f"{self.subnet}.{rank + 1}"

    def interface(self, rank: int) -> str:
        """The interface whose counters are rank `rank`'s traffic (all ranks' on lo)."""
        self._check_rank(rank)
        return "lo" if self.mode == "loopback" else RANK_IFACE

    def prefix(self, rank: int) -> list[str]:
        """argv prefix running a command inside rank `rank`'s namespace."""
        return ["ip", "netns", "exec", self.namespace(rank)]

    @property
    def hub(self) -> str:
        """The namespace holding the bridge (veth mode)."""
        return f"{self.base}-hub"

    def namespaces(self) -> list[str]:
        """Every namespace this Network creates."""
        if self.mode == "loopback":
            return [self.namespace(0)]
        return [self.hub] + [self.namespace(k) for k in range(self.n_ranks)]

    def _check_rank(self, rank: int) -> None:
        if not 0 <= rank < self.n_ranks:
            raise UserError(f"rank {rank} out of range for {self.n_ranks} ranks")

    # -- building and tearing down ---------------------------------------------------------

    def __enter__(self) -> Network:
        ok, reason = netns_available()
        if not ok:
            raise UserError(reason)
        if self.delay_ms is not None:
            ok, reason = netem_available()
            if not ok:
                raise UserError(reason)
        _LIVE.add(self)
        try:
            self._build()
            if self.check_on_enter and self.mode == "veth":
                self.check()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.close()
        except UserError:
            if exc is None:
                raise  # a cleanup failure is news only when nothing else went wrong

    def close(self) -> None:
        """Delete everything this Network created (idempotent)."""
        _LIVE.discard(self)
        created, self._created = self._created, []
        _delete_namespaces(created)

    def _build(self) -> None:
        names = self.namespaces()
        self._created = list(names)  # before creating: a half-built Network is cleaned too
        _batch(["ip"], [f"netns add {name}" for name in names])
        if self.mode == "loopback":
            _run(["ip", "-n", names[0], "link", "set", "lo", "up"])
            return
        # New interfaces take IPv6 settings from "default": off before any veth exists.
        for name in names:
            _run(["ip", "netns", "exec", name, "sh", "-c",
                  "f=/proc/sys/net/ipv6/conf/default/disable_ipv6; "
                  "if [ -e $f ]; then echo 1 > $f; fi"])
        hub = [f"link add {HUB_BRIDGE} type bridge", f"link set {HUB_BRIDGE} up",
               "link set lo up"]
        for k in range(self.n_ranks):
            hub += [f"link add port{k} type veth peer name {RANK_IFACE} "
                    f"netns {self.namespace(k)}",
                    f"link set port{k} master {HUB_BRIDGE}", f"link set port{k} up"]
        _batch(["ip", "-n", self.hub], hub)
        for k in range(self.n_ranks):
            ns = self.namespace(k)
            link = ["link set lo up", f"addr add {self.address(k)}/24 dev {RANK_IFACE}"]
            if not self.gso:
                link.append(f"link set {RANK_IFACE} gso_max_segs 1")
            _batch(["ip", "-n", ns], [*link, f"link set {RANK_IFACE} up"])
            self._shape(ns)

    def _shape(self, ns: str) -> None:
        """tbf (and netem) on the rank's egress: its uplink, as a NIC of that rate would be."""
        tc = ["tc", "-n", ns, "qdisc", "add", "dev", RANK_IFACE]
        if self.delay_ms is not None:
            # The netem man page's order: netem at the root, tbf as its child.
            _run([*tc, "root", "handle", "1:", "netem", "delay", f"{self.delay_ms}ms",
                  "limit", str(NETEM_LIMIT_PACKETS)])
        if self.rate_mbit is not None:
            burst, limit = tbf_params(self.rate_mbit)
            where = ["parent", "1:1", "handle", "10:"] if self.delay_ms else ["root",
                                                                              "handle", "1:"]
            _run([*tc, *where, "tbf", "rate", f"{round(self.rate_mbit * 1e6)}bit",
                  "burst", str(burst), "limit", str(limit)])

    def check(self, timeout_s: float = 5.0) -> None:
        """Every rank can open a TCP connection to rank 0 (raises a UserError if not)."""
        if self.n_ranks < 2:
            return
        python = [sys.executable, "-I", "-S", "-c"]
        server = subprocess.Popen(
            [*self.prefix(0), *python, _CHECK_SERVER, self.address(0), str(self.n_ranks - 1),
             str(timeout_s)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        clients: list[subprocess.Popen[str]] = []
        try:
            assert server.stdout is not None
            port = server.stdout.readline().strip()
            if not port:
                raise UserError("connectivity check: rank 0 could not listen: "
                                f"{_last_line(server.communicate()[1])}")
            clients = [subprocess.Popen(
                [*self.prefix(k), *python, _CHECK_CLIENT, self.address(0), port,
                 str(timeout_s)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for k in range(1, self.n_ranks)]
            for k, client in enumerate(clients, start=1):
                try:
                    err = client.communicate(timeout=timeout_s + 5)[1]
                except subprocess.TimeoutExpired:
                    err = "timed out"
                if client.returncode != 0:
                    raise UserError(f"connectivity check: rank {k} cannot reach rank 0 at "
                                    f"{self.address(0)}: {_last_line(err)}")
            server.communicate(timeout=timeout_s + 5)
        finally:
            for proc in [server, *clients]:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()


@atexit.register
def _close_live() -> None:
    """A Network left open at interpreter exit (no __exit__ ran) is still deleted."""
    for net in list(_LIVE):
        with contextlib.suppress(UserError):
            net.close()
