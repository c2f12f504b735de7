"""Shared by the CDN tests: one plain HTTP/1.1 request to a node."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Callable

import pytest

Fetch = Callable[..., tuple[int, dict[str, str], bytes]]


def http_get(
    base: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict, bytes]:
    """GET `path` on `base`: status, fields (lowercase names, repeats joined), body."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    body = r.read()
    fields = {k.lower(): ", ".join(r.msg.get_all(k)) for k in set(r.msg.keys())}
    conn.close()
    return r.status, fields, body


@pytest.fixture
def fetch() -> Fetch:
    return http_get
