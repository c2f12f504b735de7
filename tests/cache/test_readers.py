"""Trace readers: every format from small files, bad files as one TraceError, real traces."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from syslab.cache.trace import Trace, TraceError
from syslab.cache.workloads import FORMATS, detect_format, read_trace, shared_traces
from syslab.cache.workloads.readers import ORACLE_DTYPE, trace_name, write_oracle, write_txt
from syslab.common.data import lab_data

COMPRESSORS = {
    "": lambda b: b,
    ".gz": gzip.compress,
    ".xz": lzma.compress,
    ".bz2": bz2.compress,
    ".zst": lambda b: zstandard.ZstdCompressor().compress(b),
}


def write(path: Path, data: bytes | str) -> Path:
    """Write `data`, compressed as the file name's suffix says."""
    raw = data.encode() if isinstance(data, str) else data
    for suffix, compress in COMPRESSORS.items():
        if suffix and path.name.endswith(suffix):
            raw = compress(raw)
    path.write_bytes(raw)
    return path


def oracle_bytes(ids: list[int], sizes: list[int]) -> bytes:
    records = np.zeros(len(ids), dtype=ORACLE_DTYPE)
    records["id"], records["size"], records["next"] = ids, sizes, -1
    return records.tobytes()


def keys(trace: Trace) -> list[int]:
    return trace.keys.tolist()


# --- formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", list(COMPRESSORS))
def test_oracle_with_every_compression(tmp_path: Path, suffix: str) -> None:
    path = write(
        tmp_path / f"t.oracleGeneral.bin{suffix}", oracle_bytes([7, 2**63 + 5, 7], [100, 4096, 100])
    )
    trace = read_trace(path)
    assert keys(trace) == [7, 2**63 + 5, 7]
    assert trace.sizes.tolist() == [100, 4096, 100]
    assert trace.name == "t"
    assert trace.meta["format"] == "oracle"


@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_lis_expands_runs_of_blocks(tmp_path: Path, suffix: str) -> None:
    path = write(tmp_path / f"OLTP.lis{suffix}", "100 3 0 0\n7 1 0 1\n\n50 2 0 2\n")
    trace = read_trace(path)
    assert keys(trace) == [100, 101, 102, 7, 50, 51]
    assert trace.sizes is None
    assert trace.name == "OLTP"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**40), st.integers(1, 20)), min_size=1, max_size=30))
def test_lis_matches_a_naive_expansion(
    tmp_path_factory: pytest.TempPathFactory, runs: list[tuple[int, int]]
) -> None:
    path = tmp_path_factory.mktemp("lis") / "x.lis"
    path.write_text("".join(f"{start} {n} 0 {i}\n" for i, (start, n) in enumerate(runs)))
    assert keys(read_trace(path)) == [start + j for start, n in runs for j in range(n)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=50))
def test_txt_round_trips_any_uint64(
    tmp_path_factory: pytest.TempPathFactory, values: list[int]
) -> None:
    path = tmp_path_factory.mktemp("txt") / "x.txt"
    write_txt(Trace("t", np.array(values, dtype=np.uint64)), path)
    assert keys(read_trace(path)) == values


def test_lirs_skips_star_markers_and_crlf(tmp_path: Path) -> None:
    path = write(tmp_path / "lirs_x.trace.gz", "1\r\n2\r\n*\r\n3\r\n\r\n1\r\n")
    assert keys(read_trace(path)) == [1, 2, 3, 1]
    assert detect_format(path) == "lirs"


@pytest.mark.parametrize("suffix", ["", ".xz"])
def test_cache2k_big_endian_int32(tmp_path: Path, suffix: str) -> None:
    raw = np.array([1, 70000, -1, 1], dtype=">i4").tobytes()
    trace = read_trace(write(tmp_path / f"cache2k_web.trace{suffix}", raw))
    assert keys(trace) == [1, 70000, 2**64 - 1, 1]
    assert trace.n_unique == 3


def test_trace_xz_is_cache2k_and_trace_gz_is_lirs(tmp_path: Path) -> None:
    assert detect_format(tmp_path / "web07.trace.xz") == "cache2k"
    assert detect_format(tmp_path / "multi2.trace.gz") == "lirs"


