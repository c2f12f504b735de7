"""Placement by demand and price: what to push to which edge, and what it costs against LRU.

Pure computation, no network I/O. The pieces, in the order `syslab cdn plan` uses them:

* **Inputs.** A request log (`read_log`: CSV with columns `time` in seconds, `region`,
  `url` or `key`, `size` in bytes) and a price/topology file (`read_prices`: JSON or TOML, one
  edge node per region). A synthetic generator (`synthetic_log`) and a replay of the cache
  lab's Tencent photo-CDN trace (`replay_trace`) stand in when there is no regional log.
* **Units.** GB = 10^9 bytes; `storage_price` is $ per GB-month, a month is 30 days
  (2,592,000 s); `egress_price` (edge -> clients) and `fill_price` (origin -> edge) are $ per
  GB. Every node is an edge in its region; clients are always served by their region's edge.
* **Cost of a window.** Per node:
  storage = storage_price * stored_byte_seconds / (GB * month),
  fill = fill_price * (pushed bytes + miss bytes) / GB,
  egress = egress_price * requested bytes / GB.
  Egress is the same for every strategy (a miss is fetched through the edge, a hit is served
  from it); it is reported because it is part of the bill and dilutes any saving.
* **Demand.** `learn_demand` counts requests per (region, object) on a training window; the
  expected count in the next window of length T is n_hat = n_train * T / T_train.
* **Planner.** `plan_placement`: pushing object o (size s) to node r for a window of length T
  saves (n_hat - 1) * s * fill_price_r (the first fill is the push itself) and costs
  s * storage_price_r * T / month. Objects whose saving per GB exceeds `min_saving` (0: the
  saving exceeds the storage cost) are taken in order of saving per byte (= value density of a
  0/1 knapsack), skipping any that no longer fit, until `budget` * capacity is used.
* **Simulation.** `simulate_plan`: pushed objects are hits for the whole window, the push is
  charged as fill, storage is pushed bytes * T; every other request passes through the edge
  from the origin (a miss, no caching), unless `remainder` > 0 gives the non-pushed objects an
  LRU over that fraction of the node's unpushed capacity. `simulate_lru`: "cache everywhere"
  -- each edge an LRU of its capacity in bytes (the cache lab's policy), warmed on the
  training window (not counted), stored bytes integrated over time.
* **Equal hit ratio.** `compare` sweeps the plan's budget (and, to buy hit ratio beyond the
  profitable set, `min_saving = -inf`: any object with demand) and the LRU's capacity. At the
  LRU's hit ratio the plan's cost is (a) the cheapest swept plan whose hit ratio is at least
  the LRU's ("step", an actual plan) and (b) a linear interpolation along the plan's
  cost/hit-ratio frontier. Every plan is learned on the training window only; the sweep is a
  curve over the evaluation window, like a miss-ratio curve, not a tuned operating point.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from syslab.common.errors import UserError

GB = 1e9
MONTH_S = 30 * 24 * 3600.0
LOG_COLUMNS = ("time", "region", "url", "size")
KEY_ALIASES = ("url", "key")
PLAN_BUDGETS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
LRU_SCALES = (0.125, 0.25, 0.5, 1.0)

# ---------------------------------------------------------------------------------------------
# Request logs


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


# ---------------------------------------------------------------------------------------------
# Prices and topology


@dataclass(frozen=True)
class Node:
    """One edge: prices in $ (storage per GB-month, egress and fill per GB), capacity in bytes."""

    region: str
    storage_price: float
    egress_price: float
    fill_price: float
    capacity: int


@dataclass
class Prices:
    nodes: list[Node]

    @property
    def regions(self) -> list[str]:
        return [n.region for n in self.nodes]

    def to_dict(self) -> dict:
        return {
            "units": "storage_price $/GB-month (GB = 1e9 B, month = 30 d); egress_price and "
            "fill_price $/GB; capacity bytes",
            "nodes": [vars(n) for n in self.nodes],
        }


_PRICE_FIELDS = ("storage_price", "egress_price", "fill_price")
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(value: object, where: str = "capacity") -> int:
    """Bytes from a number or a string like "256MB" / "1.5GiB" (decimal and binary units)."""
    if isinstance(value, bool):
        raise UserError(f"{where}: expected bytes, got {value!r}")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        i = len(text)
        while i and text[i - 1].isalpha():
            i -= 1
        number_text, unit = text[:i], text[i:]
        try:
            number = float(number_text)
        except ValueError:
            raise UserError(f'{where}: bad size {value!r} (e.g. 1000000, "256MB")') from None
    else:
        raise UserError(f"{where}: expected bytes, got {value!r}")
    if unit not in _UNITS:
        raise UserError(f"{where}: unknown unit in {value!r} (use B, KB, MB, GB, TB or KiB, …)")
    result = number * _UNITS[unit]
    if not math.isfinite(result) or result <= 0:
        raise UserError(f"{where}: capacity must be positive, got {value!r}")
    return int(result)


def parse_prices(data: object, source: str = "prices") -> Prices:
    """Prices from parsed JSON/TOML: {"nodes": [{region, storage_price, …}], defaults…}.

    Top-level price fields and `capacity` are defaults for every node that omits them.
    """
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not data["nodes"]:
        raise UserError(f"{source}: expected a non-empty list 'nodes' (one node per region)")
    defaults = {k: data[k] for k in (*_PRICE_FIELDS, "capacity") if k in data}
    nodes: list[Node] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["nodes"]):
        if not isinstance(raw, dict):
            raise UserError(f"{source}: node {i + 1} is not a table/object")
        entry = defaults | raw
        region = entry.get("region")
        if not isinstance(region, str) or not region.strip():
            raise UserError(f"{source}: node {i + 1} has no 'region'")
        where = f"{source}: node {region!r}"
        if region in seen:
            raise UserError(f"{where} appears twice (one node per region)")
        seen.add(region)
        values = {}
        for name in _PRICE_FIELDS:
            if name not in entry:
                raise UserError(f"{where} has no {name!r}")
            v = entry[name]
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise UserError(f"{where}: {name} must be a number, got {v!r}")
            if v < 0:
                raise UserError(f"{where}: {name} must not be negative, got {v}")
            values[name] = float(v)
        if "capacity" not in entry:
            raise UserError(f"{where} has no 'capacity' (bytes)")
        capacity = parse_bytes(entry["capacity"], f"{where}: capacity")
        nodes.append(Node(region, capacity=capacity, **values))
    return Prices(nodes)


def read_prices(path: Path | str) -> Prices:
    """Read a price/topology file: TOML when it ends in .toml, else JSON."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such prices file")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise UserError(f"{path}: not valid {kind}: {msg}") from None
    return parse_prices(data, str(path))


