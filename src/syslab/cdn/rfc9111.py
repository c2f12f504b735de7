"""HTTP caching rules of RFC 9111 (plus RFC 5861 and RFC 9211) for a shared cache, without I/O.

Each function answers one question the RFC asks — may this response be stored, how long is
it fresh, how old is it, may a stale copy be served — so that the server, the tests and
the simulators apply the same rules. Section numbers refer to RFC 9111 unless noted.
"""

from __future__ import annotations

import email.utils
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# §3: a shared cache stores only responses to methods it understands as cacheable.
CACHEABLE_METHODS = frozenset({"GET", "HEAD"})
# §4.2.2: status codes "heuristically cacheable" by default (RFC 9110 §15.1).
HEURISTIC_STATUSES = frozenset({200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501})
# Statuses we know how to store and replay from a full body (206 needs range bookkeeping).
STORABLE_STATUSES = HEURISTIC_STATUSES - {206} | {302, 307}
# RFC 9110 §7.6.1: connection-specific fields a proxy must not forward or store.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)
# §4.2.2 suggests a fraction of the time since Last-Modified; 10 % is what caches use.
HEURISTIC_FRACTION = 0.1
HEURISTIC_MAX = 86400.0  # and we cap it at a day, as Squid's refresh_pattern default does
UNSAFE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
# RFC 9110 §9.2.1; any other method (even one of unknown safety) invalidates (§4.4).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

_DIRECTIVE = re.compile(
    r'\s*([!#$%&\'*+\-.^_`|~0-9A-Za-z]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,\s]*))?\s*'
)


def parse_cache_control(values: Iterable[str]) -> dict[str, str | None]:
    """Cache-Control field values → {directive: argument or None} (§5.2).

    Directive names are case-insensitive; quoted-string arguments are unquoted. When a
    directive repeats, the first occurrence wins (§4.2.1 says such responses are stale,
    which `freshness_lifetime` enforces for max-age/s-maxage).
    """
    directives: dict[str, str | None] = {}
    duplicated: set[str] = set()
    for value in values:
        for part in _split_commas(value):
            m = _DIRECTIVE.fullmatch(part)
            if not m:
                continue
            name = m.group(1).lower()
            arg = m.group(2)
            if arg is not None and arg.startswith('"'):
                arg = re.sub(r"\\(.)", r"\1", arg[1:-1])
            if name in directives:
                duplicated.add(name)
                continue
            directives[name] = arg
    for name in duplicated & {"max-age", "s-maxage"}:
        directives[name] = "0"  # conflicting lifetimes: §4.2.1 treats the response as stale
    return directives


def _split_commas(value: str) -> list[str]:
    """Split a list-valued field on commas outside quoted strings."""
    if '"' not in value:
        return [p for p in (p.strip() for p in value.split(",")) if p]
    parts, current, quoted, escaped = [], [], False, False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return [p for p in (p.strip() for p in parts) if p]


def delta_seconds(value: str | None) -> int | None:
    """§1.2.2 delta-seconds: a non-negative integer; invalid → None. Huge values saturate."""
    if value is None or not value.isdigit():
        return None
    return min(int(value), 2**31)


def parse_http_date(value: str | None) -> float | None:
    """An HTTP-date (IMF-fixdate, RFC 850 or asctime) → Unix seconds; invalid → None."""
    if not value:
        return None
    return _parse_http_date(value)


@functools.lru_cache(maxsize=4096)  # responses within a second share Date; files share L-M
def _parse_http_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() if parsed is not None else None


def http_date(ts: float) -> str:
    """Unix seconds → IMF-fixdate."""
    return email.utils.formatdate(ts, usegmt=True)


