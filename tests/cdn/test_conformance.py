"""End-to-end HTTP caching conformance: a real node in front of the Python origin.

In the spirit of http-tests/cache-tests: each case sends requests through the node with
`http.client` (or raw sockets, for pipelining and HTTP/1.0), and checks what the client
sees and what reached the origin (`Origin.hits`, `Origin.requests`). Section numbers are
RFC 9111 unless another RFC is named. Every test uses its own URLs, so one origin and one
node serve the whole module (tests that stop the origin bring their own).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import itertools
import socket
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import aiohttp
import pytest

from syslab.cdn.node import NodeConfig
from syslab.cdn.origin import EPOCH, Origin, Route, generated_body
from syslab.cdn.rfc9111 import http_date
from syslab.cdn.server import BackgroundNode

# ------------------------------------------------------------------ helpers


@dataclass
class Resp:
    status: int
    headers: dict[str, str]  # lower-case names, repeated fields joined with ", "
    body: bytes

    @property
    def cache_status(self) -> dict[str, str | bool]:
        """The last Cache-Status member's parameters (RFC 9211: the nearest cache's member is
        last), e.g. {"name": "syslab", "hit": True, "ttl": "12"}."""
        value = self.headers.get("cache-status")
        assert value, f"no Cache-Status in {self.headers}"
        member = value.split(",")[-1].strip()
        name, *params = [p.strip() for p in member.split(";")]
        out: dict[str, str | bool] = {"name": name}
        for param in params:
            key, eq, val = param.partition("=")
            out[key] = val.strip('"') if eq else True
        return out

    @property
    def age(self) -> int:
        return int(self.headers["age"])


def send(
    node: BackgroundNode,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: bytes | None = None,
    timeout: float = 10.0,
) -> Resp:
    """One request on a new connection."""
    conn = http.client.HTTPConnection(node.host, node.port, timeout=timeout)
    try:
        # no implicit Accept-Encoding: identity, so that Vary tests control that field
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        fields = {k.lower(): ", ".join(r.msg.get_all(k)) for k in set(r.msg.keys())}
        return Resp(r.status, fields, data)
    finally:
        conn.close()


def gen(name: str, **query: str | int) -> str:
    """A /gen/ URL of the origin (ETag, Last-Modified = EPOCH, conditional 304s)."""
    return f"/gen/{name}" + ("?" + urllib.parse.urlencode(query) if query else "")


def hits(origin: Origin, path: str) -> int:
    """Upstream fetches of `path` (its path part, whatever the query)."""
    base = path.split("?")[0]
    return sum(n for k, n in origin.hits.items() if k.split("?")[0] == base)


def upstream_requests(origin: Origin, path: str) -> list:
    base = path.split("?")[0]
    return [r for r in origin.requests if r.path == base]


def wait_for(condition, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def read_responses(sock: socket.socket, count: int, timeout: float = 5.0) -> list[tuple]:
    """Read `count` Content-Length-framed responses: [(status, {field: value}, body)]."""
    sock.settimeout(timeout)
    data, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} responses"
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        length = int(fields.get("content-length", "0"))
        while len(data) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed inside a body"
            data += chunk
        out.append((int(lines[0].split()[1]), fields, data[:length]))
        data = data[length:]
    return out


def closed_by_peer(sock: socket.socket, timeout: float = 3.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return False


@pytest.fixture(scope="module")
def cdn() -> Iterator[tuple[Origin, BackgroundNode]]:
    with (
        Origin() as origin,
        BackgroundNode(NodeConfig(origin=origin.url, capacity=64 << 20)) as node,
    ):
        yield origin, node


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:12]


# ------------------------------------------------------------------ freshness (§4.2)


def test_s4_2_fresh_hit_is_served_without_the_origin_and_age_grows(cdn, uid):
    """§4.2: a fresh stored response is reused; §5.1: Age counts its time in the cache."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60", size=1000)
    miss = send(node, path)
    assert miss.status == 200 and miss.body == generated_body(f"/gen/{uid}", 1000)
    assert miss.cache_status.get("fwd") == "uri-miss" and miss.cache_status.get("stored")
    hit = send(node, path)
    assert hit.status == 200 and hit.body == miss.body
    assert hit.cache_status.get("hit") is True
    assert 0 <= int(hit.cache_status["ttl"]) <= 60
    assert "age" in hit.headers and hit.age <= 1
    assert hits(origin, path) == 1
    time.sleep(1.05)
    later = send(node, path)
    assert later.cache_status.get("hit") is True
    assert later.age >= 1 and later.age > hit.age
    assert int(later.cache_status["ttl"]) < 60
    assert hits(origin, path) == 1


def test_s4_3_max_age_0_is_revalidated_with_a_conditional_request(cdn, uid):
    """§4.3.1: a stale response with validators is revalidated with If-None-Match (and
    If-Modified-Since); §4.3.3/§4.3.4: the origin's 304 lets the cache serve the stored body."""
    origin, node = cdn
    path = gen(uid, cc="max-age=0", size=500)
    first = send(node, path)
    assert first.status == 200 and "etag" in first.headers
    second = send(node, path)
    assert second.status == 200 and second.body == first.body
    assert hits(origin, path) == 2
    conditional = upstream_requests(origin, path)[-1]
    assert conditional.headers.get("If-None-Match") == first.headers["etag"]
    assert conditional.headers.get("If-Modified-Since") == http_date(EPOCH)
    cs = second.cache_status
    assert cs.get("fwd") == "stale" and cs.get("fwd-status") == "304"
    assert upstream_requests(origin, path)[0].headers.get("If-None-Match") is None


