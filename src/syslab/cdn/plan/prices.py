"""Prices and topology: per-node storage, egress, fill and transfer prices and capacities."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from syslab.cdn.plan.logs import RequestLog
from syslab.common.errors import UserError

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
