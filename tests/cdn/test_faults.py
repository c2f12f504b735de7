"""Faults: bad clients, bad origins, full disks, the admin API's locks, the CLI's bad flags.

Every case checks three things: the right status, that the node keeps serving others, and
that nothing broken or partial is cached (in memory or on disk). Malformed requests are sent
on raw sockets; misbehaving origins are a raw-socket server (`BadOrigin`) whose answer per
path a test chooses.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import syslab.cdn.disk as disk_module
import syslab.cdn.http1 as http1
from syslab.cdn.disk import key_name
from syslab.cdn.node import NodeConfig
from syslab.cdn.origin import Origin, generated_body
from syslab.cdn.server import BackgroundNode, free_port

TOKEN = "s3cret"
HEALTHY = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n"
    b"Connection: close\r\n\r\nok"
)

KEEP_ALIVE_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nCache-Control: max-age=600\r\n\r\ngood"

# ------------------------------------------------------------------ helpers


def raw(port: int, data: bytes, timeout: float = 3.0, half_close: bool = False) -> bytes:
    """Send `data` on a new connection; everything the node sends back until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                break
            if not chunk:
                return out
            out += chunk
        raise AssertionError(f"the node did not close the connection; got {out[:200]!r}")


def statuses(data: bytes) -> list[int]:
    """Status codes of the responses in `data`, walked by their Content-Length framing."""
    found = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"an incomplete response: {data[:200]!r}"
        lines = head.split(b"\r\n")
        assert lines[0].startswith(b"HTTP/1.1 "), f"not a response: {data[:200]!r}"
        found.append(int(lines[0].split(b" ")[1]))
        fields = dict(line.split(b": ", 1) for line in lines[1:])
        length = int(fields.get(b"Content-Length", b"0"))
        assert len(rest) >= length, "a response shorter than its Content-Length"
        data = rest[length:]
    return found


def joined(message) -> dict[str, str]:  # noqa: ANN001 - an http.client message
    return {k.lower(): ", ".join(message.get_all(k)) for k in set(message.keys())}


def get(
    url: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    data: bytes | None = None,
    timeout: float = 5.0,
) -> tuple[int, dict[str, str], bytes]:
    """One request on a new connection (urllib opens one per call)."""
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, joined(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, joined(e.headers), e.read()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def admin(base: str, path: str, payload: object, token: str = TOKEN) -> tuple[int, dict]:
    status, _, body = get(base + path, auth(token), "POST", json.dumps(payload).encode())
    return status, json.loads(body)


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}"


def hit(headers: dict[str, str]) -> bool:
    return "; hit" in headers.get("cache-status", "")


class BadOrigin:
    """A raw-socket origin on a thread; `behaviours[path](conn)` writes whatever it likes.

    Paths not listed answer `HEALTHY`. Each connection is closed after one answer, so the
    node never reuses a connection a broken answer left in an unknown state, unless
    `keep_alive`: then it goes on reading requests (what a pooled upstream connection sees).
    """

    def __init__(
        self,
        behaviours: dict[str, Callable[[socket.socket], None]],
        port: int = 0,
        keep_alive: bool = False,
    ) -> None:
        self.behaviours = behaviours
        self.keep_alive = keep_alive
        self.hits: Counter[str] = Counter()
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = False

    def __enter__(self) -> BadOrigin:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self.sock.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            data = b""
            while True:  # requests without bodies: the node only sends GETs here
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                self.hits[path] += 1
                behaviour = self.behaviours.get(path)
                if behaviour is None:
                    conn.sendall(HEALTHY if not self.keep_alive else KEEP_ALIVE_OK)
                else:
                    behaviour(conn)
                if not self.keep_alive:
                    return


def _send(payload: bytes, pause: float = 0.0) -> Callable[[socket.socket], None]:
    def behaviour(conn: socket.socket) -> None:
        if pause:
            time.sleep(pause)
        conn.sendall(payload)

    return behaviour


def _truncated_cl(conn: socket.socket) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nCache-Control: max-age=600\r\n\r\n"
        + b"x" * 400
    )


def _truncated_chunked(conn: socket.socket) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=600\r\n\r\n"
        b"10\r\n0123456789abcdef\r\n"
        b"100\r\n" + b"y" * 50
    )


