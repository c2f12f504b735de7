"""Frame filters, one small file each, behind `base.Filter`.

Names: `all` (every frame: the reference pipeline), `uniform`, `diff-<feature>` (pixel,
mse, area, edge, corner, hist), `adaptive` (Reducto, pixel feature; `adaptive-<feature>`
for another), `empty`, `cascade`, `ours`; `<name>+gap` wraps any of them in the max-gap
guard (2 s).
"""

from __future__ import annotations

from syslab.common.errors import UserError
from syslab.video.features import FEATURES
from syslab.video.filters.adaptive import Adaptive
from syslab.video.filters.base import Decision, Filter, Profile
from syslab.video.filters.cascade import Cascade
from syslab.video.filters.closed_loop import ClosedLoop
from syslab.video.filters.difference import Difference
from syslab.video.filters.empty import EmptyScene
from syslab.video.filters.max_gap import MaxGap
from syslab.video.filters.uniform import Uniform

GAP_SUFFIX = "+gap"


def filter_names() -> list[str]:
    return (["all", "uniform"] + [f"diff-{f}" for f in FEATURES] + ["adaptive", "empty", "cascade",
                                                             "ours"])


# Names built from other filters describe themselves here, not by their outer part.
_COMPOSED = {
    "all": "every frame (the reference pipeline)",
    "cascade": "NoScope: difference detectors against the learned empty scene and the last "
               "frame checked, then a tiny CNN trained on the profile",
}


def filter_description(name: str) -> str:
    """One line on what filter `name` does, for listings."""
    return _COMPOSED.get(name) or make_filter(name).description


def make_filter(name: str) -> Filter:
    """A fresh filter for `name` (filters keep state across one run)."""
    base = name.removesuffix(GAP_SUFFIX)
    if base == "all":
        flt: Filter = Uniform(1)
    elif base == "uniform":
        flt = Uniform()
    elif base.startswith("diff-"):
        flt = Difference(base.removeprefix("diff-"))
    elif base == "adaptive" or base.startswith("adaptive-"):
        feature = base.removeprefix("adaptive").removeprefix("-") or "pixel"
        if feature not in FEATURES:
            raise UserError(f"unknown difference feature {feature!r} "
                            f"(one of {', '.join(FEATURES)})")
        flt = Adaptive(feature)
    elif base == "empty":
        flt = EmptyScene()
    elif base == "cascade":
        # NoScope's two difference detectors: against the empty scene, then the CNN's own
        # against the last frame it checked
        flt = EmptyScene(inner=Cascade())
    elif base == "ours":
        flt = ClosedLoop()
    else:
        raise UserError(f"unknown filter {name!r} (one of {', '.join(filter_names())}; "
                        f"add {GAP_SUFFIX!r} for the max-gap guard)")
    return MaxGap(flt) if name.endswith(GAP_SUFFIX) else flt


__all__ = ["Decision", "Filter", "Profile", "filter_description", "filter_names",
           "make_filter"]
