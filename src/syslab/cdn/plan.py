"""Placement by demand and price: which node stores what, and what it costs against LRU.

Pure computation, no network I/O. The pieces, in the order `syslab cdn plan` uses them:

* **Inputs.** A request log (`read_log`: CSV with columns `time` in seconds, `region`,
  `url` or `key`, `size` in bytes) and a price/topology file (`read_prices`: JSON or TOML, one
  node per region, plus the inter-node network). A synthetic generator (`synthetic_log`) and
  replays of the cache lab's sized traces (`replay_trace`: the Tencent photo-CDN sample,
  oracleGeneral block traces) stand in when there is no regional log.
* **Units.** GB = 10^9 bytes; a month is 30 days (2,592,000 s). Per node r: S_r =
  `storage_price` ($/GB-month), E_r = `egress_price` (node -> its region's clients, $/GB),
  F_r = `fill_price` (origin -> node: the origin's egress, $/GB; `origin_egress` is its
  default), optional capacity C_r (bytes; unlimited when omitted). Network: X[h, r] ($/GB,
  node h sends to node r, billed at the sender like cloud inter-region transfer) from an
  explicit `transfer` table, else node h's `transfer_price`, else the file's
  `transfer_price`; none: no path. X[r, r] = 0.
* **Routing.** A client in region r always enters the CDN at r's node, which delivers the
  bytes (E_r per GB, so egress is the same for every strategy). The node gets them from its
  own store (a *local hit*), else from the cheapest other node h that holds the object when
  X[h, r] < F_r (a *remote hit*: X[h, r] per GB, one more hop of latency), else from the
  origin (a *miss*: F_r per GB). `Prices.local_only()` / `--local-only` removes every
  inter-node path: the earlier single-region model, where only local hits exist.
* **Hit ratio** = origin offload: (local + remote hits) / requests; byte hit ratio the same
  over bytes. Also reported: the local hit ratio (served by the client's own node), the
  remote share, and the mean source price (fill + transfer $ per requested GB: how far,
  in dollars, the bytes travelled on average).
* **Cost of a window** (seconds T):
  storage = sum_h S_h * stored byte-seconds_h / (GB * month),
  fill = sum_r F_r * (pushed bytes_r + origin bytes_r) / GB,
  transfer = sum over remote hits of X[holder, r] * size / GB,
  egress = sum_r E_r * requested bytes_r / GB (the same for every strategy; it dilutes any
  saving and is reported with and without).
* **Demand.** `learn_demand` counts requests per (region, object) on a training window; the
  expected count in the next window of length T is n_hat = n_train * T / T_train.
* **Planner** (`plan_placement`): capacitated facility location per object, greedy. For
  object o (size s) and holder set H:
  cost_o(H) = s/GB * [sum_{h in H} (S_h * T/month + push_h)
                      + sum_r n_hat_r * min(F_r, min_{h in H} X[h, r])],
  push_h = F_h (pushed from the origin), 0 if the previous plan already put o on h. From
  H = {} each object adds the node with the largest saving per GB while it beats
  `min_saving` (0: the addition pays for its storage and push), so a moderately popular
  object is stored once at the node that serves all regions most cheaply and replicated
  only where local demand pays for a copy. Capacity: all objects' additions, best saving
  per byte first (the knapsack's value density), go to their node while they fit in
  `budget` * C; an addition that does not fit blocks the rest of its object's additions,
  and blocked objects are re-planned without the nodes they no longer fit in (twice).
* **Simulation.** `simulate_plan`: holdings fixed for the window (pushed at its start,
  stored for T), routing as above; unplanned requests pass through from the origin, unless
  `remainder` > 0 gives them a local LRU over that fraction of the unplanned capacity.
  `simulate_lru`: "cache everywhere" -- each node an LRU of its capacity in bytes (the cache
  lab's policy), warmed on the earlier windows (not counted), stored bytes integrated over
  time; a local miss goes to the origin and is cached. `cooperative=True` (the stronger
  baseline): a local miss first asks the other nodes, the cheapest holder under F_r sends it
  (a remote hit) and the requesting node caches a copy (ICP-style siblings).
* **Equal hit ratio.** `compare` sweeps the plan's budget (and, to buy hit ratio beyond the
  profitable set, `min_saving = -inf`: any placement that serves demand more cheaply) and
  the LRUs' capacity. At each LRU's hit ratio the plan's cost is (a) the cheapest swept plan
  whose hit ratio is at least the LRU's ("step", an actual plan) and (b) a linear
  interpolation along the plan's cost/hit-ratio frontier. Every plan is learned on the
  training window only; the sweep is a curve over the evaluation window, like a miss-ratio
  curve, not a tuned operating point.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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

UNLIMITED = 10**18  # capacity of a node without one (1 EB): nothing is ever evicted


@dataclass(frozen=True)
class Node:
    """One edge: prices in $ (storage per GB-month; egress to its clients, fill from the origin
    and transfer out to other nodes per GB), capacity in bytes (`UNLIMITED` when not given).

    `transfer_price` is this node's default price for sending a GB to another node (cloud
    providers bill inter-region transfer at the sender); None: the file-wide default.
    """

    region: str
    storage_price: float
    egress_price: float
    fill_price: float
    capacity: int = UNLIMITED
    transfer_price: float | None = None


@dataclass
class Prices:
    """Nodes plus the inter-node network. X[h, r] ($/GB, node h -> node r) is
    `transfer[h][r]` if given, else node h's `transfer_price`, else `transfer_price`; no price
    at all means no path (infinite). X[r, r] = 0. Without any transfer price this is the
    single-region model: every region is served only by its own edge or the origin."""

    nodes: list[Node]
    transfer: dict[str, dict[str, float]] = field(default_factory=dict)
    transfer_price: float | None = None
    origin_egress: float | None = None  # informational: the default fill price

    @property
    def regions(self) -> list[str]:
        return [n.region for n in self.nodes]

    def transfer_matrix(self) -> np.ndarray:
        """X[h, r]: $ per GB for node h to send an object to node r (inf: no path)."""
        n = len(self.nodes)
        x = np.full((n, n), np.inf)
        for h, src in enumerate(self.nodes):
            default = src.transfer_price if src.transfer_price is not None else self.transfer_price
            explicit = self.transfer.get(src.region, {})
            for r, dst in enumerate(self.nodes):
                price = explicit.get(dst.region, default)
                if price is not None:
                    x[h, r] = float(price)
        np.fill_diagonal(x, 0.0)
        return x

    @property
    def fill_prices(self) -> np.ndarray:
        return np.array([n.fill_price for n in self.nodes], dtype=np.float64)

    @property
    def cooperative(self) -> bool:
        """True when some node can serve another region more cheaply than the origin."""
        x = self.transfer_matrix()
        off_diagonal = ~np.eye(len(self.nodes), dtype=bool)
        return bool(np.any((x < self.fill_prices[None, :]) & off_diagonal))

    def local_only(self) -> Prices:
        """The same nodes without the inter-node network (the single-region model)."""
        nodes = [replace(n, transfer_price=None) for n in self.nodes]
        return Prices(nodes, {}, None, self.origin_egress)

    def to_dict(self) -> dict:
        return {
            "units": "storage_price $/GB-month (GB = 1e9 B, month = 30 d); egress_price, "
            "fill_price (origin -> node) and transfer prices (node -> node, billed by the "
            "sender) $/GB; capacity bytes",
            "origin_egress": self.origin_egress,
            "transfer_price": self.transfer_price,
            "transfer": self.transfer,
            "nodes": [vars(n) for n in self.nodes],
            "transfer_matrix": {
                src: {dst: float(v) for dst, v in zip(self.regions, row, strict=True)}
                for src, row in zip(self.regions, self.transfer_matrix(), strict=True)
            },
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


def _price(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UserError(f"{where} must be a number, got {value!r}")
    if value < 0:
        raise UserError(f"{where} must not be negative, got {value}")
    return float(value)


def parse_prices(data: object, source: str = "prices") -> Prices:
    """Prices from parsed JSON/TOML.

    {"nodes": [{region, storage_price, egress_price, fill_price, capacity, transfer_price}],
    "origin_egress": …, "transfer_price": …, "transfer": {src: {dst: price}}}. Top-level
    storage_price / egress_price / fill_price / capacity are defaults for every node;
    `origin_egress` is the default fill_price (origin -> node); `capacity` may be omitted
    (unlimited); transfer prices are optional (none: the single-region model).
    """
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not data["nodes"]:
        raise UserError(f"{source}: expected a non-empty list 'nodes' (one node per region)")
    defaults = {k: data[k] for k in (*_PRICE_FIELDS, "capacity") if k in data}
    origin = None
    if "origin_egress" in data:
        origin = _price(data["origin_egress"], f"{source}: origin_egress")
        defaults.setdefault("fill_price", origin)
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
                hint = " (or a top-level 'origin_egress')" if name == "fill_price" else ""
                raise UserError(f"{where} has no {name!r}{hint}")
            values[name] = _price(entry[name], f"{where}: {name}")
        capacity = UNLIMITED
        if "capacity" in entry:
            capacity = parse_bytes(entry["capacity"], f"{where}: capacity")
        out = None
        if "transfer_price" in raw:
            out = _price(raw["transfer_price"], f"{where}: transfer_price")
        nodes.append(Node(region, capacity=capacity, transfer_price=out, **values))
    default = None
    if "transfer_price" in data:
        default = _price(data["transfer_price"], f"{source}: transfer_price")
    pairs: dict[str, dict[str, float]] = {}
    table = data.get("transfer", {})
    if not isinstance(table, dict):
        raise UserError(f"{source}: 'transfer' must map a source region to {{region: price}}")
    for src, row in table.items():
        if src not in seen:
            raise UserError(f"{source}: transfer from unknown region {src!r}")
        if not isinstance(row, dict):
            raise UserError(f"{source}: transfer.{src} must map a region to a price")
        for dst, value in row.items():
            if dst not in seen:
                raise UserError(f"{source}: transfer {src} -> unknown region {dst!r}")
            pairs.setdefault(src, {})[dst] = _price(value, f"{source}: transfer {src} -> {dst}")
    return Prices(nodes, pairs, default, origin)


def read_prices(path: Path | str) -> Prices:
    """Read a price/topology file: TOML when it ends in .toml, else JSON. The names "example"
    and "cloud" (when no such file exists) give the built-in `EXAMPLE_PRICES` / `CLOUD_PRICES`."""
    path = Path(path)
    if not path.exists() and str(path) in BUILTIN_PRICES:
        return parse_prices(BUILTIN_PRICES[str(path)], f"{path} prices")
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


# Example prices (the synthetic demo's; fixed before any measurement). A self-hosted CDN:
# edges in colocation with cheap transit (egress), an origin in a cloud whose internet egress
# ($0.09/GB, more to far regions) is the fill price, SSD-class cache storage at cloud
# block-storage prices, and a private backbone between the edges at a cloud's usual
# inter-region price ($0.02/GB).
EXAMPLE_PRICES: dict = {
    "transfer_price": 0.02,
    "nodes": [
        {"region": "na", "storage_price": 0.10, "egress_price": 0.010, "fill_price": 0.09,
         "capacity": "256MB"},
        {"region": "eu", "storage_price": 0.10, "egress_price": 0.010, "fill_price": 0.09,
         "capacity": "256MB"},
        {"region": "apac", "storage_price": 0.15, "egress_price": 0.030, "fill_price": 0.12,
         "capacity": "128MB"},
        {"region": "sa", "storage_price": 0.20, "egress_price": 0.040, "fill_price": 0.15,
         "capacity": "128MB"},
    ],
}  # fmt: skip

# Public cloud list prices (first-tier, USD, as published in 2024-2026; fixed before any
# measurement, never tuned on a result). Edges are cache nodes in four cloud regions:
# storage = block SSD (EBS gp3: us-east-1 $0.08, eu-central-1 $0.0952, ap-southeast-1 $0.096,
# sa-east-1 $0.152 per GB-month); egress to clients = CDN-class delivery (CloudFront first
# 10 TB: North America / Europe $0.085, Singapore-class Asia $0.120, South America $0.110);
# fill = the origin's internet egress (EC2/S3 us-east-1, first 10 TB: $0.09); node -> node =
# inter-region transfer billed at the sender ($0.02 from US/EU regions, $0.09 out of
# Singapore, $0.138 out of Sao Paulo).
CLOUD_PRICES: dict = {
    "origin_egress": 0.09,
    "nodes": [
        {"region": "na", "storage_price": 0.080, "egress_price": 0.085, "transfer_price": 0.02,
         "capacity": "256MB"},
        {"region": "eu", "storage_price": 0.0952, "egress_price": 0.085, "transfer_price": 0.02,
         "capacity": "256MB"},
        {"region": "apac", "storage_price": 0.096, "egress_price": 0.120, "transfer_price": 0.09,
         "capacity": "128MB"},
        {"region": "sa", "storage_price": 0.152, "egress_price": 0.110, "transfer_price": 0.138,
         "capacity": "128MB"},
    ],
}  # fmt: skip

BUILTIN_PRICES = {"example": EXAMPLE_PRICES, "cloud": CLOUD_PRICES}


def example_prices() -> Prices:
    return parse_prices(EXAMPLE_PRICES, "example prices")


def cloud_prices() -> Prices:
    return parse_prices(CLOUD_PRICES, "cloud prices")


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
    return _spread_seconds(np.array(stamps) - stamps[0])


def _spread_seconds(secs: np.ndarray) -> np.ndarray:
    """Whole-second stamps (non-decreasing) -> the k-th of m requests in a second at + (k+0.5)/m."""
    _, start, counts = np.unique(secs, return_index=True, return_counts=True)
    within = np.arange(len(secs)) - np.repeat(start, counts)
    return secs + (within + 0.5) / np.repeat(counts, counts)


def _oracle_times(path: Path, n: int) -> np.ndarray:
    """Seconds since the first request from an oracleGeneral trace's u32 timestamps."""
    from syslab.cache.workloads.readers import ORACLE_DTYPE, _read

    data = _read(path, max_bytes=n * ORACLE_DTYPE.itemsize)
    stamps = np.frombuffer(data, dtype=ORACLE_DTYPE)["ts"][:n].astype(np.float64)
    if len(stamps) and np.any(np.diff(stamps) < 0):
        raise UserError(f"{path}: timestamps go backwards; cannot cut time windows")
    return _spread_seconds(stamps - stamps[0]) if len(stamps) else stamps


