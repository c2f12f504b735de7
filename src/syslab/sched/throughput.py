"""Training throughput (steps/s) per job type × GPU type × GPU count, in Gavel's format.

Gavel's `simulation_throughputs.json` (and Shockwave's `tacc_throughputs.json`) map
`{gpu_type: {"('<job type>', <gpus>)": {"null": steps_per_s, ...}}}`; a GPU type
suffixed `_unconsolidated` holds the rate of a multi-GPU job spread one GPU per
server. Pairwise co-location entries (the non-"null" keys) are read and ignored:
this simulator does not space-share GPUs.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from syslab.common.errors import UserError

SPREAD_SUFFIX = "_unconsolidated"


class ThroughputTable:
    """Steps/s lookups; a missing or zero entry means the job cannot run there."""

    def __init__(self, rates: dict[tuple[str, bool], dict[tuple[str, int], float]], name: str = ""):
        # rates[(gpu_type, consolidated)][(job_type, gpus)] = steps/s
        self.rates = rates
        self.name = name
        self.gpu_types = sorted({t for t, _ in rates})
        self.job_types = sorted({jt for table in rates.values() for jt, _ in table})

    @classmethod
    def from_json(cls, path: str | Path) -> ThroughputTable:
        """Read a Gavel/Shockwave throughput file; a malformed one is a one-line UserError."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise UserError(f"{path}: not a readable throughput JSON file ({e})") from None
        if not isinstance(raw, dict) or not raw:
            raise UserError(f"{path}: expected {{gpu_type: {{\"('job type', gpus)\": ...}}}}")
        rates: dict[tuple[str, bool], dict[tuple[str, int], float]] = {}
        for worker, entries in raw.items():
            consolidated = not worker.endswith(SPREAD_SUFFIX)
            gpu_type = worker.removesuffix(SPREAD_SUFFIX).lower()
            if not isinstance(entries, dict):
                raise UserError(f"{path}: entry for {worker!r} is not an object")
            table = rates.setdefault((gpu_type, consolidated), {})
            for key, value in entries.items():
                try:
                    job_type, gpus = ast.literal_eval(key)
                    rate = float(value["null"]) if isinstance(value, dict) else float(value)
                except (ValueError, SyntaxError, TypeError, KeyError):
                    raise UserError(
                        f"{path}: {worker}: bad key or value {key!r} (want \"('type', gpus)\")"
                    ) from None
                table[(str(job_type), int(gpus))] = rate
        return cls(rates, name=path.stem)

    def rate(self, job_type: str, gpu_type: str, gpus: int, consolidated: bool = True) -> float:
        """Steps/s of `job_type` on `gpus` GPUs of `gpu_type`; 0.0 when it cannot run there.

        GPU counts the table lacks (3, 16, 64 ...) use the per-GPU rate interpolated
        between the nearest measured counts, and held at the largest one beyond it:
        linear scaling past the measured range is the optimistic, documented choice.
        """
        if gpus == 1:
            consolidated = True
        table = self.rates.get((gpu_type, consolidated))
        if table is None and not consolidated:
            table = self.rates.get((gpu_type, True))  # no spread table: no spread penalty
        if table is None:
            return 0.0
        exact = table.get((job_type, gpus))
        if exact is not None:
            return exact
        measured = sorted(g for jt, g in table if jt == job_type and table[(jt, g)] > 0)
        if not measured:
            return 0.0
        below = [g for g in measured if g < gpus]
        above = [g for g in measured if g > gpus]
        if not below:
            g = above[0]
            return table[(job_type, g)] / g * gpus
        lo = below[-1]
        per_lo = table[(job_type, lo)] / lo
        if not above:
            return per_lo * gpus
        hi = above[0]
        per_hi = table[(job_type, hi)] / hi
        per = per_lo + (per_hi - per_lo) * (gpus - lo) / (hi - lo)
        return per * gpus

    def has_job_type(self, job_type: str) -> bool:
        return job_type in self.job_types
