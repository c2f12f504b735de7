"""How the edge/parent split decides a tiered CDN's byte hit ratio, on real traces (simulated).

    .venv/bin/python benchmarks/cdn/tiered_split.py [--fractions 0.05,0.1]

The live benchmark (`tiered.py`) replays a synthetic web-like trace through real nodes and
found the simulation within 0.003 of the live ratio; this script runs the same simulation
(`tiered.sweep`: 3 edges + 2 parents, round-robin clients, rendezvous parents, the node's
default policy) on the real traces with sizes in the cache lab's data, for several splits
and total sizes. Writes the "tiered_split" key of benchmarks/results/cdn.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tiered  # noqa: E402 - the sibling benchmark's simulator

from syslab.cache.workloads import read_trace  # noqa: E402
from syslab.cdn.replay import request_path  # noqa: E402
from syslab.common.data import lab_data  # noqa: E402
from syslab.common.records import update_json  # noqa: E402
from syslab.common.report import Table  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TRACES = {
    "cloudPhysicsIO": "cloudPhysicsIO.oracleGeneral.bin",
    "tencent_photo_sample": "tencent_photo_cdn_sample.txt.bz2",
}
SHARES = [0.0, 0.05, 0.14, 0.3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", default="0.05,0.1", help="CDN size / trace footprint")
    args = parser.parse_args()
    fractions = [float(f) for f in args.fractions.split(",")]
    console = Console()
    rows, notes = [], []
    started = time.perf_counter()
    for name, filename in TRACES.items():
        path = lab_data("cache") / filename
        if not path.exists():
            notes.append(f"{filename} not found: skipped")
            continue
        trace = read_trace(path)
        sizes = np.clip(trace.sizes.astype(np.int64), 1, 2**20)
        urls = [request_path(int(k), int(s)) for k, s in zip(trace.keys, sizes, strict=True)]
        footprint = int(sum(dict(zip(urls, sizes.tolist(), strict=True)).values()))
        for fraction in fractions:
            for row in tiered.sweep(urls, sizes, int(footprint * fraction), SHARES):
                rows.append({"trace": name, "cdn_size": fraction, **row})
    console.print(
        Table(
            "tiered (3 edges + 2 parents) vs one node of the same size, simulated",
            ["trace", "cdn_size", "edge_share", "tiered_bhr", "single_bhr", "ratio"],
            rows,
            {"tiered_bhr": ".4f", "single_bhr": ".4f", "ratio": ".3f", "edge_share": ".2f"},
        ).to_rich()
    )
    result = {
        "command": "python benchmarks/cdn/tiered_split.py " + " ".join(sys.argv[1:]),
        "method": "tiered.sweep (in-process: the node's policy per node, same routing as live)",
        "rows": rows,
        "notes": notes,
        "seconds": time.perf_counter() - started,
    }
    out = update_json(ROOT / "benchmarks" / "results" / "cdn.json", "tiered_split", result)
    console.print(f"wrote {out} (tiered_split)")


if __name__ == "__main__":
    main()
