"""Large objects stored in slices, fetched and evicted slice by slice (as nginx's slice module).

An object larger than the slice size is stored as a *head* — a `StoredResponse` whose
`sliced` field holds the full length and whose body is empty — plus one stored object per
slice under `<url>\\0slice=<i>` (a key no client can ask for: request targets cannot hold
NUL). Each slice is its own entry for the eviction policy, so a popular first minute of a
long video stays while its unwatched end goes. A request needing an evicted slice fetches
just that range upstream with `If-Range`, so a changed object is never stitched together
from two versions.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from syslab.cdn import rfc9111 as http
from syslab.cdn.http1 import Request
from syslab.cdn.rfc9111 import Headers
from syslab.cdn.store import StoredResponse
from syslab.cdn.upstream import UpstreamError, UpstreamResponse

if TYPE_CHECKING:
    from syslab.cdn.node import Node

_CONTENT_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+)\s*")


def slice_url(url: str, index: int) -> str:
    return f"{url}\x00slice={index}"


def slices_for(ranges: list[tuple[int, int]], slice_size: int) -> list[int]:
    """Indices of the slices that hold the bytes of `ranges` (inclusive pairs)."""
    return sorted({i for a, b in ranges for i in range(a // slice_size, b // slice_size + 1)})


def parse_content_range(value: str | None) -> tuple[int, int, int] | None:
    """`bytes a-b/total` → (a, b, total); None for anything else (incl. `*/total`)."""
    m = _CONTENT_RANGE.fullmatch(value or "")
    if not m:
        return None
    a, b, total = map(int, m.groups())
    return (a, b, total) if a <= b < total else None


def validator(headers: Headers) -> str | None:
    """The strong validator that `If-Range` may carry (RFC 9110 §13.1.5), if any."""
    etag = headers.get("etag")
    if etag and not etag.startswith("W/"):
        return etag
    return headers.get("last-modified")


class Changed(Exception):
    """Upstream answered a slice request with a whole, different representation."""

    def __init__(self, whole: StoredResponse) -> None:
        super().__init__("object changed upstream")
        self.whole = whole


class Slicer:
    def __init__(self, node: Node, slice_size: int) -> None:
        self.node = node
        self.size = slice_size

    # -- storing

    def store_whole(self, obj: StoredResponse) -> StoredResponse | None:
        """Store a complete large response as head + slices; the head, or None if refused."""
        head = self._head_like(obj, len(obj.body))
        if not self.node.store.put(head, ()):
            return None
        self._persist(head)
        for i in range((len(obj.body) + self.size - 1) // self.size):
            self._put_slice(head, i, obj.body[i * self.size : (i + 1) * self.size])
        return head

    def _persist(self, obj: StoredResponse) -> None:
        """Heads and slices go to the disk tier like whole objects (each its own file)."""
        if self.node.disk is not None:
            self.node.disk.save(obj)

    def _head_like(self, obj: StoredResponse, total: int) -> StoredResponse:
        return StoredResponse(
            url=obj.url,
            variant=(),
            status=200,
            headers=obj.headers,
            body=b"",
            clock=obj.clock,
            lifetime=obj.lifetime,
            cc=obj.cc,
            tags=obj.tags,
            sliced=total,
        )

    def _put_slice(self, head: StoredResponse, index: int, data: bytes) -> None:
        # The slice remembers the head's validator: after the object changes, old slices
        # no longer match and are fetched again rather than mixed with new ones.
        fields = Headers([("X-Slice-Of", validator(head.headers) or "")])
        piece = StoredResponse(
            url=slice_url(head.url, index),
            variant=(),
            status=206,
            headers=fields,
            body=data,
            clock=head.clock,
            lifetime=head.lifetime,
            cc={},
            tags=head.tags,
        )
        self.node.store.put(piece, ())
        self._persist(piece)

    # -- serving

    async def serve(self, head: StoredResponse, request: Request, age: float, member: str) -> bytes:
        """Answer `request` from a sliced object, fetching the missing slices it needs."""
        node = self.node
        rh = request.headers
        total = head.sliced
        if (
            request.method == "HEAD"
            or http.if_none_match_hit(rh, head.headers)
            or (http.not_modified_since(rh, head.headers))
        ):
            return node.from_store(head, request, age, member)  # no body needed
        ranges = None
        if "range" in rh and node._if_range_ok(rh, head.headers):
            ranges = http.parse_range(rh.get("range"), total)
        if ranges == []:
            fields = Headers([("Content-Range", f"bytes */{total}")])
            return node.build(416, fields, b"", request, member, age=age)
        spans = ranges or [(0, total - 1)]
        try:
            pieces = await self.load(head, slices_for(spans, self.size))
        except Changed as e:  # answer from the new whole representation, already stored
            return node.from_store(e.whole, request, 0.0, member)

        def read(first: int, last: int) -> bytes:
            out = []
            for i in range(first // self.size, last // self.size + 1):
                base = i * self.size
                data = pieces[i]
                out.append(data[max(first - base, 0) : last - base + 1])
            return b"".join(out)

        if ranges is None:
            return node.build(200, head.headers, read(0, total - 1), request, member, age=age)
        return node.partial(head.headers, total, read, ranges, request, member, age)

    async def load(self, head: StoredResponse, indices: list[int]) -> dict[int, bytes]:
        store = self.node.store
        tag = validator(head.headers) or ""
        found: dict[int, bytes] = {}
        missing = []
        for i in indices:
            piece = store.peek(slice_url(head.url, i))
            if piece is not None and piece.headers.get("x-slice-of") == tag:
                store.touch(piece)
                found[i] = piece.body
            else:
                missing.append(i)
        if missing and self.node.disk is not None:  # after a restart: the disk may have them
            for i in list(missing):
                piece = await self.node.disk.load_key(slice_url(head.url, i))
                if piece is not None and piece.headers.get("x-slice-of") == tag:
                    store.put(piece, ())
                    found[i] = piece.body
                    missing.remove(i)
        if missing:
            fetched = await asyncio.gather(*(self.shared(head, i) for i in missing))
            found.update(zip(missing, fetched, strict=True))
        return found

    def shared(self, head: StoredResponse, index: int) -> asyncio.Future[bytes]:
        """One upstream range request per missing slice, however many clients need it."""
        key = slice_url(head.url, index)
        future = self.node.inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(self.fetch(head, index))
            self.node.inflight[key] = future  # type: ignore[assignment]
            future.add_done_callback(lambda _f: self.node.inflight.pop(key, None))
        return asyncio.shield(future)  # type: ignore[return-value]

    async def fetch(self, head: StoredResponse, index: int) -> bytes:
        first = index * self.size
        last = min(head.sliced, first + self.size) - 1
        fields = [("Range", f"bytes={first}-{last}"), ("Via", f"1.1 {self.node.name}")]
        if (v := validator(head.headers)) is not None:
            fields.append(("If-Range", v))
        response = await self._upstream(head.url, fields)
        if response.status == 200:
            whole = self.node.store_fetched(head.url, response)
            raise Changed(whole)
        got = parse_content_range(response.headers.get("content-range"))
        if response.status != 206 or got != (first, last, head.sliced):
            raise UpstreamError(502, f"upstream answered a slice request with {response.status}")
        if len(response.body) != last - first + 1:
            raise UpstreamError(502, "upstream slice has the wrong length")
        self._put_slice(head, index, response.body)
        return response.body

    # -- a range request for an object we do not have

    async def range_miss(self, request: Request) -> StoredResponse | None:
        """Fetch the slice holding the first requested byte; learn the object from it.

        Returns the stored head (sliced) or whole object, or None when the request should
        take the ordinary miss path (suffix ranges, origins without range support, small or
        uncacheable objects are all handled there).
        """
        ranges = http.parse_range(request.headers.get("range"), 2**62)
        if not ranges or (request.headers.get("range") or "").split("=", 1)[-1].lstrip().startswith(
            "-"
        ):
            return None
        index = min(a for a, _ in ranges) // self.size
        first, last = index * self.size, (index + 1) * self.size - 1
        fields = [("Range", f"bytes={first}-{last}"), ("Via", f"1.1 {self.node.name}")]
        response = await self._upstream(request.target, fields)
        got = parse_content_range(response.headers.get("content-range"))
        if response.status != 206 or got is None or got[0] != first:
            return None
        a, b, total = got
        headers = http.end_to_end(response.headers).without(("content-range",))
        ok, _why = http.storable("GET", 200, request.headers, headers)
        if not ok or len(response.body) != b - a + 1 or http.vary_fields(headers):
            return None
        if total <= self.size:  # the slice is the whole (small) object: store it as such
            if a != 0 or b != total - 1:
                return None
            whole = self.node.make(
                request.target,
                (),
                200,
                headers,
                response.body,
                response.request_time,
                response.response_time,
            )
            return whole if self.node.store.put(whole, ()) else None
        probe = self.node.make(
            request.target, (), 200, headers, b"", response.request_time, response.response_time
        )
        head = self._head_like(probe, total)
        if not self.node.store.put(head, ()):
            return None
        self._persist(head)
        self._put_slice(head, index, response.body)
        return head

    async def _upstream(self, url: str, fields: list[tuple[str, str]]) -> UpstreamResponse:
        counts = self.node.metrics.counts
        counts["origin_fetches"] += 1
        try:
            response = await self.node.upstream.fetch("GET", url, fields)
        except UpstreamError:
            counts["origin_errors"] += 1
            raise
        counts["bytes_in"] += len(response.body)
        return response
