"""The disk tier as the node sees it: stored responses written through to a `DiskStore`.

Every stored response without Vary is also written to disk, from one worker thread so the
event loop never waits on the disk and the (single-threaded) store sees one caller. After
a restart a memory miss looks on disk first. Purges by tag or prefix cannot find objects
on disk without reading them all, so they leave tombstones (persisted beside the objects):
a loaded object stored before a matching tombstone is dropped instead of served.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from syslab.cdn.disk import DiskStore
from syslab.cdn.rfc9111 import AgeClock, Headers, freshness_lifetime, variant_key
from syslab.cdn.store import StoredResponse

TOMBSTONES = "tombstones.json"
VARY_MARKER = 0  # status of the record that names a URL's Vary fields (never a real status)
MAX_PENDING_WRITES = 256


def variant_url(url: str, variant: tuple[str, ...]) -> str:
    """Disk key of one variant (NUL cannot appear in a request target)."""
    return url + "\x00vary=" + "\x1f".join(variant)


def to_record(obj: StoredResponse) -> dict[str, Any]:
    return {
        "url": obj.url,
        "status": obj.status,
        "headers": obj.headers.items,
        "request_time": obj.clock.request_time,
        "response_time": obj.clock.response_time,
        "corrected_initial_age": obj.clock.corrected_initial_age,
        "tags": list(obj.tags),
        "sliced": obj.sliced,
    }


def from_record(meta: dict[str, Any], body: bytes) -> StoredResponse:
    headers = Headers((str(k), str(v)) for k, v in meta["headers"])
    status = int(meta["status"])
    return StoredResponse(
        url=meta["url"],
        variant=(),
        status=status,
        headers=headers,
        body=body,
        clock=AgeClock(
            float(meta["request_time"]),
            float(meta["response_time"]),
            float(meta["corrected_initial_age"]),
        ),
        lifetime=freshness_lifetime(status, headers),
        cc=headers.cache_control(),
        tags=tuple(meta.get("tags", ())),
        sliced=int(meta.get("sliced", 0)),
    )


class DiskTier:
    def __init__(self, root: str | Path, capacity: int, policy: str = "lru") -> None:
        self.root = Path(root)
        self.store = DiskStore(self.root, capacity, policy)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="syslab-disk")
        self.submitted = 0
        self.written = 0
        self.skipped = 0
        self.tombstones: dict[str, dict[str, float]] = {"tags": {}, "prefixes": {}}
        try:
            loaded = json.loads((self.root / TOMBSTONES).read_text())
            self.tombstones = {k: dict(loaded.get(k, {})) for k in ("tags", "prefixes")}
        except (OSError, ValueError, AttributeError):
            pass  # none yet, or unreadable: start without (objects stay verifiable)

    async def load(
        self, url: str, request: Headers
    ) -> tuple[StoredResponse, tuple[str, ...]] | None:
        """The stored response for `request` and its Vary fields, or None."""
        obj = await self.load_key(url)
        if obj is None or obj.status != VARY_MARKER:
            return (obj, ()) if obj is not None else None
        vary = tuple(obj.headers.get_all("x-vary"))  # a marker: the variants live beside it
        variant = await self.load_key(variant_url(url, variant_key(vary, request)))
        return (variant, vary) if variant is not None else None

    async def load_key(self, key: str) -> StoredResponse | None:
        """The record stored under exactly `key` (a slice, a variant), or None."""
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(self.executor, self.store.get, key)
        if found is None:
            return None
        meta, body = found
        try:
            obj = from_record(meta, body)
        except (KeyError, TypeError, ValueError):
            self.executor.submit(self.store.remove, key)
            return None
        if self._buried(obj):
            self.executor.submit(self.store.remove, key)
            return None
        return obj

    def save_variant(self, obj: StoredResponse, vary: tuple[str, ...]) -> None:
        """A response with Vary: the variant under its own key, and a marker naming the fields."""
        marker = StoredResponse(
            url=obj.url, variant=(), status=VARY_MARKER,
            headers=Headers(("X-Vary", f) for f in vary), body=b"", clock=obj.clock,
            lifetime=0.0, cc={}, tags=obj.tags,
        )  # fmt: skip
        self.save(marker)
        self._queue(variant_url(obj.url, obj.variant), obj)

    def save(self, obj: StoredResponse) -> None:
        """Queue a write; skipped (and counted) when the disk is this far behind.

        Each write is fsynced, so a burst of misses can outrun the disk; an unbounded queue
        would hold every pending body in memory. The memory tier still has the object.
        """
        self._queue(obj.url, obj)

    def _queue(self, key: str, obj: StoredResponse) -> None:
        if self.pending >= MAX_PENDING_WRITES:
            self.skipped += 1
            return
        self.submitted += 1
        self.executor.submit(self._put, key, to_record(obj), obj.body)

    def _put(self, key: str, meta: dict[str, Any], body: bytes) -> None:
        try:
            self.store.put(key, meta, body)
        finally:
            self.written += 1  # only this (writer) thread writes it, only the loop writes submitted

    @property
    def pending(self) -> int:
        return self.submitted - self.written

    def remove(self, urls: list[str]) -> None:
        """Purge `urls` with their variants and slices (keys `url\\0…` derived from them).

        One scan of the stored keys per purge call, on the writer thread: purges are rare,
        and an index of derived keys would have to follow the disk's own evictions.
        """
        wanted = set(urls)

        def purge() -> None:
            for key in list(self.store):  # a snapshot: we remove while going
                if key in wanted or key.partition("\x00")[0] in wanted:
                    self.store.remove(key)

        self.executor.submit(purge)

    def remove_prefix(self, prefix: str) -> None:
        self._bury("prefixes", prefix)

    def remove_tags(self, tags: list[str]) -> None:
        for tag in tags:
            self._bury("tags", tag)

    def stats(self) -> dict[str, int]:
        return {
            **self.store.stats(),
            "pending_writes": self.pending,
            "skipped_writes": self.skipped,
        }

    def close(self) -> None:
        self.executor.shutdown(wait=True)

    def _bury(self, kind: str, name: str) -> None:
        self.tombstones[kind][name] = time.time()
        snapshot = json.dumps(self.tombstones)
        self.executor.submit(self._write_tombstones, snapshot)

    def _write_tombstones(self, text: str) -> None:
        tmp = self.root / (TOMBSTONES + ".tmp")
        try:
            tmp.write_text(text)
            os.replace(tmp, self.root / TOMBSTONES)
        except OSError:
            pass  # disk full: in-memory tombstones still protect this run

    def _buried(self, obj: StoredResponse) -> bool:
        stored_at = obj.clock.response_time
        tags, prefixes = self.tombstones["tags"], self.tombstones["prefixes"]
        if any(tags.get(t, 0.0) >= stored_at for t in obj.tags):
            return True
        return any(obj.url.startswith(p) and t >= stored_at for p, t in prefixes.items())
