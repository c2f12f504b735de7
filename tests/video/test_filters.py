"""Filters as plain objects, replayed over hand-made frame sequences with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from syslab.common.errors import UserError
from syslab.video.engine import ClipData, evaluate
from syslab.video.features import FEATURES
from syslab.video.filters import make_filter
from syslab.video.filters.base import Profile
from syslab.video.filters.difference import Difference
from syslab.video.filters.empty import EmptyScene
from syslab.video.filters.max_gap import MaxGap
from syslab.video.filters.replay import estimates, replay
from syslab.video.filters.uniform import Uniform
from syslab.video.metrics import frame_accuracy


def scene(n: int = 300, fps: float = 10.0, seed: int = 0):
    """A noisy grey scene where bright squares come and go: (small frames, counts).

    Frames 0-59 empty, then one square crossing, an empty stretch, then two squares.
    """
    rng = np.random.default_rng(seed)
    h, w = 36, 64
    small = np.clip(rng.normal(100, 3, (n, h, w)), 0, 255).astype(np.uint8)
    counts = np.zeros(n, dtype=np.int64)
    for i in range(n):
        boxes = []
        if 60 <= i < 140:
            boxes.append(((i - 60) * 0.6, 5))
        if 200 <= i < 300:
            boxes += [((i - 200) * 0.5, 5), (60 - (i - 200) * 0.5, 22)]
        for x, y in boxes:
            x = int(x)
            small[i, y:y + 8, max(0, x):x + 8] = 230
        counts[i] = len(boxes)
    return ClipData("scene", small, counts, fps, "count")


def test_every_feature_is_zero_for_identical_frames_and_positive_for_changed():
    clip = scene()
    a, b = clip.small[0], clip.small[100]
    for name, f in FEATURES.items():
        assert f(a, a) == pytest.approx(0.0, abs=1e-9), name
        assert f(a, b) > 0, name


def test_uniform_sends_every_kth_frame():
    sent, known = replay(Uniform(3), np.zeros((10, 4, 4), np.uint8), np.zeros(10, int))
    assert np.flatnonzero(sent).tolist() == [0, 3, 6, 9]
    assert (known == -1).all()


def test_uniform_learns_the_sparsest_rate_that_meets_the_target():
    clip = scene()
    flt = Uniform()
    flt.fit(clip.profile(0.9, fraction=1.0))
    k = flt.every
    # k meets the target on the profile, k + 1 does not (or k is the cap)
    def acc(every):
        sent, known = replay(Uniform(every), clip.small, clip.labels)
        return frame_accuracy("count", clip.labels, estimates(clip.labels, sent, known)).mean()
    assert acc(k) >= 0.9
    assert k > 1


def test_difference_filter_sends_on_change_and_not_on_noise():
    clip = scene()
    flt = Difference("pixel", threshold=0.005)
    sent, _ = replay(flt, clip.small, clip.labels)
    assert sent[0]
    assert not sent[1:60].any()  # sensor noise only: never sent
    assert sent[60:140].sum() >= 5  # a square moving: sent again and again


def test_difference_filter_compares_with_the_last_frame_sent_not_the_previous():
    # a slow ramp: each frame +1 level over the previous; against the previous frame the
    # change is always tiny, against the last sent it adds up and must trigger
    small = np.stack([np.full((8, 8), 100 + i, np.uint8) for i in range(60)])
    sent, _ = replay(Difference("mse", threshold=100.0), small, np.zeros(60, int))
    assert np.flatnonzero(sent).tolist() == [0, 11, 22, 33, 44, 55]


def test_max_gap_forces_a_send_and_tells_the_inner_filter():
    small = np.zeros((25, 4, 4), np.uint8)
    flt = MaxGap(Difference("mse", threshold=1.0), max_gap_s=1.0)
    flt.fit(Profile(small[:5], np.zeros(5, int), fps=10.0, kind="count", target=0.9))
    sent, _ = replay(flt, small, np.zeros(25, int))
    assert np.flatnonzero(sent).tolist() == [0, 10, 20]


def test_empty_scene_filter_answers_empty_frames_and_sends_busy_ones():
    clip = scene(seed=1)
    flt = EmptyScene()
    flt.fit(clip.profile(0.9, fraction=0.5))  # frames 0-149: empty and one square
    sent, known = replay(flt, clip.small[150:], clip.labels[150:])
    labels = clip.labels[150:]
    assert sent[labels > 0].mean() >= 0.99  # recall of frames with something in them
    assert (known[labels == 0] == 0).mean() >= 0.9  # the empty ones are answered unseen
    assert (known[sent] == -1).all()


def test_empty_scene_filter_never_skips_without_empty_frames_to_learn_from():
    clip = scene()
    flt = EmptyScene()
    busy = clip.labels > 0
    flt.fit(Profile(clip.small[busy], clip.labels[busy], fps=10.0, kind="count", target=0.9))
    sent, _ = replay(flt, clip.small, clip.labels)
    assert sent.all()


@pytest.mark.parametrize("name", ["uniform", "diff-pixel", "diff-mse", "diff-edge", "adaptive",
                                  "ours", "empty"])
def test_every_filter_meets_a_loose_target_on_the_scene(name):
    clip = scene()
    r = evaluate(make_filter(name), clip, target=0.8, fraction=0.5)
    assert r["accuracy"] >= 0.8, r
    assert 0.0 <= r["fraction_filtered"] < 1.0


def test_closed_loop_sends_less_when_nothing_changes():
    clip = scene()
    calm = ClipData("calm", clip.small[:60].repeat(4, axis=0), np.zeros(240, int), 10.0, "count")
    flt = make_filter("ours")
    r_calm = evaluate(flt, calm, target=0.9, fraction=0.25)
    r_busy = evaluate(make_filter("ours"), clip, target=0.9, fraction=0.5)
    assert r_calm["fraction_filtered"] > r_busy["fraction_filtered"]


def test_cascade_settles_frames_it_is_sure_about():
    clip = scene(n=400)
    rng = np.random.default_rng(0)
    # colour thumbnails: grey with a red blob whenever something is there
    thumbs = np.clip(rng.normal(100, 3, (400, 36, 64, 3)), 0, 255).astype(np.uint8)
    thumbs[clip.labels > 0, 10:20, 20:40] = (40, 40, 220)
    clip.thumbs = thumbs
    clip.kind = "presence"
    flt = make_filter("cascade")
    flt.inner.epochs = 15
    r = evaluate(flt, clip, target=0.9, fraction=0.5)
    assert r["accuracy"] >= 0.95
    assert r["settled_locally"] > 0


def test_cascade_answers_frames_like_the_empty_scene_without_its_cnn():
    # NoScope's difference detector against a reference image: thumbnails of pure noise
    # teach the CNN nothing, so whatever the cascade settles on the empty stretch (frames
    # 150-199) is the empty-scene stage's "nothing"
    clip = scene()
    rng = np.random.default_rng(1)
    clip.thumbs = rng.integers(0, 255, (len(clip), 36, 64, 3), dtype=np.uint8)
    clip.kind = "presence"
    flt = make_filter("cascade")
    flt.inner.epochs = 2
    flt.fit(clip.profile(0.9, fraction=0.5))
    flt.reset()
    k = clip.split(0.5)
    sent, known = replay(flt, clip.small[k:], clip.labels[k:], clip.thumbs[k:])
    assert (known[clip.labels[k:] > 0] != 0).all()  # never "nothing" while a square is there
    assert isinstance(flt, EmptyScene) and flt.tau >= 0
    alone = flt.inner  # the CNN stage alone, as fitted above
    alone.epochs = 2
    alone.fit(clip.profile(0.9, fraction=0.5))
    alone.reset()
    sent_alone, _ = replay(alone, clip.small[k:], clip.labels[k:], clip.thumbs[k:])
    assert sent.sum() < sent_alone.sum()


def test_thumbnails_handed_over_as_functions_are_made_only_when_looked_at():
    clip = scene(n=400)
    rng = np.random.default_rng(0)
    thumbs = np.clip(rng.normal(100, 3, (400, 36, 64, 3)), 0, 255).astype(np.uint8)
    thumbs[clip.labels > 0, 10:20, 20:40] = (40, 40, 220)
    clip.thumbs, clip.kind = thumbs, "presence"
    k = clip.split(0.5)
    made: list[int] = []

    def lazily(i: int):
        def make() -> np.ndarray:
            made.append(i)
            return thumbs[i]
        return make

    runs = []
    for lazy in (False, True):
        flt = make_filter("cascade")
        flt.inner.epochs = 15
        flt.fit(clip.profile(0.9, fraction=0.5))
        flt.reset()
        decisions = []
        for i in range(k, len(clip)):
            thumb = lazily(i) if lazy else thumbs[i]
            decisions.append(flt.decide(i - k, clip.small[i], thumb))
        runs.append(decisions)
        if lazy:
            # the same decisions, and thumbnails made only for frames past the difference
            # detectors (the empty stretch after frame 300 never needs one)
            assert 0 < len(made) < len(clip) - k
            assert not any(i >= 310 for i in made)
    assert runs[0] == runs[1]


def test_a_cnn_that_never_settles_is_not_run():
    from syslab.video.filters.cascade import Cascade

    class Exploding:
        def __call__(self, x):
            raise AssertionError("the CNN ran")

    flt = Cascade(diff_mse=-1.0)
    flt.reset()
    flt.model, flt.confidence = Exploding(), 1.1  # calibrated: never confident enough
    thumb = np.zeros((36, 64, 3), np.uint8)
    assert flt.decide(0, np.zeros((9, 16), np.uint8), thumb).send
    flt.confidence = 0.5
    with pytest.raises(AssertionError, match="the CNN ran"):
        flt.decide(1, np.zeros((9, 16), np.uint8), thumb)


def test_unknown_filter_is_a_user_error():
    with pytest.raises(UserError, match="unknown filter"):
        make_filter("nope")
    with pytest.raises(UserError, match="difference feature"):
        make_filter("diff-nope")


def test_closed_loop_counts_the_gap_from_the_last_frame_sent_not_answered():
    # live, answers arrive late: with no answer back yet, frames right after a send must
    # not all look overdue
    clip = scene()
    flt = make_filter("ours")
    flt.fit(clip.profile(0.9, fraction=0.5))
    flt.reset()
    flt.gap = 5
    busy = clip.small[100]  # a square in view: the empty-scene gate lets it through
    assert flt.decide(0, busy).send
    flt.sent(0, busy)
    sends = [flt.decide(i, busy).send for i in range(1, 5)]  # same frame, no answer yet
    assert sends == [False] * 4
    assert flt.decide(5, busy).send