def test_s5_2_2_5_no_store_is_never_stored(cdn, uid):
    """§5.2.2.5: 'a cache MUST NOT store any part of either the immediate request or the
    response'."""
    origin, node = cdn
    path = gen(uid, cc="no-store")
    for _ in range(3):
        r = send(node, path)
        assert r.status == 200
        assert "hit" not in r.cache_status and "stored" not in r.cache_status
    assert hits(origin, path) == 3


def test_s5_2_1_5_request_no_store_is_not_stored(cdn, uid):
    """§5.2.1.5: no-store in a request: nothing of its response is stored."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60")
    r = send(node, path, {"Cache-Control": "no-store"})
    assert r.status == 200 and "stored" not in r.cache_status
    assert send(node, path).cache_status.get("fwd") == "uri-miss"
    assert hits(origin, path) == 2


def test_s5_2_2_7_private_is_not_stored_by_a_shared_cache(cdn, uid):
    """§5.2.2.7: a shared cache MUST NOT store a response with unqualified private."""
    origin, node = cdn
    path = gen(uid, cc="private, max-age=60")
    for _ in range(2):
        r = send(node, path)
        assert r.status == 200 and "stored" not in r.cache_status and "hit" not in r.cache_status
    assert hits(origin, path) == 2


def test_s5_2_2_7_qualified_private_fields_are_not_stored(cdn, uid):
    """§5.2.2.7: with field names, the rest is stored but not the named fields — which still
    reach the client the response was for (they are only kept out of the cache)."""
    origin, node = cdn
    path = f"/r/{uid}"
    origin.route(
        path,
        "shared part",
        headers={"Cache-Control": 'private="Set-Cookie", max-age=60', "Set-Cookie": "sid=alice"},
    )
    first = send(node, path)
    assert first.status == 200 and first.headers.get("set-cookie") == "sid=alice"
    second = send(node, path)
    assert second.cache_status.get("hit") is True and second.body == b"shared part"
    assert "set-cookie" not in second.headers
    assert hits(origin, path) == 1


def test_s5_2_2_4_qualified_no_cache_fields_are_not_reused_without_validation(cdn, uid):
    """§5.2.2.4: with no-cache="Set-Cookie" the response may be reused, but 'any header fields
    in the response that have the field name(s) listed MUST NOT be sent in the response to a
    subsequent request without successful revalidation'."""
    origin, node = cdn
    path = f"/r/{uid}"
    origin.route(
        path,
        "reusable",
        headers={"Cache-Control": 'no-cache="Set-Cookie", max-age=60', "Set-Cookie": "sid=bob"},
    )
    first = send(node, path)
    assert first.headers.get("set-cookie") == "sid=bob"
    second = send(node, path)  # reused without validation (as `decide` documents): no field
    assert second.status == 200 and second.body == b"reusable"
    assert second.cache_status.get("hit") is True and "set-cookie" not in second.headers
    assert hits(origin, path) == 1


def test_s5_2_2_4_no_cache_response_is_revalidated_every_time(cdn, uid):
    """§5.2.2.4: unqualified no-cache — stored, but every reuse is validated first (a 304)."""
    origin, node = cdn
    path = gen(uid, cc="no-cache")
    first = send(node, path)
    assert first.cache_status.get("stored")
    for n in (2, 3):
        r = send(node, path)
        assert r.status == 200 and r.body == first.body
        assert r.cache_status.get("fwd-status") == "304" and "hit" not in r.cache_status
        assert hits(origin, path) == n
        inm = upstream_requests(origin, path)[-1].headers.get("If-None-Match")
        assert inm == first.headers["etag"]


def test_rfc9110_s7_6_1_hop_by_hop_fields_from_the_origin_are_not_forwarded(cdn, uid):
    """RFC 9110 §7.6.1: a proxy removes Connection and the fields it names, on misses and hits."""
    origin, node = cdn
    path = f"/r/{uid}"
    origin.route(
        path,
        "x",
        headers={"Cache-Control": "max-age=60", "Connection": "X-Hop", "X-Hop": "1", "X-End": "2"},
    )
    for _ in ("miss", "hit"):
        r = send(node, path)
        assert r.headers.get("x-end") == "2"
        assert "x-hop" not in r.headers, r.headers


def test_s4_2_1_s_maxage_overrides_max_age(cdn, uid):
    """§4.2.1: a shared cache uses s-maxage before max-age; §5.2.2.10 s-maxage also implies
    proxy-revalidate."""
    origin, node = cdn
    longer = gen(uid + "a", cc="max-age=0, s-maxage=60")
    send(node, longer)
    assert send(node, longer).cache_status.get("hit") is True
    assert hits(origin, longer) == 1
    shorter = gen(uid + "b", cc="max-age=60, s-maxage=0")
    send(node, shorter)
    r = send(node, shorter)
    assert "hit" not in r.cache_status and r.cache_status.get("fwd-status") == "304"
    assert hits(origin, shorter) == 2


def test_s5_3_expires_in_the_past_is_not_fresh(cdn, uid):
    """§5.3/§4.2.1: freshness = Expires − Date; an Expires in the past is stale at once."""
    origin, node = cdn
    now = time.time()
    past, future = f"/r/{uid}/past", f"/r/{uid}/future"
    origin.route(past, "p", headers={"Expires": http_date(now - 3600)})
    origin.route(future, "f", headers={"Expires": http_date(now + 3600)})
    for path in (past, future):
        send(node, path)
        send(node, path)
    assert hits(origin, past) == 2
    assert hits(origin, future) == 1