def _slow_body(conn: socket.socket) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nCache-Control: max-age=600\r\n\r\n" + b"z" * 10
    )
    time.sleep(1.5)
    conn.sendall(b"z" * 90)


BAD = {
    "/garbage": _send(b"this is not HTTP at all\r\n\r\n"),
    "/binary": _send(bytes(range(256)) * 4),
    "/bad-status": _send(b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok"),
    "/bad-header": _send(b"HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 2\r\n\r\nok"),
    "/slow": _send(HEALTHY, pause=1.5),
    "/slow-body": _slow_body,
    "/truncated": _truncated_cl,
    "/truncated-chunked": _truncated_chunked,
    "/empty": _send(b""),  # accepts, reads the request, closes without a byte
    "/switch": _send(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"
    ),
    "/cl-te": _send(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
        b"Cache-Control: max-age=600\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    ),
    "/two-cl": _send(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n"
        b"Cache-Control: max-age=600\r\n\r\nhello"
    ),
    "/huge-header": _send(
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\nContent-Length: 2\r\n\r\nok"
    ),
}


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with Origin() as o:
        yield o


@pytest.fixture
def node(origin: Origin) -> Iterator[BackgroundNode]:
    with BackgroundNode(NodeConfig(origin=origin.url, admin_token=TOKEN)) as n:
        yield n


@pytest.fixture(scope="module")
def bad() -> Iterator[tuple[BadOrigin, BackgroundNode]]:
    with (
        BadOrigin(BAD) as o,
        BackgroundNode(NodeConfig(origin=o.url, timeout=0.3, admin_token=TOKEN)) as n,
    ):
        yield o, n


def assert_still_serves(node: BackgroundNode, path: str = "/gen/alive?size=100") -> None:
    status, _, body = get(node.url + path)
    assert status == 200, f"the node stopped serving: {status} {body[:100]!r}"


# ------------------------------------------------------------------ malformed requests

MALFORMED = {
    "bad request line": b"GARBAGE\r\n\r\n",
    "control char in target": b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad version": b"GET / HTTP/3.0\r\nHost: x\r\n\r\n",
    "method with bad chars": b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "header without colon": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    "space before colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "control char in value": b"GET / HTTP/1.1\r\nHost: x\x01y\r\n\r\n",
    "obsolete line folding": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\nHost: x\n\n",
    "NUL in target": b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
    "negative Content-Length": b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "bad chunk size": b"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nhello\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_request_gets_400_and_close(node: BackgroundNode, payload: bytes) -> None:
    reply = raw(node.port, payload)  # raw() fails unless the node closes the connection
    assert statuses(reply) == [400]
    assert b"Connection: close" in reply
    assert_still_serves(node)


def test_good_request_then_bad_one_on_same_connection(node: BackgroundNode) -> None:
    """Pipelined: the good request is answered in order, then 400, then the close."""
    reply = raw(
        node.port, b"GET /gen/first?size=10 HTTP/1.1\r\nHost: x\r\n\r\nBAD\x01 LINE\r\n\r\n"
    )
    assert statuses(reply) == [200, 400]
    assert_still_serves(node)


# ------------------------------------------------------------------ limits


def test_too_many_header_fields_431(node: BackgroundNode) -> None:
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(http1.MAX_HEADERS + 1))
    reply = raw(node.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert statuses(reply) == [431]
    assert_still_serves(node)


def test_oversized_header_bytes_431(node: BackgroundNode) -> None:
    big = b"X-Big: " + b"a" * (http1.MAX_HEADER_BYTES + 1) + b"\r\n"
    reply = raw(node.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert statuses(reply) == [431]
    # many medium fields adding up past the total, each one small
    fields = b"".join(b"X-F%d: %s\r\n" % (i, b"b" * 400) for i in range(90))
    reply = raw(node.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert statuses(reply) == [431]
    assert_still_serves(node)


def test_long_url_414(node: BackgroundNode, origin: Origin) -> None:
    path = "/long/" + "a" * (http1.MAX_URL + 10)
    reply = raw(node.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert statuses(reply) == [414]
    assert not any(p.startswith("/long/") for p in origin.hits)
    assert_still_serves(node)


def test_body_over_limit_413_not_forwarded(
    node: BackgroundNode, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http1, "MAX_BODY", 1000)
    for framing, body in (
        (b"Content-Length: 5000\r\n", b"q" * 5000),
        (b"Transfer-Encoding: chunked\r\n", b"".join([b"400\r\n" + b"q" * 1024 + b"\r\n"] * 3)),
    ):
        reply = raw(node.port, b"POST /upload HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n" + body)
        assert statuses(reply) == [413]
    assert origin.hits["/upload"] == 0
    # a body under the limit still goes through
    status, _, _ = get(node.url + "/upload", method="POST", data=b"small")
    assert status == 404 and origin.hits["/upload"] == 1


# ------------------------------------------------------------------ smuggling

SMUGGLING = {
    "CL and TE": b"POST /sm HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "TE and CL": b"POST /sm HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 4\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n0\r\n\r\n",
    "two Content-Lengths": b"POST /sm HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
    b"Content-Length: 6\r\n\r\nhello!",
    "Content-Length list": b"POST /sm HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!",
    "TE chunked, identity": b"POST /sm HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    "TE identity": b"POST /sm HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\nabc",
    "TE xchunked": b"POST /sm HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "TE space before colon": b"POST /sm HTTP/1.1\r\nHost: x\r\n"
    b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "TE twice": b"POST /sm HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n",
    "TE folded": b"POST /sm HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    "CL.TE hidden request": b"POST /sm HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "CL.TE on GET": b"GET /sm HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("payload", SMUGGLING.values(), ids=SMUGGLING.keys())
def test_smuggling_attempt_gets_one_400_and_nothing_forwarded(
    node: BackgroundNode, origin: Origin, payload: bytes
) -> None:
    before = origin.hits.copy()
    reply = raw(node.port, payload)
    assert statuses(reply) == [400]  # one answer, not one per hidden request
    assert b"Connection: close" in reply
    time.sleep(0.05)  # anything forwarded would have reached the origin by now
    assert origin.hits["/sm"] == before["/sm"]
    assert origin.hits["/smuggled"] == before["/smuggled"]
    assert_still_serves(node)


def test_chunked_body_then_pipelined_request_is_two_requests(
    node: BackgroundNode, origin: Origin
) -> None:
    """Not smuggling: one framing only, so what follows the last chunk is the next request."""
    origin.route("/form", "posted", headers={"Cache-Control": "no-store"})
    reply = raw(
        node.port,
        b"POST /form HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\nGET /gen/next?size=10 HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n",
    )
    assert statuses(reply) == [200, 200]
    assert origin.requests[-2].path == "/form" and origin.hits["/gen/next?size=10"] == 1


def test_absolute_form_target_400(node: BackgroundNode, origin: Origin) -> None:
    reply = raw(node.port, b"GET http://evil.example/gen/abs HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses(reply) == [400]
    reply = raw(node.port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses(reply) == [400]
    assert not any("abs" in p for p in origin.hits)
    assert_still_serves(node)


@pytest.mark.parametrize(
    "payload",
    [
        b"GET /gen/up HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"GET /gen/up HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n"
        b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
        b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ],
    ids=["websocket", "h2c", "CONNECT", "h2 preface"],
)
def test_upgrade_and_connect_refused_with_one_answer(
    node: BackgroundNode, origin: Origin, payload: bytes
) -> None:
    reply = raw(node.port, payload)
    assert len(statuses(reply)) == 1 and statuses(reply)[0] in (400, 501)
    assert origin.hits["/gen/up"] == 0  # refused, not forwarded and answered too
    assert_still_serves(node)


# ------------------------------------------------------------------ bad origins


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/garbage", 502),
        ("/binary", 502),
        ("/bad-status", 502),
        ("/bad-header", 502),
        ("/empty", 502),
        ("/switch", 502),
        ("/cl-te", 502),
        ("/two-cl", 502),
        ("/huge-header", 502),
        ("/truncated", 502),
        ("/truncated-chunked", 502),
        ("/slow", 504),
        ("/slow-body", 504),
    ],
)
def test_bad_origin_answer_gets_status_and_is_not_cached(
    bad: tuple[BadOrigin, BackgroundNode], path: str, status: int
) -> None:
    o, n = bad
    outcome: list[tuple[int, dict[str, str], bytes]] = []
    worker = threading.Thread(target=lambda: outcome.append(get(n.url + path)))
    worker.start()
    # meanwhile a healthy path is answered (the node is not stuck behind the bad fetch)
    got, _, body = get(n.url + "/healthy")
    assert (got, body) == (200, b"ok")
    worker.join(10)
    first, headers, body = outcome[0]
    assert first == status, body
    assert "no-store" in headers.get("cache-control", "")
    assert b"x" * 400 not in body and b"y" * 50 not in body  # never the partial body
    # not cached: the next request goes to the origin again (and fails the same way)
    again, headers, _ = get(n.url + path)
    assert again == status and not hit(headers)
    assert o.hits[path] >= 2
    assert get(n.url + "/healthy")[0] == 200


def test_origin_sending_two_answers_cannot_poison_the_next_request() -> None:
    """Bytes after a complete answer on a kept-alive upstream connection are never read as
    the answer to the next request (the connection is dropped, not reused)."""
    extra = _send(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n\r\nok"
        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nCache-Control: max-age=600\r\n\r\nevil"
    )
    with (
        BadOrigin({"/extra": extra}, keep_alive=True) as o,
        BackgroundNode(NodeConfig(origin=o.url)) as n,
    ):
        assert get(n.url + "/extra")[::2] == (200, b"ok")
        time.sleep(0.1)  # the stray answer has arrived on the idle pooled connection
        for path in ("/victim1", "/victim2"):
            assert get(n.url + path)[::2] == (200, b"good")
            assert o.hits[path] == 1


def test_origin_down_502_then_recovers(origin: Origin) -> None:
    port = free_port()
    with BackgroundNode(NodeConfig(origin=f"http://127.0.0.1:{port}", timeout=0.5)) as n:
        status, headers, body = get(n.url + "/gen/d?size=10")
        assert status == 502 and "unreachable" in body.decode()
        assert "no-store" in headers["cache-control"]
        # the origin comes up on that port: the node fetches and caches normally
        with BadOrigin({}, port):
            status, _, body = get(n.url + "/now-up")
            assert (status, body) == (200, b"ok")


def test_all_upstreams_down_with_parents_is_502() -> None:
    """Parents and origin all refuse connections: 502 (Bad Gateway), not 503.

    The node itself is healthy; it could not get an answer from any upstream. The dead
    parents are skipped after their health checks fail, and the answer stays 502.
    """
    parents = [closed_port_url(), closed_port_url()]
    config = NodeConfig(
        origin=closed_port_url(), parents=parents, timeout=0.5, health_interval=0.05
    )
    with BackgroundNode(config) as n:
        status, headers, _ = get(n.url + "/gen/x")
        assert status == 502 and "no-store" in headers["cache-control"]
        deadline = time.monotonic() + 3
        while any(n.node.upstream.health.is_up(p) for p in parents):  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "parents never marked down"
            time.sleep(0.05)
        assert get(n.url + "/gen/x")[0] == 502
        assert get(n.url + "/.syslab/health")[0] == 200


# ------------------------------------------------------------------ clients that leave


def test_client_leaves_mid_body_nothing_forwarded(node: BackgroundNode, origin: Origin) -> None:
    with socket.create_connection(("127.0.0.1", node.port)) as s:
        s.sendall(b"POST /half HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"h" * 500)
        time.sleep(0.05)
    with socket.create_connection(("127.0.0.1", node.port)) as s:  # and a chunked one
        s.sendall(b"POST /half HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nab")
        s.shutdown(socket.SHUT_WR)
        time.sleep(0.05)
    assert_still_serves(node)
    assert origin.hits["/half"] == 0  # a partial body is never sent upstream


def test_client_leaves_during_slow_miss_cache_still_filled(
    node: BackgroundNode, origin: Origin
) -> None:
    origin.route("/slowfill", "filled", headers={"Cache-Control": "max-age=600"}, delay=0.5)
    with socket.create_connection(("127.0.0.1", node.port)) as s:
        s.sendall(b"GET /slowfill HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.1)  # the fetch is under way; the client gives up
    assert_still_serves(node)  # meanwhile
    deadline = time.monotonic() + 5
    while origin.hits["/slowfill"] == 0 or "/slowfill" in node.node.inflight:  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, headers, body = get(node.url + "/slowfill")
    assert (status, body) == (200, b"filled") and hit(headers)
    assert origin.hits["/slowfill"] == 1


def test_many_clients_leave_during_coalesced_miss(node: BackgroundNode, origin: Origin) -> None:
    origin.route("/slowmany", "many", headers={"Cache-Control": "max-age=600"}, delay=0.4)
    socks = [socket.create_connection(("127.0.0.1", node.port)) for _ in range(5)]
    for s in socks:
        s.sendall(b"GET /slowmany HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.1)
    for s in socks[:4]:
        s.close()  # four leave, one stays
    s = socks[4]
    s.settimeout(3)
    reply = b""
    while b"many" not in reply:
        chunk = s.recv(65536)
        assert chunk
        reply += chunk
    s.close()
    assert statuses(reply) == [200] and origin.hits["/slowmany"] == 1
    status, headers, _ = get(node.url + "/slowmany")
    assert status == 200 and hit(headers) and origin.hits["/slowmany"] == 1


# ------------------------------------------------------------------ disk tier


def object_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name != "tombstones.json"]


def flush_disk(n: BackgroundNode) -> None:
    n.node.disk.executor.submit(lambda: None).result(5)  # type: ignore[union-attr]


def test_disk_full_serves_from_memory_nothing_partial(
    origin: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write

    def full(fd: int, data: bytes | memoryview) -> None:
        """Write a little, then the disk is full: a half-written temp file is left."""
        real_write(fd, bytes(data[:100]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(disk_module, "_write_all", full)
    url = "/gen/full?size=20000"
    config = NodeConfig(origin=origin.url, disk_path=str(tmp_path))
    with BackgroundNode(config) as n:
        for _ in range(3):
            status, _, body = get(n.url + url)
            assert status == 200 and body == generated_body("/gen/full", 20000)
        assert origin.hits[url] == 1  # served from memory after the failed disk write
        flush_disk(n)
        stats = n.node.disk.stats()  # type: ignore[union-attr]
        assert stats["write_errors"] >= 1 and stats["objects"] == 0
        assert object_files(tmp_path) == []  # the partial temp file was removed
        assert_still_serves(n)
    monkeypatch.undo()
    with BackgroundNode(config) as n:  # restart: nothing on disk, so the origin is asked
        status, _, body = get(n.url + url)
        assert status == 200 and body == generated_body("/gen/full", 20000)
        assert origin.hits[url] == 2


def test_disk_tier_survives_restart(origin: Origin, tmp_path: Path) -> None:
    url = "/gen/persist?size=30000"
    config = NodeConfig(origin=origin.url, disk_path=str(tmp_path))
    with BackgroundNode(config) as n:
        assert get(n.url + url)[0] == 200
    assert origin.hits[url] == 1
    with BackgroundNode(config) as n:
        status, _, body = get(n.url + url)
        assert status == 200 and body == generated_body("/gen/persist", 30000)
        assert origin.hits[url] == 1  # from disk, no origin fetch


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_disk_object_is_refetched_never_served(
    origin: Origin, tmp_path: Path, damage: str
) -> None:
    url = f"/gen/rot-{damage}?size=30000"
    expected = generated_body(f"/gen/rot-{damage}", 30000)
    config = NodeConfig(origin=origin.url, disk_path=str(tmp_path))
    with BackgroundNode(config) as n:
        assert get(n.url + url)[2] == expected
    name = key_name(url)
    path = tmp_path / name[:2] / name[2:4] / name
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-1000] ^= 0x40  # a body byte: header and length still look right
    else:
        data = data[: len(data) // 2]
    path.write_bytes(bytes(data))
    with BackgroundNode(config) as n:
        status, _, body = get(n.url + url)
        assert status == 200 and body == expected
        assert origin.hits[url] == 2
        flush_disk(n)
    with BackgroundNode(config) as n:  # the refetched copy was written whole again
        assert get(n.url + url)[2] == expected
        assert origin.hits[url] == 2


# ------------------------------------------------------------------ admin API


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/.syslab/stats"),
        ("GET", "/.syslab/metrics"),
        ("POST", "/.syslab/purge"),
        ("POST", "/.syslab/push"),
        ("PURGE", "/gen/locked"),
    ],
)
def test_admin_needs_the_token(node: BackgroundNode, method: str, path: str) -> None:
    data = b'{"urls": ["/gen/locked"]}' if method == "POST" else None
    for headers in ({}, auth("wrong"), {"Authorization": TOKEN}, {"Authorization": "Basic eDp5"}):
        status, got, _ = get(node.url + path, headers, method, data)
        assert status == 401, headers
        assert got["www-authenticate"].startswith("Bearer")
    status, _, _ = get(node.url + path, auth(), method, data)
    assert status == 200


def test_admin_disabled_without_token_is_403(origin: Origin) -> None:
    with BackgroundNode(NodeConfig(origin=origin.url)) as n:
        assert get(n.url + "/.syslab/stats", auth())[0] == 403
        assert get(n.url + "/.syslab/purge", auth(), "POST", b"{}")[0] == 403
        assert get(n.url + "/gen/x", auth(), "PURGE")[0] == 403
        assert get(n.url + "/.syslab/health")[0] == 200


def test_admin_health_needs_no_token(node: BackgroundNode) -> None:
    status, _, body = get(node.url + "/.syslab/health")
    assert status == 200 and json.loads(body)["status"] == "ok"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"urls": "/one"}', b'{"urls": [1]}', b"\xff\xfe"],
    ids=["syntax", "array", "string", "numbers", "not utf-8"],
)
def test_admin_bad_body_400(node: BackgroundNode, body: bytes) -> None:
    status, _, reply = get(node.url + "/.syslab/purge", auth(), "POST", body)
    assert status == 400, reply
    assert "error" in json.loads(reply)
    assert get(node.url + "/.syslab/push", auth(), "POST", b'{"urls": ["http://x/"]}')[0] == 400


def test_admin_unknown_endpoint_404(node: BackgroundNode) -> None:
    assert get(node.url + "/.syslab/nope", auth())[0] == 404
    assert get(node.url + "/.syslab/purge", auth())[0] == 404  # GET on a POST endpoint


def test_purge_method_purges_one_url(node: BackgroundNode, origin: Origin) -> None:
    url = "/gen/pm?size=100"
    get(node.url + url)
    assert hit(get(node.url + url)[1])
    status, _, body = get(node.url + url, auth(), "PURGE")
    assert status == 200 and json.loads(body)["removed"] >= 1
    status, headers, _ = get(node.url + url)
    assert status == 200 and not hit(headers) and origin.hits[url] == 2


def test_purge_by_surrogate_key_and_prefix(node: BackgroundNode, origin: Origin) -> None:
    urls = {
        "red": "/gen/tag/1?tag=red",
        "redblue": "/gen/tag/2?tag=red%20blue",
        "blue": "/gen/tag/3?tag=blue",
        "a1": "/gen/pre/a/1",
        "a2": "/gen/pre/a/2",
        "b1": "/gen/pre/b/1",
    }
    for url in urls.values():
        get(node.url + url)
    status, reply = admin(node.url, "/.syslab/purge", {"tags": ["red"]})
    assert status == 200 and reply["removed"] == 2
    status, reply = admin(node.url, "/.syslab/purge", {"prefixes": ["/gen/pre/a/"]})
    assert status == 200 and reply["removed"] == 2
    cached = {k: hit(get(node.url + u)[1]) for k, u in urls.items()}
    assert cached == {
        "red": False,
        "redblue": False,
        "blue": True,
        "a1": False,
        "a2": False,
        "b1": True,
    }


def test_push_warms_urls(node: BackgroundNode, origin: Origin) -> None:
    urls = ["/gen/push/1?size=100", "/gen/push/2?size=200"]
    status, reply = admin(node.url, "/.syslab/push", {"urls": urls})
    assert status == 200 and all(reply["pushed"][u]["stored"] for u in urls)
    admin(node.url, "/.syslab/push", {"urls": urls})  # already fresh: not fetched again
    for u in urls:
        assert hit(get(node.url + u)[1])
        assert origin.hits[u] == 1


def test_metrics_prometheus_text(node: BackgroundNode) -> None:
    get(node.url + "/gen/m?size=10")
    get(node.url + "/gen/m?size=10")
    status, headers, body = get(node.url + "/.syslab/metrics", auth())
    assert status == 200 and headers["content-type"].startswith("text/plain")
    values = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    assert values["syslab_cdn_hits_total"] >= 1
    assert values["syslab_cdn_misses_total"] >= 1
    assert values["syslab_cdn_requests_total"] >= 2


# ------------------------------------------------------------------ multi-worker, CLI


def wait_for(fn: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if fn():
                return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_multi_worker_purge_reaches_every_worker(origin: Origin) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "syslab", "cdn", "serve", "--workers", "2"]
    cmd += ["--origin", origin.url, "--listen", f"127.0.0.1:{port}", "--admin-token", TOKEN]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:

        def both_up() -> bool:
            status, _, body = get(base + "/.syslab/stats", auth(), timeout=1)
            return status == 200 and json.loads(body)["workers"] == 2

        wait_for(both_up, 20, "two workers")
        route = origin.route("/mw", "v1", headers={"Cache-Control": "max-age=3600"})
        for _ in range(40):  # a new connection each: SO_REUSEPORT spreads them
            assert get(base + "/mw")[2] == b"v1"
        assert origin.hits["/mw"] == 2  # each worker has its own copy now
        route.body = b"v2"
        status, reply = admin(base, "/.syslab/purge", {"urls": ["/mw"]})
        assert status == 200 and reply["removed"] == 2 and reply["unreachable"] == []
        misses = 0
        for _ in range(40):
            status, headers, body = get(base + "/mw")
            assert (status, body) == (200, b"v2")  # no worker still has v1
            misses += not hit(headers)
        assert misses == 2 and origin.hits["/mw"] == 4  # one miss per worker
        status, _, body = get(base + "/.syslab/stats", auth())
        assert json.loads(body)["workers"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    assert rc == 0, proc.stderr.read().decode()  # type: ignore[union-attr]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as s:
        yield s.getsockname()[1]


GOOD = ["--origin", "http://127.0.0.1:8081", "--listen", "127.0.0.1:0"]
BAD_FLAGS = {  # the cases the issue names run as real processes
    "origin": ["--origin", "ftp://example.com"],
    "listen": ["--listen", "nohost"],
    "capacity": ["--capacity", "lots"],
    "policy": ["--policy", "nope"],
    "workers": ["--workers", "0"],
}
MORE_BAD_FLAGS = {  # variants, run in this process through the same entry point (faster)
    "origin path": ["--origin", "http://127.0.0.1:8081/path"],
    "origin port": ["--origin", "http://127.0.0.1:99999"],
    "parent": ["--parent", "not a url"],
    "listen port": ["--listen", "127.0.0.1:70000"],
    "capacity zero": ["--capacity", "0"],
    "max object": ["--max-object", "12XB"],
    "policy belady": ["--policy", "belady"],
    "timeout": ["--timeout", "0"],
}


@pytest.mark.parametrize("flags", BAD_FLAGS.values(), ids=BAD_FLAGS.keys())
def test_cli_bad_input_one_line_exit_2(flags: list[str]) -> None:
    check_cli_error([*GOOD, *flags])


def test_cli_port_in_use_one_line_exit_2(busy_port: int) -> None:
    args = ["--origin", "http://127.0.0.1:8081", "--listen", f"127.0.0.1:{busy_port}"]
    check_cli_error(args, expect="cannot listen")


def check_cli_error(args: list[str], expect: str = "") -> None:
    cmd = [sys.executable, "-m", "syslab", "cdn", "serve", *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{args}: still running (it should have refused to start)") from e
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert expect in lines[0]


@pytest.mark.parametrize("flags", MORE_BAD_FLAGS.values(), ids=MORE_BAD_FLAGS.keys())
def test_cli_more_bad_input_one_line_exit_2(
    flags: list[str], monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from syslab.cli import main

    monkeypatch.setattr(sys, "argv", ["syslab", "cdn", "serve", *GOOD, *flags])
    with pytest.raises(SystemExit) as exited:
        main()  # returns only through SystemExit: it must not start serving
    assert exited.value.code == 2
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), lines
