"""The benchmark testbed: real nginx / Varnish on loopback, wrk, and the paced client."""

from __future__ import annotations

import os
import urllib.request

import pytest

from syslab.cdn.testbed import (
    NginxOrigin,
    NginxProxyCache,
    ServerError,
    Varnish,
    cpu_seconds,
    fetch,
    find_binary,
    free_port,
    paced_load,
    run_wrk,
)

needs_nginx = pytest.mark.skipif(
    find_binary("nginx") is None, reason="nginx not installed (apt-get install nginx-light)"
)
needs_varnish = pytest.mark.skipif(
    find_binary("varnishd") is None, reason="varnishd not installed (apt-get install varnish)"
)
needs_wrk = pytest.mark.skipif(
    find_binary("wrk") is None, reason="wrk not installed (apt-get install wrk)"
)
pytest.importorskip("httptools", reason="paced_load needs the cdn extra (httptools)")

BODY = os.urandom(10 * 1024)
PATHS = ["/obj/0", "/obj/1", "/obj/2", "/small.txt"]


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    if find_binary("nginx") is None:
        pytest.skip("nginx not installed (apt-get install nginx-light)")
    root = tmp_path_factory.mktemp("www")
    (root / "obj").mkdir()
    for i in range(3):
        (root / "obj" / str(i)).write_bytes(BODY)
    (root / "small.txt").write_text("hello\n")
    with NginxOrigin(root) as server:
        yield server


def test_free_port_and_cpu_seconds():
    assert 1024 <= free_port() <= 65535
    sum(i * i for i in range(200_000))  # burn a little CPU so a 10 ms tick passes
    assert cpu_seconds([os.getpid()]) > 0


@needs_nginx
def test_origin_serves_files(origin):
    with urllib.request.urlopen(origin.url + "/obj/0", timeout=5) as resp:
        assert resp.status == 200
        assert resp.read() == BODY
        assert resp.headers["Cache-Control"] == "max-age=2592000"  # caches keep it fresh
    with urllib.request.urlopen(origin.url + "/small.txt", timeout=5) as resp:
        assert resp.read() == b"hello\n"
    assert len(origin.pids()) == 2  # master + one worker


@needs_nginx
def test_nginx_proxy_cache_second_request_hits(origin):
    with NginxProxyCache(origin.url) as cache:
        first = fetch(cache.url, "/obj/1")
        second = fetch(cache.url, "/obj/1")
    assert first[0] == second[0] == 200
    assert first[1]["x-cache-status"] == "MISS"
    assert second[1]["x-cache-status"] == "HIT"
    assert second[2] == BODY


@needs_nginx
def test_nginx_start_failure_shows_error_log():
    with pytest.raises(ServerError, match="max_size"):
        NginxProxyCache("http://127.0.0.1:9", max_size="lots").start()


@needs_nginx
@needs_varnish
def test_varnish_second_request_hits(origin):
    with Varnish(origin.url, memory="32m") as cache:
        first = fetch(cache.url, "/obj/2")
        second = fetch(cache.url, "/obj/2")
    assert first[0] == second[0] == 200
    assert len(first[1]["x-varnish"].split()) == 1
    # on a hit X-Varnish carries two ids: this request's and the one that fetched the object
    assert len(second[1]["x-varnish"].split()) == 2
    assert second[2] == BODY


@needs_nginx
@needs_wrk
def test_run_wrk_counts_requests_and_server_cpu(origin):
    result = run_wrk(origin.url, PATHS, connections=8, duration=1, cpu_pids=origin.pids())
    assert result["requests"] > 0
    assert result["errors"] == 0
    assert result["server_cpu_s"] > 0
    assert result["req_per_cpu_s"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["p999_ms"]


@needs_nginx
def test_paced_load_sends_the_offered_rate(origin):
    result = paced_load(origin.url, PATHS, rate=200, duration=1.0, connections=4)
    assert result["requests"] == 200
    assert result["answered"] == 200
    assert result["errors"] == 0 and result["timeouts"] == 0
    assert 150 <= result["achieved_rate"] <= 205
    assert 0 < result["p50_ms"] <= result["p99_ms"]