def align(log: RequestLog, prices: Prices) -> RequestLog:
    """`log` with regions renumbered to the order of `prices.nodes`; every region needs a node."""
    index = {r: i for i, r in enumerate(prices.regions)}
    missing = [r for r in log.region_names if r not in index]
    if missing:
        raise UserError(
            f"{log.name}: region {missing[0]!r} has no node in the prices file "
            f"(nodes: {', '.join(prices.regions)})"
        )
    mapping = np.array([index[r] for r in log.region_names], dtype=np.int64)
    return RequestLog(
        log.times,
        mapping[log.regions],
        log.keys,
        log.sizes,
        prices.regions,
        log.name,
        log.key_names,
    )


# Example prices (the synthetic demo's, also the benchmark's; fixed before any measurement).
# A self-hosted CDN: edges in colocation with cheap transit (egress), an origin in a cloud
# whose internet egress ($0.09/GB, more to far regions) is the fill price, SSD-class cache
# storage at cloud block-storage prices.
EXAMPLE_PRICES: dict = {
    "nodes": [
        {"region": "na", "storage_price": 0.10, "egress_price": 0.010, "fill_price": 0.09,
         "capacity": "256MB"},
        {"region": "eu", "storage_price": 0.10, "egress_price": 0.010, "fill_price": 0.09,
         "capacity": "256MB"},
        {"region": "apac", "storage_price": 0.15, "egress_price": 0.030, "fill_price": 0.12,
         "capacity": "128MB"},
        {"region": "sa", "storage_price": 0.20, "egress_price": 0.040, "fill_price": 0.15,
         "capacity": "128MB"},
    ]
}  # fmt: skip


def example_prices() -> Prices:
    return parse_prices(EXAMPLE_PRICES, "example prices")


# ---------------------------------------------------------------------------------------------
# Workloads: synthetic regional logs and a replay of a real trace


