"""DiskStore: atomic checksummed files, eviction by a cache-lab policy, crash and fault safety."""

from __future__ import annotations

import errno
import os
import random
import shutil
from pathlib import Path

import pytest

from syslab.cache.policies import POLICIES, policy_class
from syslab.cdn import disk
from syslab.cdn.disk import HEADER, DiskStore, key_name

META = {"status": 200, "headers": [["content-type", "text/plain"]], "stored_at": 1.5}


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def obj_path(store: DiskStore, key: str) -> Path:
    name = disk.key_name(key)  # looked up at call time: some tests patch it
    return store.root / name[:2] / name[2:4] / name


def size_of(key: str, meta: dict, body: bytes) -> int:
    return disk.encode_object(key, meta, body)[1]


def check_consistent(store: DiskStore) -> None:
    """Index, policy and disk agree."""
    on_disk = {p.name for p in files(store.root)}
    assert on_disk == {disk.key_name(k) for k in store}
    assert store.used == sum(p.stat().st_size for p in files(store.root))
    assert store.used == store._policy.used <= store.capacity
    assert len(store) == len(store._policy)


def test_roundtrip(tmp_path: Path) -> None:
    s = DiskStore(tmp_path, 1 << 20)
    assert s.put("/a?x=1", META, b"hello")
    assert s.put("/ünï", {}, b"")
    assert s.get("/a?x=1") == (META, b"hello")
    assert s.get("/ünï") == ({}, b"")
    assert s.get("/missing") is None
    assert "/a?x=1" in s and "/missing" not in s and 3 not in s
    assert sorted(s.keys()) == ["/a?x=1", "/ünï"] and len(s) == 2
    st = s.stats()
    assert st["objects"] == 2 and st["hits"] == 2 and st["misses"] == 1
    assert st["bytes"] == s.used == size_of("/a?x=1", META, b"hello") + size_of("/ünï", {}, b"")
    check_consistent(s)


def test_file_format(tmp_path: Path) -> None:
    s = DiskStore(tmp_path, 1 << 20)
    s.put("k", {"a": 1}, b"body")
    raw = obj_path(s, "k").read_bytes()
    assert raw[:4] == b"SLCD" and raw[4] == 1
    _, _, klen, mlen, blen = HEADER.unpack(raw[: HEADER.size])
    assert (klen, blen) == (1, 4) and len(raw) == HEADER.size + klen + mlen + blen + 16
    import xxhash

    assert raw[-16:] == xxhash.xxh3_128(raw[:-16]).digest()


def test_overwrite_replaces(tmp_path: Path) -> None:
    s = DiskStore(tmp_path, 1 << 20)
    s.put("k", {"v": 1}, b"one")
    s.put("k", {"v": 2}, b"two-longer")
    assert s.get("k") == ({"v": 2}, b"two-longer")
    assert len(s) == 1
    check_consistent(s)


def test_survives_reopen(tmp_path: Path) -> None:
    s = DiskStore(tmp_path, 1 << 20)
    data = {f"/obj/{i}": ({"i": i}, os.urandom(i * 37)) for i in range(20)}
    for k, (m, b) in data.items():
        assert s.put(k, m, b)
    used = s.used
    s2 = DiskStore(tmp_path, 1 << 20)
    assert len(s2) == 20 and s2.used == used
    for k, (m, b) in data.items():
        assert s2.get(k) == (m, b)
    check_consistent(s2)


def test_capacity_enforced_with_eviction(tmp_path: Path) -> None:
    one = size_of("/k00", {}, b"x" * 100)
    s = DiskStore(tmp_path, 5 * one)
    for i in range(5):
        assert s.put(f"/k{i:02}", {}, b"x" * 100)
    assert s.get("/k00") is not None  # LRU: /k00 is now the most recent
    assert s.put("/k05", {}, b"x" * 100)
    assert "/k01" not in s and "/k00" in s
    assert not obj_path(s, "/k01").exists()
    for i in range(6, 40):
        s.put(f"/k{i:02}", {}, b"x" * 100)
        assert s.used <= s.capacity
    assert len(s) == 5 and s.stats()["evictions"] == 35
    check_consistent(s)


def test_reopen_smaller_capacity_drops_oldest(tmp_path: Path) -> None:
    s = DiskStore(tmp_path, 1 << 20)
    for i in range(6):
        s.put(f"/k{i}", {}, b"y" * 50)
        # Explicit, distinct mtimes: recency is rebuilt from them.
        os.utime(obj_path(s, f"/k{i}"), ns=(10**18 + i, 10**18 + i))
    one = size_of("/k0", {}, b"y" * 50)
    s2 = DiskStore(tmp_path, 3 * one)
    assert sorted(s2.keys()) == ["/k3", "/k4", "/k5"]
    assert s2.stats()["dropped_at_open"] == 3 and s2.stats()["evictions"] == 0
    check_consistent(s2)


