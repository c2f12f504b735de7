"""HLS/DASH manifest parsing and manifest-aware segment prefetch, free of I/O.

Video players fetch a manifest, then its segments one after another at playback pace. A
caching node that has seen the manifest knows which URL comes next, so it can fetch the next
few segments from the origin before the viewer asks and serve them as first-byte hits.

`Prefetcher` is a plain object: the server calls `on_response` for every response it serves
and fetches whatever URLs come back (skipping those it has cached or in flight). It never
raises on a bad origin body, and its memory is bounded (`max_playlists`, `max_segments`,
`max_recent`).

Server integration::

    pf = Prefetcher(depth=3)
    ...  # after serving `url` (hit or miss):
    body = cached_body if pf.wants_body(url, content_type) else None
    for u in pf.on_response(url, content_type, body):
        if u not in cache and u not in in_flight and same_origin(u):
            spawn(fetch_into_cache(u))  # low priority, bounded concurrency

URLs come back in the form the manifest URL was given in: pass request paths (``/v1/a.m3u8``)
and get paths back, pass absolute URLs and get absolute URLs (or the manifest's own absolute
URIs, which may name another host). Segment URLs are matched exactly, query string included.
A manifest already learned may be passed with `body=None` (a hit whose body the server would
rather not read); a changed manifest needs its body to be re-learned, so pass it on misses
and revalidations. Do not feed the prefetch responses themselves back in: a prefetched
playlist would then trigger prefetches of its own.
"""

from __future__ import annotations

import math
import re
import time
import xml.etree.ElementTree as ET
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

__all__ = [
    "DashManifest",
    "DashRepresentation",
    "MasterPlaylist",
    "MediaPlaylist",
    "Prefetcher",
    "Segment",
    "Variant",
    "is_manifest",
    "parse_iso_duration",
    "parse_m3u8",
    "parse_mpd",
]

# --------------------------------------------------------------------------------------------
# HLS (RFC 8216)


@dataclass(frozen=True, slots=True)
class Variant:
    """One `#EXT-X-STREAM-INF` entry of a master playlist."""

    uri: str
    bandwidth: int | None
    resolution: tuple[int, int] | None = None
    codecs: str | None = None


@dataclass(slots=True)
class MasterPlaylist:
    url: str
    variants: list[Variant]
    # URIs of alternative renditions (#EXT-X-MEDIA, e.g. separate audio), absolute.
    media: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Segment:
    uri: str
    duration: float | None  # None only for a URI line without #EXTINF (lenient)
    sequence: int  # media sequence number
    title: str = ""
    byterange: str | None = None  # kept verbatim; the prefetcher fetches whole URIs
    map_uri: str | None = None  # the #EXT-X-MAP (init segment) in force, absolute


@dataclass(slots=True)
class MediaPlaylist:
    url: str
    target_duration: float | None
    media_sequence: int
    segments: list[Segment]
    endlist: bool
    playlist_type: str | None = None  # VOD / EVENT / None

    @property
    def live(self) -> bool:
        return not self.endlist


_ATTR_RE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def _attrs(text: str) -> dict[str, str]:
    """Parse an HLS attribute list; quoted values keep their commas (CODECS="a,b")."""
    return {k: v[1:-1] if v.startswith('"') else v.strip() for k, v in _ATTR_RE.findall(text)}


def _int_or_none(s: str | None) -> int | None:
    try:
        return int(s) if s is not None else None
    except ValueError:
        return None


def _resolution(s: str | None) -> tuple[int, int] | None:
    if not s:
        return None
    w, _, h = s.lower().partition("x")
    try:
        return int(w), int(h)
    except ValueError:
        return None


