"""Synthetic workloads: bounded Zipf popularity plus one-hit wonders, scans or loops, and sizes.

Everything is vectorized numpy and deterministic by seed: 10 M requests take about a second.
Each ingredient draws from its own random stream, so turning on sizes (say) does not change
which keys are requested.

Key spaces never overlap: the Zipf objects are keys 0..n_objects-1 (a random permutation of
the popularity ranks, so key order says nothing about popularity), then come the one-hit
wonders, then the scan/loop keys.
"""

from __future__ import annotations

import math

import numpy as np

from syslab.cache.trace import Trace
from syslab.common.errors import UserError

SIZE_DISTS = ("fixed", "lognormal", "pareto")
_MAX_SIZE = 2**40  # a Pareto tail can draw absurd sizes; no real object is a terabyte


def synthetic(
    n_requests: int,
    n_objects: int,
    alpha: float,
    *,
    scan_fraction: float = 0.0,
    scan_length: int | None = None,
    loop: bool = False,
    one_hit_fraction: float = 0.0,
    size_dist: str | None = None,
    size_mean: float = 4096,
    size_shape: float | None = None,
    seed: int = 0,
    name: str | None = None,
) -> Trace:
    """A Zipf(alpha) workload over `n_objects` objects, with optional extras.

    * `one_hit_fraction` of the requests go to fresh keys requested exactly once (CDN-like).
    * `scan_fraction` of the requests are sequential runs of `scan_length` keys (default
      n_objects // 20): each run over never-seen keys, or with `loop` over the same key range
      every time (the pattern where LRU gets nothing once the loop outgrows the cache).
    * `size_dist` gives every *object* (not request) a size: "fixed" (= size_mean),
      "lognormal" (sigma = size_shape, default 1) or "pareto" (shape = size_shape, default
      1.5), both with mean size_mean. None: no sizes (every object counts as 1).
    """
    scan_length = max(1, n_objects // 20) if scan_length is None else scan_length
    _validate(
        n_requests,
        n_objects,
        alpha,
        scan_fraction,
        scan_length,
        one_hit_fraction,
        size_dist,
        size_mean,
        size_shape,
    )
    zipf_rng, mix_rng, scan_rng, size_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )

    n_scan = round(scan_fraction * n_requests)
    keys = _zipf_and_one_hits(
        n_requests - n_scan, one_hit_fraction * n_requests, n_objects, alpha, zipf_rng, mix_rng
    )
    n_one_hits = int((keys >= n_objects).sum())
    if n_scan:
        scan_base = n_objects + n_one_hits
        keys = _insert_scans(keys, n_scan, scan_length, loop, scan_base, scan_rng)

    sizes = None
    if size_dist is not None:
        table = _object_sizes(int(keys.max()) + 1, size_dist, size_mean, size_shape, size_rng)
        sizes = table[keys]
    meta = {
        "generator": "synthetic",
        "n_objects": n_objects,
        "alpha": alpha,
        "scan_fraction": scan_fraction,
        "scan_length": scan_length,
        "loop": loop,
        "one_hit_fraction": one_hit_fraction,
        "size_dist": size_dist,
        "seed": seed,
    }
    return Trace(
        name or _default_name(alpha, scan_fraction, loop, one_hit_fraction, seed),
        keys.astype(np.uint64),
        sizes,
        meta,
    )


def zipf(
    n_requests: int,
    n_objects: int,
    alpha: float,
    *,
    seed: int = 0,
    name: str | None = None,
    **options: object,
) -> Trace:
    """A plain bounded-Zipf workload (options as `synthetic`)."""
    return synthetic(n_requests, n_objects, alpha, seed=seed, name=name, **options)