def test_txt_integers_strings_and_sizes(tmp_path: Path) -> None:
    assert keys(read_trace(write(tmp_path / "a.txt", "5\n6\n\n5\n"))) == [5, 6, 5]
    words = read_trace(write(tmp_path / "b.txt.bz2", "apple\n7\napple\npear\n"))
    k = keys(words)
    assert k[0] == k[2] and len(set(k)) == 3 and words.sizes is None
    sized = read_trace(write(tmp_path / "c.txt", "1 100\n2 200\n1 100\n"))
    assert keys(sized) == [1, 2, 1] and sized.sizes.tolist() == [100, 200, 100]


def test_string_hashing_is_stable(tmp_path: Path) -> None:
    one = read_trace(write(tmp_path / "a.txt", "x\ny\n"))
    two = read_trace(write(tmp_path / "b.txt", "y\nx\n"))
    assert keys(one) == keys(two)[::-1]


def test_csv_by_name_index_and_auto(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "time,op,size,lbn\n1,r,512,10\n2,w,1024,11\n3,r,512,10\n")
    auto = read_trace(path)
    assert keys(auto) == [10, 11, 10] and auto.sizes.tolist() == [512, 1024, 512]
    by_name = read_trace(path, key_column="time", size_column="SIZE")
    assert keys(by_name) == [1, 2, 3] and by_name.sizes.tolist() == [512, 1024, 512]
    by_index = read_trace(path, "csv", key_column=1)
    assert by_index.keys[0] == by_index.keys[2] != by_index.keys[1]  # hashed strings
    assert by_index.sizes.tolist() == [512, 1024, 512]


def test_csv_with_quoted_cells(tmp_path: Path) -> None:
    trace = read_trace(write(tmp_path / "q.csv", 'url,bytes\n"a,b",5\nc,6\n"a,b",5\n'))
    k = keys(trace)
    assert k[0] == k[2] != k[1] and trace.sizes.tolist() == [5, 6, 5]


def test_csv_without_size_column(tmp_path: Path) -> None:
    trace = read_trace(write(tmp_path / "t.csv.gz", "obj_id,ts\n3,1\n4,2\n"))
    assert keys(trace) == [3, 4] and trace.sizes is None


def test_tencent_key_is_photo_format_and_size_class(tmp_path: Path) -> None:
    text = (
        "20160201164604 abcd 5 m 100 1 PHONE 1\n"
        "20160201164604 abcd 5 b 300 1 PHONE 1\n"
        "20160201164605 abcd 0 m 120 1 PHONE 1\n"
        "20160201164606 abcd 5 m 100 0 PHONE 1\n"
    )
    trace = read_trace(write(tmp_path / "tencent_photo.txt.bz2", text))
    k = keys(trace)
    assert k[0] == k[3] and len(set(k)) == 3
    assert trace.sizes.tolist() == [100, 300, 120, 100]


def test_msr_with_and_without_header(tmp_path: Path) -> None:
    rows = "128166385295514663,hm,0,Write,9056014336,2048,2833\n1281,hm,0,Read,512,4096,10\n"
    bare = read_trace(write(tmp_path / "cambridge.csv", rows))
    assert bare.meta["format"] == "msr"
    assert keys(bare) == [9056014336, 512] and bare.sizes.tolist() == [2048, 4096]
    header = "Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\n"
    headed = read_trace(write(tmp_path / "other.csv", header + rows))
    assert keys(headed) == keys(bare)


def test_limit_reads_only_the_first_requests(tmp_path: Path) -> None:
    lines = "".join(f"{i}\n" for i in range(100_000))
    assert keys(read_trace(write(tmp_path / "lirs_big.trace.gz", lines), limit=3)) == [0, 1, 2]
    lis = read_trace(write(tmp_path / "x.lis", "10 5 0 0\n20 5 0 1\n"), limit=7)
    assert keys(lis) == [10, 11, 12, 13, 14, 20, 21]
    oracle = write(tmp_path / "o.oracleGeneral.bin", oracle_bytes([1, 2, 3], [1, 1, 1]))
    assert keys(read_trace(oracle, limit=2)) == [1, 2]
    csv_path = write(tmp_path / "t.csv", "key\n" + lines)
    assert keys(read_trace(csv_path, limit=2)) == [0, 1]


def test_name_override_and_default_names() -> None:
    assert trace_name("arc_OLTP.lis.zst") == "arc_OLTP"
    assert trace_name("cloudPhysicsIO.oracleGeneral.bin") == "cloudPhysicsIO"
    assert trace_name("lirs_multi2.trace.gz") == "lirs_multi2"
    assert trace_name("cache2k_web07.trace.xz") == "cache2k_web07"
    assert trace_name("tencent_photo_cdn_sample.txt.bz2") == "tencent_photo_cdn_sample"


