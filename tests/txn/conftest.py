"""Real servers for the transactions lab's tests, each started once per test session (per
xdist worker) on loopback and stopped at the end, checked to leave no process behind.

A server whose binary is missing skips the tests that need it, unless we are root: CI runs
as root after `make services` installed them all, so there a missing one is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syslab.common.errors import UserError
from syslab.txn import servers


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for its reaper is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def need(server: servers.Server) -> None:
    """Skip the test if the server's binary is missing and we are not root (see above)."""
    try:
        server.check_binaries()
    except UserError as err:
        if os.geteuid() != 0:
            pytest.skip(str(err))
        raise


def started(factory: Callable[[], servers.Server]) -> Iterator[servers.Server]:
    """Start a server, hand it out, stop it and check that none of its processes is left."""
    server = factory()
    need(server)
    with server:
        pids = server.pids()
        yield server
    left = [p for p in pids if alive(p)]
    assert not left, f"{server.name} left processes {left}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[servers.Postgres]:
    yield from started(servers.postgres)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[servers.Redis]:
    yield from started(servers.redis)


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[servers.Etcd]:
    yield from started(servers.etcd)


@pytest.fixture(scope="session")
def zk_server() -> Iterator[servers.ZooKeeper]:
    yield from started(servers.zookeeper)


SERVER_FIXTURES = {"pg": "pg_server", "redis": "redis_server", "etcd": "etcd_server",
                   "zookeeper": "zk_server"}


@pytest.fixture
def server_for(request: pytest.FixtureRequest) -> Callable[[str], servers.Server | None]:
    """The shared server a system name runs on (None for SQLite, which needs none)."""

    def get(system: str) -> servers.Server | None:
        prefix = system.split("-")[0]
        if prefix not in SERVER_FIXTURES:
            return None
        return request.getfixturevalue(SERVER_FIXTURES[prefix])

    return get
