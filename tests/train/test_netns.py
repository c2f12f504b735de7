"""Private network namespaces: counters that see exactly one rank's bytes, tbf that slows a
link to the rate asked, and nothing left behind.

Tests that build namespaces skip (with netns_available()'s reason) where that is not allowed.
Traffic comes from small Python TCP senders and sinks run with `net.prefix(rank)`, not ping,
which may be missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from syslab.common.errors import UserError
from syslab.train import netns
from syslab.train.netns import (
    Network,
    cleanup_stale,
    interface_bytes,
    namespace_bytes,
    netem_available,
    netns_available,
    parse_net_dev,
    tbf_params,
)

AVAILABLE, REASON = netns_available()
needs_netns = pytest.mark.skipif(not AVAILABLE, reason=REASON)

# Accepts one connection, reads exactly n bytes, answers one byte (so the sender knows every
# byte has arrived), and prints how many it got.
SINK = r"""
import socket, sys
n = int(sys.argv[2])
s = socket.socket()
s.bind((sys.argv[1], 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
got = 0
while got < n:
    b = c.recv(1 << 20)
    if not b:
        break
    got += len(b)
c.sendall(b"k")
c.close()
print(got, flush=True)
"""
# Sends n bytes and waits for the sink's answer; reports the time and its own counters, read
# from inside its namespace with interface_bytes().
SEND = r"""
import json, socket, sys, time
from syslab.train.netns import interface_bytes
host, port, n, iface = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = socket.create_connection((host, port))
payload = b"x" * n
before = interface_bytes(iface)
t = time.perf_counter()
c.sendall(payload)
c.recv(1)
seconds = time.perf_counter() - t
after = interface_bytes(iface)
c.close()
print(json.dumps({"seconds": seconds, "before": before, "after": after}))
"""


def transfer(net: Network, src: int, dst: int, n: int) -> dict:
    """Rank `src` sends n bytes to rank `dst` over TCP; the sender's report."""
    sink = subprocess.Popen([*net.prefix(dst), sys.executable, "-c", SINK, net.address(dst),
                             str(n)], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = sink.stdout.readline().strip()
        sent = subprocess.run([*net.prefix(src), sys.executable, "-c", SEND, net.address(dst),
                               port, str(n), net.interface(src)],
                              capture_output=True, text=True, timeout=30)
        assert sent.returncode == 0, sent.stderr
        assert int(sink.communicate(timeout=10)[0]) == n
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.communicate()
    return json.loads(sent.stdout)


def all_counters(net: Network) -> list[tuple[int, int]]:
    return [namespace_bytes(net.namespace(k), net.interface(k)) for k in range(net.n_ranks)]


def listed() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


# -- no namespace needed ------------------------------------------------------------------

SAMPLE = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1046126     699    0    0    0     0          0         0  1046126     699    0    0    0     0       0          0
  eth0:123456789012 9 0 0 0 0 0 0 42 1 0 0 0 0 0 0
br-a1b2c3d4e5f6:    10      1    0    0    0     0          0         0       20       2    0    0    0     0       0          0
garbage line
"""  # noqa: E501


def test_parse_net_dev() -> None:
    assert parse_net_dev(SAMPLE) == {"lo": (1046126, 1046126), "eth0": (123456789012, 42),
                                     "br-a1b2c3d4e5f6": (10, 20)}
    assert parse_net_dev("") == {}


def test_interface_bytes_reads_this_namespace() -> None:
    with open("/proc/self/net/dev") as f:
        assert "lo" in parse_net_dev(f.read())
    rx, tx = interface_bytes("lo")
    assert rx >= 0 and tx >= 0
    with pytest.raises(UserError, match="no interface 'nosuch0'"):
        interface_bytes("nosuch0")


def test_tbf_params() -> None:
    # Slow links: the 64 KiB floor (one GSO super-packet); fast ones: 10 ms of traffic.
    assert tbf_params(100) == (125_000, 32 * 1024 * 1024)
    assert tbf_params(10) == (65536, 32 * 1024 * 1024)
    burst, limit = tbf_params(10_000)
    assert burst == 12_500_000 and limit == 2_500_000_000


@pytest.mark.parametrize("kwargs, needle", [
    ({"n_ranks": 0}, "1 to 253 ranks"),
    ({"n_ranks": 2, "mode": "star"}, "bad network mode"),
    ({"n_ranks": 2, "mode": "loopback", "rate_mbit": 10.0}, "need mode veth"),
    ({"n_ranks": 2, "rate_mbit": 0.0}, "rate_mbit must be > 0"),
    ({"n_ranks": 2, "delay_ms": -1.0}, "delay_ms must be > 0"),
])
def test_bad_arguments(kwargs: dict, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        Network(**kwargs)


def test_unavailable_is_one_line_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = "network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN): running as uid 1000"
    monkeypatch.setattr(netns, "_PROBE", (False, reason))
    assert netns_available() == (False, reason)
    with pytest.raises(UserError) as e, Network(2, "loopback"):
        pass
    assert str(e.value) == reason


def test_availability_reason_is_one_line() -> None:
    ok, reason = netns_available()
    assert reason and "\n" not in reason
    assert netns_available() is netns_available()  # cached


# -- namespaces -----------------------------------------------------------------------------

@needs_netns
def test_loopback_counts_every_byte_once() -> None:
    n = 1_000_000
    with Network(2, "loopback") as net:
        assert net.address(0) == net.address(1) == "127.0.0.1"
        assert net.namespace(0) == net.namespace(1)
        assert net.interface(1) == "lo"
        before = namespace_bytes(net.namespace(0), "lo")
        report = transfer(net, 1, 0, n)
        after = namespace_bytes(net.namespace(0), "lo")
    tx = after[1] - before[1]
    assert n <= tx <= 1.05 * n  # TCP/IP headers on a 64 KiB MTU: well under 1%
    assert after[0] - before[0] == tx  # lo receives what it sends
    # The sender, inside the namespace, sees the same lo.
    assert n <= report["after"][1] - report["before"][1] <= tx


@needs_netns
@pytest.mark.parametrize("gso, low, high", [
    # One packet per 1448-byte segment, each with 66 bytes of Ethernet/IP/TCP headers: +4.6%
    # (a little more when the sender is faster than the window and leaves runts).
    (False, 1.04, 1.07),
    # GSO super-packets, counted by veth with one set of headers each: up to 64 KiB when the
    # sender keeps ahead (~0.1%), but as small as one segment when the sink reads slowly and
    # the window opens a little at a time (seen in CI: +6.7%).
    (True, 1.0, 1.07),
])
def test_veth_counters_see_only_their_rank(gso: bool, low: float, high: float) -> None:
    n = 1_000_000
    with Network(3, "veth", gso=gso) as net:
        assert [net.address(k) for k in range(3)] == [f"{net.subnet}.{k}" for k in (1, 2, 3)]
        assert net.interface(2) == "eth0"
        assert net.prefix(1) == ["ip", "netns", "exec", net.namespace(1)]
        assert len(set(net.namespaces())) == 4
        # No IPv6 on the link: no router solicitations or MLD reports in the counters.
        addrs = subprocess.run(["ip", "-n", net.namespace(2), "addr", "show", "eth0"],
                               capture_output=True, text=True, check=True).stdout
        assert "inet6" not in addrs
        before = all_counters(net)
        report = transfer(net, 1, 0, n)
        after = all_counters(net)
    (rx0, _), (_, tx1), (rx2, tx2) = [(a[0] - b[0], a[1] - b[1])
                                      for a, b in zip(after, before, strict=True)]
    assert low * n <= rx0 <= high * n
    assert low * n <= tx1 <= high * n
    assert rx2 + tx2 < 10_000, (rx2, tx2)
    # The sender read its own eth0 from inside (/proc/self/net/dev follows the namespace).
    assert low * n <= report["after"][1] - report["before"][1] <= tx1


@needs_netns
def test_tbf_limits_the_rate() -> None:
    n = 10_000_000
    with Network(2, "veth", rate_mbit=100) as net:
        report = transfer(net, 1, 0, n)
        stats = subprocess.run(["tc", "-n", net.namespace(1), "-s", "qdisc", "show", "dev",
                                "eth0"], capture_output=True, text=True, check=True).stdout
    assert 0.8 * 0.85 <= report["seconds"] <= 0.8 * 1.15, report
    assert "tbf" in stats and "dropped 0," in stats, stats  # a drop would be retransmitted


@needs_netns
def test_delay_needs_netem() -> None:
    ok, reason = netem_available()
    if not ok:
        assert "sch_netem" in reason and "\n" not in reason
        with pytest.raises(UserError, match="sch_netem"), Network(2, "veth", delay_ms=20):
            pass
        return
    with Network(2, "veth", delay_ms=20, rate_mbit=100) as net:
        report = transfer(net, 1, 0, 1000)
    assert report["seconds"] >= 0.04  # data out and the answer back: 20 ms each way


@needs_netns
def test_everything_is_deleted_on_exit_and_on_exception() -> None:
    with Network(2, "veth", rate_mbit=50) as net:
        names = set(net.namespaces())
        assert names <= listed()
        # A process still running inside when the block ends is killed, not orphaned.
        sleeper = subprocess.Popen([*net.prefix(1), "sleep", "30"])
        time.sleep(0.05)
    assert not names & listed()
    assert sleeper.wait(timeout=5) != 0

    with pytest.raises(RuntimeError, match="boom"), Network(3, "veth") as net:
        names = set(net.namespaces())
        raise RuntimeError("boom")
    assert not names & listed()

    with pytest.raises(RuntimeError), Network(1, "loopback") as net:
        names = set(net.namespaces())
        raise RuntimeError
    assert not names & listed()


@needs_netns
def test_a_failed_build_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Network, ns: str) -> None:
        raise UserError(f"`tc -n {ns} qdisc add ...` failed: refused")

    monkeypatch.setattr(Network, "_shape", refuse)  # fails with namespaces and veths built
    net = Network(2, "veth", rate_mbit=10)
    with pytest.raises(UserError, match="refused"), net:
        pass
    assert not set(net.namespaces()) & listed()


@needs_netns
def test_two_networks_at_once_do_not_collide() -> None:
    with Network(2, "veth") as a, Network(2, "veth") as b:
        assert not set(a.namespaces()) & set(b.namespaces())
        a.check()
        b.check()
    errors: list[BaseException] = []
    seen: list[str] = []

    def build() -> None:
        try:
            with Network(2, "veth") as net:
                seen.extend(net.namespaces())
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(seen) == len(set(seen)) == 9
    assert not set(seen) & listed()


@needs_netns
def test_cleanup_stale_removes_only_dead_owners() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = f"{netns.PREFIX}{dead.pid}-0-r0"
    live = f"{netns.PREFIX}{os.getpid()}-99999-r0"
    for name in (stale, live):
        subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        removed = cleanup_stale()
        assert stale in removed and live not in removed
        assert stale not in listed() and live in listed()
    finally:
        for name in (stale, live):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
