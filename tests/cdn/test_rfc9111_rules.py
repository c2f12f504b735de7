"""The RFC 9111 rules of `syslab.cdn.rfc9111`, case by case from the RFC text.

Each test names the section it checks (RFC 9111 unless another RFC is named: RFC 9110 for
conditionals and ranges, RFC 5861 for stale-while-revalidate / stale-if-error, RFC 9211 for
Cache-Status). The functions are pure, so these need no network and no clock.
"""

from __future__ import annotations

import pytest

from syslab.cdn import rfc9111 as http
from syslab.cdn.rfc9111 import AgeClock, Headers

T0 = 1_700_000_000.0  # an arbitrary "now" for dates


def H(*pairs: tuple[str, str], **fields: str) -> Headers:
    """Headers from pairs (repeats kept) and keyword fields (`cache_control` → Cache-Control)."""
    items = list(pairs) + [(k.replace("_", "-").title(), v) for k, v in fields.items()]
    return Headers(items)


def cc(*values: str) -> dict[str, str | None]:
    return http.parse_cache_control(values)


def date(ts: float) -> str:
    return http.http_date(ts)


# ------------------------------------------------------------ §5.2 Cache-Control parsing


def test_s5_2_directive_names_are_case_insensitive() -> None:
    """§5.2: 'Cache directives are identified by a token, to be compared case-insensitively'."""
    assert cc("Max-Age=60, NO-STORE, Public") == {"max-age": "60", "no-store": None, "public": None}


def test_s5_2_arguments_may_be_quoted() -> None:
    """§5.2: an argument 'can use both token and quoted-string syntax'; recipients unquote."""
    assert cc('max-age="60"') == {"max-age": "60"}
    assert http.freshness_lifetime(200, H(cache_control='max-age="60"')) == 60.0


def test_s5_2_commas_inside_quoted_arguments_do_not_split() -> None:
    """§5.2 / RFC 9110 §5.6.1: list members split on commas outside quoted-strings only."""
    parsed = cc('private="Set-Cookie, X-Token", max-age=5, no-cache="a,b"')
    assert parsed == {"private": "Set-Cookie, X-Token", "max-age": "5", "no-cache": "a,b"}


def test_s5_2_quoted_pair_escapes_are_removed() -> None:
    """RFC 9110 §5.6.4: a backslash in a quoted-string quotes the next character."""
    assert cc(r'ext="a\"b\\c", max-age=1') == {"ext": 'a"b\\c', "max-age": "1"}


def test_s5_2_field_lines_combine_and_empty_members_are_skipped() -> None:
    """RFC 9110 §5.3: several field lines are one comma-separated list; empty members ignored."""
    assert cc("max-age=5", " , ,public,", "must-revalidate") == {
        "max-age": "5",
        "public": None,
        "must-revalidate": None,
    }
    assert Headers(
        [("Cache-Control", "max-age=5"), ("cache-control", "no-cache")]
    ).cache_control() == {
        "max-age": "5",
        "no-cache": None,
    }


def test_s5_2_malformed_members_are_ignored() -> None:
    """§5.2: unrecognised (here: unparseable) directives are ignored, the rest still apply."""
    assert cc('"garbage", max-age=5, =oops') == {"max-age": "5"}


def test_s4_2_1_duplicate_lifetime_directives_make_the_response_stale() -> None:
    """§4.2.1: with more than one max-age, 'the response should be considered stale'."""
    assert cc("max-age=60, max-age=10")["max-age"] == "0"
    assert cc("s-maxage=60", "s-maxage=60")["s-maxage"] == "0"
    assert http.freshness_lifetime(200, H(cache_control="max-age=60, max-age=60")) == 0.0


def test_s5_2_other_duplicate_directives_keep_the_first_occurrence() -> None:
    """§4.2.1 / §5.2: otherwise 'the first occurrence should be used'."""
    assert cc('no-cache="a", no-cache="b"') == {"no-cache": "a"}


# ------------------------------------------------------------ §3 storing responses


def _storable(
    method: str = "GET",
    status: int = 200,
    request: Headers | None = None,
    response: Headers | None = None,
) -> tuple[bool, str]:
    if response is None:
        response = H(cache_control="max-age=60")
    return http.storable(method, status, request or Headers(), response)


def test_s3_storable_plain_get_with_max_age() -> None:
    """§3: a GET 200 with an explicit lifetime may be stored."""
    assert _storable() == (True, "")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
