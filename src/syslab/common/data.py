"""Where real data sets are looked up: $SYSLAB_DATA, else ../shared/data when present.

Data never ships with the project; tests and the demo generate synthetic data instead.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "SYSLAB_DATA"


def data_root() -> Path | None:
    """The data root in force, or None when no real data is available."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def lab_data(lab: str) -> Path | None:
    """`<root>/<lab>` if it exists, else None."""
    root = data_root()
    if root is None:
        return None
    path = root / lab
    return path if path.is_dir() else None


def lab_files(lab: str) -> list[Path]:
    """The lab's data files (READMEs and licenses left out), sorted by name."""
    path = lab_data(lab)
    if path is None:
        return []
    skip = ("readme", "license")
    return sorted(
        p
        for p in path.iterdir()
        if p.is_file() and not p.name.lower().startswith(skip) and "license" not in p.name.lower()
    )
