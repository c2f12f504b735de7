"""A replica's write-ahead log: append-only records, each with its length and a CRC32.

On disk a record is `length (u32, big-endian) | crc32 of the payload (u32) | payload`, the
payload a JSON object (`replica` writes one per committed transaction). Appends are written
at once with `os.write` (no user-space buffer: a process killed by -9 loses nothing it wrote)
and made durable by `sync` (fdatasync), which the replica runs in a thread as *group
commit*: every record written while one sync runs is covered by the next, so a burst of
transactions costs one flush, not one each.

`Wal.open` replays the log and checks every record. The first one that is cut short (a torn
write: the header or payload runs past the end of the file) or does not match its CRC or does
not parse ends the log: it and everything after it are truncated away, logged as a warning,
and never replayed. What the truncated tail held is not lost to the cluster: a follower gets
it again from its leader (the leader only counts a record as durable on a replica that
acknowledged it, after that replica's sync).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from pathlib import Path

HEADER = struct.Struct(">II")  # payload length, crc32(payload)
MAX_RECORD = 1 << 30  # a larger length field is garbage, not a record

log = logging.getLogger("syslab.txn.mdss.wal")


def encode(record: dict) -> bytes:
    """A record's canonical payload: the bytes every replica logs for it."""
    return json.dumps(record, separators=(",", ":")).encode()


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def scan(data: bytes) -> tuple[list[bytes], int, str | None]:
    """The valid payloads at the start of `data`, where they end, and why the rest (if any)
    is not a record."""
    payloads: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < HEADER.size:
            return payloads, pos, "torn record header"
        length, crc = HEADER.unpack_from(data, pos)
        start = pos + HEADER.size
        if length == 0 or length > MAX_RECORD:
            return payloads, pos, f"bad record length {length}"
        if start + length > end:
            return payloads, pos, "torn record (shorter than its length)"
        payload = data[start:start + length]
        if zlib.crc32(payload) != crc:
            return payloads, pos, "CRC mismatch"
        try:
            json.loads(payload)
        except ValueError:
            return payloads, pos, "payload is not JSON"
        payloads.append(payload)
        pos = start + length
    return payloads, pos, None


class Wal:
    """An open log file (see the module doc)."""

    def __init__(self, path: Path, fd: int, size: int) -> None:
        self.path = path
        self._fd = fd
        self.size = size

    @classmethod
    def open(cls, path: Path | str) -> tuple[Wal, list[bytes]]:
        """Open (or create) the log at `path`: the log and the payloads of its valid
        records; a torn or corrupt tail is truncated (and logged) first."""
        path = Path(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            data = b""
            while chunk := os.read(fd, 1 << 20):
                data += chunk
            payloads, good, why = scan(data)
            if why is not None:
                log.warning("%s: %s at byte %d: truncated %d bytes, not replayed",
                            path, why, good, len(data) - good)
                os.ftruncate(fd, good)
            # what a killed process wrote may still be only in the page cache
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, good), payloads

    def append(self, payloads: list[bytes]) -> None:
        """Write records now (durable after the next `sync`)."""
        data = b"".join(frame(p) for p in payloads)
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.size += len(data)

    def sync(self) -> None:
        """Make everything appended so far durable (blocking: run it in a thread)."""
        os.fdatasync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


__all__ = ["Wal", "encode", "frame", "scan"]