def test_s3_request_method_must_be_understood_as_cacheable(method: str) -> None:
    """§3: 'the request method is understood by the cache' (we store GET responses only;
    HEAD responses carry no body to replay — documented in `storable`)."""
    assert _storable(method=method) == (False, "method")


@pytest.mark.parametrize("status", [100, 206, 304, 400, 401, 403, 500, 502, 503, 504])
def test_s3_final_status_that_we_cannot_replay_is_not_stored(status: int) -> None:
    """§3: 'the response status code is final'; 206 and 304 need bookkeeping we do not do."""
    assert _storable(status=status) == (False, "status")


@pytest.mark.parametrize("status", sorted(http.HEURISTIC_STATUSES - {206}))
def test_s4_2_2_heuristically_cacheable_statuses_are_storable_without_lifetime(
    status: int,
) -> None:
    """§3 last bullet / §4.2.2: a heuristically cacheable status needs no explicit lifetime."""
    assert _storable(status=status, response=Headers()) == (True, "")


@pytest.mark.parametrize("status", [302, 307])
def test_s3_other_statuses_need_explicit_freshness(status: int) -> None:
    """§3: a 302/307 is storable only with Expires, max-age, s-maxage or public."""
    assert _storable(status=status, response=Headers()) == (False, "no-freshness")
    assert _storable(status=status, response=H(cache_control="max-age=5")) == (True, "")
    assert _storable(status=status, response=H(expires=date(T0))) == (True, "")
    assert _storable(status=status, response=H(cache_control="s-maxage=5")) == (True, "")
    assert _storable(status=status, response=H(cache_control="public")) == (True, "")


def test_s5_2_1_5_request_no_store() -> None:
    """§5.2.1.5: 'no-store' in a request: a cache MUST NOT store any part of it or its response."""
    assert _storable(request=H(cache_control="no-store")) == (False, "no-store")


def test_s5_2_2_5_response_no_store() -> None:
    """§5.2.2.5: 'no-store' in a response: a cache MUST NOT store any part of it."""
    assert _storable(response=H(cache_control="max-age=60, no-store")) == (False, "no-store")
    assert _storable(response=H(cache_control="NO-STORE")) == (False, "no-store")


def test_s5_2_2_7_unqualified_private_is_not_stored_by_a_shared_cache() -> None:
    """§5.2.2.7: 'a shared cache MUST NOT store the response' (unqualified private)."""
    assert _storable(response=H(cache_control="private, max-age=60")) == (False, "private")


def test_s5_2_2_7_qualified_private_stores_the_response_without_the_named_fields() -> None:
    """§5.2.2.7: with field names, only those fields must not be stored."""
    response = H(
        ("Cache-Control", 'private="Set-Cookie, X-User", max-age=60'),
        ("Set-Cookie", "a=1"),
        ("X-User", "alice"),
        ("ETag", '"x"'),
    )
    assert _storable(response=response) == (True, "")
    stripped = http.strip_private(response)
    assert "set-cookie" not in stripped and "x-user" not in stripped
    assert stripped.get("etag") == '"x"'
    assert http.strip_private(H(cache_control="max-age=1")).items == [
        ("Cache-Control", "max-age=1")
    ]


def test_s5_2_2_4_qualified_no_cache_fields_are_kept_out_of_the_store() -> None:
    """§5.2.2.4: fields named by no-cache="…" MUST NOT be sent from the cache without
    revalidation; §3.1: the qualified forms 'prevent storage of header fields'."""
    response = H(
        ("Cache-Control", 'no-cache="Set-Cookie", max-age=60'),
        ("Set-Cookie", "a=1"),
        ("ETag", '"x"'),
    )
    assert _storable(response=response) == (True, "")
    assert http.strip_private(response).items == [
        ("Cache-Control", 'no-cache="Set-Cookie", max-age=60'),
        ("ETag", '"x"'),
    ]


def test_s3_2_a_304_does_not_bring_back_fields_kept_out_of_storage() -> None:
    """§3.2: fields excepted from storage in §3.1 are not added by a 304 either."""
    stored = H(("Cache-Control", 'private="Set-Cookie", max-age=1'), ("ETag", '"v"'))
    not_modified = H(("Cache-Control", 'private="Set-Cookie", max-age=60'), ("Set-Cookie", "sid=1"))
    updated = http.update_from_304(stored, not_modified)
    assert "set-cookie" not in updated
    assert updated.get("cache-control") == 'private="Set-Cookie", max-age=60'


