"""CIDEr-D: hand-computed cases and values of the coco-caption reference (pycocoevalcap 1.2)."""

from __future__ import annotations

import math

import pytest

from glossfree.errors import DataError
from glossfree.evaluation.cider import cider_d, coco_tokenize

L = math.log(2.0)  # log N for a two-segment corpus; every n-gram below has df <= 1, so idf = log 2


def test_hand_computed_identical_and_disjoint_segments():
    # Segment 0: "a b" vs "a b": cosine 1 for unigrams and bigrams, 0 for the (absent) 3- and
    # 4-grams, no length difference -> 10 * (1 + 1 + 0 + 0) / 4 = 5. Segment 1: "c" vs "d" share
    # nothing -> 0. Corpus: 2.5.
    result = cider_d(["a b", "c"], [["a b"], ["d"]], tokenize=False)
    assert result.per_segment == pytest.approx((5.0, 0.0))
    assert result.score == pytest.approx(2.5)
    assert result.score_x100 == pytest.approx(250.0)


def test_hand_computed_clipping_norms_and_length_penalty():
    # Segment 0: hyp "a b c" vs ref "a b" (every weight is tf * log 2):
    #   unigrams: (L*L + L*L) / (sqrt(3) L * sqrt(2) L) = 2 / sqrt(6)
    #   bigrams:  (L*L) / (sqrt(2) L * L)               = 1 / sqrt(2)
    #   trigrams: the reference has none (norm 0)        = 0
    #   length = bigram counts 2 vs 1 -> penalty exp(-1 / (2 * 6^2))
    result = cider_d(["a b c", "x"], [["a b"], ["y"]], tokenize=False)
    expected = 10 * math.exp(-1 / 72) * (2 / math.sqrt(6) + 1 / math.sqrt(2)) / 4
    assert result.per_segment[0] == pytest.approx(expected)
    # clipping: repeating a matched word does not raise the numerator (min(2L, L) * L = L*L)
    repeated = cider_d(["a a", "x"], [["a"], ["y"]], tokenize=False).per_segment[0]
    # unigrams: L*L / (2L * L) = 1/2; no bigram in the reference; lengths 1 vs 0
    assert repeated == pytest.approx(10 * math.exp(-1 / 72) * 0.5 / 4)


def test_matches_coco_caption_reference_values():
    # Values printed by pycocoevalcap 1.2 ``Cider().compute_score(gts, res)`` on these inputs.
    refs = [
        ["the weather will be rainy tomorrow in the north", "tomorrow it rains in the north"],
        ["a cat sat on the mat", "the cat is sitting on the mat"],
        ["tomorrow it will be sunny in the south", "sunny weather in the south tomorrow"],
        ["the man reads the newspaper"],
    ]
    hyps = ["tomorrow it will rain in the north", "the cat sat on a mat", "the weather will be sunny", "a woman reads"]
    result = cider_d(hyps, refs, tokenize=False)
    assert result.score == pytest.approx(2.112821729272432, abs=1e-12)
    assert result.per_segment == pytest.approx(
        (2.6285436809804823, 3.02722528931326, 2.007218389373681, 0.7882995574223045), abs=1e-12
    )
    small = cider_d(["x y z", "q"], [["x y z w", "x y"], ["x q"]], tokenize=False)
    assert small.per_segment == pytest.approx((4.628163371910207, 2.465517791859791), abs=1e-12)


def test_one_segment_corpus_scores_zero_as_in_the_reference():
    # log N = 0 and every reference n-gram has df = 1: all weights vanish (coco-caption behaves so).
    assert cider_d(["a b"], [["a b"]], tokenize=False).score == 0.0


def test_tokenizer_and_errors():
    assert coco_tokenize('The Cat, it "sat" -- on the mat... Didn\'t it?') == "the cat it sat on the mat didn't it"
    raw = cider_d(["The cat sat.", "A dog!"], ["the cat sat", "a dog ran"])
    clean = cider_d(["the cat sat", "a dog"], ["the cat sat", "a dog ran"], tokenize=False)
    assert raw.per_segment == clean.per_segment and raw.score > 0
    assert cider_d(["The cat sat.", "A dog!"], ["the cat sat", "a dog ran"], tokenize=False).score < raw.score
    with pytest.raises(DataError, match="2 hypotheses for 1 reference sets"):
        cider_d(["a", "b"], [["a"]])
    with pytest.raises(DataError, match="segment 0 has no reference"):
        cider_d(["a"], [[]])


def test_score_reports_cider_beside_bleu():
    from glossfree.evaluation import score

    hyps = ["es regnet im norden", "morgen scheint die sonne"]
    refs = ["es regnet im norden", "morgen regnet es"]
    scores = score(hyps, refs, preset="signjoey")
    assert scores.cider == pytest.approx(cider_d(hyps, refs).score)
    assert "CIDEr-D" in scores.signature
