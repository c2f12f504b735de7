"""Detectors: the colour-blob detector on hand-drawn frames, model loading and its errors, and
the real models on real frames when the shared data is there."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from syslab.common.data import lab_data
from syslab.common.errors import UserError
from syslab.video.detectors import (
    COCO_NAMES,
    DETECTORS,
    MODEL_FILES,
    NAMES_FILE,
    ColourBlobDetector,
    Detector,
    _read_darknet,
    check_model_file,
    load_detector,
    models_dir,
)
from syslab.video.workloads import OBJECT_COLOURS, synthesize

DATA = lab_data("video")
MODELS = DATA / "models" if DATA is not None else None
needs_models = pytest.mark.skipif(
    MODELS is None or not MODELS.is_dir(),
    reason="needs the video lab's shared data (models/ and clips; see `syslab data`)",
)
CAR, BUS, TRUCK = (COCO_NAMES.index(n) for n in ("car", "bus", "truck"))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def check_contract(dets: np.ndarray, frame: np.ndarray) -> None:
    h, w = frame.shape[:2]
    assert dets.dtype == np.float32 and dets.ndim == 2 and dets.shape[1] == 6
    assert (dets[:, 0] >= 0).all() and (dets[:, 2] <= w).all()
    assert (dets[:, 1] >= 0).all() and (dets[:, 3] <= h).all()
    assert (dets[:, 0] < dets[:, 2]).all() and (dets[:, 1] < dets[:, 3]).all()
    assert ((dets[:, 4] > 0) & (dets[:, 4] <= 1)).all()
    cls = dets[:, 5]
    assert (cls == np.round(cls)).all() and ((cls >= 0) & (cls < len(COCO_NAMES))).all()


# --- colour blobs ----------------------------------------------------------------------------

RECTS = [  # class name, (x1, y1, x2, y2) exclusive ends
    ("car", (20, 30, 70, 60)),
    ("truck", (100, 100, 180, 150)),
    ("bus", (200, 20, 290, 70)),
    ("person", (250, 150, 262, 190)),
    ("car", (180, 150, 230, 180)),
    ("bus", (30, 170, 80, 200)),  # touches the person-coloured one below: kept apart
    ("person", (30, 200, 60, 230)),
]


def drawn_frame(rects, *, noise: float = 10.0, seed: int = 0, dark: bool = False) -> np.ndarray:
    """Grey texture (smooth blotches, independent per-channel noise) with flat rectangles."""
    rng = np.random.default_rng(seed)
    h, w = 240, 320
    lo, hi = (5, 60) if dark else (40, 210)
    base = cv2.resize(rng.uniform(lo, hi, (12, 16)).astype(np.float32), (w, h),
                      interpolation=cv2.INTER_CUBIC)
    img = base[:, :, None] + rng.normal(0, noise, (h, w, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for name, (x1, y1, x2, y2) in rects:
        img[y1:y2, x1:x2] = OBJECT_COLOURS[name]
    img = img.astype(np.float32) + rng.normal(0, noise / 2, img.shape)  # noise on objects too
    return np.clip(img, 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int = 80) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def match(dets: np.ndarray, rects) -> None:
    """Exactly one detection per rectangle, of its class, IoU >= 0.8."""
    assert len(dets) == len(rects), dets
    left = list(range(len(dets)))
    for name, box in rects:
        best = max(left, key=lambda i: iou(dets[i, :4], np.array(box, np.float32)))
        assert iou(dets[best, :4], np.array(box, np.float32)) >= 0.8, (name, box, dets[best])
        assert COCO_NAMES[int(dets[best, 5])] == name
        left.remove(best)


@pytest.mark.parametrize("quality", [None, 80])
@pytest.mark.parametrize("seed", [0, 1])
def test_blobs_find_every_rectangle(quality: int | None, seed: int) -> None:
    frame = drawn_frame(RECTS, seed=seed)
    if quality is not None:
        frame = jpeg(frame, quality)
    dets = ColourBlobDetector().detect(frame)
    check_contract(dets, frame)
    match(dets, RECTS)


def test_blobs_on_dark_noisy_background_after_jpeg() -> None:
    # Dark grey with noise has a high HSV saturation (chroma / value); chroma stays low.
    rects = RECTS[:3]
    frame = jpeg(drawn_frame(rects, noise=15, dark=True, seed=3))
    match(ColourBlobDetector().detect(frame), rects)


def test_blobs_nothing_on_an_empty_frame_and_specks_ignored() -> None:
    blob = ColourBlobDetector()
    empty = drawn_frame([], noise=15)
    assert blob.detect(empty).shape == (0, 6)
    assert blob.detect(jpeg(empty)).shape == (0, 6)
    specks = drawn_frame([("car", (10, 10, 14, 14)), ("bus", (50, 50, 52, 90))])
    assert blob.detect(jpeg(specks)).shape == (0, 6)


def test_blobs_half_in_view_rule_at_the_edges() -> None:
    # Sizes are given at 640 wide (workloads.SIZES), so in these 320-wide frames a car is
    # 30 x 15 and a person 9 x 20. Cut by an edge, an object counts with at least half of
    # it in view, as the synthetic ground truth counts it.
    rects = [("car", (0, 30, 20, 45)),  # 20 of 30 px wide: in
             ("car", (310, 100, 320, 115)),  # 10 of 30: out
             ("person", (150, 0, 159, 8)),  # 8 of 20 px high: out
             ("person", (200, 228, 209, 240))]  # 12 of 20: in
    frame = jpeg(drawn_frame(rects))
    match(ColourBlobDetector().detect(frame), [rects[0], rects[3]])
    match(ColourBlobDetector(sizes={}).detect(frame), rects)  # no rule: every blob


def test_blobs_agree_with_the_generators_truth() -> None:
    truth, images = synthesize(seconds=6, fps=10, width=320, height=180, seed=3)
    blob = ColourBlobDetector()
    dets = [blob.detect(jpeg(img)) for img in images]
    for name in OBJECT_COLOURS:
        found = np.array([(d[:, 5] == COCO_NAMES.index(name)).sum() for d in dets])
        assert (found == truth.count([name])).mean() >= 0.95, name
    total = np.array([len(d) for d in dets])
    assert (total == truth.count(list(OBJECT_COLOURS))).mean() >= 0.95
    assert truth.count(list(OBJECT_COLOURS)).max() >= 2  # the clip does have objects


def test_blobs_report_coco_ids_from_names() -> None:
    blob = load_detector("blobs")
    assert isinstance(blob, ColourBlobDetector) and blob.name == "blobs"
    assert blob.classes == COCO_NAMES
    assert sorted(int(i) for i in blob.ids) == sorted(COCO_NAMES.index(n)
                                                      for n in OBJECT_COLOURS)
    assert "blobs" in blob.signature


def test_bad_frame_is_a_user_error() -> None:
    with pytest.raises(UserError, match="H x W x 3"):
        ColourBlobDetector().detect(np.zeros((10, 10), np.uint8))


# --- loading ---------------------------------------------------------------------------------


def test_registry_and_model_files() -> None:
    assert set(DETECTORS) == {"yolo-fastest-xl", "yolo-fastest", "fastestdet", "blobs"}
    assert set(MODEL_FILES) == set(DETECTORS)
    for files in MODEL_FILES.values():
        for f in files:
            assert f.source and f.path.endswith(f.file) and f.licence and len(f.sha256) == 64
    if DATA is not None:
        assert models_dir() == DATA / "models"


def test_unknown_detector_lists_the_names() -> None:
    with pytest.raises(UserError, match="unknown detector 'yolo'.*yolo-fastest-xl.*blobs"):
        load_detector("yolo")


@pytest.mark.parametrize("name", ["yolo-fastest-xl", "yolo-fastest", "fastestdet"])
def test_missing_model_file(name: str, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="syslab video models") as err:
        load_detector(name, tmp_path)
    assert str(tmp_path / MODEL_FILES[name][0].file) in str(err.value)
    assert "\n" not in str(err.value)


TINY_CFG = """[net]
width=32
height=32
channels=3