def test_s5_3_invalid_expires_is_stale(cdn, uid):
    """§5.3: 'Expires: 0' (an invalid date) means already expired."""
    origin, node = cdn
    path = f"/r/{uid}"
    origin.route(path, "x", headers={"Expires": "0"})
    send(node, path)
    send(node, path)
    assert hits(origin, path) == 2


def test_s4_2_2_heuristic_freshness_from_last_modified(cdn, uid):
    """§4.2.2: without explicit freshness a 200 with Last-Modified is fresh for a fraction
    (10 % here) of Date − Last-Modified; a 302 is not heuristically cacheable."""
    origin, node = cdn
    path = f"/r/{uid}"
    origin.route(path, "h", headers={"Last-Modified": http_date(time.time() - 1000)})
    send(node, path)
    r = send(node, path)
    assert r.cache_status.get("hit") is True and int(r.cache_status["ttl"]) <= 100
    assert hits(origin, path) == 1
    redirect = f"/r/{uid}/302"
    origin.route(
        redirect,
        status=302,
        headers={"Location": "/elsewhere", "Last-Modified": http_date(time.time() - 1000)},
    )
    assert send(node, redirect).status == 302
    assert send(node, redirect).status == 302
    assert hits(origin, redirect) == 2


def test_s4_2_3_age_from_upstream_is_counted(cdn, uid):
    """§4.2.3: the Age the origin (an upstream cache) sent is part of the current age."""
    origin, node = cdn
    young, old = f"/r/{uid}/young", f"/r/{uid}/old"
    origin.route(young, "y", headers={"Cache-Control": "max-age=100", "Age": "30"})
    origin.route(old, "o", headers={"Cache-Control": "max-age=100", "Age": "200"})
    first = send(node, young)
    assert first.age >= 30
    again = send(node, young)
    assert again.cache_status.get("hit") is True
    assert again.age >= 30 and int(again.cache_status["ttl"]) <= 70
    send(node, old)
    r = send(node, old)
    assert "hit" not in r.cache_status  # already stale on arrival
    assert hits(origin, young) == 1 and hits(origin, old) == 2


# ------------------------------------------------------------------ request directives (§5.2.1)


@pytest.mark.parametrize(
    "headers",
    [{"Cache-Control": "no-cache"}, {"Pragma": "no-cache"}, {"Cache-Control": "max-age=0"}],
    ids=["no-cache", "pragma", "max-age=0"],
)
def test_s5_2_1_request_directives_force_revalidation(cdn, uid, headers):
    """§5.2.1.4 no-cache, §5.4 Pragma: no-cache, §5.2.1.1 max-age=0: the fresh stored response
    is validated with the origin first (a 304 here)."""
    origin, node = cdn
    path = gen(uid, cc="max-age=600")
    first = send(node, path)
    r = send(node, path, headers)
    assert r.status == 200 and r.body == first.body
    assert r.cache_status.get("fwd") == "request" and r.cache_status.get("fwd-status") == "304"
    assert hits(origin, path) == 2
    assert upstream_requests(origin, path)[-1].headers.get("If-None-Match") == first.headers["etag"]
    assert send(node, path).cache_status.get("hit") is True
    assert hits(origin, path) == 2


def test_s5_2_1_2_request_max_stale_accepts_a_stale_response(cdn, uid):
    """§5.2.1.2: max-stale lets the cache answer with a response stale by up to that much."""
    origin, node = cdn
    path = f"/r/{uid}"
    origin.route(path, "old", headers={"Cache-Control": "max-age=1", "Age": "10"})  # stale by 9
    send(node, path)
    r = send(node, path, {"Cache-Control": "max-stale=100"})
    assert r.status == 200 and r.cache_status.get("hit") is True and r.age >= 10
    assert hits(origin, path) == 1
    r = send(node, path, {"Cache-Control": "max-stale=5"})
    assert "hit" not in r.cache_status
    assert hits(origin, path) == 2


def test_s5_2_1_3_request_min_fresh(cdn, uid):
    """§5.2.1.3: min-fresh=N wants a response that stays fresh N more seconds."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60")
    send(node, path)
    assert send(node, path, {"Cache-Control": "min-fresh=30"}).cache_status.get("hit") is True
    r = send(node, path, {"Cache-Control": "min-fresh=120"})
    assert r.cache_status.get("fwd") == "request" and r.cache_status.get("fwd-status") == "304"
    assert hits(origin, path) == 2


def test_s5_2_1_7_only_if_cached(cdn, uid):
    """§5.2.1.7: only-if-cached on a miss → 504 without contacting the origin; on a hit → it."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60")
    r = send(node, path, {"Cache-Control": "only-if-cached"})
    assert r.status == 504
    assert hits(origin, path) == 0
    send(node, path)
    r = send(node, path, {"Cache-Control": "only-if-cached"})
    assert r.status == 200 and r.cache_status.get("hit") is True
    assert hits(origin, path) == 1


