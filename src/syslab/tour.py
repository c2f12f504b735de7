"""`syslab tour`: each finished lab's quick experiment, printed and written as one HTML report."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from rich.console import Console

from syslab.common.report import Section, write_html

# Every lab, in the order of the README; a lab joins TOURS when its quick experiment exists.
LABS = ("cache", "cdn", "sched", "edge", "train", "video", "txn", "trace", "cc", "memory")
TOURS: dict[str, str] = {
    "cache": "syslab.cache.tour:tour",
    "cdn": "syslab.cdn.tour:tour",
    "sched": "syslab.sched.tour:tour",
    "train": "syslab.train.tour:tour",
    "video": "syslab.video.tour:tour",
    "txn": "syslab.txn.tour:tour",
}


def run_tour(out: Path, console: Console) -> Path:
    """Run every lab in TOURS, print its section, and write `out/index.html`."""
    sections: list[Section] = []
    for lab, target in TOURS.items():
        module, func = target.split(":")
        section: Section = getattr(import_module(module), func)(Path(out) / lab)
        section.print(console)
        sections.append(section)
    return write_html(sections, Path(out), title="syslab tour")
