"""The real servers the transactions lab measures, started on loopback and stopped again.

Each server is a context manager that starts one process on 127.0.0.1, on a free port (or
the one asked for), in its own temporary directory (data, config, log), waits until it
answers, and stops it on exit, also when starting failed:

    with postgres() as pg, redis() as rd, etcd() as ed, zookeeper() as zk:
        pg.dsn, rd.port, ed.port, zk.hosts

Anything that keeps a server from coming up (a missing binary, a taken port, a server that
exits or does not answer within the timeout) is a UserError naming the server and the reason
in one line, with the last line of the server's log.

Every server runs in the foreground as our child, in its own process group, so that stopping
it (or `kill()`, which the tests use to make a server die mid-run) reaches all its processes,
and with PR_SET_PDEATHSIG so that the kernel stops it if we die first. PDEATHSIG fires when
the *thread* that forked the server exits, so start servers from a long-lived thread (the
main one), not from a worker thread.

Durability is off where the server allows it (PostgreSQL fsync, ZooKeeper forceSync): the
data directories are thrown away after the run, isolation and ordering do not depend on
fsync, and with it on this VM's disk flushes would dominate every latency we measure (the
numbers in the research note are with fsync off). `durable=True` turns it back on.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Self

from syslab.common.errors import UserError

HOST = "127.0.0.1"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
ZK_JAR = Path("/usr/share/java/zookeeper.jar")
# zookeeper.jar's manifest lists its dependencies; slf4j-simple makes it log (to stderr).
ZK_LOGGER_JAR = Path("/usr/share/java/slf4j-simple.jar")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:`port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _pdeathsig(sig: int):
    try:  # looked up in the parent: dlopen between fork and exec is not safe
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def setup() -> None:
        prctl(1, sig)  # PR_SET_PDEATHSIG; runs after the uid change, which would clear it

    return setup


def _last_line(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines()]
    except OSError:
        return ""
    lines = [ln for ln in lines if ln]
    return " ".join(lines[-1].split())[:300] if lines else ""


class Server(ABC):
    """One server process on loopback (see the module doc); subclasses say how to start it."""

    name = "server"
    #: the signal that stops the server cleanly (and the one PDEATHSIG sends)
    stop_signal = signal.SIGTERM
    #: the user to run as when we are root (None: stay root)
    run_as: str | None = None

    def __init__(self, *, port: int | None = None, timeout: float = 30.0,
                 durable: bool = False) -> None:
        self.requested_port = port
        self.port = port or 0
        self.timeout = timeout
        self.durable = durable
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    # ----------------------------------------------------------------- what subclasses give

    def check_binaries(self) -> None:  # noqa: B027 - optional hook, default: nothing
        """Raise UserError if a binary the server needs is missing."""

    def prepare(self) -> None:  # noqa: B027 - optional hook, default: nothing
        """Set up the temporary directory (config, data) before the first start."""

    @abstractmethod
    def command(self) -> list[str]:
        """The server's command line."""

    @abstractmethod
    def ready(self) -> bool:
        """Whether the server answers requests now."""

    # ----------------------------------------------------------------- life cycle

    @property
    def log(self) -> Path:
        assert self.dir is not None
        return self.dir / "server.log"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start the server and wait until it answers; a UserError if it does not (and then
        nothing of it is left)."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.check_binaries()
        if self.requested_port is not None and not port_is_free(self.requested_port):
            raise UserError(f"{self.name}: port {self.requested_port} on {HOST} is taken")
        self.dir = Path(tempfile.mkdtemp(prefix=f"syslab-txn-{self.name.lower()}-"))
        if self._user() is not None:
            pw = pwd.getpwnam(self._user())
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.prepare()
        # A port we picked can be taken by someone else before the server binds it (other
        # test workers start servers too): then try another one.
        for attempt in range(3):
            if self.requested_port is None:
                self.pick_ports()
            self._spawn()
            try:
                self._wait_ready()
                return
            except UserError as err:
                self._stop_process()
                taken = "in use" in str(err).lower() or "bind" in str(err).lower()
                if self.requested_port is not None or not taken or attempt == 2:
                    raise

    def pick_ports(self) -> None:
        self.port = free_port()

    def _user(self) -> str | None:
        if self.run_as is None or os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(self.run_as)
        except KeyError:
            raise UserError(f"{self.name}: must not run as root and there is no "
                            f"{self.run_as!r} user to run it as") from None
        return self.run_as

    def _popen_user(self) -> dict:
        user = self._user()
        if user is None:
            return {}
        # Popen switches user in the child itself (rather than `runuser -u`): no PAM session
        # process sits between us and the server, so signals and the process group reach
        # it directly. No supplementary groups: root's must not leak into the server.
        return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}

    def run_setup_command(self, args: list[str], what: str) -> None:
        """Run a one-off command (initdb) as the server's user; a UserError if it fails."""
        out = self.dir / f"{what}.log"
        with out.open("wb") as f:
            try:
                done = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT,
                                      timeout=self.timeout, cwd=self.dir,
                                      **self._popen_user())
            except subprocess.TimeoutExpired:
                raise UserError(f"{self.name}: {what} did not finish within "
                                f"{self.timeout:g} s") from None
        if done.returncode != 0:
            raise UserError(f"{self.name}: {what} failed (exit {done.returncode}): "
                            f"{_last_line(out)}")

    def _spawn(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
        self._log_file = self.log.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=self._log_file,
                stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True,
                preexec_fn=_pdeathsig(self.stop_signal), **self._popen_user())
        except OSError as err:
            raise UserError(f"{self.name}: cannot start {self.command()[0]} "
                            f"({err.strerror})") from None

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                raise UserError(f"{self.name} exited (code {code}) before it was ready: "
                                f"{_last_line(self.log) or 'no log output'}")
            try:
                if self.ready():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise UserError(f"{self.name} did not come up on {HOST}:{self.port} within "
                                f"{self.timeout:g} s: {_last_line(self.log) or 'no log output'}")
            time.sleep(0.05)

    def pids(self) -> list[int]:
        """The server's processes now: its process group and the leader's descendants
        (PostgreSQL's backends each call setsid, leaving the group)."""
        if self.proc is None:
            return []
        parents: dict[int, int] = {}
        out = set()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                parents[pid] = int(fields[1])
                if int(fields[2]) == self.proc.pid:
                    out.add(pid)
        todo = [self.proc.pid] if self.proc.pid in parents else []
        while todo:
            pid = todo.pop()
            out.add(pid)
            todo.extend(c for c, p in parents.items() if p == pid and c not in out)
        return sorted(out)

    def kill(self) -> None:
        """SIGKILL every process of the server now (a crash, for tests); `stop` cleans up."""
        if self.proc is not None:
            for p in [_Proc(pid) for pid in self.pids()]:
                p.kill()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def _stop_process(self) -> None:
        if self.proc is None:
            return
        # taken now: once the leader is gone its children are someone else's
        left = [_Proc(pid) for pid in self.pids() if pid != self.proc.pid]
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        # whatever is left (a hung server, PostgreSQL backends if the postmaster died)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for p in left:
            p.kill()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (_group_alive(proc.pid)
                                                or any(p.alive() for p in left)):
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (all its processes) and remove its directory."""
        self._stop_process()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


class _Proc:
    """A process we started, told apart from a later one with the same pid by start time."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = self._start_time()

    def _start_time(self) -> str | None:
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2:].split()
        return None if fields[0] == "Z" else fields[19]

    def alive(self) -> bool:
        return self.start is not None and self._start_time() == self.start

    def kill(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _need(path: Path | str, server: str) -> str:
    found = shutil.which(str(path))
    if found is None:
        raise UserError(f"{server}: {path} not found (install it: make services)")
    return found


# --------------------------------------------------------------------------- PostgreSQL


class Postgres(Server):
    """PostgreSQL 15: initdb in the temp dir, then the postmaster in the foreground (not
    pg_ctl, which daemonizes and would leave us without a handle on the process). As root it
    runs as the `postgres` user, since PostgreSQL refuses to run as root."""

    name = "PostgreSQL"
    stop_signal = signal.SIGINT  # fast shutdown: SIGTERM would wait for clients to leave
    run_as = "postgres"

    def __init__(self, *, bin_dir: Path | str = PG_BIN, max_connections: int = 1000,
                 **kw) -> None:
        super().__init__(**kw)
        self.bin_dir = Path(bin_dir)
        self.max_connections = max_connections
        self.user = "postgres"
        self.database = "postgres"

    @property
    def dsn(self) -> str:
        return (f"host={HOST} port={self.port} user={self.user} dbname={self.database} "
                "connect_timeout=5")

    def check_binaries(self) -> None:
        for b in ("initdb", "postgres"):
            _need(self.bin_dir / b, self.name)

    def prepare(self) -> None:
        # --no-sync: the directory is thrown away (see the module doc)
        self.run_setup_command([str(self.bin_dir / "initdb"), "-D", str(self.dir / "data"),
                                "-A", "trust", "-U", self.user, "-E", "UTF8", "--locale=C",
                                "--no-sync", "--no-instructions"], "initdb")

    def command(self) -> list[str]:
        sync = "on" if self.durable else "off"
        return [str(self.bin_dir / "postgres"), "-D", str(self.dir / "data"),
                "-h", HOST, "-p", str(self.port), "-k", str(self.dir),
                "-c", f"max_connections={self.max_connections}",
                "-c", f"fsync={sync}", "-c", f"synchronous_commit={sync}",
                "-c", f"full_page_writes={sync}"]

    def ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn.replace("connect_timeout=5", "connect_timeout=2")):
                return True
        except psycopg.OperationalError:
            return False


