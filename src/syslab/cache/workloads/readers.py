"""Trace readers: every supported file format becomes one `Trace`, or one `TraceError`.

Parsing is vectorized (numpy over the whole decompressed buffer) because the biggest shared
trace, arc_P6, expands to 12.7 M requests and should load in a few seconds. Slow per-line code
only runs to find *where* a file is broken, so the error can name the line.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import lzma
import re
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import zstandard

from syslab.cache.trace import Trace, TraceError
from syslab.common.data import lab_files

FORMATS = ("oracle", "csv", "txt", "lis", "lirs", "cache2k", "tencent", "msr")

COMPRESSIONS = (".gz", ".xz", ".zst", ".bz2")
# Suffixes stripped from a file name to get the trace's name (arc_OLTP.lis.zst -> arc_OLTP).
_FORMAT_SUFFIXES = (".oraclegeneral", ".bin", ".lis", ".trace", ".txt", ".csv", ".dat")

ORACLE_DTYPE = np.dtype([("ts", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])

# Column names a CSV trace commonly uses, best guess first.
KEY_COLUMNS = (
    "key",
    "obj_id",
    "object_id",
    "objid",
    "id",
    "lbn",
    "lba",
    "block",
    "blkno",
    "offset",
    "address",
    "addr",
    "page",
    "url",
)
SIZE_COLUMNS = (
    "size",
    "obj_size",
    "object_size",
    "bytes",
    "req_size",
    "request_size",
    "length",
    "len",
    "return_size",
)
MSR_COLUMNS = ("timestamp", "hostname", "disknumber", "type", "offset", "size", "responsetime")

_DECOMPRESS_ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error, zstandard.ZstdError)
_INT_TOKEN = re.compile(rb"[+-]?\d+")
_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------------
# Public API


def read_trace(
    path: Path | str,
    fmt: str | None = None,
    *,
    key_column: str | int | None = None,
    size_column: str | int | None = None,
    name: str | None = None,
    limit: int | None = None,
) -> Trace:
    """Read a trace file (optionally .gz/.xz/.zst/.bz2) of format `fmt`, guessed if None.

    `key_column`/`size_column` pick CSV columns by name or 0-based index; `limit` keeps only
    the first `limit` requests (and reads little more than that from the file).
    """
    path = Path(path)
    _check_file(path)
    if limit is not None and limit < 1:
        raise TraceError(f"{path}: limit must be at least 1, got {limit}")
    fmt = detect_format(path) if fmt is None else fmt.lower()
    if fmt not in _PARSERS:
        raise TraceError(
            f"{path}: unknown trace format {fmt!r} (choose one of {', '.join(FORMATS)})"
        )
    if fmt == "csv":
        keys, sizes = _parse_csv(path, limit, key_column, size_column)
    else:
        keys, sizes = _PARSERS[fmt](path, limit)
    if limit is not None:
        keys = keys[:limit]
        sizes = None if sizes is None else sizes[:limit]
    if len(keys) == 0:
        raise TraceError(f"{path}: trace is empty (no requests)")
    if sizes is not None and (sizes < 0).any():
        raise TraceError(f"{path}: negative object size {int(sizes.min())}")
    meta = {"format": fmt, "path": str(path)}
    return Trace(name or trace_name(path), keys, sizes, meta)


def detect_format(path: Path | str) -> str:
    """The format a trace file's name (and, for CSV, its header) says it has."""
    path = Path(path)
    base, compression = _split_compression(path.name)
    low = base.lower()
    if "oraclegeneral" in low or low.endswith(".bin"):
        return "oracle"
    if low.endswith(".lis"):
        return "lis"
    for prefix in ("cache2k", "lirs", "tencent", "msr"):
        if low.startswith(prefix):
            return prefix
    if low.endswith(".trace"):
        return "cache2k" if compression == ".xz" else "lirs"  # the caffeine simulator's layout
    if low.endswith(".csv"):
        return "msr" if _looks_like_msr(path) else "csv"
    if low.endswith(".txt"):
        return "txt"
    raise TraceError(
        f"{path}: cannot tell the trace format from the file name; "
        f"pass --format ({', '.join(FORMATS)})"
    )


def trace_name(path: Path | str) -> str:
    """A file's name without compression and format suffixes: arc_OLTP.lis.zst -> arc_OLTP."""
    base, _ = _split_compression(Path(path).name)
    stripped = True
    while stripped:
        stripped = False
        for suffix in _FORMAT_SUFFIXES:
            if base.lower().endswith(suffix) and len(base) > len(suffix):
                base, stripped = base[: -len(suffix)], True
    return base


