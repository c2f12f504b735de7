"""What the camera's JPEG costs the answers: the reference on sent frames vs on raw frames.

    .venv/bin/python benchmarks/video/jpeg.py [--frames 300] [--qualities 50,80,90,95,100]

The camera sends JPEG; the labels are the reference detector (Yolo-Fastest-1.1-XL) on the
decoded frames themselves. So even the pipeline that sends every frame answers from
slightly different pixels. For each real clip in the shared data this runs the reference
on `--frames` consecutive frames of the scored part (after the 20 % profile), once on the
raw frame and once per JPEG quality on its round trip (cv2.imencode / imdecode, as the
camera and the server do), and reports the clip's query answer agreement with the raw
frame (Reducto's counting accuracy, or tagging for presence queries, per frame, unsmoothed)
and the JPEG size. Lossless PNG is the control: it must agree exactly.

Writes the "jpeg" key of benchmarks/results/video.json (other keys are kept).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.progress import track

from syslab.common.errors import UserError
from syslab.common.records import machine_record, update_json
from syslab.common.report import Table
from syslab.video.decode import frames, probe
from syslab.video.detectors import REFERENCE, load_detector
from syslab.video.engine import PROFILE_FRACTION
from syslab.video.metrics import frame_accuracy
from syslab.video.query import answer, parse_query
from syslab.video.workloads import CLIPS, resolve_clip

RESULTS = Path(__file__).resolve().parents[1] / "results"


def round_trip(bgr: np.ndarray, quality: int | None) -> tuple[np.ndarray, int]:
    """The frame after encoding (JPEG at `quality`, PNG when None) and decoding, and its size."""
    ext, params = (".png", []) if quality is None else (".jpg",
                                                        [cv2.IMWRITE_JPEG_QUALITY, quality])
    ok, data = cv2.imencode(ext, bgr, params)
    if not ok:
        raise RuntimeError(f"cv2 could not encode {ext}")
    return cv2.imdecode(data, cv2.IMREAD_COLOR), len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--qualities", default="50,80,90,95,100")
    parser.add_argument("--clips", default=",".join(CLIPS))
    args = parser.parse_args()
    qualities = [int(q) for q in args.qualities.split(",")]
    console = Console()
    det = load_detector(REFERENCE)
    cv2.setNumThreads(1)
    load_before = os.getloadavg()
    rows = []
    names = [c.strip() for c in args.clips.split(",") if c.strip()]
    unknown = [n for n in names if n not in CLIPS]
    if unknown:
        parser.error(f"unknown clip {unknown[0]!r} (known: {', '.join(CLIPS)})")
    for name in names:
        spec = CLIPS[name]
        try:
            path = resolve_clip(name)
        except UserError as err:
            console.print(f"{name}: skipped ({err})")
            continue
        q = parse_query(spec.query, det.classes)
        start = int(probe(path).frames * PROFILE_FRACTION)
        clip = [f.bgr for f in itertools.islice(
            (f for f in frames(path, color=True) if f.index >= start), args.frames)]
        raw = np.array([answer(q, det.detect(f)) for f in clip])
        for quality in [*qualities, None]:
            est, size = [], []
            for f in track(clip, description=f"{name} q{quality or 'png'}", console=console,
                           transient=True):
                img, n = round_trip(f, quality)
                est.append(answer(q, det.detect(img)))
                size.append(n)
            agree = frame_accuracy(q.kind, raw, np.array(est))
            rows.append({"clip": name, "query": spec.query,
                         "size": f"{clip[0].shape[1]}x{clip[0].shape[0]}",
                         "encoding": "png" if quality is None else f"jpeg q{quality}",
                         "quality": quality, "frames": len(clip),
                         "agreement": float(agree.mean()),
                         "frames_changed": float((agree < 1).mean()),
                         "kb_per_frame": float(np.mean(size)) / 1024})
    if not rows:
        console.print("no real clips (shared data missing): nothing measured")
        return
    console.print(Table(
        f"{REFERENCE} on encoded frames vs on raw frames (per frame, unsmoothed)",
        ["clip", "size", "encoding", "frames", "agreement", "frames_changed", "kb_per_frame"],
        rows, {"agreement": ".3f", "frames_changed": ".1%", "kb_per_frame": ".1f"}).to_rich())
    update_json(RESULTS / "video.json", "jpeg", {
        "command": " ".join(["python benchmarks/video/jpeg.py", *sys.argv[1:]]),
        "reference": REFERENCE, "rows": rows,
        "machine": machine_record(load_before, opencv=cv2.__version__),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    })


if __name__ == "__main__":
    main()
