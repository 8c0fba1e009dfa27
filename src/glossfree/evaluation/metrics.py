"""Corpus and sentence metrics for SLT output: BLEU-1..4, ROUGE-L, chrF under a protocol preset.

BLEU always goes through one set of corpus counts (:func:`bleu_statistics`), so counts gathered on
several workers and summed give exactly the single-process corpus BLEU (:func:`bleu_from_statistics`),
as facebookresearch/ssvp_slt ``engine_translation.evaluate`` does. The counts and the score formula
are sacrebleu 2.x's (``BLEU`` n-gram extraction and ``BLEU.compute_bleu``); presets choose the
tokenizer, casing and smoothing (see :mod:`glossfree.evaluation.presets`).

ROUGE-L is either the MS-COCO caption evaluation F-measure used by signjoey
(neccam/slt ``signjoey/external_metrics/mscoco_rouge.py``, re-implemented here: LCS over tokens from
``str.split(" ")``, beta = 1.2) or Google's ``rouge_score`` rougeL F1; both are averaged over
sentences and reported x100. chrF is sacrebleu ``CHRF`` (the preset's casing) at corpus level in
every preset.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version as _package_version
from typing import Any

import numpy as np
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.metrics.bleu import BLEUSignature

from glossfree.evaluation.cider import cider_d
from glossfree.evaluation.presets import COCO_ROUGE_BETA, Preset, get_preset

MAX_NGRAM_ORDER = 4
# Layout of the BLEU sufficient statistics (sacrebleu's own segment-statistics layout):
# [hyp_len, ref_len, correct_1..correct_4, total_1..total_4]
BLEU_STATS_SIZE = 2 + 2 * MAX_NGRAM_ORDER


@dataclass(frozen=True)
class Scores:
    """Corpus scores of one evaluation, all on a 0-100 scale.

    ``signature`` names every scorer and its settings (the sacrebleu signatures for BLEU and chrF, an
    explicit description for ROUGE-L), so a number can always be traced to the protocol behind it.
    """

    bleu1: float
    bleu2: float
    bleu3: float
    bleu4: float
    rouge_l: float
    chrf: float
    preset: str
    signature: str
    num_sentences: int
    append_period: bool = False
    cider: float | None = None  # CIDEr-D on coco-caption's scale (paper 004 prints it so: 1.77)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable) of every field."""
        return asdict(self)


# ----------------------------------------------------------------------------- input checks