class Headers:
    """A case-insensitive view over a list of (name, value) pairs, keeping order and repeats.

    Lookups go through an index built on first use (a miss looks up ~20 fields); add fields
    with `append`, which keeps the index right, rather than by editing `items`.
    """

    __slots__ = ("items", "_index", "_cc")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self.items: list[tuple[str, str]] = list(items)
        self._index: dict[str, list[str]] | None = None
        self._cc: dict[str, str | None] | None = None

    def _build(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for k, v in self.items:
            index.setdefault(k.lower(), []).append(v)
        self._index = index
        return index

    def get(self, name: str, default: str | None = None) -> str | None:
        """All values of `name` joined by ", " (RFC 9110 §5.3), or `default`."""
        values = (self._index or self._build()).get(name.lower())
        if not values:
            return default
        return values[0] if len(values) == 1 else ", ".join(values)

    def get_all(self, name: str) -> list[str]:
        return list((self._index or self._build()).get(name.lower(), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in (self._index or self._build())

    def append(self, name: str, value: str) -> None:
        self.items.append((name, value))
        self._index = None
        self._cc = None

    def without(self, names: Iterable[str]) -> Headers:
        drop = {n.lower() for n in names}
        return Headers((k, v) for k, v in self.items if k.lower() not in drop)

    def cache_control(self) -> dict[str, str | None]:
        """Parsed once per Headers (callers must not modify the returned dict)."""
        if self._cc is None:
            self._cc = parse_cache_control(self.get_all("cache-control"))
        return self._cc

    def __repr__(self) -> str:
        return f"Headers({self.items!r})"


def end_to_end(headers: Headers) -> Headers:
    """Drop hop-by-hop fields, including those listed in Connection (RFC 9110 §7.6.1)."""
    named = {t.strip().lower() for v in headers.get_all("connection") for t in v.split(",")}
    return headers.without(HOP_BY_HOP | named)


# ---------------------------------------------------------------- storing (§3)


def storable(
    method: str,
    status: int,
    request: Headers,
    response: Headers,
) -> tuple[bool, str]:
    """May a shared cache store this response? Returns (answer, reason when not)."""
    if method != "GET":  # HEAD responses have no body to replay; we store GETs only
        return False, "method"
    if status not in STORABLE_STATUSES:
        return False, "status"
    req_cc = request.cache_control()
    res_cc = response.cache_control()
    if "no-store" in req_cc or "no-store" in res_cc:
        return False, "no-store"
    if "private" in res_cc and res_cc["private"] is None:
        return False, "private"  # a private response with field names may store the rest;
    # we keep it simple and safe: qualified private is handled by `strip_private` below.
    if "authorization" in request and not (
        "must-revalidate" in res_cc or "public" in res_cc or "s-maxage" in res_cc
    ):
        return False, "authorization"  # §3.5
    vary = vary_fields(response)
    if vary is None:
        return False, "vary-star"
    explicit = (
        "max-age" in res_cc
        or "s-maxage" in res_cc
        or "public" in res_cc
        or "expires" in response
        or "no-cache" in res_cc  # storable, but always revalidated
    )
    if explicit or status in HEURISTIC_STATUSES:
        return True, ""
    return False, "no-freshness"


def strip_private(response: Headers) -> Headers:
    """The response without the fields a shared cache must keep out of its store (§3.1).

    §5.2.2.7: `private="a, b"` forbids a shared cache storing those fields; §5.2.2.4:
    `no-cache="a, b"` forbids sending them from the cache without revalidation, which not
    storing them satisfies too. The rest of the response is stored.
    """
    cc = response.cache_control()
    names = [f.strip() for d in ("private", "no-cache") for f in (cc.get(d) or "").split(",")]
    names = [n for n in names if n]
    return response.without(names) if names else response


def vary_fields(response: Headers) -> tuple[str, ...] | None:
    """Vary's field names, lowercased and sorted; None for `Vary: *` (never matches, §4.1)."""
    names: set[str] = set()
    for value in response.get_all("vary"):
        for token in value.split(","):
            token = token.strip().lower()
            if token == "*":
                return None
            if token:
                names.add(token)
    return tuple(sorted(names))


def normalise_field(name: str, value: str | None) -> str:
    """A request field value reduced to what selects the variant (§4.1 allows normalising).

    Whitespace and letter case around list members do not change meaning; for
    Accept-Encoding and Accept-Language the member order does not either, so both are
    sorted. Quality values are kept: `gzip;q=0` means "not gzip".
    """
    if value is None:
        return ""
    members = [re.sub(r"\s*;\s*", ";", m.strip().lower()) for m in value.split(",")]
    members = [m for m in members if m]
    if name in ("accept-encoding", "accept-language", "accept"):
        members.sort()
    return ",".join(members)


def variant_key(fields: tuple[str, ...], request: Headers) -> tuple[str, ...]:
    """The secondary cache key: the request's normalised values of the Vary fields."""
    return tuple(normalise_field(f, request.get(f)) for f in fields)


# ---------------------------------------------------------------- freshness (§4.2)


def freshness_lifetime(status: int, response: Headers, heuristic: bool = True) -> float:
    """§4.2.1 for a shared cache: s-maxage, then max-age, then Expires − Date, then heuristic."""
    cc = response.cache_control()
    for directive in ("s-maxage", "max-age"):
        if directive in cc:
            seconds = delta_seconds(cc[directive])
            return float(seconds) if seconds is not None else 0.0  # invalid → stale
    if "expires" in response:
        expires = parse_http_date(response.get("expires"))
        if expires is None:  # §5.3: invalid dates such as "0" mean "already expired"
            return 0.0
        date = parse_http_date(response.get("date"))
        return max(0.0, expires - date) if date is not None else 0.0
    if "public" in cc or (heuristic and status in HEURISTIC_STATUSES):
        last_modified = parse_http_date(response.get("last-modified"))
        date = parse_http_date(response.get("date"))
        if last_modified is not None and date is not None and date > last_modified:
            return min(HEURISTIC_MAX, HEURISTIC_FRACTION * (date - last_modified))
    return 0.0


@dataclass(frozen=True, slots=True)
class AgeClock:
    """The inputs of the §4.2.3 age calculation, fixed when the response arrives."""

    request_time: float
    response_time: float
    corrected_initial_age: float

    @classmethod
    def at_arrival(cls, response: Headers, request_time: float, response_time: float) -> AgeClock:
        date = parse_http_date(response.get("date"))
        apparent_age = max(0.0, response_time - date) if date is not None else 0.0
        age_value = delta_seconds((response.get("age") or "").split(",")[0].strip()) or 0
        response_delay = response_time - request_time
        corrected_age_value = age_value + response_delay
        return cls(request_time, response_time, max(apparent_age, corrected_age_value))

    def current_age(self, now: float) -> float:
        return self.corrected_initial_age + (now - self.response_time)


def age_header(age: float) -> str:
    """Age is whole seconds (§5.1), rounded down."""
    return str(max(0, int(age)))


# ---------------------------------------------------------------- serving (§4)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a stored response for this request."""

    action: str  # "fresh" | "stale" (serve, refresh in background) | "revalidate" | "miss"
    detail: str = ""


def decide(
    age: float,
    lifetime: float,
    response_cc: Mapping[str, str | None],
    request: Headers,
) -> Decision:
    """§4 and §5.2.1 plus RFC 5861: may the stored response satisfy `request` now?"""
    req_cc = request.cache_control()
    if not req_cc and "no-cache" in (request.get("pragma") or "").lower():
        req_cc = {"no-cache": None}  # §5.4: Pragma only when Cache-Control is absent
    if "no-cache" in req_cc:
        return Decision("revalidate", "request-no-cache")
    if "no-cache" in response_cc and response_cc["no-cache"] is None:
        return Decision("revalidate", "response-no-cache")
    staleness = age - lifetime
    req_max_age = delta_seconds(req_cc.get("max-age"))
    if req_max_age is not None and age > req_max_age:
        return Decision("revalidate", "request-max-age")
    min_fresh = delta_seconds(req_cc.get("min-fresh"))
    if min_fresh is not None and lifetime - age < min_fresh:
        return Decision("revalidate", "request-min-fresh")
    if staleness < 0:
        return Decision("fresh")
    # Stale from here on. must-revalidate / proxy-revalidate / s-maxage forbid serving it.
    if any(d in response_cc for d in ("must-revalidate", "proxy-revalidate", "s-maxage")):
        return Decision("revalidate", "stale")
    if "max-stale" in req_cc:
        limit = delta_seconds(req_cc["max-stale"])
        if limit is None or staleness <= limit:
            return Decision("fresh", "max-stale")
    swr = delta_seconds(response_cc.get("stale-while-revalidate"))
    if swr is not None and staleness <= swr:
        return Decision("stale", "stale-while-revalidate")
    return Decision("revalidate", "stale")


def may_serve_stale_on_error(
    age: float, lifetime: float, response_cc: Mapping[str, str | None], request: Headers
) -> bool:
    """RFC 5861 §4: stale-if-error (from response or request) allows stale on 5xx/no origin."""
    if any(d in response_cc for d in ("must-revalidate", "proxy-revalidate", "s-maxage")):
        return False
    staleness = age - lifetime
    for cc in (response_cc, request.cache_control()):
        limit = delta_seconds(cc.get("stale-if-error"))
        if limit is not None and staleness <= limit:
            return True
    return False


def conditional_headers(stored: Headers) -> list[tuple[str, str]]:
    """§4.3.1: validators of the stored response for a conditional request."""
    out = []
    if (etag := stored.get("etag")) is not None:
        out.append(("If-None-Match", etag))
    if (last_modified := stored.get("last-modified")) is not None:
        out.append(("If-Modified-Since", last_modified))
    return out


# §4.3.4: fields a 304 must not overwrite in the stored response (RFC 9110 §15.4.5 lists
# what a 304 carries; the framing fields describe the stored body, not the 304).
_NOT_UPDATED_BY_304 = frozenset({"content-length", "content-encoding", "content-range"})


def update_from_304(stored: Headers, not_modified: Headers) -> Headers:
    """§4.3.4: replace stored fields by those in the 304, keeping the stored body's framing.

    §3.2: the fields §3.1 keeps out of storage (qualified private / no-cache) stay out.
    """
    new = end_to_end(not_modified).without(_NOT_UPDATED_BY_304)
    replaced = {k.lower() for k, _ in new.items}
    kept = [(k, v) for k, v in stored.items if k.lower() not in replaced]
    return strip_private(Headers(kept + new.items))


def validators_match(stored: Headers, not_modified: Headers) -> bool:
    """§4.3.4: a 304 selects the stored response when its strong ETag (or none) agrees."""
    new_etag = not_modified.get("etag")
    old_etag = stored.get("etag")
    if new_etag is not None and old_etag is not None:
        return new_etag.strip() == old_etag.strip()
    return True


def if_none_match_hit(request: Headers, stored: Headers) -> bool:
    """RFC 9110 §13.1.2 weak comparison: does the client's If-None-Match match our ETag?"""
    inm = request.get("if-none-match")
    etag = stored.get("etag")
    if inm is None or etag is None:
        return False
    if inm.strip() == "*":
        return True
    weak = etag.strip().removeprefix("W/")
    return any(t.strip().removeprefix("W/") == weak for t in _split_commas(inm))


def not_modified_since(request: Headers, stored: Headers) -> bool:
    """RFC 9110 §13.1.3: If-Modified-Since (only without If-None-Match)."""
    if "if-none-match" in request:
        return False
    ims = parse_http_date(request.get("if-modified-since"))
    lm = parse_http_date(stored.get("last-modified"))
    return ims is not None and lm is not None and lm <= ims


# ---------------------------------------------------------------- ranges (RFC 9110 §14)


_RANGE_SPEC = re.compile(r"[0-9]*-[0-9]*")


def parse_range(value: str | None, length: int) -> list[tuple[int, int]] | None:
    """`Range: bytes=…` → satisfiable inclusive (first, last) pairs; None if absent/ignored.

    Returns [] when syntactically valid but unsatisfiable (→ 416). Other units or bad
    syntax are ignored (the full response is sent), as RFC 9110 §14.2 allows.
    """
    if not value:
        return None
    unit, _, spec = value.partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        return None
    parts = [p.strip() for p in spec.split(",") if p.strip()]  # empty members: ignored
    if not parts or not all(_RANGE_SPEC.fullmatch(p) for p in parts):
        return None  # DIGITs only: int() would also take "+5", "1_0" and "-5"
    ranges = []
    for part in parts:
        first, _, last = part.partition("-")
        try:
            if first == "":
                suffix = int(last)
                if suffix == 0:
                    continue
                if length == 0:  # satisfiable but selects no bytes: send the whole (empty) body
                    return None
                ranges.append((max(0, length - suffix), length - 1))
            else:
                start = int(first)
                if last and int(last) < start:
                    return None  # invalid syntax: ignore the header
                if start < length:  # else unsatisfiable: skipped, maybe leaving [] (→ 416)
                    end = int(last) if last else length - 1
                    ranges.append((start, min(end, length - 1)))
        except ValueError:
            return None
    return ranges


def invalidated_uris(method: str, status: int, target: str, response: Headers) -> list[str]:
    """§4.4: a non-error response to an unsafe method invalidates the target (and Location)."""
    if method in SAFE_METHODS or not (200 <= status < 400):
        return []
    uris = [target]
    for name in ("location", "content-location"):
        value = response.get(name)
        if value and value.startswith("/"):  # same origin only (§4.4)
            uris.append(value)
    return uris


def cache_status(cache: str, *, hit: bool = False, fwd: str | None = None, **params: object) -> str:
    """An RFC 9211 Cache-Status member, e.g. `syslab; hit; ttl=12` or `syslab; fwd=miss; stored`."""
    parts = [cache]
    if hit:
        parts.append("hit")
    if fwd:
        parts.append(f"fwd={fwd}")
    for name, value in params.items():
        name = name.replace("_", "-")
        if value is True:
            parts.append(name)
        elif value is not None and value is not False:
            parts.append(f"{name}={value}" if not isinstance(value, str) else f'{name}="{value}"')
    return "; ".join(parts)