# --------------------------------------------------------------------------- Redis


class Redis(Server):
    """redis-server 7: no snapshots, no append-only file, no protected mode."""

    name = "Redis"

    def __init__(self, *, binary: str = "redis-server", **kw) -> None:
        super().__init__(**kw)
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}"

    def check_binaries(self) -> None:
        _need(self.binary, self.name)

    def command(self) -> list[str]:
        aof = "yes" if self.durable else "no"
        return [_need(self.binary, self.name), "--bind", HOST, "--port", str(self.port),
                "--save", "", "--appendonly", aof, "--appendfsync", "always",
                "--dir", str(self.dir), "--daemonize", "no", "--protected-mode", "no"]

    def ready(self) -> bool:
        with socket.create_connection((HOST, self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")


# --------------------------------------------------------------------------- etcd


class Etcd(Server):
    """etcd 3.4, one member; client and peer URLs on loopback."""

    name = "etcd"

    def __init__(self, *, binary: str = "etcd", **kw) -> None:
        super().__init__(**kw)
        self.binary = binary
        self.peer_port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def pick_ports(self) -> None:
        super().pick_ports()
        self.peer_port = free_port()

    def start(self) -> None:
        if self.requested_port is not None:
            self.peer_port = free_port()
        super().start()

    def check_binaries(self) -> None:
        _need(self.binary, self.name)

    def command(self) -> list[str]:
        peer = f"http://{HOST}:{self.peer_port}"
        return [_need(self.binary, self.name), "--name", "syslab",
                "--data-dir", str(self.dir / "data"),
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"syslab={peer}", "--initial-cluster-state", "new",
                "--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn"]

    def ready(self) -> bool:
        with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
            return b'"health":"true"' in r.read()


# --------------------------------------------------------------------------- ZooKeeper


class ZooKeeper(Server):
    """ZooKeeper 3.8 standalone (QuorumPeerMain with no peers), admin server off."""

    name = "ZooKeeper"

    def __init__(self, *, java: str = "java", jar: Path | str = ZK_JAR, **kw) -> None:
        super().__init__(**kw)
        self.java = java
        self.jar = Path(jar)

    @property
    def hosts(self) -> str:
        return f"{HOST}:{self.port}"

    def check_binaries(self) -> None:
        _need(self.java, self.name)
        if not self.jar.is_file():
            raise UserError(f"{self.name}: {self.jar} not found (install it: make services)")

    def prepare(self) -> None:
        (self.dir / "data").mkdir()

    def command(self) -> list[str]:
        cfg = self.dir / "zoo.cfg"
        cfg.write_text("\n".join([
            "tickTime=2000", f"dataDir={self.dir / 'data'}", f"clientPort={self.port}",
            f"clientPortAddress={HOST}", "admin.enableServer=false", "maxClientCnxns=0",
            "4lw.commands.whitelist=srvr", f"forceSync={'yes' if self.durable else 'no'}",
            ""]))
        cp = [str(self.jar)] + ([str(ZK_LOGGER_JAR)] if ZK_LOGGER_JAR.is_file() else [])
        return [_need(self.java, self.name), "-Xms64m", "-Xmx512m",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-Dzookeeper.jmx.log4j.disable=true", "-cp", ":".join(cp),
                "org.apache.zookeeper.server.quorum.QuorumPeerMain", str(cfg)]

    def ready(self) -> bool:
        with socket.create_connection((HOST, self.port), timeout=1) as s:
            s.sendall(b"srvr")
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
            return b"Mode: standalone" in reply


def postgres(**kw) -> Postgres:
    """A PostgreSQL server (`with postgres() as pg: pg.dsn`)."""
    return Postgres(**kw)


def redis(**kw) -> Redis:
    """A Redis server (`with redis() as r: r.port`)."""
    return Redis(**kw)


def etcd(**kw) -> Etcd:
    """An etcd server (`with etcd() as e: e.port`)."""
    return Etcd(**kw)


def zookeeper(**kw) -> ZooKeeper:
    """A ZooKeeper server (`with zookeeper() as z: z.hosts`)."""
    return ZooKeeper(**kw)


__all__ = ["HOST", "Etcd", "Postgres", "Redis", "Server", "ZooKeeper", "etcd", "free_port",
           "port_is_free", "postgres", "redis", "zookeeper"]