def parse_m3u8(text: str, url: str) -> MasterPlaylist | MediaPlaylist:
    """Parse an M3U8 playlist; URIs are resolved against `url`.

    Returns a `MasterPlaylist` if it has any `#EXT-X-STREAM-INF`, else a `MediaPlaylist`.
    Unknown tags and comments are skipped. Raises ValueError if `#EXTM3U` is missing or a
    value the result depends on (EXTINF duration, media sequence) is malformed.
    """
    lines = text.lstrip("\ufeff").splitlines()
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if not first.startswith("#EXTM3U"):
        raise ValueError(f"{url}: not an M3U8 playlist (no #EXTM3U header)")

    variants: list[Variant] = []
    media: list[str] = []
    segments: list[Segment] = []
    pending_variant: dict[str, str] | None = None
    pending_inf: tuple[float | None, str] | None = None
    pending_range: str | None = None
    target: float | None = None
    seq0 = 0
    endlist = False
    ptype: str | None = None
    map_uri: str | None = None

    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            tag, _, value = line.partition(":")
            try:
                if tag == "#EXT-X-STREAM-INF":
                    pending_variant = _attrs(value)
                elif tag == "#EXTINF":
                    dur, _, title = value.partition(",")
                    pending_inf = (float(dur), title.strip())
                elif tag == "#EXT-X-MEDIA-SEQUENCE":
                    seq0 = int(value)
                elif tag == "#EXT-X-TARGETDURATION":
                    target = float(value)
                elif tag == "#EXT-X-ENDLIST":
                    endlist = True
                elif tag == "#EXT-X-PLAYLIST-TYPE":
                    ptype = value.strip().upper() or None
                elif tag == "#EXT-X-BYTERANGE":
                    pending_range = value.strip()
                elif tag == "#EXT-X-MAP":
                    m = _attrs(value).get("URI")
                    map_uri = urljoin(url, m) if m else None
                elif tag == "#EXT-X-MEDIA":
                    m = _attrs(value).get("URI")
                    if m:
                        media.append(urljoin(url, m))
                # Everything else (comments, I-frame playlists, keys, dates, unknown tags)
                # does not change which URL a sequential viewer fetches next.
            except ValueError:
                raise ValueError(f"{url}: line {lineno}: malformed {tag}: {value!r}") from None
            continue
        uri = urljoin(url, line)
        if pending_variant is not None:
            a = pending_variant
            variants.append(
                Variant(
                    uri=uri,
                    bandwidth=_int_or_none(a.get("BANDWIDTH")),
                    resolution=_resolution(a.get("RESOLUTION")),
                    codecs=a.get("CODECS"),
                )
            )
            pending_variant = None
        else:
            dur, title = pending_inf if pending_inf is not None else (None, "")
            segments.append(
                Segment(
                    uri=uri,
                    duration=dur,
                    sequence=seq0 + len(segments),
                    title=title,
                    byterange=pending_range,
                    map_uri=map_uri,
                )
            )
            pending_inf = None
            pending_range = None

    if variants:
        return MasterPlaylist(url=url, variants=variants, media=media)
    return MediaPlaylist(
        url=url,
        target_duration=target,
        media_sequence=seq0,
        segments=segments,
        endlist=endlist,
        playlist_type=ptype,
    )


# --------------------------------------------------------------------------------------------
# DASH (ISO/IEC 23009-1)

MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
# A template with a tiny @duration over a long period would enumerate millions of URLs from a
# few hundred bytes of XML; refuse instead of allocating them.
MAX_DASH_SEGMENTS = 100_000

_ISO_RE = re.compile(
    r"^P(?:(?P<Y>\d+(?:\.\d+)?)Y)?(?:(?P<Mo>\d+(?:\.\d+)?)M)?(?:(?P<W>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<D>\d+(?:\.\d+)?)D)?(?:T(?:(?P<H>\d+(?:\.\d+)?)H)?(?:(?P<Mi>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<S>\d+(?:\.\d+)?)S)?)?$"
)
_ISO_SECONDS = {"Y": 365 * 86400, "Mo": 30 * 86400, "W": 7 * 86400, "D": 86400}
_ISO_SECONDS |= {"H": 3600, "Mi": 60, "S": 1}


