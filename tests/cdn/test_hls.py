"""HLS/DASH parsing, the sans-I/O prefetcher, the VOD workload and the prefetch model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from syslab.cdn.hls import (
    MasterPlaylist,
    MediaPlaylist,
    Prefetcher,
    is_manifest,
    parse_iso_duration,
    parse_m3u8,
    parse_mpd,
)
from syslab.cdn.hls_workload import VodCatalog, make_vod, simulate_prefetch, viewers

HLS = "application/vnd.apple.mpegurl"

MASTER = """\ufeff#EXTM3U
#EXT-X-VERSION:6
## a comment, then a tag nobody knows
#EXT-X-FUTURE-TAG:FOO=1
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio/en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
360p/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="360p/iframes.m3u8"

#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720
https://cdn2.example.com/v1/720p/index.m3u8
"""

MEDIA = """#EXTM3U
#EXT-X-VERSION:4
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:100
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-KEY:METHOD=NONE
#EXTINF:6.006,first
seg100.ts
#EXT-X-DISCONTINUITY
#EXTINF:5.5,
/abs/seg101.ts
#EXTINF:6
https://other.example.com/seg102.ts
#EXT-X-BYTERANGE:1000@0
#EXTINF:2.0,
big.ts
#EXT-X-BYTERANGE:1000@1000
#EXTINF:2.0,
big.ts
#EXTINF:4.0,
seg105.ts?token=abc
#EXT-X-ENDLIST
"""

BASE = "http://origin.example.com/v1/360p/index.m3u8"


def media(n: int, *, start: int = 0, endlist: bool = True, prefix: str = "s") -> bytes:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:4", f"#EXT-X-MEDIA-SEQUENCE:{start}"]
    for k in range(start, start + n):
        lines += ["#EXTINF:4.0,", f"{prefix}{k}.ts"]
    if endlist:
        lines.append("#EXT-X-ENDLIST")
    return ("\n".join(lines) + "\n").encode()


# ---- M3U8 -----------------------------------------------------------------------------------


def test_master_playlist_variants_resolved_against_the_playlist_url() -> None:
    pl = parse_m3u8(MASTER, "http://origin.example.com/v1/master.m3u8")
    assert isinstance(pl, MasterPlaylist)
    assert [v.uri for v in pl.variants] == [
        "http://origin.example.com/v1/360p/index.m3u8",
        "https://cdn2.example.com/v1/720p/index.m3u8",
    ]
    assert pl.variants[0].bandwidth == 800_000
    assert pl.variants[0].resolution == (640, 360)
    assert pl.variants[0].codecs == "avc1.4d401e,mp4a.40.2"  # quoted comma kept
    assert pl.variants[1].codecs is None
    assert pl.media == ["http://origin.example.com/v1/audio/en.m3u8"]


def test_media_playlist_sequence_durations_uris_and_byteranges() -> None:
    pl = parse_m3u8(MEDIA, BASE)
    assert isinstance(pl, MediaPlaylist)
    assert pl.target_duration == 6
    assert pl.media_sequence == 100
    assert pl.endlist and not pl.live and pl.playlist_type == "VOD"
    assert [s.uri for s in pl.segments] == [
        "http://origin.example.com/v1/360p/seg100.ts",
        "http://origin.example.com/abs/seg101.ts",
        "https://other.example.com/seg102.ts",
        "http://origin.example.com/v1/360p/big.ts",
        "http://origin.example.com/v1/360p/big.ts",
        "http://origin.example.com/v1/360p/seg105.ts?token=abc",
    ]
    assert [s.sequence for s in pl.segments] == [100, 101, 102, 103, 104, 105]
    assert [s.duration for s in pl.segments] == [6.006, 5.5, 6.0, 2.0, 2.0, 4.0]
    assert pl.segments[0].title == "first"
    assert pl.segments[3].byterange == "1000@0" and pl.segments[0].byterange is None


def test_media_playlist_relative_to_a_bare_path_and_live() -> None:
    pl = parse_m3u8(media(3, start=7, endlist=False).decode(), "/live/ch1/index.m3u8")
    assert isinstance(pl, MediaPlaylist)
    assert pl.live and pl.media_sequence == 7
    assert [s.uri for s in pl.segments] == ["/live/ch1/s7.ts", "/live/ch1/s8.ts", "/live/ch1/s9.ts"]


def test_ext_x_map_is_recorded_per_segment() -> None:
    text = '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2,\na.m4s\n#EXTINF:2,\nb.m4s\n'
    pl = parse_m3u8(text, "/x/p.m3u8")
    assert isinstance(pl, MediaPlaylist)
    assert {s.map_uri for s in pl.segments} == {"/x/init.mp4"}


@pytest.mark.parametrize("text", ["", "   \n", "<html>nope</html>", "#EXTINF:4,\na.ts\n"])
def test_not_an_m3u8_raises_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not an M3U8"):
        parse_m3u8(text, "/a.m3u8")


def test_malformed_known_tag_names_the_line() -> None:
    with pytest.raises(ValueError, match="line 2: malformed #EXTINF"):
        parse_m3u8("#EXTM3U\n#EXTINF:abc,\na.ts\n", "/a.m3u8")


# ---- MPD ------------------------------------------------------------------------------------

MPD_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"
     mediaPresentationDuration="PT0H0M9.5S" minBufferTime="PT2S"
     profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period id="0">
    <AdaptationSet mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="1000" duration="2000" startNumber="1"
          initialization="$RepresentationID$/init.mp4"
          media="$RepresentationID$/$Bandwidth$/seg-$Number%03d$.m4s"/>
      <Representation id="v360" bandwidth="800000" width="640" height="360"/>
      <Representation id="v720" bandwidth="2800000" width="1280" height="720">
        <BaseURL>hd/</BaseURL>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""

MPD_LIST = """<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"
     mediaPresentationDuration="PT6S">
  <BaseURL>http://media.example.com/content/</BaseURL>
  <Period>
    <AdaptationSet mimeType="audio/mp4">
      <Representation id="a1" bandwidth="128000">
        <SegmentList duration="2">
          <Initialization sourceURL="a1/init.mp4"/>
          <SegmentURL media="a1/1.m4s"/>
          <SegmentURL media="a1/2.m4s"/>
          <SegmentURL media="a1/3.m4s"/>
        </SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""

