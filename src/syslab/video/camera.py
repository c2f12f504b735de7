"""The camera process: filter frames at the source, send the few that matter, use the answers.

`run_camera` is one camera over one clip:

1. connect to the server and say HELLO (an unreachable server or a query it refuses ends
   here, in one line, before any decoding);
2. fit the filter on the clip's profile part (the first 20 %), from the reference's
   answers (`engine.load_clip`, whose reference run is cached);
3. stream the rest: decode each frame (released at the clip's rate by `decode.paced`, or
   as fast as possible with `pace=False`), downscale it (and thumbnail it for filters that
   want colour), let the filter decide; a frame to send is JPEG-encoded (quality 80 by
   default: `jpeg_quality`) and sent; answers come back on a receiver thread and reach
   the filter (`answered`) before its next decision, as they would on a real camera;
4. report what it cost (bytes, camera CPU, server CPU) and how good the live answers were.

Answers are live: a frame the camera sends is answered by the server's answer for it (its
delay is reported as the lag); any other frame gets the filter's own answer if it has one,
else the last answer the camera had *at that frame's time*. The live accuracy is judged
against the clip's smoothed reference on the scored part, as the offline replay is.

If the server goes away mid-stream the camera reconnects with backoff (HELLO again); frames
in flight are lost (counted) and their frames take the last answer. When it cannot get
back, it stops with `CameraStopped`, a one-line UserError that carries the partial report.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from syslab.common.errors import UserError
from syslab.video import protocol as wire
from syslab.video.decode import downscale, frames, paced
from syslab.video.detectors import Detector
from syslab.video.engine import PROFILE_FRACTION, SMALL_WIDTH, THUMB_WIDTH, load_clip
from syslab.video.filters import make_filter
from syslab.video.metrics import frame_accuracy, summarize
from syslab.video.query import Query
from syslab.video.reference import reference_answers

JPEG_QUALITY = 80
BACKOFF_S = (0.25, 0.5, 1.0, 2.0)  # waits before each reconnect attempt (~4 s in all)
CONNECT_TIMEOUT_S = 3.0
HANDSHAKE_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 30.0  # at the end: give up on answers when none came for this long


class CameraStopped(UserError):
    """The server went away and did not come back; `run` holds what was done until then."""

    def __init__(self, message: str, run: CameraRun) -> None:
        super().__init__(message)
        self.run = run


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:PORT`) -> (host, port)."""
    host, sep, port = str(text).strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"server address {text!r} is not HOST:PORT (e.g. 127.0.0.1:8500)")
    return host, int(port)


# --- one connection -------------------------------------------------------------------------


@dataclass
class _Arrival:
    index: int  # frame number in the stream
    answer: int
    capture_time: float
    server_cpu_ms: float
    server_cpu_s: float
    arrived: float  # time.monotonic() when the receiver read it
    session: int


class _Connection:
    """A TCP connection that has said HELLO; a receiver thread queues the answers."""

    def __init__(self, host: str, port: int, query: str, detector: str | None,
                 session: int, inbox: collections.deque) -> None:
        self.session = session
        self.dead = threading.Event()
        self.server_error: str | None = None
        self.sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
        try:
            # Small ANSWERs must not wait for Nagle + delayed ACK (tens of ms of lag).
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.settimeout(HANDSHAKE_TIMEOUT_S)
            hello = wire.encode(wire.hello(query, detector))
            self.sock.sendall(hello)
            self.bytes_sent = len(hello)
            self.decoder = wire.Decoder()
            reply = self._first_message()
            if reply.type == wire.ERROR:
                raise UserError(f"server refused the camera: {reply.fields.get('message')}")
            if reply.type != wire.READY:
                raise UserError(f"server answered HELLO with {reply.type.upper()}, not READY")
            self.ready = reply.fields
            self.sock.settimeout(None)  # from now on the receiver blocks, the sender blocks
        except BaseException:
            self.sock.close()
            raise
        self.inbox = inbox
        self.thread = threading.Thread(target=self._receive, name="camera-rx", daemon=True)
        self.thread.start()

    def _first_message(self) -> wire.Message:
        pending: list[wire.Message] = []
        while not pending:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("the server closed the connection after HELLO")
            try:
                pending = self.decoder.feed(data)
            except wire.ProtocolError as err:
                raise UserError(f"the server does not speak the camera protocol: {err}") \
                    from None
        self._early = pending[1:]  # (nothing follows READY before a FRAME; kept for rigour)
        return pending[0]

    def _receive(self) -> None:
        try:
            for msg in self._early:
                self._take(msg)
            while not self.dead.is_set():
                data = self.sock.recv(1 << 16)
                if not data:
                    break
                for msg in self.decoder.feed(data):
                    self._take(msg)
        except wire.ProtocolError as err:
            self.server_error = f"the server broke the protocol: {err}"
        except OSError:
            pass  # reset, or closed by us
        finally:
            self.dead.set()

    def _take(self, msg: wire.Message) -> None:
        if msg.type == wire.ANSWER:
            index, answer, capture, cpu_ms, cpu_s = wire.check_answer(msg)
            self.inbox.append(_Arrival(index, answer, capture, cpu_ms, cpu_s,
                                       time.monotonic(), self.session))
        elif msg.type == wire.ERROR:
            self.server_error = str(msg.fields.get("message"))
            self.dead.set()
        else:
            raise wire.ProtocolError(f"unexpected {msg.type.upper()} from the server")

    def send(self, data: bytes) -> bool:
        """False when the connection is gone (the caller reconnects)."""
        if self.dead.is_set():
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            self.dead.set()
            return False
        self.bytes_sent += len(data)
        return True

    def close(self) -> None:
        self.dead.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=2.0)