def test_s3_5_authorization_is_not_stored_by_default() -> None:
    """§3.5: a shared cache MUST NOT use a response to a request with Authorization ...
    unless the response has must-revalidate, public or s-maxage."""
    auth = H(authorization="Bearer t")
    assert _storable(request=auth) == (False, "authorization")
    assert _storable(request=auth, response=H(cache_control="max-age=60, public")) == (True, "")
    assert _storable(request=auth, response=H(cache_control="s-maxage=60")) == (True, "")
    assert _storable(request=auth, response=H(cache_control="max-age=60, must-revalidate")) == (
        True,
        "",
    )
    assert _storable(request=auth, response=H(cache_control="max-age=60, proxy-revalidate")) == (
        False,
        "authorization",
    )


def test_s4_1_vary_star_is_not_stored() -> None:
    """§4.1: 'A stored response with a Vary header field value containing a member "*"
    always fails to match' — storing it is pointless."""
    assert _storable(response=H(cache_control="max-age=60", vary="*")) == (False, "vary-star")
    assert _storable(response=H(("Cache-Control", "max-age=60"), ("Vary", "Accept, *"))) == (
        False,
        "vary-star",
    )


def test_s5_2_2_4_no_cache_is_storable() -> None:
    """§5.2.2.4: no-cache permits storing; it only forbids reuse without validation."""
    assert _storable(status=302, response=H(cache_control="no-cache")) == (True, "")


def test_s4_1_vary_field_names_are_normalised() -> None:
    """§4.1: field names are case-insensitive; several Vary lines combine."""
    response = H(("Vary", "Accept-Encoding, ACCEPT"), ("vary", "accept-encoding"))
    assert http.vary_fields(response) == ("accept", "accept-encoding")
    assert http.vary_fields(Headers()) == ()


def test_s4_1_secondary_key_normalisation() -> None:
    """§4.1 allows normalising: whitespace, case and (for Accept-*) member order don't matter;
    quality values do."""
    fields = ("accept-encoding",)
    a = http.variant_key(fields, H(accept_encoding="gzip, br"))
    b = http.variant_key(fields, H(accept_encoding="BR,gzip"))
    c = http.variant_key(fields, H(accept_encoding="gzip;q=0, br"))
    absent = http.variant_key(fields, Headers())
    assert a == b
    assert len({a, c, absent}) == 3
    assert http.normalise_field("user-agent", "B, A") == "b,a"  # order kept for other fields


