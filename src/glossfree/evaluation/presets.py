"""Scoring protocol presets: which BLEU and ROUGE-L variant reproduces which published numbers.

Published PHOENIX14T results come from different scorers (DESIGN.md, "Evaluation protocol"):

- ``signjoey``: neccam/slt ``signjoey/metrics.py`` -> its vendored sacrebleu 1.4.2
  ``raw_corpus_bleu`` (``tokenize="none"``, floor smoothing with value 0, cumulative BLEU-1..4 from one
  set of corpus counts) and ``external_metrics/mscoco_rouge.py`` (LCS F-measure, beta = 1.2, tokens
  from ``str.split(" ")``, averaged per sentence). Used by signjoey, Sign2GPT, GFSLT-VLP, HFA, SAGE.
- ``spamo``: eddie-euijun-hwang/SpaMo ``evaluate_results``: sacrebleu 2.x
  ``BLEU(max_ngram_order=n, tokenize="13a")`` (default exp smoothing) on lowercased text, and
  ``rouge_score`` rougeL F1 with the Porter stemmer, averaged per sentence.
- ``sacrebleu``: plain sacrebleu 2.x ``BLEU(tokenize="13a")`` per n-gram order and ``rouge_score``
  rougeL F1 without stemmer; the choice for new results (How2Sign, BOBSL).

About ``effective_order`` for ``signjoey``: the vendored 1.4.2 ``compute_bleu`` passes
``use_effective_order=True`` but never uses it when it forms the cumulative scores: an n-gram order
with no hypothesis n-grams at all keeps precision 0 and drives BLEU-n to 0. sacrebleu 2.x with
``effective_order=True`` would instead drop that order. ``effective_order=False`` in 2.x reproduces
the signjoey numbers bit for bit (the two only differ when every hypothesis is shorter than n tokens).

About ``rouge_score`` on German: its default tokenizer keeps only ``[a-z0-9]`` runs, so "über"
becomes "ber" and "straße" becomes "stra", "e". ``spamo`` keeps this on purpose (it is what SpaMo
reported); it also affects the ``sacrebleu`` preset's ROUGE-L on non-English text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from glossfree.errors import ConfigError

RougeKind = Literal["coco", "rouge_score"]


@dataclass(frozen=True)
class Preset:
    """One scoring protocol.

    Attributes:
        name: preset name (key in :data:`PRESETS`).
        tokenize: sacrebleu tokenizer name for BLEU (``"none"`` = whitespace split, ``"13a"``).
        lowercase: lowercase hypotheses and references before BLEU and ROUGE-L.
        smooth_method: sacrebleu corpus-BLEU smoothing (``"floor"``, ``"exp"``, ...).
        smooth_value: value for ``floor``/``add-k`` smoothing (``None`` = sacrebleu default).
        effective_order: sacrebleu ``effective_order`` for corpus BLEU.
        rouge: ``"coco"`` (MS-COCO LCS F-measure, beta 1.2, ``split(" ")``) or ``"rouge_score"``
            (Google ``rouge_score`` rougeL F1).
        rouge_stemmer: Porter stemmer in ``rouge_score`` (only for ``rouge="rouge_score"``).
        description: one line for reports and ``--help``.
    """

    name: str
    tokenize: str
    lowercase: bool
    smooth_method: str
    smooth_value: float | None
    effective_order: bool
    rouge: RougeKind
    rouge_stemmer: bool
    description: str


COCO_ROUGE_BETA = 1.2

PRESETS: dict[str, Preset] = {
    "signjoey": Preset(
        name="signjoey",
        tokenize="none",
        lowercase=False,
        smooth_method="floor",
        smooth_value=0.0,
        effective_order=False,
        rouge="coco",
        rouge_stemmer=False,
        description=(
            "signjoey raw_corpus_bleu (whitespace tokens, floor-0, cumulative BLEU-n) + MS-COCO ROUGE-L"
        ),
    ),
    "spamo": Preset(
        name="spamo",
        tokenize="13a",
        lowercase=True,
        smooth_method="exp",
        smooth_value=None,
        effective_order=False,
        rouge="rouge_score",
        rouge_stemmer=True,
        description=(
            "SpaMo: sacrebleu 13a BLEU per order (exp smoothing) on lowercased text"
            " + rouge_score rougeL (stemmer)"
        ),
    ),
    "sacrebleu": Preset(
        name="sacrebleu",
        tokenize="13a",
        lowercase=False,
        smooth_method="exp",
        smooth_value=None,
        effective_order=False,
        rouge="rouge_score",
        rouge_stemmer=False,
        description="sacrebleu 13a BLEU per order (exp smoothing) + rouge_score rougeL (no stemmer)",
    ),
}


def get_preset(name: str) -> Preset:
    """Look up a preset by name; an unknown name raises :class:`ConfigError` listing the valid ones."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(PRESETS))
        raise ConfigError(f"unknown evaluation preset {name!r}; valid presets: {valid}") from None