def synthetic_log(
    regions: Sequence[str] = ("na", "eu", "apac", "sa"),
    *,
    n_requests: int = 200_000,
    n_objects: int = 20_000,
    alpha: float = 0.9,
    locality: float = 0.5,
    one_hit_fraction: float = 0.1,
    region_weights: Sequence[float] | None = None,
    size_mean: float = 64_000,
    size_shape: float = 1.8,
    duration_s: float = 14 * 86400.0,
    seed: int = 0,
) -> RequestLog:
    """Regional requests with partly shared, partly regional popularity; deterministic by seed.

    Every region draws a Zipf(alpha) rank per request; with probability `locality` the rank
    is looked up in the region's own random permutation of the objects (regional hits), else
    in one global permutation (shared hits). `one_hit_fraction` of requests go to fresh
    objects never requested again. Object sizes are Pareto (Lomax) with `size_shape` and mean
    `size_mean`, at least 1 KB. Times are uniform over `duration_s` (a stationary Poisson
    process), so a plan learned on one window holds on the next.
    """
    if not regions:
        raise UserError("synthetic log: need at least one region")
    if n_requests < 2 or n_objects < 1:
        raise UserError("synthetic log: need at least 2 requests and 1 object")
    if not 0 <= locality <= 1 or not 0 <= one_hit_fraction < 1:
        raise UserError("synthetic log: locality and one-hit fraction must be fractions")
    if size_shape <= 1:
        raise UserError("synthetic log: size shape must exceed 1 (finite mean)")
    rng = np.random.default_rng(seed)
    n_regions = len(regions)
    weights = np.asarray(
        region_weights if region_weights is not None else [0.4, 0.3, 0.2, 0.1][:n_regions],
        dtype=np.float64,
    )
    if len(weights) != n_regions or weights.sum() <= 0:
        weights = np.ones(n_regions)
    weights = weights / weights.sum()

    times = np.sort(rng.uniform(0.0, duration_s, n_requests))
    region = rng.choice(n_regions, size=n_requests, p=weights)
    ranks = np.arange(1, n_objects + 1, dtype=np.float64)
    cdf = np.cumsum(ranks**-alpha)
    cdf /= cdf[-1]
    rank = np.minimum(np.searchsorted(cdf, rng.random(n_requests)), n_objects - 1)
    global_perm = rng.permutation(n_objects)
    regional_perm = np.stack([rng.permutation(n_objects) for _ in range(n_regions)])
    local = rng.random(n_requests) < locality
    keys = np.where(local, regional_perm[region, rank], global_perm[rank])
    one_hit = rng.random(n_requests) < one_hit_fraction
    keys[one_hit] = n_objects + np.arange(int(one_hit.sum()))
    n_total = n_objects + int(one_hit.sum())
    # Lomax: scale so that the mean is size_mean; floor at 1 KB, cap at 1 GB.
    scale = size_mean * (size_shape - 1)
    obj_sizes = scale * (rng.random(n_total) ** (-1.0 / size_shape) - 1.0)
    obj_sizes = np.clip(obj_sizes, 1000, 1e9).astype(np.int64)
    names = list(regions)
    return RequestLog(times, region, keys, obj_sizes[keys], names, f"synthetic-seed{seed}")


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a fixed, well-spread hash of uint64 values (vectorized)."""
    x = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        x += np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def regionalize(keys: np.ndarray, n_regions: int, locality: float = 0.75) -> np.ndarray:
    """Deterministic region per request for a trace without client locations.

    Each object has a home region, hash(key) mod R. A request goes to its object's home with
    probability `locality` (decided by a hash of key and request index), else to the region
    hash(request index) mod R. So every region has its own hot set (regional skew) while
    popular objects are still requested everywhere, and the same trace always gives the same
    regions.
    """
    keys = np.asarray(keys, dtype=np.uint64)
    index = np.arange(len(keys), dtype=np.uint64)
    home = _mix64(keys) % np.uint64(n_regions)
    coin = (_mix64(keys ^ _mix64(index)) >> np.uint64(11)).astype(np.float64) / 2.0**53
    other = _mix64(index + np.uint64(0x5851F42D4C957F2D)) % np.uint64(n_regions)
    return np.where(coin < locality, home, other).astype(np.int64)


def _tencent_times(path: Path, n: int) -> np.ndarray:
    """Seconds since the first request; requests within one logged second are spread evenly."""
    import bz2
    import gzip
    import lzma

    opener = {".bz2": bz2.open, ".gz": gzip.open, ".xz": lzma.open}.get(path.suffix, open)
    stamps: list[float] = []
    cache: dict[str, float] = {}
    with opener(path, "rt", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            field_ = line.split(maxsplit=1)[0] if line.strip() else None
            if field_ is None:
                continue
            if field_ not in cache:
                try:
                    dt = datetime.strptime(field_, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
                except ValueError:
                    raise UserError(f"{path}:{lineno}: bad timestamp {field_!r}") from None
                cache[field_] = dt.timestamp()
            stamps.append(cache[field_])
            if len(stamps) == n:
                break
    secs = np.array(stamps) - stamps[0]
    # Position within its second: k-th of m requests logged in that second -> + (k + 0.5) / m.
    _, start, counts = np.unique(secs, return_index=True, return_counts=True)
    within = np.arange(len(secs)) - np.repeat(start, counts)
    return secs + (within + 0.5) / np.repeat(counts, counts)


def replay_trace(
    path: Path | str, regions: Sequence[str], *, locality: float = 0.75, limit: int | None = None
) -> RequestLog:
    """A real trace with sizes (the cache lab's readers) as a regional log via `regionalize`.

    Times: the Tencent photo trace's timestamps (1 s resolution, spread evenly within each
    second); other formats have none in the cache lab's readers, so request i is at second i.
    """
    from syslab.cache.workloads import detect_format, read_trace

    path = Path(path)
    trace = read_trace(path, limit=limit)
    if trace.sizes is None:
        raise UserError(f"{path}: trace has no object sizes; placement needs bytes")
    if detect_format(path) == "tencent":
        times = _tencent_times(path, len(trace))
    else:
        times = np.arange(len(trace), dtype=np.float64)
    if len(times) != len(trace):
        raise UserError(f"{path}: {len(times)} timestamps for {len(trace)} requests")
    _, dense = np.unique(trace.keys, return_inverse=True)
    region = regionalize(trace.keys, len(regions), locality)
    return RequestLog(times, region, dense, trace.sizes, list(regions), trace.name)


# ---------------------------------------------------------------------------------------------
# Demand and the planner


@dataclass
class Demand:
    """Requests per (node, object) on the training window, and each object's size."""

    counts: np.ndarray  # shape (n_nodes, n_objects)
    sizes: np.ndarray  # bytes per object (last size seen; 0 if never seen)
    train_s: float


def learn_demand(train: RequestLog, n_nodes: int, n_objects: int, train_s: float) -> Demand:
    flat = train.regions * n_objects + train.keys
    counts = np.bincount(flat, minlength=n_nodes * n_objects).reshape(n_nodes, n_objects)
    sizes = np.zeros(n_objects, dtype=np.int64)
    sizes[train.keys] = train.sizes  # fancy assignment: the last occurrence wins
    return Demand(counts, sizes, train_s)


@dataclass
class NodePlan:
    region: str
    capacity: int
    budget: int
    keys: np.ndarray  # pushed object ids
    key_sizes: np.ndarray  # their sizes (bytes)
    bytes: int
    candidates: int  # objects with demand at this node
    unprofitable: int  # candidates skipped: saving per GB <= min_saving
    no_room: int  # profitable candidates that did not fit
    expected_requests: float
    expected_saving: float  # $ over the window, net of storage and of the push itself


@dataclass
class Plan:
    nodes: list[NodePlan]
    period_s: float
    budget: float
    min_saving: float