def replay_trace(
    path: Path | str, regions: Sequence[str], *, locality: float = 0.75, limit: int | None = None
) -> RequestLog:
    """A real trace with sizes (the cache lab's readers) as a regional log via `regionalize`.

    Times: the Tencent photo trace's and oracleGeneral traces' timestamps (1 s resolution,
    spread evenly within each second); other formats have none in the cache lab's readers, so
    request i is at second i.
    """
    from syslab.cache.workloads import detect_format, read_trace

    path = Path(path)
    trace = read_trace(path, limit=limit)
    if trace.sizes is None:
        raise UserError(f"{path}: trace has no object sizes; placement needs bytes")
    if detect_format(path) == "tencent":
        times = _tencent_times(path, len(trace))
    elif detect_format(path) == "oracle":
        times = _oracle_times(path, len(trace))
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
    keys: np.ndarray  # object ids stored on this node (ascending)
    key_sizes: np.ndarray  # their sizes (bytes)
    bytes: int
    candidates: int  # objects with demand in this node's region
    unprofitable: int  # of those: stored nowhere because no placement beat the bar
    no_room: int  # placements on this node that beat the bar but did not fit
    expected_requests: float  # requests this node is expected to serve (any region's)
    expected_saving: float  # $ over the window: the greedy gains of the placements here
    expected_remote: float = 0.0  # of expected_requests: other regions' requests
    # $/GB of each key's copy: fill (from the origin), less (from a holder), 0 (resident)
    push_prices: np.ndarray | None = None