def test_rfc9110_s7_6_1_hop_by_hop_fields_are_dropped() -> None:
    """RFC 9110 §7.6.1: Connection and the fields it names are not forwarded or stored."""
    headers = H(
        ("Connection", "close, X-Hop"),
        ("X-Hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("X-End", "2"),
    )
    assert http.end_to_end(headers).items == [("X-End", "2")]


# ------------------------------------------------------------ §4.2.1 freshness lifetime


def test_s4_2_1_s_maxage_beats_max_age_for_a_shared_cache() -> None:
    """§4.2.1: 'If the cache is shared and the s-maxage response directive is present, use its
    value'; then max-age."""
    assert http.freshness_lifetime(200, H(cache_control="max-age=10, s-maxage=20")) == 20.0
    assert http.freshness_lifetime(200, H(cache_control="s-maxage=0, max-age=100")) == 0.0


def test_s4_2_1_max_age_beats_expires() -> None:
    """§5.3: with max-age present, 'a recipient MUST ignore the Expires header field'."""
    response = H(cache_control="max-age=30", date=date(T0), expires=date(T0 + 1000))
    assert http.freshness_lifetime(200, response) == 30.0
    response = H(cache_control="max-age=30", date=date(T0), expires="0")
    assert http.freshness_lifetime(200, response) == 30.0


def test_s4_2_1_expires_minus_date() -> None:
    """§4.2.1: 'If the Expires response header field is present, use its value minus the value
    of the Date response header field'."""
    assert http.freshness_lifetime(200, H(date=date(T0), expires=date(T0 + 100))) == 100.0
    assert http.freshness_lifetime(302, H(date=date(T0), expires=date(T0 + 100))) == 100.0


def test_s5_3_expires_in_the_past_is_stale() -> None:
    """§5.3: an Expires at or before Date means already expired."""
    assert http.freshness_lifetime(200, H(date=date(T0), expires=date(T0 - 100))) == 0.0
    assert http.freshness_lifetime(200, H(date=date(T0), expires=date(T0))) == 0.0


@pytest.mark.parametrize("expires", ["0", "-1", "never", "Thu, 32 Foo 2024 99:00:00 GMT"])
def test_s5_3_invalid_expires_means_expired(expires: str) -> None:
    """§5.3: 'A cache recipient MUST interpret invalid date formats, especially the value "0",
    as representing a time in the past' — and no heuristic applies (Expires is explicit)."""
    response = H(date=date(T0), expires=expires, last_modified=date(T0 - 10_000))
    assert http.freshness_lifetime(200, response) == 0.0


def test_s5_3_expires_in_all_three_date_formats() -> None:
    """RFC 9110 §5.6.7: recipients accept IMF-fixdate, RFC 850 and asctime dates."""
    d = "Sun, 06 Nov 1994 08:49:37 GMT"
    for expires in (
        "Sun, 06 Nov 1994 08:50:37 GMT",
        "Sunday, 06-Nov-94 08:50:37 GMT",
        "Sun Nov  6 08:50:37 1994",
    ):
        assert http.freshness_lifetime(200, H(date=d, expires=expires)) == 60.0


def test_s4_2_2_heuristic_is_a_tenth_of_date_minus_last_modified() -> None:
    """§4.2.2: with Last-Modified, 'a typical setting of this fraction might be 10%'."""
    response = H(date=date(T0), last_modified=date(T0 - 1000))
    assert http.freshness_lifetime(200, response) == pytest.approx(100.0)
    assert http.freshness_lifetime(404, response) == pytest.approx(100.0)
    capped = H(date=date(T0), last_modified=date(T0 - 10 * 365 * 86400))
    assert http.freshness_lifetime(200, capped) == http.HEURISTIC_MAX


def test_s4_2_2_no_heuristic_without_last_modified_or_for_other_statuses() -> None:
    """§4.2.2: heuristics only for heuristically cacheable statuses (or 'public')."""
    response = H(date=date(T0), last_modified=date(T0 - 1000))
    assert http.freshness_lifetime(200, H(date=date(T0))) == 0.0
    assert http.freshness_lifetime(302, response) == 0.0
    assert http.freshness_lifetime(200, response, heuristic=False) == 0.0
    public = H(cache_control="public", date=date(T0), last_modified=date(T0 - 1000))
    assert http.freshness_lifetime(302, public) == pytest.approx(100.0)
    # Last-Modified after Date is nonsense: no heuristic lifetime
    assert http.freshness_lifetime(200, H(date=date(T0), last_modified=date(T0 + 5))) == 0.0


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "0x10", "+5"])
def test_s4_2_1_invalid_max_age_is_stale(value: str) -> None:
    """§4.2.1: 'caches are encouraged to consider responses that have invalid freshness
    information (e.g., a max-age directive with non-integer content) to be stale'."""
    assert http.freshness_lifetime(200, H(cache_control=f"max-age={value}")) == 0.0
    response = H(cache_control=f"s-maxage={value}, max-age=60")
    assert http.freshness_lifetime(200, response) == 0.0


def test_s1_2_2_huge_delta_seconds_saturate() -> None:
    """§1.2.2: a delta-seconds too large to represent is treated as 2^31."""
    assert http.delta_seconds("99999999999999999999") == 2**31
    assert http.freshness_lifetime(200, H(cache_control="max-age=99999999999999")) == 2**31


# ------------------------------------------------------------ §4.2.3 age


def test_s4_2_3_age_header_plus_response_delay() -> None:
    """§4.2.3: corrected_age_value = age_value + response_delay wins over apparent_age."""
    response = H(date=date(1000), age="10")
    clock = AgeClock.at_arrival(response, request_time=1005.0, response_time=1007.0)
    # apparent_age = 1007 - 1000 = 7; corrected_age_value = 10 + (1007 - 1005) = 12
    assert clock.corrected_initial_age == 12.0
    assert clock.current_age(1020.0) == 12.0 + 13.0  # + resident_time


