"""Real anchor servers on loopback (nginx, nginx proxy_cache, Varnish) and the load clients.

Every server is a context manager started on a free port in its own temporary directory
(config, pid, logs, cache), with `.url` and `.pids()` (all its processes, for CPU
accounting), and stopped on exit:

    with NginxOrigin(root) as origin, NginxProxyCache(origin.url, cpus="0") as cache:
        warm(cache.url, paths, is_hit=cache.is_hit)
        result = run_wrk(cache.url, paths, duration=6, cpu_pids=cache.pids(), taskset="1")
        p99 = paced_load(cache.url, paths, rate=3000, duration=5, cpus="1")["p99_ms"]

`run_wrk` is the closed-loop throughput client (wrk, CPU-normalised by the server's own
utime+stime); `paced_load` is an open-loop client at a fixed rate that measures latency from
each request's scheduled send time (as wrk2 does), so a stalled server cannot hide its
stall by slowing the client down (coordinated omission).

Running as root works: nginx workers run as root (rather than `nobody`, who cannot read a
caller's 0700 temp dirs) and our temp dirs are 0755 so Varnish's unprivileged users
(varnish, vcache) can read the VCL and the -n work dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import http.client
import json
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

__all__ = [
    "NginxOrigin",
    "NginxProxyCache",
    "SyslabCdn",
    "Varnish",
    "cpu_seconds",
    "fetch",
    "find_binary",
    "free_port",
    "looks_like_hit",
    "paced_load",
    "pin",
    "run_wrk",
    "warm",
]

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (servers retry if it is taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary(name: str) -> str | None:
    """Path of a server binary; Debian puts nginx/varnishd in /usr/sbin, often not on PATH."""
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def parse_cpus(cpus: str | Iterable[int]) -> set[int]:
    """A taskset-style list ("0", "0,2", "1-3") or ints -> set of CPU ids."""
    if not isinstance(cpus, str):
        return {int(c) for c in cpus}
    result: set[int] = set()
    for part in cpus.split(","):
        lo, _, hi = part.strip().partition("-")
        result.update(range(int(lo), int(hi or lo) + 1))
    return result


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        stat = _read_stat(int(entry.name))
        if stat is not None:
            children.setdefault(int(stat[1]), []).append(int(entry.name))
    return children


def _tree(root: int) -> list[int]:
    """`root` and all its live descendants."""
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _read_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after `comm` (which may contain spaces): [0] is state."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pids: Iterable[int], children: bool = True) -> float:
    """CPU seconds (user + system, all threads) used so far by `pids`.

    With `children`, each pid's live descendants are added (looked up now, so workers forked
    since `pids` was taken count too) and so are cutime/cstime: the time of children that
    have exited and been reaped. Time of a process that exited without being reaped by a
    counted parent is lost, so measure deltas over processes that stay up (server trees do).
    Resolution is one clock tick (10 ms).
    """
    wanted = set(pids)
    if children:
        kids = _children_map()
        todo = list(wanted)
        while todo:
            for kid in kids.get(todo.pop(), ()):
                if kid not in wanted:
                    wanted.add(kid)
                    todo.append(kid)
    ticks = 0
    for pid in wanted:
        stat = _read_stat(pid)
        if stat is None:
            continue
        # stat(5) fields 14-17: utime, stime, cutime, cstime (3 is state = index 0 here)
        ticks += int(stat[11]) + int(stat[12])
        if children:
            ticks += int(stat[13]) + int(stat[14])
    return ticks / CLK_TCK


def pin(pids: Iterable[int], cpus: str | Iterable[int]) -> None:
    """Pin every thread of `pids` to `cpus` (like `taskset -a -p -c`); new threads inherit."""
    mask = parse_cpus(cpus)
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.sched_setaffinity(int(tid), mask)


def child_setup(cpus: set[int] | None) -> Callable[[], None]:
    """Runs in the forked child: pin it, and have it killed if we die (no stray servers)."""
    try:  # looked up here, in the parent: dlopen between fork and exec is not safe
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None

    def setup() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)
        if prctl is not None:
            prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return setup


def _is_root() -> bool:
    return os.geteuid() == 0


def fetch(
    url: str, path: str = "/", headers: Mapping[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """One GET on a fresh connection -> (status, headers with lower-case names, body)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def looks_like_hit(headers: Mapping[str, str]) -> bool:
    """Generic hit test: RFC 9211 `Cache-Status: name; hit`, an X-Cache(-Status) saying HIT,
    or Varnish's two X-Varnish ids."""
    for entry in headers.get("cache-status", "").split(","):
        if "hit" in (param.strip().lower() for param in entry.split(";")[1:]):
            return True
    for name in ("x-cache-status", "x-cache"):
        if "HIT" in headers.get(name, "").upper():
            return True
    return len(headers.get("x-varnish", "").split()) == 2


