"""Accuracy metrics and the replay, checked by hand on tiny sequences."""

from __future__ import annotations

import numpy as np
import pytest

from syslab.video.filters.replay import estimates
from syslab.video.metrics import counting_accuracy, segment_means, summarize, tagging_accuracy


def test_counting_accuracy_is_reductos_min_over_max_with_both_zero_exact():
    acc = counting_accuracy(np.array([0, 2, 3, 0, 4]), np.array([0, 1, 3, 2, 8]))
    assert acc.tolist() == [1.0, 0.5, 1.0, 0.0, 0.5]


def test_tagging_accuracy_compares_presence_only():
    assert tagging_accuracy(np.array([0, 2, 3, 0]), np.array([0, 1, 0, 5])).tolist() == \
        [1.0, 1.0, 0.0, 0.0]


def test_estimates_reuse_the_last_answer_and_take_known_answers():
    labels = np.array([1, 2, 3, 4, 5, 6])
    sent = np.array([True, False, False, True, False, False])
    known = np.array([-1, -1, 0, -1, -1, -1])  # frame 2: a filter said "empty"
    assert estimates(labels, sent, known).tolist() == [1, 1, 0, 4, 4, 4]


def test_the_first_frame_counts_as_answered_even_if_not_sent():
    labels = np.array([3, 3, 5])
    assert estimates(labels, np.array([False, False, True]), np.full(3, -1)).tolist() == \
        [3, 3, 5]


def test_segment_means_cover_every_frame_once():
    values = np.arange(12, dtype=float)  # fps 1, 5-s segments: 0-4, 5-9, 10-11
    assert segment_means(values, fps=1.0).tolist() == [2.0, 7.0, 10.5]


def test_summarize_counts_filtered_frames_and_segments_meeting_the_target():
    gt = np.array([1] * 5 + [2] * 5)
    est = np.array([1] * 5 + [1] * 5)  # second segment: every frame 0.5
    sent = np.array([True] + [False] * 9)
    s = summarize("count", gt, est, sent, fps=1.0, target=0.9)
    assert s["fraction_filtered"] == pytest.approx(0.9)
    assert s["accuracy"] == pytest.approx(0.75)
    assert s["segments_meeting_target"] == pytest.approx(0.5)


def test_fewest_sends_agrees_with_trying_every_choice():
    from syslab.video.metrics import fewest_sends, fewest_sends_reference

    rng = np.random.default_rng(3)
    for trial in range(40):
        n = int(rng.integers(1, 10))
        labels = rng.integers(0, 4, n)
        kind = "presence" if trial % 3 == 0 else "count"
        for target in (0.5, 0.8, 0.95, 1.0):
            k, acc = fewest_sends(kind, labels, target)
            k_ref, acc_ref = fewest_sends_reference(kind, labels, target)
            assert k == k_ref and acc == pytest.approx(acc_ref), (labels, kind, target)
            assert acc >= target - 1e-9


def test_fewest_sends_sends_once_per_change():
    from syslab.video.metrics import fewest_sends

    labels = np.array([0] * 5 + [2] * 5 + [1] * 5)
    assert fewest_sends("count", labels, 1.0) == (3, 1.0)
    assert fewest_sends("count", labels, 0.0)[0] == 1