def plan_placement(
    demand: Demand,
    prices: Prices,
    period_s: float,
    *,
    budget: float = 1.0,
    min_saving: float = 0.0,
    resident: Plan | None = None,
) -> Plan:
    """Push to each node the objects whose expected saving per GB beats `min_saving` ($/GB),
    best saving per byte first, within `budget` * capacity (skipping ones that do not fit).

    saving(o, r) = s_o / GB * ((n_hat - push) * fill_r - storage_r * period / month),
    n_hat = n_train(o, r) * period / train window; push = 0 for an object the `resident`
    plan already put on node r (keeping it costs no fill), else 1.
    """
    if not 0 < budget <= 1:
        raise UserError(f"plan budget must be a fraction of capacity in (0, 1], got {budget}")
    scale = period_s / demand.train_s
    nodes = []
    for r, node in enumerate(prices.nodes):
        counts = demand.counts[r]
        cand = np.flatnonzero(counts)
        n_hat = counts[cand] * scale
        push = np.ones(len(cand))
        if resident is not None:
            push[np.isin(cand, resident.nodes[r].keys)] = 0.0
        per_gb = (n_hat - push) * node.fill_price - node.storage_price * period_s / MONTH_S
        ok = per_gb > min_saving
        cand, n_hat, per_gb = cand[ok], n_hat[ok], per_gb[ok]
        # Best saving per byte first; ties: more requests, then smaller id (deterministic).
        order = np.lexsort((cand, -n_hat, -per_gb))
        cand, n_hat, per_gb = cand[order], n_hat[order], per_gb[order]
        sizes = demand.sizes[cand]
        cap = int(node.capacity * budget)
        take = _greedy_fit(sizes, cap)
        keys = cand[take]
        nodes.append(
            NodePlan(
                region=node.region,
                capacity=node.capacity,
                budget=cap,
                keys=keys,
                key_sizes=sizes[take],
                bytes=int(sizes[take].sum()),
                candidates=int(np.count_nonzero(counts)),
                unprofitable=int(np.count_nonzero(~ok)),
                no_room=int(len(cand) - take.sum()),
                expected_requests=float(n_hat[take].sum()),
                expected_saving=float((per_gb[take] * sizes[take]).sum() / GB),
            )
        )
    return Plan(nodes, period_s, budget, min_saving)


def _greedy_fit(sizes: np.ndarray, capacity: int) -> np.ndarray:
    """Take items in order while they fit; an item that does not fit is skipped, not a stop."""
    take = np.zeros(len(sizes), dtype=bool)
    space, start = capacity, 0
    while start < len(sizes):
        csum = np.cumsum(sizes[start:])
        k = int(np.searchsorted(csum, space, side="right"))  # items of the prefix that fit
        take[start : start + k] = True
        if k:
            space -= int(csum[k - 1])
        start += k
        fits = np.flatnonzero(sizes[start:] <= space)
        if len(fits) == 0:
            break
        start += int(fits[0])
    return take


# ---------------------------------------------------------------------------------------------
# Simulation and cost


@dataclass
class Outcome:
    """One strategy replayed over the evaluation window, per node and in total."""

    name: str
    regions: list[str]
    requests: np.ndarray
    hits: np.ndarray
    bytes: np.ndarray
    hit_bytes: np.ndarray
    fill_bytes: np.ndarray  # pushes + misses
    push_bytes: np.ndarray
    byte_seconds: np.ndarray  # storage occupancy integrated over the window
    storage_cost: np.ndarray
    fill_cost: np.ndarray
    egress_cost: np.ndarray
    period_s: float
    params: dict = field(default_factory=dict)

    @property
    def hit_ratio(self) -> float:
        return float(self.hits.sum() / max(1, self.requests.sum()))

    @property
    def byte_hit_ratio(self) -> float:
        return float(self.hit_bytes.sum() / max(1, self.bytes.sum()))

    @property
    def cost(self) -> float:
        return float(self.storage_cost.sum() + self.fill_cost.sum() + self.egress_cost.sum())

    def summary(self) -> dict:
        return {
            "strategy": self.name,
            "hit_ratio": self.hit_ratio,
            "byte_hit_ratio": self.byte_hit_ratio,
            "storage_cost": float(self.storage_cost.sum()),
            "fill_cost": float(self.fill_cost.sum()),
            "egress_cost": float(self.egress_cost.sum()),
            "total_cost": self.cost,
            "push_bytes": int(self.push_bytes.sum()),
            "fill_bytes": int(self.fill_bytes.sum()),
            **self.params,
        }

    def to_dict(self) -> dict:
        per_node = []
        for i, region in enumerate(self.regions):
            per_node.append(
                {
                    "region": region,
                    "requests": int(self.requests[i]),
                    "hits": int(self.hits[i]),
                    "bytes": int(self.bytes[i]),
                    "hit_bytes": int(self.hit_bytes[i]),
                    "fill_bytes": int(self.fill_bytes[i]),
                    "push_bytes": int(self.push_bytes[i]),
                    "mean_stored_bytes": float(self.byte_seconds[i] / self.period_s),
                    "storage_cost": float(self.storage_cost[i]),
                    "fill_cost": float(self.fill_cost[i]),
                    "egress_cost": float(self.egress_cost[i]),
                }
            )
        return {**self.summary(), "per_node": per_node}


