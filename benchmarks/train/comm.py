"""gloo allreduce on this machine: the alpha-beta fit, its held-out error, and wire bytes.

    .venv/bin/python benchmarks/train/comm.py [--repeats 5]

1. Loopback (one private namespace): N = 2, 3, 4 workers allreduce float32 tensors of
   64 KiB .. 64 MiB (`syslab.train.commbench`), `--repeats` timed calls per size between
   barriers; wire bytes per rank from lo's counter over back-to-back calls.
2. veth (a namespace per worker, tbf on each uplink): N = 2 and 3 at 100, 300 and 1000
   Mbit/s, 1 .. 64 MiB: what a slower network does to the same collective.

The alpha-beta model (2(N-1) alpha + 2(N-1)/N S beta) is fitted on N = 2 loopback only and
then predicts N = 3 and 4 (held out); with `with_bandwidth` it predicts the veth runs. Writes
the "comm" key of benchmarks/results/train.json and docs/figures/train/allreduce_fit.png.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from syslab.common.records import machine_record, update_json
from syslab.common.report import Table, table_console
from syslab.train.commbench import CommConfig
from syslab.train.launcher import launch
from syslab.train.metrics import comm_rows
from syslab.train.perfmodel import fit_alpha_beta, mape
from syslab.train.plots import allreduce_fit

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "train.json"
FIGURES = ROOT / "docs" / "figures" / "train"
SIZES = [2**k for k in range(16, 27, 2)]  # 64 KiB .. 64 MiB
VETH_SIZES = [2**k for k in range(20, 27, 2)]  # 1 .. 64 MiB
RATES = (100.0, 300.0, 1000.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    console = table_console()
    load = os.getloadavg()
    rows: list[dict] = []
    for n in (2, 3, 4):
        result = launch(CommConfig(sizes=SIZES, repeats=args.repeats), n, network="loopback")
        rows += comm_rows(result.ranks, "loopback", None)
        console.print(f"loopback N={n} done")
    for rate in RATES:
        for n in (2, 3):
            result = launch(CommConfig(sizes=VETH_SIZES, repeats=args.repeats), n,
                            network="veth", rate_mbit=rate)
            rows += comm_rows(result.ranks, "veth", rate)
            console.print(f"veth {rate:g} Mbit/s N={n} done")
    loop = [r for r in rows if r["network"] == "loopback"]
    fit = fit_alpha_beta([(r["workers"], r["bytes"], r["median_s"]) for r in loop
                          if r["workers"] == 2])
    held = [r for r in loop if r["workers"] > 2]
    for r in rows:
        model = fit if r["rate_mbit"] is None else fit.with_bandwidth(r["rate_mbit"] * 1e6 / 8)
        r["predicted_s"] = model.time(r["bytes"], r["workers"])
    big = [r for r in loop if r["bytes"] >= 2**20]
    summary = {
        "alpha_us": fit.alpha_s * 1e6,
        "bus_bandwidth_gb_s": fit.bus_bandwidth_bytes_per_s / 1e9,
        "fit_mape_n2": fit.fit_mape,
        "heldout_mape_n3_n4": mape([r["predicted_s"] for r in held],
                                   [r["median_s"] for r in held]),
        "heldout_mape_n3_n4_ge_16mib": mape(
            [r["predicted_s"] for r in held if r["bytes"] >= 2**24],
            [r["median_s"] for r in held if r["bytes"] >= 2**24]),
        "veth_mape": mape([r["predicted_s"] for r in rows if r["network"] == "veth"],
                          [r["median_s"] for r in rows if r["network"] == "veth"]),
        "wire_ratio_ge_1mib": {n: [r["wire_ratio"] for r in big if r["workers"] == n]
                               for n in (2, 3, 4)},
        "wire_ratio_max_dev_ge_1mib": max(abs(r["wire_ratio"] - 1) for r in big),
    }
    update_json(RESULTS, "comm", {
        "date": date.today().isoformat(),
        "command": "python benchmarks/train/comm.py", "repeats": args.repeats,
        "summary": summary, "rows": rows,
        "machine": machine_record(load, torch=_torch_version())})
    allreduce_fit(loop, fit, FIGURES / "allreduce_fit.png")
    console.print(Table("gloo allreduce", ["network", "rate_mbit", "workers", "bytes",
                                           "median_s", "predicted_s", "wire_ratio"], rows,
                        {"median_s": ".4f", "predicted_s": ".4f", "wire_ratio": ".4f",
                         "bytes": ",d"}).to_rich())
    console.print({k: v for k, v in summary.items() if not isinstance(v, dict)})
    return 0


def _torch_version() -> str:
    import torch

    return torch.__version__


if __name__ == "__main__":
    sys.exit(main())