@dataclass
class Plan:
    nodes: list[NodePlan]
    period_s: float
    budget: float
    min_saving: float


@dataclass
class _Problem:
    """The planner's inputs over the candidate objects (rows) and nodes (columns)."""

    cand: np.ndarray  # object ids with demand somewhere
    n_hat: np.ndarray  # (m, n) expected requests per region in the period
    sizes: np.ndarray  # (m,) bytes
    fill: np.ndarray  # (n,) $/GB origin -> node
    x: np.ndarray  # (n, n) $/GB node -> node
    sigma: np.ndarray  # (n,) storage $/GB for the period
    pay: np.ndarray  # (m, n) 1 where placing the object must be paid for, 0 when resident


def _problem(demand: Demand, prices: Prices, period_s: float, resident: Plan | None) -> _Problem:
    scale = period_s / demand.train_s
    cand = np.flatnonzero(demand.counts.sum(axis=0) > 0)
    n_hat = demand.counts[:, cand].T.astype(np.float64) * scale
    fill = prices.fill_prices
    sigma = np.array([n.storage_price for n in prices.nodes]) * period_s / MONTH_S
    pay = np.ones(n_hat.shape)
    if resident is not None:
        for h, old in enumerate(resident.nodes):
            pay[np.isin(cand, old.keys), h] = 0.0
    return _Problem(cand, n_hat, demand.sizes[cand], fill, prices.transfer_matrix(), sigma, pay)