MPD_TIMELINE = """<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" mediaPresentationDuration="PT8S">
  <Period><AdaptationSet>
    <SegmentTemplate timescale="10" media="t/$Time$.m4s">
      <SegmentTimeline><S t="0" d="20" r="2"/><S d="20"/></SegmentTimeline>
    </SegmentTemplate>
    <Representation id="r" bandwidth="1"/>
  </AdaptationSet></Period>
</MPD>
"""


def test_mpd_segment_template_number_bandwidth_representation_id() -> None:
    mpd = parse_mpd(MPD_TEMPLATE, "http://o.example.com/vod/manifest.mpd")
    assert mpd.duration == 9.5 and not mpd.dynamic
    lo, hi = mpd.representations
    assert (lo.id, lo.bandwidth, lo.width, lo.height, lo.mime_type) == (
        "v360",
        800_000,
        640,
        360,
        "video/mp4",
    )
    # 9.5 s of 2 s segments: 5 segments, numbered from startNumber.
    assert lo.segments == [
        f"http://o.example.com/vod/v360/800000/seg-{n:03d}.m4s" for n in range(1, 6)
    ]
    assert lo.init == "http://o.example.com/vod/v360/init.mp4"
    # The representation's BaseURL is resolved below the MPD's directory.
    assert hi.segments[0] == "http://o.example.com/vod/hd/v720/2800000/seg-001.m4s"