def test_s5_2_1_7_only_if_cached_with_a_stale_response(cdn, uid):
    """§5.2.1.7: only-if-cached gets 'a stored response consistent with the other constraints
    of the request message or a 504' — a stale one that needs validation is a 504, and the
    origin is not asked; max-stale makes the stale one acceptable."""
    origin, node = cdn
    path = f"/r/{uid}"
    origin.route(path, "old", headers={"Cache-Control": "max-age=1", "Age": "10"})
    send(node, path)
    assert send(node, path, {"Cache-Control": "only-if-cached"}).status == 504
    assert hits(origin, path) == 1
    r = send(node, path, {"Cache-Control": "only-if-cached, max-stale"})
    assert r.status == 200 and r.body == b"old"
    assert hits(origin, path) == 1


def test_s3_5_authorization_responses_are_not_shared(cdn, uid):
    """§3.5: a response to a request with Authorization is stored only if the response allows
    it explicitly (public, s-maxage, must-revalidate)."""
    origin, node = cdn
    plain = gen(uid + "a", cc="max-age=60")
    send(node, plain, {"Authorization": "Bearer alice"})
    assert send(node, plain).cache_status.get("fwd") == "uri-miss"
    public = gen(uid + "b", cc="public, max-age=60")
    send(node, public, {"Authorization": "Bearer alice"})
    assert send(node, public).cache_status.get("hit") is True
    assert hits(origin, plain) == 2 and hits(origin, public) == 1


# ------------------------------------------------------------------ Vary (§4.1)


def test_s4_1_vary_accept_encoding_with_normalised_keys(cdn, uid):
    """§4.1: the stored response is selected by the request's Vary fields; the cache may
    normalise them — member order and whitespace in Accept-Encoding do not matter."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60", vary="Accept-Encoding")
    a = send(node, path, {"Accept-Encoding": "gzip, br"})
    assert a.cache_status.get("stored")
    b = send(node, path, {"Accept-Encoding": "br,gzip"})
    assert b.cache_status.get("hit") is True
    assert hits(origin, path) == 1
    c = send(node, path, {"Accept-Encoding": "identity"})
    assert "hit" not in c.cache_status and c.cache_status.get("fwd") == "vary-miss"
    assert hits(origin, path) == 2
    assert send(node, path, {"Accept-Encoding": "identity"}).cache_status.get("hit") is True
    assert send(node, path, {"Accept-Encoding": "gzip,br"}).cache_status.get("hit") is True
    assert hits(origin, path) == 2
    absent = send(node, path)  # no Accept-Encoding at all is a variant of its own
    assert "hit" not in absent.cache_status and hits(origin, path) == 3
    assert send(node, path).cache_status.get("hit") is True


def test_s4_1_vary_star_is_never_stored(cdn, uid):
    """§4.1: 'Vary: *' always fails to match, so it is not stored."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60", vary="*")
    send(node, path)
    r = send(node, path)
    assert "hit" not in r.cache_status
    assert hits(origin, path) == 2


# ------------------------------------------------------------------ HEAD and conditionals


def test_rfc9110_s9_3_2_head_is_served_from_a_cached_get(cdn, uid):
    """RFC 9110 §9.3.2 / §4 here: HEAD is answered from the stored GET, same fields, no body."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60", size=4321)
    get = send(node, path)
    head = send(node, path, method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == get.headers["content-length"] == "4321"
    assert head.headers["etag"] == get.headers["etag"]
    assert head.cache_status.get("hit") is True
    assert hits(origin, path) == 1


def test_rfc9110_s9_3_2_head_miss(cdn, uid):
    """A HEAD miss fetches the object (by GET) and answers without a body; the GET that
    follows is a hit."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60", size=2222)
    head = send(node, path, method="HEAD")
    assert head.status == 200 and head.body == b"" and head.headers["content-length"] == "2222"
    get = send(node, path)
    assert get.cache_status.get("hit") is True and len(get.body) == 2222
    assert hits(origin, path) == 1


def test_rfc9110_s13_1_2_if_none_match_answered_304_from_cache(cdn, uid):
    """RFC 9110 §13.1.2 and §4.3.2 here: a cache answers a matching If-None-Match (weak
    comparison) with 304 itself, carrying ETag and Cache-Control, without a body."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60")
    etag = send(node, path).headers["etag"]
    for inm in (etag, "W/" + etag, f'"nope", {etag}', "*"):
        r = send(node, path, {"If-None-Match": inm})
        assert r.status == 304, inm
        assert r.body == b"" and r.headers["etag"] == etag
        assert r.headers["cache-control"] == "max-age=60"  # RFC 9110 §15.4.5: the fields a
        assert "date" in r.headers and "age" in r.headers  # 200 would have had
        assert "content-length" not in r.headers
    assert send(node, path, {"If-None-Match": '"nope"'}).status == 200
    assert hits(origin, path) == 1


def test_rfc9110_s13_1_3_if_modified_since_answered_304_from_cache(cdn, uid):
    """RFC 9110 §13.1.3: not modified since a date at or after Last-Modified → 304; an older
    date → 200; ignored when If-None-Match is present."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60")
    send(node, path)
    assert send(node, path, {"If-Modified-Since": http_date(EPOCH)}).status == 304
    assert send(node, path, {"If-Modified-Since": http_date(EPOCH + 60)}).status == 304
    older = send(node, path, {"If-Modified-Since": http_date(EPOCH - 60)})
    assert older.status == 200 and len(older.body) == 10240
    both = {"If-Modified-Since": http_date(EPOCH), "If-None-Match": '"nope"'}
    assert send(node, path, both).status == 200
    assert hits(origin, path) == 1


