"""Result records: one JSON object per line, so sweeps append and readers stream."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path


def write_jsonl(path: Path, records: Iterable[dict], *, append: bool = False) -> Path:
    """Write `records` to `path` (parents created), one JSON object per line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w") as out:
        for record in records:
            out.write(json.dumps(record, sort_keys=True) + "\n")
    return path


def read_jsonl(path: Path) -> Iterator[dict]:
    """The records in `path`, in order."""
    with Path(path).open() as src:
        for line in src:
            if line.strip():
                yield json.loads(line)
