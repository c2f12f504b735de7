"""The cluster: servers × GPUs per server × GPU type, and who holds which GPUs.

A spec is YAML (or the same dict in Python):

    name: philly-512
    servers:
      - {gpu: v100, count: 64, gpus_per_server: 8}

`GpuPool` tracks free GPUs per server for one GPU type and answers "where do k
GPUs go?" for three placement strategies. Bookkeeping is by free-count buckets so
that the common case (a 1-GPU job, best fit) costs a few dict operations.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

from syslab.common.errors import UserError

PLACEMENTS = ("consolidated", "first-fit", "random")
Allocation = tuple[tuple[int, int], ...]  # ((server index within its pool, GPUs), ...)


@dataclass(frozen=True)
class ServerGroup:
    gpu: str
    count: int
    gpus_per_server: int


@dataclass(frozen=True)
class ClusterSpec:
    """Server groups; GPU types keep the order in which the spec names them."""

    name: str
    groups: tuple[ServerGroup, ...]

    @property
    def gpu_types(self) -> list[str]:
        seen: list[str] = []
        for g in self.groups:
            if g.gpu not in seen:
                seen.append(g.gpu)
        return seen

    def capacity(self, gpu_type: str) -> int:
        return sum(g.count * g.gpus_per_server for g in self.groups if g.gpu == gpu_type)

    @property
    def total_gpus(self) -> int:
        return sum(g.count * g.gpus_per_server for g in self.groups)

    def describe(self) -> str:
        parts = [f"{g.count}×{g.gpus_per_server} {g.gpu}" for g in self.groups]
        return f"{self.name}: {' + '.join(parts)} = {self.total_gpus} GPUs"

    @classmethod
    def from_dict(cls, raw: object, where: str = "cluster spec") -> ClusterSpec:
        if not isinstance(raw, dict) or not isinstance(raw.get("servers"), list):
            raise UserError(f"{where}: expected a mapping with a 'servers' list")
        if not raw["servers"]:
            raise UserError(f"{where}: 'servers' is empty")
        groups = []
        for i, entry in enumerate(raw["servers"]):
            label = f"{where}: servers[{i}]"
            if not isinstance(entry, dict):
                raise UserError(f"{label}: expected {{gpu, count, gpus_per_server}}")
            unknown = set(entry) - {"gpu", "count", "gpus_per_server"}
            if unknown:
                raise UserError(f"{label}: unknown field(s) {', '.join(sorted(unknown))}")
            gpu = entry.get("gpu")
            if not isinstance(gpu, str) or not gpu.strip():
                raise UserError(f"{label}: 'gpu' must name a GPU type such as v100")
            values = {}
            for key in ("count", "gpus_per_server"):
                v = entry.get(key)
                if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                    raise UserError(f"{label}: '{key}' must be a positive integer, got {v!r}")
                values[key] = v
            groups.append(ServerGroup(gpu.strip().lower(), values["count"],
                                      values["gpus_per_server"]))
        name = raw.get("name", where)
        return cls(str(name), tuple(groups))

    @classmethod
    def from_yaml(cls, path: str | Path) -> ClusterSpec:
        import yaml

        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except OSError as e:
            raise UserError(f"{path}: cannot read cluster spec ({e.strerror})") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise UserError(f"{path}{line}: not valid YAML") from None
        if isinstance(raw, dict) and "name" not in raw:
            raw["name"] = path.stem
        return cls.from_dict(raw, where=str(path))

    @classmethod
    def uniform(cls, servers: int, gpus_per_server: int, gpu: str = "v100",
                name: str | None = None) -> ClusterSpec:
        return cls(name or f"{servers}x{gpus_per_server}-{gpu}",
                   (ServerGroup(gpu, servers, gpus_per_server),))


BUILTIN_DIR = Path(__file__).parent / "clusters"


def builtin_clusters() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def load_cluster(name_or_path: str | Path) -> ClusterSpec:
    """A path to a YAML file, or the name of a spec shipped with the package."""
    path = Path(name_or_path)
    if path.is_file():
        return ClusterSpec.from_yaml(path)
    builtin = BUILTIN_DIR / f"{name_or_path}.yaml"
    if builtin.is_file():
        return ClusterSpec.from_yaml(builtin)
    raise UserError(
        f"cluster spec {name_or_path!s} not found (a YAML path, or one of: "
        f"{', '.join(builtin_clusters())})"
    )


class GpuPool:
    """Free GPUs per server of one GPU type."""

    def __init__(self, sizes: list[int], seed: int = 0):
        self.size = list(sizes)
        self.free = list(sizes)
        self.total = sum(sizes)
        self.free_total = self.total
        self.largest = max(sizes)
        # buckets[f] = servers with exactly f free GPUs (dicts keep insertion order:
        # deterministic, unlike sets)
        self.buckets: list[dict[int, None]] = [{} for _ in range(self.largest + 1)]
        for s, n in enumerate(sizes):
            self.buckets[n][s] = None
        self.rng = random.Random(seed)

    def _set(self, s: int, free: int) -> None:
        del self.buckets[self.free[s]][s]
        self.free[s] = free
        self.buckets[free][s] = None

    def min_servers(self, k: int) -> int:
        return math.ceil(k / self.largest)

    def allocate(self, k: int, placement: str = "consolidated") -> tuple[Allocation, bool]:
        """Take k GPUs; returns (allocation, consolidated?). Caller ensures k <= free_total."""
        if k > self.free_total:
            raise ValueError(f"asked for {k} GPUs, {self.free_total} free")
        if k == 1 and placement == "consolidated":  # the common case, inlined
            buckets = self.buckets
            for f in range(1, self.largest + 1):
                if buckets[f]:
                    server = next(iter(buckets[f]))
                    del buckets[f][server]
                    self.free[server] = f - 1
                    buckets[f - 1][server] = None
                    self.free_total -= 1
                    return ((server, 1),), True
        if placement == "consolidated":
            parts = self._best_fit(k)
        elif placement == "first-fit":
            parts = self._first_fit(k)
        elif placement == "random":
            parts = self._random(k)
        else:
            raise UserError(f"unknown placement {placement!r} (one of {', '.join(PLACEMENTS)})")
        self.take(parts)
        return parts, len(parts) <= self.min_servers(k)

    def take(self, parts: Allocation) -> None:
        """Take these GPUs on these servers (a placement decided by the caller)."""
        for s, n in parts:
            if n > self.free[s]:
                raise ValueError(f"server {s} has {self.free[s]} free GPUs, asked for {n}")
            self._set(s, self.free[s] - n)
            self.free_total -= n

    def most_free(self) -> int:
        """The most free GPUs on any one server."""
        for f in range(self.largest, 0, -1):
            if self.buckets[f]:
                return f
        return 0

    def can_consolidate(self, k: int, holding: Allocation = ()) -> bool:
        """Could k GPUs go on the fewest possible servers, if `holding` were given back?"""
        free, buckets = self.free, self.buckets
        if k <= self.largest:
            if any(buckets[f] for f in range(k, self.largest + 1)):
                return True
            return any(free[s] + n >= k for s, n in holding)
        whole = len(buckets[self.largest]) + sum(
            1 for s, n in holding if free[s] + n == self.size[s] == self.largest)
        return whole >= self.min_servers(k)

    def release(self, parts: Allocation) -> None:
        free, buckets = self.free, self.buckets
        for s, n in parts:  # _set inlined: this runs once per finished job
            f = free[s]
            del buckets[f][s]
            free[s] = f + n
            buckets[f + n][s] = None
            self.free_total += n

    def _best_fit(self, k: int) -> Allocation:
        # One server with the fewest free GPUs that still holds the whole job ...
        for f in range(k, self.largest + 1):
            bucket = self.buckets[f]
            if bucket:
                return ((next(iter(bucket)), k),)
        # ... else the fewest servers: take the emptiest servers first.
        parts = []
        need = k
        for f in range(self.largest, 0, -1):
            for s in self.buckets[f]:
                take = min(f, need)
                parts.append((s, take))
                need -= take
                if need == 0:
                    return tuple(parts)
        raise AssertionError("free_total out of sync")  # guarded by the caller's check

    def _first_fit(self, k: int) -> Allocation:
        parts = []
        need = k
        for s, f in enumerate(self.free):
            if f:
                take = min(f, need)
                parts.append((s, take))
                need -= take
                if need == 0:
                    return tuple(parts)
        raise AssertionError("free_total out of sync")

    def _random(self, k: int) -> Allocation:
        # k GPUs drawn uniformly from all free GPUs (so a job usually spans servers).
        slots = [s for s, f in enumerate(self.free) for _ in range(f)]
        chosen = self.rng.sample(slots, k)
        counts: dict[int, int] = {}
        for s in chosen:
            counts[s] = counts.get(s, 0) + 1
        return tuple(sorted(counts.items()))
