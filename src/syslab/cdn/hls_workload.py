"""Synthetic HLS VOD workloads and a model of manifest-aware prefetch.

- `VodCatalog` / `make_vod`: a static HLS tree (master, media playlists, segment files with
  deterministic content) that nginx or any static server can serve, or served from memory.
- `viewers`: a deterministic request schedule of sequential viewers (Zipf popularity across
  videos, spread arrivals, real-time pacing, early abandonment).
- `simulate_prefetch`: replays a schedule against a cache filled by misses and by
  `Prefetcher` prefetches that complete `fetch_delay` seconds after being issued; gives the
  model-level first-byte hit ratio before the real proxy is measured.

URL layout (paths, optionally prefixed with `base_url`)::

    /v0000/master.m3u8
    /v0000/720p/index.m3u8
    /v0000/720p/seg00000.ts
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from syslab.cdn.hls import Prefetcher, is_manifest

__all__ = [
    "LADDER",
    "Request",
    "VodCatalog",
    "make_vod",
    "simulate_prefetch",
    "viewers",
]

# name, BANDWIDTH, RESOLUTION: a common ABR ladder; `renditions=n` takes the first n.
LADDER: tuple[tuple[str, int, tuple[int, int]], ...] = (
    ("240p", 400_000, (426, 240)),
    ("360p", 800_000, (640, 360)),
    ("480p", 1_400_000, (854, 480)),
    ("720p", 2_800_000, (1280, 720)),
    ("1080p", 5_000_000, (1920, 1080)),
    ("1440p", 9_000_000, (2560, 1440)),
    ("2160p", 16_000_000, (3840, 2160)),
)

_PATH_RE = re.compile(r"^/v(\d+)/(?:(master)\.m3u8|([^/]+)/(?:(index)\.m3u8|seg(\d+)\.ts))$")


class Request(NamedTuple):
    time: float  # seconds since the start of the schedule
    viewer: int
    url: str


@dataclass(frozen=True)
class VodCatalog:
    """A set of VOD titles, each with the same renditions and segment count."""

    n_videos: int
    n_segments: int
    renditions: tuple[str, ...]
    segment_bytes: tuple[int, ...]  # per rendition
    segment_duration: float = 4.0
    base_url: str = ""  # e.g. "http://127.0.0.1:8080"; "" gives bare paths

    @classmethod
    def create(
        cls,
        n_videos: int,
        n_segments: int,
        renditions: int | Sequence[str] = 3,
        segment_bytes: int | Sequence[int] = 64 * 1024,
        segment_duration: float = 4.0,
        base_url: str = "",
    ) -> VodCatalog:
        names = (
            tuple(r[0] for r in LADDER[:renditions])
            if isinstance(renditions, int)
            else tuple(renditions)
        )
        if isinstance(renditions, int) and not 1 <= renditions <= len(LADDER):
            raise ValueError(f"renditions must be 1..{len(LADDER)}, got {renditions}")
        sizes = (
            (segment_bytes,) * len(names)
            if isinstance(segment_bytes, int)
            else tuple(segment_bytes)
        )
        if len(sizes) != len(names):
            raise ValueError("segment_bytes needs one size per rendition")
        if n_videos < 1 or n_segments < 1 or segment_duration <= 0 or min(sizes) < 1:
            raise ValueError("n_videos, n_segments, segment_duration, segment_bytes must be > 0")
        if len(set(names)) != len(names) or any("/" in n or not n for n in names):
            raise ValueError(f"rendition names must be unique path parts: {names}")
        return cls(n_videos, n_segments, names, sizes, segment_duration, base_url.rstrip("/"))

    # ---- URLs ---------------------------------------------------------------------------------

    def master_url(self, video: int) -> str:
        return f"{self.base_url}/v{video:04d}/master.m3u8"

    def playlist_url(self, video: int, rendition: int) -> str:
        return f"{self.base_url}/v{video:04d}/{self.renditions[rendition]}/index.m3u8"

    def segment_url(self, video: int, rendition: int, segment: int) -> str:
        return f"{self.base_url}/v{video:04d}/{self.renditions[rendition]}/seg{segment:05d}.ts"

    # ---- bodies -------------------------------------------------------------------------------

    def master_text(self, video: int) -> str:
        lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
        for i, name in enumerate(self.renditions):
            bw, res = _ladder_info(name, i)
            lines.append(f"#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION={res[0]}x{res[1]}")
            lines.append(f"{name}/index.m3u8")
        return "\n".join(lines) + "\n"

    def playlist_text(self, video: int, rendition: int) -> str:
        d = self.segment_duration
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{math.ceil(d)}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:VOD",
        ]
        for k in range(self.n_segments):
            lines += [f"#EXTINF:{d:.3f},", f"seg{k:05d}.ts"]
        lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def segment_body(self, video: int, rendition: int, segment: int) -> bytes:
        # A readable header, then a per-file pattern: deterministic, distinct per file, cheap.
        head = f"syslab-hls v{video:04d} {self.renditions[rendition]} seg{segment:05d}\n".encode()
        size = self.segment_bytes[rendition]
        pattern = hashlib.blake2b(head, digest_size=64).digest()
        return (head + pattern * (size // 64 + 1))[:size]

    def _locate(self, url: str) -> tuple[str, int, int, int] | None:
        if self.base_url and url.startswith(self.base_url):
            url = url[len(self.base_url) :]
        m = _PATH_RE.match(urlsplit(url).path)
        if m is None:
            return None
        video = int(m.group(1))
        if video >= self.n_videos:
            return None
        if m.group(2):
            return "master", video, -1, -1
        try:
            r = self.renditions.index(m.group(3))
        except ValueError:
            return None
        if m.group(4):
            return "playlist", video, r, -1
        k = int(m.group(5))
        return ("segment", video, r, k) if k < self.n_segments else None

    def fetch(self, url: str) -> bytes | None:
        """The body at `url` (an in-memory origin), or None for a 404."""
        loc = self._locate(url)
        if loc is None:
            return None
        what, v, r, k = loc
        if what == "master":
            return self.master_text(v).encode()
        if what == "playlist":
            return self.playlist_text(v, r).encode()
        return self.segment_body(v, r, k)

    def size(self, url: str) -> int | None:
        """Body size without building segment bodies."""
        loc = self._locate(url)
        if loc is None:
            return None
        if loc[0] == "segment":
            return self.segment_bytes[loc[2]]
        body = self.fetch(url)
        return None if body is None else len(body)

    def write(self, root: Path) -> None:
        """Write the tree under `root` (URL path /v0000/... is root/v0000/...)."""
        root = Path(root)
        for v in range(self.n_videos):
            vdir = root / f"v{v:04d}"
            vdir.mkdir(parents=True, exist_ok=True)
            (vdir / "master.m3u8").write_text(self.master_text(v))
            for r, name in enumerate(self.renditions):
                rdir = vdir / name
                rdir.mkdir(exist_ok=True)
                (rdir / "index.m3u8").write_text(self.playlist_text(v, r))
                for k in range(self.n_segments):
                    (rdir / f"seg{k:05d}.ts").write_bytes(self.segment_body(v, r, k))


def _ladder_info(name: str, i: int) -> tuple[int, tuple[int, int]]:
    for n, bw, res in LADDER:
        if n == name:
            return bw, res
    # Custom names: made-up but increasing bandwidths so players order them sensibly.
    return 500_000 * (i + 1), (320 * (i + 1), 180 * (i + 1))


def make_vod(
    root: Path,
    n_videos: int,
    n_segments: int,
    renditions: int | Sequence[str] = 3,
    segment_bytes: int | Sequence[int] = 64 * 1024,
    *,
    segment_duration: float = 4.0,
) -> VodCatalog:
    """Write a static HLS VOD tree under `root`; returns its catalog (bare-path URLs)."""
    cat = VodCatalog.create(n_videos, n_segments, renditions, segment_bytes, segment_duration)
    cat.write(root)
    return cat


# --------------------------------------------------------------------------------------------
# Viewers


def viewers(
    n_viewers: int,
    catalog: VodCatalog,
    *,
    seed: int = 0,
    zipf_alpha: float = 0.8,
    arrival_window: float = 60.0,
    time_scale: float = 1.0,
    abandon_fraction: float = 0.2,
    startup_gap: float = 0.05,
    burst: int = 0,
) -> Iterator[Request]:
    """Deterministic, time-ordered requests of `n_viewers` sequential viewers.

    Each viewer arrives at a uniform time in `[0, arrival_window)`, picks video `i` with
    probability proportional to 1/(i+1)^zipf_alpha and a rendition uniformly, fetches the
    master, then the rendition playlist `startup_gap` s later, then segments in order: the
    first `burst` back to back (`startup_gap` apart, a player filling its buffer), the rest
    one per `segment_duration * time_scale` s (real-time playback; time_scale < 1 replays
    faster). A fraction `abandon_fraction` of viewers stops after a uniform 1..n-1 segments.
    """
    if n_viewers < 0 or time_scale <= 0 or arrival_window < 0 or startup_gap < 0 or burst < 0:
        raise ValueError("n_viewers, arrival_window, startup_gap, burst >= 0; time_scale > 0")
    rng = random.Random(seed)
    cum: list[float] = []
    acc = 0.0
    for i in range(catalog.n_videos):
        acc += 1.0 / (i + 1) ** zipf_alpha
        cum.append(acc)
    n = catalog.n_segments
    plans = []
    for vid in range(n_viewers):
        arrival = rng.random() * arrival_window
        video = rng.choices(range(catalog.n_videos), cum_weights=cum)[0]
        rend = rng.randrange(len(catalog.renditions))
        watch = rng.randint(1, n - 1) if n > 1 and rng.random() < abandon_fraction else n
        plans.append((arrival, vid, video, rend, watch))
    step = catalog.segment_duration * time_scale
    streams = [
        _viewer(catalog, a, vid, video, rend, watch, step, startup_gap, burst)
        for a, vid, video, rend, watch in plans
    ]
    # Requests are (time, viewer, url) tuples: merging orders by time, ties by viewer.
    return heapq.merge(*streams)


def _viewer(
    cat: VodCatalog,
    arrival: float,
    vid: int,
    video: int,
    rend: int,
    watch: int,
    step: float,
    gap: float,
    burst: int,
) -> Iterator[Request]:
    yield Request(arrival, vid, cat.master_url(video))
    yield Request(arrival + gap, vid, cat.playlist_url(video, rend))
    start = arrival + 2 * gap
    for k in range(watch):
        if k < burst:
            t = start + k * gap
        else:
            t = start + max(0, burst - 1) * gap + (k - max(0, burst - 1)) * step
        yield Request(t, vid, cat.segment_url(video, rend, k))


# --------------------------------------------------------------------------------------------
# Simulation


def _content_type(url: str) -> str:
    path = urlsplit(url).path
    if path.endswith(".m3u8"):
        return "application/vnd.apple.mpegurl"
    if path.endswith(".mpd"):
        return "application/dash+xml"
    return "video/mp2t"


def simulate_prefetch(
    schedule: Iterable[Request | tuple[float, int, str]],
    depth: int,
    fetch_delay: float,
    cache_capacity_bytes: int | None = None,
    *,
    origin: Callable[[str], bytes | None],
    prefetcher_options: dict | None = None,
) -> dict[str, float | int]:
    """Replay `schedule` with and without a `Prefetcher(depth)`; report both.

    Model: one cache (LRU by bytes, unbounded if `cache_capacity_bytes` is None). A request
    for a cached object is a first-byte hit. Otherwise the object is fetched from `origin`
    (None = 404, skipped) and lands in the cache `fetch_delay` s later. A request that finds
    its object still in flight (a prefetch, or another viewer's miss) is coalesced - no
    second origin fetch - but counted as a first-byte miss, since the viewer still waits for
    the origin; these are also reported as `late`. After each served request the
    prefetcher's URLs not cached or in flight are fetched (`fetch_delay` likewise).
    Prefetched bytes never requested before eviction or the end are `wasted_prefetch_bytes`.
    Hit ratios count segment requests only (manifests are not what the viewer waits on).
    """
    events = list(schedule)
    memo: dict[str, tuple[int | None, bytes | None]] = {}

    def get(url: str) -> tuple[int | None, bytes | None]:
        # Size, and the body only for manifests: segment bodies are never needed.
        hit = memo.get(url)
        if hit is None:
            body = origin(url)
            hit = (None, None) if body is None else (len(body), body if _is_man(url) else None)
            memo[url] = hit
        return hit

    def _is_man(url: str) -> bool:
        return is_manifest(url, _content_type(url))

    base = _replay(events, 0, fetch_delay, cache_capacity_bytes, get, None)
    pf = _replay(events, depth, fetch_delay, cache_capacity_bytes, get, prefetcher_options)
    return {
        "depth": depth,
        "fetch_delay": fetch_delay,
        "cache_capacity_bytes": -1 if cache_capacity_bytes is None else cache_capacity_bytes,
        "requests": len(events),
        "segment_requests": pf["segment_requests"],
        "hit_ratio": pf["hit_ratio"],
        "hit_ratio_no_prefetch": base["hit_ratio"],
        "late": pf["late"],
        "late_no_prefetch": base["late"],
        "origin_bytes": pf["origin_bytes"],
        "origin_bytes_no_prefetch": base["origin_bytes"],
        "prefetches": pf["prefetches"],
        "prefetch_bytes": pf["prefetch_bytes"],
        "wasted_prefetch_bytes": pf["wasted_prefetch_bytes"],
        "not_found": pf["not_found"],
    }


def _replay(
    events: list,
    depth: int,
    fetch_delay: float,
    capacity: int | None,
    get: Callable[[str], tuple[int | None, bytes | None]],
    options: dict | None,
) -> dict[str, float | int]:
    pf = Prefetcher(depth, **(options or {})) if depth > 0 else None
    cache: OrderedDict[str, int] = OrderedDict()
    used = 0
    inflight: dict[str, int] = {}  # url -> size
    done: list[tuple[float, int, str]] = []  # (completion time, tiebreak, url)
    unused: dict[str, int] = {}  # prefetched, not yet requested
    seq = 0
    c = dict.fromkeys(["seg", "hits", "late", "origin", "prefetches", "pbytes", "wasted", "nf"], 0)

    def insert(url: str, size: int) -> None:
        nonlocal used
        if capacity is not None and size > capacity:
            c["wasted"] += unused.pop(url, 0)
            return
        cache[url] = size
        used += size
        while capacity is not None and used > capacity:
            old, s = cache.popitem(last=False)
            used -= s
            c["wasted"] += unused.pop(old, 0)

    def complete(now: float) -> None:
        while done and done[0][0] <= now:
            _, _, u = heapq.heappop(done)
            insert(u, inflight.pop(u))

    def start(url: str, size: int, now: float) -> None:
        nonlocal seq
        inflight[url] = size
        c["origin"] += size
        seq += 1
        heapq.heappush(done, (now + fetch_delay, seq, url))

    for t, _viewer, url in events:
        complete(t)
        size, body = get(url)
        if size is None:
            c["nf"] += 1
            continue
        is_seg = body is None
        if url in cache:
            cache.move_to_end(url)
            c["hits"] += is_seg
        elif url in inflight:
            c["late"] += is_seg
        else:
            start(url, size, t)
        c["seg"] += is_seg
        unused.pop(url, None)
        if pf is None:
            continue
        for u in pf.on_response(url, _content_type(url), body, now=t):
            if u in cache or u in inflight:
                continue  # the server dedups against its cache and in-flight fetches
            s, _ = get(u)
            if s is None:
                continue
            start(u, s, t)
            unused[u] = s
            c["prefetches"] += 1
            c["pbytes"] += s
    complete(math.inf)
    c["wasted"] += sum(unused.values())
    return {
        "segment_requests": c["seg"],
        "hit_ratio": c["hits"] / c["seg"] if c["seg"] else 0.0,
        "late": c["late"],
        "origin_bytes": c["origin"],
        "prefetches": c["prefetches"],
        "prefetch_bytes": c["pbytes"],
        "wasted_prefetch_bytes": c["wasted"],
        "not_found": c["nf"],
    }