def parse_iso_duration(s: str) -> float:
    """`PT1H2M3.5S` → 3723.5 seconds (years as 365 days, months as 30: MPDs use PT…S)."""
    m = _ISO_RE.match(s.strip())
    if not m or s.strip() in ("P", "PT") or s.strip().endswith("T"):
        raise ValueError(f"bad ISO 8601 duration {s!r}")
    return sum(float(v) * _ISO_SECONDS[k] for k, v in m.groupdict().items() if v)


@dataclass(slots=True)
class DashRepresentation:
    id: str
    bandwidth: int | None
    period: int  # index of the Period it belongs to
    init: str | None  # initialization segment URL, absolute
    segments: list[str]  # media segment URLs in playback order, absolute
    width: int | None = None
    height: int | None = None
    mime_type: str | None = None


@dataclass(slots=True)
class DashManifest:
    url: str
    dynamic: bool
    duration: float | None  # mediaPresentationDuration, seconds
    representations: list[DashRepresentation]


_TEMPLATE_RE = re.compile(r"\$(RepresentationID|Number|Bandwidth|Time)(?:%0(\d+)d)?\$|\$\$")


def _fill(template: str, rep_id: str, bandwidth: int | None, number: int, t: int) -> str:
    def sub(m: re.Match[str]) -> str:
        name, width = m.group(1), m.group(2)
        if name is None:
            return "$"
        if name == "RepresentationID":
            return rep_id
        v = {"Number": number, "Bandwidth": bandwidth or 0, "Time": t}[name]
        return f"{v:0{int(width)}d}" if width else str(v)

    return _TEMPLATE_RE.sub(sub, template)


def _strip_ns(root: ET.Element) -> None:
    # Accept MPDs with the standard namespace, a prefixed one, or none at all.
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def _base(url: str, el: ET.Element) -> str:
    b = el.find("BaseURL")
    return urljoin(url, b.text.strip()) if b is not None and b.text and b.text.strip() else url


def _nearest(levels: list[ET.Element], tag: str) -> list[ET.Element]:
    """The `tag` children of each level, outermost first (for attribute inheritance)."""
    return [c for lv in levels if (c := lv.find(tag)) is not None]


