"""The access log: one Common Log Format line per request, with Cache-Status and time."""

from __future__ import annotations

import re

from syslab.cdn.node import NodeConfig
from syslab.cdn.origin import Origin
from syslab.cdn.server import BackgroundNode

LINE = re.compile(
    r'^(?P<peer>\S+) - - \[[^\]]+\] "(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<cache>[^"]*)" (?P<ms>\d+\.\d+)$'
)


def test_one_line_per_request_with_cache_status(tmp_path, fetch):
    log = tmp_path / "access.log"
    with (
        Origin() as origin,
        BackgroundNode(NodeConfig(origin=origin.url, access_log=str(log))) as node,
    ):
        fetch(node.url, "/gen/a?size=123")
        fetch(node.url, "/gen/a?size=123")
        fetch(node.url, '/missing"quote')
    lines = log.read_text().splitlines()
    assert len(lines) == 3
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    first, second, third = (m.groupdict() for m in parsed)
    assert first["request"] == "GET /gen/a?size=123 HTTP/1.1" and first["peer"] == "127.0.0.1"
    assert first["status"] == "200" and first["bytes"] == "123" and "fwd=uri-miss" in first["cache"]
    assert second["cache"].startswith("syslab; hit")
    assert third["status"] == "404" and "%22" in third["request"]
