"""The disk tier inside a node: write-through, back-pressure, variants, purges."""

from __future__ import annotations

from syslab.cdn.node import NodeConfig
from syslab.cdn.origin import Origin
from syslab.cdn.server import BackgroundNode


def test_disk_writes_are_skipped_not_queued_when_the_disk_falls_behind(
    tmp_path, monkeypatch, fetch
):
    from syslab.cdn import disk_tier

    monkeypatch.setattr(disk_tier, "MAX_PENDING_WRITES", 0)  # the disk is "always behind"
    with Origin() as origin:
        config = NodeConfig(origin=origin.url, disk_path=str(tmp_path))
        with BackgroundNode(config) as node:
            assert fetch(node.url, "/gen/s?size=100")[0] == 200
            stats = node.call(lambda: node.node.disk.stats())
            assert "; hit" in fetch(node.url, "/gen/s?size=100")[1]["cache-status"]  # memory
    assert stats["skipped_writes"] >= 1 and stats["objects"] == 0


def test_variants_survive_a_restart_and_a_purge_reaches_them_on_disk(tmp_path, fetch):
    path = "/gen/v?size=300&vary=Accept-Encoding"
    gzip, br = {"Accept-Encoding": "gzip"}, {"Accept-Encoding": "br"}
    with Origin() as origin:
        config = NodeConfig(origin=origin.url, disk_path=str(tmp_path))
        with BackgroundNode(config) as node:
            fetch(node.url, path, gzip)
            fetch(node.url, path, br)
        assert origin.hits[path] == 2
        with BackgroundNode(config) as node:  # both variants come back from disk
            assert "; hit" in fetch(node.url, path, {"Accept-Encoding": " GZIP"})[1]["cache-status"]
            assert "; hit" in fetch(node.url, path, br)[1]["cache-status"]
            assert origin.hits[path] == 2
            node.call(lambda: node.node.purge_local(urls=[path]))
        with BackgroundNode(config) as node:  # the purge removed the variants' files too
            fetch(node.url, path, br)
        assert origin.hits[path] == 3


def test_each_worker_has_its_own_disk_folder(tmp_path):
    from syslab.cdn.server import worker_config

    config = NodeConfig(origin="http://127.0.0.1:1", disk_path=str(tmp_path))
    folders = {worker_config(config, i).disk_path for i in range(3)}
    assert len(folders) == 3 and all(f.startswith(str(tmp_path)) for f in folders)
    assert worker_config(NodeConfig(origin="http://127.0.0.1:1"), 0).disk_path is None
