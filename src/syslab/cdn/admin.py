"""The admin API under /.syslab/: purge, invalidate by tag or prefix, push, stats, metrics.

Every call but /.syslab/health needs `Authorization: Bearer <token>`. Worker processes share
nothing, so a call that changes or reads the cache fans out to the node's other workers
(`X-Syslab-Scope: local` stops it there); a purge also travels to parents and peers, and
its id makes each node apply it once however many paths reach it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING

import aiohttp

from syslab.cdn import rfc9111 as http
from syslab.cdn.http1 import Request
from syslab.cdn.metrics import Metrics, prometheus_text

if TYPE_CHECKING:
    from syslab.cdn.node import Node

SCOPE = "X-Syslab-Scope"  # local: this worker; node: all workers; cdn (default): all tiers
RECENT_PURGES = 4096
FANOUT_TIMEOUT = 2.0


class Admin:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.seen: OrderedDict[str, None] = OrderedDict()

    async def handle(self, request: Request) -> bytes:
        node = self.node
        path = request.target.split("?", 1)[0]
        if path == "/.syslab/health" and request.method in ("GET", "HEAD"):
            return self._json(200, {"status": "ok", "name": node.name}, request)
        token = node.config.admin_token
        if not token:
            return self._json(
                403, {"error": "admin API disabled: start with --admin-token"}, request
            )
        # RFC 6750: the "Bearer" scheme (any case) is required; a bare token is refused
        scheme, _, given = (request.headers.get("authorization") or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return self._json(
                401,
                {"error": "missing or wrong admin token"},
                request,
                extra=[("WWW-Authenticate", 'Bearer realm="syslab"')],
            )
        try:
            if request.method == "PURGE":
                return await self._purge({"urls": [request.target]}, request)
            body = json.loads(request.body or b"{}") if request.method == "POST" else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            route = {
                ("POST", "/.syslab/purge"): self._purge,
                ("POST", "/.syslab/push"): self._push,
                ("GET", "/.syslab/stats"): self._stats,
                ("GET", "/.syslab/metrics"): self._metrics,
                ("GET", "/.syslab/snapshot"): self._snapshot,
            }.get((request.method, path))
            if route is None:
                return self._json(
                    404, {"error": f"no admin endpoint {request.method} {path}"}, request
                )
            return await route(body, request)
        except (ValueError, TypeError) as e:
            return self._json(400, {"error": f"bad admin request: {e}"}, request)

    # -- endpoints

    async def _purge(self, body: dict, request: Request) -> bytes:
        urls = _strings(body, "urls")
        tags = _strings(body, "tags")
        prefixes = _strings(body, "prefixes")
        purge_id = str(body.get("id") or uuid.uuid4())
        scope = (request.headers.get(SCOPE) or "cdn").lower()
        if purge_id in self.seen and scope != "local":
            return self._json(200, {"id": purge_id, "removed": 0, "duplicate": True}, request)
        self._remember(purge_id)
        removed = self.node.purge_local(urls, tags, prefixes)
        message = {"id": purge_id, "urls": urls, "tags": tags, "prefixes": prefixes}
        failed: list[str] = []
        if scope != "local":
            results = await self._fanout(
                "POST", "/.syslab/purge", message, self.node.siblings, "local"
            )
            removed += sum(r.get("removed", 0) for r in results.values() if isinstance(r, dict))
            failed += [u for u, r in results.items() if not isinstance(r, dict)]
        if scope == "cdn":
            others = self.node.config.parents + self.node.config.peers
            results = await self._fanout("POST", "/.syslab/purge", message, others, "cdn")
            failed += [u for u, r in results.items() if not isinstance(r, dict)]
        status = 200 if not failed else 207
        return self._json(
            status, {"id": purge_id, "removed": removed, "unreachable": failed}, request
        )

    async def _push(self, body: dict, request: Request) -> bytes:
        """Warm the cache with a list of URLs (paths), on every worker of this node."""
        urls = _strings(body, "urls")
        if any(not u.startswith("/") for u in urls):
            raise ValueError("push URLs must be paths starting with /")
        results = await asyncio.gather(*(self.node.warm(u) for u in urls))
        report = dict(zip(urls, results, strict=True))
        if (request.headers.get(SCOPE) or "").lower() != "local":
            await self._fanout("POST", "/.syslab/push", {"urls": urls}, self.node.siblings, "local")
        return self._json(200, {"pushed": report}, request)

    def _local_snapshot(self) -> dict:
        node = self.node
        return {
            "metrics": node.metrics.snapshot(),
            "objects": len(node.store),
            "bytes": node.store.used,
            "capacity": node.store.capacity,
            "evictions": node.store.evictions,
            "disk": node.disk.stats() if node.disk is not None else None,
            "parents": {p: node.upstream.health.is_up(p) for p in node.upstream.parents},
        }

    async def _snapshot(self, body: dict, request: Request) -> bytes:
        return self._json(200, self._local_snapshot(), request)

    async def _gather(self) -> list[dict]:
        snaps = [self._local_snapshot()]
        results = await self._fanout("GET", "/.syslab/snapshot", None, self.node.siblings, "local")
        snaps += [r for r in results.values() if isinstance(r, dict)]
        return snaps

    async def _stats(self, body: dict, request: Request) -> bytes:
        snaps = await self._gather()
        merged = Metrics.merge([s["metrics"] for s in snaps])
        counts = merged["counts"]
        served = counts["hits"] + counts["stale_hits"] + counts["misses"]
        stats = {
            "name": self.node.name,
            "workers": len(snaps),
            "policy": self.node.config.policy,
            "objects": sum(s["objects"] for s in snaps),
            "bytes": sum(s["bytes"] for s in snaps),
            "capacity": sum(s["capacity"] for s in snaps),
            "evictions": sum(s["evictions"] for s in snaps),
            "hit_ratio": (counts["hits"] + counts["stale_hits"]) / served if served else None,
            "counts": counts,
            "parents": snaps[0]["parents"],
            "disk": [s["disk"] for s in snaps if s["disk"]],
        }
        return self._json(200, stats, request)

    async def _metrics(self, body: dict, request: Request) -> bytes:
        snaps = await self._gather()
        gauges = {
            "objects": (sum(s["objects"] for s in snaps), "objects in the memory tier"),
            "bytes": (sum(s["bytes"] for s in snaps), "bytes in the memory tier"),
            "capacity_bytes": (sum(s["capacity"] for s in snaps), "memory tier capacity"),
            "workers": (len(snaps), "worker processes answering"),
        }
        text = prometheus_text(Metrics.merge([s["metrics"] for s in snaps]), gauges)
        headers = http.Headers(
            [("Content-Type", "text/plain; version=0.0.4"), ("Cache-Control", "no-store")]
        )
        return self.node.build(
            200, headers, text.encode(), request, f"{self.node.name}; fwd=bypass"
        )

    # -- helpers

    async def _fanout(
        self, method: str, path: str, message: dict | None, bases: list[str], scope: str
    ) -> dict[str, object]:
        """Send one admin call to other workers or nodes; {base: JSON reply or error text}."""
        session = self.node.upstream.session
        if not bases or session is None:
            return {}
        headers = {"Authorization": f"Bearer {self.node.config.admin_token}", SCOPE: scope}

        async def one(base: str) -> object:
            try:
                async with session.request(
                    method,
                    base.rstrip("/") + path,
                    json=message,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=FANOUT_TIMEOUT),
                ) as r:
                    return await r.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as e:
                return f"{type(e).__name__}"

        replies = await asyncio.gather(*(one(b) for b in bases))
        return dict(zip(bases, replies, strict=True))

    def _remember(self, purge_id: str) -> None:
        self.seen[purge_id] = None
        while len(self.seen) > RECENT_PURGES:
            self.seen.popitem(last=False)

    def _json(
        self,
        status: int,
        payload: object,
        request: Request,
        extra: list[tuple[str, str]] | None = None,
    ) -> bytes:
        headers = http.Headers(
            [("Content-Type", "application/json"), ("Cache-Control", "no-store"), *(extra or [])]
        )
        body = json.dumps(payload, indent=1).encode()
        return self.node.build(status, headers, body, request, f"{self.node.name}; fwd=bypass")


def _strings(body: dict, key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key!r} must be a list of strings")
    return value