def test_s4_3_2_client_conditional_on_a_stale_response(cdn, uid):
    """§4.3.2: a stale stored response is validated with the cache's own validators; the
    client's matching If-None-Match is then answered with 304 by the cache."""
    origin, node = cdn
    path = gen(uid, cc="max-age=0")
    etag = send(node, path).headers["etag"]
    r = send(node, path, {"If-None-Match": etag})
    assert r.status == 304 and r.body == b"" and r.cache_status.get("fwd-status") == "304"
    assert upstream_requests(origin, path)[-1].headers.get("If-None-Match") == etag
    assert hits(origin, path) == 2


def test_conditional_request_on_a_miss(cdn, uid):
    """A conditional request on a cold key: the node fetches the whole object (so it can store
    it) and answers the client's condition itself."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60")
    etag = '"' + hashlib.sha256(generated_body(f"/gen/{uid}", 10240)).hexdigest()[:16] + '"'
    r = send(node, path, {"If-None-Match": etag})
    assert r.status == 304 and r.cache_status.get("stored")
    assert upstream_requests(origin, path)[0].headers.get("If-None-Match") is None
    assert send(node, path).cache_status.get("hit") is True


# ------------------------------------------------------------------ ranges (RFC 9110 §14)


@pytest.fixture
def ranged(cdn, uid) -> tuple[BackgroundNode, str, bytes, str]:
    origin, node = cdn
    path = gen(uid, cc="max-age=60", size=1000, type="text/plain")
    full = send(node, path)
    assert full.status == 200
    return node, path, full.body, full.headers["etag"]


def test_rfc9110_s14_range_on_a_miss(cdn, uid):
    """A Range on a cold (small) object: the node fetches its first slice (here: all of it, as
    documented in slices.py), stores it and answers the range from it."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60", size=1000)
    body = generated_body(f"/gen/{uid}", 1000)
    r = send(node, path, {"Range": "bytes=100-199"})
    assert r.status == 206 and r.body == body[100:200]
    assert r.headers["content-range"] == "bytes 100-199/1000"
    assert upstream_requests(origin, path)[0].headers.get("Range") in (None, "bytes=0-1048575")
    assert send(node, path).body == body
    assert hits(origin, path) == 1


def test_rfc9110_s14_single_range_from_cache(cdn, ranged):
    """RFC 9110 §14.1.2/§15.3.7: 206 with Content-Range for one int-range."""
    origin, _ = cdn
    node, path, body, _etag = ranged
    r = send(node, path, {"Range": "bytes=10-19"})
    assert r.status == 206 and r.body == body[10:20]
    assert r.headers["content-range"] == "bytes 10-19/1000"
    assert r.headers["content-length"] == "10"
    assert r.cache_status.get("hit") is True
    assert hits(origin, path) == 1


def test_rfc9110_s14_suffix_and_open_ranges_from_cache(ranged):
    """RFC 9110 §14.1.2: `-N` is the last N bytes; `N-` runs to the end."""
    node, path, body, _ = ranged
    r = send(node, path, {"Range": "bytes=-100"})
    assert r.status == 206 and r.body == body[-100:]
    assert r.headers["content-range"] == "bytes 900-999/1000"
    r = send(node, path, {"Range": "bytes=995-"})
    assert r.status == 206 and r.body == body[995:]
    assert r.headers["content-range"] == "bytes 995-999/1000"


def test_rfc9110_s14_6_multiple_ranges_are_multipart_byteranges(ranged):
    """RFC 9110 §14.6: several ranges → multipart/byteranges, one part per range, each with
    its Content-Type and Content-Range."""
    node, path, body, _ = ranged
    r = send(node, path, {"Range": "bytes=0-4,990-999"})
    assert r.status == 206
    ctype = r.headers["content-type"]
    assert ctype.startswith("multipart/byteranges; boundary=")
    assert "content-range" not in r.headers
    boundary = ctype.split("boundary=", 1)[1].encode()
    assert r.body.endswith(b"--" + boundary + b"--\r\n")
    chunks = r.body.split(b"--" + boundary)
    assert chunks[0] == b"" and chunks[-1] == b"--\r\n"
    parts = []
    for chunk in chunks[1:-1]:
        head, _, data = chunk.partition(b"\r\n\r\n")
        fields = dict(
            line.split(": ", 1) for line in head.decode().strip("\r\n").split("\r\n") if line
        )
        assert data.endswith(b"\r\n")
        parts.append((fields["Content-Range"], fields["Content-Type"], data[:-2]))
    assert parts == [
        ("bytes 0-4/1000", "text/plain", body[:5]),
        ("bytes 990-999/1000", "text/plain", body[990:]),
    ]
    assert int(r.headers["content-length"]) == len(r.body)


def test_rfc9110_s15_5_17_unsatisfiable_range_is_416(ranged):
    """RFC 9110 §15.5.17: 416 with `Content-Range: bytes */length`."""
    node, path, _, _ = ranged
    r = send(node, path, {"Range": "bytes=1000-"})
    assert r.status == 416
    assert r.headers["content-range"] == "bytes */1000"


def test_rfc9110_s14_2_invalid_range_is_ignored(ranged):
    """RFC 9110 §14.2: a server MAY ignore an invalid Range → the whole 200."""
    node, path, body, _ = ranged
    for value in ("bytes=5-2", "bytes=--5", "pages=1-2"):
        r = send(node, path, {"Range": value})
        assert r.status == 200 and r.body == body, value


