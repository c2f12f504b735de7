"""The camera -> server pipeline over loopback: wire format, answers, failures.

The server runs in a background thread (its own event loop) on a free port with the colour
blob detector; the camera streams the conftest's synthetic clip (4 s at 10 fps, 320x180)
without pacing, except where pacing is the point.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from syslab.common.errors import UserError
from syslab.video import protocol as wire
from syslab.video.camera import CameraStopped, parse_address, run_camera
from syslab.video.decode import frames
from syslab.video.detectors import ColourBlobDetector, load_detector
from syslab.video.query import counts, parse_query
from syslab.video.server import BackgroundServer

QUERY = "count:car,truck,bus,person"
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module", autouse=True)
def in_tmp_dir(tmp_path_factory: pytest.TempPathFactory):
    """The reference cache (`out/cache/video`, relative) goes to a temporary folder."""
    old = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("pipeline"))
    yield
    os.chdir(old)


@pytest.fixture(scope="module")
def det() -> ColourBlobDetector:
    return load_detector("blobs")


@pytest.fixture(scope="module")
def query(det):
    return parse_query(QUERY, det.classes)


@pytest.fixture(scope="module")
def server(det):
    with BackgroundServer(det) as srv:
        yield srv


# --- the wire format ------------------------------------------------------------------------


def test_codec_round_trip_in_any_chunking() -> None:
    msgs = [wire.hello("count:car", "blobs"), wire.frame(7, 1.25, b"\xff\xd8jpeg\x00" * 50),
            wire.answer(7, 3, 1.25, 2.5, 10.0), wire.error("bad\nthing  here"),
            wire.ready("blobs", "sig", "count:car", 0.5)]
    data = b"".join(wire.encode(m) for m in msgs)
    for size in (1, 5, 13, len(data)):
        dec = wire.Decoder()
        got = []
        for i in range(0, len(data), size):
            got += dec.feed(data[i:i + size])
        assert [m.type for m in got] == [m.type for m in msgs]
        assert got[1].payload == msgs[1].payload and got[1]["index"] == 7
        assert got[3]["message"] == "bad thing here"  # one line
        assert wire.check_answer(got[2]) == (7, 3, 1.25, 2.5, 10.0)
        assert dec.buffered == 0


def test_codec_limits_and_garbage() -> None:
    with pytest.raises(wire.ProtocolError, match="over the limit"):
        wire.encode(wire.frame(0, 0.0, bytes(wire.MAX_MESSAGE)))
    bad = {
        "not a syslab video message": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "over the limit": wire.PREFIX.pack(wire.MAGIC, 10, wire.MAX_MESSAGE),
        "header of": wire.PREFIX.pack(wire.MAGIC, wire.MAX_HEADER + 1, 0),
        "not JSON": wire.PREFIX.pack(wire.MAGIC, 5, 0) + b"{nope",
        "not an object": wire.PREFIX.pack(wire.MAGIC, 2, 0) + b"[]",
        "unknown message type": wire.PREFIX.pack(wire.MAGIC, 15, 0) + b'{"type":"nope"}',
    }
    for needle, data in bad.items():
        dec = wire.Decoder()
        with pytest.raises(wire.ProtocolError, match=needle):
            dec.feed(data)
        with pytest.raises(wire.ProtocolError, match="broken"):
            dec.feed(b"")  # lengths are untrusted after an error: no resync
    frame = wire.Message(wire.FRAME, {"index": True, "capture_time": 0.0}, b"x")
    with pytest.raises(wire.ProtocolError, match="index"):
        wire.check_frame(frame)
    with pytest.raises(wire.ProtocolError, match="no image"):
        wire.check_frame(wire.frame(1, 0.0, b""))
    with pytest.raises(wire.ProtocolError, match="version"):
        wire.check_hello(wire.Message(wire.HELLO, {"version": 99, "query": "count:car"}))
    assert parse_address("127.0.0.1:8500") == ("127.0.0.1", 8500)
    assert parse_address("[::1]:9") == ("::1", 9)
    for text in ("localhost", "host:0", "host:99999", ":80", "host:x"):
        with pytest.raises(UserError, match="HOST:PORT"):
            parse_address(text)


# --- answers ----------------------------------------------------------------------------------


def test_filter_all_sends_every_frame_and_is_exact(server, clip, det, query) -> None:
    run = run_camera(clip.path, "127.0.0.1", server.port, query, det, "all", pace=False,
                     smooth=1)
    r = run.report
    assert r["frames"] == len(run.labels) > 20
    assert r["sent"] == r["answered"] == r["frames"] and r["lost"] == 0
    # labels: the same detector on every (not JPEG-compressed) frame, unsmoothed
    assert r["accuracy"] == 1.0 == r["accuracy_raw_reference"]
    assert np.array_equal(run.estimates, run.labels)
    assert r["bytes_sent"] > r["sent"] * 1000  # JPEGs, not nothing
    assert r["server_cpu_ms_per_frame"] > 0 and r["camera_cpu_ms_per_frame"] > 0
    assert 0 <= r["lag_p50_ms"] <= r["lag_p95_ms"] < 5000
    assert r["total_cpu_ms_per_frame"] == pytest.approx(
        r["camera_cpu_ms_per_frame"] + r["server_cpu_ms_per_frame"])


def test_answers_match_the_detector_on_sent_frames(server, clip, det, query) -> None:
    run = run_camera(clip.path, "127.0.0.1", server.port, query, det, "ours", pace=True,
                     smooth=9)
    r = run.report
    n = r["frames"]
    assert 0 < r["sent"] == len(run.answers) and r["lost"] == 0
    assert r["wall_s"] >= 0.9 * (n - 1) / 10.0  # paced: released at 10 fps
    expected = {}
    for f in frames(clip.path, color=True):
        i = f.index - run.first
        if i in run.answers:
            ok, jpeg = cv2.imencode(".jpg", f.bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])
            img = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
            expected[i] = int(counts(query, [det.detect(img)])[0])
    assert run.answers == expected
    assert np.array_equal(run.estimates[run.sent], [run.answers[i] for i in
                                                    np.flatnonzero(run.sent)])
    assert 0.0 <= r["accuracy"] <= 1.0


# --- bad requests -----------------------------------------------------------------------------


def _exchange(port: int, data: bytes) -> list[wire.Message]:
    """Send `data`, read until the server closes; every message it sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        got = b""
        while chunk := sock.recv(1 << 16):
            got += chunk
    return wire.Decoder().feed(got)


