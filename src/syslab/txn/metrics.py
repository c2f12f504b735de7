"""What a run measured: throughput, goodput, aborts, latency percentiles, failure cascades.

Defined once here and used by the CLI, the benchmarks and the tour:

- `throughput`: transactions answered (committed or failed) per second of the run;
- `goodput`: committed transactions per second;
- `abort_rate`: failed / answered; `unknown`: indeterminate transactions (timeouts, lost
  connections) counted apart, never as commits;
- `cascade_rate`: of the failed transactions, the share that failed while an earlier one
  of the same client, issued before it and still in flight when it was issued, also
  failed: under suffix-closed failures (MDSS) one abort takes its in-flight successors
  with it, and this is how many it took;
- latency of committed transactions, p50 / p99 in ms; in request mode (fan-out) the
  request latency too, over requests whose transactions all committed.
"""

from __future__ import annotations

import numpy as np

from syslab.txn.history import FAIL, INFO, OK, History
from syslab.txn.runner import Run


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) * 1e3 if values else None


def cascaded_failures(history: History) -> int:
    """Failed transactions issued while an earlier failed one of the same client was in
    flight (see the module doc)."""
    n = 0
    for txns in history.by_client().values():
        failed = [t for t in txns if t.outcome == FAIL]
        for i, t in enumerate(failed):
            n += any(p.index < t.index and (p.complete is None or t.invoke < p.complete)
                     for p in failed[:i])
    return n


def summarize(run: Run, warmup: float = 0.0) -> dict:
    """The run's numbers (see the module doc); latencies in ms. With `warmup` seconds, only
    transactions (and requests) invoked after it count, over the rest of the run: every
    client fills its D slots at once at the start, and that first wave contends in a way
    the steady state does not. (The history keeps them all, for the checker.)"""
    h = History([t for t in run.history if t.invoke >= warmup], run.history.meta)
    ok = [t for t in h if t.outcome == OK]
    failed = sum(t.outcome == FAIL for t in h)
    unknown = sum(t.outcome == INFO for t in h)
    answered = len(ok) + failed
    wall = (run.wall_s - warmup) if run.wall_s > warmup else float("nan")
    lat = [t.complete - t.invoke for t in ok]
    out = {
        "txns": len(h), "committed": len(ok), "failed": failed, "unknown": unknown,
        "wall_s": run.wall_s, "warmup_s": warmup,
        "throughput": answered / wall, "goodput": len(ok) / wall,
        "abort_rate": failed / answered if answered else 0.0,
        "cascade_rate": cascaded_failures(h) / failed if failed else 0.0,
        "p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99),
    }
    requests = [r for r in run.requests if r.start >= warmup]
    if requests:
        req = [r.end - r.start for r in requests if r.ok]
        out |= {"requests": len(requests), "requests_ok": len(req),
                "request_p50_ms": _pct(req, 50), "request_p99_ms": _pct(req, 99),
                "request_goodput": len(req) / wall}
    return out


__all__ = ["cascaded_failures", "summarize"]