def test_rfc9110_s13_1_5_if_range(ranged):
    """RFC 9110 §13.1.5: the range applies only if If-Range matches (strongly); otherwise the
    whole representation is sent with 200."""
    node, path, body, etag = ranged
    r = send(node, path, {"Range": "bytes=0-9", "If-Range": etag})
    assert r.status == 206 and r.body == body[:10]
    r = send(node, path, {"Range": "bytes=0-9", "If-Range": '"other"'})
    assert r.status == 200 and r.body == body
    r = send(node, path, {"Range": "bytes=0-9", "If-Range": "W/" + etag})
    assert r.status == 200 and r.body == body  # weak tags never match strongly
    r = send(node, path, {"Range": "bytes=0-9", "If-Range": http_date(EPOCH)})
    assert r.status == 206 and r.body == body[:10]
    r = send(node, path, {"Range": "bytes=0-9", "If-Range": http_date(EPOCH + 1)})
    assert r.status == 200 and r.body == body


# ------------------------------------------------------------------ RFC 5861


def test_rfc5861_s3_stale_while_revalidate(cdn, uid):
    """RFC 5861 §3: within the window a stale response is served at once (Cache-Status ttl < 0)
    while exactly one background revalidation runs, even under concurrent requests; then
    the refreshed response is fresh."""
    origin, node = cdn
    path = f"/r/{uid}"
    calls = itertools.count()

    def answer(_request) -> Route:  # noqa: ANN001
        n = next(calls)
        headers = {"Cache-Control": "max-age=3, stale-while-revalidate=60", "ETag": '"s1"'}
        if n == 0:
            headers["Age"] = "10"  # arrives stale by 7 s, well inside the window
        return Route(b"swr body", 200, headers, delay=0.0 if n == 0 else 1.0)

    origin.route(path).dynamic = answer
    first = send(node, path)
    assert first.status == 200 and first.cache_status.get("stored")

    def timed(_: int) -> tuple[float, Resp]:
        t0 = time.monotonic()
        r = send(node, path)
        return time.monotonic() - t0, r

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(timed, range(20)))
    for elapsed, r in results:
        assert r.status == 200 and r.body == b"swr body"
        cs = r.cache_status
        assert cs.get("hit") is True and int(cs["ttl"]) < 0, cs
        assert cs.get("detail") == "stale-while-revalidate"
        assert elapsed < 0.9  # not held up by the 1 s revalidation
    wait_for(lambda: hits(origin, path) == 2 and not node.node.refreshing)
    assert upstream_requests(origin, path)[-1].headers.get("If-None-Match") == '"s1"'
    fresh = send(node, path)
    assert fresh.cache_status.get("hit") is True and int(fresh.cache_status["ttl"]) >= 0
    assert hits(origin, path) == 2


def _stale_route(origin: Origin, path: str, cc: str) -> None:
    origin.route(path, "old", headers={"Cache-Control": cc, "Age": "10", "ETag": '"e1"'})


def test_rfc5861_s4_stale_if_error_on_5xx(cdn, uid):
    """RFC 5861 §4 / §4.3.3 here: a 5xx on revalidation may be replaced by the stale response
    while within stale-if-error; without it (or with must-revalidate) the error is passed on."""
    origin, node = cdn
    allowed, plain, strict = f"/r/{uid}/a", f"/r/{uid}/b", f"/r/{uid}/c"
    _stale_route(origin, allowed, "max-age=1, stale-if-error=60")
    _stale_route(origin, plain, "max-age=1")
    _stale_route(origin, strict, "max-age=1, must-revalidate, stale-if-error=60")
    for path in (allowed, plain, strict):
        assert send(node, path).status == 200
        origin.route(path, "boom", status=500)
    r = send(node, allowed)
    assert r.status == 200 and r.body == b"old"
    assert r.cache_status.get("fwd-status") == "500"
    assert r.cache_status.get("detail") == "stale-if-error"
    assert send(node, plain).status == 500
    by_request = send(node, plain, {"Cache-Control": "stale-if-error=60"})  # RFC 5861 §4 too
    assert by_request.status == 200 and by_request.body == b"old"
    assert send(node, strict).status == 500
    assert send(node, strict, {"Cache-Control": "stale-if-error=60"}).status == 500
    # the error did not remove the stored response: still served stale on the next error
    r = send(node, allowed)
    assert r.status == 200 and r.body == b"old"


def test_rfc5861_s4_stale_if_error_when_the_origin_is_down(uid):
    """RFC 5861 §4: the origin unreachable counts as an error too; without the directive → 502."""
    with Origin() as origin, BackgroundNode(NodeConfig(origin=origin.url, timeout=2.0)) as node:
        allowed, plain = f"/r/{uid}/a", f"/r/{uid}/b"
        _stale_route(origin, allowed, "max-age=1, stale-if-error=60")
        _stale_route(origin, plain, "max-age=1")
        assert send(node, allowed).status == 200 and send(node, plain).status == 200
        origin.__exit__(None, None, None)
        origin._loop = origin._thread = None  # stopped: the `with` exit has nothing left to do
        r = send(node, allowed)
        assert r.status == 200 and r.body == b"old"
        assert r.cache_status.get("fwd-status") == "502"
        assert r.cache_status.get("detail") == "stale-if-error"
        assert send(node, plain).status == 502


# ------------------------------------------------------------------ invalidation and updates


