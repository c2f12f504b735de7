"""Queries: parsing, its one-line errors, and answers on hand-made detections."""

from __future__ import annotations

import numpy as np
import pytest

from syslab.common.errors import UserError
from syslab.video.detectors import COCO_NAMES
from syslab.video.query import Query, answer, counts, parse_query

CAR, BUS, TRUCK, PERSON = (COCO_NAMES.index(n) for n in ("car", "bus", "truck", "person"))


def dets(*rows: tuple[float, float, float, float, float, int]) -> np.ndarray:
    return np.array(rows, np.float32).reshape(-1, 6)


def test_parse_count_of_several_classes() -> None:
    q = parse_query("count:car,truck,bus", COCO_NAMES)
    assert q == Query("count", frozenset({CAR, TRUCK, BUS}), ("car", "truck", "bus"),
                      "count:car,truck,bus")
    assert list(q.ids) == sorted([CAR, TRUCK, BUS])


def test_parse_normalises_case_spaces_underscores_and_repeats() -> None:
    q = parse_query("  Presence : Person , traffic_light,person ", COCO_NAMES)
    assert q.kind == "presence"
    assert q.names == ("person", "traffic light")
    assert q.class_ids == {PERSON, COCO_NAMES.index("traffic light")}
    assert str(q) == "presence:person,traffic light"


def test_parse_any_is_every_class() -> None:
    q = parse_query("presence:any", COCO_NAMES)
    assert q.class_ids == frozenset(range(80))
    assert q.text == "presence:any"
    assert parse_query("boxes:car", COCO_NAMES).kind == "boxes"


def test_boxes_are_judged_by_their_count() -> None:
    assert parse_query("boxes:car", COCO_NAMES).judged_as == "count"
    assert parse_query("count:car", COCO_NAMES).judged_as == "count"
    assert parse_query("presence:car", COCO_NAMES).judged_as == "presence"


@pytest.mark.parametrize(("text", "message"), [
    ("car", "is not KIND:CLASSES"),
    ("size:car", "unknown query kind 'size'"),
    ("count:", "names no class"),
    ("count: , ", "names no class"),
    ("count:cra", "unknown class 'cra'.*did you mean .*car"),
    ("count:car,buss", "unknown class 'buss'.*did you mean bus"),
    ("presence:zeppelin", "unknown class 'zeppelin'.*none of the 80 class names"),
])
def test_parse_errors_are_one_line_user_errors(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as err:
        parse_query(text, COCO_NAMES)
    assert "\n" not in str(err.value)


FRAME = dets(
    (0, 0, 10, 10, 0.9, CAR),
    (5, 5, 20, 20, 0.3, BUS),
    (1, 2, 3, 4, 0.8, PERSON),
    (7, 7, 9, 9, 0.5, CAR),
)


def test_answer_per_kind() -> None:
    assert answer(parse_query("count:car,bus", COCO_NAMES), FRAME) == 3
    assert answer(parse_query("count:car,bus", COCO_NAMES), FRAME, min_score=0.4) == 2
    assert answer(parse_query("count:truck", COCO_NAMES), FRAME) == 0
    assert answer(parse_query("presence:person", COCO_NAMES), FRAME) is True
    assert answer(parse_query("presence:truck", COCO_NAMES), FRAME) is False
    assert answer(parse_query("presence:person", COCO_NAMES), FRAME, min_score=0.85) is False
    boxes = answer(parse_query("boxes:car", COCO_NAMES), FRAME)
    assert boxes.shape == (2, 4) and boxes.dtype == np.float32
    np.testing.assert_array_equal(boxes, [[0, 0, 10, 10], [7, 7, 9, 9]])
    assert answer(parse_query("boxes:car", COCO_NAMES), dets()).shape == (0, 4)
    assert answer(parse_query("count:any", COCO_NAMES), dets()) == 0


def test_counts_vectorised_matches_answer() -> None:
    frames = [FRAME, dets(), dets((0, 0, 1, 1, 0.2, TRUCK)), FRAME[:1], dets()]
    for text in ("count:car,bus", "count:any", "presence:truck", "boxes:person"):
        q = parse_query(text, COCO_NAMES)
        got = counts(q, frames)
        assert got.dtype == np.int64 and got.shape == (5,)
        want = [int(answer(parse_query("count:" + text.split(":")[1], COCO_NAMES), f))
                for f in frames]
        assert got.tolist() == want
    q = parse_query("count:car,bus", COCO_NAMES)
    assert counts(q, frames).tolist() == [3, 0, 0, 1, 0]
    assert counts(q, frames, min_score=0.6).tolist() == [1, 0, 0, 1, 0]
    assert (counts(parse_query("presence:truck", COCO_NAMES), frames) > 0).tolist() == [
        False, False, True, False, False]
    assert counts(q, []).shape == (0,)
