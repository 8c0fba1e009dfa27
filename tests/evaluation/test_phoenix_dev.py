"""Presets on the real PHOENIX14T dev references (519 sentences, shared/data/phoenix14t/dev.jsonl).

A full :func:`score` on dev costs ~0.3 s (sacrebleu chrF dominates), so BLEU-only checks go through
:func:`bleu_statistics`, which is the code path :func:`score` uses for BLEU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from glossfree.evaluation import PRESETS, bleu_from_statistics, bleu_statistics, score

PRESET_NAMES = sorted(PRESETS)


@pytest.fixture(scope="module")
def dev_refs(phoenix_dir: Path) -> list[str]:
    with (phoenix_dir / "dev.jsonl").open(encoding="utf-8") as handle:
        refs = [json.loads(line)["text"] for line in handle]
    assert len(refs) == 519
    return refs


@pytest.fixture(scope="module")
def dev_hyps(dev_refs: list[str]) -> list[str]:
    """A degraded system: drop one random word (never the last) from every sentence of 3+ words."""
    rng = np.random.default_rng(0)
    hyps = []
    for ref in dev_refs:
        tokens = ref.split()
        if len(tokens) >= 3:
            del tokens[int(rng.integers(0, len(tokens) - 1))]
        hyps.append(" ".join(tokens))
    return hyps


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_dev_references_against_themselves_score_100(dev_refs, preset):
    result = score(dev_refs, dev_refs, preset=preset)
    assert result.num_sentences == 519
    for value in (result.bleu1, result.bleu2, result.bleu3, result.bleu4, result.rouge_l, result.chrf):
        assert value == pytest.approx(100.0, abs=1e-9)


def test_append_period_raises_signjoey_scores_on_dev(dev_refs, dev_hyps):
    plain = score(dev_hyps, dev_refs, preset="signjoey")
    period = score(dev_hyps, dev_refs, preset="signjoey", append_period=True)
    assert 50 < plain.bleu4 < period.bleu4 < 100
    # One more matching token per sentence (the last word is kept, so also one more matching
    # n-gram) raises every n-gram precision; the lengths grow by the same amount on both sides.
    assert plain.bleu1 < period.bleu1
    assert plain.bleu2 < period.bleu2
    assert plain.bleu3 < period.bleu3
    assert plain.rouge_l < period.rouge_l  # "." is one more LCS token
    assert period.append_period and not plain.append_period


@pytest.mark.parametrize("preset", ["spamo", "sacrebleu"])
def test_append_period_raises_13a_bleu_on_dev(dev_refs, dev_hyps, preset):
    plain = bleu_from_statistics(bleu_statistics(dev_hyps, dev_refs, preset), preset)
    period = bleu_from_statistics(bleu_statistics(dev_hyps, dev_refs, preset, append_period=True), preset)
    for n in range(1, 5):
        assert plain[f"bleu{n}"] < period[f"bleu{n}"] < 100


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_dev_statistics_summed_over_two_workers(dev_refs, dev_hyps, preset):
    whole = bleu_statistics(dev_hyps, dev_refs, preset)
    # An uneven split, as a DistributedSampler without padding would give.
    first = bleu_statistics(dev_hyps[:260], dev_refs[:260], preset)
    second = bleu_statistics(dev_hyps[260:], dev_refs[260:], preset)
    assert (first + second).tolist() == whole.tolist()
    assert first.tolist() != whole.tolist()
    # The summed counts give the single-process corpus BLEU-4 of sacrebleu itself.
    spec = PRESETS[preset]
    reference_metric = BLEU(
        tokenize=spec.tokenize,
        lowercase=spec.lowercase,
        smooth_method=spec.smooth_method,
        smooth_value=spec.smooth_value,
    )
    expected = reference_metric.corpus_score(dev_hyps, [dev_refs]).score
    assert bleu_from_statistics(first + second, preset)["bleu4"] == pytest.approx(expected, abs=1e-9)