def test_s4_4_unsafe_method_invalidates_the_cached_get(cdn, uid):
    """§4.4: a non-error response to POST invalidates the target URI and same-origin Location;
    an error response does not."""
    origin, node = cdn
    target, other, failing = f"/r/{uid}/t", f"/r/{uid}/o", f"/r/{uid}/f"
    origin.route(target, "t", headers={"Cache-Control": "max-age=60", "Location": other})
    origin.route(other, "o", headers={"Cache-Control": "max-age=60"})
    for path in (target, other):
        send(node, path)
        assert send(node, path).cache_status.get("hit") is True
    post = send(node, target, method="POST", body=b"x=1")
    assert post.status == 200
    assert send(node, target).cache_status.get("fwd") == "uri-miss"
    assert send(node, other).cache_status.get("fwd") == "uri-miss"
    assert hits(origin, target) == 3 and hits(origin, other) == 2

    def by_method(request) -> Route:  # noqa: ANN001
        if request.method == "POST":
            return Route(b"no", 500)
        return Route(b"f", 200, {"Cache-Control": "max-age=60"})

    origin.route(failing).dynamic = by_method
    send(node, failing)
    assert send(node, failing, method="POST", body=b"").status == 500
    assert send(node, failing).cache_status.get("hit") is True


def test_s4_3_4_a_304_updates_the_stored_headers(cdn, uid):
    """§4.3.4 / §3.2: fields of the 304 (here a new Cache-Control) replace the stored ones."""
    origin, node = cdn
    path = f"/r/{uid}"
    origin.route(
        path, "body", headers={"Cache-Control": "max-age=0", "ETag": '"v"', "X-Version": "1"}
    )
    first = send(node, path)
    assert first.headers["x-version"] == "1"
    origin.route(
        path, "body", headers={"Cache-Control": "max-age=60", "ETag": '"v"', "X-Version": "2"}
    )
    second = send(node, path)
    assert second.status == 200 and second.body == b"body"
    assert second.cache_status.get("fwd-status") == "304"
    assert second.headers["x-version"] == "2"
    assert second.headers["cache-control"] == "max-age=60"
    third = send(node, path)
    assert third.cache_status.get("hit") is True and third.headers["x-version"] == "2"
    assert hits(origin, path) == 2


def test_s4_3_4_a_304_that_selects_no_stored_response_is_not_forwarded(cdn, uid):
    """§4.3.4: a 304 whose ETag matches no stored response must not update it; the client
    that sent no condition must never see that 304 — the cache fetches the object again."""
    origin, node = cdn
    path = f"/r/{uid}"
    calls = itertools.count()

    def answer(request) -> Route:  # noqa: ANN001
        n = next(calls)
        if n == 0:
            return Route(b"old", 200, {"Cache-Control": "max-age=0", "ETag": '"v1"'})
        if request.headers.get("If-None-Match"):
            return Route(b"", 304, {"Cache-Control": "max-age=0", "ETag": '"v2"'})
        return Route(b"new", 200, {"Cache-Control": "max-age=60", "ETag": '"v2"'})

    origin.route(path).dynamic = answer
    assert send(node, path).body == b"old"
    r = send(node, path)
    assert r.status == 200 and r.body == b"new" and r.headers["etag"] == '"v2"'
    assert send(node, path).cache_status.get("hit") is True


def test_rfc9211_cache_status_members(cdn, uid):
    """RFC 9211 §2: the node's member names the cache, says hit or fwd (with fwd-status and
    stored), and ttl on hits."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60")
    miss = send(node, path).cache_status
    assert miss == {"name": "syslab", "fwd": "uri-miss", "fwd-status": "200", "stored": True}
    hit = send(node, path).cache_status
    assert hit["name"] == "syslab" and hit["hit"] is True and "fwd" not in hit
    assert 59 <= int(hit["ttl"]) <= 60
    uncacheable = send(node, gen(uid + "n", cc="no-store")).cache_status
    assert uncacheable["fwd"] == "uri-miss" and uncacheable["fwd-status"] == "200"
    assert "stored" not in uncacheable and "hit" not in uncacheable


# ------------------------------------------------------------------ request coalescing


async def _burst(url: str, n: int) -> list[tuple[int, str, bytes]]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> tuple[int, str, bytes]:
            async with session.get(url) as r:
                return r.status, r.headers.get("Cache-Status", ""), await r.read()

        return await asyncio.gather(*(one() for _ in range(n)))


def test_request_coalescing_one_origin_fetch_for_100_concurrent_misses(cdn, uid):
    """100 concurrent requests for one cold key with a slow origin → one origin fetch; every
    client gets the whole body (RFC 9211 `collapsed` marks those that waited)."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60", size=20_000, delay="0.3")
    results = asyncio.run(_burst(node.url + path, 100))
    body = generated_body(f"/gen/{uid}", 20_000)
    assert all(status == 200 and data == body for status, _, data in results)
    assert hits(origin, path) == 1
    stored = [cs for _, cs, _ in results if "stored" in cs]
    collapsed = [cs for _, cs, _ in results if "collapsed" in cs]
    assert len(stored) == 1
    assert len(collapsed) >= 1
    assert all("stored" in cs or "collapsed" in cs or "; hit" in cs for _, cs, _ in results)