# --- the run --------------------------------------------------------------------------------


@dataclass
class CameraRun:
    """One camera run: the report (scalars, for tables and JSON) and the per-frame detail."""

    report: dict
    sent: np.ndarray  # (n,) bool, per scored frame
    estimates: np.ndarray  # (n,) int64 live answer per scored frame
    labels: np.ndarray  # (n,) the smoothed reference on the same frames
    answers: dict[int, int] = field(default_factory=dict)  # scored frame -> server answer
    first: int = 0  # stream index of scored frame 0


class _Live:
    """Bookkeeping of the stream so far (main thread only)."""

    def __init__(self, n: int) -> None:
        self.sent = np.zeros(n, bool)
        self.known = np.full(n, -1, np.int64)  # filter's own answer, -1 = none
        self.had = np.full(n, -1, np.int64)  # last answer the camera had at the frame's time
        self.capture = np.zeros(n)
        self.answers: dict[int, int] = {}
        self.lags: list[float] = []
        self.detect_ms: list[float] = []
        self.sessions: dict[int, list[float]] = {}  # session -> [cpu at READY, last cpu]
        self.last_index, self.last_answer = -1, -1
        self.frames = 0
        self.bytes_sent = 0
        self.jpeg_bytes = 0
        self.reconnects = 0


