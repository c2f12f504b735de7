"""What a trace looks like to a cache: reuse, popularity skew, one-hit wonders, scans, sizes.

`analyze(trace)` computes everything in a few vectorised passes (one O(n log n) stack-distance
pass, the rest O(n)), so a 12.7 M-request block trace takes seconds. Conventions:

- reuse distance = LRU stack distance (`syslab.cache.mrc`): distinct objects requested since the
  previous request to the same object, counting itself (back-to-back repeats have distance 1).
- reuse time = requests since the previous request to the same object, counting itself
  (back-to-back repeats have reuse time 1).
- log2 histograms: bin b counts values in [2**b, 2**(b+1)); first requests are left out
  (there are `unique_objects` of them).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numba
import numpy as np

from syslab.cache.mrc import stack_distances
from syslab.cache.trace import Trace

#: Window lengths (requests) for the working-set sizes; only those no longer than the trace.
WORKING_SET_WINDOWS: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
#: A sequential run needs this many requests with keys k, k+1, k+2, ...: shorter ones happen
#: by chance among densely numbered hot keys and say nothing about scans.
SEQUENTIAL_MIN_RUN = 4
#: Zipf fit: ranks 1..R with R = the top 10 % of objects (at least 10), cut where frequencies fall
#: below 2 (the one-hit tail is flat and not part of the power law); fitted on 50 log-spaced
#: ranks so each decade of rank weighs the same instead of the noisy tail dominating.
ZIPF_TOP_FRACTION = 0.10
ZIPF_FIT_POINTS = 50


@dataclass(frozen=True)
class TraceStats:
    """Summary statistics of one trace (see the module docstring for the conventions)."""

    name: str
    requests: int
    unique_objects: int
    one_hit_objects: int  # objects requested exactly once
    one_hit_object_fraction: float  # ... as a share of objects
    one_hit_request_fraction: float  # ... as a share of requests
    reuse_distance_log2: list[int]  # bin b: stack distance in [2**b, 2**(b+1))
    reuse_distance_median: float  # over reuses (not first requests); nan if none
    reuse_time_log2: list[int]  # bin b: reuse time in [2**b, 2**(b+1))
    reuse_time_median: float
    zipf_alpha: float  # fitted popularity exponent, 0.0 if too few reused objects to fit
    zipf_fit_ranks: int  # the fit used ranks 1..this
    top1_share: float  # share of requests to the most popular 1 % of objects
    top10_share: float  # ... and 10 %
    working_set: dict[int, float]  # window (requests) -> mean distinct objects per window
    working_set_bytes: dict[int, float] | None  # window -> mean distinct bytes, if sized
    mean_object_size: float | None  # over objects, each at its first-seen size
    median_object_size: float | None
    max_object_size: int | None
    footprint_bytes: int | None  # sum of object sizes: a cache this big never evicts
    sequential_fraction: float  # share of requests in runs of consecutive keys
    family: str  # a rough guess at the workload family, from the numbers above

    def to_record(self) -> dict:
        """A flat dict of scalars for JSON lines and tables (lists/dicts spread into keys)."""
        record = asdict(self)
        for field in ("reuse_distance_log2", "reuse_time_log2"):
            for b, count in enumerate(record.pop(field)):
                record[f"{field}_{b}"] = count
        for field in ("working_set", "working_set_bytes"):
            for window, value in (record.pop(field) or {}).items():
                record[f"{field}_{window}"] = value
        return record


def analyze(trace: Trace) -> TraceStats:
    """Compute `TraceStats` for `trace`."""
    ids = trace.ids
    n = len(trace)
    counts = np.bincount(ids, minlength=trace.n_unique)
    reuse_time = _reuse_times(ids, trace.n_unique)
    distance = stack_distances(trace)
    first = reuse_time < 0

    one_hit = int((counts == 1).sum())
    alpha, fit_ranks = zipf_alpha(counts)
    top1, top10 = (top_share(counts, f) for f in (0.01, 0.10))
    sizes = _object_sizes(trace, ids, first)
    seq = sequential_fraction(trace.keys)

    stats = dict(
        name=trace.name,
        requests=n,
        unique_objects=trace.n_unique,
        one_hit_objects=one_hit,
        one_hit_object_fraction=one_hit / trace.n_unique,
        one_hit_request_fraction=one_hit / n,
        reuse_distance_log2=log2_histogram(distance[~first]),
        reuse_distance_median=_median(distance[~first]),
        reuse_time_log2=log2_histogram(reuse_time[~first]),
        reuse_time_median=_median(reuse_time[~first]),
        zipf_alpha=alpha,
        zipf_fit_ranks=fit_ranks,
        top1_share=top1,
        top10_share=top10,
        working_set=working_set_sizes(reuse_time),
        working_set_bytes=working_set_sizes(reuse_time, trace.sizes) if trace.has_sizes else None,
        sequential_fraction=seq,
        **sizes,
    )
    return TraceStats(**stats, family=guess_family(stats))


# --- the pieces, each usable on its own --------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _reuse_times(ids: np.ndarray, n_unique: int) -> np.ndarray:
    """i - (previous request to the same object), or -1 for first requests. O(n), one pass."""
    last = np.full(n_unique, -1, dtype=np.int64)
    out = np.empty(len(ids), dtype=np.int64)
    for i in range(len(ids)):
        x = ids[i]
        out[i] = -1 if last[x] < 0 else i - last[x]
        last[x] = i
    return out


def reuse_times(trace: Trace) -> np.ndarray:
    """Reuse time of every request (1 = back-to-back repeat), -1 for first requests."""
    return _reuse_times(trace.ids, trace.n_unique)


@numba.njit(cache=True, nogil=True)
def _log2_bins(values: np.ndarray) -> np.ndarray:
    counts = np.zeros(64, dtype=np.int64)
    top = 0
    for v in values:
        if v <= 0:
            continue
        b = 0
        while v >> (b + 1):
            b += 1
        counts[b] += 1
        top = max(top, b + 1)
    return counts[:top]


def log2_histogram(values: np.ndarray) -> list[int]:
    """Counts of positive integers by power of two: bin b holds [2**b, 2**(b+1)).

    Values <= 0 (the -1 of first requests) are skipped.
    """
    return _log2_bins(np.asarray(values, dtype=np.int64)).tolist()


def zipf_alpha(counts: np.ndarray) -> tuple[float, int]:
    """Popularity exponent alpha from request counts per object, and the ranks used (1..R).

    Least squares of log(frequency) on log(rank) over the head of the distribution; the range
    and the log-spaced sampling of ranks are documented at `ZIPF_TOP_FRACTION`.
    """
    freq = np.sort(np.asarray(counts))[::-1]
    freq = freq[freq > 0]
    top = max(10, math.ceil(ZIPF_TOP_FRACTION * len(freq)))
    fit_ranks = min(top, int((freq >= 2).sum()))
    if fit_ranks < 3:
        return 0.0, fit_ranks
    ranks = np.unique(np.geomspace(1, fit_ranks, ZIPF_FIT_POINTS).astype(np.int64))
    slope = np.polyfit(np.log(ranks), np.log(freq[ranks - 1]), 1)[0]
    return float(-slope), fit_ranks


def top_share(counts: np.ndarray, fraction: float) -> float:
    """Share of requests that go to the most popular `fraction` of objects (at least one)."""
    counts = np.asarray(counts)
    k = max(1, math.ceil(fraction * len(counts)))
    top = np.partition(counts, len(counts) - k)[len(counts) - k :]
    return float(top.sum() / counts.sum())


@numba.njit(cache=True, nogil=True)
def _window_firsts(reuse_time: np.ndarray, weight: np.ndarray, window: int) -> float:
    """Sum of weights of requests that are their object's first in their window."""
    total = 0.0
    for i in range(len(reuse_time) // window * window):
        t = reuse_time[i]
        if t < 0 or t > i % window:  # previous request falls before this window's start
            total += weight[i]
    return total


def working_set_sizes(reuse_time: np.ndarray, sizes: np.ndarray | None = None) -> dict[int, float]:
    """Mean distinct objects (or their bytes, given request sizes) per window of each length
    in `WORKING_SET_WINDOWS`, over the trace's full non-overlapping windows.

    A request is its object's first in the window iff its previous request falls before the
    window's start, so one pass over the reuse times counts every window.
    """
    weight = np.ones(len(reuse_time)) if sizes is None else sizes.astype(np.float64)
    windows = [w for w in WORKING_SET_WINDOWS if w <= len(reuse_time)]
    return {w: _window_firsts(reuse_time, weight, w) / (len(reuse_time) // w) for w in windows}


@numba.njit(cache=True, nogil=True)
def _sequential_requests(keys: np.ndarray, min_run: int) -> int:
    in_runs = 0
    run = 1  # requests in the current run of consecutive keys
    for i in range(1, len(keys) + 1):
        if i < len(keys) and keys[i] == keys[i - 1] + 1:
            run += 1
            continue
        if run >= min_run:
            in_runs += run
        run = 1
    return in_runs


def sequential_fraction(keys: np.ndarray, min_run: int = SEQUENTIAL_MIN_RUN) -> float:
    """Share of requests in runs of at least `min_run` requests to keys k, k+1, k+2, ..."""
    keys = np.asarray(keys, dtype=np.uint64)
    return _sequential_requests(keys, min_run) / len(keys) if len(keys) else 0.0


def guess_family(stats: dict) -> str:
    """A rough workload family from the statistics, checked in this order:

    - sequential_fraction >= 0.2: a fifth of requests in scans or loops over consecutive
      blocks -> "scan/loop-heavy block" (LRU-hostile; scan-resistant policies matter);
    - zipf_alpha >= 1.0 or top1_share >= 0.5: a small hot set dominates -> "highly skewed
      key-value" (small caches already do well). Checked before one-hit wonders because a
      short sample of any long-tailed Zipf has many of those too;
    - one_hit_object_fraction >= 0.4: most objects are never reused, the CDN/web signature
      (CDN traces report 50-70 %) -> "web/CDN: many one-hit wonders" (admission matters);
    - zipf_alpha >= 0.6 -> "skewed web/object";
    - otherwise -> "low-skew / low-locality" (every policy struggles; sizes near the footprint).
    """
    if stats["sequential_fraction"] >= 0.2:
        return "scan/loop-heavy block"
    if stats["zipf_alpha"] >= 1.0 or stats["top1_share"] >= 0.5:
        return "highly skewed key-value"
    if stats["one_hit_object_fraction"] >= 0.4:
        return "web/CDN: many one-hit wonders"
    if stats["zipf_alpha"] >= 0.6:
        return "skewed web/object"
    return "low-skew / low-locality"


def _object_sizes(trace: Trace, ids: np.ndarray, first: np.ndarray) -> dict:
    """Per-object size statistics, each object at the size of its first request."""
    if not trace.has_sizes:
        return dict(
            mean_object_size=None,
            median_object_size=None,
            max_object_size=None,
            footprint_bytes=None,
        )
    object_size = np.empty(trace.n_unique, dtype=np.int64)
    object_size[ids[first]] = trace.sizes[first]
    return dict(
        mean_object_size=float(object_size.mean()),
        median_object_size=float(np.median(object_size)),
        max_object_size=int(object_size.max()),
        footprint_bytes=int(object_size.sum()),
    )


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else float("nan")
