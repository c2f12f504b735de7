"""Large objects in slices: stored, served, refetched slice by slice, never mixed up."""

from __future__ import annotations

import pytest

from syslab.cdn.node import NodeConfig
from syslab.cdn.origin import Origin, generated_body
from syslab.cdn.server import BackgroundNode
from syslab.cdn.slices import parse_content_range, slice_url, slices_for

SLICE = 64 * 1024
SIZE = 300_000  # 5 slices: 4 full and one of 37,856 bytes
PATH = f"/gen/big?size={SIZE}"
BODY = generated_body("/gen/big", SIZE)


@pytest.fixture
def cdn():
    with (
        Origin() as origin,
        BackgroundNode(NodeConfig(origin=origin.url, slice_size=SLICE, capacity=64 << 20)) as node,
    ):
        yield origin, node


def stored_slices(node: BackgroundNode, path: str = PATH) -> list[int]:
    store = node.node.store
    return [
        i for i in range(10) if node.call(lambda i=i: store.peek(slice_url(path, i))) is not None
    ]


def test_pure_helpers():
    assert slices_for([(0, 0)], 10) == [0]
    assert slices_for([(5, 25), (95, 99)], 10) == [0, 1, 2, 9]
    assert parse_content_range("bytes 0-9/100") == (0, 9, 100)
    assert parse_content_range("bytes */100") is None
    assert parse_content_range("bytes 9-0/100") is None
    assert parse_content_range("bytes 0-100/100") is None


def test_full_get_is_stored_as_slices_and_served_whole(cdn, fetch):
    origin, node = cdn
    status, fields, body = fetch(node.url, PATH)
    assert status == 200 and body == BODY
    assert stored_slices(node) == [0, 1, 2, 3, 4]
    status, fields, body = fetch(node.url, PATH)
    assert status == 200 and body == BODY and int(fields["content-length"]) == SIZE
    assert "hit" in fields["cache-status"]
    assert origin.hits[PATH] == 1


def test_cold_range_fetches_only_the_slices_it_needs(cdn, fetch):
    origin, node = cdn
    status, fields, body = fetch(node.url, PATH, {"Range": "bytes=200000-200099"})
    assert status == 206 and body == BODY[200000:200100]
    assert fields["content-range"] == f"bytes 200000-200099/{SIZE}"
    assert origin.range_requests == [(PATH, f"bytes={3 * SLICE}-{4 * SLICE - 1}")]
    assert stored_slices(node) == [3]
    # across a slice boundary: slices 0 and 1, fetched with If-Range
    status, _, body = fetch(node.url, PATH, {"Range": f"bytes={SLICE - 10}-{SLICE + 9}"})
    assert status == 206 and body == BODY[SLICE - 10 : SLICE + 10]
    assert stored_slices(node) == [0, 1, 3]
    # the whole object: only the two slices still missing go upstream
    status, _, body = fetch(node.url, PATH)
    assert status == 200 and body == BODY
    assert len(origin.range_requests) == 1 + 2 + 2
    assert origin.hits[PATH] == 5


def test_multi_range_and_suffix_from_slices(cdn, fetch):
    origin, node = cdn
    fetch(node.url, PATH)
    status, fields, body = fetch(node.url, PATH, {"Range": "bytes=0-9,299990-"})
    assert status == 206 and fields["content-type"].startswith("multipart/byteranges")
    assert BODY[:10] in body and BODY[-10:] in body
    status, _, body = fetch(node.url, PATH, {"Range": "bytes=-5"})
    assert status == 206 and body == BODY[-5:]
    status, fields, _ = fetch(node.url, PATH, {"Range": f"bytes={SIZE}-"})
    assert status == 416 and fields["content-range"] == f"bytes */{SIZE}"
    assert origin.hits[PATH] == 1


def test_evicted_slice_is_refetched_alone(cdn, fetch):
    origin, node = cdn
    fetch(node.url, PATH)
    store = node.node.store
    node.call(lambda: store.remove_url(slice_url(PATH, 2)))
    status, _, body = fetch(node.url, PATH)
    assert status == 200 and body == BODY
    assert origin.range_requests == [(PATH, f"bytes={2 * SLICE}-{3 * SLICE - 1}")]


def test_changed_object_is_never_stitched_from_two_versions(cdn, fetch):
    origin, node = cdn
    fetch(node.url, PATH)
    store = node.node.store
    node.call(lambda: store.remove_url(slice_url(PATH, 4)))
    new_body = bytes(reversed(BODY))
    origin.route(PATH, new_body, headers={"ETag": '"v2"', "Cache-Control": "max-age=3600"})
    status, _, body = fetch(node.url, PATH)  # If-Range fails upstream: the whole new object
    assert status == 200 and body == new_body
    status, _, body = fetch(node.url, PATH)
    assert status == 200 and body == new_body


def test_purge_removes_head_and_slices(cdn, fetch):
    origin, node = cdn
    fetch(node.url, PATH)
    store = node.node.store
    removed = node.call(lambda: store.remove_url(PATH))
    assert removed == 6 and stored_slices(node) == []
    assert node.call(lambda: store.peek(PATH)) is None


def test_sliced_object_survives_a_restart_on_disk(tmp_path, fetch):
    with Origin() as origin:
        config = NodeConfig(
            origin=origin.url, slice_size=SLICE, capacity=64 << 20, disk_path=str(tmp_path)
        )
        with BackgroundNode(config) as node:
            assert fetch(node.url, PATH)[2] == BODY
        with BackgroundNode(config) as node:  # a new process image: memory is empty
            status, _, body = fetch(node.url, PATH, {"Range": f"bytes={SLICE}-{3 * SLICE}"})
            assert status == 206 and body == BODY[SLICE : 3 * SLICE + 1]
            status, _, body = fetch(node.url, PATH)
            assert status == 200 and body == BODY
        assert origin.hits[PATH] == 1 and origin.range_requests == []
        with BackgroundNode(config) as node:  # a purge reaches the slices on disk too
            node.call(lambda: node.node.purge_local(urls=[PATH]))
            assert fetch(node.url, PATH)[2] == BODY
        assert origin.hits[PATH] == 2
