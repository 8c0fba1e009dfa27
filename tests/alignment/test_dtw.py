"""DTW post-processing: plateau-decay map, no overlaps, order kept, optimal, edge cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from glossfree.alignment.dtw import RHO, align_subtitles, dtw_align, plateau_decay, probability_map
from glossfree.errors import DataError


def test_plateau_decay_shape():
    u = np.array([-0.1, 0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0, 1.1])
    # rho = 0.2: plateau on [0.4, 0.6], cosine edges over [0, 0.4] and [0.6, 1]; half-way up at 0.2
    assert plateau_decay(u, 0.2) == pytest.approx([0, 0, 0.5, 1, 1, 1, 0.5, 0, 0])
    # rho = 0: the plain cosine bump peaking at the centre (paper Sec. 4.2); rho = 1: flat
    assert plateau_decay(np.array([0.25, 0.5, 0.75]), 0.0) == pytest.approx([0.5, 1.0, 0.5])
    assert plateau_decay(np.array([0.01, 0.99]), 1.0) == pytest.approx([1.0, 1.0])
    with pytest.raises(DataError, match="rho"):
        plateau_decay(u, 1.5)


def test_probability_map_scores_frame_centres():
    p = probability_map(np.array([[2.0, 12.0]]), 15)
    assert p[0, :2].tolist() == [0, 0] and p[0, 12:].tolist() == [0, 0, 0]
    # frame 3: centre 3.5, u = 0.15 -> 0.5 * (1 - cos(pi * 0.15 / 0.4))
    assert p[0, 3] == pytest.approx(0.5 * (1 - np.cos(np.pi * 0.375)))
    assert p[0, 6:8].tolist() == [1.0, 1.0] and np.allclose(p[0, 2:12], p[0, 2:12][::-1])


def _check_clean(out: np.ndarray, num_frames: int) -> None:
    assert out.dtype.kind == "i"
    assert (out[:, 0] >= 0).all() and (out[:, 1] <= num_frames).all()
    assert (out[:, 1] > out[:, 0]).all(), "every subtitle keeps at least one frame"
    assert (out[1:, 0] >= out[:-1, 1]).all(), "no overlap, subtitle order kept"


def test_removes_every_overlap_and_keeps_order_on_random_predictions():
    rng = np.random.default_rng(0)
    for _ in range(200):
        k, num_frames = int(rng.integers(1, 12)), int(rng.integers(12, 300))
        centres = np.sort(rng.uniform(-20, num_frames + 20, size=k)) + rng.normal(0, 15, size=k)  # some swaps
        lengths = rng.uniform(-3, 60, size=k)  # some reversed (end < start)
        spans = np.stack([centres - lengths / 2, centres + lengths / 2], axis=1)
        _check_clean(dtw_align(spans, num_frames), num_frames)


def test_clean_predictions_come_back_unchanged():
    rng = np.random.default_rng(1)
    for _ in range(50):
        cuts = np.sort(rng.choice(np.arange(1, 400), size=12, replace=False))
        spans = cuts.reshape(-1, 2)  # 6 disjoint integer spans, some touching gaps
        assert dtw_align(spans, 400).tolist() == spans.tolist()
    # touching spans stay touching
    assert dtw_align([[0, 10], [10, 20], [20, 21]], 30).tolist() == [[0, 10], [10, 20], [20, 21]]
    # in seconds, boundaries move by less than one frame
    predicted = [(1.23, 2.71), (3.0, 3.5), (3.52, 9.99)]
    aligned = align_subtitles(predicted, num_frames=300, fps=25.0)
    assert np.abs(np.array(aligned) - np.array(predicted)).max() <= 1 / 25


def _brute_force(score: np.ndarray) -> float:
    """Best total over every non-overlapping, ordered, non-empty assignment (gaps score 0)."""
    k, length = score.shape
    cum = np.concatenate([np.zeros((k, 1)), np.cumsum(score, axis=1)], axis=1)
    best = -np.inf
    for cuts in itertools.combinations_with_replacement(range(length + 1), 2 * k):
        starts, stops = cuts[0::2], cuts[1::2]  # sorted, so stops[i] <= starts[i + 1]: touching allowed
        if any(a == b for a, b in zip(starts, stops)):
            continue
        best = max(best, sum(cum[i, stops[i]] - cum[i, starts[i]] for i in range(k)))
    return best


def test_dp_is_optimal_against_brute_force():
    rng = np.random.default_rng(2)
    for _ in range(60):  # overlapping, swapped and partly outside; several independent groups
        k, num_frames = int(rng.integers(2, 4)), int(rng.integers(6, 11))
        spans = np.sort(rng.uniform(-3, num_frames + 3, size=(k, 2)), axis=1)
        out = dtw_align(spans, num_frames)
        _check_clean(out, num_frames)
        score = probability_map(spans, num_frames) - 1e-9  # what the DP maximises
        got = sum(score[i, a:b].sum() for i, (a, b) in enumerate(out))
        assert got == pytest.approx(_brute_force(score), abs=1e-6)


def test_short_subtitle_keeps_its_core_against_a_long_neighbour():
    # A long prediction [0, 100) whose tail covers a short one [80, 100): an equal split of the
    # overlap would leave the short subtitle 10 frames; the profiles leave it most of its span.
    out = dtw_align([[0, 100], [80, 100]], 120)
    assert out[0].tolist()[0] == 0 and out[1].tolist()[1] == 100
    assert out[1, 1] - out[1, 0] >= 15
    assert out[0, 1] == out[1, 0]


def test_edge_cases():
    # one subtitle: its span; one predicted after the window: the last frame
    assert dtw_align([[5, 9]], 20).tolist() == [[5, 9]]
    assert dtw_align([[50, 60]], 20).tolist() == [[19, 20]]
    assert dtw_align([[-30, -10]], 20).tolist() == [[0, 1]]
    # all predicted before the window: one frame each, in order
    assert dtw_align([[-9, -5], [-8, -4], [-7, -3]], 20).tolist() == [[0, 1], [1, 2], [2, 3]]
    # partly outside: clipped
    assert dtw_align([[-5, 5], [15, 40]], 20).tolist() == [[0, 5], [15, 20]]
    # swapped predictions still come back in subtitle order
    _check_clean(dtw_align([[50, 60], [10, 20]], 80), 80)
    assert dtw_align(np.zeros((0, 2)), 10).shape == (0, 2)
    with pytest.raises(DataError, match="cannot align 3 subtitles in 2 frames"):
        dtw_align([[0, 1], [0, 1], [0, 1]], 2)
    with pytest.raises(DataError, match="finite"):
        dtw_align([[0, np.nan]], 10)


def test_rho_default_is_the_papers():
    assert RHO == 0.2


def test_blockwise_profile_gives_the_same_path(monkeypatch):
    import glossfree.alignment.dtw as dtw

    rng = np.random.default_rng(3)
    spans = np.sort(rng.uniform(0, 200, size=(15, 2)), axis=1)
    expected = dtw_align(spans, 200)
    monkeypatch.setattr(dtw, "_BLOCK", 7)
    assert dtw_align(spans, 200).tolist() == expected.tolist()


def _full_dp_best(score: np.ndarray) -> float:
    """Best total by the plain, unbanded DP over all 2K + 1 states at every frame."""
    k, length = score.shape
    best = np.full(2 * k + 1, -np.inf)
    best[0], best[1] = 0.0, score[0, 0]
    for t in range(1, length):
        stay, prev = best, np.concatenate([[-np.inf], best[:-1]])
        skip = np.concatenate([[-np.inf, -np.inf], best[:-2]])
        skip[0::2] = -np.inf  # only a subtitle may follow the previous subtitle directly
        best = np.maximum(np.maximum(stay, prev), skip)
        best[1::2] += score[:, t]
    return max(best[-1], best[-2])


def test_banded_dp_equals_the_full_dp_on_larger_cases():
    rng = np.random.default_rng(4)
    for _ in range(40):
        k, num_frames = int(rng.integers(2, 25)), int(rng.integers(30, 250))
        centres = np.sort(rng.uniform(-10, num_frames + 10, size=k)) + rng.normal(0, 8, size=k)
        lengths = rng.uniform(1, 40, size=k)
        spans = np.stack([centres - lengths / 2, centres + lengths / 2], axis=1)
        out = dtw_align(spans, num_frames)
        _check_clean(out, num_frames)
        score = probability_map(spans, num_frames) - 1e-9
        got = sum(score[i, a:b].sum() for i, (a, b) in enumerate(out))
        assert got == pytest.approx(_full_dp_best(score), abs=1e-6)