def test_mpd_segment_list_with_base_url() -> None:
    mpd = parse_mpd(MPD_LIST.encode(), "http://o.example.com/m.mpd")
    (rep,) = mpd.representations
    assert rep.init == "http://media.example.com/content/a1/init.mp4"
    assert rep.segments == [f"http://media.example.com/content/a1/{n}.m4s" for n in (1, 2, 3)]


def test_mpd_segment_timeline_with_time() -> None:
    (rep,) = parse_mpd(MPD_TIMELINE, "/m.mpd").representations
    assert rep.segments == ["/t/0.m4s", "/t/20.m4s", "/t/40.m4s", "/t/60.m4s"]


def test_mpd_without_namespace_is_accepted() -> None:
    text = MPD_TEMPLATE.replace(' xmlns="urn:mpeg:dash:schema:mpd:2011"', "")
    assert len(parse_mpd(text, "/m.mpd").representations[0].segments) == 5


@pytest.mark.parametrize(
    "text",
    [
        "not xml at all",
        "<html><body/></html>",
        '<MPD mediaPresentationDuration="PTxS"><Period/></MPD>',
        '<MPD mediaPresentationDuration="PT1S"><Period><AdaptationSet>'
        '<SegmentTemplate duration="0" media="$Number$"/><Representation id="a"/>'
        "</AdaptationSet></Period></MPD>",
        # A few bytes that would enumerate 10^9 URLs.
        '<MPD mediaPresentationDuration="PT1000000S"><Period><AdaptationSet>'
        '<SegmentTemplate timescale="1000" duration="1" media="$Number$"/>'
        '<Representation id="a"/></AdaptationSet></Period></MPD>',
        '<!DOCTYPE MPD [<!ENTITY a "aaaa">]><MPD>&a;</MPD>',
    ],
)
def test_malformed_mpd_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mpd(text, "/m.mpd")


def test_iso_durations() -> None:
    assert parse_iso_duration("PT1H2M3.5S") == 3723.5
    assert parse_iso_duration("P1DT1S") == 86401
    assert parse_iso_duration("PT0S") == 0
    for bad in ("", "P", "PT", "1S", "PT1X"):
        with pytest.raises(ValueError):
            parse_iso_duration(bad)


# ---- Prefetcher -----------------------------------------------------------------------------


def test_media_playlist_then_segments_prefetch_ahead_of_the_viewer() -> None:
    pf = Prefetcher(depth=3)
    assert pf.on_response("/v/p.m3u8", HLS, media(10), now=0) == [
        "/v/s0.ts",
        "/v/s1.ts",
        "/v/s2.ts",
    ]
    # s0..s2 were just issued; only the genuinely new one comes back.
    assert pf.on_response("/v/s0.ts", "video/mp2t", None, now=1) == ["/v/s3.ts"]
    assert pf.on_response("/v/s1.ts", "video/mp2t", None, now=2) == ["/v/s4.ts"]
    # Near the end of the VOD: fewer than depth remain.
    assert pf.on_response("/v/s8.ts", "video/mp2t", None, now=3) == ["/v/s9.ts"]
    assert pf.on_response("/v/s9.ts", "video/mp2t", None, now=4) == []


def test_next_k_after_a_segment_with_a_fresh_prefetcher_state() -> None:
    pf = Prefetcher(depth=2, dedup_seconds=0)
    pf.on_response("/v/p.m3u8", None, media(10), now=0)  # detected by suffix
    assert pf.on_response("/v/s4.ts", None, None, now=1) == ["/v/s5.ts", "/v/s6.ts"]