[convolutional]
batch_normalize=1
filters=4
size=3
stride=1
pad=1
activation=leaky
"""
TINY_VALUES = 4 * 4 + 4 * 3 * 3 * 3  # biases, scales, means, variances; then the kernels


def tiny_darknet(folder: Path, values: int, stem: str = "yolo-fastest-1.1") -> Path:
    (folder / f"{stem}.cfg").write_text(TINY_CFG)
    header = np.array([0, 2, 5], np.int32).tobytes() + np.array([0], np.int64).tobytes()
    (folder / f"{stem}.weights").write_bytes(header + np.ones(values, np.float32).tobytes())
    return folder


def test_darknet_size_check_accepts_a_whole_file(tmp_path: Path) -> None:
    tiny_darknet(tmp_path, TINY_VALUES)
    net = _read_darknet(tmp_path / "yolo-fastest-1.1.cfg", tmp_path / "yolo-fastest-1.1.weights")
    assert not net.empty()


@pytest.mark.parametrize("values", [TINY_VALUES - 10, TINY_VALUES + 1, 0])
def test_truncated_or_padded_weights(values: int, tmp_path: Path) -> None:
    tiny_darknet(tmp_path, values)
    with pytest.raises(UserError, match="yolo-fastest-1.1.weights is corrupt"):
        load_detector("yolo-fastest", tmp_path)


def test_garbage_cfg_and_onnx(tmp_path: Path) -> None:
    tiny_darknet(tmp_path, TINY_VALUES, stem="yolo-fastest-1.1-xl")
    (tmp_path / "yolo-fastest-1.1-xl.cfg").write_text("[net]\nwidth\n")
    with pytest.raises(UserError, match="cannot load Darknet model"):
        load_detector("yolo-fastest-xl", tmp_path)
    (tmp_path / "FastestDet.onnx").write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(UserError, match="FastestDet.onnx is corrupt") as err:
        load_detector("fastestdet", tmp_path)
    assert "\n" not in str(err.value)


# --- the real models -------------------------------------------------------------------------


def video02_frames(indices: list[int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(DATA / "highway_bgslibrary_video02.avi"))
    frames, i = [], 0
    while i <= max(indices):
        ok, bgr = cap.read()
        assert ok
        if i in indices:
            frames.append(bgr)
        i += 1
    cap.release()
    return frames


@pytest.fixture(scope="module")
def highway() -> list[np.ndarray]:
    return video02_frames([50, 200, 400, 600])


@needs_models
@pytest.mark.parametrize(("name", "min_cars"), [
    ("yolo-fastest-xl", 2), ("yolo-fastest", 1), ("fastestdet", 1),
])
def test_real_models_find_cars_on_the_highway(name: str, min_cars: int,
                                              highway: list[np.ndarray]) -> None:
    det = load_detector(name)
    assert isinstance(det, Detector) and det.name == name and det.classes == COCO_NAMES
    vehicles = []
    for frame in highway:
        dets = det.detect(frame)
        check_contract(dets, frame)
        assert (dets[:, 4] >= det.conf).all()
        vehicles.append(int(np.isin(dets[:, 5], [CAR, BUS, TRUCK]).sum()))
    # Every sampled frame has 3+ vehicles in view; tiny detectors miss some, not all.
    assert sum(v >= min_cars for v in vehicles) >= 3, vehicles
    assert det.detect(np.zeros((48, 64, 3), np.uint8)).shape[1] == 6


@needs_models
def test_real_truncated_weights(tmp_path: Path) -> None:
    (tmp_path / "yolo-fastest-1.1-xl.cfg").write_bytes(
        (MODELS / "yolo-fastest-1.1-xl.cfg").read_bytes())
    weights = (MODELS / "yolo-fastest-1.1-xl.weights").read_bytes()
    (tmp_path / "yolo-fastest-1.1-xl.weights").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(UserError, match="is corrupt"):
        load_detector("yolo-fastest-xl", tmp_path)


@needs_models
def test_shared_models_match_their_provenance() -> None:
    for files in MODEL_FILES.values():
        for f in files:
            assert check_model_file(None, f) == "ok", f.file
    names = (MODELS / NAMES_FILE.file).read_text().split("\n")
    assert [n.strip() for n in names if n.strip()] == COCO_NAMES
