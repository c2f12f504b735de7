"""The memory tier on its own: byte budget, cache-lab policies, variants, tags, prefixes."""

from __future__ import annotations

import pytest

from syslab.cache.policies import POLICIES
from syslab.cdn.rfc9111 import AgeClock, Headers
from syslab.cdn.store import OBJECT_OVERHEAD, MemoryStore, StoredResponse


def response(url: str, body: bytes = b"x" * 100, variant=(), tags=()) -> StoredResponse:
    headers = Headers([("Cache-Control", "max-age=60")])
    return StoredResponse(
        url,
        variant,
        200,
        headers,
        body,
        AgeClock(0.0, 0.0, 0.0),
        60.0,
        headers.cache_control(),
        tuple(tags),
    )


def test_size_counts_head_body_and_overhead():
    obj = response("/a", b"y" * 1000)
    assert obj.size == len(obj.head) + 1000 + OBJECT_OVERHEAD
    assert obj.head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 1000\r\n" in obj.head


@pytest.mark.parametrize("policy", [p for p in POLICIES if p != "belady"])
def test_byte_budget_holds_under_every_policy(policy):
    one = response("/0").size
    # 20 objects' worth: S3-FIFO (as libCacheSim's) admits nothing of 10 % of the cache or more
    store = MemoryStore(capacity=one * 20, policy=policy)
    for i in range(200):
        url = f"/{i % 37}"
        obj = store.peek(url)
        if obj is None:
            store.put(response(url))
        else:
            store.touch(obj)
        assert store.used <= store.capacity
        assert store.used == sum(o.size for o in store)
    assert 0 < len(store) <= 20


def test_variants_share_a_url_and_go_together():
    store = MemoryStore(1 << 20)
    assert store.put(response("/v", variant=("gzip",)), vary=("accept-encoding",))
    assert store.put(response("/v", variant=("br",)), vary=("accept-encoding",))
    assert store.vary("/v") == ("accept-encoding",)
    assert store.peek("/v", ("gzip",)) is not store.peek("/v", ("br",))
    # the origin changes its Vary: the old variants are dropped
    assert store.put(response("/v", variant=()), vary=())
    assert store.peek("/v", ("gzip",)) is None and store.vary("/v") == ()
    assert store.remove_url("/v") == 1 and len(store) == 0 and store.used == 0


def test_tags_prefixes_and_derived_urls():
    store = MemoryStore(1 << 20)
    store.put(response("/img/1", tags=["red"]))
    store.put(response("/img/2", tags=["red", "blue"]))
    store.put(response("/css/a", tags=["blue"]))
    store.put(response("/img/1\x00slice=0"))
    assert store.remove_tag("red") == 2
    assert store.peek("/img/2") is None and store.peek("/css/a") is not None
    store.put(response("/img/1"))
    assert store.remove_url("/img/1") == 2  # the URL and its slice
    assert store.remove_prefix("/css/") == 1 and len(store) == 0 and store.used == 0


def test_replaced_and_evicted_objects_are_marked_dead_and_never_readmitted():
    one = response("/0").size
    store = MemoryStore(capacity=one * 2, policy="lru")
    first = response("/a")
    store.put(first)
    store.put(response("/a"))  # a newer copy replaces it
    assert first.dead
    store.touch(first)  # a reader still holding the old copy must not re-admit it
    assert store.used == one and len(store) == 1
    store.put(response("/b"))
    store.put(response("/c"))  # evicts /a under LRU
    assert store.peek("/a") is None and store.evictions == 1
    assert store.used == 2 * one