def run_camera(
    path: Path | str,
    host: str,
    port: int,
    query: Query,
    detector: Detector,
    filter_name: str = "ours",
    *,
    target: float = 0.9,
    pace: bool = True,
    smooth: int = 9,
    fraction: float = PROFILE_FRACTION,
    backoff: Sequence[float] = BACKOFF_S,
    drain_timeout: float = DRAIN_TIMEOUT_S,
    progress: bool = False,
    jpeg_quality: int = JPEG_QUALITY,
) -> CameraRun:
    """Stream the scored part of `path` to the server at host:port through `filter_name`."""
    path = Path(path)
    if not 1 <= jpeg_quality <= 100:
        raise UserError(f"JPEG quality must be 1..100, got {jpeg_quality}")
    flt = make_filter(filter_name)
    inbox: collections.deque[_Arrival] = collections.deque()
    where = f"{host}:{port}"

    def connect(session: int) -> _Connection:
        return _Connection(host, port, query.text, detector.name, session, inbox)

    try:
        conn = connect(0)
    except OSError as err:
        raise UserError(f"cannot reach the server at {where} ({_reason(err)})") from None

    live: _Live | None = None
    try:
        clip = load_clip(path, detector, query, smooth_window=smooth,
                         thumbs=flt.needs_thumbs, progress=progress)
        # the raw reference (no smoothing) too: live answers are raw detections, so
        # against it flicker is not the filter's error either way (cached: no detector run)
        raw = reference_answers(path, detector, query, 1, progress=False)
        k = clip.split(fraction)
        flt.fit(clip.profile(target, fraction))
        flt.reset()
        n = len(clip) - k
        live = _Live(n)
        live.sessions[0] = [float(conn.ready["server_cpu_s"])] * 2
        cv2.setNumThreads(1)  # one core for the camera, as for the detectors

        # Decode past the profile part now, so that neither the camera's CPU nor the pacing
        # clock counts it: the stream starts at the first scored frame.
        # brightness only: colour is made for the frames that need it (`Frame.to_bgr`)
        decoded = frames(path, color=False)
        first = next((f for f in decoded if f.index >= k), None)
        source = itertools.chain([first] if first is not None else [], decoded)
        stream = paced(source, clip.fps) if pace else ((f, time.monotonic()) for f in source)
        params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]

        def take_answers() -> None:
            while inbox:
                a = inbox.popleft()
                i = a.index - k
                if not 0 <= i < n:
                    continue
                live.answers[i] = a.answer
                live.lags.append(a.arrived - a.capture_time)
                live.detect_ms.append(a.server_cpu_ms)
                cpu = live.sessions.setdefault(a.session, [a.server_cpu_s] * 2)
                cpu[1] = max(cpu[1], a.server_cpu_s)
                flt.answered(i, a.answer)
                if i > live.last_index:
                    live.last_index, live.last_answer = i, a.answer

        bar = _progress(progress, n, f"camera {flt.name} -> {where}")
        cpu0, wall0 = time.process_time(), time.monotonic()
        stopped: str | None = None
        with bar:
            for frame, captured in stream:
                i = frame.index - k
                if i >= n:
                    break
                take_answers()
                live.had[i] = live.last_answer
                live.capture[i] = captured
                small = frame.small(SMALL_WIDTH)
                # thumbnails exactly as load_clip made the ones the filter learned on, made
                # only if a filter looks at one (most frames never reach a CNN)
                thumb = ((lambda f=frame: downscale(f.to_bgr(), THUMB_WIDTH))
                         if flt.needs_thumbs else None)
                decision = flt.decide(i, small, thumb)
                if decision.send:
                    ok, jpeg = cv2.imencode(".jpg", frame.to_bgr(), params)
                    data = wire.encode(wire.frame(frame.index, captured, jpeg.tobytes()))
                    while not conn.send(data):
                        if conn.server_error is not None:
                            # it said ERROR and meant it: reconnecting would be told again
                            stopped = f"server error at frame {frame.index}: {conn.server_error}"
                            break
                        conn.close()
                        fresh, reason = _reconnect(connect, conn.session + 1, backoff)
                        if fresh is None:
                            stopped = (f"the server at {where} went away at frame "
                                       f"{frame.index} and did not come back ({reason})")
                            break
                        live.reconnects += 1
                        live.bytes_sent += conn.bytes_sent  # what went on the old one
                        conn = fresh
                        live.sessions[conn.session] = [float(conn.ready["server_cpu_s"])] * 2
                    if stopped:
                        break
                    live.sent[i] = True
                    live.jpeg_bytes += len(jpeg)
                    flt.sent(i, small)
                elif decision.answer is not None:
                    live.known[i] = decision.answer
                    if i > live.last_index:
                        live.last_index, live.last_answer = i, int(decision.answer)
                live.frames = i + 1
                bar.advance()
            # The stream is over: collect the answers still on their way.
            waited_since = time.monotonic()
            while not stopped and len(live.answers) < int(live.sent.sum()):
                before = len(inbox)
                take_answers()
                if conn.dead.is_set() and not inbox:
                    if conn.server_error is not None:
                        stopped = f"server error: {conn.server_error}"
                    break  # the rest is lost; nothing left to send, so no reconnect
                if before:
                    waited_since = time.monotonic()
                elif time.monotonic() - waited_since > drain_timeout:
                    break
                time.sleep(0.002)
            take_answers()
        cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
        live.bytes_sent += conn.bytes_sent
    finally:
        conn.close()

    run = _finish(live, clip, k, flt.describe(), query, detector, target, pace, cpu_s, wall_s,
                  stopped, raw, jpeg_quality)
    if stopped:
        raise CameraStopped(stopped, run)
    return run


def _reason(err: OSError) -> str:
    return err.strerror or str(err) or type(err).__name__