def _best_source(held: np.ndarray, x: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """(m, n): $/GB for region r to get object o: min(fill_r, min over holders h of x[h, r])."""
    best = np.broadcast_to(fill, held.shape).copy()
    for h in range(held.shape[1]):
        rows = held[:, h]
        if rows.any():
            best[rows] = np.minimum(best[rows], x[h])
    return best


@dataclass
class _Items:
    """Candidate additions (parallel arrays): object row, node, gain ($/GB of the object),
    sort key (the running minimum of the gains along the object's sequence, so that an
    addition never sorts before the ones it assumes), step, and push price ($/GB)."""

    row: np.ndarray
    node: np.ndarray
    gain: np.ndarray
    key: np.ndarray
    step: np.ndarray
    push: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    def take(self, index: np.ndarray) -> _Items:
        return _Items(*(getattr(self, f)[index] for f in _Items.__dataclass_fields__))


def _greedy_items(
    p: _Problem,
    held: np.ndarray,
    excluded: np.ndarray,
    min_saving: float,
    rows: np.ndarray | None = None,
) -> _Items:
    """Uncapacitated greedy facility location, per object, from the holders in `held`.

    At each step every object adds the node with the largest saving per GB of its size,
    gain(h | H) = sum_r n_hat_r * (B_r(H) - B_r(H + h)) - sigma_h - pay_h * B_h(H), B_r(H) =
    min(fill_r, min_{g in H} x[g, r]) -- the cheapest source for region r, which is also what
    a copy for node h costs (from the origin, or from a holder when that is cheaper) -- among
    nodes that serve some region more cheaply, are not `excluded`, and beat `min_saving`; it
    stops when none is left.
    """
    rows = np.arange(len(p.cand)) if rows is None else np.asarray(rows)
    held = held.copy()
    best = _best_source(held[rows], p.x, p.fill)
    floor = np.full(len(rows), np.inf)
    out: list[tuple[np.ndarray, ...]] = []
    step, live = 0, np.arange(len(rows))  # positions into rows/best
    while len(live):
        r = rows[live]
        b = best[live]
        after = np.minimum(b[:, None, :], p.x[None, :, :])  # (k, h, region)
        serve = np.einsum("kr,khr->kh", p.n_hat[r], b[:, None, :] - after)
        push = p.pay[r] * b
        gain = serve - p.sigma[None, :] - push
        ok = (serve > 0) & ~held[r] & ~excluded[r] & (gain > min_saving)
        gain = np.where(ok, gain, -np.inf)
        pick = gain.argmax(axis=1)
        at = np.arange(len(live))
        value, price = gain[at, pick], push[at, pick]
        go = value > -np.inf
        live, pick, value, price = live[go], pick[go], value[go], price[go]
        if not len(live):
            break
        floor[live] = np.minimum(floor[live], value)
        out.append((rows[live], pick, value, floor[live], np.full(len(live), step), price))
        held[rows[live], pick] = True
        best[live] = np.minimum(best[live], p.x[pick])
        step += 1
    if not out:
        empty = np.zeros(0, dtype=np.int64)
        return _Items(empty, empty, np.zeros(0), np.zeros(0), empty, np.zeros(0))
    return _Items(*(np.concatenate(a) for a in zip(*out, strict=True)))


def _fit(
    p: _Problem,
    items: _Items,
    space: list[int],
    no_room: np.ndarray,
    excluded: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Take additions best saving per byte first while they fit (the knapsack's value
    density). An addition that does not fit blocks the rest of its object's additions (they
    assumed it) and excludes that node for the object. Returns (taken item indices, blocked
    rows)."""
    row, node = items.row, items.node
    weight = p.n_hat.sum(axis=1)[row]
    order = np.lexsort((items.step, p.cand[row], -weight, -items.key))
    # Fast path: everything before the first item that overflows its node is taken as is.
    by_node = node[order]
    used = np.zeros(len(order), dtype=np.int64)
    for h in range(len(space)):
        at = by_node == h
        used[at] = np.cumsum(p.sizes[row[order[at]]])
    over = np.flatnonzero(used > np.array(space, dtype=np.int64)[by_node])
    head = int(over[0]) if len(over) else len(order)
    taken: list[int] = order[:head].tolist()
    for h in range(len(space)):
        space[h] -= int(p.sizes[row[order[:head]][by_node[:head] == h]].sum())
    order = order[head:]
    sizes = p.sizes[row[order]].tolist()
    blocked: set[int] = set()
    for i, o, h, s in zip(order.tolist(), row[order].tolist(), node[order].tolist(), sizes,
                          strict=True):  # fmt: skip
        if o in blocked:
            continue
        if s <= space[h]:
            space[h] -= s
            taken.append(i)
        else:
            blocked.add(o)
            no_room[h] += 1
            excluded[o, h] = True
    return np.array(taken, dtype=np.int64), np.array(sorted(blocked), dtype=np.int64)


def plan_placement(
    demand: Demand,
    prices: Prices,
    period_s: float,
    *,
    budget: float = 1.0,
    min_saving: float = 0.0,
    resident: Plan | None = None,
    fallback_rounds: int = 2,
) -> Plan:
    """Choose the nodes that hold each object: greedy facility location under capacities.

    Per object o (size s, expected requests n_hat_r per region in the period) the cost of a
    holder set H is s/GB * [sum_{h in H} (storage_h * T/month + push_h)
    + sum_r n_hat_r * min(fill_r, min_{h in H} x[h, r])], x[r, r] = 0; push_h is what the
    copy for h costs when it is added: from the origin (fill_h) or from a node that already
    holds o (x[g, h]) when cheaper, and 0 when the `resident` plan already put o on h.
    `_greedy_items` builds each object's additions (gain per GB > `min_saving`; -inf: any
    addition that serves some demand more cheaply); `_fit` takes them best saving per byte
    first within `budget` * capacity; objects blocked by a full node are re-planned without
    it up to `fallback_rounds` times.
    """
    if not 0 < budget <= 1:
        raise UserError(f"plan budget must be a fraction of capacity in (0, 1], got {budget}")
    p = _problem(demand, prices, period_s, resident)
    m, n = p.n_hat.shape
    caps = [int(node.capacity * budget) for node in prices.nodes]
    space = list(caps)
    held = np.zeros((m, n), dtype=bool)
    excluded = np.zeros((m, n), dtype=bool)
    no_room = np.zeros(n, dtype=np.int64)
    saving = np.zeros(n)
    push = np.zeros((m, n))  # $/GB paid for each placement's copy
    items = _greedy_items(p, held, excluded, min_saving)
    wanted = np.zeros(m, dtype=bool)
    wanted[items.row] = True
    for attempt in range(fallback_rounds + 1):
        if not len(items):
            break
        taken, blocked = _fit(p, items, space, no_room, excluded)
        got = items.take(taken)
        held[got.row, got.node] = True
        push[got.row, got.node] = got.push
        saving += np.bincount(got.node, weights=got.gain * p.sizes[got.row] / GB, minlength=n)
        if not len(blocked) or attempt == fallback_rounds:
            break
        excluded[blocked] |= p.sizes[blocked, None] > np.array(space)[None, :]
        items = _greedy_items(p, held, excluded, min_saving, rows=blocked)

    # Who serves what, as planned: the region's own node, else the cheapest holder under fill.
    served = np.zeros(n)
    remote = np.zeros(n)
    for r in range(n):
        price = np.where(held, p.x[:, r][None, :], np.inf)
        src = price.argmin(axis=1)
        ok = held[:, r] | (price[np.arange(m), src] < p.fill[r])
        served += np.bincount(src[ok], weights=p.n_hat[ok, r], minlength=n)
        far = ok & ~held[:, r]
        remote += np.bincount(src[far], weights=p.n_hat[far, r], minlength=n)
    nodes = []
    for h, node in enumerate(prices.nodes):
        mine = held[:, h]
        demand_here = p.n_hat[:, h] > 0
        nodes.append(
            NodePlan(
                region=node.region,
                capacity=node.capacity,
                budget=caps[h],
                keys=p.cand[mine],
                key_sizes=p.sizes[mine],
                bytes=int(p.sizes[mine].sum()),
                candidates=int(np.count_nonzero(demand.counts[h])),
                unprofitable=int(np.count_nonzero(demand_here & ~wanted)),
                no_room=int(no_room[h]),
                expected_requests=float(served[h]),
                expected_saving=float(saving[h]),
                expected_remote=float(remote[h]),
                push_prices=push[mine, h],
            )
        )
    return Plan(nodes, period_s, budget, min_saving)


# ---------------------------------------------------------------------------------------------
# Simulation and cost


@dataclass
class Outcome:
    """One strategy replayed over the evaluation window, per requesting region and in total.

    hits = local + remote hits (served by some CDN node: the origin offload); fill bytes =
    pushes + bytes fetched from the origin; transfer = bytes a node sent to another region's
    node, priced at x[holder, region] and booked here under the requesting region.
    """

    name: str
    regions: list[str]
    requests: np.ndarray
    hits: np.ndarray
    bytes: np.ndarray
    hit_bytes: np.ndarray
    fill_bytes: np.ndarray  # pushes + origin fetches
    push_bytes: np.ndarray
    byte_seconds: np.ndarray  # storage occupancy integrated over the window (per node)
    storage_cost: np.ndarray
    fill_cost: np.ndarray
    egress_cost: np.ndarray
    period_s: float
    params: dict = field(default_factory=dict)
    local_hits: np.ndarray | None = None
    local_hit_bytes: np.ndarray | None = None
    remote_bytes: np.ndarray | None = None
    transfer_cost: np.ndarray | None = None

    def __post_init__(self) -> None:
        zero = np.zeros(len(self.regions))
        if self.local_hits is None:
            self.local_hits = np.asarray(self.hits).copy()
        if self.local_hit_bytes is None:
            self.local_hit_bytes = np.asarray(self.hit_bytes, dtype=np.float64).copy()
        if self.remote_bytes is None:
            self.remote_bytes = zero.copy()
        if self.transfer_cost is None:
            self.transfer_cost = zero.copy()

    @property
    def hit_ratio(self) -> float:
        """Origin offload: requests served by any CDN node."""
        return float(self.hits.sum() / max(1, self.requests.sum()))

    @property
    def byte_hit_ratio(self) -> float:
        return float(self.hit_bytes.sum() / max(1, self.bytes.sum()))

    @property
    def local_hit_ratio(self) -> float:
        """Requests served by the client's own region's node."""
        return float(self.local_hits.sum() / max(1, self.requests.sum()))

    @property
    def local_byte_hit_ratio(self) -> float:
        return float(self.local_hit_bytes.sum() / max(1, self.bytes.sum()))

    @property
    def cost(self) -> float:
        return float(
            self.storage_cost.sum()
            + self.fill_cost.sum()
            + self.transfer_cost.sum()
            + self.egress_cost.sum()
        )

    def summary(self) -> dict:
        requested_gb = max(1.0, float(self.bytes.sum())) / GB
        return {
            "strategy": self.name,
            "hit_ratio": self.hit_ratio,
            "byte_hit_ratio": self.byte_hit_ratio,
            "local_hit_ratio": self.local_hit_ratio,
            "local_byte_hit_ratio": self.local_byte_hit_ratio,
            "remote_hit_ratio": self.hit_ratio - self.local_hit_ratio,
            "storage_cost": float(self.storage_cost.sum()),
            "fill_cost": float(self.fill_cost.sum()),
            "transfer_cost": float(self.transfer_cost.sum()),
            "egress_cost": float(self.egress_cost.sum()),
            "total_cost": self.cost,
            "push_bytes": int(self.push_bytes.sum()),
            "fill_bytes": int(self.fill_bytes.sum()),
            "remote_bytes": int(self.remote_bytes.sum()),
            "mean_stored_bytes": float(self.byte_seconds.sum() / self.period_s),
            # $/GB the edges paid to get the bytes they delivered (0: all local hits).
            "mean_source_price": (float(self.fill_cost.sum() + self.transfer_cost.sum()))
            / requested_gb,
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
                    "local_hits": int(self.local_hits[i]),
                    "bytes": int(self.bytes[i]),
                    "hit_bytes": int(self.hit_bytes[i]),
                    "fill_bytes": int(self.fill_bytes[i]),
                    "push_bytes": int(self.push_bytes[i]),
                    "remote_bytes": int(self.remote_bytes[i]),
                    "mean_stored_bytes": float(self.byte_seconds[i] / self.period_s),
                    "storage_cost": float(self.storage_cost[i]),
                    "fill_cost": float(self.fill_cost[i]),
                    "transfer_cost": float(self.transfer_cost[i]),
                    "egress_cost": float(self.egress_cost[i]),
                }
            )
        return {**self.summary(), "per_node": per_node}


def _outcome(
    name: str,
    prices: Prices,
    ev: RequestLog,
    local: np.ndarray,
    remote: np.ndarray,
    remote_price: np.ndarray,
    byte_seconds: np.ndarray,
    period_s: float,
    params: dict,
    push: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Outcome:
    """`push`: per node (bytes pushed, of them from the origin, $ of the copies from other
    nodes)."""
    n = len(prices.nodes)
    zero = np.zeros(n)
    push_bytes, push_fill, push_transfer = push if push is not None else (zero, zero, zero)

    def per_region(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(ev.regions, weights=weights, minlength=n)

    size = ev.sizes.astype(np.float64)
    hit = local | remote
    fill_bytes = np.asarray(push_fill, dtype=np.float64) + per_region(size * ~hit)
    storage = np.array([p.storage_price for p in prices.nodes])
    egress = np.array([p.egress_price for p in prices.nodes])
    return Outcome(
        name=name,
        regions=prices.regions,
        requests=per_region(),
        hits=per_region(hit.astype(np.float64)).astype(np.int64),
        bytes=per_region(size),
        hit_bytes=per_region(size * hit),
        fill_bytes=fill_bytes,
        push_bytes=np.asarray(push_bytes, dtype=np.float64),
        byte_seconds=byte_seconds,
        storage_cost=storage * byte_seconds / (GB * MONTH_S),
        fill_cost=prices.fill_prices * fill_bytes / GB,
        egress_cost=egress * per_region(size) / GB,
        period_s=period_s,
        params=params,
        local_hits=per_region(local.astype(np.float64)).astype(np.int64),
        local_hit_bytes=per_region(size * local),
        remote_bytes=per_region(size * remote),
        transfer_cost=per_region(size * remote_price) / GB + push_transfer,
    )


def _held(plan: Plan, n_obj: int) -> np.ndarray:
    """(n_nodes, n_obj) bool: node r holds object o."""
    n_obj = max([n_obj] + [int(p.keys.max()) + 1 for p in plan.nodes if len(p.keys)])
    held = np.zeros((len(plan.nodes), n_obj), dtype=bool)
    for r, node_plan in enumerate(plan.nodes):
        held[r, node_plan.keys] = True
    return held


def _routes(
    held: np.ndarray, ev: RequestLog, prices: Prices
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per request of `ev`: local hit, remote hit, and the remote hit's $/GB (cheapest holder,
    only when cheaper than the origin)."""
    x, fill = prices.transfer_matrix(), prices.fill_prices
    keys, regions = ev.keys, ev.regions
    local = held[regions, keys]
    best = np.full(len(ev), np.inf)
    for h in range(held.shape[0]):
        if not held[h].any() or not np.any(x[h] < fill):
            continue
        has = held[h, keys]
        best = np.where(has, np.minimum(best, x[h, regions]), best)
    remote = ~local & (best < fill[regions])
    return local, remote, np.where(remote, best, 0.0)