def zipf_ranks(n: int, n_objects: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """n draws of popularity ranks 0..n_objects-1, P(rank r) ∝ (r+1)**-alpha (any alpha >= 0).

    Exact inverse-CDF sampling of the bounded distribution (numpy's `zipf` is unbounded and
    needs alpha > 1). A plain searchsorted of 10 M uniforms into a 1 M-entry CDF is memory
    bound (~20 random probes each), so a guide table first maps each uniform to the few ranks
    its CDF bucket spans; only draws in buckets spanning several (tail) ranks binary-search.
    """
    cdf = np.cumsum(np.arange(1, n_objects + 1, dtype=np.float64) ** -alpha)
    cdf /= cdf[-1]
    cdf[-1] = 1.0  # every uniform in [0, 1) then lands on a rank
    buckets = 4 * n_objects
    guide = np.searchsorted(cdf, np.arange(buckets + 1) / buckets, side="right")
    guide = np.minimum(guide, n_objects - 1).astype(np.int32 if n_objects < 2**31 else np.int64)
    u = rng.random(n)
    b = (u * buckets).astype(np.int64)
    lo, hi = guide[b], guide[b + 1]  # answer: first rank whose cdf exceeds u, in [lo, hi]
    todo = np.flatnonzero(lo < hi)
    # binary search on compact copies of the unresolved draws only (few, and fewer each step)
    low, high, uu = lo[todo], hi[todo], u[todo]
    while True:
        open_ = np.flatnonzero(low < high)
        if not len(open_):
            break
        mid = (low[open_] + high[open_]) >> 1
        right = cdf[mid] <= uu[open_]
        low[open_] = np.where(right, mid + 1, low[open_])
        high[open_] = np.where(right, high[open_], mid)
    lo[todo] = low
    return lo.astype(np.int64)


def _zipf_and_one_hits(
    n: int,
    n_one_hits: float,
    n_objects: int,
    alpha: float,
    zipf_rng: np.random.Generator,
    mix_rng: np.random.Generator,
) -> np.ndarray:
    """n requests: Zipf keys, about n_one_hits of them replaced by fresh, never-repeated keys."""
    is_one_hit = np.zeros(0, dtype=bool)
    if n_one_hits > 0 and n:
        # A Bernoulli mask is one vectorized pass, much cheaper than choosing exact positions.
        is_one_hit = mix_rng.random(n) < min(1.0, n_one_hits / n)
    n_zipf = n - int(is_one_hit.sum())
    permutation = zipf_rng.permutation(n_objects)  # rank -> key
    zipf_keys = permutation[zipf_ranks(n_zipf, n_objects, alpha, zipf_rng)]
    if n_zipf == n:
        return zipf_keys
    keys = np.empty(n, dtype=np.int64)
    keys[~is_one_hit] = zipf_keys
    keys[is_one_hit] = n_objects + np.arange(n - n_zipf)
    return keys


def _insert_scans(
    keys: np.ndarray, n_scan: int, length: int, loop: bool, base: int, rng: np.random.Generator
) -> np.ndarray:
    """`keys` with n_scan scan requests inserted as runs of `length` at random points."""
    n_runs = math.ceil(n_scan / length)
    run_lengths = np.full(n_runs, length, dtype=np.int64)
    run_lengths[-1] = n_scan - length * (n_runs - 1)
    # run j goes in front of keys[points[j]] (points may repeat: runs then sit back to back)
    points = np.sort(rng.integers(0, len(keys) + 1, n_runs))
    run_starts = points + np.cumsum(run_lengths) - run_lengths
    out = np.empty(len(keys) + n_scan, dtype=np.int64)
    is_scan = np.zeros(len(out), dtype=bool)
    within = np.arange(n_scan) - np.repeat(np.cumsum(run_lengths) - run_lengths, run_lengths)
    scan_positions = np.repeat(run_starts, run_lengths) + within
    is_scan[scan_positions] = True
    out[~is_scan] = keys
    # a loop walks the same key range every time; a scan walks fresh keys
    out[scan_positions] = base + (within if loop else np.arange(n_scan))
    return out


def _object_sizes(
    n: int, dist: str, mean: float, shape: float | None, rng: np.random.Generator
) -> np.ndarray:
    """One size per key 0..n-1, with the given mean (in bytes, at least 1)."""
    if dist == "fixed":
        return np.full(n, max(1, round(mean)), dtype=np.int64)
    if dist == "lognormal":
        sigma = 1.0 if shape is None else shape
        raw = rng.lognormal(math.log(mean) - sigma**2 / 2, sigma, n)  # E = exp(mu + s²/2)
    else:
        a = 1.5 if shape is None else shape
        raw = mean * (a - 1) / a * (1 + rng.pareto(a, n))  # classic Pareto, E = xm*a/(a-1)
    return np.clip(np.rint(raw), 1, _MAX_SIZE).astype(np.int64)


def _validate(
    n_requests: int,
    n_objects: int,
    alpha: float,
    scan_fraction: float,
    scan_length: int,
    one_hit_fraction: float,
    size_dist: str | None,
    size_mean: float,
    size_shape: float | None,
) -> None:
    if n_requests < 1 or n_objects < 1:
        raise UserError(
            f"need at least one request and one object, got {n_requests} "
            f"requests over {n_objects} objects"
        )
    if not alpha >= 0:
        raise UserError(f"Zipf alpha must be >= 0, got {alpha}")
    for label, value in (("scan_fraction", scan_fraction), ("one_hit_fraction", one_hit_fraction)):
        if not 0 <= value <= 1:
            raise UserError(f"{label} must be in [0, 1], got {value}")
    if scan_fraction + one_hit_fraction > 1:
        raise UserError("scan_fraction + one_hit_fraction must not exceed 1")
    if scan_length < 1:
        raise UserError(f"scan_length must be at least 1, got {scan_length}")
    if size_dist is not None and size_dist not in SIZE_DISTS:
        raise UserError(f"unknown size distribution {size_dist!r} (choose {', '.join(SIZE_DISTS)})")
    if not size_mean >= 1:
        raise UserError(f"size_mean must be at least 1, got {size_mean}")
    if size_dist == "pareto" and size_shape is not None and size_shape <= 1:
        raise UserError(f"pareto shape must be > 1 for a finite mean, got {size_shape}")
    if size_dist == "lognormal" and size_shape is not None and size_shape <= 0:
        raise UserError(f"lognormal sigma must be > 0, got {size_shape}")


def _default_name(
    alpha: float, scan_fraction: float, loop: bool, one_hit_fraction: float, seed: int
) -> str:
    parts = [f"zipf{alpha:g}"]
    if one_hit_fraction:
        parts.append(f"onehit{one_hit_fraction:g}")
    if scan_fraction:
        parts.append(f"{'loop' if loop else 'scan'}{scan_fraction:g}")
    parts.append(f"s{seed}")
    return "-".join(parts)
