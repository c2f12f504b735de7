"""The disk tier: stored responses as one checksummed file each, under a byte budget.

Survives a restart and never serves corrupt data. Each object is written to a temp file in
its final directory, fsynced, then renamed over the final name, so a crash leaves the old
object, the new one, or none — never a mix. Every read verifies a checksum; a file that
fails is deleted and the read is a miss.

Layout: `root/ab/cd/<name>` where `name` is the 32-hex-digit xxh3_128 of the key (UTF-8) and
`ab`, `cd` are its first four digits (two-level fan-out keeps directories small). Temp files
are `<name>.<random>.tmp` beside it and are deleted when a store opens.

File format (version 1), all integers little-endian:

    offset  size  field
    0       4     magic b"SLCD"
    4       1     version (1)
    5       3     reserved, zero
    8       4     key length K (bytes of UTF-8)
    12      4     meta length M (bytes of UTF-8 JSON)
    16      8     body length B
    24      K     key (the full key: a name-hash collision is caught on read)
    24+K    M     meta, JSON (the server's status/headers/times)
    24+K+M  B     body
    end-16  16    xxh3_128 digest (canonical, big-endian) of every byte before it

so a file is exactly 24 + K + M + B + 16 bytes; any other length is a truncated or
extended file.

Eviction: a `syslab.cache` policy in byte mode keyed by `name`. An object's size is its
whole file (header, key, meta, body, checksum): the budget is disk space (filesystem
block rounding aside), and metadata-heavy small objects count what they really cost. A `get`
that hits is the policy's hit; a `put` is its miss (it admits or declines and names victims,
whose files are deleted). Store misses are not fed to it: `request()` on a miss would admit
a key that has no data.

Validation trade-off: opening checks each object's header, its exact length and that its key
hashes to its file name — one small read per object, so a large store opens in time
proportional to its object count, not its bytes. The full checksum is verified on every
read instead (xxh3 runs at memory speed, far faster than the read), which also catches bits
that rot after opening. So a file with a flipped body byte stays indexed, and counted in
`used`, until its first read drops it.

Durability: the file is fsynced before the rename but the directory is not fsynced after
it. A power cut may then lose the rename: the object is missing or the old one remains,
both a valid state for a cache, and it saves a journal commit per write.

Not thread-safe and free of asyncio: the server calls it from its event-loop thread. A
caller that moves `get`/`put` to a worker thread must serialise all calls (e.g. one
single-thread executor), because both update the index and the policy.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xxhash

from syslab.cache.policies import make_policy

MAGIC = b"SLCD"
VERSION = 1
HEADER = struct.Struct("<4sB3xIIQ")  # magic, version, reserved, key len, meta len, body len
DIGEST_SIZE = 16  # xxh3_128
MAX_KEY = 0xFFFFFFFF
TMP_SUFFIX = ".tmp"
_HEX = frozenset("0123456789abcdef")


def key_name(key: str) -> str:
    """The file name of `key`: its xxh3_128, 32 lowercase hex digits."""
    return xxhash.xxh3_128_hexdigest(key.encode("utf-8"))


def encode_object(key: str, meta: dict[str, Any], body: bytes) -> tuple[bytes, int]:
    """(header + key + meta, total file size) of an object; the body and digest follow."""
    kb = key.encode("utf-8")
    mb = json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(kb) > MAX_KEY or len(mb) > MAX_KEY:
        raise ValueError("key or meta longer than 4 GiB")
    head = HEADER.pack(MAGIC, VERSION, len(kb), len(mb), len(body)) + kb + mb
    return head, len(head) + len(body) + DIGEST_SIZE


class CorruptObject(Exception):
    """A file that is not a valid object: bad magic/version, wrong length or checksum."""


class DiskStore:
    """A byte-capacity object store on disk, one checksummed file per object (see module doc).

    I/O errors never reach the caller: a failed `put` returns False, a failed `get` is a
    miss, and both are counted in `stats()`. Only a root that cannot be created raises (a
    configuration error); unreadable files and directories under it are skipped and counted.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        capacity: int,
        policy: str = "lru",
        *,
        fsync: bool = True,
    ) -> None:
        self.root = Path(root)
        self.capacity = int(capacity)
        self.fsync = fsync  # off only where the checksum is protection enough (benchmarks)
        self._policy = make_policy(policy, self.capacity)
        self._policy.on_evict = self._on_evict
        self._index: dict[str, tuple[str, int]] = {}  # name -> (key, file size)
        self._used = 0
        self._stats = dict.fromkeys(
            (
                "hits",
                "misses",
                "puts",
                "rejected",
                "evictions",
                "removed",
                "corrupt_dropped",
                "key_mismatches",
                "write_errors",
                "read_errors",
                "unlink_errors",
                "temp_removed",
                "dropped_at_open",
            ),
            0,
        )
        self.root.mkdir(parents=True, exist_ok=True)
        self._load()

    # ------------------------------------------------------------------ public API
    def put(self, key: str, meta: dict[str, Any], body: bytes) -> bool:
        """Store `key` -> (meta, body); True if it is now stored.

        A put replaces any previous object for `key` even when the new one is not stored
        (declined by the policy, larger than the capacity, or an I/O error): the caller is
        replacing it, so the old copy must not be served. `meta` must be JSON-serialisable
        (TypeError/ValueError otherwise, before anything changes).
        """
        head, size = encode_object(key, meta, body)
        name = key_name(key)
        self._stats["puts"] += 1
        # Forget the old copy (same key, or another key whose name collides) in the policy
        # now, so the new one is a miss; its file stays until the rename replaces it.
        old = self._forget(name)
        # Ask the policy before writing: a declined object costs no disk write, and victims
        # evicted first free the space the write needs.
        if size <= self.capacity:
            self._policy.request(name, size)
        if name not in self._policy:
            self._stats["rejected"] += 1
            if old:
                self._unlink(self._path(name))
            return False
        try:
            self._write(name, head, body)
        except OSError:
            self._stats["write_errors"] += 1
            self._policy.remove(name)
            if old:  # the old file is no longer indexed: don't let a reopen resurrect it
                self._unlink(self._path(name))
            return False
        self._index[name] = (key, size)
        self._used += size
        return True

    def get(self, key: str) -> tuple[dict[str, Any], bytes] | None:
        """(meta, body) of `key`, verified, or None; a corrupt file is deleted (a miss)."""
        name = key_name(key)
        entry = self._index.get(name)
        if entry is None or entry[0] != key:
            self._stats["misses"] += 1
            return None
        path = self._path(name)
        try:
            stored_key, meta, body = read_object(path)
            if stored_key != key:
                # Another key's object under this name (misplaced or copied in by hand).
                self._stats["key_mismatches"] += 1
                raise CorruptObject("key mismatch")
        except CorruptObject:
            self._stats["corrupt_dropped"] += 1
            self._drop(name, path)
            self._stats["misses"] += 1
            return None
        except OSError as exc:
            # Missing (deleted behind our back) or unreadable: either way not servable.
            self._stats["read_errors"] += 1
            self._drop(name, path, unlink=exc.errno != errno.ENOENT)
            self._stats["misses"] += 1
            return None
        self._policy.request(name, entry[1])
        self._stats["hits"] += 1
        return meta, body

    def remove(self, key: str) -> bool:
        """Delete `key` (a purge); True if it was stored."""
        name = key_name(key)
        entry = self._index.get(name)
        if entry is None or entry[0] != key:
            return False
        self._drop(name, self._path(name))
        self._stats["removed"] += 1
        return True

    def keys(self) -> list[str]:
        """The stored keys (a snapshot)."""
        return [key for key, _ in self._index.values()]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        entry = self._index.get(key_name(key))
        return entry is not None and entry[0] == key

    def __len__(self) -> int:
        return len(self._index)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    @property
    def used(self) -> int:
        """Bytes of all stored object files."""
        return self._used

    @property
    def policy(self) -> str:
        return self._policy.name

    def stats(self) -> dict[str, int]:
        """Counters since open, plus the current objects, bytes and capacity.

        rejected: puts the policy declined (or larger than the capacity); corrupt_dropped:
        files deleted for a bad header, length, checksum or stored key (key_mismatches
        counts the last kind again); read_errors/write_errors: OSErrors turned into a miss
        or a False put; dropped_at_open: valid objects beyond the capacity or declined
        when the index was rebuilt; temp_removed: leftovers of interrupted writes.
        """
        return {
            "objects": len(self._index),
            "bytes": self._used,
            "capacity": self.capacity,
            **self._stats,
        }

    def __repr__(self) -> str:
        return (
            f"DiskStore({str(self.root)!r}, capacity={self.capacity}, policy={self.policy!r}, "
            f"objects={len(self)}, used={self._used})"
        )

    # ------------------------------------------------------------------ internals
    def _path(self, name: str) -> Path:
        return self.root / name[:2] / name[2:4] / name

    def _on_evict(self, name: Any) -> None:  # the policy's keys are our names (str)
        self._stats["evictions"] += 1
        entry = self._index.pop(name, None)
        if entry is not None:
            self._used -= entry[1]
            self._unlink(self._path(name))

    def _forget(self, name: str) -> bool:
        """Drop `name` from the index and the policy, keeping its file; True if present."""
        entry = self._index.pop(name, None)
        if entry is None:
            return False
        self._used -= entry[1]
        self._policy.remove(name)
        return True

    def _drop(self, name: str, path: Path, *, unlink: bool = True) -> None:
        self._forget(name)
        if unlink:
            self._unlink(path)

    def _unlink(self, path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            # Left behind: a reopen validates and indexes it again, which is no worse
            # than a cache that never dropped it.
            self._stats["unlink_errors"] += 1

    def _write(self, name: str, head: bytes, body: bytes) -> None:
        """Write the object under `name` atomically: temp file, fsync, rename."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{name}.{secrets.token_hex(4)}{TMP_SUFFIX}")
        digest = xxhash.xxh3_128(head)
        digest.update(body)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            try:
                for chunk in (head, body, digest.digest()):
                    _write_all(fd, chunk)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _load(self) -> None:
        """Rebuild the index from the files under root; feed the policy oldest first."""
        found: list[tuple[int, str, str, int]] = []  # (mtime, name, key, size)
        for path in self._scan():
            if path.name.endswith(TMP_SUFFIX):
                self._stats["temp_removed"] += 1
                self._unlink(path)
                continue
            try:
                key, size, mtime = check_object(path)
                if key_name(key) != path.name:
                    self._stats["key_mismatches"] += 1
                    raise CorruptObject("key does not hash to the file name")
            except CorruptObject:
                self._stats["corrupt_dropped"] += 1
                self._unlink(path)
                continue
            except OSError:
                self._stats["read_errors"] += 1
                self._unlink(path)
                continue
            found.append((mtime, path.name, key, size))
        # mtime is the last write, so this keeps write order (recency of hits is not kept).
        found.sort()
        for _, name, key, size in found:
            self._index[name] = (key, size)
            self._used += size
            self._policy.request(name, size)
            if name not in self._policy:  # declined, or too big for a smaller capacity now
                self._drop(name, self._path(name))
                self._stats["dropped_at_open"] += 1
        # Victims of the feed (beyond a smaller capacity) went through _on_evict; report
        # them as dropped at open, not as evictions of this run.
        self._stats["dropped_at_open"] += self._stats["evictions"]
        self._stats["evictions"] = 0

    def _scan(self) -> Iterator[Path]:
        """Object and temp files in the fan-out dirs; anything else under root is left alone."""
        for d1 in _subdirs(self.root):
            for d2 in _subdirs(d1):
                try:
                    entries = list(os.scandir(d2))
                except OSError:
                    self._stats["read_errors"] += 1
                    continue
                prefix = d1.name + d2.name
                for e in entries:
                    if _is_ours(e.name, prefix) and e.is_file(follow_symlinks=False):
                        yield Path(e.path)


def _is_ours(filename: str, prefix: str) -> bool:
    """An object (`<name>`) or temp file (`<name>.<random>.tmp`) in its fan-out dir."""
    stem = filename.split(".", 1)[0]
    if len(stem) != 32 or not set(stem) <= _HEX or stem[:4] != prefix:
        return False
    return filename == stem or filename.endswith(TMP_SUFFIX)


def _subdirs(path: Path) -> list[Path]:
    try:
        return [
            Path(e.path)
            for e in os.scandir(path)
            if len(e.name) == 2 and set(e.name) <= _HEX and e.is_dir(follow_symlinks=False)
        ]
    except OSError:
        return []


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _parse_header(raw: bytes, file_size: int) -> tuple[int, int, int]:
    if len(raw) < HEADER.size:
        raise CorruptObject("shorter than the header")
    magic, version, klen, mlen, blen = HEADER.unpack(raw)
    if magic != MAGIC:
        raise CorruptObject("bad magic")
    if version != VERSION:
        raise CorruptObject(f"unknown version {version}")
    if HEADER.size + klen + mlen + blen + DIGEST_SIZE != file_size:
        raise CorruptObject("length mismatch (truncated or extended)")
    return klen, mlen, blen


def check_object(path: Path) -> tuple[str, int, int]:
    """(key, file size, mtime ns) of an object file after checking header, length and key.

    The cheap check done at open; the checksum is left to `read_object`.
    """
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        klen, _, _ = _parse_header(f.read(HEADER.size), st.st_size)
        try:
            key = f.read(klen).decode("utf-8")
        except UnicodeDecodeError:
            raise CorruptObject("key is not UTF-8") from None
    return key, st.st_size, st.st_mtime_ns


def read_object(path: Path) -> tuple[str, dict[str, Any], bytes]:
    """(key, meta, body) of an object file, fully verified; CorruptObject if it is not."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        raw = f.read(HEADER.size)
        klen, mlen, blen = _parse_header(raw, size)
        kb = f.read(klen)
        mb = f.read(mlen)
        body = f.read(blen)  # read on its own so the body is never copied again
        digest = f.read(DIGEST_SIZE)
    if len(kb) + len(mb) + len(body) + len(digest) != klen + mlen + blen + DIGEST_SIZE:
        raise CorruptObject("short read (truncated while reading)")
    h = xxhash.xxh3_128(raw)
    h.update(kb)
    h.update(mb)
    h.update(body)
    if h.digest() != digest:
        raise CorruptObject("checksum mismatch")
    try:
        meta = json.loads(mb)
        key = kb.decode("utf-8")
    except ValueError:  # includes UnicodeDecodeError; only possible if the writer was buggy
        raise CorruptObject("meta is not JSON") from None
    if not isinstance(meta, dict):
        raise CorruptObject("meta is not a JSON object")
    return key, meta, body
