"""The video lab's quick experiment: every filter on a synthetic clip, in seconds.

A generated clip (vehicles and pedestrians crossing a textured, noisy scene, with idle
stretches and bursts) stands in for a camera; the colour-blob detector, exact on these
clips, stands in for the reference. Each filter learns on the first 20 % and is scored
on the rest, for a counting query and for a presence query.
"""

from __future__ import annotations

from pathlib import Path

from syslab.common.report import Section, Table
from syslab.video.detectors import load_detector
from syslab.video.engine import best_uniform_at, evaluate, load_clip, uniform_curve
from syslab.video.filters import make_filter
from syslab.video.plots import OURS, tradeoff
from syslab.video.query import parse_query
from syslab.video.workloads import generate

FILTERS = ["uniform", "diff-pixel", "diff-edge", "adaptive", "empty", "cascade", "ours"]
QUERIES = ["count:car,truck,bus", "presence:person"]
TARGET = 0.9
SECONDS, FPS = 40.0, 15.0


def tour(out: Path) -> Section:
    """Generate a clip, replay every filter for two queries; a table and two figures."""
    out.mkdir(parents=True, exist_ok=True)
    video = out / "synthetic.mp4"
    generate(video, seconds=SECONDS, fps=FPS, width=640, height=360, seed=3)
    det = load_detector("blobs")
    rows, figures, notes = [], [], []
    for text in QUERIES:
        q = parse_query(text, det.classes)
        clip = load_clip(video, det, q, smooth_window=1, progress=False,
                         cache_dir=out / "cache")
        runs = []
        for name in FILTERS:
            r = evaluate(make_filter(name), clip, TARGET)
            r["name"] = name
            runs.append(r)
            rows.append({"query": text, "filter": r["filter"], "accuracy": r["accuracy"],
                         "filtered": r["fraction_filtered"],
                         "segments ok": r["segments_meeting_target"],
                         "ms/frame": r["filter_cpu_ms_per_frame"]})
        curve = uniform_curve(clip)
        ours = next(r for r in runs if r["name"] == OURS)
        uni = best_uniform_at(curve, ours["accuracy"])
        if uni:
            notes.append(f"{text}: ours filters {ours['fraction_filtered']:.0%} at accuracy "
                         f"{ours['accuracy']:.3f}; the best uniform rate at least as accurate "
                         f"(1 in {uni['every']}) filters {uni['fraction_filtered']:.0%}.")
        figures.append(tradeoff(f"synthetic clip, {text}", curve, runs, TARGET,
                                out / f"tradeoff_{text.split(':')[0]}"))
    columns = list(rows[0])
    formats = {"accuracy": ".3f", "filtered": ".2f", "segments ok": ".2f", "ms/frame": ".3f"}
    return Section(
        title="video: frame filters before the detector, on a synthetic clip",
        text=(f"A {SECONDS:.0f}-s synthetic clip at {FPS:g} fps (640×360), the colour-blob "
              f"detector as reference; filters learn on the first 20 % and must keep accuracy "
              f"{TARGET:g} (Reducto's counting accuracy; tagging accuracy for presence) on the "
              "rest. " + " ".join(notes) + " Run `syslab video run --video highway` on the "
              "shared clips for the real detector."),
        tables=[Table("filters (higher filtered is better at the target accuracy)", columns,
                      rows, formats)],
        figures=figures,
    )
