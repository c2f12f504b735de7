"""One caching node: decides, per request, between the store, upstream and the admin API.

`respond_now` answers without I/O whatever the store can answer (fresh hits, 304s to
conditional requests, ranges, HEAD); the connection calls it first. `handle` is the
asynchronous rest: misses with request coalescing, revalidation, stale-while-revalidate,
stale-if-error, pass-through of unsafe methods, and the admin API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from syslab.cdn import rfc9111 as http
from syslab.cdn.http1 import Request, error_response
from syslab.cdn.metrics import Metrics
from syslab.cdn.rfc9111 import Headers
from syslab.cdn.slices import Slicer
from syslab.cdn.store import MemoryStore, StoredResponse, reason
from syslab.cdn.upstream import Upstream, UpstreamError, UpstreamResponse

ADMIN_PREFIX = "/.syslab/"
MAX_BACKGROUND = 1024  # background tasks (prefetches, refreshes) waiting or running
# Client fields a miss must not forward: we fetch the whole, unconditional object and then
# answer the client's conditions and ranges from it (as nginx proxy_cache does).
_NOT_FORWARDED = (
    frozenset(
        {
            "host",
            "range",
            "if-range",
            "if-none-match",
            "if-modified-since",
            "if-match",
            "if-unmodified-since",
            "content-length",
            "expect",
        }
    )
    | http.HOP_BY_HOP
)
# Surrogate-key headers: Fastly's space-separated Surrogate-Key, Cloudflare's Cache-Tag.
TAG_FIELDS = (("surrogate-key", " "), ("cache-tag", ","))


@dataclass
class NodeConfig:
    origin: str
    capacity: int = 1 << 30
    policy: str = "s3fifo"
    name: str = "syslab"
    parents: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)  # other nodes purges propagate to
    admin_token: str | None = None
    timeout: float = 10.0
    max_object: int = 64 * 2**20
    disk_path: str | None = None
    disk_capacity: int = 10 << 30
    prefetch_depth: int = 0
    access_log: str | None = None  # a file to append one line per request to
    slice_size: int = 1 << 20  # objects above this are stored in slices (0: never)
    health_interval: float = 0.25


@dataclass(slots=True)
class Fetched:
    """What one upstream fetch produced, shared by every request that waited for it."""

    response: UpstreamResponse | None = None
    stored: StoredResponse | None = None
    error: UpstreamError | None = None
    why_not_stored: str = ""


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.name = config.name
        self.store = MemoryStore(config.capacity, config.policy)
        self.metrics = Metrics()
        self.upstream = Upstream(
            config.origin, config.parents, config.timeout, config.health_interval
        )
        self.inflight: dict[str, asyncio.Future[Fetched]] = {}
        self.refreshing: set[str] = set()
        self.disk = None
        self.prefetcher = None
        self.background: set[asyncio.Task] = set()
        self.prefetch_slots = asyncio.Semaphore(16)
        self.slicer = Slicer(self, config.slice_size) if config.slice_size > 0 else None
        self.siblings: list[str] = []  # internal URLs of this node's other worker processes
        self.connections: set = set()  # open client connections (for their timeouts)
        self.access_log: TextIO | None = None
        from syslab.cdn.admin import Admin  # the admin API needs the node; keep imports one-way

        self.admin = Admin(self)

    async def start(self) -> None:
        await self.upstream.start()
        if self.config.access_log:
            # buffered: flushed once a second by the server's housekeeping, and at close
            self.access_log = open(self.config.access_log, "a", buffering=1 << 16)  # noqa: SIM115
        if self.config.disk_path:
            from syslab.cdn.disk_tier import DiskTier

            self.disk = DiskTier(
                self.config.disk_path, self.config.disk_capacity, self.config.policy
            )
        if self.config.prefetch_depth:
            from syslab.cdn.hls import Prefetcher

            self.prefetcher = Prefetcher(depth=self.config.prefetch_depth)

    async def close(self) -> None:
        for task in list(self.background):
            task.cancel()
        await self.upstream.close()
        if self.disk is not None:
            self.disk.close()
        if self.access_log is not None:
            self.access_log.close()

    # ------------------------------------------------------------ connection interface

    def observe(self, request: Request, response: bytes, peer: str) -> None:
        counts = self.metrics.counts
        counts["requests"] += 1
        counts["bytes_out"] += len(response)
        seconds = time.perf_counter() - request.started
        self.metrics.observe(seconds)
        if self.access_log is not None:
            self.access_log.write(access_line(request, response, peer, seconds))

    def _hit_fields(self, obj: StoredResponse, age: float) -> bytes:
        ttl = int(obj.lifetime - age)
        return f"Age: {int(age)}\r\nCache-Status: {self.name}; hit; ttl={ttl}\r\n".encode()

    def respond_now(self, request: Request) -> bytes | None:
        """A response from the store alone, or None when upstream must be asked."""
        method = request.method
        if method != "GET" and method != "HEAD":
            return None
        url = request.target
        entry = self.store.entry(url)
        if entry is None:
            return None
        vary, variants = entry
        obj = variants.get(http.variant_key(vary, request.headers) if vary else ())
        if obj is None or obj.sliced:
            return None
        now = time.time()
        age = obj.clock.current_age(now)
        if request.plain and age < obj.lifetime and not obj.always_revalidate:
            # The common case, kept short: a fresh hit with no conditions attached.
            self.store.touch(obj)
            self.metrics.counts["hits"] += 1
            if self.prefetcher is not None:
                self.prefetch_after(obj)
            if request.http10 or not request.keep_alive:
                extra = self._hit_fields(obj, age) + _connection_field(request).encode()
            elif obj.hit_age == (second := int(age)):
                extra = obj.hit_fields  # Age and ttl change once a second: format them once
            else:
                extra = obj.hit_fields = self._hit_fields(obj, age)
                obj.hit_age = second
            if method == "HEAD":
                return obj.head + extra + b"\r\n"
            return b"".join((obj.head, extra, b"\r\n", obj.body))
        if url.startswith(ADMIN_PREFIX):
            return None
        decision = http.decide(age, obj.lifetime, obj.cc, request.headers)
        if decision.action != "fresh":
            return None
        self.store.touch(obj)
        self.metrics.counts["hits"] += 1
        member = http.cache_status(self.name, hit=True, ttl=int(obj.lifetime - age))
        return self.from_store(obj, request, age, member)

    async def handle(self, request: Request) -> bytes:
        """Everything `respond_now` could not answer."""
        try:
            if request.target.startswith(ADMIN_PREFIX) or request.method == "PURGE":
                return await self.admin.handle(request)
            if request.method not in ("GET", "HEAD"):
                return await self.pass_through(request)
            return await self.lookup(request)
        except asyncio.CancelledError:
            raise
        except UpstreamError as e:
            return error_response(e.status, e.detail, close=not request.keep_alive)

    # ------------------------------------------------------------ cache logic

    async def lookup(self, request: Request) -> bytes:
        url = request.target
        vary = self.store.vary(url)
        obj = None
        if vary is not None:
            obj = self.store.peek(url, http.variant_key(vary, request.headers) if vary else ())
        if obj is None and self.disk is not None:  # the second tier: evicted, or restarted
            found = await self.disk.load(url, request.headers)
            if found is not None:
                obj, disk_vary = found
                self.store.put(obj, disk_vary)
        if obj is None:
            fwd = "vary-miss" if vary else "uri-miss"
            if "only-if-cached" in request.headers.cache_control():
                return self.simple(504, "not cached (only-if-cached)", request, fwd)
            if self.slicer is not None and "range" in request.headers and request.method == "GET":
                head = await self.slicer.range_miss(request)
                if head is not None:  # a large object: fetch only the slices asked for
                    self.metrics.counts["misses"] += 1
                    member = http.cache_status(self.name, fwd=fwd, fwd_status=206, stored=True)
                    return await self.answer(head, request, 0.0, member)
            return await self.miss(request, fwd)
        now = time.time()
        age = obj.clock.current_age(now)
        decision = http.decide(age, obj.lifetime, obj.cc, request.headers)
        if decision.action == "fresh":
            self.store.touch(obj)
            self.metrics.counts["hits"] += 1
            member = http.cache_status(self.name, hit=True, ttl=int(obj.lifetime - age))
            return await self.answer(obj, request, age, member)
        if decision.action == "stale":
            self.store.touch(obj)
            self.metrics.counts["stale_hits"] += 1
            self.refresh_in_background(request, obj)
            member = http.cache_status(
                self.name, hit=True, ttl=int(obj.lifetime - age), detail="stale-while-revalidate"
            )
            return await self.answer(obj, request, age, member)
        if "only-if-cached" in request.headers.cache_control():  # §5.2.1.7: stored, or 504
            return self.simple(504, "not fresh (only-if-cached)", request, "stale")
        return await self.revalidate(request, obj, decision.detail)

    async def miss(self, request: Request, fwd: str) -> bytes:
        self.metrics.counts["misses"] += 1
        url = request.target
        leader = url not in self.inflight
        fetched = await self.shared_fetch(request, None)
        if not leader:
            self.metrics.counts["coalesced"] += 1
            obj = fetched.stored
            if obj is None or obj.dead or obj.variant != self._variant_of(obj, request):
                # the shared answer was not stored (or is another variant): fetch our own
                fetched = await self.fetch(request, None)
            else:
                member = http.cache_status(self.name, fwd=fwd, collapsed=True)
                return self.from_store(obj, request, 0.0, member)
        return self.from_fetch(fetched, request, fwd)

    async def revalidate(self, request: Request, obj: StoredResponse, why: str) -> bytes:
        fwd = "request" if why.startswith("request") else "stale"
        leader = request.target not in self.inflight
        fetched = await self.shared_fetch(request, obj)
        now = time.time()
        if fetched.error is not None or (
            fetched.response is not None and fetched.response.status >= 500
        ):
            age = obj.clock.current_age(now)
            if not obj.dead and http.may_serve_stale_on_error(
                age, obj.lifetime, obj.cc, request.headers
            ):
                self.metrics.counts["stale_hits"] += 1
                status = fetched.error.status if fetched.error else fetched.response.status  # type: ignore[union-attr]
                member = http.cache_status(
                    self.name,
                    fwd=fwd,
                    fwd_status=status,
                    ttl=int(obj.lifetime - age),
                    detail="stale-if-error",
                )
                return await self.answer(obj, request, age, member)
        shared = fetched.stored
        if (
            not leader
            and fetched.response is not None
            and fetched.response.status < 500
            and (
                shared is None or shared.dead or shared.variant != self._variant_of(shared, request)
            )
        ):
            # we joined another request's revalidation, whose answer was not stored (it may be
            # private) or is another variant (§4.1): neither is ours to reuse — ask for our own
            fetched = await self.fetch(request, None if obj.dead else obj)
            return self.from_fetch(fetched, request, fwd)
        if shared is not None and fetched.response is not None and fetched.response.status == 304:
            self.metrics.counts["revalidated"] += 1
            age = shared.clock.current_age(now)
            member = http.cache_status(
                self.name, fwd=fwd, fwd_status=304, ttl=int(shared.lifetime - age)
            )
            return await self.answer(shared, request, age, member)
        return self.from_fetch(fetched, request, fwd, own=leader)

    async def answer(self, obj: StoredResponse, request: Request, age: float, member: str) -> bytes:
        """`from_store`, for sliced objects too (which may need slices fetched first)."""
        if obj.sliced and self.slicer is not None:
            try:
                return await self.slicer.serve(obj, request, age, member)
            except UpstreamError as e:
                return self.simple(e.status, e.detail, request, "miss")
        return self.from_store(obj, request, age, member)

    def store_fetched(self, url: str, response: UpstreamResponse) -> StoredResponse:
        """Store a whole 200 fetched for `url`; the response as an object to answer from."""
        request = Request("GET", url, Headers(), b"", False, True, 0.0, True)
        whole, _why = self._store(request, response)
        if whole is not None:
            return whole
        return self.make(
            url,
            (),
            response.status,
            http.end_to_end(response.headers),
            response.body,
            response.request_time,
            response.response_time,
        )

    def refresh_in_background(self, request: Request, obj: StoredResponse) -> None:
        """stale-while-revalidate: one background revalidation per URL at a time."""
        if request.target in self.refreshing or request.target in self.inflight:
            return
        self.refreshing.add(request.target)

        async def refresh() -> None:
            try:
                await self.shared_fetch(request, obj)
            finally:
                self.refreshing.discard(request.target)

        self.spawn(refresh())

    def shared_fetch(
        self, request: Request, stored: StoredResponse | None
    ) -> asyncio.Future[Fetched]:
        """Request coalescing: concurrent misses for one URL share one upstream fetch.

        The fetch runs as its own task so that a client who disconnects does not cancel it
        for the others (and a completed fetch still fills the cache).
        """
        url = request.target
        future = self.inflight.get(url)
        if future is None:
            future = asyncio.ensure_future(self.fetch(request, stored))
            self.inflight[url] = future
            future.add_done_callback(lambda _f: self.inflight.pop(url, None))
        return asyncio.shield(future)

    async def fetch(self, request: Request, stored: StoredResponse | None) -> Fetched:
        """Fetch `request.target` upstream (conditionally if `stored`) and store the result."""
        headers = [
            (k, v)
            for k, v in http.end_to_end(request.headers).items
            if k.lower() not in _NOT_FORWARDED
        ]
        headers.append(("Via", f"1.1 {self.name}"))
        if stored is not None:
            headers += http.conditional_headers(stored.headers)
        counts = self.metrics.counts
        counts["origin_fetches"] += 1
        try:
            response = await self.upstream.fetch("GET", request.target, headers)
        except UpstreamError as e:
            counts["origin_errors"] += 1
            return Fetched(error=e)
        counts["bytes_in"] += len(response.body)
        if response.status >= 500:
            counts["origin_errors"] += 1
        if stored is not None and response.status == 304:
            refreshed = self._refresh(stored, response, request)
            if refreshed is None:  # the 304 selected nothing we can serve (§4.3.4): a client
                return await self.fetch(request, None)  # must not get it — ask again, plainly
            return Fetched(response, refreshed)
        obj, why = self._store(request, response)
        return Fetched(response, obj, why_not_stored=why)

    def _store(
        self, request: Request, response: UpstreamResponse
    ) -> tuple[StoredResponse | None, str]:
        headers = http.end_to_end(response.headers)
        ok, why = http.storable("GET", response.status, request.headers, headers)
        if not ok:
            if response.status < 500:  # an uncacheable answer replaces the old one; an error
                # does not: the stored response may still be served stale (§4.3.3, RFC 5861 §4)
                self.store.remove_url(request.target)
            return None, why
        if len(response.body) > self.config.max_object:
            return None, "too-large"
        headers = http.strip_private(headers)
        if "date" not in headers:  # RFC 9110 §6.6.1: a cache must add Date when missing
            headers.append("Date", http.http_date(response.response_time))
        vary = http.vary_fields(headers) or ()
        obj = self.make(
            request.target,
            http.variant_key(vary, request.headers),
            response.status,
            headers,
            response.body,
            response.request_time,
            response.response_time,
        )
        if (
            self.slicer is not None
            and not vary
            and obj.status == 200
            and len(obj.body) > self.slicer.size
        ):
            # stored as head + slices; this request (and its waiters) use the whole body
            if self.slicer.store_whole(obj) is None:
                return None, "not-admitted"
            self.metrics.counts["stored"] += 1
            return obj, ""
        if not self.store.put(obj, vary):
            return None, "not-admitted"
        self.metrics.counts["stored"] += 1
        if self.disk is not None:
            self._save(obj, vary)
        return obj, ""

    def _refresh(
        self, stored: StoredResponse, response: UpstreamResponse, request: Request
    ) -> StoredResponse | None:
        """§4.3.4: a 304 freshens the stored response's fields and its clock."""
        if not http.validators_match(stored.headers, response.headers):
            self.store.remove_url(stored.url)
            return None
        headers = http.update_from_304(stored.headers, response.headers)
        obj = self.make(
            stored.url,
            stored.variant,
            stored.status,
            headers,
            stored.body,
            response.request_time,
            response.response_time,
        )
        if stored.sliced and self.slicer is not None:
            obj = self.slicer._head_like(obj, stored.sliced)  # the slices stay valid (same ETag)
        vary = self.store.vary(stored.url) or ()
        if not self.store.put(obj, vary):
            return None
        if self.disk is not None:
            self._save(obj, vary)
        return obj

    def _save(self, obj: StoredResponse, vary: tuple[str, ...]) -> None:
        if vary:
            self.disk.save_variant(obj, vary)  # type: ignore[union-attr]
        else:
            self.disk.save(obj)  # type: ignore[union-attr]

    def make(
        self,
        url: str,
        variant: tuple[str, ...],
        status: int,
        headers: Headers,
        body: bytes,
        request_time: float,
        response_time: float,
    ) -> StoredResponse:
        tags: list[str] = []
        for name, sep in TAG_FIELDS:
            for value in headers.get_all(name):
                tags += [t.strip() for t in value.split(sep) if t.strip()]
        return StoredResponse(
            url=url,
            variant=variant,
            status=status,
            headers=headers.without(("age",)) if "age" in headers else headers,
            body=body,
            clock=http.AgeClock.at_arrival(headers, request_time, response_time),
            lifetime=http.freshness_lifetime(status, headers),
            cc=headers.cache_control(),
            tags=tuple(tags),
        )

    def _variant_of(self, obj: StoredResponse, request: Request) -> tuple[str, ...]:
        vary = self.store.vary(obj.url) or ()
        return http.variant_key(vary, request.headers) if vary else ()

    async def pass_through(self, request: Request) -> bytes:
        """Unsafe methods go upstream untouched; a success invalidates what they changed (§4.4)."""
        self.metrics.counts["passes"] += 1
        headers = [
            (k, v)
            for k, v in http.end_to_end(request.headers).items
            if k.lower() not in ("host", "content-length")
        ]
        headers.append(("Via", f"1.1 {self.name}"))
        self.metrics.counts["origin_fetches"] += 1
        response = await self.upstream.fetch(request.method, request.target, headers, request.body)
        for uri in http.invalidated_uris(
            request.method, response.status, request.target, response.headers
        ):
            self.purge_local(urls=[uri])
        member = http.cache_status(self.name, fwd="request", fwd_status=response.status)
        return self.build(
            response.status, http.end_to_end(response.headers), response.body, request, member
        )

    # ------------------------------------------------------------ building responses

    def from_fetch(self, fetched: Fetched, request: Request, fwd: str, own: bool = True) -> bytes:
        """The answer to `request` from an upstream fetch (`own`: made for this very request)."""
        if fetched.error is not None:
            return self.simple(fetched.error.status, fetched.error.detail, request, fwd)
        response = fetched.response
        assert response is not None
        stored = fetched.stored is not None and not fetched.stored.dead
        # §5.2.2.7 / §5.2.2.4: fields named by private="…" or no-cache="…" are kept out of the
        # store, not from the client the response is for: that client gets it as received
        cc = response.headers.cache_control()
        withheld = own and response.status != 304 and (cc.get("private") or cc.get("no-cache"))
        if stored and not withheld:
            member = http.cache_status(self.name, fwd=fwd, fwd_status=response.status, stored=True)
            return self.from_store(
                fetched.stored, request, fetched.stored.clock.current_age(time.time()), member
            )
        detail = fetched.why_not_stored or None
        member = http.cache_status(
            self.name, fwd=fwd, fwd_status=response.status, stored=stored, detail=detail
        )
        headers = http.end_to_end(response.headers)
        return self.build(response.status, headers, response.body, request, member)

    def from_store(self, obj: StoredResponse, request: Request, age: float, member: str) -> bytes:
        """A stored response answered for this request: HEAD, 304, ranges (RFC 9110 §13–14)."""
        if self.prefetcher is not None:
            self.prefetch_after(obj)
        headers = obj.headers
        rh = request.headers
        if obj.status == 200 and (
            http.if_none_match_hit(rh, headers) or http.not_modified_since(rh, headers)
        ):
            keep = (
                "cache-control",
                "content-location",
                "date",
                "etag",
                "expires",
                "vary",
                "cache-status",
            )
            kept = Headers((k, v) for k, v in headers.items if k.lower() in keep)
            return self.build(304, kept, b"", request, member, age=age)
        ranges = None
        if (
            obj.status == 200
            and "range" in rh
            and request.method == "GET"
            and self._if_range_ok(rh, headers)
        ):
            ranges = http.parse_range(rh.get("range"), len(obj.body))
        if ranges == []:
            kept = Headers([("Content-Range", f"bytes */{len(obj.body)}")])
            return self.build(416, kept, b"", request, member, age=age)
        if ranges:
            return self._partial(obj, ranges, request, member, age)
        extra = f"Age: {int(age)}\r\nCache-Status: {member}\r\n" + _connection_field(request)
        if request.method == "HEAD":
            return obj.head + extra.encode() + b"\r\n"
        return b"".join((obj.head, extra.encode(), b"\r\n", obj.body))

    @staticmethod
    def _if_range_ok(rh: Headers, stored: Headers) -> bool:
        """RFC 9110 §13.1.5: a Range with a non-matching If-Range gets the whole object."""
        if_range = rh.get("if-range")
        if if_range is None:
            return True
        if if_range.startswith('"'):  # strong ETag comparison
            return if_range == stored.get("etag")
        return if_range == stored.get("last-modified")

    def _partial(
        self,
        obj: StoredResponse,
        ranges: list[tuple[int, int]],
        request: Request,
        member: str,
        age: float,
    ) -> bytes:
        body = obj.body
        return self.partial(
            obj.headers, len(body), lambda a, b: body[a : b + 1], ranges, request, member, age
        )

    def partial(
        self,
        headers: Headers,
        total: int,
        read: Callable[[int, int], bytes],
        ranges: list[tuple[int, int]],
        request: Request,
        member: str,
        age: float,
    ) -> bytes:
        """A 206 for `ranges` of a `total`-byte representation; `read(first, last)` gives bytes."""
        base = headers.without(
            ("content-range", "content-type") if len(ranges) > 1 else ("content-range",)
        )
        if len(ranges) == 1:
            first, last = ranges[0]
            base.append("Content-Range", f"bytes {first}-{last}/{total}")
            return self.build(206, base, read(first, last), request, member, age=age)
        boundary = f"syslab-{id(headers):x}-{int(time.time() * 1e6):x}"
        ctype = headers.get("content-type")
        parts = []
        for first, last in ranges:
            part = f"--{boundary}\r\n" + (f"Content-Type: {ctype}\r\n" if ctype else "")
            part += f"Content-Range: bytes {first}-{last}/{total}\r\n\r\n"
            parts += [part.encode(), read(first, last), b"\r\n"]
        parts.append(f"--{boundary}--\r\n".encode())
        base.append("Content-Type", f"multipart/byteranges; boundary={boundary}")
        return self.build(206, base, b"".join(parts), request, member, age=age)

    def build(
        self,
        status: int,
        headers: Headers,
        body: bytes,
        request: Request,
        member: str,
        age: float | None = None,
    ) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason(status)}"]
        lines += [
            f"{k}: {v}"
            for k, v in headers.items
            if k.lower()
            not in ("content-length", "transfer-encoding", "age", "connection", "keep-alive")
        ]
        if age is not None:
            lines.append(f"Age: {int(age)}")
        lines.append(f"Cache-Status: {member}")
        if status not in (204, 304) and not 100 <= status < 200:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n" + _connection_field(request) + "\r\n").encode("latin-1")
        if request.method == "HEAD" or status in (204, 304):
            return head
        return head + body

    def simple(self, status: int, text: str, request: Request, fwd: str) -> bytes:
        # RFC 9211 detail: a short token, not the whole message (that is the body)
        detail = {502: "upstream-error", 504: "upstream-timeout"}.get(status, "not-cached")
        member = http.cache_status(self.name, fwd=fwd, detail=detail)
        headers = Headers([("Content-Type", "text/plain"), ("Cache-Control", "no-store")])
        return self.build(status, headers, (text + "\n").encode(), request, member)

    # ------------------------------------------------------------ purge, push, tasks

    def purge_local(
        self, urls: list[str] = (), tags: list[str] = (), prefixes: list[str] = ()
    ) -> int:  # type: ignore[assignment]
        removed = 0
        for url in urls:
            removed += self.store.remove_url(url)
        if self.disk is not None and urls:
            self.disk.remove(list(urls))  # with their variants and slices
        for tag in tags:
            removed += self.store.remove_tag(tag)
        for prefix in prefixes:
            removed += self.store.remove_prefix(prefix)
            if self.disk is not None:
                self.disk.remove_prefix(prefix)
        if self.disk is not None and tags:
            self.disk.remove_tags(tags)
        self.metrics.counts["purged"] += removed
        return removed

    async def warm(self, url: str) -> dict:
        """Fetch `url` into the cache unless a fresh copy is there (push and prefetch)."""
        request = Request("GET", url, Headers(), b"", False, True, time.perf_counter(), True)
        if self.store.vary(url) == ():
            obj = self.store.peek(url)
            if obj is not None and obj.clock.current_age(time.time()) < obj.lifetime:
                return {"status": obj.status, "stored": True, "fetched": False}
        fetched = await self.shared_fetch(request, None)
        if fetched.error is not None:
            return {"status": fetched.error.status, "stored": False, "error": fetched.error.detail}
        assert fetched.response is not None
        return {
            "status": fetched.response.status,
            "stored": fetched.stored is not None,
            "fetched": True,
        }

    def prefetch_after(self, obj: StoredResponse) -> None:
        """Manifest-aware prefetch: fetch the segments a viewer of `obj` will ask for next."""
        urls = self.prefetcher.on_response(obj.url, obj.headers.get("content-type"), obj.body)  # type: ignore[union-attr]
        for url in urls:
            # paths only: a manifest may name other hosts, which are not ours to fetch
            if len(self.background) >= MAX_BACKGROUND:
                break  # prefetch is a bet; under a burst, don't queue it without bound
            if url.startswith("/") and self.store.vary(url) is None and url not in self.inflight:
                self.metrics.counts["prefetches"] += 1
                self.spawn(self._prefetch(url))

    async def _prefetch(self, url: str) -> None:
        async with self.prefetch_slots:  # bounded: prefetch must not starve real misses
            await self.warm(url)

    def spawn(self, coro) -> asyncio.Task:  # type: ignore[no-untyped-def]
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task


def access_line(request: Request, response: bytes, peer: str, seconds: float) -> str:
    """One access-log line: the Common Log Format, then Cache-Status and the time taken."""
    status = response[9:12].decode("ascii", "replace")
    head_end = response.find(b"\r\n\r\n")
    at = response.find(b"\r\nCache-Status: ", 0, head_end)
    cache = ""
    if at >= 0:
        end = response.find(b"\r\n", at + 2)
        cache = response[at + 16 : end].decode("latin-1")
    when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    version = "HTTP/1.0" if request.http10 else "HTTP/1.1"
    target = request.target.replace('"', "%22")  # keep the quoted field parseable
    return (
        f'{peer} - - [{when}] "{request.method} {target} {version}" {status} '
        f'{len(response) - head_end - 4 if head_end >= 0 else 0} "{cache}" {seconds * 1e3:.2f}\n'
    )


def _connection_field(request: Request) -> str:
    if not request.keep_alive:
        return "Connection: close\r\n"
    if request.http10:
        return "Connection: keep-alive\r\n"
    return ""