def test_every_format_name_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "plain", "1 2 3 4\n")
    for fmt in ("lis", "lirs", "txt"):
        assert fmt in FORMATS
    assert keys(read_trace(path, "lis", name="n")) == [1, 2]


# --- writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".zst"])
def test_write_oracle_round_trip(tmp_path: Path, suffix: str) -> None:
    trace = Trace("t", np.array([5, 6, 5, 7, 6]), np.array([10, 20, 10, 30, 20]))
    path = tmp_path / f"t.oracleGeneral.bin{suffix}"
    write_oracle(trace, path)
    back = read_trace(path)
    assert keys(back) == keys(trace) and back.sizes.tolist() == trace.sizes.tolist()
    raw = (
        path.read_bytes()
        if not suffix
        else zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    )
    # libCacheSim's next is the 1-based virtual time of the next request to the key
    assert np.frombuffer(raw, ORACLE_DTYPE)["next"].tolist() == [3, 5, -1, -1, -1]


def test_write_txt_round_trip(tmp_path: Path) -> None:
    plain = Trace("t", np.array([3, 1, 3]))
    write_txt(plain, tmp_path / "a.txt")
    assert keys(read_trace(tmp_path / "a.txt")) == [3, 1, 3]
    sized = Trace("t", np.array([3, 1]), np.array([8, 9]))
    write_txt(sized, tmp_path / "b.txt.gz")
    assert read_trace(tmp_path / "b.txt.gz").sizes.tolist() == [8, 9]


# --- bad input: one TraceError naming the file -----------------------------------------------


def assert_trace_error(path: Path, *needles: str, **kwargs: object) -> None:
    with pytest.raises(TraceError) as info:
        read_trace(path, **kwargs)
    message = str(info.value)
    assert path.name in message and "\n" not in message
    for needle in needles:
        assert needle in message, message


def test_truncated_oracle(tmp_path: Path) -> None:
    path = write(tmp_path / "t.oracleGeneral.bin", oracle_bytes([1, 2], [1, 1])[:-5])
    assert_trace_error(path, "43 bytes", "truncated")


def test_truncated_cache2k(tmp_path: Path) -> None:
    path = write(tmp_path / "cache2k_x.trace.xz", b"\x00\x00\x00\x01\x00\x02")
    assert_trace_error(path, "6 bytes")