def _jpeg(clip) -> bytes:
    return cv2.imencode(".jpg", clip.images[20], [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


HELLO = wire.encode(wire.hello(QUERY, "blobs"))
BAD = {
    "garbage": (b"\x00\x01garbage bytes, not a message" * 3, "not a syslab video message"),
    "oversized": (wire.PREFIX.pack(wire.MAGIC, 20, 1 << 31), "over the limit"),
    "bad json": (wire.PREFIX.pack(wire.MAGIC, 9, 0) + b"{'bad': 1", "not JSON"),
    "bad jpeg": (HELLO + wire.encode(wire.frame(0, 0.0, b"\xff\xd8 not a jpeg")),
                 "not a decodable JPEG"),
    "frame before hello": (None, "FRAME before HELLO"),
    "unknown class": (wire.encode(wire.hello("count:car,unicorn")), "unknown class 'unicorn'"),
    "wrong detector": (wire.encode(wire.hello(QUERY, "yolo-fastest-xl")), "runs detector"),
    "hello twice": (HELLO + HELLO, "HELLO sent twice"),
    "server message": (HELLO + wire.encode(wire.answer(0, 1, 0.0, 0.0, 0.0)),
                       "does not send ANSWER"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_request_gets_error_and_server_keeps_serving(server, clip, case: str) -> None:
    data, needle = BAD[case]
    if data is None:
        data = wire.encode(wire.frame(0, 0.0, _jpeg(clip)))
    errors = server.stats.errors
    got = _exchange(server.port, data)
    assert got and got[-1].type == wire.ERROR, got
    assert needle in got[-1]["message"]
    assert server.stats.errors == errors + 1
    # a fresh connection is served as if nothing happened
    good = _exchange_one(server.port, HELLO + wire.encode(wire.frame(3, 0.5, _jpeg(clip))))
    assert [m.type for m in good] == [wire.READY, wire.ANSWER]
    assert good[1]["index"] == 3 and good[1]["answer"] >= 1


def _exchange_one(port: int, data: bytes) -> list[wire.Message]:
    """Send `data`; read until READY and one ANSWER came back (the server keeps the line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        dec, got = wire.Decoder(), []
        while len(got) < 2:
            chunk = sock.recv(1 << 16)
            assert chunk, got
            got += dec.feed(chunk)
    return got


def test_a_peer_that_hangs_up_mid_message_costs_nothing(server, clip) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(HELLO + wire.encode(wire.frame(0, 0.0, _jpeg(clip)))[:40])
    good = _exchange_one(server.port, HELLO + wire.encode(wire.frame(1, 0.0, _jpeg(clip))))
    assert good[1].type == wire.ANSWER


# --- the server going away --------------------------------------------------------------------


def test_server_stopped_mid_stream_ends_in_one_line_and_a_partial_report(clip, det,
                                                                         query) -> None:
    srv = BackgroundServer(det)
    timer = threading.Timer(1.0, srv.stop)
    timer.start()
    try:
        with pytest.raises(CameraStopped) as info:
            run_camera(clip.path, "127.0.0.1", srv.port, query, det, "all", pace=True,
                       backoff=(0.1, 0.2))
    finally:
        timer.join()
        srv.stop()
    err = info.value
    assert isinstance(err, UserError) and err.exit_code == 2
    assert "went away" in str(err) and "2 reconnect attempts" in str(err)
    assert "\n" not in str(err)
    r = err.run.report
    n = len(clip.images) - round(len(clip.images) * 0.2)  # the scored part
    assert 3 <= r["frames"] < n  # ~1 s of a 3.2 s stream
    assert r["answered"] >= 3 and r["stopped"] == str(err)
    assert 0.0 <= r["accuracy"] <= 1.0


def test_camera_reconnects_when_the_server_comes_back(clip, det, query) -> None:
    first = BackgroundServer(det)
    port = first.port
    servers = [first]

    def bounce() -> None:
        first.stop()
        time.sleep(0.2)
        servers.append(BackgroundServer(det, port=port))

    timer = threading.Timer(1.0, bounce)
    timer.start()
    try:
        run = run_camera(clip.path, "127.0.0.1", port, query, det, "all", pace=True,
                         backoff=(0.2, 0.4, 0.8, 1.6))
    finally:
        timer.join()
        for srv in servers:
            srv.stop()
    r = run.report
    assert r["reconnects"] == 1 and r["stopped"] is None
    assert r["frames"] == len(run.labels) and r["sent"] == r["frames"]
    assert r["lost"] <= 2  # at most what was in flight when it went away
    assert servers[1].stats.frames > 0


# --- the command line -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_camera_unreachable_server_is_one_line_exit_2(syslab, clip) -> None:
    port = _free_port()
    r = syslab("video", "camera", "--video", clip.path, "--server", f"127.0.0.1:{port}",
               "--filter", "all")
    assert r.code == 2, r.out + r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.err
    assert f"cannot reach the server at 127.0.0.1:{port}" in lines[0]
    r = syslab("video", "camera", "--video", clip.path, "--server", "nowhere")
    assert r.code == 2 and "HOST:PORT" in r.err
    r = syslab("video", "camera", "--video", clip.path, "--server", f"127.0.0.1:{port}",
               "--jpeg-quality", "101")
    assert r.code == 2 and r.err.strip() == "error: JPEG quality must be 1..100, got 101"


def test_higher_jpeg_quality_sends_more_bytes(server, clip, det, query) -> None:
    kb = {q: run_camera(clip.path, "127.0.0.1", server.port, query, det, "all", pace=False,
                        smooth=1, jpeg_quality=q).report for q in (30, 95)}
    assert kb[30]["jpeg_quality"] == 30 and kb[95]["jpeg_quality"] == 95
    assert kb[95]["jpeg_kb_per_sent"] > 1.5 * kb[30]["jpeg_kb_per_sent"]


def test_cli_serve_and_camera_end_to_end(syslab, clip, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    # the real `syslab` entry point (its main), in its own process: SIGTERM must stop it
    proc = subprocess.Popen([sys.executable, "-c", "from syslab.cli import main; main()",
                             "video", "serve", "--detector", "blobs"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving blobs on 127.0.0.1:"), line + proc.stderr.read()
        port = int(line.rsplit(":", 1)[1])
        out = tmp_path / "camera.json"
        r = syslab("video", "camera", "--video", clip.path, "--server", f"127.0.0.1:{port}",
                   "--filter", "ours", "--no-pace", "--json", out)
        assert r.code == 0, r.err
        assert "camera_cpu_ms_per_frame" in r.out and "accuracy" in r.out
        report = json.loads(out.read_text())
        assert report["frames"] > 20 and 0 < report["sent"] <= report["frames"]
    finally:
        proc.terminate()  # SIGTERM: a graceful stop, exit 0
        rest, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped:" in rest and "Traceback" not in err


def test_server_refuses_a_camera_with_another_detector(server, clip, query) -> None:
    class Other(ColourBlobDetector):
        name = "other"

    with pytest.raises(UserError, match="runs detector 'blobs', not 'other'"):
        run_camera(clip.path, "127.0.0.1", server.port, query, Other(), "all", pace=False)


def test_a_negative_length_is_a_huge_one() -> None:
    # lengths are unsigned 32-bit: a "negative" length is just a huge one, refused
    data = struct.pack("!4sii", wire.MAGIC, -1, 0)
    with pytest.raises(wire.ProtocolError, match="over the limit"):
        wire.Decoder().feed(data)


def test_a_busy_port_is_one_line(server, det) -> None:
    with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        BackgroundServer(det, port=server.port)