def test_no_duplicates_within_the_window_then_reissued_after_it() -> None:
    pf = Prefetcher(depth=2, dedup_seconds=10)
    first = pf.on_response("/v/p.m3u8", HLS, media(5), now=0)
    assert first == ["/v/s0.ts", "/v/s1.ts"]
    # Many viewers on the same playlist within the window: issued once.
    for t in range(1, 9):
        assert pf.on_response("/v/p.m3u8", HLS, media(5), now=t) == []
        assert pf.on_response("/v/s0.ts", None, None, now=t) in ([], ["/v/s2.ts"])
    assert pf.on_response("/v/p.m3u8", HLS, media(5), now=20) == first
    assert pf.stats["issued"] == 5


def test_a_learned_manifest_served_without_body_still_prefetches() -> None:
    pf = Prefetcher(depth=1, dedup_seconds=0)
    pf.on_response("/v/p.m3u8", HLS, media(3), now=0)
    assert pf.on_response("/v/p.m3u8", HLS, None, now=1) == ["/v/s0.ts"]


def test_live_playlist_prefetches_the_live_edge_and_follows_refreshes() -> None:
    pf = Prefetcher(depth=2)
    url = "/live/index.m3u8"
    assert pf.on_response(url, HLS, media(6, endlist=False), now=0) == [
        "/live/s4.ts",
        "/live/s5.ts",
    ]
    # The window slides by one: only the new edge segment is new.
    assert pf.on_response(url, HLS, media(6, start=1, endlist=False), now=4) == ["/live/s6.ts"]
    assert pf.on_response("/live/s5.ts", None, None, now=5) == []  # s6 issued already
    assert pf.on_response("/live/s0.ts", None, None, now=5) == []  # slid out: forgotten


def test_master_playlist_prefetches_nothing_unless_asked() -> None:
    body = MASTER.encode()
    assert Prefetcher().on_response("/v1/master.m3u8", HLS, body) == []
    pf = Prefetcher(master_prefetch=True)
    assert pf.on_response("/v1/master.m3u8", HLS, body) == [
        "/v1/360p/index.m3u8",
        "https://cdn2.example.com/v1/720p/index.m3u8",
        "/v1/audio/en.m3u8",
    ]


def test_byterange_playlist_issues_each_file_once() -> None:
    pf = Prefetcher(depth=3)
    urls = pf.on_response(BASE, HLS, MEDIA.encode(), now=0)
    assert urls == [
        "http://origin.example.com/v1/360p/seg100.ts",
        "http://origin.example.com/abs/seg101.ts",
        "https://other.example.com/seg102.ts",
    ]
    assert pf.on_response("https://other.example.com/seg102.ts", None, None, now=1) == [
        "http://origin.example.com/v1/360p/big.ts",
        "http://origin.example.com/v1/360p/seg105.ts?token=abc",
    ]


def test_fmp4_init_segment_comes_before_the_first_segment() -> None:
    text = b'#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n' + b"".join(
        b"#EXTINF:2,\n%d.m4s\n" % k for k in range(5)
    )
    pf = Prefetcher(depth=2, dedup_seconds=0)
    assert pf.on_response("/f/p.m3u8", HLS, text + b"#EXT-X-ENDLIST\n", now=0) == [
        "/f/init.mp4",
        "/f/0.m4s",
        "/f/1.m4s",
    ]
    assert pf.on_response("/f/2.m4s", None, None, now=1) == ["/f/3.m4s", "/f/4.m4s"]


def test_dash_representation_is_learned_and_its_init_reveals_the_choice() -> None:
    pf = Prefetcher(depth=2)
    url = "http://o.example.com/vod/manifest.mpd"
    assert pf.on_response(url, "application/dash+xml", MPD_TEMPLATE.encode(), now=0) == []
    base = "http://o.example.com/vod/v360"
    assert pf.on_response(f"{base}/init.mp4", "video/mp4", None, now=1) == [
        f"{base}/800000/seg-001.m4s",
        f"{base}/800000/seg-002.m4s",
    ]
    assert pf.on_response(f"{base}/800000/seg-002.m4s", None, None, now=2) == [
        f"{base}/800000/seg-003.m4s",
        f"{base}/800000/seg-004.m4s",
    ]
    inits = Prefetcher(master_prefetch=True).on_response(url, None, MPD_TEMPLATE.encode())
    assert inits == [f"{base}/init.mp4", "http://o.example.com/vod/hd/v720/init.mp4"]