@pytest.mark.parametrize("suffix", [".gz", ".zst", ".xz", ".bz2"])
def test_corrupt_compressed_data(tmp_path: Path, suffix: str) -> None:
    good = COMPRESSORS[suffix](b"".join(b"%d\n" % i for i in range(1000)))
    path = tmp_path / f"lirs_bad.trace{suffix}"
    path.write_bytes(good[: len(good) // 2])  # truncated stream
    assert_trace_error(path, "corrupt")
    path.write_bytes(b"this is not compressed at all" * 10)
    assert_trace_error(path, "corrupt")


def test_missing_csv_column(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "time,lbn\n1,2\n")
    assert_trace_error(path, "no column 'obj'", "time, lbn", key_column="obj")
    assert_trace_error(path, "no column 7", key_column=7)


def test_csv_without_recognisable_key(tmp_path: Path) -> None:
    assert_trace_error(write(tmp_path / "t.csv", "a,b\n1,2\n"), "key")


def test_unknown_format_name(tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", "1\n")
    assert_trace_error(path, "unknown trace format 'parquet'", "lirs", fmt="parquet")


def test_undetectable_format_suggests_flag(tmp_path: Path) -> None:
    assert_trace_error(write(tmp_path / "mystery.dat", "1\n"), "--format")


@pytest.mark.parametrize(
    "name",
    [
        "e.txt",
        "e.oracleGeneral.bin",
        "lirs_e.trace.gz",
        "e.csv",
        "e.lis",
        "cache2k_e.trace.xz",
        "tencent_e.txt",
    ],
)
def test_empty_file(tmp_path: Path, name: str) -> None:
    assert_trace_error(write(tmp_path / name, ""), "empty")


def test_header_only_csv_is_empty(tmp_path: Path) -> None:
    assert_trace_error(write(tmp_path / "t.csv", "key,size\n"), "empty")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert_trace_error(tmp_path / "nothere.txt", "no such file")
    (tmp_path / "adir.txt").mkdir()
    assert_trace_error(tmp_path / "adir.txt", "directory")


def test_garbage_lines_name_the_line(tmp_path: Path) -> None:
    assert_trace_error(write(tmp_path / "lirs_g.trace", "1\n2\nfoo\n3\n"), ":3:", "foo")
    assert_trace_error(write(tmp_path / "g.lis", "1 2 0 0\n1 2 0\n"), ":2:")
    assert_trace_error(write(tmp_path / "h.lis", "1 2 0 0\n1 x 0 1\n"), ":2:")
    assert_trace_error(write(tmp_path / "g.txt", "1 5\n2\n"), ":2:")
    assert_trace_error(write(tmp_path / "s.txt", "1 5\n2 big\n"), "big")
    assert_trace_error(write(tmp_path / "tencent_g.txt", "1 abcd 5 m\n"), ":1:")


def test_huge_decimal_keys_are_exact(tmp_path: Path) -> None:
    big = 2**64 - 2
    trace = read_trace(write(tmp_path / "lirs_big.trace", f"{big}\n9223372036854775807\n5\n"))
    assert keys(trace) == [big, 2**63 - 1, 5]


# --- the real traces -------------------------------------------------------------------------

REAL = {  # file: (requests, distinct keys), from the data README
    "cloudPhysicsIO.oracleGeneral.bin": (113_872, 48_974),
    "cloudPhysicsIO.csv": (113_872, 48_974),
    "arc_OLTP.lis.zst": (914_145, 186_880),
    "lirs_multi2.trace.gz": (26_311, 5_684),
    "lirs_cs.trace.gz": (6_781, 1_409),
    "lirs_gli.trace.gz": (6_015, 2_529),
    "lirs_2_pools.trace.gz": (100_000, 9_939),
    "lirs_loop.trace.gz": (505_500, 1_011),
    "cache2k_web07.trace.xz": (76_118, 20_484),
    # The README lists 9,542 objects, which is the count of (photo, format) pairs; its own key
    # rule (photo, format, size class) -- which we follow -- gives 9,694 on this sample.
    "tencent_photo_cdn_sample.txt.bz2": (10_000, 9_694),
    # The README's 698 objects count 4 KiB pages; key = Offset, as specified, gives 713.
    "msr_cambridge1_sample.csv": (1_000, 713),
}


@pytest.fixture(scope="module")
def data_dir() -> Path:
    root = lab_data("cache")
    if root is None:
        pytest.skip("no real cache traces (set SYSLAB_DATA)")
    return root


@pytest.mark.parametrize("filename", list(REAL))
def test_real_trace_counts(data_dir: Path, filename: str) -> None:
    path = data_dir / filename
    if not path.exists():
        pytest.skip(f"{filename} not in the data folder")
    trace = read_trace(path)
    assert (len(trace), trace.n_unique) == REAL[filename]


def test_cloudphysics_bin_and_csv_are_the_same_trace(data_dir: Path) -> None:
    binary = read_trace(data_dir / "cloudPhysicsIO.oracleGeneral.bin")
    text = read_trace(data_dir / "cloudPhysicsIO.csv")
    assert np.array_equal(binary.keys, text.keys)
    assert binary.name == text.name == "cloudPhysicsIO"


def test_cloudphysics_oracle_round_trips_byte_for_byte(data_dir: Path, tmp_path: Path) -> None:
    path = data_dir / "cloudPhysicsIO.oracleGeneral.bin"
    raw = path.read_bytes()
    records = np.frombuffer(raw, ORACLE_DTYPE)
    out = tmp_path / "copy.oracleGeneral.bin"
    write_oracle(read_trace(path), out, timestamps=records["ts"])
    assert np.array_equal(np.frombuffer(out.read_bytes(), ORACLE_DTYPE)["next"], records["next"])
    assert out.read_bytes() == raw


def test_shared_traces_lists_each_trace_once(data_dir: Path) -> None:
    names = [p.name for p in shared_traces()]
    assert "cloudPhysicsIO.oracleGeneral.bin" in names
    assert "cloudPhysicsIO.csv" not in names
    assert not any("license" in n.lower() or "readme" in n.lower() for n in names)
    assert "tencent_photo_cdn_sample.txt.bz2" in [p.name for p in shared_traces(samples=True)]
    for path in shared_traces():
        detect_format(path)  # every listed file has a known format
