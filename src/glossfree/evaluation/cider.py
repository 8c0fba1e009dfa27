"""CIDEr-D (Vedantam et al. 2015) as the MS-COCO caption evaluation computes it, without Java.

Paper 004 reports CIDEr for SLT (Sec. 4.1, after [jang2025lost]); the number everyone quotes is the
coco-caption one (tylin/coco-caption, packaged as ``pycocoevalcap``, ``cider/cider_scorer.py``),
which is CIDEr-D:

- n-grams of order 1..4, each weighted by TF-IDF: ``tf * (log N - log max(1, df))``, where ``N`` is
  the number of segments and ``df`` the number of segments whose *references* contain the n-gram
  (document frequencies come from the references of the corpus being scored);
- per order, the *clipped* cosine: ``sum_g min(h_g, r_g) * r_g / (|h| |r|)`` (left unnormalised
  when either norm is 0), times the Gaussian length penalty ``exp(-delta^2 / (2 sigma^2))`` with
  ``sigma = 6``;
- averaged over the four orders, over the references of the segment, times 10; the corpus score
  is the mean over segments.

Two quirks of the reference are kept so the numbers match it: the "length" in the penalty is the
number of *bigrams* (``len(words) - 1``, 0 for an empty sentence), and n-grams come from
``str.split()`` of the already tokenised text. coco-caption tokenises with the Stanford PTB
tokenizer (Java) and drops punctuation; :func:`coco_tokenize` is a Java-free approximation
(lower-case, punctuation split off and dropped; contractions stay whole, where PTB splits
``don't`` into ``do n't``). Pass ``tokenize=False`` to score text tokenised elsewhere.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from glossfree.errors import DataError

MAX_ORDER = 4
SIGMA = 6.0

# coco-caption ptbtokenizer.py PUNCTUATIONS, removed after tokenising.
_PUNCTUATIONS = frozenset(
    ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]
)
_TOKEN = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]+")


def coco_tokenize(text: str) -> str:
    """Lower-case, split punctuation off words and drop it, join with single spaces."""
    tokens = _TOKEN.findall(text.lower())
    return " ".join(t for t in tokens if t not in _PUNCTUATIONS and not all(c in ".,?!:;-'`\"()[]{}" for c in t))


@dataclass(frozen=True)
class CiderScore:
    """Corpus CIDEr-D (mean of ``per_segment``) on coco-caption's scale: the x10 is applied, so a
    hypothesis equal to its references scores at most 10. Papers print either this (paper 004
    Tab. 5: 1.77) or 100 times it; :attr:`score_x100` gives the latter."""

    score: float
    per_segment: tuple[float, ...]

    @property
    def score_x100(self) -> float:
        return 100.0 * self.score


def _ngrams(sentence: str, max_order: int) -> Counter:
    words = sentence.split()
    return Counter(tuple(words[i : i + n]) for n in range(1, max_order + 1) for i in range(len(words) - n + 1))


def _vector(counts: Counter, document_frequency: Counter, log_n: float, max_order: int):
    """TF-IDF weights per order, their norms, and the reference's "length" (bigram count)."""
    vec: list[dict[tuple[str, ...], float]] = [{} for _ in range(max_order)]
    norm = [0.0] * max_order
    length = 0
    for ngram, tf in counts.items():
        order = len(ngram) - 1
        weight = tf * (log_n - math.log(max(1.0, document_frequency[ngram])))
        vec[order][ngram] = weight
        norm[order] += weight * weight
        if order == 1:
            length += tf
    return vec, [math.sqrt(x) for x in norm], length


def cider_d(hypotheses: Sequence[str], references: Sequence[Sequence[str] | str], *, tokenize: bool = True,
            max_order: int = MAX_ORDER, sigma: float = SIGMA) -> CiderScore:  # fmt: skip
    """CIDEr-D of ``hypotheses`` (one per segment) against ``references`` (one or more per segment)."""
    if len(hypotheses) != len(references):
        raise DataError(f"{len(hypotheses)} hypotheses for {len(references)} reference sets")
    if not hypotheses:
        raise DataError("CIDEr needs at least one segment")
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    for index, segment in enumerate(refs):
        if not segment:
            raise DataError(f"segment {index} has no reference")
    prep = coco_tokenize if tokenize else (lambda s: s)
    hyp_counts = [_ngrams(prep(h), max_order) for h in hypotheses]
    ref_counts = [[_ngrams(prep(r), max_order) for r in segment] for segment in refs]
    document_frequency: Counter = Counter()
    for segment in ref_counts:
        document_frequency.update({ngram for counts in segment for ngram in counts})
    log_n = math.log(float(len(ref_counts)))
    penalty_scale = 2 * sigma**2

    scores = []
    for hyp, segment in zip(hyp_counts, ref_counts, strict=True):
        vec_h, norm_h, len_h = _vector(hyp, document_frequency, log_n, max_order)
        total = [0.0] * max_order
        for ref in segment:
            vec_r, norm_r, len_r = _vector(ref, document_frequency, log_n, max_order)
            penalty = math.exp(-((len_h - len_r) ** 2) / penalty_scale)
            for order in range(max_order):
                value = sum(min(w, vec_r[order].get(g, 0.0)) * vec_r[order].get(g, 0.0) for g, w in vec_h[order].items())
                if norm_h[order] != 0 and norm_r[order] != 0:
                    value /= norm_h[order] * norm_r[order]
                total[order] += value * penalty
        scores.append(10.0 * sum(total) / max_order / len(segment))
    return CiderScore(sum(scores) / len(scores), tuple(scores))
