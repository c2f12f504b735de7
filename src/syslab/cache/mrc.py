"""Miss-ratio curves: exact LRU curves from stack distances, and SHARDS approximations.

LRU is a stack algorithm (Mattson et al., 1970): a cache of c objects always holds the c most
recently used ones, so one pass that measures every request's *stack distance* gives the miss
ratio of every cache size at once.

Stack distance, as used throughout this module (1-based): the number of distinct objects
requested since the previous request to the same object, counting the object itself. The
request hits an LRU cache of c objects iff its distance is <= c. The first request to an object
(a cold miss) has distance `COLD` (-1). For keys [1, 2, 3, 1, 2, 3] the distances are
[-1, -1, -1, 3, 3, 3]; for [1, 1] they are [-1, 1].

The fast kernel is the Bennett-Kruskal / Olken method: a Fenwick tree over time positions
holds a 1 at the latest access of every object, so "distinct objects since time p" is a count
of marks after p, O(log n) per request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from syslab.cache.trace import Trace
from syslab.cache.workloads.sampling import hash_keys

#: Stack distance of a cold miss (first request to an object).
COLD = -1
#: Byte stack distance of a request that bypasses the cache (object larger than the capacity).
BYPASS = np.iinfo(np.int64).max

_TWO64 = 2.0**64


@dataclass(frozen=True, eq=False)
class MRC:
    """A miss-ratio curve: `miss_ratios[i]` at cache size `sizes[i]` (in `unit`)."""

    sizes: np.ndarray
    miss_ratios: np.ndarray
    label: str
    unit: str = "objects"

    def to_record(self) -> dict:
        """A JSON-ready dict (lists, not arrays)."""
        return {
            "label": self.label,
            "unit": self.unit,
            "sizes": [int(s) for s in self.sizes],
            "miss_ratios": [float(m) for m in self.miss_ratios],
        }


# --- Fenwick tree over time positions (1-based inside the tree) -------------------------------


@numba.njit(cache=True, inline="always")
def _add(tree: np.ndarray, pos: int, delta: int) -> None:
    n = len(tree)
    while pos < n:
        tree[pos] += delta
        pos += pos & -pos


@numba.njit(cache=True, inline="always")
def _prefix(tree: np.ndarray, pos: int) -> int:
    total = 0
    while pos > 0:
        total += tree[pos]
        pos -= pos & -pos
    return total


# --- object stack distances -------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _stack_distances(ids: np.ndarray, n_unique: int) -> np.ndarray:
    n = len(ids)
    tree = np.zeros(n + 1, dtype=np.int32)  # 1 at time i+1 if request i is its object's latest
    last = np.full(n_unique, -1, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    marked = 0  # distinct objects seen so far = marks in the tree
    for i in range(n):
        x = ids[i]
        p = last[x]
        if p < 0:
            out[i] = -1
            marked += 1
        else:
            # marks after p are the distinct other objects touched since; +1 for x itself
            out[i] = marked - _prefix(tree, p + 1) + 1
            _add(tree, p + 1, -1)
        _add(tree, i + 1, 1)
        last[x] = i
    return out


def stack_distances(trace: Trace) -> np.ndarray:
    """LRU stack distance of every request (1-based, `COLD` = -1 for first requests).

    O(n log n) time, O(n) memory: about a second per 10 M requests.
    """
    return _stack_distances(trace.ids, trace.n_unique)


def stack_distances_reference(keys: list | np.ndarray) -> list[int]:
    """The readable O(n * d) version: keep the LRU stack as a list, most recent first."""
    stack: list = []
    out = []
    for key in list(keys):
        if key in stack:
            depth = stack.index(key)
            out.append(depth + 1)
            del stack[depth]
        else:
            out.append(COLD)
        stack.insert(0, key)
    return out


# --- exact object and byte MRCs ---------------------------------------------------------------


def lru_mrc(trace: Trace, sizes: np.ndarray | list[int]) -> np.ndarray:
    """Exact LRU miss ratio at each cache size (in objects), from one stack-distance pass.

    Equals `simulate(trace, "lru", size).miss_ratio` for every positive integer size.
    """
    return _object_mrc(stack_distances(trace), sizes)


def _object_mrc(distances: np.ndarray, sizes: np.ndarray | list[int]) -> np.ndarray:
    sizes = np.asarray(sizes)
    # hits_at[c] = requests with 1 <= distance <= c: a cumulative histogram of distances
    hist = np.bincount(distances[distances > 0], minlength=1)
    hits_at = np.cumsum(hist)
    index = np.clip(np.floor(sizes).astype(np.int64), 0, len(hits_at) - 1)
    hits = np.where(sizes >= 1, hits_at[index], 0)
    return 1.0 - hits / len(distances)


@numba.njit(cache=True, nogil=True)
def _byte_distances(ids: np.ndarray, sizes: np.ndarray, n_unique: int, limit: int) -> np.ndarray:
    n = len(ids)
    tree = np.zeros(n + 1, dtype=np.int64)  # an object's size at the time of its latest access
    last = np.full(n_unique, -1, dtype=np.int64)
    weight = np.zeros(n_unique, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    total = 0  # bytes of all objects in the stack
    for i in range(n):
        x = ids[i]
        s = sizes[i]
        p = last[x]
        above = 0
        if p >= 0:
            above = total - _prefix(tree, p + 1)  # bytes of distinct objects touched since
            _add(tree, p + 1, -weight[x])
            total -= weight[x]
            last[x] = -1
        if s > limit:  # never admitted, so it neither hits nor pushes others down
            out[i] = BYPASS
            continue
        out[i] = -1 if p < 0 else above + s
        _add(tree, i + 1, s)
        total += s
        last[x] = i
        weight[x] = s
    return out


def byte_stack_distances(trace: Trace, limit: int | None = None) -> np.ndarray:
    """Byte stack distance of every request: the bytes of the distinct objects requested since
    the previous request to the same object, plus the object's current size.

    Objects larger than `limit` bytes (default: never) bypass: they get `BYPASS` and stay out of
    the stack, because an LRU cache of `limit` bytes never admits them.
    """
    if not trace.has_sizes:
        return stack_distances(trace)
    limit = BYPASS if limit is None else int(limit)
    return _byte_distances(trace.ids, trace.sizes, trace.n_unique, limit)


def lru_byte_mrc(trace: Trace, capacities_bytes: np.ndarray | list[int]) -> np.ndarray:
    """LRU miss ratio (of requests, not bytes) at each capacity in bytes.

    A request hits an LRU byte cache of C bytes iff its byte stack distance is <= C: the cache
    always holds the longest run of most-recent objects that fits. That is exact when every key
    keeps one size (tested against `simulate(..., use_bytes=True)`). Objects larger than C are
    never admitted and must not count towards others' distances, so each capacity below the
    largest object gets its own pass (one pass serves all larger capacities).

    When a key's size changes, this is an approximation: LRU byte caching is then not a stack
    algorithm. Each object is counted at its latest size, while the simulator keeps the size it
    admitted the object with (a hit does not change the stored size).
    """
    capacities = np.asarray(capacities_bytes, dtype=np.int64)
    max_size = int(trace.unit_sizes.max())
    misses = np.empty(len(capacities), dtype=np.float64)
    large = capacities >= max_size
    if large.any():
        misses[large] = _miss_ratios(byte_stack_distances(trace), capacities[large])
    for c in np.unique(capacities[~large]):
        misses[capacities == c] = _miss_ratios(byte_stack_distances(trace, int(c)), [c])
    return misses


def _miss_ratios(distances: np.ndarray, capacities: np.ndarray | list[int]) -> np.ndarray:
    """Miss ratio at each capacity for arbitrary (large, sparse) distances."""
    reused = np.sort(distances[(distances > 0) & (distances != BYPASS)])
    hits = np.searchsorted(reused, np.asarray(capacities), side="right")
    return 1.0 - hits / len(distances)


# --- SHARDS -----------------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _sift_down(heap_h: np.ndarray, heap_x: np.ndarray, size: int, i: int) -> None:
    while True:
        big = i
        for child in (2 * i + 1, 2 * i + 2):
            if child < size and heap_h[child] > heap_h[big]:
                big = child
        if big == i:
            return
        heap_h[i], heap_h[big] = heap_h[big], heap_h[i]
        heap_x[i], heap_x[big] = heap_x[big], heap_x[i]
        i = big


@numba.njit(cache=True, inline="always")
def _sift_up(heap_h: np.ndarray, heap_x: np.ndarray, i: int) -> None:
    while i > 0:
        parent = (i - 1) // 2
        if heap_h[parent] >= heap_h[i]:
            return
        heap_h[i], heap_h[parent] = heap_h[parent], heap_h[i]
        heap_x[i], heap_x[parent] = heap_x[parent], heap_x[i]
        i = parent


@numba.njit(cache=True, nogil=True)
def _shards_fixed_size(
    ids: np.ndarray,
    hashes: np.ndarray,
    threshold: np.uint64,
    rate0: float,
    s_max: int,
    n_unique: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Stack distances of the sampled requests, keeping at most s_max sampled objects.

    When a new object would make s_max + 1, the one with the largest hash leaves the sample and
    the threshold drops to its hash (SHARDS with fixed memory). Returns each sampled request's
    distance and the sampling rate it was taken at.
    """
    n = len(ids)
    tree = np.zeros(n + 1, dtype=np.int32)
    last = np.full(n_unique, -1, dtype=np.int64)
    heap_h = np.empty(s_max + 1, dtype=np.uint64)  # max-heap of the sampled objects by hash
    heap_x = np.empty(s_max + 1, dtype=np.int64)
    size = 0
    dist = np.empty(n, dtype=np.int64)
    rate = np.empty(n, dtype=np.float64)
    m = 0
    marked = 0
    t = threshold
    r = rate0  # exactly the asked rate until the first drop
    for i in range(n):
        h = hashes[i]
        if h >= t:
            continue
        x = ids[i]
        rate[m] = r
        p = last[x]
        if p >= 0:
            dist[m] = marked - _prefix(tree, p + 1) + 1
            _add(tree, p + 1, -1)
        else:
            dist[m] = -1
            marked += 1
            heap_h[size] = h
            heap_x[size] = x
            _sift_up(heap_h, heap_x, size)
            size += 1
        m += 1
        _add(tree, i + 1, 1)
        last[x] = i
        # over budget: drop the largest-hash objects (ties leave together) and lower the bar
        if size > s_max:
            t = heap_h[0]
            r = float(t) / _TWO64
            while size > 0 and heap_h[0] >= t:
                y = heap_x[0]
                _add(tree, last[y] + 1, -1)
                last[y] = -1
                marked -= 1
                size -= 1
                heap_h[0] = heap_h[size]
                heap_x[0] = heap_x[size]
                _sift_down(heap_h, heap_x, size, 0)
    return dist[:m], rate[:m]


