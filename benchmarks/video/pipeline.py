"""The two-process pipeline on the real clips: what the whole camera -> server path costs.

    .venv/bin/python benchmarks/video/pipeline.py [--clips highway,person,car-overhead]
        [--target 0.9] [--no-pace] [--jpeg-quality 80]

For each real clip in the shared data, `syslab video serve` runs the reference detector
(Yolo-Fastest-1.1-XL) in one process and `syslab video camera` streams the clip's scored
part (after the 20 % profile) from another, over loopback, twice:

- filter `all`: every frame is JPEG-encoded, sent and detected (the reference pipeline);
- filter `ours`: the closed-loop filter decides at the camera which frames go out.

Both processes are real and separate, so CPU is each process's own `time.process_time`:
the camera's over its stream (decode, downscale, filter, JPEG, sockets), the server's
between its READY and its last ANSWER (event loop, JPEG decode, detector). The issue's goal
is total CPU per frame (camera + server) at least 5x lower with `ours` than with `all`.

Pacing: `all` runs unpaced (`--no-pace`): its CPU per frame does not depend on pacing, and
the reference cannot keep up with a 25 fps clip on one core anyway. `ours` runs paced at
the clip's rate by default, as a live camera would: its decisions use the answers that
have come back by then, so without pacing (the camera decoding far ahead of the server)
it would decide on answers dozens of frames stale and measure another system; `--no-pace`
runs it unpaced too, for a quick look. (The offline replay of the filters, answers known
at once, is benchmarks/video/filtering.py.) Accuracy is against the smoothed reference
(9-frame median) on the scored part; the live answers are the detector's raw per-frame
counts, so even `all` loses what the smoothing removes (the detector's flicker).

Writes the "pipeline" key of benchmarks/results/video.json (other keys are kept); a run at
another `--jpeg-quality` Q writes "pipeline_jpeg_Q" instead, beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

from syslab.common.errors import UserError
from syslab.common.records import machine_record, update_json
from syslab.common.report import Table
from syslab.video.detectors import REFERENCE, load_detector
from syslab.video.engine import profile_split
from syslab.video.metrics import frame_accuracy
from syslab.video.query import parse_query
from syslab.video.reference import reference_answers, reference_detections
from syslab.video.workloads import CLIPS, resolve_clip

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
GOAL = 5.0  # total CPU per frame, all / ours


def syslab(*args: str) -> list[str]:
    """`syslab video ARGS` with this interpreter (the `syslab` script's own main)."""
    return [sys.executable, "-c", "from syslab.cli import main; main()", "video", *args]


class Server:
    """`syslab video serve` in a subprocess; the port comes from its first line."""

    def __init__(self, detector: str) -> None:
        self.proc = subprocess.Popen(syslab("serve", "--port", "0", "--detector", detector),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=ROOT)
        line = self.proc.stdout.readline()
        if not line.startswith("serving "):
            self.proc.kill()
            raise UserError(f"server did not start: {line.strip()} {self.proc.stderr.read()}")
        self.port = int(line.rsplit(":", 1)[1])

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)  # graceful stop: prints its totals
        out, err = self.proc.communicate(timeout=30)
        if self.proc.returncode != 0:
            raise UserError(f"server exited with {self.proc.returncode}: {err.strip()}")
        return out.strip().splitlines()[-1]


