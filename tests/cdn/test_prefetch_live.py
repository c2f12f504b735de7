"""Manifest-aware prefetch end to end: a real node, an in-process origin, one HLS viewer.

The unit tests of `hls.Prefetcher` (test_hls.py) say which URLs it asks for; these check
that the node actually fetches them, ahead of the viewer, once each, and that a bad
playlist from the origin is served as it is without crashing anything.
"""

from __future__ import annotations

import time

import pytest

from syslab.cdn.hls_workload import VodCatalog
from syslab.cdn.node import NodeConfig
from syslab.cdn.origin import Origin
from syslab.cdn.server import BackgroundNode
from syslab.cdn.testbed import fetch

pytest.importorskip("uvloop", reason="the node needs the cdn extra (uvloop)")

CATALOG = VodCatalog.create(n_videos=1, n_segments=6, renditions=1, segment_bytes=4096)
PLAYLIST = CATALOG.playlist_url(0, 0)
SEGMENTS = [CATALOG.segment_url(0, 0, k) for k in range(CATALOG.n_segments)]
PAUSE = 0.15  # between a viewer's requests: prefetches get at least this much lead
ORIGIN_DELAY = 0.01


def serve_catalog(origin: Origin) -> None:
    for url in [CATALOG.master_url(0), PLAYLIST, *SEGMENTS]:
        body = CATALOG.fetch(url)
        assert body is not None
        ctype = "application/vnd.apple.mpegurl" if url.endswith(".m3u8") else "video/mp2t"
        origin.route(url, body, headers={"Cache-Control": "max-age=600", "Content-Type": ctype})


def status_member(headers: dict[str, str]) -> list[str]:
    """The params of the last Cache-Status member, e.g. ['hit', 'ttl=599']."""
    last = headers.get("cache-status", "").split(",")[-1]
    return [p.strip() for p in last.split(";")[1:]]


def settle(node: BackgroundNode, timeout: float = 3.0) -> None:
    """Wait until the node has no prefetch or fetch in flight."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = node.call(lambda: len(node.node.background) + len(node.node.inflight))
        if not busy:
            return
        time.sleep(0.02)
    raise AssertionError("node still busy after the viewer finished")


def watch(node: BackgroundNode) -> list[list[str]]:
    """One sequential viewer: the playlist, then every segment; Cache-Status params of each."""
    status, _, body = fetch(node.url, PLAYLIST)
    assert status == 200 and body.startswith(b"#EXTM3U")
    seen = []
    for url in SEGMENTS:
        time.sleep(PAUSE)
        status, headers, body = fetch(node.url, url)
        assert status == 200 and body == CATALOG.fetch(url)
        seen.append(status_member(headers))
    return seen


def test_prefetch_turns_sequential_segments_into_hits():
    with Origin(delay=ORIGIN_DELAY) as origin:
        serve_catalog(origin)
        with BackgroundNode(NodeConfig(origin=origin.url, prefetch_depth=2)) as node:
            seen = watch(node)
            settle(node)
            prefetches = node.call(lambda: node.node.metrics.counts["prefetches"])
        # The first segment may race its prefetch (hit or collapsed onto it); none after it
        # may wait for the origin.
        assert "hit" in seen[0] or "collapsed" in seen[0], seen[0]
        for k, params in enumerate(seen[1:], 1):
            assert "hit" in params, f"segment {k}: {params}"
        # Every segment came from the origin exactly once: prefetch and viewer never both.
        for url in SEGMENTS:
            assert origin.hits[url] == 1, (url, origin.hits[url])
        assert origin.hits[PLAYLIST] == 1
        assert prefetches == len(SEGMENTS)


def test_without_prefetch_segments_are_misses():
    with Origin(delay=ORIGIN_DELAY) as origin:
        serve_catalog(origin)
        with BackgroundNode(NodeConfig(origin=origin.url, prefetch_depth=0)) as node:
            seen = watch(node)
            prefetches = node.call(lambda: node.node.metrics.counts["prefetches"])
        for k, params in enumerate(seen):
            assert "hit" not in params and "fwd=uri-miss" in params, f"segment {k}: {params}"
        assert all(origin.hits[url] == 1 for url in SEGMENTS)
        assert prefetches == 0


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\xff garbage, not a playlist \x89PNG",
        b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:zero\n#EXTINF:abc,\nseg00000.ts\n",
        b"",
    ],
    ids=["binary", "malformed-tags", "empty"],
)
def test_garbage_playlist_is_served_and_prefetches_nothing(body):
    path = "/bad/index.m3u8"
    with Origin() as origin:
        origin.route(
            path,
            body,
            headers={"Cache-Control": "max-age=600", "Content-Type": "application/x-mpegURL"},
        )
        with BackgroundNode(NodeConfig(origin=origin.url, prefetch_depth=2)) as node:
            for _ in range(2):  # the miss, then the hit: both feed the prefetcher
                status, headers, got = fetch(node.url, path)
                assert status == 200 and got == body
            settle(node)
            counts = node.call(lambda: dict(node.node.metrics.counts))
            errors = node.call(lambda: node.node.prefetcher.parse_errors)
            # the node still answers afterwards
            assert fetch(node.url, "/.syslab/health")[0] == 200
        assert "hit" in status_member(headers)
        assert counts["prefetches"] == 0
        assert errors >= 1  # the body did reach the parser, which refused it
        assert list(origin.hits) == [path] and origin.hits[path] == 1