def _threshold(rate: float) -> np.uint64:
    """Hashes below this are sampled: a `rate` share of the 64-bit hash space."""
    if not 0 < rate <= 1:
        raise ValueError(f"sampling rate must be in (0, 1], got {rate}")
    return np.uint64(min(rate * _TWO64, _TWO64 - 2048))  # stay below 2**64 after float rounding


def shards_distances(
    trace: Trace, rate: float = 0.01, *, seed: int = 0, fixed_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sampled stack distances and the rate each was sampled at (see `shards_mrc`)."""
    hashes = hash_keys(trace.keys, seed)
    t = _threshold(rate)
    sampled = hashes < t
    ids = trace.ids[sampled]
    if fixed_size is None:
        dist = _stack_distances(ids, trace.n_unique)
        return dist, np.full(len(dist), float(rate))
    if fixed_size < 1:
        raise ValueError(f"fixed_size must be positive, got {fixed_size}")
    return _shards_fixed_size(ids, hashes[sampled], t, float(rate), int(fixed_size), trace.n_unique)


def shards_mrc(
    trace: Trace,
    sizes: np.ndarray | list[int],
    rate: float = 0.01,
    *,
    seed: int = 0,
    fixed_size: int | None = None,
) -> np.ndarray:
    """Approximate LRU miss ratios with SHARDS (Waldspurger et al., FAST'15).

    Spatial sampling: a key is sampled iff hash(key) < rate * 2**64, so every request to a
    sampled key is kept and its reuse pattern survives; a sampled distance d stands for d / rate
    objects. Sizes below 1 / rate cannot be resolved (the first reuse lands at 1 / rate).
    With `fixed_size` (SHARDS with bounded memory, s_max), at most that many distinct keys are
    tracked: when one more arrives, the key with the largest hash leaves and the threshold drops
    to its hash. Distances then scale by the rate in force and each sampled request weighs
    1 / rate, which is the paper's rescaling of the histogram when the rate drops.

    SHARDS_adj: a few hot keys make the sampled request count deviate from rate * n. The paper
    adds the difference to the first histogram bucket (distance 0: hits at every size) before
    normalising by the expected count. Equivalently, as done here, the weighted misses are
    divided by the true request count n instead of by the weighted sampled count.
    """
    dist, rates = shards_distances(trace, rate, seed=seed, fixed_size=fixed_size)
    sizes = np.asarray(sizes, dtype=np.float64)
    if len(dist) == 0:  # nothing sampled: no evidence, report all misses
        return np.ones(len(sizes))
    weight = 1.0 / rates
    scaled = np.where(dist > 0, dist / rates, np.inf)
    order = np.argsort(scaled, kind="stable")
    hit_weight = np.concatenate(([0.0], np.cumsum(weight[order])))
    hits = hit_weight[np.searchsorted(scaled[order], sizes, side="right")]
    misses = (weight.sum() - hits) / len(trace)
    return np.clip(misses, 0.0, 1.0)


# --- one entry point that labels its result ---------------------------------------------------


def miss_ratio_curve(
    trace: Trace,
    sizes: np.ndarray | list[int],
    *,
    method: str = "exact",
    use_bytes: bool = False,
    rate: float = 0.01,
    seed: int = 0,
    fixed_size: int | None = None,
) -> MRC:
    """An LRU `MRC` over `sizes`: exact ("exact") or sampled ("shards", object sizes only)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    unit = "bytes" if use_bytes else "objects"
    if method == "exact":
        ratios = lru_byte_mrc(trace, sizes) if use_bytes else lru_mrc(trace, sizes)
        label = f"lru exact ({unit})"
    elif method == "shards":
        if use_bytes:
            raise ValueError("SHARDS is implemented for object-count caches only")
        ratios = shards_mrc(trace, sizes, rate, seed=seed, fixed_size=fixed_size)
        bound = "" if fixed_size is None else f", s_max={fixed_size}"
        label = f"lru shards (rate={rate:g}{bound})"
    else:
        raise ValueError(f"unknown MRC method {method!r}: use 'exact' or 'shards'")
    return MRC(sizes=sizes, miss_ratios=ratios, label=label, unit=unit)
