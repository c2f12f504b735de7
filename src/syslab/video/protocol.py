"""The camera <-> server wire format, free of I/O: encode messages, parse a byte stream.

A message is a fixed 12-byte prefix, a JSON header, then an optional binary payload:

    b"SLV1" | header length (uint32, big-endian) | payload length (uint32) | header | payload

The header is a UTF-8 JSON object whose "type" names the message; the payload carries a
frame's JPEG bytes (FRAME only). The magic catches a peer that speaks something else (an
HTTP request, random bytes) at the first message, and both lengths are checked against the
limits *before* anything is buffered, so a bogus length costs nothing.

The conversation (the camera speaks first):

    camera                                  server
    HELLO  {version, query, detector?}  ->
                                        <-  READY  {detector, signature, query, server_cpu_s}
                                            or ERROR {message} and the connection closes
    FRAME  {index, capture_time} + JPEG ->
                                        <-  ANSWER {index, answer, capture_time,
                                                    server_cpu_ms, server_cpu_s}
    ...                                     (answers come back in the order frames went)

`answer` is the number of the query's detections on the frame (presence = answer > 0);
`server_cpu_ms` is the server's CPU for that frame (JPEG decode + detector) and
`server_cpu_s` the server process's CPU time so far, so a camera can charge it the whole
process's cost between READY and its last ANSWER. Any bad request gets one ERROR and the
connection is closed.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field

MAGIC = b"SLV1"
VERSION = 1
PREFIX = struct.Struct("!4sII")  # magic, header length, payload length
MAX_HEADER = 16 * 1024  # headers are a few short fields
MAX_MESSAGE = 16 * 1024 * 1024  # prefix + header + payload: a 4K JPEG at q80 is ~2 MB

HELLO, READY, FRAME, ANSWER, ERROR = "hello", "ready", "frame", "answer", "error"
TYPES = (HELLO, READY, FRAME, ANSWER, ERROR)


class ProtocolError(ValueError):
    """The peer broke the protocol; the message is one line, fit to send back in an ERROR."""


@dataclass(frozen=True)
class Message:
    type: str
    fields: dict = field(default_factory=dict)
    payload: bytes = b""

    def __getitem__(self, key: str):
        return self.fields[key]


def encode(msg: Message) -> bytes:
    """The bytes of `msg` on the wire; ProtocolError when it would break the limits."""
    if msg.type not in TYPES:
        raise ProtocolError(f"unknown message type {msg.type!r}")
    header = json.dumps({"type": msg.type, **msg.fields}, separators=(",", ":"),
                        allow_nan=False).encode()
    payload = bytes(msg.payload)
    _check_lengths(len(header), len(payload))
    return PREFIX.pack(MAGIC, len(header), len(payload)) + header + payload


def _check_lengths(header: int, payload: int) -> None:
    size = PREFIX.size + header + payload
    if header > MAX_HEADER:
        raise ProtocolError(f"message header of {header:,} bytes is over the limit of "
                            f"{MAX_HEADER:,}")
    if size > MAX_MESSAGE:
        raise ProtocolError(f"message of {size:,} bytes is over the limit of {MAX_MESSAGE:,}")


def parse_prefix(prefix: bytes) -> tuple[int, int]:
    """(header length, payload length) from the 12-byte prefix, checked."""
    magic, header, payload = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise ProtocolError(f"not a syslab video message (starts with {magic!r}, expected "
                            f"{MAGIC!r})")
    _check_lengths(header, payload)
    return header, payload


def parse_header(raw: bytes) -> dict:
    """The header JSON as a dict with a known "type"."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"message header is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise ProtocolError(f"message header is a JSON {type(header).__name__}, not an object")
    kind = header.get("type")
    if kind not in TYPES:
        raise ProtocolError(f"unknown message type {kind!r} (known: {', '.join(TYPES)})")
    return header


