"""The memory tier: stored responses under a byte budget, evicted by a cache-lab policy.

One object per (URL, variant). The eviction decision belongs to a `syslab.cache` policy —
the very objects the simulator measures — driven in byte mode: a lookup is `request()` on
a hit, an insert is `request()` on a miss (the policy admits and names victims through
`on_evict`), a purge is `remove()`. Keys given to the policy are 64-bit hashes, which the
hashing policies (W-TinyLFU) need and which keep the policy's memory small.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import xxhash

from syslab.cache.policies import make_policy
from syslab.cdn.rfc9111 import AgeClock, Headers

# Per-object bookkeeping that the byte budget should count besides the body and headers.
OBJECT_OVERHEAD = 256


@dataclass(slots=True, eq=False)
class StoredResponse:
    """One cached response, with its serialised head ready for the hit fast path."""

    url: str  # primary cache key: the request target (path and query)
    variant: tuple[str, ...]  # normalised values of the Vary fields
    status: int
    headers: Headers  # end-to-end fields as stored (Age is computed per response)
    body: bytes
    clock: AgeClock
    lifetime: float
    cc: dict[str, str | None]
    tags: tuple[str, ...] = ()
    head: bytes = b""  # status line and fields, without Age/Cache-Status and the final CRLF
    size: int = 0
    key: int = 0  # the policy's key, set when stored (0: not stored)
    sliced: int = 0  # >0: the body (this many bytes) is stored in slices, see slices.py
    hit_age: int = -1  # the whole-second Age that `hit_fields` were formatted for
    hit_fields: bytes = b""  # "Age: …\r\nCache-Status: …" of a plain hit at that age
    always_revalidate: bool = False  # `no-cache` without field names: never served unchecked
    #: Set when a newer copy replaced or purged this one; readers holding it re-check.
    dead: bool = field(default=False)

    def __post_init__(self) -> None:
        if not self.head:
            length = self.sliced or len(self.body)
            self.head = serialise_head(self.status, self.headers, length)
        self.size = len(self.head) + len(self.body) + OBJECT_OVERHEAD
        self.always_revalidate = "no-cache" in self.cc and self.cc["no-cache"] is None


_REASONS = {
    200: "OK",
    203: "Non-Authoritative Information",
    204: "No Content",
    206: "Partial Content",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


# Framing is ours to set: the stored body is always sent whole with a Content-Length.
_FRAMING = frozenset({"content-length", "transfer-encoding", "age", "connection", "keep-alive"})


def serialise_head(status: int, headers: Headers, body_length: int) -> bytes:
    """Status line and fields for a full response of `body_length` bytes."""
    lines = [f"HTTP/1.1 {status} {reason(status)}"]
    lines += [f"{k}: {v}" for k, v in headers.items if k.lower() not in _FRAMING]
    lines.append(f"Content-Length: {body_length}")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def object_key(url: str, variant: tuple[str, ...]) -> int:
    """The 64-bit key a policy sees for one stored object."""
    return xxhash.xxh3_64_intdigest("\x00".join((url, *variant)).encode("utf-8", "surrogatepass"))


class MemoryStore:
    """Stored responses within `capacity` bytes; `policy` names a `syslab.cache` policy."""

    def __init__(self, capacity: int, policy: str = "s3fifo") -> None:
        self.policy = make_policy(policy, capacity)
        self.policy.on_evict = self._on_evict
        self.policy_name = policy
        self.capacity = capacity
        self._objects: dict[int, StoredResponse] = {}  # policy key → object
        # url → (its Vary field names, {variant: object}); the hit path's one dict lookup.
        self._urls: dict[str, tuple[tuple[str, ...], dict[tuple[str, ...], StoredResponse]]] = {}
        self._tags: dict[str, set[int]] = {}
        # url → stored URLs derived from it ("url\0slice=3"), purged with it
        self._children: dict[str, set[str]] = {}
        self.evictions = 0

    # -- lookups

    def entry(
        self, url: str
    ) -> tuple[tuple[str, ...], dict[tuple[str, ...], StoredResponse]] | None:
        """(Vary fields, variants) stored for `url`, or None."""
        return self._urls.get(url)

    def vary(self, url: str) -> tuple[str, ...] | None:
        """The Vary fields stored for `url` (None when nothing is stored for it)."""
        entry = self._urls.get(url)
        return entry[0] if entry else None

    def touch(self, obj: StoredResponse) -> None:
        """Tell the policy `obj` was just served (a hit)."""
        if obj.dead or not obj.key:  # gone, or never stored: re-admitting it would leak bytes
            return
        self.policy.request(obj.key, obj.size)

    def peek(self, url: str, variant: tuple[str, ...] = ()) -> StoredResponse | None:
        """The stored response, or None; a hit is told to the policy separately (`touch`)."""
        entry = self._urls.get(url)
        return entry[1].get(variant) if entry is not None else None

    # -- updates

    def put(self, obj: StoredResponse, vary: tuple[str, ...] = ()) -> bool:
        """Store `obj` (replacing the same variant); False if the policy did not admit it."""
        known = self._urls.get(obj.url)
        if known is not None and known[0] != vary:
            self.remove_url(obj.url)  # the origin changed its Vary: old variants are moot
        obj.key = key = object_key(obj.url, obj.variant)
        if key in self._objects:  # the same variant (or, once in 2^64, another object)
            self._drop(key)
        self.policy.request(key, obj.size)
        if key not in self.policy:
            return False
        self._objects[key] = obj
        self._urls.setdefault(obj.url, (vary, {}))[1][obj.variant] = obj
        parent, nul, _ = obj.url.partition("\x00")
        if nul:
            self._children.setdefault(parent, set()).add(obj.url)
        for tag in obj.tags:
            self._tags.setdefault(tag, set()).add(key)
        return True

    def remove_url(self, url: str) -> int:
        """Purge every variant of `url`; returns how many objects went."""
        entry = self._urls.get(url)
        keys = [obj.key for obj in entry[1].values()] if entry is not None else []
        for child in list(self._children.get(url, ())):
            keys += [obj.key for obj in self._urls.get(child, ((), {}))[1].values()]
        for key in keys:
            self._drop(key)
        return len(keys)

    def remove_tag(self, tag: str) -> int:
        """Purge every object the origin labelled with surrogate key `tag`."""
        keys = list(self._tags.get(tag, ()))
        for key in keys:
            self._drop(key)
        return len(keys)

    def remove_prefix(self, prefix: str) -> int:
        """Purge every URL starting with `prefix` (a scan: purges are rare, lookups are not)."""
        urls = [u for u in self._urls if u.startswith(prefix)]
        return sum(self.remove_url(u) for u in urls)

    # -- accounting

    @property
    def used(self) -> int:
        return self.policy.used

    def __len__(self) -> int:
        return len(self._objects)

    def __iter__(self) -> Iterator[StoredResponse]:
        return iter(list(self._objects.values()))

    def _drop(self, key: int) -> None:
        self.policy.remove(key)
        self._forget(key)

    def _on_evict(self, key: int) -> None:
        self.evictions += 1
        self._forget(key)

    def _forget(self, key: int) -> None:
        obj = self._objects.pop(key, None)
        if obj is None:
            return
        obj.dead = True
        entry = self._urls.get(obj.url)
        if entry is not None and entry[1].get(obj.variant) is obj:
            del entry[1][obj.variant]
            if not entry[1]:
                del self._urls[obj.url]
                parent, nul, _ = obj.url.partition("\x00")
                children = self._children.get(parent) if nul else None
                if children is not None:
                    children.discard(obj.url)
                    if not children:
                        del self._children[parent]
        for tag in obj.tags:
            tagged = self._tags.get(tag)
            if tagged is not None:
                tagged.discard(key)
                if not tagged:
                    del self._tags[tag]