def camera(path: Path, port: int, query: str, flt: str, target: float, pace: bool,
           jpeg_quality: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = syslab("camera", "--video", str(path), "--server", f"127.0.0.1:{port}",
                     "--query", query, "--filter", flt, "--target", str(target),
                     "--detector", REFERENCE, "--json", str(out),
                     "--jpeg-quality", str(jpeg_quality),
                     *([] if pace else ["--no-pace"]))
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0 or not out.exists():
            raise UserError(f"camera {flt} on {path.name} failed ({proc.returncode}): "
                            f"{proc.stderr.strip()[-300:]}")
        return json.loads(out.read_text())


COLUMNS = {  # table heading -> report key (CPU: ms per scored frame)
    "clip": "clip_name", "filter": "name", "paced": "paced", "frames": "frames",
    "sent": "sent", "MB sent": "mb_sent", "camera CPU": "camera_cpu_ms_per_frame",
    "server CPU": "server_cpu_ms_per_frame", "total CPU": "total_cpu_ms_per_frame",
    "lag p50 ms": "lag_p50_ms", "lag p95 ms": "lag_p95_ms", "accuracy": "accuracy",
    "accuracy (raw ref)": "accuracy_raw_reference", "all/ours CPU": "cpu_ratio_all_over_ours",
}


def causal_median(values: np.ndarray, window: int) -> np.ndarray:
    """Per frame, the (lower) median of the last `window` values up to it: the smoothing a
    live pipeline can do, since it cannot wait for the frames after."""
    return np.array([np.sort(values[max(0, i - window + 1):i + 1])[(min(i + 1, window) - 1) // 2]
                     for i in range(len(values))])


def live_ceiling(path: Path, det, query) -> dict:
    """What a live answer can score against the smoothed reference at best, whatever the
    filter: the detector's raw answer on every original frame (no JPEG), and its running
    median over the last 3, 5 or 9 frames, each on the scored part (after the profile)."""
    smoothed = reference_answers(path, det, query, 9, progress=False)
    raw = reference_answers(path, det, query, 1, progress=False)
    k = profile_split(len(smoothed))
    out = {"raw": float(frame_accuracy(query.judged_as, smoothed[k:], raw[k:]).mean())}
    for w in (3, 5, 9):
        out[f"causal_median_{w}"] = float(
            frame_accuracy(query.judged_as, smoothed[k:], causal_median(raw, w)[k:]).mean())
    return out


def table(rows: list[dict], reference: str, target: float):
    shown = [{head: r.get(key, "") for head, key in COLUMNS.items()} for r in rows]
    return Table(
        f"camera -> server over loopback, reference {reference}, target {target:g}; CPU in "
        "ms per frame of the scored part", list(COLUMNS), shown,
        {"MB sent": ".2f", "camera CPU": ".2f", "server CPU": ".2f", "total CPU": ".2f",
         "lag p50 ms": ".0f", "lag p95 ms": ".0f", "accuracy": ".3f", "accuracy (raw ref)": ".3f",
         "all/ours CPU": ".1f"},
    ).to_rich()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--no-pace", action="store_true",
                        help="Run `ours` unpaced too (quick; see the module doc).")
    parser.add_argument("--jpeg-quality", type=int, default=80,
                        help="JPEG quality of the frames the cameras send.")
    args = parser.parse_args()
    console = Console(width=max(Console().width, 180))
    names = [c.strip() for c in args.clips.split(",") if c.strip()]
    unknown = [n for n in names if n not in CLIPS]
    if unknown:
        parser.error(f"unknown clip {unknown[0]!r} (known: {', '.join(CLIPS)})")
    det = load_detector(REFERENCE)
    load_before = os.getloadavg()
    rows, summary = [], []
    for name in names:
        spec = CLIPS[name]
        try:
            path = resolve_clip(name)
        except UserError as err:
            console.print(f"{name}: skipped ({err})")
            continue
        q = parse_query(spec.query, det.classes)
        console.print(f"{name}: {spec.file}, {q}")
        reference_detections(path, det)  # the cameras' profiles read it: cached after once
        server = Server(REFERENCE)
        try:
            runs = {}
            for flt, pace in (("all", False), ("ours", not args.no_pace)):
                t0 = time.monotonic()
                runs[flt] = r = camera(path, server.port, spec.query, flt, args.target, pace,
                                          args.jpeg_quality)
                r |= {"clip_name": name, "name": flt, "mb_sent": r["bytes_sent"] / 1e6,
                      "bench_wall_s": time.monotonic() - t0}
                console.print(f"  {flt:4s}: {r['sent']}/{r['frames']} sent, "
                              f"{r['total_cpu_ms_per_frame']:.2f} ms CPU/frame, accuracy "
                              f"{r['accuracy']:.3f}")
                rows.append(r)
        finally:
            served = server.stop()
        ratio = runs["all"]["total_cpu_ms_per_frame"] / runs["ours"]["total_cpu_ms_per_frame"]
        runs["ours"]["cpu_ratio_all_over_ours"] = ratio
        summary.append({"clip": name, "cpu_ratio_all_over_ours": ratio,
                        "meets_goal": ratio >= GOAL, "server": served,
                        "live_ceiling": live_ceiling(path, det, q)})
    if not rows:
        console.print("no real clips (shared data missing): nothing measured")
        return
    console.print(table(rows, REFERENCE, args.target))
    for s in summary:
        verdict = "meets" if s["meets_goal"] else "misses"
        console.print(f"{s['clip']}: total CPU per frame all/ours = "
                      f"{s['cpu_ratio_all_over_ours']:.1f}x ({verdict} the {GOAL:g}x goal)")
    key = "pipeline" if args.jpeg_quality == 80 else f"pipeline_jpeg_{args.jpeg_quality}"
    update_json(RESULTS / "video.json", key, {
        "command": " ".join(["python benchmarks/video/pipeline.py", *sys.argv[1:]]),
        "reference": REFERENCE, "target": args.target, "goal_cpu_ratio": GOAL,
        "jpeg_quality": args.jpeg_quality,
        "ours_paced": not args.no_pace, "rows": rows, "summary": summary,
        "machine": machine_record(load_before, opencv=cv2.__version__),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    })


if __name__ == "__main__":
    main()
