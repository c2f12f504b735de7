"""Object detectors: the reference models (Yolo-Fastest, FastestDet) and a colour-blob detector.

Every detector maps a BGR frame (H x W x 3, uint8) to detections: a float32 array of shape
(k, 6) holding x1, y1, x2, y2 (pixels of the input frame), score and class id, the class id
being an index into the 80 COCO names (`COCO_NAMES`, the order of the models' coco.names).
The colour-blob detector reports COCO ids too, so one query runs unchanged on real clips and
on synthetic ones.

Models are data, never part of the project: they are looked up in the lab's data folder
(`syslab.common.data.lab_data("video") / "models"`), and `MODEL_FILES` says where each file
comes from (`syslab video models` prints it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from syslab.common.data import data_root, lab_data
from syslab.common.errors import UserError

# The 80 COCO names in the order of the models' coco.names (Darknet spellings: "motorbike",
# "aeroplane", "sofa", ...). Built in so that queries and the blob detector work without data.
COCO_NAMES: list[str] = [
    "person", "bicycle", "car", "motorbike", "aeroplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "sofa", "pottedplant", "bed", "diningtable", "toilet", "tvmonitor", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator",
    "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
]

EMPTY = np.zeros((0, 6), np.float32)


# --- where the models live ------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFile:
    """One model file: its name in the models folder and where it was copied from."""

    file: str
    source: str  # GitHub repo @ commit
    path: str  # path inside that repository
    licence: str
    sha256: str


_YF = ("dog-qiuqiu/Yolo-Fastest @ 96a2900d", "ModelZoo/yolo-fastest-1.1_coco/",
       "Darknet YOLO LICENSE (public domain)")
_FD = ("dog-qiuqiu/FastestDet @ 50473cd1", "BSD-3-Clause, (c) 2022 xuehao.ma")

# Per detector, the files it needs (provenance and sha256 as in the shared data's README).
MODEL_FILES: dict[str, list[ModelFile]] = {
    "yolo-fastest-xl": [
        ModelFile("yolo-fastest-1.1-xl.cfg", _YF[0], _YF[1] + "yolo-fastest-1.1-xl.cfg", _YF[2],
                  "c458427acc4fbeabceff4528ef7b65b066c0308ce599460f8ba299eba63abad3"),
        ModelFile("yolo-fastest-1.1-xl.weights", _YF[0], _YF[1] + "yolo-fastest-1.1-xl.weights",
                  _YF[2], "fac5fb41786c1f38f04972a658443b189f48720d7d117f9a044100e98a35b0c5"),
    ],
    "yolo-fastest": [
        ModelFile("yolo-fastest-1.1.cfg", _YF[0], _YF[1] + "yolo-fastest-1.1.cfg", _YF[2],
                  "f6df5775c1e862998cf69046eba9265be3ae84dfe8b2caab7529823f0795bf70"),
        ModelFile("yolo-fastest-1.1.weights", _YF[0], _YF[1] + "yolo-fastest-1.1.weights",
                  _YF[2], "1c445c42bbd6df63edea2cc69f99667b5650d663ca11e34b116240740cd42890"),
    ],
    "fastestdet": [
        ModelFile("FastestDet.onnx", _FD[0], "example/onnx-runtime/FastestDet.onnx", _FD[1],
                  "31cb14c017fce347cb4c846ec62fdf00d76bb3beecdf4be21e7116ac67feb880"),
    ],
    "blobs": [],
}
# The class names the models were trained with; `COCO_NAMES` is the same list, built in.
NAMES_FILE = ModelFile("coco.names", _FD[0], "configs/coco.names", _FD[1],
                       "634a1132eb33f8091d60f2c346ababe8b905ae08387037aed883953b7329af84")


def models_dir() -> Path:
    """The folder model lookup uses: `<data root>/video/models` (it may not exist yet)."""
    found = lab_data("video")
    if found is not None:
        return found / "models"
    root = data_root()
    # Without any data root, the place a fresh checkout looks first: ../shared/data.
    base = root if root is not None else Path.cwd().parent / "shared" / "data"
    return base / "video" / "models"


def _model_path(models: Path | None, file: str) -> Path:
    path = Path(models if models is not None else models_dir()) / file
    if not path.is_file():
        raise UserError(f"model file {path} is missing; see `syslab video models`")
    return path


def _single_thread() -> None:
    # The lab runs on a shared 2-core machine and measures CPU time per frame: one core per
    # process keeps runs comparable and lets two processes (camera, server) run side by side
    # instead of fighting over threads. cv2's setting is process-wide.
    cv2.setNumThreads(1)


# --- the interface --------------------------------------------------------------------------


class Detector(ABC):
    """A frame -> detections function with a name and the class names its ids index."""

    name: str
    classes: list[str] = COCO_NAMES

    @abstractmethod
    def detect(self, bgr: np.ndarray) -> np.ndarray:
        """Detections (k, 6) float32: x1, y1, x2, y2, score, class id."""

    @property
    def signature(self) -> str:
        """Name plus every setting that changes the output: keys cached reference runs."""
        return self.name


def _check_frame(bgr: np.ndarray) -> tuple[int, int]:
    if not isinstance(bgr, np.ndarray) or bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.size == 0:
        shape = getattr(bgr, "shape", type(bgr).__name__)
        raise UserError(f"a detector needs an H x W x 3 BGR frame, got {shape}")
    return bgr.shape[0], bgr.shape[1]


def _nms(boxes: np.ndarray, scores: np.ndarray, cls: np.ndarray, conf: float,
         nms: float) -> np.ndarray:
    """Per-class NMS of candidate boxes (x1, y1, x2, y2) into the (k, 6) detection array."""
    if len(scores) == 0:
        return EMPTY.copy()
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
    # Batched = per class: a car box never suppresses an overlapping person box.
    keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), cls.tolist(), conf, nms)
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    return np.column_stack([boxes[keep], scores[keep], cls[keep]]).astype(np.float32)


def _clip(boxes: np.ndarray, w: int, h: int) -> np.ndarray:
    np.clip(boxes[:, 0::2], 0, w, out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, h, out=boxes[:, 1::2])
    return boxes


# --- Yolo-Fastest through cv2.dnn -----------------------------------------------------------


def _darknet_weight_count(net: cv2.dnn.Net) -> int:
    # Every learned value in the .weights file ends up in some layer's blobs; the Region
    # (yolo) layers' blobs are the anchors from the .cfg, not from the weights.
    total = 0
    for name in net.getLayerNames():
        layer = net.getLayer(name)
        if layer.type != "Region":
            total += sum(int(b.size) for b in layer.blobs)
    return total


def _read_darknet(cfg: Path, weights: Path) -> cv2.dnn.Net:
    try:
        net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    except cv2.error as exc:
        raise UserError(f"cannot load Darknet model {cfg.name} + {weights.name}: "
                        f"not a valid model ({_last_line(exc)})") from None
    if net.empty():
        raise UserError(f"cannot load Darknet model {cfg.name} + {weights.name}: empty network")
    # cv2 loads a truncated .weights file without complaint (the rest is garbage), so check
    # its size: a header (major, minor, revision, then `seen` as int64 from format 0.2 on,
    # int32 before) followed by one float32 per learned value.
    head = np.fromfile(weights, dtype=np.int32, count=3)
    header = 20 if len(head) == 3 and head[0] * 10 + head[1] >= 2 else 16
    expected = header + 4 * _darknet_weight_count(net)
    size = weights.stat().st_size
    if size != expected:
        raise UserError(f"model file {weights} is corrupt: {size:,} bytes, {cfg.name} needs "
                        f"{expected:,}; see `syslab video models`")
    return net


def _last_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else type(exc).__name__


class YoloFastest(Detector):
    """Yolo-Fastest 1.1 (mAP@0.5 24.4%) or 1.1-XL (34.3%, the lab's reference) via cv2.dnn.

    conf 0.25 and NMS IoU 0.45 are Darknet's own `detector test` defaults, which the models'
    published mAP and demo pictures were made with; the score is cv2's class score, i.e.
    objectness x class probability, as Darknet reports it.
    """

    VARIANTS = {"1.1-xl": "yolo-fastest-xl", "1.1": "yolo-fastest"}
    SIZE = 320

    def __init__(self, variant: str = "1.1-xl", models: Path | None = None,
                 conf: float = 0.25, nms: float = 0.45) -> None:
        if variant not in self.VARIANTS:
            raise UserError(f"unknown Yolo-Fastest variant {variant!r}; "
                            f"choose from {', '.join(self.VARIANTS)}")
        self.name = self.VARIANTS[variant]
        self.variant, self.conf, self.nms = variant, float(conf), float(nms)
        stem = f"yolo-fastest-{variant}"
        cfg = _model_path(models, stem + ".cfg")
        weights = _model_path(models, stem + ".weights")
        _single_thread()
        self.net = _read_darknet(cfg, weights)
        self.outputs = self.net.getUnconnectedOutLayersNames()

    @property
    def signature(self) -> str:
        return f"{self.name} conf={self.conf:g} nms={self.nms:g} size={self.SIZE}"

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        h, w = _check_frame(bgr)
        # Darknet trains on RGB images scaled to [0, 1], stretched (no letterbox) to 320x320.
        blob = cv2.dnn.blobFromImage(bgr, 1 / 255, (self.SIZE, self.SIZE), swapRB=True,
                                     crop=False)
        self.net.setInput(blob)
        out = np.concatenate(self.net.forward(self.outputs))  # (n, 85): cx cy w h obj cls...
        class_scores = out[:, 5:]
        cls = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(out)), cls]
        sel = scores >= self.conf
        out, cls, scores = out[sel], cls[sel], scores[sel]
        cx, cy, bw, bh = out[:, 0] * w, out[:, 1] * h, out[:, 2] * w, out[:, 3] * h
        boxes = np.column_stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
        return _nms(_clip(boxes, w, h), scores, cls, self.conf, self.nms)


# --- FastestDet through onnxruntime ---------------------------------------------------------


class FastestDet(Detector):
    """FastestDet (ShuffleNetV2 backbone, one 22x22 anchor-free head), COCO-80, via onnxruntime.

    Each head cell holds objectness (sigmoid applied), tx, ty (centre offsets, tanh), w, h
    (sigmoid, relative to the frame) and 80 softmaxed class scores; score = obj^0.6 * cls^0.4
    as in the FastestDet repository. conf 0.65 is that repository's own test default: this
    score runs much higher than YOLO's obj x cls, and at 0.3 video02 frames keep ~18 boxes
    each (mostly "train" and fragments), at 0.65 ~3. NMS IoU 0.45 as there.
    """

    name = "fastestdet"
    SIZE = 352

    def __init__(self, models: Path | None = None, conf: float = 0.65,
                 nms: float = 0.45) -> None:
        import onnxruntime as ort

        self.conf, self.nms = float(conf), float(nms)
        path = _model_path(models, "FastestDet.onnx")
        opts = ort.SessionOptions()
        # One core per process on the shared machine (see _single_thread); 2 intra-op
        # threads measured slower than 1 here under load (research/video.md §2).
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own pybind error types
            raise UserError(f"model file {path} is corrupt: not a loadable ONNX model "
                            f"({_last_line(exc)}); see `syslab video models`") from None
        self.input = self.session.get_inputs()[0].name
        _single_thread()  # the resize runs in cv2

    @property
    def signature(self) -> str:
        return f"{self.name} conf={self.conf:g} nms={self.nms:g} size={self.SIZE}"

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        h, w = _check_frame(bgr)
        # The ONNX export takes BGR in [0, 1], stretched to 352x352, NCHW.
        img = cv2.resize(bgr, (self.SIZE, self.SIZE), interpolation=cv2.INTER_LINEAR)
        x = (img.transpose(2, 0, 1)[None].astype(np.float32)) * np.float32(1 / 255)
        fmap = self.session.run(None, {self.input: x})[0][0]  # (85, gh, gw)
        gh, gw = fmap.shape[1:]
        cls_scores = fmap[5:]
        cls = cls_scores.argmax(axis=0)
        best = np.take_along_axis(cls_scores, cls[None], axis=0)[0]
        scores = np.power(fmap[0], 0.6) * np.power(best, 0.4)
        gy, gx = np.nonzero(scores > self.conf)
        if len(gy) == 0:
            return EMPTY.copy()
        tx, ty, tw, th = (fmap[i, gy, gx] for i in range(1, 5))
        cx = (gx + np.tanh(tx)) / gw * w
        cy = (gy + np.tanh(ty)) / gh * h
        bw, bh = _sigmoid(tw) * w, _sigmoid(th) * h
        boxes = np.column_stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
        return _nms(_clip(boxes, w, h), scores[gy, gx], cls[gy, gx], self.conf, self.nms)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --- colour blobs, for synthetic clips ------------------------------------------------------


class ColourBlobDetector(Detector):
    """Saturated flat-colour rectangles over a grey background: the synthetic clips' objects.

    A pixel is "coloured" when its chroma (max - min channel) is high: HSV saturation would
    also fire on dark grey noise (S = chroma / V blows up as V -> 0). Each coloured pixel gets
    the palette class of nearest hue, so touching objects of different classes stay apart;
    per class, a morphological open removes noise specks and JPEG ringing, and connected
    components with at least `min_area` pixels become boxes. A 3x3 blur first averages the
    sensor noise down and evens out JPEG's 8x8 blocks and 2x2 chroma subsampling.

    min_chroma 80: after the blur a rectangle's edge pixels keep 2/3 of its colour and the
    pixels just outside get 1/3; the palette's chromas are 140-200, so edges stay (>= 93)
    and the outside ring drops (<= 67) and boxes come out exact, while grey noise, even of
    sigma 15 per channel, stays far below. min_area 40 drops specks that survive the open.

    Objects cut by the frame's edge follow the synthetic ground truth's rule: an object
    counts while at least half of it is in view. With `sizes` (class -> full (w, h) at a
    frame `size_width` pixels wide; default: the generator's `SIZES` at 640), a blob that
    touches the left or right edge is reported only when it spans at least half its class's
    width at this frame's scale (top/bottom edges: half its height). `sizes={}` reports
    every blob.
    """

    name = "blobs"

    def __init__(self, palette: dict[str, tuple[int, int, int]] | None = None, *,
                 min_chroma: int = 80, min_area: int = 40,
                 sizes: dict[str, tuple[int, int]] | None = None,
                 size_width: int = 640) -> None:
        if palette is None:
            from syslab.video.workloads import OBJECT_COLOURS

            palette = OBJECT_COLOURS
        if sizes is None:
            from syslab.video.workloads import SIZES  # "(w, h) at 640x360"

            sizes, size_width = SIZES, 640
        unknown = [n for n in palette if n not in COCO_NAMES]
        if unknown:
            raise UserError(f"palette class {unknown[0]!r} is not a COCO class name")
        self.palette = dict(palette)
        self.min_chroma, self.min_area = int(min_chroma), int(min_area)
        self.ids = np.array([COCO_NAMES.index(n) for n in self.palette], np.float32)
        colours = np.array(list(self.palette.values()), np.uint8).reshape(-1, 1, 3)
        hues = cv2.cvtColor(colours, cv2.COLOR_BGR2HSV)[:, 0, 0].astype(np.int64)
        # Lookup table: OpenCV hue (0..179, circular) -> 1 + index of the nearest palette hue
        # (0 stays "not coloured" after masking); 256 entries as cv2.LUT wants.
        h = np.arange(256)[:, None] % 180
        dist = np.abs(h - hues[None, :])
        self.hue_lut = (np.minimum(dist, 180 - dist).argmin(axis=1) + 1).astype(np.uint8)
        self.kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
        # Per palette entry, its full size in units of the frame width (0: no edge rule).
        self.rel_size = np.array([np.asarray(sizes.get(n, (0, 0)), np.float64) / size_width
                                  for n in self.palette]).reshape(-1, 2)
        self.sizes, self.size_width = dict(sizes), int(size_width)
        _single_thread()

    @property
    def signature(self) -> str:
        colours = ",".join(f"{n}={b}/{g}/{r}" for n, (b, g, r) in self.palette.items())
        sizes = ",".join(f"{n}={w}x{h}" for n, (w, h) in self.sizes.items())
        return (f"{self.name} chroma={self.min_chroma} area={self.min_area} {colours} "
                f"half-in-view={sizes}@{self.size_width}")

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        _check_frame(bgr)
        # cv2 calls throughout: numpy's max over the channel axis alone costs ~2.5 ms at
        # 320x240, the whole detector ~1.6 ms this way.
        img = cv2.blur(np.ascontiguousarray(bgr, dtype=np.uint8), (3, 3))
        b, g, r = cv2.split(img)
        chroma = cv2.subtract(cv2.max(cv2.max(b, g), r), cv2.min(cv2.min(b, g), r))
        coloured = cv2.compare(chroma, self.min_chroma, cv2.CMP_GE)  # 0 / 255
        if cv2.countNonZero(coloured) == 0:
            return EMPTY.copy()
        hue = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)[:, :, 0]
        cls_map = cv2.bitwise_and(cv2.LUT(hue, self.hue_lut), coloured)  # palette index + 1
        rows = []
        height, width = chroma.shape
        for k, class_id in enumerate(self.ids):
            mask = cv2.compare(cls_map, k + 1, cv2.CMP_EQ)
            x, y, w, h = cv2.boundingRect(mask)
            if w == 0:
                continue
            # Work on the class's bounding box plus a 1-pixel margin of background: the same
            # result as the whole frame (the open sees the same zeros), a fraction of the cost.
            x0, y0 = max(x - 1, 0), max(y - 1, 0)
            x1, y1 = min(x + w + 1, width), min(y + h + 1, height)
            crop = cv2.morphologyEx(mask[y0:y1, x0:x1], cv2.MORPH_OPEN, self.kernel)
            _, _, stats, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
            stats = stats[1:]  # label 0 is the background
            stats = stats[stats[:, cv2.CC_STAT_AREA] >= self.min_area]
            if len(stats) == 0:
                continue
            bx = stats[:, cv2.CC_STAT_LEFT] + x0
            by = stats[:, cv2.CC_STAT_TOP] + y0
            bw, bh = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
            full_w, full_h = np.rint(self.rel_size[k] * width)
            cut_x = (bx == 0) | (bx + bw == width)
            cut_y = (by == 0) | (by + bh == height)
            # The truth's rule, 2 * visible >= full size, on the cut side(s) only.
            keep = ~(cut_x & (2 * bw < full_w)) & ~(cut_y & (2 * bh < full_h))
            bx, by, bw, bh, stats = bx[keep], by[keep], bw[keep], bh[keep], stats[keep]
            # Score: the share of its box the blob fills (1.0 for a clean rectangle).
            fill = stats[:, cv2.CC_STAT_AREA] / (bw * bh)
            rows.append(np.column_stack([bx, by, bx + bw, by + bh, fill,
                                         np.full(len(bx), class_id)]))
        if not rows:
            return EMPTY.copy()
        dets = np.concatenate(rows).astype(np.float32)
        return dets[np.argsort(-dets[:, 4], kind="stable")]


# --- registry -------------------------------------------------------------------------------

DETECTORS: dict[str, Callable[[Path | None], Detector]] = {
    "yolo-fastest-xl": lambda models: YoloFastest("1.1-xl", models),  # the reference
    "yolo-fastest": lambda models: YoloFastest("1.1", models),
    "fastestdet": lambda models: FastestDet(models),
    "blobs": lambda models: ColourBlobDetector(),
}
REFERENCE = "yolo-fastest-xl"


def load_detector(name: str, models: Path | None = None) -> Detector:
    """The detector registered as `name`, its model files read from `models` (default: the
    lab's data folder). Unknown names, missing and corrupt model files raise UserError."""
    factory = DETECTORS.get(name)
    if factory is None:
        raise UserError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")
    return factory(models)


def check_model_file(models: Path | None, file: ModelFile) -> str:
    """'ok', 'missing' or 'changed' (sha256 differs from the one published) for one file."""
    import hashlib

    path = Path(models if models is not None else models_dir()) / file.file
    if not path.is_file():
        return "missing"
    digest = hashlib.sha256()
    with path.open("rb") as src:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            digest.update(chunk)
    return "ok" if digest.hexdigest() == file.sha256 else "changed"


__all__ = [
    "COCO_NAMES", "DETECTORS", "MODEL_FILES", "NAMES_FILE", "REFERENCE", "ColourBlobDetector",
    "Detector", "FastestDet", "ModelFile", "YoloFastest", "check_model_file", "load_detector",
    "models_dir",
]