def _outcome(name, prices, ev, hit, push_bytes, byte_seconds, period_s, params) -> Outcome:
    n = len(prices.nodes)
    miss_bytes = np.bincount(ev.regions, weights=ev.sizes * ~hit, minlength=n)
    fill_bytes = push_bytes + miss_bytes
    storage = np.array([p.storage_price for p in prices.nodes])
    fill = np.array([p.fill_price for p in prices.nodes])
    egress = np.array([p.egress_price for p in prices.nodes])
    nbytes = np.bincount(ev.regions, weights=ev.sizes, minlength=n)
    return Outcome(
        name=name,
        regions=prices.regions,
        requests=np.bincount(ev.regions, minlength=n),
        hits=np.bincount(ev.regions, weights=hit, minlength=n).astype(np.int64),
        bytes=nbytes,
        hit_bytes=np.bincount(ev.regions, weights=ev.sizes * hit, minlength=n),
        fill_bytes=fill_bytes,
        push_bytes=np.asarray(push_bytes, dtype=np.float64),
        byte_seconds=byte_seconds,
        storage_cost=storage * byte_seconds / (GB * MONTH_S),
        fill_cost=fill * fill_bytes / GB,
        egress_cost=egress * nbytes / GB,
        period_s=period_s,
        params=params,
    )


def simulate_plan(
    plan: Plan,
    ev: RequestLog,
    prices: Prices,
    *,
    remainder: float = 0.0,
    warm: RequestLog | None = None,
    resident: Plan | None = None,
) -> Outcome:
    """Replay `ev` against a plan; non-pushed objects pass through, or use a remainder LRU.

    The plan is pushed at the start of the window and stays for the whole window
    (`plan.period_s` of storage). Its bytes are fill, except objects the previous period's
    plan (`resident`) already put on that node. With `remainder` > 0 each node also runs an
    LRU over that fraction of its unpushed capacity for the other objects, warmed on `warm`.
    """
    n = len(prices.nodes)
    n_obj = max([ev.n_objects] + [int(p.keys.max()) + 1 for p in plan.nodes if len(p.keys)])
    pushed = np.zeros((n, n_obj), dtype=bool)
    for r, node_plan in enumerate(plan.nodes):
        pushed[r, node_plan.keys] = True
    hit = pushed[ev.regions, ev.keys]
    stored = np.array([p.bytes for p in plan.nodes], dtype=np.float64)
    push_bytes = stored.copy()
    if resident is not None:
        for r, (new, old) in enumerate(zip(plan.nodes, resident.nodes, strict=True)):
            there = np.isin(new.keys, old.keys)
            push_bytes[r] -= float(new.key_sizes[there].sum())
    byte_seconds = stored * plan.period_s
    if remainder > 0:
        caps = [int(remainder * (p.capacity - p.bytes)) for p in plan.nodes]
        rest_hit, rest_bs = _lru_replay(ev, caps, warm, plan.period_s, skip=pushed)
        hit = hit | rest_hit
        byte_seconds = byte_seconds + rest_bs
    params = {
        "budget": plan.budget,
        "min_saving": plan.min_saving,
        "remainder": remainder,
        "steady": resident is not None,
    }
    return _outcome("plan", prices, ev, hit, push_bytes, byte_seconds, plan.period_s, params)


def simulate_lru(
    train: RequestLog | None,
    ev: RequestLog,
    prices: Prices,
    period_s: float,
    *,
    scale: float = 1.0,
    policy: str = "lru",
) -> Outcome:
    """Cache everywhere: each node an LRU of `scale` * capacity bytes, warmed on `train`."""
    caps = [max(1, int(node.capacity * scale)) for node in prices.nodes]
    hit, byte_seconds = _lru_replay(ev, caps, train, period_s, policy=policy)
    zero = np.zeros(len(prices.nodes))
    return _outcome(policy, prices, ev, hit, zero, byte_seconds, period_s, {"scale": scale})


def _lru_replay(
    ev: RequestLog,
    capacities: Sequence[int],
    warm: RequestLog | None,
    period_s: float,
    *,
    skip: np.ndarray | None = None,
    policy: str = "lru",
) -> tuple[np.ndarray, np.ndarray]:
    """Per-request hits over `ev` and per-node stored byte-seconds, one cache per node.

    Requests for objects in `skip[node]` bypass the cache (they are served elsewhere).
    """
    from syslab.cache.policies import make_policy

    n = len(capacities)
    caches = [make_policy(policy, c) if c > 0 else None for c in capacities]

    def keep(log: RequestLog) -> np.ndarray:
        if skip is None:
            return np.ones(len(log), dtype=bool)
        inside = log.keys < skip.shape[1]
        out = np.ones(len(log), dtype=bool)
        out[inside] = ~skip[log.regions[inside], log.keys[inside]]
        return out

    if warm is not None:
        mask = keep(warm)
        for r, k, s in zip(
            warm.regions[mask].tolist(),
            warm.keys[mask].tolist(),
            warm.sizes[mask].tolist(),
            strict=True,
        ):
            cache = caches[r]
            if cache is not None:
                cache.request(k, s)
    hit = np.zeros(len(ev), dtype=bool)
    byte_seconds = np.zeros(n)
    if len(ev) == 0:
        return hit, byte_seconds
    end = float(ev.times[-1])
    last = [end - period_s] * n  # the window starts at the cut, before its first request
    mask = keep(ev)
    for i, (t, r, k, s) in enumerate(
        zip(
            ev.times.tolist(), ev.regions.tolist(), ev.keys.tolist(), ev.sizes.tolist(), strict=True
        )
    ):
        cache = caches[r]
        if cache is None or not mask[i]:
            continue
        byte_seconds[r] += cache.used * (t - last[r])  # occupancy since this node's last change
        last[r] = t
        hit[i] = cache.request(k, s)
    for r, cache in enumerate(caches):
        if cache is not None:
            byte_seconds[r] += cache.used * (end - last[r])
    return hit, byte_seconds


# ---------------------------------------------------------------------------------------------
# Plan versus cache-everywhere-LRU at equal hit ratio