@pytest.mark.parametrize("cc", ["no-store", "private, max-age=60"])
def test_request_coalescing_never_shares_uncacheable_responses(cdn, uid, cc):
    """A response that may not be stored may not be shared either: each waiting client gets
    its own origin response (here every answer is distinct)."""
    origin, node = cdn
    path = f"/r/{uid}"
    calls = itertools.count()

    def answer(_request) -> Route:  # noqa: ANN001
        return Route(f"user-{next(calls)}".encode(), 200, {"Cache-Control": cc}, delay=0.3)

    origin.route(path).dynamic = answer
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: send(node, path), range(10)))
    assert all(r.status == 200 for r in responses)
    assert len({r.body for r in responses}) == 10
    assert hits(origin, path) == 10


def test_concurrent_revalidations_never_share_an_uncacheable_response(cdn, uid):
    """Concurrent revalidations of one stale response share one upstream request only if its
    answer is stored; a response that became private is fetched by each client for itself."""
    origin, node = cdn
    path = f"/r/{uid}"
    origin.route(path, "public", headers={"Cache-Control": "max-age=1", "Age": "10"})
    assert send(node, path).body == b"public"
    calls = itertools.count()

    def answer(_request) -> Route:  # noqa: ANN001
        n = next(calls)
        return Route(f"user-{n}".encode(), 200, {"Cache-Control": "private"}, delay=0.3)

    origin.route(path).dynamic = answer
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: send(node, path), range(8)))
    assert all(r.status == 200 for r in responses)
    assert len({r.body for r in responses}) == 8
    assert hits(origin, path) == 9


def test_s4_1_concurrent_revalidations_of_two_variants_get_their_own_variant(cdn, uid):
    """§4.1: a revalidation of one variant must not answer a request that selects another,
    even when both are revalidated at the same moment."""
    origin, node = cdn
    path = f"/r/{uid}"

    def answer(request) -> Route:  # noqa: ANN001
        enc = request.headers.get("Accept-Encoding", "none")
        headers = {"Cache-Control": "max-age=0", "Vary": "Accept-Encoding", "ETag": f'"{enc}"'}
        return Route(f"body-for-{enc}".encode(), 200, headers, delay=0.3)

    origin.route(path).dynamic = answer
    for enc in ("gzip", "br"):
        assert send(node, path, {"Accept-Encoding": enc}).body == f"body-for-{enc}".encode()
    with ThreadPoolExecutor(6) as pool:
        encs = ["gzip", "br"] * 3
        responses = list(pool.map(lambda e: send(node, path, {"Accept-Encoding": e}), encs))
    for enc, r in zip(encs, responses, strict=True):
        assert r.status == 200 and r.body == f"body-for-{enc}".encode(), (enc, r.cache_status)


# ------------------------------------------------------------------ HTTP/1.x connections


def test_rfc9112_s9_3_2_pipelined_requests_are_answered_in_order(cdn, uid):
    """RFC 9112 §9.3.2: 'A server ... MUST send the corresponding responses in the same order
    that the requests were received' — a slow miss first, then a cached hit."""
    origin, node = cdn
    slow, fast = gen(uid + "s", cc="max-age=60", size=100, delay="0.2"), gen(uid + "f", size=200)
    send(node, fast)
    with socket.create_connection((node.host, node.port)) as s:
        s.sendall(
            f"GET {slow} HTTP/1.1\r\nHost: x\r\n\r\nGET {fast} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        (s1, h1, b1), (s2, h2, b2) = read_responses(s, 2)
    assert (s1, len(b1), s2, len(b2)) == (200, 100, 200, 200)
    assert "stored" in h1["cache-status"] and "hit" in h2["cache-status"]


def test_rfc9112_s9_3_http10_without_keep_alive_is_closed(cdn, uid):
    """RFC 9112 §9.3: an HTTP/1.0 request without keep-alive ends the connection; the node says
    so with Connection: close, on the miss and the hit paths. With keep-alive it persists."""
    origin, node = cdn
    path = gen(uid, cc="max-age=60", size=50)
    for _ in ("miss", "hit"):
        with socket.create_connection((node.host, node.port)) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            ((status, fields, body),) = read_responses(s, 1)
            assert status == 200 and len(body) == 50
            assert fields.get("connection", "").lower() == "close"
            assert closed_by_peer(s)
    with socket.create_connection((node.host, node.port)) as s:
        request = f"GET {path} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".encode()
        s.sendall(request)
        ((status, fields, _),) = read_responses(s, 1)
        assert status == 200 and fields.get("connection", "").lower() == "keep-alive"
        s.sendall(request)
        ((status, _, body),) = read_responses(s, 1)
        assert status == 200 and len(body) == 50


@pytest.mark.parametrize("first", ["hit", "miss"])
def test_rfc9112_s9_6_no_requests_are_processed_after_connection_close(cdn, uid, first):
    """RFC 9112 §9.6: after a request with `Connection: close` the server closes the
    connection once it has answered, and 'MUST NOT process any further requests received
    on that connection' — even ones pipelined in the same packet."""
    origin, node = cdn
    a, b = gen(uid + "a", cc="max-age=60", size=10), gen(uid + "b", cc="max-age=60", size=20)
    if first == "hit":
        send(node, a)
    with socket.create_connection((node.host, node.port)) as s:
        s.sendall(
            f"GET {a} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            f"GET {b} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        ((status, fields, body),) = read_responses(s, 1)
        assert status == 200 and len(body) == 10
        assert fields.get("connection", "").lower() == "close"
        assert closed_by_peer(s)
    time.sleep(0.1)
    assert hits(origin, b) == 0