def served_by_plan(held: np.ndarray, prices: Prices) -> np.ndarray:
    """(n_nodes, n_obj) bool: region r's requests for o are served by some node (not the
    origin) under the holdings `held`."""
    x, fill = prices.transfer_matrix(), prices.fill_prices
    served = held.copy()
    for r in range(held.shape[0]):
        for h in np.flatnonzero((x[:, r] < fill[r]) & (np.arange(held.shape[0]) != r)):
            served[r] |= held[h]
    return served


def simulate_plan(
    plan: Plan,
    ev: RequestLog,
    prices: Prices,
    *,
    remainder: float = 0.0,
    warm: RequestLog | None = None,
    resident: Plan | None = None,
) -> Outcome:
    """Replay `ev` against a plan: a request is a local hit when its region's node holds the
    object, a remote hit when another node holds it and sends it for less than the origin
    would (the cheapest such node), else a miss fetched from the origin (pass-through), or
    served by a remainder LRU.

    The plan is pushed at the start of the window and stays for the whole window
    (`plan.period_s` of storage). A copy comes from the origin (fill) or, when the planner
    found it cheaper, from another node that holds the object (transfer at its price);
    objects the previous period's plan (`resident`) already put on that node cost nothing.
    With `remainder` > 0 each node also runs a local LRU over that fraction of its unplanned
    capacity for the requests the plan leaves to the origin, warmed on `warm`.
    """
    held = _held(plan, ev.n_objects)
    local, remote, price = _routes(held, ev, prices)
    stored = np.array([p.bytes for p in plan.nodes], dtype=np.float64)
    n = len(plan.nodes)
    push_bytes, push_fill, push_transfer = np.zeros(n), np.zeros(n), np.zeros(n)
    fill = prices.fill_prices
    for r, new in enumerate(plan.nodes):
        sizes = new.key_sizes.astype(np.float64)
        # The planner's price per copy; a key it counted as resident that is not: the origin.
        each = np.full(len(sizes), fill[r]) if new.push_prices is None else new.push_prices
        each = np.where(each > 0, each, fill[r])
        paid = np.ones(len(sizes), dtype=bool)
        if resident is not None:
            paid = ~np.isin(new.keys, resident.nodes[r].keys)
        origin = paid & (each >= fill[r])
        push_bytes[r] = sizes[paid].sum()
        push_fill[r] = sizes[origin].sum()
        push_transfer[r] = float((sizes * each)[paid & ~origin].sum()) / GB
    byte_seconds = stored * plan.period_s
    if remainder > 0:
        caps = [int(remainder * (p.capacity - p.bytes)) for p in plan.nodes]
        skip = served_by_plan(held, prices)
        rest_hit, _, _, rest_bs = _lru_replay(ev, caps, warm, plan.period_s, skip=skip)
        local = local | rest_hit
        byte_seconds = byte_seconds + rest_bs
    params = {
        "budget": plan.budget,
        "min_saving": plan.min_saving,
        "remainder": remainder,
        "steady": resident is not None,
    }
    push = (push_bytes, push_fill, push_transfer)
    return _outcome(
        "plan", prices, ev, local, remote, price, byte_seconds, plan.period_s, params, push
    )


