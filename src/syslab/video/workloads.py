"""Clips to run on: the real ones in the shared data, and a synthetic generator."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from syslab.common.data import lab_data
from syslab.common.errors import UserError
from syslab.video.decode import write_video

# Synthetic objects are flat, saturated colours over a grey, textured background, one
# colour per class (BGR), so that the colour-blob detector can name them exactly.
OBJECT_COLOURS: dict[str, tuple[int, int, int]] = {
    "car": (40, 40, 220),  # red
    "truck": (220, 60, 40),  # blue
    "bus": (30, 200, 230),  # yellow
    "person": (60, 200, 60),  # green
}
CLASSES: tuple[str, ...] = tuple(OBJECT_COLOURS)

# ---------------------------------------------------------------------------------------
# Real clips


@dataclass(frozen=True)
class ClipSpec:
    """A real clip in the shared data and the query it is meant for."""

    name: str
    file: str  # in lab_data("video")
    query: str  # the default query, `syslab.video.query` syntax
    note: str = ""


CLIPS: dict[str, ClipSpec] = {
    spec.name: spec
    for spec in (
        ClipSpec("highway", "highway_bgslibrary_video02.avi", "count:car,truck,bus",
                 "fixed highway camera, 320x240 MPEG-4, 25 fps, ~1.8 vehicles per frame"),
        ClipSpec("person", "one-by-one-person-detection.mp4", "presence:person",
                 "indoor, people walk in one at a time and stand; ~24% of frames empty"),
        ClipSpec("car-overhead", "car-detection.mp4", "presence:any",
                 "overhead road view, ~70% of frames empty; COCO models call these cars "
                 "'cell phone', so only 'any object' queries make sense"),
    )
}


def resolve_clip(name_or_path: str | Path) -> Path:
    """The file of a known clip name (in the shared data), else `name_or_path` itself."""
    known = ", ".join(sorted(CLIPS))
    spec = CLIPS.get(str(name_or_path))
    if spec is not None:
        root = lab_data("video")
        if root is None or not (root / spec.file).is_file():
            raise UserError(f"clip {spec.name!r}: {spec.file} is not in the shared data "
                            "(set SYSLAB_DATA to the folder holding video/)")
        return root / spec.file
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    raise UserError(f"{name_or_path}: no such clip or file (known clips: {known})")


# ---------------------------------------------------------------------------------------
# Synthetic clips with exact ground truth

# Object sizes (w, h) at 640x360, scaled with the resolution.
SIZES: dict[str, tuple[int, int]] = {
    "car": (60, 30), "truck": (100, 40), "bus": (120, 45), "person": (18, 40),
}
VEHICLE_MIX = (("car", 0.6), ("truck", 0.2), ("bus", 0.2))
N_LANES = 7  # lanes 0 and 6 are sidewalks (persons), 1-5 roads (vehicles)
NOISE_SIGMA = 3.0  # sensor noise, brightness levels, shared by the three channels
CHROMA_SIGMA = 0.7  # a little independent noise per channel, kept low: see _background


def truth_path(video: Path | str) -> Path:
    """Where the ground truth of a generated clip lives: `<video>.truth.json`."""
    video = Path(video)
    return video.with_name(video.name + ".truth.json")


@dataclass
class SyntheticTruth:
    """Exact per-frame ground truth of a synthetic clip.

    One row per (frame, counted object): an object is counted while at least half of it
    is in the frame (and it is then always drawn); boxes are clipped to the frame, in
    pixels, x2 and y2 exclusive (numpy slicing: `img[y1:y2, x1:x2]`).
    """

    fps: float
    width: int
    height: int
    n_frames: int
    frame: np.ndarray  # (m,) int32, rows sorted by frame
    cls: np.ndarray  # (m,) int8, index into CLASSES
    obj: np.ndarray  # (m,) int32, object id (one per crossing)
    box: np.ndarray  # (m, 4) int32, x1 y1 x2 y2
    moving: np.ndarray  # (m,) bool, False while the object is stopped
    seed: int = 0
    objects: list[dict] = field(default_factory=list)  # the plan, for reading
    _starts: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return self.n_frames

    def count(self, classes: Iterable[str]) -> np.ndarray:
        """(n_frames,) int: counted objects of `classes` in each frame."""
        ids = [_class_id(c) for c in classes]
        mask = np.isin(self.cls, ids)
        return np.bincount(self.frame[mask], minlength=self.n_frames).astype(np.int64)

    def boxes(self, i: int) -> list[tuple[str, int, int, int, int]]:
        """The counted objects of frame `i` as (class, x1, y1, x2, y2)."""
        if self._starts is None:
            self._starts = np.searchsorted(self.frame, np.arange(self.n_frames + 1))
        lo, hi = self._starts[i], self._starts[i + 1]
        return [(CLASSES[c], *map(int, b)) for c, b in zip(self.cls[lo:hi], self.box[lo:hi],
                                                           strict=True)]

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        doc = {
            "format": "syslab.video.truth/1", "fps": self.fps, "width": self.width,
            "height": self.height, "n_frames": self.n_frames, "seed": self.seed,
            "classes": list(CLASSES), "frame": self.frame.tolist(), "cls": self.cls.tolist(),
            "obj": self.obj.tolist(), "box": self.box.tolist(),
            "moving": self.moving.astype(int).tolist(), "objects": self.objects,
        }
        path.write_text(json.dumps(doc, separators=(",", ":")))
        return path

    @classmethod
    def load(cls, path: Path | str) -> SyntheticTruth:
        path = Path(path)
        try:
            doc = json.loads(path.read_text())
            if not isinstance(doc, dict) or doc.get("format") != "syslab.video.truth/1" \
                    or doc["classes"] != list(CLASSES):
                raise ValueError("not a syslab.video.truth/1 file for these classes")
            m = len(doc["frame"])
            return cls(
                fps=float(doc["fps"]), width=int(doc["width"]), height=int(doc["height"]),
                n_frames=int(doc["n_frames"]), seed=int(doc["seed"]),
                frame=np.asarray(doc["frame"], np.int32),
                cls=np.asarray(doc["cls"], np.int8), obj=np.asarray(doc["obj"], np.int32),
                box=np.asarray(doc["box"], np.int32).reshape(m, 4),
                moving=np.asarray(doc["moving"], bool), objects=list(doc["objects"]),
            )
        except FileNotFoundError:
            raise UserError(f"{path}: no such ground-truth file") from None
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UserError(f"{path}: not a ground-truth file ({err})") from None


def find_truth(video: Path | str) -> SyntheticTruth | None:
    """The ground truth saved beside a generated clip, or None for other clips."""
    path = truth_path(video)
    return SyntheticTruth.load(path) if path.is_file() else None


def _class_id(name: str) -> int:
    try:
        return CLASSES.index(name)
    except ValueError:
        raise UserError(f"unknown object class {name!r} (known: {', '.join(CLASSES)})") from None


@dataclass
class _Object:
    """One crossing: enters at an edge, moves along its lane, may stop once, leaves."""

    ident: int
    cls: str
    lane: int
    rightward: bool
    y: int
    w: int
    h: int
    arrive: float  # s, the object is just outside the frame
    speed: float  # px/s
    stop_at: float  # travelled px where it stops (inf: never)
    stop_s: float  # how long it stands

    def exit_time(self, width: int) -> float:
        stop = self.stop_s if math.isfinite(self.stop_at) else 0.0
        return self.arrive + (width + self.w) / self.speed + stop

    def track(self, t: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Left edge x (int px) and moving flag at times `t`."""
        tt = t - self.arrive
        s = self.speed * tt
        moving = np.ones(t.shape, bool)
        if math.isfinite(self.stop_at):
            reach = self.stop_at / self.speed
            standing = (tt >= reach) & (tt < reach + self.stop_s)
            s = np.where(tt < reach, s, np.where(standing, self.stop_at,
                                                 self.speed * (tt - self.stop_s)))
            moving = ~standing
        x = s - self.w if self.rightward else width - s
        return np.floor(x + 0.5).astype(np.int64), moving

    def describe(self) -> dict:
        return {"id": self.ident, "class": self.cls, "lane": self.lane,
                "rightward": self.rightward, "arrive_s": round(self.arrive, 3),
                "speed_px_s": round(self.speed, 2),
                "stop_s": round(self.stop_s, 3) if math.isfinite(self.stop_at) else 0.0}


