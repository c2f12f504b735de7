"""The cache lab's quick experiment: every policy on the synthetic suite, in well under a minute."""

from __future__ import annotations

from pathlib import Path

from syslab.cache import compare as cmp
from syslab.cache.policies import POLICIES
from syslab.cache.workloads.suites import synthetic_suite
from syslab.common.report import Section, Table

SIZES = [0.003, 0.01, 0.03, 0.1]
SUITE_REQUESTS = 100_000  # keeps the tour well under its 2-minute budget on 2 cores


def tour(out: Path) -> Section:
    """Compare all policies on the synthetic suite; tables of mean and per-trace results."""
    records = cmp.run_compare(synthetic_suite(SUITE_REQUESTS), list(POLICIES), SIZES)
    means = cmp.mean_relative(records)
    size_cols = [f"{z:g}" for z in SIZES]
    summary = [
        {"policy": p} | {c: means[(p, str(z))] for c, z in zip(size_cols, SIZES, strict=True)}
        for p in POLICIES
    ]
    summary.sort(key=lambda row: row[size_cols[-1]])
    at = str(0.01)
    per_trace = sorted(
        (
            {"trace": r["trace"], "policy": r["policy"], "miss_ratio": r["miss_ratio"]}
            for r in records
            if r["size"] == at and r["policy"] != "belady"
        ),
        key=lambda row: (row["trace"], row["miss_ratio"]),
    )
    best = {}
    for row in per_trace:
        best.setdefault(row["trace"], row)
    return Section(
        title="cache: eviction policies on the synthetic suite",
        text=(
            f"{len(POLICIES)} policies x {len(SIZES)} sizes (fractions of unique objects) x "
            f"4 synthetic workloads (web-like with one-hit wonders, skewed, scans, loops). "
            "Run `syslab cache compare` on real traces for the full picture."
        ),
        tables=[
            Table(
                "mean miss ratio relative to LRU, by cache size (lower is better)",
                ["policy", *size_cols],
                summary,
                dict.fromkeys(size_cols, ".3f"),
            ),
            Table(
                f"best online policy per workload at size {at} (Belady is the offline bound)",
                ["trace", "policy", "miss_ratio"],
                list(best.values()),
                {"miss_ratio": ".4f"},
            ),
        ],
        figures=[
            cmp.plot_miss_ratio_curves(records, out / "miss_ratio_curves"),
            cmp.plot_relative_to_lru(records, out / "miss_ratio_vs_lru"),
        ],
    )
