"""A small CDN on loopback: 3 edges → 2 parents → origin, with failover and purge propagation."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from contextlib import ExitStack

import pytest

from syslab.cdn.node import NodeConfig
from syslab.cdn.origin import Origin
from syslab.cdn.server import BackgroundNode
from syslab.cdn.tiers import Rendezvous

TOKEN = "t0ken"


def joined(message) -> dict[str, str]:  # noqa: ANN001 - an http.client message
    """Repeated fields joined with ", " (RFC 9110 §5.3), as a cache must read them."""
    return {k: ", ".join(message.get_all(k)) for k in set(message.keys())}


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, joined(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, joined(e.headers), e.read()


def admin(base: str, path: str, payload: dict) -> dict:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture
def cdn():
    with ExitStack() as stack:
        origin = stack.enter_context(Origin())
        parents = [
            stack.enter_context(
                BackgroundNode(NodeConfig(origin=origin.url, name=f"parent{i}", admin_token=TOKEN))
            )
            for i in range(2)
        ]
        edges: list[BackgroundNode] = []
        for i in range(3):
            config = NodeConfig(
                origin=origin.url,
                name=f"edge{i}",
                parents=[p.url for p in parents],
                admin_token=TOKEN,
                health_interval=0.1,
            )
            edges.append(stack.enter_context(BackgroundNode(config)))
        for i, edge in enumerate(edges):  # peers: the other edges, for purge propagation
            edge.config.peers[:] = [e.url for j, e in enumerate(edges) if j != i]
        yield origin, parents, edges


def test_requests_flow_edge_parent_origin_and_cache_status_lists_both(cdn):
    origin, parents, edges = cdn
    status, headers, body = get(edges[0].url + "/gen/k1?size=2000")
    assert status == 200 and len(body) == 2000
    assert origin.hits["/gen/k1?size=2000"] == 1
    # RFC 9211: the parent's member first, the edge's last
    members = [m.strip() for m in headers["Cache-Status"].split(",")]
    assert members[0].startswith("parent") and "fwd=uri-miss" in members[0]
    assert members[-1].startswith("edge0")
    status, headers, _ = get(edges[1].url + "/gen/k1?size=2000")
    assert status == 200 and origin.hits["/gen/k1?size=2000"] == 1  # the parent had it
    assert "hit" in headers["Cache-Status"].split(",")[0]


def test_keys_are_partitioned_across_parents_by_rendezvous(cdn):
    origin, parents, edges = cdn
    keys = [f"/gen/p{i}?size=100" for i in range(60)]
    for i, key in enumerate(keys):
        assert get(edges[i % 3].url + key)[0] == 200
    ring = Rendezvous([p.url for p in parents])
    for key in keys:
        owner = ring.pick(key)
        for parent in parents:
            stored = parent.call(lambda p=parent, k=key: p.node.store.peek(k) is not None)
            assert stored == (parent.url == owner)
    assert all(origin.hits[k] == 1 for k in keys)


def test_parent_leaving_moves_only_its_keys_and_fails_over_fast(cdn):
    origin, parents, edges = cdn
    keys = [f"/gen/f{i}?size=100" for i in range(40)]
    for key in keys:
        get(edges[0].url + key)
    ring = Rendezvous([p.url for p in parents])
    gone, stays = parents[0], parents[1]
    on_gone = [k for k in keys if ring.pick(k) == gone.url]
    on_stays = [k for k in keys if ring.pick(k) == stays.url]
    assert on_gone and on_stays
    gone.__exit__(None, None, None)
    started = time.monotonic()
    # edge1 never saw these keys: every request goes upstream, to the dead parent first
    status, _, _ = get(edges[1].url + on_gone[0])
    assert status == 200
    assert time.monotonic() - started < 1.0
    for key in on_gone + on_stays:
        assert get(edges[1].url + key)[0] == 200
    # keys owned by the surviving parent did not move: still one origin fetch each
    assert all(origin.hits[k] == 1 for k in on_stays)
    assert all(origin.hits[k] == 2 for k in on_gone)  # refetched via the next parent


def test_purge_at_one_edge_reaches_every_tier(cdn):
    origin, parents, edges = cdn
    key = "/gen/purgeme?size=500&tag=blue"
    for edge in edges:
        get(edge.url + key)
    assert origin.hits[key] == 1
    reply = admin(edges[0].url, "/.syslab/purge", {"urls": [key]})
    assert reply["unreachable"] == []
    nodes = [*edges, *parents]
    for node in nodes:
        assert node.call(lambda n=node: n.node.store.peek(key)) is None, node.config.name
    get(edges[2].url + key)
    assert origin.hits[key] == 2


def test_tag_invalidation_propagates(cdn):
    origin, parents, edges = cdn
    tagged = [f"/gen/t{i}?size=300&tag=red" for i in range(5)]
    other = "/gen/untagged?size=300"
    for key in [*tagged, other]:
        for edge in edges:
            get(edge.url + key)
    admin(edges[1].url, "/.syslab/purge", {"tags": ["red"]})
    for node in [*edges, *parents]:
        assert all(node.call(lambda n=node, k=k: n.node.store.peek(k)) is None for k in tagged)
    assert edges[0].call(lambda: edges[0].node.store.peek(other)) is not None
