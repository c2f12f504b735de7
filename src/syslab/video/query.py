"""Queries over detections: is a class present, how many, where.

A query is written `KIND:CLASSES`: `count:car,truck,bus`, `presence:person`, `boxes:car`,
`presence:any` (every class). Class names are the detector's (COCO for every detector of
the lab, so one query runs on real and synthetic clips alike); matching ignores case, and
`_` stands for a space (`traffic_light`) so that queries need no quoting on a command line.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from syslab.common.errors import UserError

KINDS = ("presence", "count", "boxes")
ANY = "any"


@dataclass(frozen=True)
class Query:
    """What to answer per frame, over which classes (ids index the detector's class names)."""

    kind: str  # "presence" | "count" | "boxes"
    class_ids: frozenset[int]
    names: tuple[str, ...]
    text: str  # canonical `kind:name,name` (or `kind:any`)

    def __str__(self) -> str:
        return self.text

    @property
    def judged_as(self) -> str:
        """The kind its answers are scored as: a boxes query by its number of boxes."""
        return "count" if self.kind == "boxes" else self.kind

    @property
    def ids(self) -> np.ndarray:
        """The class ids as a sorted int array, for np.isin."""
        return np.array(sorted(self.class_ids), dtype=np.int64)


def parse_query(text: str, class_names: list[str]) -> Query:
    """`KIND:CLASS[,CLASS...]` -> Query; anything malformed raises a one-line UserError."""
    example = "e.g. count:car,truck,bus or presence:any"
    kind, sep, rest = str(text).strip().partition(":")
    kind = kind.strip().lower()
    if not sep:
        raise UserError(f"query {text!r} is not KIND:CLASSES ({example})")
    if kind not in KINDS:
        raise UserError(f"unknown query kind {kind!r} in {text!r}; choose from "
                        f"{', '.join(KINDS)}")
    wanted = [w.strip() for w in rest.split(",") if w.strip()]
    if not wanted:
        raise UserError(f"query {text!r} names no class ({example})")
    if any(w.lower() == ANY for w in wanted):
        ids = range(len(class_names))
        return Query(kind, frozenset(ids), tuple(class_names), f"{kind}:{ANY}")
    lookup = {name.lower(): i for i, name in enumerate(class_names)}
    ids: list[int] = []
    for word in wanted:
        key = word.lower().replace("_", " ")
        if key not in lookup:
            close = difflib.get_close_matches(key, list(lookup), n=3, cutoff=0.6)
            hint = (f"; did you mean {' or '.join(close)}?" if close
                    else f"; it is none of the {len(class_names)} class names")
            raise UserError(f"unknown class {word!r} in query {text!r}{hint}")
        if lookup[key] not in ids:  # keep the user's order, drop repeats
            ids.append(lookup[key])
    names = tuple(class_names[i] for i in ids)
    return Query(kind, frozenset(ids), names, f"{kind}:{','.join(names)}")


def _as_dets(dets: np.ndarray) -> np.ndarray:
    return np.asarray(dets, dtype=np.float32).reshape(-1, 6)


def _selected(query: Query, dets: np.ndarray, min_score: float) -> np.ndarray:
    return np.isin(dets[:, 5].astype(np.int64), query.ids) & (dets[:, 4] >= min_score)


def answer(query: Query, dets: np.ndarray, min_score: float = 0.0) -> int | bool | np.ndarray:
    """One frame's answer: count -> int, presence -> bool, boxes -> (k, 4) float32 x1 y1 x2 y2.

    Only detections of the query's classes with score >= `min_score` count.
    """
    dets = _as_dets(dets)
    keep = _selected(query, dets, min_score)
    if query.kind == "count":
        return int(keep.sum())
    if query.kind == "presence":
        return bool(keep.any())
    return dets[keep, :4].copy()


def counts(query: Query, dets_per_frame: Sequence[np.ndarray],
           min_score: float = 0.0) -> np.ndarray:
    """Per frame, how many detections fall in the query's classes (int64); presence is > 0.

    One pass over all frames' detections at once rather than a Python call per frame.
    """
    n = len(dets_per_frame)
    if n == 0:
        return np.zeros(0, np.int64)
    arrays = [_as_dets(d) for d in dets_per_frame]
    lengths = np.fromiter((len(a) for a in arrays), np.int64, count=n)
    frame = np.repeat(np.arange(n), lengths)
    every = np.concatenate(arrays)
    keep = _selected(query, every, min_score)
    return np.bincount(frame[keep], minlength=n).astype(np.int64)