def cost_at(points: Sequence[Outcome], target: float, metric: str = "hit_ratio") -> dict:
    """The plans' cost at hit ratio `target` (`metric`: hit_ratio or byte_hit_ratio).

    step: the cheapest point whose ratio is >= target (an actual plan), or None.
    interpolated: linear between the two neighbouring points of the cost frontier (the points
    no other point beats on both ratio and cost); None when target is above every point.
    """
    pts = sorted(((getattr(o, metric), o.cost, o) for o in points), key=lambda p: (p[0], p[1]))
    above = [p for p in pts if p[0] >= target]
    if not above:
        return {"step_cost": None, "step": None, "interpolated_cost": None}
    best = min(above, key=lambda p: p[1])
    frontier: list[tuple[float, float]] = []
    for ratio, cost, _ in reversed(pts):  # highest ratio first; keep what gets cheaper
        if not frontier or cost < frontier[-1][1]:
            frontier.append((ratio, cost))
    frontier.reverse()
    interp = best[1]
    for (r0, c0), (r1, c1) in zip(frontier, frontier[1:], strict=False):
        if r0 <= target <= r1 and r1 > r0:
            interp = min(best[1], c0 + (c1 - c0) * (target - r0) / (r1 - r0))
            break
    return {"step_cost": best[1], "step": best[2].summary(), "interpolated_cost": interp}


def _saving(base: float, other: float | None) -> float | None:
    return None if other is None or base <= 0 else 100.0 * (base - other) / base


@dataclass
class Comparison:
    log_name: str
    prices: Prices
    train_s: float
    eval_s: float
    n_train: int
    n_eval: int
    plan: Plan
    plan_outcome: Outcome
    lru: Outcome
    plan_sweep: list[Outcome]
    lru_sweep: list[Outcome]
    equal: dict  # metric -> cost_at result plus savings, at the LRU's configured capacity
    curve: list[dict]  # per LRU capacity: LRU point, plan cost at its hit ratio, saving

    def saving(self, metric: str = "hit_ratio", how: str = "step") -> float | None:
        return self.equal[metric][f"{how}_saving_pct"]

    def node_rows(self) -> list[dict]:
        """Per-node summary of the default plan, with its simulated outcome."""
        out = self.plan_outcome
        rows = []
        for i, (p, node) in enumerate(zip(self.plan.nodes, self.prices.nodes, strict=True)):
            rows.append(
                {
                    "region": p.region,
                    "capacity_MB": node.capacity / 1e6,
                    "objects_pushed": len(p.keys),
                    "pushed_MB": p.bytes / 1e6,
                    "used_pct": 100.0 * p.bytes / node.capacity,
                    "candidates": p.candidates,
                    "unprofitable": p.unprofitable,
                    "no_room": p.no_room,
                    "expected_saving": p.expected_saving,
                    "hit_ratio": float(out.hits[i] / max(1, out.requests[i])),
                    "byte_hit_ratio": float(out.hit_bytes[i] / max(1, out.bytes[i])),
                    "cost": float(out.storage_cost[i] + out.fill_cost[i] + out.egress_cost[i]),
                }
            )
        return rows

    def to_dict(self) -> dict:
        def plan_nodes(plan: Plan) -> list[dict]:
            return [
                {k: v for k, v in vars(p).items() if k not in ("keys", "key_sizes")}
                | {"objects": len(p.keys)}
                for p in plan.nodes
            ]

        return {
            "log": self.log_name,
            "prices": self.prices.to_dict(),
            "train_s": self.train_s,
            "eval_s": self.eval_s,
            "train_requests": self.n_train,
            "eval_requests": self.n_eval,
            "plan": {
                "budget": self.plan.budget,
                "min_saving": self.plan.min_saving,
                "nodes": plan_nodes(self.plan),
            },
            "plan_outcome": self.plan_outcome.to_dict(),
            "lru": self.lru.to_dict(),
            "equal_hit_ratio": self.equal,
            "curve": self.curve,
            "plan_sweep": [_point(o) for o in self.plan_sweep],
            "lru_sweep": [_point(o) for o in self.lru_sweep],
        }


def _point(o: Outcome) -> dict:
    """A sweep point: its settings and where it lands (hit ratios, cost)."""
    keep = ("budget", "min_saving", "scale")
    return {k: v for k, v in o.params.items() if k in keep} | {
        "hit_ratio": o.hit_ratio,
        "byte_hit_ratio": o.byte_hit_ratio,
        "total_cost": o.cost,
    }


def saving_thresholds(
    demand: Demand,
    prices: Prices,
    period_s: float,
    quantiles: Sequence[float] = (0.5, 0.75, 0.9, 0.95, 0.98, 0.99),
) -> list[float]:
    """Bars on saving per GB ($/GB) at quantiles of the profitable candidates' savings."""
    scale = period_s / demand.train_s
    values = []
    for r, node in enumerate(prices.nodes):
        counts = demand.counts[r]
        n_hat = counts[counts > 0] * scale
        per_gb = (n_hat - 1.0) * node.fill_price - node.storage_price * period_s / MONTH_S
        values.append(per_gb[per_gb > 0])
    pooled = np.concatenate(values) if values else np.zeros(0)
    if len(pooled) == 0:
        return []
    return sorted({float(q) for q in np.quantile(pooled, quantiles)})