def warm(
    url: str,
    paths: Sequence[str],
    passes: int = 2,
    is_hit: Callable[[Mapping[str, str]], bool] | None = None,
) -> float | None:
    """GET every path `passes` times over one keep-alive connection.

    Returns the fraction of the last pass that `is_hit` calls a hit (None without `is_hit`).
    Raises RuntimeError on any non-200 answer.
    """
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    hits = 0
    try:
        for n in range(passes):
            for path in paths:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"warm {url}{path}: HTTP {resp.status}")
                if n == passes - 1 and is_hit is not None:
                    hits += is_hit({k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()
    return hits / len(paths) if is_hit is not None and paths else None


# --------------------------------------------------------------------------- servers


class ServerError(RuntimeError):
    """A server did not come up; the message ends with the tail of its logs."""


class ManagedServer(ABC):
    """A server process on 127.0.0.1:<free port> in a private temp dir; subclasses say how."""

    name = "server"
    binary = ""
    ready_timeout = 15.0

    def __init__(self, cpus: str | Iterable[int] | None = None) -> None:
        self.cpus = parse_cpus(cpus) if cpus is not None else None
        self.port = 0
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @abstractmethod
    def _command(self) -> list[str]:
        """Write config files into self.dir and return the command line."""

    def _logs(self) -> list[Path]:
        return [self.dir / "stdout.log"] if self.dir else []

    @staticmethod
    def is_hit(headers: Mapping[str, str]) -> bool:
        return looks_like_hit(headers)

    def start(self) -> Self:
        exe = find_binary(self.binary) if self.binary else sys.executable
        if exe is None:
            raise ServerError(f"{self.binary} not found (PATH, /usr/sbin)")
        self.exe = exe
        self.dir = Path(tempfile.mkdtemp(prefix=f"syslab-{self.name}-"))
        # Varnish drops to users varnish/vcache when started as root; they must read our files
        self.dir.chmod(0o755)
        last = ""
        for _ in range(3):  # another process may grab the free port before we bind it
            self.port = free_port()
            out = (self.dir / "stdout.log").open("ab")
            self.proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                preexec_fn=child_setup(self.cpus),
            )
            out.close()
            try:
                self._wait_ready()
                return self
            except ServerError as exc:
                last = str(exc)
                self._terminate()
                if "in use" not in last:
                    break
        self.stop()
        raise ServerError(last)

    def _wait_ready(self) -> None:
        """Ready once it answers HTTP at all (a 404 will do): a bare TCP accept is too early
        for Varnish, whose manager listens before its cache child has started."""
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                fetch(self.url, "/", timeout=1.0)
                return
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
        raise ServerError(
            f"{self.name} not answering on {self.url} after {self.ready_timeout}s:\n"
            f"{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        chunks = []
        for path in self._logs():
            if path.exists():
                text = path.read_text(errors="replace").strip().splitlines()
                if text:
                    chunks.append(f"--- {path.name}\n" + "\n".join(text[-lines:]))
        return "\n".join(chunks) or "(no log output)"

    def pids(self) -> list[int]:
        """The server's process and its live descendants (e.g. nginx master + workers)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return _tree(self.proc.pid)

    def _terminate(self) -> None:
        if self.proc is None:
            return
        tree = self.pids()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in tree[1:]:  # workers/children that outlived their parent
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.proc = None

    def stop(self) -> None:
        self._terminate()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Nginx(ManagedServer, ABC):
    """Shared nginx skeleton: foreground master, private pid/log/temp paths."""

    binary = "nginx"

    def __init__(self, workers: int = 1, cpus: str | Iterable[int] | None = None) -> None:
        super().__init__(cpus)
        self.workers = workers

    @abstractmethod
    def _http_block(self) -> str:
        """The `http { … }` body: what this nginx serves."""

    def _logs(self) -> list[Path]:
        return [self.dir / "stdout.log", self.dir / "error.log"]

    def _command(self) -> list[str]:
        d = self.dir
        # As root the workers would become `nobody`, who cannot read a caller's 0700 tmp dirs.
        user = f"user {pwd.getpwuid(0).pw_name};" if _is_root() else ""
        temp = "\n".join(
            f"    {kind}_temp_path {d}/tmp_{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf = f"""
{user}
daemon off;
master_process on;
worker_processes {self.workers};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    # also caches proxy_cache files' descriptors: a HIT then costs no open()/close()
    open_file_cache max=100000 inactive=300s;
    open_file_cache_valid 300s;
{temp}
{self._http_block()}
}}
"""
        (d / "nginx.conf").write_text(conf)
        # -e: startup errors go to our log, not /var/log/nginx (unwritable as non-root)
        return [self.exe, "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")]


class NginxOrigin(_Nginx):
    """nginx serving the static files under `root` (the origin, and a reference server).

    Answers carry `Cache-Control: max-age=<max_age>` (None: no header) so that every cache
    in front keeps them fresh; without it an RFC 9111 cache would use a heuristic lifetime
    of 10 % of the file's age, seconds for files a benchmark has just written.
    """

    name = "nginx-origin"

    def __init__(
        self,
        root: Path,
        workers: int = 1,
        max_age: int | None = 30 * 86400,
        cpus: str | Iterable[int] | None = None,
    ) -> None:
        super().__init__(workers, cpus)
        self.root = Path(root).resolve()
        self.max_age = max_age

    def _http_block(self) -> str:
        expires = f"expires {self.max_age}s;" if self.max_age is not None else ""
        return f"""
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        {expires}
    }}"""


class NginxProxyCache(_Nginx):
    """nginx proxy_cache in front of `origin_url`; answers carry X-Cache-Status."""

    name = "nginx-proxy-cache"

    def __init__(
        self,
        origin_url: str,
        workers: int = 1,
        max_size: str = "1g",
        cpus: str | Iterable[int] | None = None,
    ) -> None:
        super().__init__(workers, cpus)
        self.origin = urlsplit(origin_url)
        self.max_size = max_size

    @staticmethod
    def is_hit(headers: Mapping[str, str]) -> bool:
        return headers.get("x-cache-status") == "HIT"

    def _http_block(self) -> str:
        o = self.origin
        return f"""
    proxy_cache_path {self.dir}/cache levels=1:2 keys_zone=syslab:64m
                     max_size={self.max_size} inactive=30d use_temp_path=off;
    upstream origin {{
        server {o.hostname}:{o.port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{self.port};
        location / {{
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache syslab;
            proxy_cache_valid 200 30d;
            proxy_cache_lock on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}"""


class Varnish(ManagedServer):
    """varnishd -F in front of `origin_url`: malloc storage, one thread pool, TTL 30 days."""

    name = "varnish"
    binary = "varnishd"

    def __init__(
        self,
        origin_url: str,
        memory: str = "256m",
        thread_pools: int = 1,
        cpus: str | Iterable[int] | None = None,
    ) -> None:
        super().__init__(cpus)
        self.origin = urlsplit(origin_url)
        self.memory = memory
        self.thread_pools = thread_pools

    @staticmethod
    def is_hit(headers: Mapping[str, str]) -> bool:
        # X-Varnish holds this request's id, plus the id that filled the object on a hit
        return len(headers.get("x-varnish", "").split()) == 2

    def _command(self) -> list[str]:
        d, o = self.dir, self.origin
        vcl = d / "default.vcl"
        vcl.write_text(
            f"""vcl 4.1;
backend origin {{ .host = "{o.hostname}"; .port = "{o.port}"; }}
sub vcl_backend_response {{ set beresp.ttl = 30d; }}
"""
        )
        vcl.chmod(0o644)
        options = {
            "-n": d / "varnish",  # private work dir: several instances can run at once
            "-a": f"127.0.0.1:{self.port}",
            "-T": "127.0.0.1:0",
            "-f": vcl,
            "-s": f"malloc,{self.memory}",
        }
        params = {
            "thread_pools": self.thread_pools,
            "timeout_idle": 300,  # like nginx keepalive_timeout: keep idle clients connected
        }
        cmd = [self.exe, "-F"]
        for flag, value in options.items():
            cmd += [flag, str(value)]
        for name, value in params.items():
            cmd += ["-p", f"{name}={value}"]
        return cmd


class SyslabCdn(ManagedServer):
    """Our node: `python -m syslab cdn serve --origin … --listen … --workers N`."""

    name = "syslab-cdn"
    ready_timeout = 30.0  # Python start-up and imports

    def __init__(
        self,
        origin_url: str,
        workers: int = 1,
        extra_args: Sequence[str] = (),
        cpus: str | Iterable[int] | None = None,
    ) -> None:
        super().__init__(cpus)
        self.origin_url = origin_url
        self.workers = workers
        self.extra_args = list(extra_args)

    @staticmethod
    def unavailable() -> str | None:
        """Why `syslab cdn serve` cannot run here, or None if it can."""
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "syslab", "cdn", "serve", "--help"],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`syslab cdn serve --help` failed: {exc}"
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
            return f"`syslab cdn serve` is not available yet ({tail[0].strip()})"
        return None

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "syslab",
            "cdn",
            "serve",
            "--origin",
            self.origin_url,
            "--listen",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            *self.extra_args,
        ]


# --------------------------------------------------------------------------- wrk

_WRK_ROTATE = """
local paths = {%s}
local n = #paths
local counter = 0
local nthreads = 0

function setup(thread)
    -- threads start at different offsets so they do not request the same object in step
    thread:set("offset", nthreads * 7919)
    nthreads = nthreads + 1
end

function init(args)
    counter = offset or 0
end

function request()
    counter = counter + 1
    return wrk.format("GET", paths[counter %% n + 1])
end
"""

# Every run reports through this `done`, whatever its `request` function does.
_WRK_DONE = """
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'SYSLAB_WRK {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, ' ..
        '"read": %d, "write": %d, "status": %d, "timeout": %d, "p50_us": %.1f, ' ..
        '"p90_us": %.1f, "p99_us": %.1f, "p999_us": %.1f, "mean_us": %.1f, ' ..
        '"max_us": %.1f}\\n',
        summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
        e.status, e.timeout, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9), latency.mean, latency.max))
end
"""


def tool_version(cmd: list[str]) -> str:
    """The first line a tool prints for its version flag (for results files), or "?"."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return ((proc.stdout + proc.stderr).strip().splitlines() or ["?"])[0]


def _lua_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(
    url: str,
    paths: Sequence[str],
    threads: int = 1,
    connections: int = 50,
    duration: float = 5.0,
    cpu_pids: Iterable[int] | None = None,
    taskset: str | Iterable[int] | None = None,
    timeout_s: float = 5.0,
    request_lua: str | None = None,
) -> dict:
    """Closed-loop load with wrk over keep-alive connections, rotating over `paths`.

    `request_lua`, if given, is a Lua script defining wrk's `request()` (and whatever it
    needs) used instead of the rotation over `paths`, e.g. a never-seen URL per request.

    `taskset` pins wrk (pin the server with its `cpus=` or `pin()`). wrk takes whole seconds,
    so `duration` is rounded up. `errors` counts socket errors (connect, read, write,
    timeout) and HTTP status >= 400 (wrk's definition of a bad status). With `cpu_pids`,
    `server_cpu_s` is their CPU time over the run and `req_per_cpu_s` = requests / that.
    """
    exe = find_binary("wrk")
    if exe is None:
        raise FileNotFoundError("wrk not found (apt-get install wrk)")
    if not paths and request_lua is None:
        raise ValueError("run_wrk needs at least one path")
    seconds = max(1, int(-(-duration // 1)))
    cpu_pids = list(cpu_pids) if cpu_pids is not None else None
    with tempfile.TemporaryDirectory(prefix="syslab-wrk-") as tmp:
        script = Path(tmp) / "rotate.lua"
        rotate = _WRK_ROTATE % ",".join(_lua_string(p) for p in paths)
        script.write_text((request_lua if request_lua is not None else rotate) + _WRK_DONE)
        cmd = [
            exe,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            f"--timeout={max(1, round(timeout_s))}s",
            "-s",
            str(script),
            url,
        ]
        cpus = parse_cpus(taskset) if taskset is not None else None
        before = cpu_seconds(cpu_pids) if cpu_pids else 0.0
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            preexec_fn=child_setup(cpus),
        )
        after = cpu_seconds(cpu_pids) if cpu_pids else 0.0
    line = next((x for x in proc.stdout.splitlines() if x.startswith("SYSLAB_WRK ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    raw = json.loads(line.split(" ", 1)[1])
    duration_s = raw["duration_us"] / 1e6
    errors = {k: raw[k] for k in ("connect", "read", "write", "timeout", "status")}
    result = {
        "requests": raw["requests"],
        "duration_s": duration_s,
        "req_per_s": raw["requests"] / duration_s if duration_s else 0.0,
        "mib_per_s": raw["bytes"] / duration_s / 2**20 if duration_s else 0.0,
        "errors": sum(errors.values()),
        "error_detail": errors,
        "threads": threads,
        "connections": connections,
        "p50_ms": raw["p50_us"] / 1e3,
        "p90_ms": raw["p90_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "p999_ms": raw["p999_us"] / 1e3,
        "mean_ms": raw["mean_us"] / 1e3,
        "max_ms": raw["max_us"] / 1e3,
    }
    if cpu_pids:
        cpu = after - before
        result["server_cpu_s"] = cpu
        result["req_per_cpu_s"] = raw["requests"] / cpu if cpu > 0 else None
    return result


# --------------------------------------------------------------------------- paced load


class _PacedConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection carrying one request at a time."""

    def __init__(self, load: _OpenLoop) -> None:
        import httptools

        self.load = load
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.scheduled = 0.0
        self.busy = False
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.fd = transport.get_extra_info("socket").fileno()

    def send(self, scheduled: float, request: bytes) -> None:
        self.scheduled = scheduled
        self.busy = True
        self.load.send_lag.append(time.perf_counter() - scheduled)
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except Exception:  # malformed response: count it, drop the connection
            self.transport.close()

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_message_complete(self) -> None:
        self.busy = False
        self.load.completed(self, self.scheduled, self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.lost(self)


class _OpenLoop:
    """Requests are due at t0 + i/rate whatever the server does; a due request waits for a
    free connection if all are busy, and its latency runs from the due time regardless."""

    def __init__(self, host: str, port: int, requests: list[bytes], rate: float, count: int):
        self.host, self.port = host, port
        self.requests = requests
        self.period = 1.0 / rate
        self.count = count
        self.pending: deque[tuple[float, int]] = deque()
        self.idle: deque[_PacedConnection] = deque()
        self.conns: set[_PacedConnection] = set()
        self.latencies: list[float] = []
        self.send_lag: list[float] = []
        self.errors = 0
        self.bad_status = 0
        self.finished = 0
        self.last_done = 0.0
        self.closing = False
        self.all_done: asyncio.Future | None = None

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: _PacedConnection(self), self.host, self.port)
        self.conns.add(conn)
        self.release(conn)

    def dispatch(self, scheduled: float, i: int) -> None:
        if self.idle:
            self.idle.popleft().send(scheduled, self.requests[i % len(self.requests)])
        else:
            self.pending.append((scheduled, i))

    def release(self, conn: _PacedConnection) -> None:
        if self.pending:
            scheduled, i = self.pending.popleft()
            conn.send(scheduled, self.requests[i % len(self.requests)])
        else:
            self.idle.append(conn)

    def completed(self, conn: _PacedConnection, scheduled: float, status: int) -> None:
        now = time.perf_counter()
        self.latencies.append(now - scheduled)
        if not 200 <= status < 300:
            self.bad_status += 1
        self._finish(now)
        self.release(conn)

    def lost(self, conn: _PacedConnection) -> None:
        self.conns.discard(conn)
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)
        if conn.busy and not self.closing:  # closed by us at the end: a timeout, not an error
            conn.busy = False
            self.errors += 1
            self._finish(time.perf_counter())
        if not self.closing:  # replace it so the offered load keeps its connections
            task = asyncio.ensure_future(self.connect())
            task.add_done_callback(lambda t: t.exception())

    async def _wait(self, seconds: float) -> None:
        """Sleep until the next request is due, to within a few microseconds.

        Loop timers tick in whole milliseconds, too coarse for sub-ms latencies; spinning on
        the loop instead burns the client's core and, on a shared box, gets it preempted for
        milliseconds. So: the loop timer for the bulk, then select() with a microsecond
        timeout on our sockets (it returns early when a response arrives), then one pass of
        the loop to handle what arrived.
        """
        if seconds > 0.0015:
            await asyncio.sleep(seconds - 0.001)
            return
        if seconds > 0:
            fds = [c.fd for c in self.conns if c.busy]
            if fds and max(fds) >= 1024:  # beyond select()'s FD_SETSIZE: plain nanosleep
                fds = []
            select.select(fds, [], [], seconds)
        await asyncio.sleep(0)

    def _finish(self, now: float) -> None:
        self.finished += 1
        self.last_done = now
        if self.finished == self.count and self.all_done and not self.all_done.done():
            self.all_done.set_result(None)

    async def run(self, connections: int, timeout: float) -> float:
        self.all_done = asyncio.get_running_loop().create_future()
        await asyncio.gather(*(self.connect() for _ in range(connections)))
        t0 = time.perf_counter() + 0.01
        i = 0
        while i < self.count:
            now = time.perf_counter()
            while i < self.count and t0 + i * self.period <= now:
                self.dispatch(t0 + i * self.period, i)
                i += 1
            if i < self.count:
                await self._wait(t0 + i * self.period - time.perf_counter())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.all_done), timeout)
        self.closing = True
        for conn in list(self.conns):
            conn.transport.close()
        await asyncio.sleep(0)  # let the loop deliver connection_lost before it closes
        return t0


def _timer_slack(ns: int | None) -> int | None:
    """Set this thread's timer slack (prctl PR_SET_TIMERSLACK); returns the old value."""
    if ns is None:
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        old = prctl(30, 0, 0, 0, 0)  # PR_GET_TIMERSLACK
        prctl(29, ctypes.c_ulong(ns), 0, 0, 0)  # PR_SET_TIMERSLACK
        return old if old > 0 else None
    except (OSError, AttributeError):
        return None


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop

        return uvloop.new_event_loop
    except ImportError:
        return asyncio.new_event_loop


def paced_load(
    url: str,
    paths: Sequence[str],
    rate: float,
    duration: float,
    connections: int = 32,
    timeout: float = 5.0,
    cpus: str | Iterable[int] | None = None,
) -> dict:
    """Open-loop GETs at a fixed `rate` for `duration` seconds over keep-alive connections.

    Latency is measured from each request's scheduled send time (time.perf_counter), so
    time spent queued behind a slow response or behind a late client counts (wrk2's
    definition). `send_lag_p99_ms` is how late requests actually went out: large values mean
    all connections were busy or the client itself was behind. Requests unanswered
    `timeout` s after the last was due count as `timeouts`. `cpus` pins this (calling)
    thread for the run; GC is paused so collector pauses do not show up as server latency.
    """
    import numpy as np

    if rate <= 0 or duration <= 0 or not paths:
        raise ValueError("paced_load needs rate > 0, duration > 0 and paths")
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: syslab-paced\r\n\r\n".encode()
        for p in paths
    ]
    count = max(1, round(rate * duration))
    load = _OpenLoop(host, port, requests, rate, count)
    old_affinity = os.sched_getaffinity(0)
    if cpus is not None:
        os.sched_setaffinity(0, parse_cpus(cpus))
    slack = _timer_slack(1000)  # 1 us instead of 50 us: sub-ms waits end on time
    gc_was_enabled = gc.isenabled()
    gc.disable()
    cpu0 = time.thread_time()
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            t0 = runner.run(load.run(connections, timeout))
    finally:
        client_cpu = time.thread_time() - cpu0
        if gc_was_enabled:
            gc.enable()
        _timer_slack(slack)
        if cpus is not None:
            os.sched_setaffinity(0, old_affinity)
    lat = np.asarray(load.latencies) * 1e3
    lag = np.asarray(load.send_lag) * 1e3
    answered = len(load.latencies)
    span = max(duration, load.last_done - t0) if answered else duration

    def pct(q: float) -> float | None:
        return float(np.percentile(lat, q)) if answered else None

    return {
        "offered_rate": rate,
        "requests": count,
        "answered": answered,
        "achieved_rate": (answered - load.bad_status) / span,
        "errors": load.errors + load.bad_status,
        "timeouts": count - answered - load.errors,
        "connections": connections,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "p999_ms": pct(99.9),
        "max_ms": float(lat.max()) if answered else None,
        "send_lag_p99_ms": float(np.percentile(lag, 99)) if len(lag) else None,
        "client_cpu_s": client_cpu,
    }