class Decoder:
    """Incremental parser: `feed` it bytes as they come, get back the whole messages.

    After a ProtocolError the stream cannot be resynchronised (lengths are untrusted), so
    the decoder refuses further input: the connection must be closed.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._need: tuple[int, int] | None = None  # lengths of the message being read
        self._broken = False

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        if self._broken:
            raise ProtocolError("the stream is already broken")
        self._buf += data
        out = []
        try:
            while True:
                if self._need is None:
                    if len(self._buf) < PREFIX.size:
                        break
                    self._need = parse_prefix(bytes(self._buf[:PREFIX.size]))
                    del self._buf[:PREFIX.size]
                header_len, payload_len = self._need
                if len(self._buf) < header_len + payload_len:
                    break
                header = parse_header(bytes(self._buf[:header_len]))
                payload = bytes(self._buf[header_len:header_len + payload_len])
                del self._buf[:header_len + payload_len]
                self._need = None
                kind = header.pop("type")
                out.append(Message(kind, header, payload))
        except ProtocolError:
            self._broken = True
            raise
        return out


# --- the messages, built and checked ------------------------------------------------------


def hello(query: str, detector: str | None = None) -> Message:
    return Message(HELLO, {"version": VERSION, "query": query, "detector": detector})


def ready(detector: str, signature: str, query: str, server_cpu_s: float) -> Message:
    return Message(READY, {"detector": detector, "signature": signature, "query": query,
                           "server_cpu_s": server_cpu_s})


def frame(index: int, capture_time: float, jpeg: bytes) -> Message:
    return Message(FRAME, {"index": index, "capture_time": capture_time}, jpeg)


def answer(index: int, count: int, capture_time: float, server_cpu_ms: float,
           server_cpu_s: float) -> Message:
    return Message(ANSWER, {"index": index, "answer": count, "capture_time": capture_time,
                            "server_cpu_ms": server_cpu_ms, "server_cpu_s": server_cpu_s})


def error(message: str) -> Message:
    # one line, bounded: it ends up in a user's terminal and must fit the header limit
    return Message(ERROR, {"message": " ".join(str(message).split())[:1000]})


def _int(msg: Message, key: str, minimum: int = 0) -> int:
    value = msg.fields.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProtocolError(f"{msg.type.upper()} needs an integer {key!r} >= {minimum}, got "
                            f"{value!r}")
    return value


def _float(msg: Message, key: str) -> float:
    value = msg.fields.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError(f"{msg.type.upper()} needs a number {key!r}, got {value!r}")
    return float(value)


def _str(msg: Message, key: str, optional: bool = False) -> str | None:
    value = msg.fields.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{msg.type.upper()} needs a text {key!r}, got {value!r}")
    return value


def check_hello(msg: Message) -> tuple[str, str | None]:
    """(query, detector or None) of a HELLO."""
    version = msg.fields.get("version")
    if version != VERSION:
        raise ProtocolError(f"protocol version {version!r} is not supported (this server "
                            f"speaks {VERSION})")
    return _str(msg, "query"), _str(msg, "detector", optional=True)


def check_frame(msg: Message) -> tuple[int, float, bytes]:
    """(index, capture time, JPEG bytes) of a FRAME."""
    index, capture = _int(msg, "index"), _float(msg, "capture_time")
    if not msg.payload:
        raise ProtocolError(f"FRAME {index} has no image payload")
    return index, capture, msg.payload


def check_answer(msg: Message) -> tuple[int, int, float, float, float]:
    """(index, answer, capture time, server CPU ms, server CPU s) of an ANSWER."""
    return (_int(msg, "index"), _int(msg, "answer"), _float(msg, "capture_time"),
            _float(msg, "server_cpu_ms"), _float(msg, "server_cpu_s"))


__all__ = [
    "ANSWER", "ERROR", "FRAME", "HELLO", "MAGIC", "MAX_HEADER", "MAX_MESSAGE", "PREFIX",
    "READY", "TYPES", "VERSION", "Decoder", "Message", "ProtocolError", "answer",
    "check_answer", "check_frame", "check_hello", "encode", "error", "frame", "hello",
    "parse_header", "parse_prefix", "ready",
]