def _lanes(height: int) -> list[tuple[int, int]]:
    """(top, bottom) of each horizontal lane."""
    edges = [round(k * height / N_LANES) for k in range(N_LANES + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _plan(seconds: float, fps: float, width: int, height: int,
          rng: np.random.Generator) -> list[_Object]:
    """Idle stretches (nothing in view) alternating with bursts of crossings.

    A burst is a few seconds of arrivals (about one every 0.7 s), each into a lane whose
    previous object has left: one object per lane at a time and lanes never overlap, so
    objects never occlude each other and the counts are exact. A burst ends when its
    last object has left; only then does the next idle stretch start.
    """
    sx, sy = width / 640, height / 360
    lanes = _lanes(height)
    names, weights = zip(*VEHICLE_MIX, strict=True)
    objects: list[_Object] = []
    t = rng.uniform(0.5, 2.0)  # a short idle stretch first: short clips still see objects
    while t < seconds:
        burst_end = t + rng.uniform(2.0, 6.0)
        free_at = np.full(N_LANES, t)  # when each lane can take its next object
        end = arrive = t
        while arrive < burst_end:
            free = np.flatnonzero(free_at <= arrive)
            if not len(free):
                arrive = float(free_at.min())
                continue
            lane = int(rng.choice(free))
            if lane in (0, N_LANES - 1):
                name, speed = "person", rng.uniform(70, 120) * sx
            else:
                name = str(rng.choice(names, p=weights))
                speed = rng.uniform(110, 260) * sx
            top, bottom = lanes[lane]
            w0, h0 = SIZES[name]
            w = max(2, round(w0 * sx))
            h = max(2, min(round(h0 * sy), bottom - top - 2))
            slack = bottom - top - h
            y = top + slack // 2 + int(rng.integers(-(slack // 4), slack // 4 + 1))
            stops = rng.random() < 0.3
            # Stops happen fully in view: the object stands still, wholly visible.
            stop_at = w + rng.uniform(0.15, 0.85) * (width - w) if stops else math.inf
            obj = _Object(ident=len(objects), cls=name, lane=lane, rightward=lane % 2 == 0,
                          y=y, w=w, h=h, arrive=float(arrive), speed=float(speed),
                          stop_at=float(stop_at), stop_s=float(rng.uniform(1.5, 4.0)))
            objects.append(obj)
            free_at[lane] = obj.exit_time(width) + rng.uniform(0.2, 1.0)
            end = max(end, obj.exit_time(width))
            arrive += rng.exponential(0.7)
        t = end + rng.uniform(3.0, 7.0)  # idle: several seconds with nothing in view
    return objects


def _tracks(objects: list[_Object], n: int, fps: float, width: int):
    """Per object, the frames where it is drawn: (frames, x1, x2 clipped, counted, moving)."""
    for obj in objects:
        i0 = max(0, math.floor(obj.arrive * fps))
        i1 = min(n, math.ceil(obj.exit_time(width) * fps) + 1)
        if i0 >= i1:
            continue
        idx = np.arange(i0, i1)
        x, moving = obj.track(idx / fps, width)
        x1, x2 = np.clip(x, 0, width), np.clip(x + obj.w, 0, width)
        drawn = x2 > x1
        counted = 2 * (x2 - x1) >= obj.w  # at least half in view
        yield obj, idx[drawn], x1[drawn], x2[drawn], counted[drawn], moving[drawn]


def plan_truth(*, seconds: float = 40.0, fps: float = 15.0, width: int = 640,
               height: int = 360, seed: int = 0) -> SyntheticTruth:
    """The ground truth of the clip `generate` would write, without rendering it."""
    return _scene(seconds, fps, width, height, seed)[0]


def _scene(seconds: float, fps: float, width: int, height: int, seed: int):
    if not (seconds > 0 and fps > 0):
        raise UserError(f"synthetic clip: seconds and fps must be > 0 (got {seconds}, {fps})")
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise UserError(f"synthetic clip: size {width}x{height} must be even and >= 32x32")
    n = max(1, round(seconds * fps))
    objects = _plan(seconds, fps, width, height, np.random.default_rng([seed, 0]))
    rows, draws = [], []
    for obj, idx, x1, x2, counted, moving in _tracks(objects, n, fps, width):
        draws.append((obj, idx, x1, x2))
        c = counted
        m = int(c.sum())
        rows.append((idx[c], np.full(m, CLASSES.index(obj.cls)), np.full(m, obj.ident),
                     np.stack([x1[c], np.full(m, obj.y), x2[c], np.full(m, obj.y + obj.h)], 1),
                     moving[c]))
    if rows:
        frame, cls, obj_ids, box, moving = (np.concatenate(col) for col in zip(*rows,
                                                                              strict=True))
        order = np.lexsort((obj_ids, frame))
    else:
        frame = cls = obj_ids = moving = np.zeros(0, np.int64)
        box = np.zeros((0, 4), np.int64)
        order = np.zeros(0, np.int64)
    truth = SyntheticTruth(
        fps=float(fps), width=width, height=height, n_frames=n, seed=seed,
        frame=frame[order].astype(np.int32), cls=cls[order].astype(np.int8),
        obj=obj_ids[order].astype(np.int32), box=box[order].astype(np.int32).reshape(-1, 4),
        moving=moving[order].astype(bool), objects=[o.describe() for o in objects],
    )
    return truth, draws


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A static grey scene: smooth blotches, fine texture, dashed lane markings.

    Kept grey (saturation well under 60 of 255 in HSV, noise included): brightness stays
    in 80..200 and the colour tint and chroma noise are a few levels, so only the objects
    are saturated.
    """
    coarse = rng.uniform(95, 165, (max(2, height // 45), max(2, width // 45)))
    img = cv2.resize(coarse.astype(np.float32), (width, height),
                     interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0.0, 7.0, (max(2, height // 3), max(2, width // 3))).astype(np.float32)
    img += cv2.resize(fine, (width, height), interpolation=cv2.INTER_LINEAR)
    dash = max(4, width // 32)
    thick = max(1, height // 180)
    for top, _ in _lanes(height)[1:]:
        for x in range(int(rng.integers(0, 2 * dash)), width, 2 * dash):
            img[max(0, top - thick // 2): top + (thick + 1) // 2, x: x + dash] = 195.0
    img = np.clip(img, 80, 200)
    tint = rng.uniform(-2.5, 2.5, 3).astype(np.float32)
    return np.clip(img[:, :, None] + tint, 0, 255).round().astype(np.uint8)


def _noise_bank(width: int, height: int, rng: np.random.Generator, k: int = 6,
                pad: int = 32) -> np.ndarray:
    """(k, H+pad, W+pad, 3) uint8 noise around 128; a frame takes a shifted window.

    Drawing fresh Gaussian noise for every pixel of every frame costs ~10 ms a frame
    at 640x360; windows into a small bank are free and still differ frame to frame.
    """
    shape = (k, height + pad, width + pad)
    luma = rng.normal(0.0, NOISE_SIGMA, shape).astype(np.float32)
    chroma = rng.normal(0.0, CHROMA_SIGMA, (*shape, 3)).astype(np.float32)
    return np.clip(128.0 + luma[..., None] + chroma, 0, 255).round().astype(np.uint8)


def synthesize(*, seconds: float = 40.0, fps: float = 15.0, width: int = 640,
               height: int = 360, seed: int = 0) -> tuple[SyntheticTruth, Iterator[np.ndarray]]:
    """A synthetic clip's ground truth and its BGR frames (rendered lazily)."""
    truth, draws = _scene(seconds, fps, width, height, seed)
    return truth, _render(truth, draws, seed)


def _render(truth: SyntheticTruth, draws: list, seed: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng([seed, 1])
    w, h, fps = truth.width, truth.height, truth.fps
    background = _background(w, h, rng)
    bank = _noise_bank(w, h, rng)
    pad = bank.shape[1] - h
    # Slow brightness drift (clouds, auto exposure): +-7% over a 20-40 s period.
    period, phase = rng.uniform(20.0, 40.0), rng.uniform(0, 2 * math.pi)
    per_frame: list[list] = [[] for _ in range(truth.n_frames)]
    for obj, idx, x1, x2 in draws:
        for i, a, b in zip(idx.tolist(), x1.tolist(), x2.tolist(), strict=True):
            per_frame[i].append((a, obj.y, b, obj.y + obj.h, OBJECT_COLOURS[obj.cls]))
    picks = rng.integers(0, [bank.shape[0], pad, pad], size=(truth.n_frames, 3))
    for i in range(truth.n_frames):
        img = background.copy()
        for x1, y1, x2, y2, colour in per_frame[i]:
            img[y1:y2, x1:x2] = colour
        gain = 1.0 + 0.07 * math.sin(2 * math.pi * i / fps / period + phase)
        k, dy, dx = picks[i]
        noise = bank[k, dy:dy + h, dx:dx + w]
        # gain * img + (noise - 128), saturated to 0..255, in one pass.
        yield cv2.addWeighted(img, gain, noise, 1.0, -128.0)


def generate(path: Path | str, *, seconds: float = 40.0, fps: float = 15.0, width: int = 640,
             height: int = 360, seed: int = 0, codec: str = "libx264",
             gop: int | None = None) -> SyntheticTruth:
    """Write a synthetic clip to `path` and its ground truth to `truth_path(path)`.

    Deterministic for a seed. A keyframe every 2 s by default (`gop` frames otherwise),
    as IP cameras are usually set up.
    """
    path = Path(path)
    truth, images = synthesize(seconds=seconds, fps=fps, width=width, height=height,
                               seed=seed)
    gop = gop or max(1, round(2 * fps))
    write_video(path, images, fps, codec=codec, preset="veryfast", gop=gop)
    truth.save(truth_path(path))
    return truth
