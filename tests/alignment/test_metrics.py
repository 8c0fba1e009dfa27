"""SSA metrics on hand-made timelines with hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from glossfree.alignment.metrics import (
    SSAStatistics,
    balanced_accuracy,
    f1_counts,
    frame_labels,
    label_segments,
    ssa_scores,
)
from glossfree.alignment.subtitles import Cue
from glossfree.errors import DataError

# fps 2: [1.0, 3.0) s is frames [2, 6); [5.0, 8.0) s is frames [10, 16); 20 frames in all.
TRUTH = [(1.0, 3.0), (5.0, 8.0)]


def test_frame_labels_round_to_frame_boundaries_and_clip():
    labels = frame_labels([Cue(1.0, 3.0, "a"), (5.0, 8.0), (9.6, 30.0)], num_frames=20, fps=2)
    assert labels.tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 0, 0, 0, 3]
    with pytest.raises(DataError, match="segments 0 and 1 overlap at frame 4"):
        frame_labels([(1.0, 3.0), (2.0, 4.0)], num_frames=20, fps=2)


def test_hand_computed_stream():
    # truth: 0 0 1 1 1 1 0 0 0 0 2 2 2 2 2 2 0 0 0 0
    # pred:  0 0 0 1 1 1 1 0 0 0 2 2 0 0 0 0 0 0 0 0
    predicted = [(1.5, 3.5), (5.0, 6.0)]
    scores = ssa_scores(predicted, TRUTH, num_frames=20, fps=2)
    # wrong frames: 2, 6, 12, 13, 14, 15 -> 14 / 20
    assert scores.frame_accuracy == pytest.approx(70.0)
    # recalls: background 9/10 (frame 6 lost), subtitle 1 3/4, subtitle 2 2/6
    assert scores.cb_accuracy == pytest.approx(100 * (0.9 + 0.75 + 2 / 6) / 3)
    # IoU: subtitle 1 = 3/5 = 0.6, subtitle 2 = 2/6 = 0.33 -> both match at 0.10 and 0.25;
    # at 0.50 one TP, one FP (subtitle 2's prediction) and one FN: P = R = 1/2.
    assert scores.f1 == pytest.approx({0.10: 100.0, 0.25: 100.0, 0.50: 50.0})
    assert (scores.streams, scores.subtitles, scores.frames) == (1, 2, 20)
    assert scores.row() == " 70.0  66.1 100.0 100.0  50.0"


def test_high_frame_accuracy_with_no_overlap_fig_a6a():
    # Paper 004 appendix C.2 / Fig. A.6(a): two predictions with the same frame accuracy, one that
    # misses the true span entirely and one that overlaps it. 100 frames at 1 fps, truth [40, 50).
    truth = [(40.0, 50.0)]
    disjoint = ssa_scores([(52.0, 56.0)], truth, num_frames=100, fps=1)
    overlapping = ssa_scores([(42.0, 62.0)], truth, num_frames=100, fps=1)
    # disjoint: 10 + 4 wrong frames; overlapping: 2 + 12 wrong frames -> both 86 %
    assert disjoint.frame_accuracy == pytest.approx(86.0)
    assert overlapping.frame_accuracy == pytest.approx(86.0)
    assert disjoint.f1 == {0.10: 0.0, 0.25: 0.0, 0.50: 0.0}
    # overlapping: IoU = 8 / 22 = 0.36
    assert overlapping.f1 == {0.10: 100.0, 0.25: 100.0, 0.50: 0.0}
    # CB-Acc sees the miss: background 86/90 and subtitle 0/10 for the disjoint prediction.
    assert disjoint.cb_accuracy == pytest.approx(100 * (86 / 90 + 0.0) / 2)
    assert overlapping.cb_accuracy == pytest.approx(100 * (78 / 90 + 8 / 10) / 2)


def test_f1_follows_ms_tcn_matching():
    true = np.array([0, 1, 1, 1, 1, 0, 2, 2, 2, 0])
    # subtitle 1 predicted as two runs: the first (IoU 2/4) matches, the second (IoU 1/4) cannot
    # take the same true segment again -> FP; subtitle 2 is predicted with label 3 (wrong class).
    pred = np.array([0, 1, 1, 0, 1, 0, 3, 3, 3, 0])
    assert f1_counts(pred, true, 0.1) == (1, 2, 1)
    assert f1_counts(pred, true, 0.6) == (0, 3, 2)
    assert label_segments(pred)[0].tolist() == [1, 1, 3]
    # nothing predicted: every true segment is a false negative
    assert f1_counts(np.zeros(10, dtype=int), true, 0.5) == (0, 0, 2)


def test_balanced_accuracy_uses_classes_present_in_the_truth():
    true = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])  # class 2 does not occur in the truth: no recall of its own
    assert balanced_accuracy(pred, true) == pytest.approx((0.5 + 1.0) / 2)


def test_statistics_pool_frames_and_counts_and_average_cb_acc_over_streams():
    perfect = SSAStatistics().add(TRUTH, TRUTH, num_frames=20, fps=2)
    miss = SSAStatistics().add([(52.0, 56.0)], [(40.0, 50.0)], num_frames=100, fps=1)
    pooled = SSAStatistics()
    pooled += perfect
    pooled += miss
    scores = pooled.scores()
    assert scores.frame_accuracy == pytest.approx(100 * (20 + 86) / 120)
    assert scores.cb_accuracy == pytest.approx((100 + 100 * (86 / 90) / 2) / 2)
    # F1@0.5: tp 2, fp 1, fn 1 -> P = R = 2/3
    assert scores.f1[0.5] == pytest.approx(100 * 2 / 3)
    assert (scores.streams, scores.subtitles, scores.frames) == (2, 3, 120)
    assert scores.as_dict()["f1"]["0.50"] == pytest.approx(100 * 2 / 3)


def test_bad_input_is_refused():
    with pytest.raises(DataError, match="1 predicted subtitles for 2 true ones"):
        ssa_scores([(0, 1)], TRUTH, num_frames=20, fps=2)
    with pytest.raises(DataError, match="one length"):
        SSAStatistics().add_labels(np.zeros(3, dtype=int), np.zeros(4, dtype=int))
    with pytest.raises(DataError, match="no streams"):
        SSAStatistics().scores()