def _merged(elems: list[ET.Element]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in elems:  # inner levels override outer ones
        out.update(e.attrib)
    return out


def _period_durations(root: ET.Element, periods: list[ET.Element]) -> list[float | None]:
    total = root.get("mediaPresentationDuration")
    total_s = parse_iso_duration(total) if total else None
    starts = [parse_iso_duration(p.get("start")) if p.get("start") else None for p in periods]
    out: list[float | None] = []
    cursor = 0.0
    for i, p in enumerate(periods):
        start = starts[i] if starts[i] is not None else cursor
        if p.get("duration"):
            d: float | None = parse_iso_duration(p.get("duration", ""))
        elif i + 1 < len(periods) and starts[i + 1] is not None:
            d = starts[i + 1] - start
        elif i + 1 == len(periods) and total_s is not None:
            d = total_s - start
        else:
            d = None
        out.append(d)
        cursor = start + (d or 0.0)
    return out


def _template_segments(
    attrs: dict[str, str],
    timeline: ET.Element | None,
    base: str,
    rep_id: str,
    bw: int | None,
    period_s: float | None,
) -> list[str]:
    media = attrs.get("media")
    if not media:
        return []
    timescale = int(attrs.get("timescale", "1"))
    number = int(attrs.get("startNumber", "1"))
    if timescale <= 0:
        raise ValueError(f"bad timescale {timescale}")
    out: list[str] = []
    if timeline is not None:
        t = 0
        end = None if period_s is None else period_s * timescale
        for s in timeline.findall("S"):
            t = int(s.get("t", t))
            if "d" not in s.attrib:
                raise ValueError("SegmentTimeline S without @d")
            d = int(s.get("d", ""))
            r = int(s.get("r", "0"))
            if d <= 0:
                raise ValueError("SegmentTimeline S@d must be positive")
            if r < 0:  # repeat until the end of the period (or the next S@t)
                if end is None:
                    raise ValueError("S@r=-1 needs a known period duration")
                r = max(0, math.ceil((end - t) / d) - 1)
            for _ in range(r + 1):
                if len(out) >= MAX_DASH_SEGMENTS:
                    raise ValueError(f"more than {MAX_DASH_SEGMENTS} segments")
                out.append(urljoin(base, _fill(media, rep_id, bw, number, t)))
                number += 1
                t += d
        return out
    if "duration" not in attrs or period_s is None:
        return []  # live template without a timeline: needs the wall clock, not enumerable
    dur = int(attrs["duration"])
    if dur <= 0:
        raise ValueError("SegmentTemplate@duration must be positive")
    # 1e-9 slack: a 30 s period of 2 s segments is 15 segments, not 16 after float error.
    count = math.ceil(period_s * timescale / dur - 1e-9)
    if count > MAX_DASH_SEGMENTS:
        raise ValueError(f"{count} segments exceed {MAX_DASH_SEGMENTS}")
    return [urljoin(base, _fill(media, rep_id, bw, number + i, i * dur)) for i in range(count)]


def parse_mpd(text: str | bytes, url: str) -> DashManifest:
    """Parse a DASH MPD and enumerate each representation's segment URLs.

    Supports SegmentTemplate (`$RepresentationID$`, `$Number$`, `$Bandwidth$`, `$Time$`, with
    `%0Nd` widths; @duration/@timescale/@startNumber or a SegmentTimeline), SegmentList, and a
    bare BaseURL (one segment), inherited from Period/AdaptationSet/Representation and with
    BaseURLs resolved level by level. A dynamic template without a timeline has no
    enumerable list and gets `segments == []`. Raises ValueError on anything not an MPD.
    """
    head = text[:4096] if isinstance(text, str) else text[:4096].decode("utf-8", "replace")
    if "<!ENTITY" in head:
        raise ValueError(f"{url}: MPD with entity declarations refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ValueError(f"{url}: not XML: {e}") from None
    _strip_ns(root)
    if root.tag != "MPD":
        raise ValueError(f"{url}: not an MPD (root element <{root.tag}>)")
    try:
        return _parse_mpd_root(root, url)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{url}: malformed MPD: {e}") from None


def _parse_mpd_root(root: ET.Element, url: str) -> DashManifest:
    dynamic = root.get("type", "static") == "dynamic"
    total = root.get("mediaPresentationDuration")
    periods = root.findall("Period")
    durations = _period_durations(root, periods)
    reps: list[DashRepresentation] = []
    mpd_base = _base(url, root)
    for pi, (period, period_s) in enumerate(zip(periods, durations, strict=True)):
        p_base = _base(mpd_base, period)
        for aset in period.findall("AdaptationSet"):
            a_base = _base(p_base, aset)
            for rep in aset.findall("Representation"):
                rep_id = rep.get("id", "")
                bw = _int_or_none(rep.get("bandwidth"))
                base = _base(a_base, rep)
                levels = [period, aset, rep]
                init: str | None = None
                segs: list[str] = []
                templates = _nearest(levels, "SegmentTemplate")
                lists = _nearest(levels, "SegmentList")
                if templates:
                    attrs = _merged(templates)
                    # The innermost level that has a SegmentTimeline owns it.
                    tls = [t.find("SegmentTimeline") for t in templates]
                    timeline = next((tl for tl in reversed(tls) if tl is not None), None)
                    if attrs.get("initialization"):
                        init = urljoin(base, _fill(attrs["initialization"], rep_id, bw, 0, 0))
                    segs = _template_segments(attrs, timeline, base, rep_id, bw, period_s)
                elif lists:
                    sl = lists[-1]
                    ini = sl.find("Initialization")
                    if ini is not None and ini.get("sourceURL"):
                        init = urljoin(base, ini.get("sourceURL", ""))
                    for su in sl.findall("SegmentURL"):
                        # No @media: a byte range of the BaseURL itself.
                        segs.append(urljoin(base, su.get("media")) if su.get("media") else base)
                        if len(segs) > MAX_DASH_SEGMENTS:
                            raise ValueError(f"more than {MAX_DASH_SEGMENTS} segments")
                else:
                    segs = [base] if base != url else []
                reps.append(
                    DashRepresentation(
                        id=rep_id,
                        bandwidth=bw,
                        period=pi,
                        init=init,
                        segments=segs,
                        width=_int_or_none(rep.get("width")),
                        height=_int_or_none(rep.get("height")),
                        mime_type=rep.get("mimeType") or aset.get("mimeType"),
                    )
                )
    return DashManifest(
        url=url,
        dynamic=dynamic,
        duration=parse_iso_duration(total) if total else None,
        representations=reps,
    )


# --------------------------------------------------------------------------------------------
# Prefetch

HLS_TYPES = frozenset(
    {
        "application/vnd.apple.mpegurl",
        "application/x-mpegurl",
        "audio/mpegurl",
        "audio/x-mpegurl",
    }
)
DASH_TYPES = frozenset({"application/dash+xml"})


def _kind(url: str, content_type: str | None, body: bytes | None = None) -> str | None:
    """'hls', 'dash' or None, from the content type, else the path suffix, else the body."""
    ct = (content_type or "").split(";", 1)[0].strip().lower()
    if ct in HLS_TYPES:
        return "hls"
    if ct in DASH_TYPES:
        return "dash"
    path = urlsplit(url).path.lower()
    if path.endswith(".m3u8"):
        return "hls"
    if path.endswith(".mpd"):
        return "dash"
    # Origins that serve playlists as text/plain or octet-stream: sniff, it costs a prefix.
    if body is not None and body[:16].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"#EXTM3U"):
        return "hls"
    return None


def is_manifest(url: str, content_type: str | None) -> bool:
    """Whether `on_response` needs the body of this response (HLS playlist or DASH MPD)."""
    return _kind(url, content_type) is not None


@dataclass(slots=True)
class _Rendition:
    urls: list[str]  # segment URLs in playback order, unique
    inits: list[str | None] | None  # init segment in force at each position, if any


@dataclass(slots=True)
class _Manifest:
    fingerprint: tuple[int, int]
    keys: list[str]  # renditions learned from it
    first: list[str]  # what to prefetch when the manifest itself is served


class Prefetcher:
    """Learns segment order from served manifests; says which URLs to fetch ahead.

    - media playlist, VOD (`#EXT-X-ENDLIST`): its first `depth` segments (plus the init
      segment), since a new viewer starts at the beginning.
    - media playlist, live (no ENDLIST): its last `depth` segments. Players join about three
      target durations from the end (RFC 8216 §6.3.3) and viewers already watching fetch the
      newest segment next, so the tail is what gets requested; refreshes re-issue only the
      new tail URLs (the rest are in the recently-issued set).
    - master playlist / MPD: nothing by default: which rendition the player picks is unknown
      and prefetching every rendition multiplies origin traffic. With
      `master_prefetch=True`: the variant playlists (HLS; tiny, and every viewer fetches one)
      or every representation's init segment (DASH; likewise). An MPD's segments are still
      learned, and a request for a representation's init segment prefetches its first
      `depth` segments.
    - a learned segment (or init segment) URL: the next `depth` segments of the same
      rendition, with the init segment ahead of any segment whose init differs.
    - anything else, and any body that does not parse: [].

    A URL is not returned again within `dedup_seconds` of being returned (at most
    `max_recent` URLs are remembered for this). Memory: at most `max_playlists` manifests
    (LRU) and `max_segments` learned segment URLs in total; the least recently used
    manifests are forgotten first, and a single manifest larger than `max_segments` is not
    learned. Manifest bodies above `max_manifest_bytes` are ignored.

    Pass `now` (seconds, any monotonic clock) for replay/simulation; default time.monotonic().
    """

    def __init__(
        self,
        depth: int = 3,
        *,
        max_playlists: int = 1024,
        max_segments: int = 200_000,
        max_recent: int = 8192,
        dedup_seconds: float = 30.0,
        master_prefetch: bool = False,
        max_manifest_bytes: int = 8 << 20,
    ) -> None:
        if depth < 0 or max_playlists < 1 or max_segments < 1 or max_recent < 0:
            raise ValueError("depth >= 0, max_playlists >= 1, max_segments >= 1 required")
        self.depth = depth
        self.max_playlists = max_playlists
        self.max_segments = max_segments
        self.max_recent = max_recent
        self.dedup_seconds = dedup_seconds
        self.master_prefetch = master_prefetch
        self.max_manifest_bytes = max_manifest_bytes
        self._manifests: OrderedDict[str, _Manifest] = OrderedDict()
        self._renditions: dict[str, _Rendition] = {}
        self._owner: dict[str, str] = {}  # rendition key -> manifest url
        self._index: dict[str, tuple[str, int]] = {}  # segment/init URL -> (key, position)
        self._n_segments = 0
        self._recent: OrderedDict[str, float] = OrderedDict()
        self.parse_errors = 0
        self.issued = 0

    # ---- public -----------------------------------------------------------------------------

    wants_body = staticmethod(is_manifest)

    def on_response(
        self,
        url: str,
        content_type: str | None,
        body: bytes | None,
        now: float | None = None,
    ) -> list[str]:
        """URLs to prefetch after serving `url`. Never raises."""
        try:
            return self._on_response(url, content_type, body, now)
        except Exception:  # a bad origin body must never take the server down
            self.parse_errors += 1
            return []

    @property
    def stats(self) -> dict[str, int]:
        return {
            "playlists": len(self._manifests),
            "renditions": len(self._renditions),
            "segments": self._n_segments,
            "recent": len(self._recent),
            "issued": self.issued,
            "parse_errors": self.parse_errors,
        }

    def forget(self, manifest_url: str) -> None:
        """Drop what was learned from one manifest (e.g. on purge)."""
        m = self._manifests.pop(manifest_url, None)
        if m is not None:
            self._drop(m.keys)

    # ---- internals --------------------------------------------------------------------------

    def _on_response(
        self, url: str, content_type: str | None, body: bytes | None, now: float | None
    ) -> list[str]:
        now = time.monotonic() if now is None else now
        if body is not None and not isinstance(body, bytes):
            body = bytes(body)  # bytearray/memoryview from the server's buffers
        kind = _kind(url, content_type, body)
        if kind is not None and body is None and url in self._manifests:
            # A hit on a manifest already learned: the server may skip reading the body.
            self._manifests.move_to_end(url)
            return self._issue(self._manifests[url].first, now, exclude=url)
        if kind is not None and body is not None:
            if len(body) > self.max_manifest_bytes:
                return []
            fp = (len(body), hash(body))
            m = self._manifests.get(url)
            if m is None or m.fingerprint != fp:
                # Unparseable: count it, forget any older version, prefetch nothing.
                try:
                    m = self._learn(url, kind, body, fp)
                except (ValueError, UnicodeError, RecursionError):
                    self.parse_errors += 1
                    self.forget(url)
                    return []
                if m is None:
                    return []
            else:
                self._manifests.move_to_end(url)
            return self._issue(m.first, now, exclude=url)
        hit = self._index.get(url)
        if hit is None:
            return []
        key, pos = hit
        owner = self._owner.get(key)
        if owner is not None:
            self._manifests.move_to_end(owner)
        return self._issue(self._ahead(self._renditions[key], pos), now, exclude=url)

    def _ahead(self, r: _Rendition, pos: int) -> list[str]:
        out: list[str] = []
        for i in range(pos + 1, min(pos + 1 + self.depth, len(r.urls))):
            if r.inits is not None:
                ini = r.inits[i]
                if ini is not None and (i == 0 or r.inits[i - 1] != ini):
                    out.append(ini)
            out.append(r.urls[i])
        return out

    def _issue(self, urls: list[str], now: float, exclude: str) -> list[str]:
        rec = self._recent
        horizon = now - self.dedup_seconds
        while rec and next(iter(rec.values())) <= horizon:
            rec.popitem(last=False)
        out: list[str] = []
        for u in urls:
            if u == exclude or u in out:
                continue
            t = rec.get(u)
            if t is not None and t > horizon:
                continue
            out.append(u)
            if self.max_recent:
                rec[u] = now
                rec.move_to_end(u)
        while len(rec) > self.max_recent:
            rec.popitem(last=False)
        self.issued += len(out)
        return out

    def _learn(self, url: str, kind: str, body: bytes, fp: tuple[int, int]) -> _Manifest | None:
        text = body.decode("utf-8", "replace")
        renditions: dict[str, _Rendition] = {}
        first: list[str] = []
        if kind == "hls":
            pl = parse_m3u8(text, url)
            if isinstance(pl, MasterPlaylist):
                if self.master_prefetch:
                    first = [v.uri for v in pl.variants] + pl.media
            else:
                r = _rendition([s.uri for s in pl.segments], [s.map_uri for s in pl.segments])
                renditions[url] = r
                if pl.endlist:
                    first = self._ahead(r, -1)
                else:
                    tail = max(0, len(r.urls) - self.depth)
                    first = self._ahead(r, tail - 1)
        else:
            mpd = parse_mpd(body, url)
            for rep in mpd.representations:
                key = f"{url}#{rep.period}:{rep.id}"
                inits = [rep.init] * len(rep.segments) if rep.init else None
                renditions[key] = _rendition(rep.segments, inits)
                if self.master_prefetch and rep.init:
                    first.append(rep.init)
        size = sum(len(r.urls) for r in renditions.values())
        if size > self.max_segments:
            self.forget(url)
            return None
        self.forget(url)
        for key, r in renditions.items():
            self._renditions[key] = r
            self._owner[key] = url
            for i, u in enumerate(r.urls):
                self._index[u] = (key, i)
            if r.inits is not None:
                for i, ini in enumerate(r.inits):
                    # The init segment stands just before the first segment that uses it.
                    if ini is not None and (i == 0 or r.inits[i - 1] != ini):
                        self._index.setdefault(ini, (key, i - 1))
        self._n_segments += size
        m = _Manifest(fingerprint=fp, keys=list(renditions), first=first)
        self._manifests[url] = m
        while len(self._manifests) > self.max_playlists or (
            self._n_segments > self.max_segments and len(self._manifests) > 1
        ):
            _, old = self._manifests.popitem(last=False)
            self._drop(old.keys)
        return m

    def _drop(self, keys: list[str]) -> None:
        for key in keys:
            r = self._renditions.pop(key, None)
            self._owner.pop(key, None)
            if r is None:
                continue
            self._n_segments -= len(r.urls)
            for u in r.urls + [i for i in (r.inits or ()) if i is not None]:
                # Another manifest may have re-learned this URL since; leave its entry.
                if self._index.get(u, (None,))[0] == key:
                    del self._index[u]


def _rendition(urls: list[str], inits: list[str | None] | None) -> _Rendition:
    """Unique URLs in order: byte-range playlists list one file many times."""
    seen: set[str] = set()
    out_u: list[str] = []
    out_i: list[str | None] = []
    for j, u in enumerate(urls):
        if u in seen:
            continue
        seen.add(u)
        out_u.append(u)
        out_i.append(inits[j] if inits else None)
    has_inits = any(i is not None for i in out_i)
    return _Rendition(urls=out_u, inits=out_i if has_inits else None)