def test_oversize_not_stored(tmp_path: Path) -> None:
    s = DiskStore(tmp_path, 1000)
    assert s.put("small", {}, b"s" * 10)
    assert s.put("big", {}, b"b" * 10)
    assert not s.put("huge", {}, b"h" * 2000)
    assert not s.put("big", {}, b"b" * 2000)  # a replacement too big drops the old copy
    assert s.get("big") is None and s.get("huge") is None
    assert s.keys() == ["small"] and s.stats()["rejected"] == 2
    check_consistent(s)


def test_remove_deletes_file(tmp_path: Path) -> None:
    s = DiskStore(tmp_path, 1 << 20)
    s.put("a", {}, b"1")
    s.put("b", {}, b"2")
    assert s.remove("a")
    assert not s.remove("a") and not s.remove("never")
    assert not obj_path(s, "a").exists() and s.get("a") is None
    assert s.get("b") == ({}, b"2")
    check_consistent(s)
    assert DiskStore(tmp_path, 1 << 20).keys() == ["b"]


def _flip_body(p: Path) -> None:
    raw = bytearray(p.read_bytes())
    raw[-20] ^= 0x01  # inside the body, just before the 16-byte digest
    p.write_bytes(bytes(raw))


def _truncate(p: Path) -> None:
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) - 7])


def _extend(p: Path) -> None:
    p.write_bytes(p.read_bytes() + b"\0")


def _garbage(p: Path) -> None:
    p.write_bytes(os.urandom(300))


def _magic(p: Path) -> None:
    raw = p.read_bytes()
    p.write_bytes(b"XXXX" + raw[4:])


def _tiny(p: Path) -> None:
    p.write_bytes(b"SL")


CORRUPTIONS = [_flip_body, _truncate, _extend, _garbage, _magic, _tiny]


def _three(tmp_path: Path) -> DiskStore:
    s = DiskStore(tmp_path, 1 << 20)
    for k in ("a", "b", "c"):
        s.put(k, {"k": k}, k.encode() * 100)
    return s


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_corrupt_file_is_a_miss_and_removed(tmp_path: Path, corrupt) -> None:
    s = _three(tmp_path)
    corrupt(obj_path(s, "b"))
    assert s.get("b") is None
    assert not obj_path(s, "b").exists()
    assert s.stats()["corrupt_dropped"] == 1 and "b" not in s
    assert s.get("a") == ({"k": "a"}, b"a" * 100)
    assert s.get("c") == ({"k": "c"}, b"c" * 100)
    check_consistent(s)
    s2 = DiskStore(tmp_path, 1 << 20)
    assert sorted(s2.keys()) == ["a", "c"] and s2.stats()["corrupt_dropped"] == 0
    assert s.put("b", {}, b"again") and s.get("b") == ({}, b"again")


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_corrupt_file_found_after_reopen(tmp_path: Path, corrupt) -> None:
    s = _three(tmp_path)
    corrupt(obj_path(s, "b"))
    s2 = DiskStore(tmp_path, 1 << 20)
    if corrupt is _flip_body:
        # Header and length are fine: only the (lazy) checksum at first read catches it.
        assert "b" in s2
    else:
        assert "b" not in s2 and s2.stats()["corrupt_dropped"] == 1
    assert s2.get("b") is None and not obj_path(s2, "b").exists()
    assert s2.get("a") == ({"k": "a"}, b"a" * 100)
    check_consistent(s2)


def test_leftover_temp_removed_on_open(tmp_path: Path) -> None:
    s = DiskStore(tmp_path, 1 << 20)
    s.put("a", {}, b"1")
    name = key_name("a")
    tmp = obj_path(s, "a").with_name(f"{name}.deadbeef.tmp")
    tmp.write_bytes(b"half a write")
    other = key_name("zzz")
    (tmp_path / other[:2] / other[2:4]).mkdir(parents=True, exist_ok=True)
    orphan = tmp_path / other[:2] / other[2:4] / f"{other}.0123abcd.tmp"
    orphan.write_bytes(b"")
    foreign = tmp_path / "README"  # not ours: left alone
    foreign.write_text("hi")
    s2 = DiskStore(tmp_path, 1 << 20)
    assert not tmp.exists() and not orphan.exists() and foreign.exists()
    assert s2.stats()["temp_removed"] == 2
    assert s2.get("a") == ({}, b"1")


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _partial_then_enospc():
    calls = {"n": 0}
    real = os.write

    def write(fd, data):
        calls["n"] += 1
        if calls["n"] == 1:
            return real(fd, bytes(data)[:5])  # a short write, then the disk fills
        raise OSError(errno.ENOSPC, "No space left on device")

    return write


def _eio(*args, **kwargs):
    raise OSError(errno.EIO, "Input/output error")