def compare(
    log: RequestLog,
    prices: Prices,
    *,
    train_fraction: float = 0.5,
    prior_fraction: float = 0.0,
    budgets: Sequence[float] = PLAN_BUDGETS,
    lru_scales: Sequence[float] = LRU_SCALES,
    remainder: float = 0.0,
    warm: bool = True,
) -> Comparison:
    """Learn on a training window, replay the next window against the default plan, a plan
    sweep and an LRU sweep, and price the plan at the LRU's hit ratio.

    Windows are fractions of the log's time span: an optional prior window
    (`prior_fraction`), the training window (`train_fraction`), then evaluation to the end.
    `warm`: the LRUs start the evaluation window with what they hold after the earlier
    windows, for free. Without a prior window the plan then pays its whole push (conservative
    for the plan). With one, the steady state of a rolling plan is modelled: the plan learned
    on the prior window (same settings) is what the edges hold, so only new objects are
    pushed. `warm=False`: every edge starts empty and the LRUs pay their warm-up misses.
    """
    log = align(log, prices)
    fractions = [prior_fraction, train_fraction] if prior_fraction > 0 else [train_fraction]
    if not 0 < train_fraction < 1:
        raise UserError(f"train fraction must be between 0 and 1, got {train_fraction}")
    windows = log.windows(fractions)
    (train, train_s), (ev, eval_s) = windows[-2], windows[-1]
    n_nodes, n_obj = len(prices.nodes), log.n_objects
    demand = learn_demand(train, n_nodes, n_obj, train_s)
    before = None
    if prior_fraction > 0:
        prior, prior_s = windows[0]
        before = learn_demand(prior, n_nodes, n_obj, prior_s)
    history = log.slice(0, len(log) - len(ev)) if warm else None

    def run(budget: float, min_saving: float) -> tuple[Plan, Outcome]:
        resident = None
        if before is not None:
            resident = plan_placement(before, prices, eval_s, budget=budget, min_saving=min_saving)
        plan = plan_placement(
            demand, prices, eval_s, budget=budget, min_saving=min_saving, resident=resident
        )
        outcome = simulate_plan(
            plan, ev, prices, remainder=remainder, warm=history, resident=resident
        )
        return plan, outcome

    plan, plan_outcome = run(1.0, 0.0)
    # Two families of plans: the same budget fraction on every node, with min_saving 0 (only
    # profitable objects) or -inf (any object with demand: buys hit ratio at a loss); and the
    # whole capacity with a rising bar on saving per GB, which moves bytes to the nodes where
    # they save most. All thresholds come from the training window.
    settings = [(b, m) for m in (0.0, -math.inf) for b in budgets]
    settings += [(1.0, m) for m in saving_thresholds(demand, prices, eval_s)]
    sweep = [run(b, m)[1] for b, m in settings]
    scales = sorted(set(lru_scales) | {1.0})
    lru_sweep = [simulate_lru(history, ev, prices, eval_s, scale=s) for s in scales]
    lru = next(o for o in lru_sweep if o.params["scale"] == 1.0)
    points = [*sweep, plan_outcome]

    equal = {}
    for metric in ("hit_ratio", "byte_hit_ratio"):
        target = getattr(lru, metric)
        at = cost_at(points, target, metric)
        equal[metric] = {
            "lru_ratio": target,
            "lru_cost": lru.cost,
            **at,
            "step_saving_pct": _saving(lru.cost, at["step_cost"]),
            "interpolated_saving_pct": _saving(lru.cost, at["interpolated_cost"]),
            # Egress is the same for both; this is the saving on what placement can change.
            "step_saving_pct_excl_egress": _saving(
                lru.cost - float(lru.egress_cost.sum()),
                None if at["step_cost"] is None else at["step_cost"] - float(lru.egress_cost.sum()),
            ),
        }
    curve = []
    for o in lru_sweep:
        at = cost_at(points, o.hit_ratio)
        curve.append(
            {
                "lru_scale": o.params["scale"],
                "lru_hit_ratio": o.hit_ratio,
                "lru_byte_hit_ratio": o.byte_hit_ratio,
                "lru_cost": o.cost,
                "plan_step_cost": at["step_cost"],
                "plan_interpolated_cost": at["interpolated_cost"],
                "step_saving_pct": _saving(o.cost, at["step_cost"]),
                "interpolated_saving_pct": _saving(o.cost, at["interpolated_cost"]),
            }
        )
    return Comparison(
        log.name,
        prices,
        train_s,
        eval_s,
        len(train),
        len(ev),
        plan,
        plan_outcome,
        lru,
        sweep,
        lru_sweep,
        equal,
        curve,
    )


def plot_comparison(comp: Comparison, path: Path | str, title: str | None = None) -> Path:
    """Cost against hit ratio (and byte hit ratio) for the plan sweep and the LRU sweep."""
    from syslab.common.plotting import grid, save

    fig, axes = grid(2, cols=2, width=5.2, height=3.8)
    for ax, metric, label in zip(
        axes, ("hit_ratio", "byte_hit_ratio"), ("hit ratio", "byte hit ratio"), strict=True
    ):
        families = {
            "plan, budget share, profitable only": lambda o: o.params["min_saving"] == 0.0,
            "plan, budget share, any demand": lambda o: o.params["min_saving"] == -math.inf,
            "plan, full capacity, bar on saving/GB": lambda o: (
                o.params["budget"] == 1.0 and math.isfinite(o.params["min_saving"])
                and o.params["min_saving"] != 0.0
            ),
        }  # fmt: skip
        for (name, member), style in zip(families.items(), ("o-", "s--", "d:"), strict=True):
            pts = sorted((getattr(o, metric), o.cost) for o in comp.plan_sweep if member(o))
            if pts:
                ax.plot(*zip(*pts, strict=True), style, ms=3, label=name)
        lru = sorted((getattr(o, metric), o.cost) for o in comp.lru_sweep)
        ax.plot(*zip(*lru, strict=True), "^-", color="black", ms=5, label="LRU everywhere")
        ax.plot(getattr(comp.lru, metric), comp.lru.cost, "k*", ms=12, label="LRU at capacity")
        ax.plot(
            getattr(comp.plan_outcome, metric),
            comp.plan_outcome.cost,
            "r*",
            ms=12,
            label="default plan",
        )
        ax.set_xlabel(f"{label} (evaluation window)")
        ax.set_ylabel("total cost ($)")
    axes[0].legend(fontsize=7)
    fig.suptitle(title or f"placement plan vs LRU: {comp.log_name}", fontsize=10)
    return save(fig, Path(path))