def _reconnect(connect, session: int, backoff: Sequence[float]
               ) -> tuple[_Connection | None, str]:
    reason = "no attempt"
    for delay in backoff:
        time.sleep(delay)
        try:
            return connect(session), ""
        except OSError as err:
            reason = _reason(err)
    total = sum(backoff)
    return None, f"{len(backoff)} reconnect attempts over {total:.1f} s: {reason}"


def _finish(live: _Live, clip, k: int, filter_desc: str, query: Query, detector: Detector,
            target: float, pace: bool, cpu_s: float, wall_s: float,
            stopped: str | None, raw: np.ndarray, jpeg_quality: int) -> CameraRun:
    n = live.frames
    sent = live.sent[:n]
    est = np.where(live.known[:n] >= 0, live.known[:n], live.had[:n])
    for i, a in live.answers.items():
        if i < n and sent[i]:
            est[i] = a
    est = np.maximum(est, 0)  # before any answer the camera reports nothing seen
    labels = clip.labels[k:k + n]
    n_sent = int(sent.sum())
    answered = sum(1 for i in live.answers if i < n and sent[i])
    server_cpu_s = sum(max(0.0, b - a) for a, b in live.sessions.values())
    lags = np.array(live.lags) * 1e3
    report = {
        "clip": clip.name, "filter": filter_desc, "query": query.text,
        "detector": detector.name, "paced": pace,
        "frames": n, "sent": n_sent, "answered": answered, "lost": n_sent - answered,
        "reconnects": live.reconnects, "bytes_sent": live.bytes_sent,
        "jpeg_quality": jpeg_quality,
        "jpeg_kb_per_sent": live.jpeg_bytes / 1024 / max(1, n_sent),
        "camera_cpu_ms_per_frame": 1e3 * cpu_s / max(1, n),
        "server_cpu_ms_per_frame": 1e3 * server_cpu_s / max(1, n),
        "server_cpu_ms_per_sent": 1e3 * server_cpu_s / max(1, answered),
        "detect_cpu_ms_per_sent": float(np.mean(live.detect_ms)) if live.detect_ms else 0.0,
        "lag_p50_ms": float(np.percentile(lags, 50)) if len(lags) else float("nan"),
        "lag_p95_ms": float(np.percentile(lags, 95)) if len(lags) else float("nan"),
        "wall_s": wall_s, "stopped": stopped,
    }
    report["total_cpu_ms_per_frame"] = (report["camera_cpu_ms_per_frame"]
                                        + report["server_cpu_ms_per_frame"])
    if n:
        scored = summarize(clip.kind, labels, est, sent, clip.fps, target)
        report |= {key: scored[key] for key in ("accuracy", "fraction_filtered",
                                                "segments_meeting_target", "target")}
        raw_acc = frame_accuracy(clip.kind, raw[k:k + n], est)
        report["accuracy_raw_reference"] = float(raw_acc.mean())
    else:
        report |= {"accuracy": float("nan"), "accuracy_raw_reference": float("nan"),
                   "fraction_filtered": float("nan"),
                   "segments_meeting_target": float("nan"), "target": target}
    return CameraRun(report=report, sent=sent, estimates=est, labels=labels,
                     answers={i: a for i, a in live.answers.items() if i < n}, first=k)


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def advance(self) -> None:
        return None


class _Bar(_NoBar):
    def __init__(self, total: int, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), console=Console(stderr=True),
                                 transient=True)
        self.task = self.progress.add_task(label, total=total)

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def advance(self) -> None:
        self.progress.advance(self.task)


def _progress(enabled: bool, total: int, label: str) -> _NoBar:
    return _Bar(total, label) if enabled else _NoBar()


REPORT_FORMATS = {
    "camera_cpu_ms_per_frame": ".2f", "server_cpu_ms_per_frame": ".2f",
    "server_cpu_ms_per_sent": ".2f", "detect_cpu_ms_per_sent": ".2f",
    "total_cpu_ms_per_frame": ".2f", "lag_p50_ms": ".1f", "lag_p95_ms": ".1f",
    "accuracy": ".3f", "fraction_filtered": ".3f", "segments_meeting_target": ".2f",
    "jpeg_kb_per_sent": ".1f", "wall_s": ".1f",
}

__all__ = ["BACKOFF_S", "JPEG_QUALITY", "REPORT_FORMATS", "CameraRun", "CameraStopped",
           "parse_address", "run_camera"]
