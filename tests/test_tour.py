"""`syslab tour` (what `make demo` runs) end to end: tables printed, report and plots written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_tour_writes_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "syslab", "tour", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "mean miss ratio relative to LRU" in result.stdout
    assert "live edge vs simulator" in result.stdout
    assert "scheduling policies (lower JCT and ρ are better)" in result.stdout
    page = (out / "index.html").read_text()
    assert "cache: eviction policies" in page and "<table>" in page
    assert "cdn: one edge in front of an origin" in page
    assert "sched: GPU-cluster scheduling policies" in page
    assert "train: where a data-parallel step spends its time" in page
    assert "DDP handed allreduce exactly the model" in page
    assert "video: frame filters before the detector" in page
    assert "txn: multi-dispatch strict serializability" in page
    assert "checked against MDSS: mdss: valid" in page
    pngs = list((out / "figures").glob("*.png"))
    assert len(pngs) == 9 and all(p.stat().st_size > 10_000 for p in pngs)