def simulate_lru(
    train: RequestLog | None,
    ev: RequestLog,
    prices: Prices,
    period_s: float,
    *,
    scale: float = 1.0,
    policy: str = "lru",
    cooperative: bool = False,
) -> Outcome:
    """Cache everywhere: each node an LRU of `scale` * capacity bytes, warmed on `train`.

    A local miss goes to the origin and the object is cached locally. `cooperative`: a local
    miss first asks the other nodes; the cheapest one holding the object (and cheaper than
    the origin) sends it -- a remote hit; the sender's LRU counts it as a hit, the requesting
    node caches a copy (sibling caching, as with ICP/HTCP siblings).
    """
    caps = [max(1, int(min(node.capacity, UNLIMITED) * scale)) for node in prices.nodes]
    local, remote, price, byte_seconds = _lru_replay(
        ev, caps, train, period_s, policy=policy, siblings=prices if cooperative else None
    )
    name = f"coop-{policy}" if cooperative else policy
    params = {"scale": scale, "cooperative": cooperative}
    return _outcome(name, prices, ev, local, remote, price, byte_seconds, period_s, params)


def _lru_replay(
    ev: RequestLog,
    capacities: Sequence[int],
    warm: RequestLog | None,
    period_s: float,
    *,
    skip: np.ndarray | None = None,
    policy: str = "lru",
    siblings: Prices | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(local hit, remote hit, remote $/GB) per request of `ev`, and per-node stored
    byte-seconds; one cache per node. Requests for objects in `skip[node]` bypass the caches
    (they are served elsewhere). `siblings`: prices whose transfer matrix lets a node fetch a
    local miss from the cheapest other node that holds it (see `simulate_lru`)."""
    from syslab.cache.policies import make_policy

    n = len(capacities)
    caches = [make_policy(policy, c) if c > 0 else None for c in capacities]
    order: list[list[int]] = [[] for _ in range(n)]
    x = np.zeros((n, n))
    if siblings is not None:
        x, fill = siblings.transfer_matrix(), siblings.fill_prices
        for r in range(n):
            ranked = np.argsort(x[:, r], kind="stable").tolist()
            order[r] = [h for h in ranked if h != r and x[h, r] < fill[r]]
    xs = x.tolist()

    def keep(log: RequestLog) -> np.ndarray:
        if skip is None:
            return np.ones(len(log), dtype=bool)
        inside = log.keys < skip.shape[1]
        out = np.ones(len(log), dtype=bool)
        out[inside] = ~skip[log.regions[inside], log.keys[inside]]
        return out

    def replay(log: RequestLog, record: bool) -> tuple[np.ndarray, ...]:
        local = np.zeros(len(log), dtype=bool)
        remote = np.zeros(len(log), dtype=bool)
        price = np.zeros(len(log))
        byte_seconds = np.zeros(n)
        if len(log) == 0:
            return local, remote, price, byte_seconds
        end = float(log.times[-1])
        last = [end - period_s] * n  # the window starts at the cut, before its first request
        mask = keep(log).tolist()
        rows = zip(log.times.tolist(), log.regions.tolist(), log.keys.tolist(),
                   log.sizes.tolist(), mask, strict=True)  # fmt: skip
        for i, (t, r, k, s, go) in enumerate(rows):
            if not go:
                continue
            cache = caches[r]
            if cache is not None:
                if record:  # occupancy since this node's last change
                    byte_seconds[r] += cache.used * (t - last[r])
                    last[r] = t
                if cache.request(k, s):
                    local[i] = True
                    continue
            for h in order[r]:  # cooperative: the cheapest sibling that holds it
                other = caches[h]
                if other is not None and k in other:
                    other.request(k, s)
                    remote[i] = True
                    price[i] = xs[h][r]
                    break
        if record:
            for r, cache in enumerate(caches):
                if cache is not None:
                    byte_seconds[r] += cache.used * (end - last[r])
        return local, remote, price, byte_seconds

    if warm is not None:
        replay(warm, record=False)
    return replay(ev, record=True)


# ---------------------------------------------------------------------------------------------
# Plan versus cache-everywhere-LRU at equal hit ratio


def cost_at(points: Sequence[Outcome], target: float, metric: str = "hit_ratio") -> dict:
    """The plans' cost at hit ratio `target` (`metric`: hit_ratio or byte_hit_ratio).

    step: the cheapest point whose ratio is >= target (an actual plan), or None.
    interpolated: linear between the two neighbouring points of the cost frontier (the points
    no other point beats on both ratio and cost); None when target is above every point.
    on_curve: linear between the swept plans closest below and above `target` (the cheaper
    one at a tie) -- the plans' cost at exactly that ratio, not letting a plan with more hits
    stand in; None when target is outside the swept range.
    """
    pts = sorted(((getattr(o, metric), o.cost, o) for o in points), key=lambda p: (p[0], p[1]))
    above = [p for p in pts if p[0] >= target]
    below = [p for p in pts if p[0] <= target]
    on_curve = None
    if above and below:
        (r0, c0, _), (r1, c1, _) = below[-1], min(above, key=lambda p: (p[0], p[1]))
        lo = min((p for p in below if p[0] == r0), key=lambda p: p[1])
        c0 = lo[1]
        on_curve = c0 if r1 <= r0 else c0 + (c1 - c0) * (target - r0) / (r1 - r0)
    if not above:
        return {"step_cost": None, "step": None, "interpolated_cost": None, "on_curve_cost": None}
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
    return {
        "step_cost": best[1],
        "step": best[2].summary(),
        "interpolated_cost": interp,
        "on_curve_cost": on_curve,
    }


def _saving(base: float, other: float | None) -> float | None:
    return None if other is None or base <= 0 else 100.0 * (base - other) / base


def equal_hit(points: Sequence[Outcome], base: Outcome) -> dict:
    """Per metric: the plans' cost at `base`'s hit ratio and the saving against it."""
    out = {}
    egress = float(base.egress_cost.sum())  # the same for every strategy on one window
    for metric in ("hit_ratio", "byte_hit_ratio"):
        target = getattr(base, metric)
        at = cost_at(points, target, metric)
        out[metric] = {
            "baseline": base.name,
            "lru_ratio": target,
            "lru_cost": base.cost,
            **at,
            "step_saving_pct": _saving(base.cost, at["step_cost"]),
            "interpolated_saving_pct": _saving(base.cost, at["interpolated_cost"]),
            "on_curve_saving_pct": _saving(base.cost, at["on_curve_cost"]),
            # Egress is the same for all; this is the saving on what placement can change.
            "step_saving_pct_excl_egress": _saving(
                base.cost - egress, None if at["step_cost"] is None else at["step_cost"] - egress
            ),
        }
    return out


def _curve(points: Sequence[Outcome], sweep: Sequence[Outcome]) -> list[dict]:
    curve = []
    for o in sweep:
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
    return curve


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
    coop: Outcome | None = None  # cooperative LRU at capacity (None: no inter-node network)
    coop_sweep: list[Outcome] = field(default_factory=list)
    equal_coop: dict | None = None
    curve_coop: list[dict] = field(default_factory=list)
    local_only: bool = False

    def saving(self, metric: str = "hit_ratio", how: str = "step") -> float | None:
        return self.equal[metric][f"{how}_saving_pct"]

    def saving_coop(self, metric: str = "hit_ratio", how: str = "step") -> float | None:
        return None if self.equal_coop is None else self.equal_coop[metric][f"{how}_saving_pct"]

    def node_rows(self) -> list[dict]:
        """Per-node summary of the default plan, with its simulated outcome."""
        out = self.plan_outcome
        rows = []
        for i, (p, node) in enumerate(zip(self.plan.nodes, self.prices.nodes, strict=True)):
            rows.append(
                {
                    "region": p.region,
                    "capacity_MB": node.capacity / 1e6,
                    "objects_stored": len(p.keys),
                    "stored_MB": p.bytes / 1e6,
                    "used_pct": 100.0 * p.bytes / node.capacity,
                    "candidates": p.candidates,
                    "unprofitable": p.unprofitable,
                    "no_room": p.no_room,
                    "expected_requests": p.expected_requests,
                    "expected_remote": p.expected_remote,
                    "expected_saving": p.expected_saving,
                    "hit_ratio": float(out.hits[i] / max(1, out.requests[i])),
                    "local_hit_ratio": float(out.local_hits[i] / max(1, out.requests[i])),
                    "byte_hit_ratio": float(out.hit_bytes[i] / max(1, out.bytes[i])),
                    "cost": float(
                        out.storage_cost[i] + out.fill_cost[i] + out.transfer_cost[i]
                        + out.egress_cost[i]
                    ),
                }
            )  # fmt: skip
        return rows

    def to_dict(self) -> dict:
        def plan_nodes(plan: Plan) -> list[dict]:
            skip = ("keys", "key_sizes", "push_prices")
            out = []
            for p in plan.nodes:
                row = {k: v for k, v in vars(p).items() if k not in skip}
                paid = p.push_prices if p.push_prices is not None else np.zeros(0)
                sizes = p.key_sizes[: len(paid)].astype(np.float64)
                row["objects"] = len(p.keys)
                # $/GB of the copies (0 for resident ones), weighted by bytes
                row["mean_push_price"] = float((paid * sizes).sum() / max(1.0, sizes.sum()))
                out.append(row)
            return out

        return {
            "log": self.log_name,
            "prices": self.prices.to_dict(),
            "local_only": self.local_only,
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
            "coop_lru": None if self.coop is None else self.coop.to_dict(),
            "equal_hit_ratio": self.equal,
            "equal_hit_ratio_coop": self.equal_coop,
            "curve": self.curve,
            "curve_coop": self.curve_coop,
            "plan_sweep": [_point(o) for o in self.plan_sweep],
            "lru_sweep": [_point(o) for o in self.lru_sweep],
            "coop_sweep": [_point(o) for o in self.coop_sweep],
        }


def _point(o: Outcome) -> dict:
    """A sweep point: its settings and where it lands (hit ratios, cost)."""
    keep = ("budget", "min_saving", "scale")
    return {k: v for k, v in o.params.items() if k in keep} | {
        "hit_ratio": o.hit_ratio,
        "local_hit_ratio": o.local_hit_ratio,
        "byte_hit_ratio": o.byte_hit_ratio,
        "total_cost": o.cost,
    }


def saving_thresholds(
    demand: Demand,
    prices: Prices,
    period_s: float,
    quantiles: Sequence[float] = (0.5, 0.75, 0.9, 0.95, 0.98, 0.99),
) -> list[float]:
    """Bars on saving per GB ($/GB) at quantiles of the profitable additions' savings (the
    uncapacitated greedy's, on the training window's demand)."""
    p = _problem(demand, prices, period_s, None)
    none = np.zeros(p.n_hat.shape, dtype=bool)
    gains = _greedy_items(p, none, none, 0.0).gain
    if len(gains) == 0:
        return []
    return sorted({float(q) for q in np.quantile(gains, quantiles)})


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
    local_only: bool = False,
    cooperative_lru: bool = True,
) -> Comparison:
    """Learn on a training window, replay the next window against the default plan, a plan
    sweep and two LRU sweeps (cache everywhere; cooperative), and price the plan at the LRUs'
    hit ratios.

    Windows are fractions of the log's time span: an optional prior window
    (`prior_fraction`), the training window (`train_fraction`), then evaluation to the end.
    `warm`: the LRUs start the evaluation window with what they hold after the earlier
    windows, for free. Without a prior window the plan then pays its whole push (conservative
    for the plan). With one, the steady state of a rolling plan is modelled: the plan learned
    on the prior window (same settings) is what the edges hold, so only new placements are
    pushed. `warm=False`: every edge starts empty and the LRUs pay their warm-up misses.
    `local_only`: drop the inter-node network (the single-region model: every region served
    by its own node or the origin; no cooperative LRU).
    """
    if local_only:
        prices = prices.local_only()
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
    # profitable placements) or -inf (any placement that serves demand more cheaply: buys hit
    # ratio at a loss); and the whole capacity with a rising bar on saving per GB, which
    # moves bytes to the placements that save most. All thresholds come from the training
    # window.
    settings = [(b, m) for m in (0.0, -math.inf) for b in budgets]
    settings += [(1.0, m) for m in saving_thresholds(demand, prices, eval_s)]
    sweep = [run(b, m)[1] for b, m in settings]
    scales = sorted(set(lru_scales) | {1.0})
    lru_sweep = [simulate_lru(history, ev, prices, eval_s, scale=s) for s in scales]
    lru = next(o for o in lru_sweep if o.params["scale"] == 1.0)
    coop_sweep: list[Outcome] = []
    coop = None
    if cooperative_lru and prices.cooperative:
        coop_sweep = [
            simulate_lru(history, ev, prices, eval_s, scale=s, cooperative=True) for s in scales
        ]
        coop = next(o for o in coop_sweep if o.params["scale"] == 1.0)
    points = [*sweep, plan_outcome]
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
        equal_hit(points, lru),
        _curve(points, lru_sweep),
        coop=coop,
        coop_sweep=coop_sweep,
        equal_coop=None if coop is None else equal_hit(points, coop),
        curve_coop=_curve(points, coop_sweep),
        local_only=local_only,
    )


def plot_comparison(comp: Comparison, path: Path | str, title: str | None = None) -> Path:
    """Cost against hit ratio (and byte hit ratio) for the plan sweep and the LRU sweeps."""
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
        if comp.coop is not None:
            coop = sorted((getattr(o, metric), o.cost) for o in comp.coop_sweep)
            ax.plot(*zip(*coop, strict=True), "v-", color="tab:purple", ms=5,
                    label="cooperative LRU")  # fmt: skip
            ax.plot(getattr(comp.coop, metric), comp.coop.cost, "*", color="tab:purple", ms=12)
        ax.plot(
            getattr(comp.plan_outcome, metric),
            comp.plan_outcome.cost,
            "r*",
            ms=12,
            label="default plan",
        )
        ax.set_xlabel(f"{label} = origin offload (evaluation window)")
        ax.set_ylabel("total cost ($)")
    axes[0].legend(fontsize=7)
    fig.suptitle(title or f"placement plan vs LRU: {comp.log_name}", fontsize=10)
    return save(fig, Path(path))


# ---------------------------------------------------------------------------------------------
# Reporting


def load_log(path: Path | str, prices: Prices, *, locality: float = 0.75) -> RequestLog:
    """A request log CSV, or a sized cache trace (Tencent photo, oracleGeneral) replayed into
    the prices file's regions."""
    from syslab.cache.workloads.readers import detect_format_or_none

    path = Path(path)
    if path.is_file() and detect_format_or_none(path) in ("tencent", "oracle"):
        return replay_trace(path, prices.regions, locality=locality)
    return read_log(path)


