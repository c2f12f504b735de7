"""The synthetic generator's ground truth, and the real clips' names."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from syslab.common.data import lab_data
from syslab.common.errors import UserError
from syslab.video.decode import frames, probe
from syslab.video.workloads import (
    CLASSES,
    CLIPS,
    OBJECT_COLOURS,
    SIZES,
    SyntheticTruth,
    find_truth,
    generate,
    plan_truth,
    resolve_clip,
    synthesize,
    truth_path,
)

from .conftest import FPS


def test_object_colours_are_what_the_blob_detector_expects() -> None:
    assert OBJECT_COLOURS == {
        "car": (40, 40, 220), "truck": (220, 60, 40), "bus": (30, 200, 230),
        "person": (60, 200, 60),
    }
    assert CLASSES == ("car", "truck", "bus", "person")


@pytest.fixture(scope="module")
def long_truth() -> SyntheticTruth:
    """The default clip's truth (40 s, 15 fps, 640x360), planned without rendering."""
    return plan_truth(seed=0)


def test_plan_is_deterministic_per_seed(long_truth) -> None:
    again = plan_truth(seed=0)
    for name in ("frame", "cls", "obj", "box", "moving"):
        assert np.array_equal(getattr(again, name), getattr(long_truth, name))
    assert again.objects == long_truth.objects
    other = plan_truth(seed=1)
    assert other.objects != long_truth.objects


def test_rendering_is_deterministic_per_seed() -> None:
    def first(seed: int) -> list[np.ndarray]:
        _, images = synthesize(seconds=1.0, fps=5.0, width=160, height=90, seed=seed)
        return list(images)

    a, b, c = first(7), first(7), first(8)
    assert len(a) == 5
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_truth_boxes_are_in_frame_disjoint_and_at_least_half_visible(long_truth) -> None:
    t = long_truth
    assert t.n_frames == 600 and len(t) == 600
    x1, y1, x2, y2 = t.box.T
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= 640).all() and (y2 <= 360).all()
    assert (x2 > x1).all() and (y2 > y1).all()
    full_w = np.array([SIZES[CLASSES[c]][0] for c in t.cls])
    assert (2 * (x2 - x1) >= full_w).all()
    # Full size where wholly in view, and no two objects ever overlap.
    inside = (x1 > 0) & (x2 < 640)
    assert ((x2 - x1)[inside] == full_w[inside]).all()
    for i in range(t.n_frames):
        boxes = np.array([b[1:] for b in t.boxes(i)]).reshape(-1, 4)
        for j in range(len(boxes)):
            for k in range(j + 1, len(boxes)):
                a, b = boxes[j], boxes[k]
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def zero_runs(counts: np.ndarray) -> list[int]:
    """Lengths of the runs of frames with nothing counted."""
    runs, n = [], 0
    for c in counts:
        if c == 0:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs + ([n] if n else [])


def test_idle_stretches_alternate_with_bursts(long_truth) -> None:
    counts = long_truth.count(CLASSES)
    idle = [n for n in zero_runs(counts) if n >= 3 * long_truth.fps]
    assert len(idle) >= 2  # several seconds with nothing at all in view, more than once
    assert counts.max() >= 3  # and bursts of several objects
    assert 0.2 < (counts == 0).mean() < 0.8


def test_some_objects_stand_still_for_a_while(long_truth) -> None:
    t = long_truth
    stopped = ~t.moving
    assert stopped.sum() >= 1.5 * t.fps  # at least one stop of 1.5 s or more
    for ident in np.unique(t.obj[stopped]):
        rows = np.flatnonzero((t.obj == ident) & stopped)
        assert (t.box[rows] == t.box[rows[0]]).all()  # standing means the same box
        assert np.array_equal(t.frame[rows], np.arange(t.frame[rows[0]],
                                                       t.frame[rows[0]] + len(rows)))


def test_count_and_boxes_agree(long_truth) -> None:
    t = long_truth
    per_class = sum(t.count([c]) for c in CLASSES)
    assert np.array_equal(per_class, t.count(CLASSES))
    assert np.array_equal(t.count([]), np.zeros(t.n_frames, int))
    vehicles = t.count(["car", "truck", "bus"])
    for i in range(t.n_frames):
        boxes = t.boxes(i)
        assert len(boxes) == t.count(CLASSES)[i]
        assert sum(b[0] != "person" for b in boxes) == vehicles[i]
    assert {c for c in CLASSES if t.count([c]).any()} == set(CLASSES)
    with pytest.raises(UserError, match="unknown object class 'dog'"):
        t.count(["dog"])


def nearest_class(pixels: np.ndarray) -> str:
    """The class whose colour is nearest the median colour of `pixels` (N, 3)."""
    median = np.median(pixels.reshape(-1, 3), axis=0)
    return min(CLASSES, key=lambda c: np.linalg.norm(median - OBJECT_COLOURS[c]))


def test_counted_objects_are_drawn_in_their_colour(clip) -> None:
    t = clip.truth
    assert t.count(CLASSES).sum() > 0
    for i, image in enumerate(clip.images):
        saturation = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[..., 1].astype(int)
        for name, x1, y1, x2, y2 in t.boxes(i):
            assert nearest_class(image[y1:y2, x1:x2]) == name
            assert saturation[y1:y2, x1:x2].min() > 100
            # The box is the whole object: one pixel beyond it is grey background.
            yc, xc = (y1 + y2) // 2, (x1 + x2) // 2
            around = [(y1 - 1, xc), (y2, xc), (yc, x1 - 1), (yc, x2)]
            for y, x in around:
                if 0 <= y < t.height and 0 <= x < t.width:
                    assert saturation[y, x] < 60


