"""Result records: one JSON object per line, so sweeps append and readers stream."""

from __future__ import annotations

import json
import os
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


def update_json(path: Path, key: str, value: object) -> Path:
    """Set `key` of the JSON object in `path`, keeping the other keys; atomic replace.

    Several benchmark scripts of one lab share a results file, one key each: the file is
    re-read just before writing so a script never drops what another wrote meanwhile, and
    replaced whole so a reader never sees half of it. Non-finite floats are refused.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    tmp = path.with_suffix(f".{key}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=float) + "\n")
    os.replace(tmp, path)
    return path


def machine_record(load_before: tuple[float, float, float], **versions: str) -> dict:
    """Where a benchmark ran: Python, cores, library versions, and the load average before
    and after (this machine is shared: a busy neighbour shows here)."""
    import platform

    return {"python": platform.python_version(), "cpus": os.cpu_count(), **versions,
            "load_before": list(load_before), "load_after": list(os.getloadavg())}