def _check_pair(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[list[str], list[str]]:
    hyps, refs = list(hypotheses), list(references)
    if len(hyps) != len(refs):
        raise ValueError(
            f"hypotheses and references differ in length: {len(hyps)} hypotheses vs {len(refs)} references"
        )
    if not hyps:
        raise ValueError("nothing to score: 0 hypotheses and 0 references")
    for name, texts in (("hypotheses", hyps), ("references", refs)):
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{name}[{index}] is {type(text).__name__}, expected str")
    return hyps, refs


def _with_period(text: str) -> str:
    """signjoey's annotation files end every sentence with the token ``"."``."""
    return f"{text} ." if text else "."


def _prepare(
    hypotheses: Sequence[str], references: Sequence[str], spec: Preset, append_period: bool
) -> tuple[list[str], list[str]]:
    """Validate, then apply the text transforms every metric of the preset sees."""
    hyps, refs = _check_pair(hypotheses, references)
    if append_period:
        hyps = [_with_period(h) for h in hyps]
        refs = [_with_period(r) for r in refs]
    if spec.lowercase:
        hyps = [h.lower() for h in hyps]
        refs = [r.lower() for r in refs]
    return hyps, refs


# ----------------------------------------------------------------------------- BLEU


def _bleu_metric(spec: Preset, max_ngram_order: int = MAX_NGRAM_ORDER) -> BLEU:
    # force=True only silences sacrebleu's "lines end in a tokenized period" warning, which
    # append_period triggers on purpose; it does not change any count.
    return BLEU(
        lowercase=spec.lowercase,
        force=True,
        tokenize=spec.tokenize,
        smooth_method=spec.smooth_method,
        smooth_value=spec.smooth_value,
        max_ngram_order=max_ngram_order,
        effective_order=spec.effective_order,
    )


def _bleu_statistics_prepared(hyps: list[str], refs: list[str], spec: Preset) -> np.ndarray:
    result = _bleu_metric(spec).corpus_score(hyps, [refs])
    stats = [result.sys_len, result.ref_len, *result.counts, *result.totals]
    return np.asarray(stats, dtype=np.int64)  # [BLEU_STATS_SIZE]


def bleu_statistics(
    hypotheses: Sequence[str],
    references: Sequence[str],
    preset: str = "signjoey",
    *,
    append_period: bool = False,
) -> np.ndarray:
    """Sufficient statistics of corpus BLEU under ``preset``, summable across shards.

    Returns an int64 array of shape ``[BLEU_STATS_SIZE]``:
    ``[hyp_len, ref_len, correct_1, ..., correct_4, total_1, ..., total_4]`` (sacrebleu's layout;
    ``correct_n`` are clipped n-gram matches, ``total_n`` hypothesis n-grams, lengths in tokens after
    the preset's tokenizer and casing). Sum the arrays of disjoint shards (e.g. ``all_reduce`` of
    ``torch.from_numpy(stats)``) and pass the sum to :func:`bleu_from_statistics`. A worker with no
    samples contributes zeros (empty lists are allowed here, unlike in :func:`score`).
    """
    spec = get_preset(preset)
    if len(hypotheses) == 0 and len(references) == 0:
        return np.zeros(BLEU_STATS_SIZE, dtype=np.int64)
    hyps, refs = _prepare(hypotheses, references, spec, append_period)
    return _bleu_statistics_prepared(hyps, refs, spec)


def _validate_statistics(stats: Any) -> np.ndarray:
    array = np.asarray(stats)
    if array.shape != (BLEU_STATS_SIZE,):
        raise ValueError(f"BLEU statistics must have shape ({BLEU_STATS_SIZE},), got {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array < 0) or np.any(array != np.round(array)):
        raise ValueError(f"BLEU statistics must be non-negative integer counts, got {array.tolist()}")
    return array.astype(np.int64)


def _bleu_from_statistics(stats: np.ndarray, spec: Preset) -> dict[str, float]:
    hyp_len, ref_len = int(stats[0]), int(stats[1])
    correct = [int(c) for c in stats[2 : 2 + MAX_NGRAM_ORDER]]
    total = [int(t) for t in stats[2 + MAX_NGRAM_ORDER :]]
    scores = {}
    for n in range(1, MAX_NGRAM_ORDER + 1):
        # BLEU-n uses the first n orders only; sacrebleu's counts for order k <= n do not depend on
        # max_ngram_order, so this equals BLEU(max_ngram_order=n).corpus_score(...) exactly.
        result = BLEU.compute_bleu(
            correct=correct[:n],
            total=total[:n],
            sys_len=hyp_len,
            ref_len=ref_len,
            smooth_method=spec.smooth_method,
            smooth_value=spec.smooth_value,
            effective_order=spec.effective_order,
            max_ngram_order=n,
        )
        scores[f"bleu{n}"] = float(result.score)
    return scores


def bleu_from_statistics(stats: Any, preset: str = "signjoey") -> dict[str, float]:
    """Corpus BLEU-1..4 (keys ``bleu1``..``bleu4``, 0-100) from (summed) :func:`bleu_statistics`.

    ``stats`` may be a numpy array, a list or a CPU tensor of shape ``[BLEU_STATS_SIZE]``.
    """
    spec = get_preset(preset)
    return _bleu_from_statistics(_validate_statistics(stats), spec)


def _bleu_signature(spec: Preset) -> str:
    # The same object sacrebleu's BLEU.get_signature() builds, for one reference per segment.
    signature = BLEUSignature({**vars(_bleu_metric(spec)), "num_refs": 1}).format()
    if spec.name == "signjoey":
        how = "BLEU-n cumulative (BP x geometric mean of p1..pn) from one set of corpus counts"
    else:
        how = "BLEU-n = BLEU(max_ngram_order=n)"
    return f"BLEU: {signature} ({how})"


# ----------------------------------------------------------------------------- ROUGE-L


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (dynamic programming, O(|a||b|))."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token_a in a:
        current = [0]
        for j, token_b in enumerate(b, start=1):
            if token_a == token_b:
                current.append(previous[j - 1] + 1)
            else:
                current.append(max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def coco_rouge_l(hypothesis: str, reference: str, *, beta: float = COCO_ROUGE_BETA) -> float:
    """MS-COCO ROUGE-L of one sentence (0-1), as signjoey's ``mscoco_rouge.calc_score``.

    Tokens come from ``str.split(" ")`` (so ``""`` is one empty token, as in the original);
    ``F = (1 + beta^2) P R / (R + beta^2 P)`` with ``P = LCS/|hyp|``, ``R = LCS/|ref|``; 0 when P or R is 0.
    """
    hyp_tokens = hypothesis.split(" ")
    ref_tokens = reference.split(" ")
    lcs = lcs_length(ref_tokens, hyp_tokens)
    precision = lcs / len(hyp_tokens)
    recall = lcs / len(ref_tokens)
    if precision == 0 or recall == 0:
        return 0.0
    return ((1 + beta**2) * precision * recall) / (recall + beta**2 * precision)


@functools.lru_cache(maxsize=2)
def _rouge_scorer(use_stemmer: bool) -> Any:
    # Imported here: rouge_score pulls in nltk (~1 s), which CLI start-up should not pay for.
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)


def _sentence_rouge(hyp: str, ref: str, spec: Preset) -> float:
    if spec.rouge == "coco":
        return coco_rouge_l(hyp, ref)
    return float(_rouge_scorer(spec.rouge_stemmer).score(ref, hyp)["rougeL"].fmeasure)


def _rouge_signature(spec: Preset) -> str:
    if spec.rouge == "coco":
        return (
            f"ROUGE-L: MS-COCO LCS F-measure (signjoey mscoco_rouge), beta={COCO_ROUGE_BETA}, "
            "tokens split(' '), sentence mean x100"
        )
    stemmer = "yes" if spec.rouge_stemmer else "no"
    return (
        f"ROUGE-L: rouge_score {_package_version('rouge-score')} rougeL F1, stemmer:{stemmer}, "
        "sentence mean x100"
    )


# ----------------------------------------------------------------------------- public scoring


def score(
    hypotheses: Sequence[str],
    references: Sequence[str],
    *,
    preset: str = "signjoey",
    append_period: bool = False,
) -> Scores:
    """Score hypotheses against one reference each under a protocol preset.

    Args:
        hypotheses: generated sentences (raw model output, one per sample).
        references: reference sentences in the same order.
        preset: ``"signjoey"``, ``"spamo"`` or ``"sacrebleu"`` (see :mod:`glossfree.evaluation.presets`).
        append_period: append the token ``" ."`` to every hypothesis and reference first (an empty
            sentence becomes ``"."``), as signjoey's annotation files do.

    Raises:
        ValueError: the lists differ in length (both lengths named) or are empty.
        ConfigError: unknown preset (valid ones listed).
    """
    spec = get_preset(preset)
    hyps, refs = _prepare(hypotheses, references, spec, append_period)
    bleu = _bleu_from_statistics(_bleu_statistics_prepared(hyps, refs, spec), spec)
    rouge_l = 100.0 * float(np.mean([_sentence_rouge(h, r, spec) for h, r in zip(hyps, refs)]))
    chrf_metric = CHRF(lowercase=spec.lowercase)
    chrf = float(chrf_metric.corpus_score(hyps, [refs]).score)
    cider = cider_d(hyps, refs).score
    signature = "; ".join(
        [
            f"preset:{spec.name}",
            _bleu_signature(spec),
            _rouge_signature(spec),
            f"chrF: {chrf_metric.get_signature().format()}",
            "CIDEr-D: coco-caption (n 1-4, sigma 6, clipped, x10, PTB-like tokens, df from the references)",
            f"append_period:{'yes' if append_period else 'no'}",
        ]
    )
    return Scores(
        **bleu,
        rouge_l=rouge_l,
        chrf=chrf,
        cider=cider,
        preset=spec.name,
        signature=signature,
        num_sentences=len(hyps),
        append_period=append_period,
    )


def sentence_scores(
    hypotheses: Sequence[str],
    references: Sequence[str],
    *,
    preset: str = "signjoey",
    append_period: bool = False,
) -> list[dict[str, float]]:
    """Per-sentence scores (0-100) for error analysis: ``bleu4``, ``rouge_l``, ``chrf``.

    ``bleu4`` is sacrebleu's ``sentence_bleu`` (exp smoothing, effective order) with the preset's
    tokenizer and casing; ``rouge_l`` is the preset's ROUGE-L; ``chrf`` is sacrebleu ``CHRF`` (preset's
    casing) ``sentence_score``.
    Sentence BLEU is smoothed, so its mean is not the corpus BLEU of :func:`score`.
    """
    spec = get_preset(preset)
    hyps, refs = _prepare(hypotheses, references, spec, append_period)
    sentence_bleu = BLEU(
        lowercase=spec.lowercase, force=True, tokenize=spec.tokenize, effective_order=True
    )
    chrf_metric = CHRF(lowercase=spec.lowercase)
    rows = []
    for hyp, ref in zip(hyps, refs):
        rows.append(
            {
                "bleu4": float(sentence_bleu.sentence_score(hyp, [ref]).score),
                "rouge_l": 100.0 * _sentence_rouge(hyp, ref, spec),
                "chrf": float(chrf_metric.sentence_score(hyp, [ref]).score),
            }
        )
    return rows