def shared_traces(*, samples: bool = False) -> list[Path]:
    """The real trace files of the cache lab's data folder, [] when there is none.

    The CSV twin of cloudPhysicsIO is left out (the .bin is the same trace). So are the
    Tencent and MSR 10k/1k-line samples unless `samples`: the data README calls them format
    examples, useless for comparing miss ratios.
    """
    files = lab_files("cache")
    stems = {trace_name(p) for p in files if detect_format_or_none(p) == "oracle"}
    chosen = []
    for path in files:
        fmt = detect_format_or_none(path)
        if fmt is None or (fmt == "csv" and trace_name(path) in stems):
            continue
        if fmt in ("tencent", "msr") and not samples:
            continue
        chosen.append(path)
    return chosen


def detect_format_or_none(path: Path | str) -> str | None:
    try:
        return detect_format(path)
    except TraceError:
        return None


def write_oracle(trace: Trace, path: Path | str, *, timestamps: np.ndarray | None = None) -> None:
    """Write libCacheSim's oracleGeneral binary (compressed if the name ends .zst/.gz/...).

    libCacheSim's `next` field is the *1-based* virtual time of the next request to the same
    object (request i happens at vtime i+1), -1 if none: checked on cloudPhysicsIO.
    """
    records = np.zeros(len(trace), dtype=ORACLE_DTYPE)
    # Without real timestamps, time advances one unit per request.
    records["ts"] = np.arange(len(trace)) if timestamps is None else timestamps
    records["id"] = trace.keys
    sizes = trace.unit_sizes
    if sizes.max() >= 2**32:
        raise TraceError(f"{path}: object size {int(sizes.max())} does not fit oracleGeneral's u32")
    records["size"] = sizes
    nxt = trace.next_access
    records["next"] = np.where(nxt >= 0, nxt + 1, -1)
    _write_bytes(Path(path), records.tobytes())


def write_txt(trace: Trace, path: Path | str) -> None:
    """One request per line: `key`, or `key size` when the trace has sizes."""
    keys = trace.keys.tolist()
    if trace.sizes is None:
        lines = map(str, keys)
    else:
        lines = (f"{k} {s}" for k, s in zip(keys, trace.sizes.tolist(), strict=True))
    _write_bytes(Path(path), ("\n".join(lines) + "\n").encode())


# ---------------------------------------------------------------------------------------------
# Files and decompression


def _check_file(path: Path) -> None:
    if not path.exists():
        raise TraceError(f"{path}: no such file")
    if path.is_dir():
        raise TraceError(f"{path}: is a directory, not a trace file")


def _split_compression(filename: str) -> tuple[str, str]:
    for suffix in COMPRESSIONS:
        if filename.lower().endswith(suffix):
            return filename[: -len(suffix)], suffix
    return filename, ""


def _open(path: Path) -> BinaryIO:
    compression = _split_compression(path.name)[1]
    raw = open(path, "rb")  # noqa: SIM115 -- the decompressor takes ownership
    if compression == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == ".xz":
        return lzma.LZMAFile(raw)
    if compression == ".bz2":
        return bz2.BZ2File(raw)
    if compression == ".zst":
        return zstandard.ZstdDecompressor().stream_reader(
            raw, read_across_frames=True, closefd=True
        )
    return raw


def _read(path: Path, *, max_bytes: int | None = None, max_lines: int | None = None) -> bytes:
    """The file's decompressed bytes; with a limit, stop early (text: at a line boundary)."""
    try:
        with _open(path) as f:
            if max_bytes is not None:
                return _read_upto(f, max_bytes)
            if max_lines is not None:
                return _read_lines(f, max_lines)
            return f.read()
    except PermissionError as e:
        raise TraceError(f"{path}: cannot read ({e.strerror})") from None
    except _DECOMPRESS_ERRORS as e:
        kind = _split_compression(path.name)[1] or "file"
        raise TraceError(f"{path}: corrupt or truncated {kind} data ({e})") from None