def test_s4_2_3_apparent_age_from_date_wins_when_larger() -> None:
    """§4.2.3: apparent_age = max(0, response_time - date_value)."""
    clock = AgeClock.at_arrival(H(date=date(1000)), request_time=1029.0, response_time=1030.0)
    assert clock.corrected_initial_age == 30.0
    assert clock.current_age(1030.0) == 30.0


def test_s4_2_3_date_in_the_future_gives_no_negative_age() -> None:
    """§4.2.3: apparent_age is clamped at 0 (a fast origin clock)."""
    clock = AgeClock.at_arrival(H(date=date(2000)), request_time=1000.0, response_time=1000.5)
    assert clock.corrected_initial_age == 0.5  # just the response delay
    assert clock.current_age(1010.5) == 10.5


def test_s4_2_3_without_date_or_age_only_delay_and_residence_count() -> None:
    """§4.2.3 with no Date (the cache adds one, RFC 9110 §6.6.1) and no Age."""
    clock = AgeClock.at_arrival(Headers(), request_time=100.0, response_time=101.0)
    assert clock.corrected_initial_age == 1.0
    assert clock.current_age(111.0) == 11.0


@pytest.mark.parametrize(("age", "expected"), [("abc", 0.0), ("-3", 0.0), ("5, 7", 5.0)])
def test_s5_1_invalid_or_repeated_age(age: str, expected: float) -> None:
    """§5.1: Age is delta-seconds; invalid values are ignored, the first of a list used."""
    clock = AgeClock.at_arrival(H(age=age), request_time=50.0, response_time=50.0)
    assert clock.corrected_initial_age == expected


def test_s5_1_age_field_is_whole_seconds() -> None:
    """§5.1: Age is a non-negative integer number of seconds."""
    assert http.age_header(12.9) == "12"
    assert http.age_header(-0.5) == "0"


# ------------------------------------------------------------ §4 / §5.2.1 decide


def decide(age: float, lifetime: float, response_cc: str = "", **request: str) -> http.Decision:
    return http.decide(age, lifetime, cc(response_cc), H(**request))


def test_s4_2_fresh_when_lifetime_exceeds_age() -> None:
    """§4.2: response_is_fresh = (freshness_lifetime > current_age)."""
    assert decide(10, 60).action == "fresh"
    assert decide(60, 60).action == "revalidate"  # equal: no longer fresh
    assert decide(61, 60) == http.Decision("revalidate", "stale")


def test_s5_2_1_1_request_max_age() -> None:
    """§5.2.1.1: the client 'prefers a response whose age is less than or equal to' max-age."""
    assert decide(10, 60, cache_control="max-age=5") == http.Decision(
        "revalidate", "request-max-age"
    )
    assert decide(10, 60, cache_control="max-age=10").action == "fresh"
    assert decide(0.5, 60, cache_control="max-age=0").action == "revalidate"


def test_s5_2_1_3_request_min_fresh() -> None:
    """§5.2.1.3: the response must stay fresh for at least min-fresh more seconds."""
    assert decide(40, 60, cache_control="min-fresh=30") == http.Decision(
        "revalidate", "request-min-fresh"
    )
    assert decide(40, 60, cache_control="min-fresh=20").action == "fresh"


def test_s5_2_1_2_request_max_stale() -> None:
    """§5.2.1.2: the client accepts a response stale by at most max-stale (any, without a value)."""
    assert decide(70, 60, cache_control="max-stale=20") == http.Decision("fresh", "max-stale")
    assert decide(70, 60, cache_control="max-stale=5").action == "revalidate"
    assert decide(10_000, 60, cache_control="max-stale").action == "fresh"


@pytest.mark.parametrize("directive", ["must-revalidate", "proxy-revalidate", "s-maxage=60"])
def test_s5_2_2_2_must_revalidate_overrides_max_stale(directive: str) -> None:
    """§5.2.2.2 / §5.2.2.8 / §5.2.2.10: once stale, the response MUST NOT be used without
    validation — not even for a client's max-stale (s-maxage implies proxy-revalidate)."""
    assert decide(70, 60, directive, cache_control="max-stale=1000").action == "revalidate"
    assert decide(10, 60, directive).action == "fresh"


def test_s5_2_1_4_request_no_cache_revalidates_even_when_fresh() -> None:
    """§5.2.1.4: 'a cache MUST NOT use a stored response to satisfy the request without
    successful validation on the origin server'."""
    assert decide(0, 60, cache_control="no-cache") == http.Decision(
        "revalidate", "request-no-cache"
    )
    assert decide(0, 60, cache_control="NO-CACHE").action == "revalidate"


