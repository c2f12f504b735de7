"""Request logs: one CSV row per request (time, region, url, size), read and written."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from syslab.cdn.plan.constants import KEY_ALIASES, LOG_COLUMNS
from syslab.common.errors import UserError


@dataclass(eq=False)
class RequestLog:
    """Requests in time order: at `times[i]` region `regions[i]` asked for object `keys[i]`.

    `regions` index `region_names`; `keys` are dense object ids 0..n_objects-1 (`key_names`
    gives their original names when the log had any).
    """

    times: np.ndarray
    regions: np.ndarray
    keys: np.ndarray
    sizes: np.ndarray
    region_names: list[str]
    name: str = "log"
    key_names: list[str] | None = None

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.float64)
        self.regions = np.asarray(self.regions, dtype=np.int64)
        self.keys = np.asarray(self.keys, dtype=np.int64)
        self.sizes = np.asarray(self.sizes, dtype=np.int64)
        n = len(self.times)
        if not (len(self.regions) == len(self.keys) == len(self.sizes) == n):
            raise ValueError("times, regions, keys and sizes must have one entry per request")
        if n and np.any(np.diff(self.times) < 0):  # keep every window a contiguous slice
            order = np.argsort(self.times, kind="stable")
            self.times, self.regions = self.times[order], self.regions[order]
            self.keys, self.sizes = self.keys[order], self.sizes[order]

    def __len__(self) -> int:
        return len(self.times)

    @property
    def n_objects(self) -> int:
        return int(self.keys.max()) + 1 if len(self.keys) else 0

    def slice(self, start: int, stop: int) -> RequestLog:
        return RequestLog(
            self.times[start:stop],
            self.regions[start:stop],
            self.keys[start:stop],
            self.sizes[start:stop],
            self.region_names,
            self.name,
            self.key_names,
        )

    def windows(self, fractions: Sequence[float]) -> list[tuple[RequestLog, float]]:
        """Consecutive windows (log, seconds) cut at the given fractions of the time span; the
        last window runs to the last request. Every window must hold a request."""
        if any(f <= 0 for f in fractions) or sum(fractions) >= 1:
            raise UserError(
                f"window fractions must be positive and leave room for evaluation, got "
                f"{', '.join(f'{f:g}' for f in fractions)}"
            )
        t0, t1 = float(self.times[0]), float(self.times[-1])
        if t1 <= t0:
            raise UserError(f"{self.name}: all requests have the same time; no window to learn on")
        cuts = [t0 + float(c) * (t1 - t0) for c in np.cumsum(fractions)]
        edges = [t0, *cuts, t1]
        idx = [0, *(int(np.searchsorted(self.times, c, side="left")) for c in cuts), len(self)]
        out = []
        for k in range(len(edges) - 1):
            if idx[k + 1] <= idx[k]:
                raise UserError(
                    f"{self.name}: window {k + 1} of {len(edges) - 1} is empty "
                    f"(fractions {', '.join(f'{f:g}' for f in fractions)})"
                )
            out.append((self.slice(idx[k], idx[k + 1]), edges[k + 1] - edges[k]))
        return out

    def split(self, train_fraction: float) -> tuple[RequestLog, RequestLog, float, float]:
        """(train, eval, train seconds, eval seconds): cut at `train_fraction` of the time span."""
        if not 0 < train_fraction < 1:
            raise UserError(f"train fraction must be between 0 and 1, got {train_fraction}")
        (train, train_s), (ev, eval_s) = self.windows([train_fraction])
        return train, ev, train_s, eval_s


def read_log(path: Path | str) -> RequestLog:
    """Read a CSV request log: header with time, region, url (or key), size; one request a row."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such request log")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror}") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    while header is not None and not any(c.strip() for c in header):
        header = next(rows, None)
    if header is None:
        raise UserError(f"{path}: empty request log (expected a header: {', '.join(LOG_COLUMNS)})")
    names = [c.strip().lower() for c in header]
    index = {}
    for column in ("time", "region", "size"):
        if column not in names:
            raise UserError(
                f"{path}: missing column {column!r} (header has: {', '.join(names)}; "
                f"need {', '.join(LOG_COLUMNS)})"
            )
        index[column] = names.index(column)
    key_col = next((names.index(k) for k in KEY_ALIASES if k in names), None)
    if key_col is None:
        raise UserError(f"{path}: missing column 'url' (or 'key'); header has: {', '.join(names)}")
    index["key"] = key_col
    width = max(index.values()) + 1

    times: list[float] = []
    regions: list[int] = []
    keys: list[int] = []
    sizes: list[int] = []
    region_ids: dict[str, int] = {}
    key_ids: dict[str, int] = {}
    for row in rows:
        if not any(c.strip() for c in row):
            continue
        line = rows.line_num
        if len(row) < width:
            raise UserError(f"{path}:{line}: expected {len(names)} fields, got {len(row)}")
        t_text, region, key, s_text = (
            row[index[c]].strip() for c in ("time", "region", "key", "size")
        )
        try:
            t = float(t_text)
        except ValueError:
            raise UserError(f"{path}:{line}: bad time {t_text!r} (seconds expected)") from None
        if not math.isfinite(t):
            raise UserError(f"{path}:{line}: bad time {t_text!r} (seconds expected)")
        try:
            s = int(s_text)
        except ValueError:
            raise UserError(f"{path}:{line}: bad size {s_text!r} (whole bytes expected)") from None
        if s < 0:
            raise UserError(f"{path}:{line}: negative size {s}")
        if not region:
            raise UserError(f"{path}:{line}: empty region")
        if not key:
            raise UserError(f"{path}:{line}: empty url")
        times.append(t)
        sizes.append(s)
        regions.append(region_ids.setdefault(region, len(region_ids)))
        keys.append(key_ids.setdefault(key, len(key_ids)))
    if not times:
        raise UserError(f"{path}: no requests (only a header)")
    return RequestLog(
        np.array(times),
        np.array(regions),
        np.array(keys),
        np.array(sizes),
        list(region_ids),
        path.name,
        list(key_ids),
    )


def write_log(log: RequestLog, path: Path | str) -> Path:
    """Write `log` as the CSV that `read_log` reads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = log.key_names
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LOG_COLUMNS)
        for t, r, k, s in zip(
            log.times.tolist(),
            log.regions.tolist(),
            log.keys.tolist(),
            log.sizes.tolist(),
            strict=True,
        ):
            w.writerow((f"{t:.3f}", log.region_names[r], names[k] if names else f"/o/{k}", s))
    return path
