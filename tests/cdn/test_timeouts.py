"""Client timeouts: a slow-loris request gets 408, an idle keep-alive connection is closed."""

from __future__ import annotations

import socket
import time

import pytest

from syslab.cdn import http1
from syslab.cdn.node import NodeConfig
from syslab.cdn.origin import Origin
from syslab.cdn.server import BackgroundNode


@pytest.fixture
def node(monkeypatch):
    monkeypatch.setattr(http1, "REQUEST_TIMEOUT", 0.5)
    monkeypatch.setattr(http1, "KEEPALIVE_TIMEOUT", 1.0)
    with Origin() as origin, BackgroundNode(NodeConfig(origin=origin.url)) as n:
        yield n


def read_all(sock: socket.socket, limit: float = 5.0) -> bytes:
    sock.settimeout(limit)
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_a_request_that_never_finishes_gets_408_and_the_connection_closes(node):
    with socket.create_connection((node.host, node.port)) as sock:
        sock.sendall(b"GET /gen/a HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and then nothing
        started = time.monotonic()
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 4.0  # closed by the node, not by our read timeout


def test_an_idle_keep_alive_connection_is_closed(node):
    with socket.create_connection((node.host, node.port)) as sock:
        sock.sendall(b"GET /gen/b?size=10 HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(5)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        rest = read_all(sock)  # returns when the node closes the connection
    assert rest == b"" and time.monotonic() - started < 4.0


def test_a_busy_connection_is_not_cut_off(node, monkeypatch):
    # a keep-alive connection that keeps asking stays open past the idle timeout
    with socket.create_connection((node.host, node.port)) as sock:
        sock.settimeout(5)
        for _ in range(6):
            sock.sendall(b"GET /gen/c?size=10 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            time.sleep(0.4)