def test_s5_4_pragma_no_cache_only_without_cache_control() -> None:
    """§5.4: Pragma: no-cache acts as no-cache only when Cache-Control is absent."""
    assert decide(0, 60, pragma="no-cache").action == "revalidate"
    assert decide(0, 60, pragma="no-cache", cache_control="max-age=100").action == "fresh"


def test_s5_2_2_4_response_no_cache_always_revalidates() -> None:
    """§5.2.2.4: unqualified no-cache: never used without successful validation."""
    assert decide(0, 60, "no-cache, max-age=60") == http.Decision("revalidate", "response-no-cache")


def test_rfc5861_s3_stale_while_revalidate_window() -> None:
    """RFC 5861 §3: a response stale by at most the given seconds may be served while it is
    revalidated in the background; beyond that it must be revalidated first."""
    rcc = "max-age=60, stale-while-revalidate=10"
    assert decide(65, 60, rcc) == http.Decision("stale", "stale-while-revalidate")
    assert decide(70, 60, rcc).action == "stale"  # exactly at the edge
    assert decide(71, 60, rcc).action == "revalidate"
    assert decide(30, 60, rcc).action == "fresh"


def test_rfc5861_s3_swr_yields_to_must_revalidate_and_request_directives() -> None:
    """RFC 5861 §3 is 'subject to' RFC 9111: must-revalidate, s-maxage and the request's
    max-age still require validation first."""
    assert decide(65, 60, "max-age=60, must-revalidate, stale-while-revalidate=10").action == (
        "revalidate"
    )
    assert decide(65, 60, "s-maxage=60, stale-while-revalidate=10").action == "revalidate"
    swr = "max-age=60, stale-while-revalidate=10"
    assert decide(65, 60, swr, cache_control="max-age=0").action == "revalidate"


def test_rfc5861_s4_stale_if_error_from_response_or_request() -> None:
    """RFC 5861 §4: stale-if-error (response or request) allows a stale copy on an error while
    stale by at most its value."""
    req = Headers()
    assert http.may_serve_stale_on_error(90, 60, cc("max-age=60, stale-if-error=30"), req)
    assert not http.may_serve_stale_on_error(91, 60, cc("max-age=60, stale-if-error=30"), req)
    assert not http.may_serve_stale_on_error(61, 60, cc("max-age=60"), req)
    by_request = H(cache_control="stale-if-error=100")
    assert http.may_serve_stale_on_error(150, 60, cc("max-age=60"), by_request)
    assert not http.may_serve_stale_on_error(161, 60, cc("max-age=60"), by_request)


@pytest.mark.parametrize("directive", ["must-revalidate", "proxy-revalidate", "s-maxage=60"])
def test_s4_2_4_stale_if_error_never_overrides_must_revalidate(directive: str) -> None:
    """§4.2.4: a cache MUST NOT generate a stale response if prohibited by must-revalidate,
    proxy-revalidate or s-maxage (§5.2.2.2)."""
    rcc = cc(f"max-age=60, {directive}, stale-if-error=1000")
    assert not http.may_serve_stale_on_error(70, 60, rcc, Headers())


# ------------------------------------------------------------ §4.3 validation


def test_s4_3_1_conditional_request_carries_the_stored_validators() -> None:
    """§4.3.1: If-None-Match from ETag, If-Modified-Since from Last-Modified."""
    stored = H(etag='"v1"', last_modified=date(T0))
    assert http.conditional_headers(stored) == [
        ("If-None-Match", '"v1"'),
        ("If-Modified-Since", date(T0)),
    ]
    assert http.conditional_headers(Headers()) == []