def tables(comp: Comparison) -> list:
    """The per-node plan summary and the plan-vs-LRU table (syslab.common.report.Table)."""
    from syslab.common.report import Table

    node_rows = [
        {
            "region": r["region"],
            "cap MB": r["capacity_MB"],
            "stored": r["objects_stored"],
            "MB": r["stored_MB"],
            "used %": r["used_pct"],
            "cand": r["candidates"],
            "unprof": r["unprofitable"],
            "no room": r["no_room"],
            "exp. req": r["expected_requests"],
            "exp. remote": r["expected_remote"],
            "exp. save $": r["expected_saving"],
            "hit": r["hit_ratio"],
            "local hit": r["local_hit_ratio"],
            "byte hit": r["byte_hit_ratio"],
            "cost $": r["cost"],
        }
        for r in comp.node_rows()
    ]
    nodes = Table(
        f"plan per node: learned on {comp.n_train:,} requests ({_duration(comp.train_s)}), "
        f"replayed on the next {comp.n_eval:,} ({_duration(comp.eval_s)}). cand = objects "
        "with demand in the region, unprof = of those, placed nowhere (no placement pays), "
        "no room = placements here that did not fit, exp. req / remote = requests this node "
        "is expected to serve / of them for other regions; hit = the region's requests served "
        "by any node, local hit = by its own",
        list(node_rows[0]) if node_rows else [],
        node_rows,
        {"cap MB": ".0f", "MB": ".1f", "used %": ".0f", "exp. req": ".0f",
         "exp. remote": ".0f", "exp. save $": ".4f", "hit": ".3f", "local hit": ".3f",
         "byte hit": ".3f", "cost $": ".4f"},
    )  # fmt: skip

    def row(name: str, summary: dict | None, vs_lru: float | None, vs_coop=None) -> dict:
        summary = summary or {}
        return {
            "strategy": name,
            "hit": summary.get("hit_ratio", ""),
            "local hit": summary.get("local_hit_ratio", ""),
            "byte hit": summary.get("byte_hit_ratio", ""),
            "storage $": summary.get("storage_cost", ""),
            "fill $": summary.get("fill_cost", ""),
            "transfer $": summary.get("transfer_cost", ""),
            "egress $": summary.get("egress_cost", ""),
            "total $": summary.get("total_cost", ""),
            "vs LRU %": "" if vs_lru is None else vs_lru,
            "vs coop %": "" if vs_coop is None else vs_coop,
        }

    lru, coop = comp.lru, comp.coop
    rows = [row("LRU everywhere", lru.summary(), 0.0)]
    if coop is not None:
        rows.append(row("cooperative LRU", coop.summary(), _saving(lru.cost, coop.cost), 0.0))
    out = comp.plan_outcome
    rows.append(row("plan (default)", out.summary(), _saving(lru.cost, out.cost),
                    None if coop is None else _saving(coop.cost, out.cost)))  # fmt: skip
    for label, eq in (("LRU", comp.equal["hit_ratio"]),
                      ("coop", (comp.equal_coop or {}).get("hit_ratio"))):  # fmt: skip
        if eq is None or eq["step"] is None:
            continue
        vs = {"vs_lru": eq["step_saving_pct"]} if label == "LRU" else {}
        rows.append(row(f"plan, hit >= {label}", eq["step"], vs.get("vs_lru"),
                        None if label == "LRU" else eq["step_saving_pct"]))  # fmt: skip
        interp = {"hit_ratio": eq["lru_ratio"], "total_cost": eq["interpolated_cost"]}
        saving = eq["interpolated_saving_pct"]
        rows.append(row(f"plan, interpolated at {label}", interp,
                        saving if label == "LRU" else None,
                        saving if label != "LRU" else None))  # fmt: skip
    money = ".4f"
    model = "single-region model (--local-only)" if comp.local_only else (
        "hit = served by any node (origin offload)")  # fmt: skip
    versus = Table(
        f"plan vs LRU on the evaluation window; {model}; vs % = saving against that baseline",
        list(rows[0]),
        rows,
        {"hit": ".4f", "local hit": ".4f", "byte hit": ".4f", "storage $": money,
         "fill $": money, "transfer $": money, "egress $": money, "total $": money,
         "vs LRU %": "+.1f", "vs coop %": "+.1f"},
    )  # fmt: skip
    return [nodes, versus]


