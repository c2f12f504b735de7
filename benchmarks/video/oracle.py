"""The bound no filter can beat: how few frames must go out if the answers were known ahead.

    .venv/bin/python benchmarks/video/oracle.py [--targets 0.9,0.95]

Uniform sampling, the difference filters and ours' loop answer a frame they do not send
with the last answer they have. Such a filter, if it knew the reference's answer for
every frame in advance, would send a frame exactly where the answer changes enough to
matter; `metrics.fewest_sends` finds the fewest such sends that keep the mean accuracy
at the target, on each shared clip's scored part (after the 20 % profile), against the
smoothed reference. Where our filter sends many
times more, the gap is the filter's (knowing *when* the answer changes), not the clip's.

Writes the "oracle" key of benchmarks/results/video.json (other keys are kept).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console

from syslab.common.records import update_json
from syslab.common.report import Table
from syslab.video.detectors import REFERENCE, load_detector
from syslab.video.engine import profile_split
from syslab.video.metrics import fewest_sends
from syslab.video.query import parse_query
from syslab.video.reference import reference_answers
from syslab.video.workloads import CLIPS, resolve_clip

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="0.9,0.95")
    args = parser.parse_args()
    targets = [float(t) for t in args.targets.split(",")]
    console = Console()
    det = load_detector(REFERENCE)
    rows = []
    for name, spec in CLIPS.items():
        path = resolve_clip(name)
        query = parse_query(spec.query, det.classes)
        labels = reference_answers(path, det, query, 9, progress=False)
        scored = labels[profile_split(len(labels)):]
        for target in targets:
            t0 = time.process_time()
            sends, accuracy = fewest_sends(query.judged_as, scored, target)
            rows.append({"clip": name, "query": spec.query, "target": target,
                         "scored_frames": len(scored), "fewest_sends": sends,
                         "fraction_sent": sends / len(scored), "accuracy": accuracy,
                         "cpu_s": time.process_time() - t0})
    console.print(Table("Fewest frames sent at each target, answers known in advance",
                        ["clip", "target", "scored_frames", "fewest_sends", "fraction_sent",
                         "accuracy"], rows,
                        {"fraction_sent": ".3f", "accuracy": ".3f"}).to_rich())
    update_json(RESULTS / "video.json", "oracle", {
        "command": "python benchmarks/video/oracle.py " + " ".join(sys.argv[1:]),
        "reference": REFERENCE, "smooth_window": 9, "profile_fraction": 0.2, "rows": rows,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    })


if __name__ == "__main__":
    main()