def test_s4_3_4_a_304_updates_stored_fields() -> None:
    """§4.3.4 / §3.2: fields in the 304 replace the stored ones, except Content-Length (and the
    framing of the stored body) and hop-by-hop fields."""
    stored = H(
        ("Cache-Control", "max-age=1"),
        ("ETag", '"v1"'),
        ("Content-Length", "10"),
        ("Content-Encoding", "gzip"),
        ("X-Multi", "a"),
        ("X-Multi", "b"),
        ("X-Kept", "k"),
    )
    not_modified = H(
        ("Cache-Control", "max-age=100"),
        ("ETag", '"v1"'),
        ("Content-Length", "0"),
        ("Content-Encoding", "identity"),
        ("X-Multi", "c"),
        ("Connection", "close"),
        ("Keep-Alive", "timeout=1"),
        ("X-New", "n"),
    )
    updated = http.update_from_304(stored, not_modified)
    assert updated.get("cache-control") == "max-age=100"
    assert updated.get_all("x-multi") == ["c"]  # every line of a field is replaced
    assert updated.get("content-length") == "10"
    assert updated.get("content-encoding") == "gzip"
    assert updated.get("x-kept") == "k"
    assert updated.get("x-new") == "n"
    assert "connection" not in updated and "keep-alive" not in updated
    assert updated.get_all("etag") == ['"v1"']


def test_s4_3_4_304_selects_the_stored_response_by_strong_etag() -> None:
    """§4.3.4: a 304 whose ETag differs from the stored one does not freshen it."""
    stored = H(etag='"v1"')
    assert http.validators_match(stored, H(etag='"v1"'))
    assert not http.validators_match(stored, H(etag='"v2"'))
    assert http.validators_match(stored, Headers())
    assert http.validators_match(Headers(), H(etag='"v2"'))


def test_rfc9110_s13_1_2_if_none_match_uses_weak_comparison() -> None:
    """RFC 9110 §13.1.2: 'A recipient MUST use the weak comparison function when comparing
    entity tags for If-None-Match'."""
    strong, weak = H(etag='"abc"'), H(etag='W/"abc"')
    assert http.if_none_match_hit(H(if_none_match='"abc"'), strong)
    assert http.if_none_match_hit(H(if_none_match='W/"abc"'), strong)
    assert http.if_none_match_hit(H(if_none_match='"abc"'), weak)
    assert http.if_none_match_hit(H(if_none_match='"x", W/"abc" ,"y"'), strong)
    assert http.if_none_match_hit(H(if_none_match="*"), strong)
    assert not http.if_none_match_hit(H(if_none_match='"abd"'), strong)
    assert not http.if_none_match_hit(H(if_none_match='"a,b"'), H(etag='"a"'))
    assert not http.if_none_match_hit(H(if_none_match='"abc"'), Headers())
    assert not http.if_none_match_hit(Headers(), strong)


def test_rfc9110_s13_1_3_if_modified_since() -> None:
    """RFC 9110 §13.1.3: not modified when Last-Modified <= the date; ignored when the request
    has If-None-Match or the date is invalid."""
    stored = H(last_modified=date(T0))
    assert http.not_modified_since(H(if_modified_since=date(T0)), stored)
    assert http.not_modified_since(H(if_modified_since=date(T0 + 60)), stored)
    assert not http.not_modified_since(H(if_modified_since=date(T0 - 1)), stored)
    assert not http.not_modified_since(H(if_modified_since="yesterday"), stored)
    assert not http.not_modified_since(
        H(if_modified_since=date(T0), if_none_match='"other"'), stored
    )
    assert not http.not_modified_since(H(if_modified_since=date(T0)), Headers())


# ------------------------------------------------------------ RFC 9110 §14 ranges


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-9", [(0, 9)]),
        ("bytes=-10", [(90, 99)]),
        ("bytes=90-", [(90, 99)]),
        ("bytes=5-1000", [(5, 99)]),  # last-pos past the end is clamped (§14.1.2)
        ("bytes=-1000", [(0, 99)]),  # a suffix longer than the body is all of it
        ("bytes=0-0,-1", [(0, 0), (99, 99)]),
        ("bytes= 0-1 , 3-4", [(0, 1), (3, 4)]),
        ("BYTES=0-1", [(0, 1)]),  # range units are case-insensitive (§14.1)
        ("bytes=0-9,100-200", [(0, 9)]),  # unsatisfiable members are dropped
        ("bytes=0-1,,3-4,", [(0, 1), (3, 4)]),  # empty list members are ignored (§5.6.1.2)
    ],
)
def test_rfc9110_s14_1_satisfiable_ranges(value: str, expected: list[tuple[int, int]]) -> None:
    """RFC 9110 §14.1.2: int-range and suffix-range, inclusive positions."""
    assert http.parse_range(value, 100) == expected