# ---------------------------------------------------------------------------------------------
# Reporting


def load_log(path: Path | str, prices: Prices, *, locality: float = 0.75) -> RequestLog:
    """A request log CSV, or a Tencent photo trace replayed into the prices file's regions."""
    from syslab.cache.workloads.readers import detect_format_or_none

    path = Path(path)
    if path.is_file() and detect_format_or_none(path) == "tencent":
        return replay_trace(path, prices.regions, locality=locality)
    return read_log(path)


def tables(comp: Comparison) -> list:
    """The per-node plan summary and the plan-vs-LRU table (syslab.common.report.Table)."""
    from syslab.common.report import Table

    node_rows = [
        {
            "region": r["region"],
            "cap MB": r["capacity_MB"],
            "pushed": r["objects_pushed"],
            "MB": r["pushed_MB"],
            "used %": r["used_pct"],
            "cand": r["candidates"],
            "unprof": r["unprofitable"],
            "no room": r["no_room"],
            "exp. save $": r["expected_saving"],
            "hit": r["hit_ratio"],
            "byte hit": r["byte_hit_ratio"],
            "cost $": r["cost"],
        }
        for r in comp.node_rows()
    ]
    nodes = Table(
        f"plan per node: learned on {comp.n_train:,} requests ({_duration(comp.train_s)}), "
        f"replayed on the next {comp.n_eval:,} ({_duration(comp.eval_s)}). cand = objects "
        "with demand, unprof = skipped (saving <= storage cost), no room = did not fit",
        list(node_rows[0]) if node_rows else [],
        node_rows,
        {"cap MB": ".0f", "MB": ".1f", "used %": ".0f", "exp. save $": ".4f", "hit": ".3f",
         "byte hit": ".3f", "cost $": ".4f"},
    )  # fmt: skip

    def row(name: str, summary: dict | None, vs: float | None) -> dict:
        summary = summary or {}
        return {
            "strategy": name,
            "hit": summary.get("hit_ratio", ""),
            "byte hit": summary.get("byte_hit_ratio", ""),
            "storage $": summary.get("storage_cost", ""),
            "fill $": summary.get("fill_cost", ""),
            "egress $": summary.get("egress_cost", ""),
            "total $": summary.get("total_cost", ""),
            "cheaper %": "" if vs is None else vs,
        }

    eq = comp.equal["hit_ratio"]
    rows = [
        row("LRU everywhere", comp.lru.summary(), 0.0),
        row("plan (default)", comp.plan_outcome.summary(),
            _saving(comp.lru.cost, comp.plan_outcome.cost)),
    ]  # fmt: skip
    if eq["step"] is not None:
        rows.append(row("plan, hit >= LRU", eq["step"], eq["step_saving_pct"]))
        interp = {"hit_ratio": eq["lru_ratio"], "total_cost": eq["interpolated_cost"]}
        rows.append(row("plan, interpolated", interp, eq["interpolated_saving_pct"]))
    money = ".4f"
    versus = Table(
        "plan vs LRU everywhere on the evaluation window (cheaper % = saving against LRU)",
        list(rows[0]),
        rows,
        {"hit": ".4f", "byte hit": ".4f", "storage $": money, "fill $": money,
         "egress $": money, "total $": money, "cheaper %": "+.1f"},
    )  # fmt: skip
    return [nodes, versus]


def verdict(comp: Comparison) -> str:
    """One sentence: the saving at equal hit ratio, or why there is none."""
    eq = comp.equal["hit_ratio"]
    if eq["step"] is None:
        best = max((o.hit_ratio for o in comp.plan_sweep), default=0.0)
        return (
            f"no swept plan reaches the LRU's hit ratio {eq['lru_ratio']:.4f} "
            f"(best plan: {best:.4f}): no saving at equal hit ratio"
        )
    step = eq["step_saving_pct"]
    word = "cheaper" if step >= 0 else "more expensive"
    return (
        f"at equal hit ratio ({eq['lru_ratio']:.4f}) the plan is {abs(step):.1f}% {word} than "
        f"LRU everywhere (cheapest swept plan with hit ratio >= LRU's; interpolated: "
        f"{eq['interpolated_saving_pct']:+.1f}%; on storage + fill alone: "
        f"{eq['step_saving_pct_excl_egress']:+.1f}%)"
    )


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


def write_results(comp: Comparison, out: Path | str, extra: dict | None = None) -> list[Path]:
    """results.json and the cost/hit-ratio figure (PNG + SVG) in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = comp.to_dict() | (extra or {})
    path = out / "results.json"
    path.write_text(json.dumps(clean_json(data), indent=1, allow_nan=False) + "\n")
    return [path, plot_comparison(comp, out / "cost_vs_hit_ratio.png")]


def clean_json(value: object) -> object:
    """Plain JSON values: numpy scalars/arrays unwrapped, inf and nan as strings."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return clean_json(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else str(float(value))
    return value