def test_decoded_clip_still_shows_the_objects(clip) -> None:
    t = clip.truth
    checked = 0
    for f in frames(clip.path):
        for name, x1, y1, x2, y2 in t.boxes(f.index):
            if x2 - x1 >= 6:  # inner pixels, away from chroma-subsampled edges
                inner = f.bgr[y1 + 2:y2 - 2, x1 + 2:x2 - 2]
                assert nearest_class(inner) == name
                checked += 1
    assert checked > 10


def test_background_stays_unsaturated(clip) -> None:
    t = clip.truth
    assert t.count(CLASSES)[0] == 0 and not t.boxes(0)
    rendered = cv2.cvtColor(clip.images[0], cv2.COLOR_BGR2HSV)[..., 1]
    assert rendered.max() < 60
    decoded = next(iter(frames(clip.path, limit=1))).bgr
    assert np.percentile(cv2.cvtColor(decoded, cv2.COLOR_BGR2HSV)[..., 1], 99.9) < 60
    # Sensor noise: consecutive empty frames differ by a few levels, not zero.
    diff = np.abs(clip.images[1].astype(int) - clip.images[0]).mean()
    assert 1.0 < diff < 8.0


def test_generate_writes_clip_and_truth(tmp_path: Path) -> None:
    path = tmp_path / "gen.mp4"
    truth = generate(path, seconds=2.0, fps=FPS, width=160, height=90, seed=5)
    assert truth_path(path) == tmp_path / "gen.mp4.truth.json"
    assert probe(path).frames == truth.n_frames == 20
    assert len(list(frames(path, keyframes_only=True))) >= 1
    loaded = find_truth(path)
    planned = plan_truth(seconds=2.0, fps=FPS, width=160, height=90, seed=5)
    for other in (loaded, planned):
        for name in ("frame", "cls", "obj", "box", "moving"):
            assert np.array_equal(getattr(other, name), getattr(truth, name))
        assert (other.fps, other.width, other.height, other.n_frames) == (FPS, 160, 90, 20)
    assert [loaded.boxes(i) for i in range(20)] == [truth.boxes(i) for i in range(20)]


def test_truth_files_that_are_missing_or_wrong(tmp_path: Path) -> None:
    assert find_truth(tmp_path / "other.mp4") is None
    with pytest.raises(UserError, match="no such ground-truth file"):
        SyntheticTruth.load(tmp_path / "missing.truth.json")
    bad = tmp_path / "bad.truth.json"
    for text in ("{not json", '{"format": "something else"}', '[1, 2]'):
        bad.write_text(text)
        with pytest.raises(UserError, match=f"{bad}: not a ground-truth file"):
            SyntheticTruth.load(bad)


def test_bad_generator_arguments(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="even"):
        plan_truth(width=641)
    with pytest.raises(UserError, match="> 0"):
        plan_truth(fps=0)
    with pytest.raises(UserError, match="even"):
        generate(tmp_path / "x.mp4", width=16, height=16)


def test_sizes_scale_with_the_resolution() -> None:
    t = plan_truth(seconds=40, fps=10, width=1280, height=720, seed=0)
    widths = {CLASSES[c]: w for c, w in zip(t.cls, t.box[:, 2] - t.box[:, 0], strict=True)}
    heights = {CLASSES[c]: h for c, h in zip(t.cls, t.box[:, 3] - t.box[:, 1], strict=True)}
    for name in widths:
        assert heights[name] == 2 * SIZES[name][1]
        assert widths[name] <= 2 * SIZES[name][0]


# --- real clips ----------------------------------------------------------------------------


def test_known_clips() -> None:
    assert set(CLIPS) == {"highway", "person", "car-overhead"}
    assert CLIPS["highway"].query == "count:car,truck,bus"
    assert CLIPS["person"].query == "presence:person"
    assert CLIPS["car-overhead"].query == "presence:any"
    assert "cell phone" in CLIPS["car-overhead"].note


def test_resolve_clip_paths_and_unknown_names(clip, tmp_path: Path) -> None:
    assert resolve_clip(clip.path) == clip.path
    assert resolve_clip(str(clip.path)) == clip.path
    with pytest.raises(UserError) as info:
        resolve_clip("nowhere.mp4")
    assert str(info.value) == (
        "nowhere.mp4: no such clip or file (known clips: car-overhead, highway, person)")


def test_resolve_clip_without_the_shared_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYSLAB_DATA", str(tmp_path))  # a data root with no video/ in it
    with pytest.raises(UserError, match="'highway': highway_bgslibrary_video02.avi is not"):
        resolve_clip("highway")


@pytest.mark.skipif(lab_data("video") is None, reason="no shared video data")
def test_resolve_clip_finds_the_real_clips() -> None:
    for name, spec in CLIPS.items():
        path = resolve_clip(name)
        assert path.name == spec.file and path.is_file()
        assert probe(path).frames > 0