def _verdict_one(eq: dict, name: str, plan_sweep: Sequence[Outcome]) -> str:
    if eq["step"] is None:
        best = max((o.hit_ratio for o in plan_sweep), default=0.0)
        return (
            f"no swept plan reaches {name}'s hit ratio {eq['lru_ratio']:.4f} "
            f"(best plan: {best:.4f}): no saving at equal hit ratio"
        )
    step = eq["step_saving_pct"]
    word = "cheaper" if step >= 0 else "more expensive"
    curve = eq.get("on_curve_saving_pct")
    at = "n/a" if curve is None else f"{curve:+.1f}%"
    return (
        f"at {name}'s hit ratio ({eq['lru_ratio']:.4f}) the plan is {abs(step):.1f}% {word} "
        f"(cheapest swept plan with hit ratio >= {name}'s; interpolated: "
        f"{eq['interpolated_saving_pct']:+.1f}%; excluding egress: "
        f"{eq['step_saving_pct_excl_egress']:+.1f}%; the plans' curve at exactly that hit "
        f"ratio: {at})"
    )


def verdict(comp: Comparison) -> str:
    """The saving at equal hit ratio against each baseline, or why there is none."""
    text = _verdict_one(comp.equal["hit_ratio"], "LRU everywhere", comp.plan_sweep)
    if comp.equal_coop is not None:
        coop = _verdict_one(comp.equal_coop["hit_ratio"], "cooperative LRU", comp.plan_sweep)
        text += f"; {coop}"
    return text


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
