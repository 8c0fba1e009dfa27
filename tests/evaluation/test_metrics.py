"""Metric presets against hand-computed cases, signjoey's own BLEU formula and sacrebleu objects."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF

from glossfree.errors import ConfigError
from glossfree.evaluation import (
    BLEU_STATS_SIZE,
    PRESETS,
    Scores,
    bleu_from_statistics,
    bleu_statistics,
    coco_rouge_l,
    get_preset,
    lcs_length,
    score,
    sentence_scores,
)

# A small corpus with casing and punctuation, so that tokenizers and lowercasing make a difference.
HYPS = [
    "am Tag scheint die Sonne, im Norden regnet es",
    "morgen wird es kalt .",
    "tiefer luftdruck bestimmt unser wetter",
    "im süden gibt es gewitter und starke böen",
    "",
    "es bleibt trocken",
]
REFS = [
    "am tag scheint im süden die sonne, im norden regnet es",
    "morgen wird es sehr kalt.",
    "tiefer luftdruck bestimmt in den nächsten tagen unser wetter",
    "im süden gibt es schauer und gewitter mit starken böen",
    "in der nacht wird es frostig",
    "es bleibt meist trocken",
]


def signjoey_raw_corpus_bleu(hyps: list[str], refs: list[str]) -> list[float]:
    """Independent re-statement of signjoey's vendored sacrebleu 1.4.2 ``raw_corpus_bleu(...).scores``.

    neccam/slt signjoey/external_metrics/sacrebleu.py: whitespace tokens, clipped n-gram counts summed
    over the corpus, floor smoothing with value 0, ``my_log(0) = -9999999999``, and cumulative
    BLEU-k = BP * exp(mean of log p_1..p_k) for k = 1..4 regardless of ``use_effective_order``.
    """
    correct, total = [0] * 4, [0] * 4
    sys_len = ref_len = 0
    for hyp, ref in zip(hyps, refs):
        h, r = hyp.rstrip().split(), ref.rstrip().split()
        sys_len, ref_len = sys_len + len(h), ref_len + len(r)
        for n in range(1, 5):
            h_ngrams = Counter(tuple(h[i : i + n]) for i in range(len(h) - n + 1))
            r_ngrams = Counter(tuple(r[i : i + n]) for i in range(len(r) - n + 1))
            correct[n - 1] += sum(min(c, r_ngrams[g]) for g, c in h_ngrams.items())
            total[n - 1] += sum(h_ngrams.values())
    precisions = [0.0] * 4
    for n in range(4):
        if total[n] == 0:
            break
        precisions[n] = 100.0 * correct[n] / total[n] if correct[n] else 0.0
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0

    def my_log(x: float) -> float:
        return -9999999999 if x == 0.0 else math.log(x)

    return [bp * math.exp(sum(map(my_log, precisions[:k])) / k) for k in range(1, 5)]


def bleus(s: Scores) -> list[float]:
    return [s.bleu1, s.bleu2, s.bleu3, s.bleu4]


# ----------------------------------------------------------------------------- signjoey BLEU


def test_signjoey_hand_computed_tiny_corpus():
    # Sentence 1: hyp "the cat sat on the mat" vs ref "the cat is on the mat" (6 vs 6 tokens)
    #   1-grams: the x2 (ref has 2), cat, on, mat match, sat does not   -> 5/6
    #   2-grams: "the cat", "on the", "the mat" match of 5               -> 3/5
    #   3-grams: "on the mat" matches of 4                               -> 1/4
    #   4-grams: none of "the cat sat on", "cat sat on the", "sat on the mat" -> 0/3
    # Sentence 2: hyp "a b" vs ref "a b c d": 1-grams 2/2, 2-grams 1/1, no 3- or 4-grams.
    # Corpus: p1 = 7/8, p2 = 4/6, p3 = 1/4, p4 = 0/3; hyp_len 8 < ref_len 10 -> BP = exp(1 - 10/8).
    hyps = ["the cat sat on the mat", "a b"]
    refs = ["the cat is on the mat", "a b c d"]
    bp = math.exp(1 - 10 / 8)
    expected = [
        100 * bp * (7 / 8),
        100 * bp * (7 / 8 * 4 / 6) ** (1 / 2),
        100 * bp * (7 / 8 * 4 / 6 * 1 / 4) ** (1 / 3),
        0.0,  # p4 = 0 and no smoothing (floor 0)
    ]
    result = score(hyps, refs, preset="signjoey")
    assert bleus(result) == pytest.approx(expected, abs=1e-9)
    assert bleu_statistics(hyps, refs, "signjoey").tolist() == [8, 10, 7, 4, 1, 0, 8, 6, 4, 3]

    # Sentence 1 alone: BP = 1, BLEU-1 = 5/6, BLEU-2 = sqrt(1/2), BLEU-3 = (1/8)^(1/3) = 1/2.
    single = score(hyps[:1], refs[:1], preset="signjoey")
    assert bleus(single) == pytest.approx([100 * 5 / 6, 100 * math.sqrt(0.5), 50.0, 0.0], abs=1e-9)
    # SpaMo's exp smoothing gives p4 = 1 / (2 * 3) instead of 0: BLEU-4 = (5/6 * 3/5 * 1/4 * 1/6)^(1/4).
    assert score(hyps[:1], refs[:1], preset="spamo").bleu4 == pytest.approx(100 * (1 / 48) ** 0.25)


def test_signjoey_equals_signjoey_formula_and_sacrebleu_floor0():
    result = score(HYPS, REFS, preset="signjoey")
    assert bleus(result) == pytest.approx(signjoey_raw_corpus_bleu(HYPS, REFS), abs=1e-9)
    for n, value in enumerate(bleus(result), start=1):
        for effective_order in (True, False):
            metric = BLEU(
                tokenize="none",
                max_ngram_order=n,
                smooth_method="floor",
                smooth_value=0.0,
                effective_order=effective_order,
            )
            assert value == pytest.approx(metric.corpus_score(HYPS, [REFS]).score, abs=1e-9)
    assert 0 < result.bleu4 < result.bleu3 < result.bleu2 < result.bleu1 < 100


def test_signjoey_short_corpus_follows_signjoey_not_effective_order():
    # Every hypothesis has at most 3 tokens, so there are no 4-grams at all. signjoey's code keeps
    # p4 = 0 and reports BLEU-4 = 0; sacrebleu 2.x with effective_order=True would drop order 4.
    hyps, refs = ["a b c", "d e"], ["a b c x", "d e"]
    result = score(hyps, refs, preset="signjoey")
    assert result.bleu4 == 0.0
    assert bleus(result) == pytest.approx(signjoey_raw_corpus_bleu(hyps, refs), abs=1e-9)
    eff = BLEU(tokenize="none", smooth_method="floor", smooth_value=0.0, effective_order=True)
    assert eff.corpus_score(hyps, [refs]).score > 0


def test_signjoey_uses_whitespace_tokens_and_keeps_case():
    # "sonne," is one token for signjoey (no tokenization) but two for 13a.
    hyps, refs = ["die Sonne scheint"], ["die sonne, scheint"]
    joey = bleu_statistics(hyps, refs, "signjoey")
    spamo = bleu_statistics(hyps, refs, "spamo")
    assert joey[:3].tolist() == [3, 3, 2]  # "die", "scheint" match; "Sonne" vs "sonne," does not
    assert spamo[:3].tolist() == [3, 4, 3]  # lowercased, 13a splits off the comma


# ----------------------------------------------------------------------------- spamo / sacrebleu BLEU


def test_spamo_equals_sacrebleu_13a_per_order_on_lowercased_text():
    result = score(HYPS, REFS, preset="spamo")
    lower_h, lower_r = [h.lower() for h in HYPS], [r.lower() for r in REFS]
    for n, value in enumerate(bleus(result), start=1):
        expected = BLEU(max_ngram_order=n, tokenize="13a").corpus_score(lower_h, [lower_r]).score
        assert value == pytest.approx(expected, abs=1e-9)
    # Lowercasing matters on this corpus ("Tag"/"tag", "Sonne"/"sonne"):
    assert result.bleu1 > score(HYPS, REFS, preset="sacrebleu").bleu1


def test_sacrebleu_preset_equals_sacrebleu_13a_per_order():
    result = score(HYPS, REFS, preset="sacrebleu")
    for n, value in enumerate(bleus(result), start=1):
        expected = BLEU(max_ngram_order=n, tokenize="13a").corpus_score(HYPS, [REFS]).score
        assert value == pytest.approx(expected, abs=1e-9)
    assert "tok:13a|smooth:exp" in result.signature
    assert "case:mixed" in result.signature


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_chrf_is_sacrebleu_corpus_chrf(preset):
    result = score(HYPS, REFS, preset=preset)
    lower = get_preset(preset).lowercase
    h = [x.lower() for x in HYPS] if lower else HYPS
    r = [x.lower() for x in REFS] if lower else REFS
    assert result.chrf == pytest.approx(CHRF().corpus_score(h, [r]).score, abs=1e-9)
    assert "nc:6|nw:0" in result.signature


# ----------------------------------------------------------------------------- ROUGE-L


def test_lcs_hand_cases():
    assert lcs_length("a b c d".split(), "a c d".split()) == 3
    assert lcs_length("a b c".split(), "x y".split()) == 0
    assert lcs_length("a x b y".split(), "b a".split()) == 1
    assert lcs_length([], "a".split()) == 0


def test_coco_rouge_hand_cases():
    beta2 = 1.2**2
    assert coco_rouge_l("a b c", "a b c") == pytest.approx(1.0)  # identical
    assert coco_rouge_l("x y z", "a b c") == 0.0  # no overlap
    # hyp "a b" vs ref "a b c d": LCS 2, P = 1, R = 1/2 -> F = 2.44 * 0.5 / (0.5 + 1.44) = 0.62887
    assert coco_rouge_l("a b", "a b c d") == pytest.approx((1 + beta2) * 0.5 / (0.5 + beta2))
    # hyp "a x b y" vs ref "b a": LCS 1, P = 1/4, R = 1/2 -> F = 2.44 * 0.125 / (0.5 + 0.36) = 0.35465
    assert coco_rouge_l("a x b y", "b a") == pytest.approx((1 + beta2) * 0.125 / (0.5 + beta2 * 0.25))
    # P and R swap roles: beta weights recall, so the two directions differ.
    assert coco_rouge_l("a b c d", "a b") != pytest.approx(coco_rouge_l("a b", "a b c d"))
    # mscoco_rouge splits on single spaces: "".split(" ") is one empty token, LCS 0 with "a b".
    assert coco_rouge_l("", "a b") == 0.0


def test_signjoey_rouge_is_sentence_mean_of_coco():
    result = score(HYPS, REFS, preset="signjoey")
    expected = 100 * np.mean([coco_rouge_l(h, r) for h, r in zip(HYPS, REFS)])
    assert result.rouge_l == pytest.approx(expected, abs=1e-9)
    assert "beta=1.2" in result.signature


@pytest.mark.parametrize(("preset", "stemmer"), [("spamo", True), ("sacrebleu", False)])
def test_rouge_score_presets(preset, stemmer):
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=stemmer)
    expected = 100 * np.mean([scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(HYPS, REFS)])
    assert score(HYPS, REFS, preset=preset).rouge_l == pytest.approx(expected, abs=1e-9)


def test_stemmer_only_in_spamo():
    hyps, refs = ["the cats were running"], ["the cat was run"]
    assert score(hyps, refs, preset="spamo").rouge_l > score(hyps, refs, preset="sacrebleu").rouge_l


# ----------------------------------------------------------------------------- append_period


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_append_period_adds_a_matching_final_token(preset):
    # Three-token sentences have no 4-grams: BLEU-4 is 0. With " ." each has one matching 4-gram.
    hyps = refs = ["es wird kalt", "der wind weht"]
    assert score(hyps, refs, preset=preset).bleu4 == 0.0
    assert score(hyps, refs, preset=preset, append_period=True).bleu4 == pytest.approx(100.0)
    stats = bleu_statistics(hyps, refs, preset, append_period=True)
    assert stats[:2].tolist() == [8, 8]  # every sentence got one more token on both sides


def test_append_period_on_empty_hypothesis_gives_one_token():
    stats = bleu_statistics(["", "a b"], ["x", "a b"], "signjoey", append_period=True)
    # hyps "." and "a b ." (4 tokens), refs "x ." and "a b ." (5 tokens); "." matches twice.
    assert stats[:3].tolist() == [4, 5, 4]
    assert score(["", "a b"], ["x", "a b"], append_period=True).append_period is True


# ----------------------------------------------------------------------------- statistics across workers


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("append_period", [False, True])
def test_summed_statistics_equal_whole_corpus(preset, append_period):
    whole = score(HYPS, REFS, preset=preset, append_period=append_period)
    parts = [
        bleu_statistics(HYPS[:2], REFS[:2], preset, append_period=append_period),
        bleu_statistics(HYPS[2:5], REFS[2:5], preset, append_period=append_period),
        bleu_statistics(HYPS[5:], REFS[5:], preset, append_period=append_period),
    ]
    summed = np.sum(parts, axis=0)
    assert summed.shape == (BLEU_STATS_SIZE,)
    assert summed.tolist() == bleu_statistics(HYPS, REFS, preset, append_period=append_period).tolist()
    from_stats = bleu_from_statistics(summed, preset)
    assert from_stats == dict(zip(["bleu1", "bleu2", "bleu3", "bleu4"], bleus(whole)))
    assert bleu_from_statistics(summed.tolist(), preset) == from_stats


def test_worker_without_samples_contributes_zeros():
    empty = bleu_statistics([], [], "spamo")
    assert empty.tolist() == [0] * BLEU_STATS_SIZE
    full = bleu_statistics(HYPS, REFS, "spamo")
    assert bleu_from_statistics(full + empty, "spamo") == bleu_from_statistics(full, "spamo")


def test_statistics_validation():
    with pytest.raises(ValueError, match=r"shape \(10,\), got \(9,\)"):
        bleu_from_statistics(np.zeros(9, dtype=np.int64))
    with pytest.raises(ValueError, match="non-negative integer counts"):
        bleu_from_statistics([4, 4, 1, 1, 1, 1, 4, 3, 2, -1])
    with pytest.raises(ValueError, match="non-negative integer counts"):
        bleu_from_statistics([4.5, 4, 1, 1, 1, 1, 4, 3, 2, 1])
    with pytest.raises(ConfigError, match="valid presets: sacrebleu, signjoey, spamo"):
        bleu_from_statistics(np.zeros(10), "bleurt")


# ----------------------------------------------------------------------------- empty hyps, per sentence


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_empty_hypotheses_score_zero_without_crash(preset):
    result = score(["", ""], ["a b c d e", "f g"], preset=preset)
    assert (result.bleu1, result.bleu4, result.rouge_l, result.chrf) == (0.0, 0.0, 0.0, 0.0)
    assert result.num_sentences == 2
    rows = sentence_scores(["", "f g"], ["a b c d e", "f g"], preset=preset)
    assert rows[0] == {"bleu4": 0.0, "rouge_l": 0.0, "chrf": 0.0}
    assert rows[1]["rouge_l"] == pytest.approx(100.0)
    assert rows[1]["chrf"] == pytest.approx(100.0)


def test_empty_hypothesis_adds_reference_length_only():
    stats = bleu_statistics(["", "a b c d"], ["x y", "a b c d"], "signjoey")
    assert stats.tolist() == [4, 6, 4, 3, 2, 1, 4, 3, 2, 1]
    assert score(["", "a b c d"], ["x y", "a b c d"]).bleu4 == pytest.approx(100 * math.exp(1 - 6 / 4))


def test_sentence_scores_use_sacrebleu_sentence_bleu():
    rows = sentence_scores(HYPS, REFS, preset="spamo")
    assert len(rows) == len(HYPS)
    for row, hyp, ref in zip(rows, HYPS, REFS):
        expected = BLEU(tokenize="13a", lowercase=True, effective_order=True).sentence_score(hyp, [ref])
        assert row["bleu4"] == pytest.approx(expected.score, abs=1e-9)
        chrf = CHRF().sentence_score(hyp.lower(), [ref.lower()]).score
        assert row["chrf"] == pytest.approx(chrf, abs=1e-9)
    joey = sentence_scores(HYPS, REFS, preset="signjoey")
    expected_rouge = [100 * coco_rouge_l(h, r) for h, r in zip(HYPS, REFS)]
    assert [r["rouge_l"] for r in joey] == pytest.approx(expected_rouge)


# ----------------------------------------------------------------------------- Scores, errors


def test_scores_fields_and_signature():
    result = score(HYPS, REFS, preset="signjoey")
    data = result.as_dict()
    assert set(data) == {
        "bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "chrf", "cider",
        "preset", "signature", "num_sentences", "append_period",
    }  # fmt: skip
    assert data["preset"] == "signjoey" and data["num_sentences"] == len(HYPS)
    assert "tok:none|smooth:floor[0.00]" in result.signature
    assert "append_period:no" in result.signature


def test_mismatched_lengths_name_both():
    with pytest.raises(ValueError, match="3 hypotheses vs 2 references"):
        score(["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="1 hypotheses vs 2 references"):
        bleu_statistics(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="2 hypotheses vs 1 references"):
        sentence_scores(["a", "b"], ["a"])


def test_empty_corpus_and_non_string_rejected():
    with pytest.raises(ValueError, match="nothing to score"):
        score([], [])
    with pytest.raises(TypeError, match=r"hypotheses\[1\] is NoneType, expected str"):
        score(["a", None], ["a", "b"])  # type: ignore[list-item]


def test_unknown_preset_lists_valid_ones():
    message = r"unknown evaluation preset 'nlgeval'; valid presets: sacrebleu, signjoey, spamo"
    with pytest.raises(ConfigError, match=message):
        score(["a"], ["a"], preset="nlgeval")


def test_append_period_leaves_rouge_score_rouge_unchanged():
    # rouge_score's tokenizer keeps only [a-z0-9] runs, so the appended "." never reaches its LCS;
    # the MS-COCO ROUGE of signjoey counts it as a matching token.
    hyps, refs = ["es wird kalt"], ["morgen wird es kalt"]
    for preset in ("spamo", "sacrebleu"):
        plain = score(hyps, refs, preset=preset)
        period = score(hyps, refs, preset=preset, append_period=True)
        assert period.rouge_l == pytest.approx(plain.rouge_l)
    # coco: LCS("es wird kalt", "morgen wird es kalt") = 2 ("wird kalt" or "es kalt"), P = 2/3, R = 2/4;
    # with " .": LCS 3, P = 3/4, R = 3/5.
    beta2 = 1.2**2
    expected_plain = (1 + beta2) * (2 / 3) * (2 / 4) / (2 / 4 + beta2 * 2 / 3)
    expected_period = (1 + beta2) * (3 / 4) * (3 / 5) / (3 / 5 + beta2 * 3 / 4)
    assert score(hyps, refs).rouge_l == pytest.approx(100 * expected_plain)
    assert score(hyps, refs, append_period=True).rouge_l == pytest.approx(100 * expected_period)


def test_signjoey_matches_signjoey_formula_on_random_corpora():
    # Random corpora over a 5-word vocabulary with 0-6 tokens per sentence: empty hypotheses,
    # sentences shorter than 4 tokens, repeated n-grams (clipping) and both BP branches all occur.
    rng = np.random.default_rng(0)
    vocab = np.array(["a", "b", "c", "d", "e"])
    for _ in range(30):
        size = int(rng.integers(1, 6))
        hyps = [" ".join(rng.choice(vocab, int(rng.integers(0, 7)))) for _ in range(size)]
        refs = [" ".join(rng.choice(vocab, int(rng.integers(1, 7)))) for _ in range(size)]
        expected = signjoey_raw_corpus_bleu(hyps, refs)
        result = score(hyps, refs, preset="signjoey")
        assert bleus(result) == pytest.approx(expected, abs=1e-9), (hyps, refs)
