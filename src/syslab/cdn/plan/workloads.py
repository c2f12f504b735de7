"""Regional request logs without data: a synthetic generator and a replay of a real trace."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from syslab.cdn.plan.logs import RequestLog
from syslab.common.errors import UserError


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
