"""Detector cost: CPU ms per frame of each detector, single-threaded, on each real clip.

    .venv/bin/python benchmarks/video/detectors.py [--frames 100] [--repeats 3]

Every model detector (Yolo-Fastest-1.1-XL, the lab's reference; Yolo-Fastest-1.1;
FastestDet) runs on `--frames` frames spread evenly over each real clip in the shared data;
the colour-blob detector runs on frames of a synthetic clip (`workloads.synthesize`, JPEG
q80 as the camera sends them), where its count is also checked against the generator's
exact truth. Cost is `time.process_time` around `detect` alone (decoding by
`syslab.video.decode` excluded), one pass over the frames per repeat, median of
`--repeats`: CPU time, because the 2-core machine is shared and wall time swings with the
other load (recorded before and after). Everything runs on one thread
(cv2.setNumThreads(1), onnxruntime 1 intra-op thread).

Writes the "detectors" key of benchmarks/results/video.json (other keys are kept).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

from syslab.common.data import lab_data
from syslab.common.errors import UserError
from syslab.common.records import machine_record, update_json
from syslab.common.report import Table
from syslab.video.decode import frames, probe
from syslab.video.detectors import COCO_NAMES, ColourBlobDetector, load_detector
from syslab.video.workloads import CLASSES, synthesize

RESULTS = Path(__file__).resolve().parents[1] / "results"
CLIPS = ("highway_bgslibrary_video02.avi", "car-detection.mp4",
         "one-by-one-person-detection.mp4")
MODELS = ("yolo-fastest-xl", "yolo-fastest", "fastestdet")
# research/video.md §3, same machine, 1 thread, under load average 6-9 (CPU ms/frame).
RESEARCH_MS = {"fastestdet": "7.1-7.4", "yolo-fastest": "13.3-13.6",
               "yolo-fastest-xl": "28.4-29.3"}


def clip_frames(path: Path, n: int) -> list[np.ndarray]:
    """`n` BGR frames spread over the clip (the lab's decoder; every k-th frame kept)."""
    # The container's count is only a hint (video02 says 750, 748 decode): it sets the
    # stride, the decode sets the end.
    step = max(probe(path).frames // n, 1)
    kept = (f.bgr for f in frames(path, color=True) if f.index % step == 0)
    return list(itertools.islice(kept, n))


def synthetic_frames(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """`n` frames spread over a 40 s 640x360 synthetic clip (`workloads.synthesize`), each
    through a JPEG q80 round trip as the camera sends it, and their true object counts."""
    truth, images = synthesize(seconds=40, fps=15, width=640, height=360, seed=seed)
    step = max(truth.n_frames // n, 1)
    picked = list(range(0, truth.n_frames, step))[:n]
    wanted = set(picked)
    out = []
    for i, img in enumerate(images):
        if i in wanted:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
            out.append(cv2.imdecode(buf, cv2.IMREAD_COLOR))
    return out, truth.count(CLASSES)[picked]


def time_detector(det, images: list[np.ndarray], repeats: int) -> tuple[list[float], list]:
    det.detect(images[0])  # warm-up: first inference allocates
    runs = []
    out = []
    for _ in range(repeats):
        t0 = time.process_time()
        out = [det.detect(f) for f in images]
        runs.append((time.process_time() - t0) / len(images) * 1000)
    return runs, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    load_before = os.getloadavg()
    data = lab_data("video")
    rows = []
    clips = [data / c for c in CLIPS if data is not None and (data / c).is_file()]
    if not clips:
        console.print("no real clips (shared data missing): only the blob detector runs")
    for name in MODELS:
        try:
            det = load_detector(name)
        except UserError as exc:
            console.print(f"{name}: skipped ({exc})")
            continue
        for clip in clips:
            sample = clip_frames(clip, args.frames)
            runs, out = time_detector(det, sample, args.repeats)
            ms = statistics.median(runs)
            h, w = sample[0].shape[:2]
            rows.append({
                "detector": name, "clip": clip.name, "resolution": f"{w}x{h}",
                "frames": len(sample), "ms_per_frame": ms, "fps_per_core": 1000 / ms,
                "runs_ms": runs, "dets_per_frame": float(np.mean([len(d) for d in out])),
                "signature": det.signature, "research_ms": RESEARCH_MS[name],
            })
            console.print(f"{name:16s} {clip.name:34s} {ms:7.2f} ms/frame")
    drawn, truth = synthetic_frames(args.frames)
    blob = ColourBlobDetector()
    runs, out = time_detector(blob, drawn, args.repeats)
    found = np.array([len(d) for d in out])
    ms = statistics.median(runs)
    h, w = drawn[0].shape[:2]
    rows.append({
        "detector": "blobs", "clip": "synthetic seed 0 (JPEG q80)", "resolution": f"{w}x{h}",
        "frames": len(drawn), "ms_per_frame": ms, "fps_per_core": 1000 / ms, "runs_ms": runs,
        "dets_per_frame": float(found.mean()), "signature": blob.signature,
        "count_exact": float((found == truth).mean()),
        "classes_found": sorted({COCO_NAMES[int(c)] for d in out for c in d[:, 5]}),
    })
    console.print(Table(
        f"Detector CPU ms/frame, 1 thread, median of {args.repeats} passes",
        ["detector", "clip", "resolution", "frames", "ms_per_frame", "fps_per_core",
         "dets_per_frame", "research_ms", "count_exact"],
        rows, {"ms_per_frame": ".2f", "fps_per_core": ".0f", "dets_per_frame": ".2f",
               "count_exact": ".3f"},
    ).to_rich())
    update_json(RESULTS / "video.json", "detectors", {
        "command": " ".join(["python benchmarks/video/detectors.py", *sys.argv[1:]]),
        "frames": args.frames, "repeats": args.repeats, "rows": rows,
        "machine": machine_record(load_before, opencv=cv2.__version__),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    })


if __name__ == "__main__":
    main()