@pytest.mark.parametrize("value", ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=200-,-0"])
def test_rfc9110_s14_1_1_unsatisfiable_ranges(value: str) -> None:
    """RFC 9110 §14.1.1: first-pos beyond the length, or a zero suffix → [] (416)."""
    assert http.parse_range(value, 100) == []


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "items=0-5",
        "bytes=",
        "bytes=,",
        "bytes=-",
        "bytes=abc",
        "bytes=5-2",
        "bytes=1-2-3",
        "bytes=5",
        "bytes=--5",  # not a suffix of -5 bytes
        "bytes=+1-5",
        "bytes=1-+5",
        "bytes=1_0-20",
        "bytes=0-9,x",  # one bad member invalidates the whole header
    ],
)
def test_rfc9110_s14_2_bad_syntax_or_unknown_unit_is_ignored(value: str | None) -> None:
    """RFC 9110 §14.2: 'A server MAY ignore the Range header field' — invalid ones → None."""
    assert http.parse_range(value, 100) is None


def test_rfc9110_s14_1_3_zero_length_representation() -> None:
    """RFC 9110 §14.1.1: with a zero-length representation no int-range is satisfiable; a
    suffix-range selects nothing, so the range is ignored (never a `0--1` range)."""
    assert http.parse_range("bytes=0-", 0) == []
    for value in ("bytes=-5", "bytes=0-0,-5"):
        assert http.parse_range(value, 0) is None


# ------------------------------------------------------------ §4.4 invalidation


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_s4_4_unsafe_method_success_invalidates_the_target(method: str) -> None:
    """§4.4: 'A cache MUST invalidate the target URI when it receives a non-error status code
    in response to an unsafe request method'."""
    assert http.invalidated_uris(method, 200, "/a?x=1", Headers()) == ["/a?x=1"]
    assert http.invalidated_uris(method, 303, "/a", Headers()) == ["/a"]


def test_s4_4_methods_of_unknown_safety_also_invalidate() -> None:
    """§4.4: '... in response to an unsafe request method (including methods whose safety is
    unknown)'; the safe ones (RFC 9110 §9.2.1) do not."""
    assert http.invalidated_uris("FROB", 200, "/a", Headers()) == ["/a"]
    for safe in ("GET", "HEAD", "OPTIONS", "TRACE"):
        assert http.invalidated_uris(safe, 200, "/a", Headers()) == []


def test_s4_4_errors_do_not_invalidate() -> None:
    """§4.4: only non-error statuses (2xx, 3xx) invalidate."""
    for status in (400, 404, 500, 503):
        assert http.invalidated_uris("POST", status, "/a", Headers()) == []


def test_s4_4_location_and_content_location_on_the_same_origin() -> None:
    """§4.4: the cache MAY invalidate Location / Content-Location URIs, but only same-origin."""
    response = H(location="/b", content_location="/c")
    assert http.invalidated_uris("POST", 201, "/a", response) == ["/a", "/b", "/c"]
    other = H(location="http://elsewhere.example/b")
    assert http.invalidated_uris("POST", 201, "/a", other) == ["/a"]


# ------------------------------------------------------------ RFC 9211 Cache-Status


def test_rfc9211_hit_member() -> None:
    """RFC 9211 §2.1/§2.7: `hit` is a boolean parameter, `ttl` an Integer (negative: stale)."""
    assert http.cache_status("syslab", hit=True, ttl=12) == "syslab; hit; ttl=12"
    assert http.cache_status("syslab", hit=True, ttl=-3) == "syslab; hit; ttl=-3"


def test_rfc9211_forward_members() -> None:
    """RFC 9211 §2.2–§2.5: fwd is a Token, fwd-status an Integer, stored/collapsed booleans."""
    assert (
        http.cache_status("syslab", fwd="uri-miss", fwd_status=200, stored=True)
        == "syslab; fwd=uri-miss; fwd-status=200; stored"
    )
    assert (
        http.cache_status("edge-1", fwd="stale", collapsed=True) == "edge-1; fwd=stale; collapsed"
    )
    assert http.cache_status("syslab", fwd="miss", stored=False, key=None) == "syslab; fwd=miss"


def test_rfc9211_detail_is_a_string() -> None:
    """RFC 9211 §2.8: detail is a String or Token; strings are quoted."""
    assert (
        http.cache_status("syslab", hit=True, detail="stale-while-revalidate")
        == 'syslab; hit; detail="stale-while-revalidate"'
    )