def test_unknown_urls_and_plain_responses_give_nothing() -> None:
    pf = Prefetcher()
    assert pf.on_response("/nothing.ts", "video/mp2t", None) == []
    assert pf.on_response("/index.html", "text/html", b"<html></html>") == []
    assert pf.on_response("/img.png", None, b"\x89PNG") == []


@pytest.mark.parametrize(
    ("url", "ctype", "body"),
    [
        ("/a.m3u8", HLS, b"<html>502 Bad Gateway</html>"),
        ("/a.m3u8", HLS, b"\xff\xfe\x00garbage\x00" * 100),
        ("/a.m3u8", HLS, b"#EXTM3U\n#EXTINF:oops,\na.ts\n"),
        ("/a.m3u8", HLS, b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:NaN\n"),
        ("/a.m3u8", HLS, b""),
        ("/a.mpd", "application/dash+xml", b"<MPD><Period><Adapt"),
        ("/a.mpd", "application/dash+xml", b"\x00\x01\x02"),
        (
            "/a.mpd",
            None,
            b'<MPD mediaPresentationDuration="PT1S"><Period><AdaptationSet>'
            b'<SegmentTemplate timescale="0" duration="1" media="x"/><Representation id="a"/>'
            b"</AdaptationSet></Period></MPD>",
        ),
        (
            "/a.mpd",
            None,
            b"<MPD><Period><AdaptationSet><SegmentTemplate media='x'>"
            b"<SegmentTimeline><S r='2'/></SegmentTimeline></SegmentTemplate>"
            b"<Representation id='a'/></AdaptationSet></Period></MPD>",
        ),
        ("/a.mpd", None, bytearray(b"<MPD/>")),
        ("/a.m3u8", HLS, memoryview(b"#EXTM3U\n#EXTINF:1,\nx.ts\n#EXT-X-ENDLIST\n")),
    ],
)
def test_garbage_bodies_never_raise(url: str, ctype: str | None, body: bytes) -> None:
    pf = Prefetcher()
    out = pf.on_response(url, ctype, body)
    assert isinstance(out, list)
    assert all(isinstance(u, str) for u in out)


def test_garbage_counted_and_a_good_playlist_forgotten_when_it_turns_bad() -> None:
    pf = Prefetcher(depth=1, dedup_seconds=0)
    pf.on_response("/v/p.m3u8", HLS, media(3), now=0)
    assert pf.on_response("/v/s0.ts", None, None, now=1) == ["/v/s1.ts"]
    assert pf.on_response("/v/p.m3u8", HLS, b"<html>oops</html>", now=2) == []
    assert pf.stats["parse_errors"] == 1
    assert pf.on_response("/v/s0.ts", None, None, now=3) == []


def test_memory_is_bounded_lru_by_playlists_and_segments() -> None:
    pf = Prefetcher(depth=1, max_playlists=3, dedup_seconds=0)
    for i in range(10):
        pf.on_response(f"/v{i}/p.m3u8", HLS, media(5), now=i)
    assert pf.stats["playlists"] == 3 and pf.stats["segments"] == 15
    assert pf.on_response("/v0/s0.ts", None, None, now=20) == []  # evicted
    assert pf.on_response("/v9/s0.ts", None, None, now=20) == ["/v9/s1.ts"]

    # Using a playlist's segments keeps it (LRU, not FIFO).
    pf = Prefetcher(depth=1, max_playlists=2, dedup_seconds=0)
    pf.on_response("/a/p.m3u8", HLS, media(5), now=0)
    pf.on_response("/b/p.m3u8", HLS, media(5), now=1)
    pf.on_response("/a/s1.ts", None, None, now=2)
    pf.on_response("/c/p.m3u8", HLS, media(5), now=3)
    assert pf.on_response("/a/s1.ts", None, None, now=4) == ["/a/s2.ts"]
    assert pf.on_response("/b/s1.ts", None, None, now=4) == []

    pf = Prefetcher(depth=1, max_segments=12, dedup_seconds=0)
    for i in range(4):
        pf.on_response(f"/v{i}/p.m3u8", HLS, media(5), now=i)
    assert pf.stats["segments"] <= 12 and pf.stats["playlists"] == 2
    assert pf.on_response("/big/p.m3u8", HLS, media(13), now=9) == []  # too big alone
    assert pf.stats["playlists"] == 2

    pf = Prefetcher(depth=1, max_recent=4, dedup_seconds=1e9)
    pf.on_response("/v/p.m3u8", HLS, media(100), now=0)
    for k in range(50):
        pf.on_response(f"/v/s{k}.ts", None, None, now=k)
    assert pf.stats["recent"] <= 4


def test_is_manifest_by_type_and_suffix() -> None:
    assert is_manifest("/x", "application/vnd.apple.mpegurl; charset=utf-8")
    assert is_manifest("/x", "audio/mpegurl")
    assert is_manifest("/x", "application/dash+xml")
    assert is_manifest("/a/b.M3U8?tok=1", None)
    assert is_manifest("/a/b.mpd", "application/octet-stream")
    assert not is_manifest("/a/b.ts", "video/mp2t")


# ---- workload -------------------------------------------------------------------------------


def test_make_vod_writes_a_parseable_deterministic_tree(tmp_path: Path) -> None:
    cat = make_vod(tmp_path / "a", n_videos=2, n_segments=3, renditions=2, segment_bytes=1000)
    make_vod(tmp_path / "b", n_videos=2, n_segments=3, renditions=2, segment_bytes=1000)

    def digest(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert a == b and len(a) == 2 * (1 + 2 * (1 + 3))
    seg = tmp_path / "a/v0001/360p/seg00002.ts"
    assert seg.stat().st_size == 1000
    assert seg.read_bytes() == cat.fetch("/v0001/360p/seg00002.ts")
    assert seg.read_bytes() != (tmp_path / "a/v0001/360p/seg00001.ts").read_bytes()

    master = parse_m3u8((tmp_path / "a/v0000/master.m3u8").read_text(), cat.master_url(0))
    assert isinstance(master, MasterPlaylist)
    assert [v.uri for v in master.variants] == [cat.playlist_url(0, 0), cat.playlist_url(0, 1)]
    pl = parse_m3u8((tmp_path / "a/v0000/240p/index.m3u8").read_text(), cat.playlist_url(0, 0))
    assert isinstance(pl, MediaPlaylist) and pl.endlist
    assert [s.uri for s in pl.segments] == [cat.segment_url(0, 0, k) for k in range(3)]


def test_catalog_origin_and_urls() -> None:
    cat = VodCatalog.create(3, 4, ["lo", "hi"], [10, 20], base_url="http://127.0.0.1:8080/")
    assert cat.segment_url(2, 1, 3) == "http://127.0.0.1:8080/v0002/hi/seg00003.ts"
    assert cat.size(cat.segment_url(2, 1, 3)) == 20
    assert cat.fetch(cat.segment_url(2, 0, 0)) is not None
    for missing in ("/v0003/master.m3u8", "/v0000/mid/index.m3u8", "/v0000/lo/seg00004.ts", "/x"):
        assert cat.fetch(missing) is None
    with pytest.raises(ValueError):
        VodCatalog.create(1, 1, ["a", "b"], [1])


def test_viewers_are_deterministic_sequential_and_time_ordered() -> None:
    cat = VodCatalog.create(20, 10, 3)
    a = list(viewers(50, cat, seed=3, abandon_fraction=0.3, time_scale=0.5))
    assert a == list(viewers(50, cat, seed=3, abandon_fraction=0.3, time_scale=0.5))
    assert a != list(viewers(50, cat, seed=4, abandon_fraction=0.3, time_scale=0.5))
    assert [r.time for r in a] == sorted(r.time for r in a)
    by_viewer: dict[int, list] = {}
    for r in a:
        by_viewer.setdefault(r.viewer, []).append(r)
    assert len(by_viewer) == 50
    lengths = set()
    for reqs in by_viewer.values():
        assert reqs[0].url.endswith("master.m3u8") and reqs[1].url.endswith("index.m3u8")
        segs = [r.url for r in reqs[2:]]
        video_dir = reqs[1].url.rsplit("/", 1)[0]
        assert segs == [f"{video_dir}/seg{k:05d}.ts" for k in range(len(segs))]
        gaps = {round(y.time - x.time, 6) for x, y in zip(reqs[2:], reqs[3:], strict=False)}
        assert gaps <= {2.0}  # real-time pace, 4 s segments at time_scale 0.5
        lengths.add(len(segs))
    assert 10 in lengths and min(lengths) < 10  # some watch to the end, some abandon
    # Zipf: the most popular video gets the most viewers.
    firsts = [reqs[0].url for reqs in by_viewer.values()]
    assert max(set(firsts), key=firsts.count) == cat.master_url(0)


# ---- model ----------------------------------------------------------------------------------


def test_prefetch_lifts_first_byte_hit_ratio_above_90_percent() -> None:
    cat = VodCatalog.create(n_videos=100, n_segments=20, renditions=3, segment_bytes=16 * 1024)
    sched = list(viewers(100, cat, seed=7))
    for depth in (2, 3):
        r = simulate_prefetch(sched, depth=depth, fetch_delay=0.2, origin=cat.fetch)
        assert r["hit_ratio"] >= 0.9, r
        assert r["hit_ratio_no_prefetch"] < 0.5, r
        # What prefetch costs: a little more origin traffic, only past the abandon points.
        assert r["wasted_prefetch_bytes"] <= depth * 100 * 3 * 16 * 1024
        assert r["origin_bytes"] <= 1.05 * r["origin_bytes_no_prefetch"]
    base = simulate_prefetch(sched, depth=0, fetch_delay=0.2, origin=cat.fetch)
    assert base["hit_ratio"] == base["hit_ratio_no_prefetch"] and base["prefetches"] == 0


def test_in_flight_prefetches_count_as_misses_so_depth_must_cover_the_fetch_delay() -> None:
    cat = VodCatalog.create(n_videos=100, n_segments=20, renditions=3, segment_bytes=1024)
    sched = list(viewers(100, cat, seed=7))
    # A 6 s origin fetch for 4 s segments: one segment ahead arrives too late.
    shallow = simulate_prefetch(sched, depth=1, fetch_delay=6.0, origin=cat.fetch)
    deep = simulate_prefetch(sched, depth=2, fetch_delay=6.0, origin=cat.fetch)
    assert shallow["hit_ratio"] < 0.5 < 0.9 <= deep["hit_ratio"]
    assert shallow["late"] > deep["late"]


def test_a_cache_too_small_for_the_lookahead_wastes_prefetches() -> None:
    cat = VodCatalog.create(n_videos=50, n_segments=30, renditions=3, segment_bytes=1000)
    sched = list(viewers(200, cat, seed=1))
    roomy = simulate_prefetch(sched, 3, 0.1, 10_000_000, origin=cat.fetch)
    tiny = simulate_prefetch(sched, 3, 0.1, 400 * 1000, origin=cat.fetch)
    assert roomy["hit_ratio"] >= 0.9
    assert tiny["wasted_prefetch_bytes"] > 10 * roomy["wasted_prefetch_bytes"]
    assert tiny["hit_ratio"] < roomy["hit_ratio"]