def _eacces(*args, **kwargs):
    raise OSError(errno.EACCES, "Permission denied")


FAULTS = [
    ("write", lambda: _enospc),
    ("write", _partial_then_enospc),
    ("fsync", lambda: _eio),
    ("replace", lambda: _eio),
    ("open", lambda: _eacces),
]


@pytest.mark.parametrize(
    ("fn", "make_fault"), FAULTS, ids=[f"{f}{i}" for i, (f, _) in enumerate(FAULTS)]
)
def test_write_errors_leave_no_partial_file(tmp_path: Path, monkeypatch, fn, make_fault) -> None:
    s = DiskStore(tmp_path, 1 << 20)
    s.put("keep", {}, b"kept")
    s.put("old", {"v": 1}, b"old version")
    before = files(tmp_path)
    with monkeypatch.context() as m:
        m.setattr(disk.os, fn, make_fault())
        assert not s.put("new", META, b"n" * 1000)
        assert not s.put("old", {"v": 2}, b"new version")
    assert s.stats()["write_errors"] == 2
    # No temp or partial file; the replaced object is gone rather than stale.
    assert files(tmp_path) == [p for p in before if p.name != key_name("old")]
    assert s.get("new") is None and s.get("old") is None
    assert s.get("keep") == ({}, b"kept")
    check_consistent(s)
    assert s.put("new", META, b"n" * 1000) and s.get("new") == (META, b"n" * 1000)
    assert sorted(DiskStore(tmp_path, 1 << 20).keys()) == ["keep", "new"]


def test_mkdir_error_is_a_write_error(tmp_path: Path, monkeypatch) -> None:
    s = DiskStore(tmp_path, 1 << 20)
    monkeypatch.setattr(Path, "mkdir", _eacces)
    assert not s.put("k", {}, b"v")
    assert s.stats()["write_errors"] == 1 and len(s) == 0 and s.used == 0


def test_read_error_is_a_miss(tmp_path: Path) -> None:
    s = _three(tmp_path)
    obj_path(s, "b").unlink()  # deleted behind the store's back
    assert s.get("b") is None and "b" not in s
    assert s.stats()["read_errors"] == 1
    check_consistent(s)


def test_unserialisable_meta_raises_before_any_change(tmp_path: Path) -> None:
    s = DiskStore(tmp_path, 1 << 20)
    s.put("k", {}, b"v")
    with pytest.raises(TypeError):
        s.put("k", {"x": object()}, b"w")
    assert s.get("k") == ({}, b"v")


def test_name_collision_is_a_miss(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(disk, "key_name", lambda key: "ab" * 16)
    s = DiskStore(tmp_path, 1 << 20)
    assert s.put("first", {}, b"1")
    assert s.put("second", {}, b"2")  # same name: replaces "first"
    assert s.get("first") is None and "first" not in s
    assert s.get("second") == ({}, b"2")
    assert len(s) == 1 and len(files(tmp_path)) == 1
    check_consistent(s)
    s2 = DiskStore(tmp_path, 1 << 20)
    assert s2.get("first") is None and s2.get("second") == ({}, b"2")


def test_stored_key_checked_on_read(tmp_path: Path) -> None:
    s = _three(tmp_path)
    # b's file where a's belongs: what a name collision on disk looks like to a reader.
    shutil.copyfile(obj_path(s, "b"), obj_path(s, "a"))
    assert s.get("a") is None and not obj_path(s, "a").exists()
    assert s.stats()["key_mismatches"] == 1
    assert s.get("b") == ({"k": "b"}, b"b" * 100)
    check_consistent(s)
    # At open the same misplacement is caught by the key-to-name check.
    shutil.copyfile(obj_path(s, "b"), obj_path(s, "a"))
    s2 = DiskStore(tmp_path, 1 << 20)
    assert sorted(s2.keys()) == ["b", "c"] and s2.stats()["key_mismatches"] == 1
    assert not obj_path(s2, "a").exists()


ONLINE = [p for p in POLICIES if not policy_class(p).needs_future]


@pytest.mark.parametrize("policy", ONLINE)
def test_every_policy_keeps_disk_and_index_in_step(tmp_path: Path, policy: str) -> None:
    rng = random.Random(7)
    s = DiskStore(tmp_path, 20_000, policy, fsync=False)
    for _ in range(300):
        k = f"/o/{int(rng.paretovariate(1.0)) % 60}"
        op = rng.random()
        if op < 0.6:
            got = s.get(k)
            assert got is None or got[0] == {"k": k}
        elif op < 0.95:
            s.put(k, {"k": k}, b"z" * rng.randrange(0, 1500))
        else:
            s.remove(k)
        assert s.used <= s.capacity
    check_consistent(s)
    s2 = DiskStore(tmp_path, 20_000, policy)
    assert sorted(s2.keys()) == sorted(s.keys())
    check_consistent(s2)
