"""Presets on the real PHOENIX14T dev references (519 sentences, shared/data/phoenix14t/dev.jsonl)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glossfree.evaluation import PRESETS, Scores, bleu_from_statistics, bleu_statistics, score

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


@pytest.fixture(scope="module")
def plain_dev_scores(dev_refs: list[str], dev_hyps: list[str]) -> dict[str, Scores]:
    """Scores of the degraded system per preset, computed once for the tests below (~0.3 s each)."""
    return {preset: score(dev_hyps, dev_refs, preset=preset) for preset in PRESET_NAMES}


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_dev_references_against_themselves_score_100(dev_refs, preset):
    result = score(dev_refs, dev_refs, preset=preset)
    assert result.num_sentences == 519
    for value in (result.bleu1, result.bleu2, result.bleu3, result.bleu4, result.rouge_l, result.chrf):
        assert value == pytest.approx(100.0, abs=1e-9)


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_append_period_moves_scores_up_on_dev(dev_refs, dev_hyps, plain_dev_scores, preset):
    plain = plain_dev_scores[preset]
    period = score(dev_hyps, dev_refs, preset=preset, append_period=True)
    assert 50 < plain.bleu4 < 100
    # One more matching token (and n-gram, since the last word is kept) per sentence raises every
    # n-gram precision, and lengths grow by the same amount on both sides.
    for before, after in zip(
        (plain.bleu1, plain.bleu2, plain.bleu3, plain.bleu4),
        (period.bleu1, period.bleu2, period.bleu3, period.bleu4),
    ):
        assert after > before
    if PRESETS[preset].rouge == "coco":
        assert period.rouge_l > plain.rouge_l  # "." is an extra LCS token
    else:
        assert period.rouge_l == pytest.approx(plain.rouge_l)  # rouge_score's tokenizer drops "."


@pytest.mark.parametrize("preset", PRESET_NAMES)
def test_dev_statistics_summed_over_two_workers(dev_refs, dev_hyps, plain_dev_scores, preset):
    whole = bleu_statistics(dev_hyps, dev_refs, preset)
    # An uneven split, as a DistributedSampler without padding would give.
    first = bleu_statistics(dev_hyps[:260], dev_refs[:260], preset)
    second = bleu_statistics(dev_hyps[260:], dev_refs[260:], preset)
    assert (first + second).tolist() == whole.tolist()
    expected = plain_dev_scores[preset]
    assert bleu_from_statistics(first + second, preset) == {
        "bleu1": expected.bleu1,
        "bleu2": expected.bleu2,
        "bleu3": expected.bleu3,
        "bleu4": expected.bleu4,
    }