def _read_upto(f: BinaryIO, n: int) -> bytes:
    parts, left = [], n
    while left > 0:
        chunk = f.read(min(left, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_lines(f: BinaryIO, n: int) -> bytes:
    parts, newlines = [], 0
    while newlines <= n:  # one spare line: a header, or a line cut by the chunk
        chunk = f.read(_CHUNK)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        newlines += chunk.count(b"\n")
    data = b"".join(parts)
    return data[: data.rfind(b"\n") + 1]  # drop the partial last line


def _write_bytes(path: Path, data: bytes) -> None:
    compression = _split_compression(path.name)[1]
    if compression == ".gz":
        data = gzip.compress(data)
    elif compression == ".xz":
        data = lzma.compress(data)
    elif compression == ".bz2":
        data = bz2.compress(data)
    elif compression == ".zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)


def _text_lines(data: bytes) -> Iterator[tuple[int, list[bytes]]]:
    """(1-based line number, whitespace-separated fields) of each non-blank line."""
    for lineno, line in enumerate(data.splitlines(), 1):
        fields = line.split()
        if fields:
            yield lineno, fields


# ---------------------------------------------------------------------------------------------
# Numbers and hashing


def _fast_ints(data: bytes) -> np.ndarray | None:
    """All whitespace-separated integers of `data` as int64 (wrapping values >= 2**63), or
    None if some token is not an integer. np.fromstring parses in C, ~10x faster than split()."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring(data, dtype=np.int64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    limits = np.iinfo(np.int64)
    if len(values) and (values.max() == limits.max or values.min() == limits.min):
        return _exact_ints(data.split())  # fromstring clamps on overflow: redo exactly
    return values


def _exact_ints(tokens: list[bytes]) -> np.ndarray | None:
    if not all(_INT_TOKEN.fullmatch(t) for t in tokens):
        return None
    ints = [int(t) for t in tokens]
    if any(i < -(2**63) or i >= 2**64 for i in ints):
        return None
    return np.array([i % 2**64 for i in ints], dtype=np.uint64).view(np.int64)


def _int_column(tokens: list[bytes]) -> np.ndarray | None:
    """Tokens as int64 if every one is an integer, else None."""
    if not tokens:
        return np.zeros(0, dtype=np.int64)
    values = _fast_ints(b" ".join(tokens))
    # an empty token or one with inner spaces changes the count: not a clean integer column
    return values if values is not None and len(values) == len(tokens) else None


def hash_strings(tokens: list[bytes]) -> np.ndarray:
    """Stable 64-bit ids for string keys (blake2b, same on every machine and run)."""
    ids = {
        t: int.from_bytes(hashlib.blake2b(t, digest_size=8).digest(), "little") for t in set(tokens)
    }
    return np.fromiter((ids[t] for t in tokens), dtype=np.uint64, count=len(tokens))


def _keys_from_tokens(tokens: list[bytes]) -> np.ndarray:
    """Integer keys as they are; a column with any non-integer key is hashed as strings."""
    values = _int_column(tokens)
    return hash_strings(tokens) if values is None else values.view(np.uint64)


def _sizes_from_tokens(tokens: list[bytes], path: Path, first_line: int) -> np.ndarray:
    values = _int_column(tokens)
    if values is not None:
        return values
    try:  # sizes written as floats ("512.0") are fine; anything else is not
        return np.array([float(t) for t in tokens]).round().astype(np.int64)
    except ValueError:
        bad = next(i for i, t in enumerate(tokens) if not _is_number(t))
        raise TraceError(
            f"{path}: bad object size {tokens[bad][:40]!r} "
            f"(data row {bad + 1}, near line {first_line + bad})"
        ) from None


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _int_table(data: bytes, path: Path, ncols: int, what: str) -> np.ndarray:
    """The text as an (n_lines, ncols) int64 table: `ncols` integers on every non-blank line.

    The fast path parses the whole buffer at once and only trusts it when the value count
    matches the line count; otherwise the slow path finds the first bad line for the error.
    """
    values = _fast_ints(data)
    if values is not None and len(values) % ncols == 0:
        n_rows = len(values) // ncols
        newlines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
        if n_rows == newlines or n_rows == sum(1 for _ in _text_lines(data)):
            return values.reshape(n_rows, ncols)
    for lineno, fields in _text_lines(data):
        if len(fields) != ncols or not all(_INT_TOKEN.fullmatch(f) for f in fields):
            line = b" ".join(fields)[:60].decode("utf-8", "replace")
            raise TraceError(f"{path}:{lineno}: expected {what}, got {line!r}")
    raise TraceError(f"{path}: expected {what} on every line")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# The formats. Each returns (keys, sizes or None), sizes as int64.

Parsed = tuple[np.ndarray, np.ndarray | None]


def _parse_oracle(path: Path, limit: int | None) -> Parsed:
    size = ORACLE_DTYPE.itemsize
    data = _read(path, max_bytes=None if limit is None else limit * size)
    if len(data) % size:
        raise TraceError(
            f"{path}: truncated oracleGeneral trace: {len(data)} bytes is not a "
            f"multiple of the {size}-byte record"
        )
    records = np.frombuffer(data, dtype=ORACLE_DTYPE)
    return records["id"].copy(), records["size"].astype(np.int64)


def _parse_cache2k(path: Path, limit: int | None) -> Parsed:
    data = _read(path, max_bytes=None if limit is None else limit * 4)
    if len(data) % 4:
        raise TraceError(
            f"{path}: truncated cache2k trace: {len(data)} bytes is not a "
            "multiple of 4 (big-endian int32 keys)"
        )
    # signed keys: -1 stays distinct from 2**32-1 by going through int64 first
    return np.frombuffer(data, dtype=">i4").astype(np.int64).view(np.uint64), None


def _parse_lirs(path: Path, limit: int | None) -> Parsed:
    data = _read(path, max_lines=limit)
    if b"*" in data:
        # Some LIRS traces mark phases with a lone '*' line; caffeine's reader skips them.
        # Blanking (not deleting) them keeps line numbers right for error messages.
        data = re.sub(rb"(?m)^[ \t]*\*[ \t]*\r?$", b"", data)
    table = _int_table(data, path, 1, "one integer key per line (LIRS trace)")
    return table[:, 0].view(np.uint64), None


def _parse_lis(path: Path, limit: int | None) -> Parsed:
    data = _read(path, max_lines=limit)  # every line is at least one request
    table = _int_table(data, path, 4, "'start n_blocks ignored request_no' (ARC .lis trace)")
    starts, counts = table[:, 0], table[:, 1]
    if (counts < 0).any():
        lineno = int(np.argmax(counts < 0)) + 1
        raise TraceError(f"{path}: negative block count on request line {lineno}")
    # Expand each line into counts[i] consecutive keys: start + 0, 1, ..., counts[i]-1.
    firsts = np.cumsum(counts) - counts
    offsets = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(firsts, counts)
    return (np.repeat(starts, counts) + offsets).view(np.uint64), None


def _parse_txt(path: Path, limit: int | None) -> Parsed:
    data = _read(path, max_lines=limit)
    first = next(_text_lines(data), None)
    if first is None:
        return np.zeros(0, dtype=np.uint64), None
    ncols = len(first[1])
    if ncols > 2:
        raise TraceError(
            f"{path}:{first[0]}: expected 'key' or 'key size' per line, got {ncols} fields"
        )
    values = _fast_ints(data)
    if values is not None and len(values) % ncols == 0:
        try:  # all-integer file: the fast path (re-checks the per-line field count)
            table = _int_table(data, path, ncols, "")
        except TraceError:
            table = None
        if table is not None:
            return table[:, 0].view(np.uint64), (table[:, 1] if ncols == 2 else None)
    rows = list(_text_lines(data))
    for lineno, fields in rows:
        if len(fields) != ncols:
            raise TraceError(
                f"{path}:{lineno}: expected {ncols} field(s) like line {first[0]}, "
                f"got {len(fields)}"
            )
    keys = _keys_from_tokens([f[0] for _, f in rows])
    sizes = _sizes_from_tokens([f[1] for _, f in rows], path, first[0]) if ncols == 2 else None
    return keys, sizes


def _parse_tencent(path: Path, limit: int | None) -> Parsed:
    data = _read(path, max_lines=limit)
    keys, sizes = [], []
    for lineno, fields in _text_lines(data):
        if len(fields) < 5:
            raise TraceError(
                f"{path}:{lineno}: expected 'time photo_id format size_category "
                f"return_size ...' (Tencent photo trace), got {len(fields)} fields"
            )
        keys.append(b" ".join(fields[1:4]))  # photo, format and size class name one object
        sizes.append(fields[4])
    return hash_strings(keys), _sizes_from_tokens(sizes, path, 1)


def _csv_rows(path: Path, data: bytes) -> list[tuple[int, list[str]]]:
    """(1-based line number, cells) of each non-blank CSV line."""
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    header = lines[0] if lines else ""
    delimiter = (
        ","
        if "," in header or not ("\t" in header or ";" in header)
        else ("\t" if "\t" in header else ";")
    )
    if '"' not in text:  # no quoting: str.split is several times faster than the csv module
        return [(n, line.split(delimiter)) for n, line in enumerate(lines, 1) if line.strip()]
    return [
        (n, row)
        for n, row in enumerate(csv.reader(lines, delimiter=delimiter), 1)
        if row and (len(row) > 1 or row[0].strip())
    ]


def _column_index(
    path: Path, header: list[str], wanted: str | int | None, candidates: tuple[str, ...], what: str
) -> int | None:
    names = [h.strip().lower() for h in header]
    listing = ", ".join(h.strip() for h in header)
    if isinstance(wanted, int):
        if not 0 <= wanted < len(header):
            raise TraceError(f"{path}: no column {wanted} ({len(header)} columns: {listing})")
        return wanted
    if isinstance(wanted, str):
        if wanted.strip().lower() not in names:
            raise TraceError(f"no column {wanted!r} in {path} (columns: {listing})")
        return names.index(wanted.strip().lower())
    for candidate in candidates:
        if candidate in names:
            return names.index(candidate)
    if what == "key":
        raise TraceError(
            f"{path}: cannot tell which column is the key (columns: {listing}); "
            "name it with key_column"
        )
    return None


def _columns(path: Path, rows: list[tuple[int, list[str]]], index: int) -> list[bytes]:
    try:
        return [row[index].strip().encode() for _, row in rows]
    except IndexError:
        lineno, row = next((n, r) for n, r in rows if len(r) <= index)
        raise TraceError(f"{path}:{lineno}: {len(row)} fields, no column {index}") from None


def _parse_csv(
    path: Path,
    limit: int | None,
    key_column: str | int | None = None,
    size_column: str | int | None = None,
) -> Parsed:
    data = _read(path, max_lines=None if limit is None else limit + 1)
    rows = _csv_rows(path, data)
    if not rows:
        return np.zeros(0, dtype=np.uint64), None
    header, body = rows[0][1], rows[1:]
    key_index = _column_index(path, header, key_column, KEY_COLUMNS, "key")
    size_index = _column_index(path, header, size_column, SIZE_COLUMNS, "size")
    keys = _keys_from_tokens(_columns(path, body, key_index))
    sizes = None
    if size_index is not None:
        first = body[0][0] if body else 2
        sizes = _sizes_from_tokens(_columns(path, body, size_index), path, first)
    return keys, sizes


def _looks_like_msr(path: Path) -> bool:
    """An MSR Cambridge CSV: the MSR header, or (as in the SNIA samples) none and rows of
    `time,host,disk,Read|Write,offset,size,latency`."""
    try:
        head = _read(path, max_bytes=4096)
    except TraceError:
        return False
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    fields = [f.strip().lower() for f in first.split(",")]
    return len(fields) == 7 and (tuple(fields) == MSR_COLUMNS or fields[3] in ("read", "write"))


def _parse_msr(path: Path, limit: int | None) -> Parsed:
    data = _read(path, max_lines=None if limit is None else limit + 1)
    rows = _csv_rows(path, data)
    if rows and rows[0][1][0].strip().lower() == "timestamp":
        rows = rows[1:]
    for lineno, row in rows:
        if len(row) < 6:
            raise TraceError(
                f"{path}:{lineno}: expected 'Timestamp,Hostname,DiskNumber,Type,"
                f"Offset,Size,ResponseTime' (MSR trace), got {len(row)} fields"
            )
    offsets = [row[4].strip().encode() for _, row in rows]
    keys = _int_column(offsets)
    if keys is None:
        lineno = next(
            n for (n, _), o in zip(rows, offsets, strict=True) if not _INT_TOKEN.fullmatch(o)
        )
        raise TraceError(f"{path}:{lineno}: Offset is not an integer")
    first = rows[0][0] if rows else 1
    sizes = _sizes_from_tokens([row[5].strip().encode() for _, row in rows], path, first)
    return keys.view(np.uint64), sizes


_PARSERS: dict[str, Callable[[Path, int | None], Parsed]] = {
    "oracle": _parse_oracle,
    "csv": _parse_csv,
    "txt": _parse_txt,
    "lis": _parse_lis,
    "lirs": _parse_lirs,
    "cache2k": _parse_cache2k,
    "tencent": _parse_tencent,
    "msr": _parse_msr,
}

__all__ = [
    "FORMATS",
    "TraceError",
    "detect_format",
    "hash_strings",
    "read_trace",
    "shared_traces",
    "trace_name",
    "write_oracle",
    "write_txt",
]
