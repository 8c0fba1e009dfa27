"""``text_denoise``: the LM rewrites each target sentence from a corrupted copy of it (no video).

Where a paper starts from a pretrained text model (mBART-cc25 in paper 001, Flan-T5 in paper 003)
and none can be had (a from-scratch LM at ``mid`` size, no download), a stage with this objective
alone trains the LM on the corpus' sentences first, with mBART's own pre-training objective (Liu et
al. 2020, Sec. 2.2, following BART's *text infilling*, Lewis et al. 2020, Sec. 2.2): spans of the
sentence with Poisson(3.5) lengths are masked until 35 % of its tokens are, each span replaced by
one ``<mask>`` token (a span of length 0 inserts one), and the decoder writes the whole sentence
back. Of the spans, a share (``random_ratio``, fairseq's ``mask_random``, mBART 0.1) gets a random
token instead of ``<mask>``. mBART's second noise, sentence permutation, has nothing to permute in
one-sentence samples and is left out.

The corruption works on the tokenizer's subword ids (BART's fairseq code masks whole words; spans
of subwords are the simpler choice here and keep the ratio exact); special tokens (``</s>``, a
language code) are never masked. The visual side does not run: a stage that trains only this
objective reads the batch's texts alone (``reads_visual`` False), so it trains ``lm`` alone. In
evaluation mode each batch is corrupted with a fixed seed, so that a stage's dev losses compare.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from glossfree.objectives.base import Objective, ObjectiveOutput, ObjectiveSettings, PointDims


class TextDenoiseConfig(ObjectiveSettings):
    """mBART's text infilling on the target sentences: ``{kind: text_denoise}``.

    Attributes:
        mask_ratio: share of each sentence's (non-special) tokens that are masked (mBART: 0.35).
        poisson_lambda: mean span length (mBART and BART: 3.5).
        random_ratio: share of the masked spans written as a random token instead of ``<mask>``
            (fairseq ``mask_random``; mBART 0.1).
    """

    kind: Literal["text_denoise"] = "text_denoise"
    mask_ratio: float = Field(0.35, gt=0, lt=1)
    poisson_lambda: float = Field(3.5, gt=0)
    random_ratio: float = Field(0.1, ge=0, le=1)


def infill_spans(
    ids: list[int],
    *,
    special: set[int] | frozenset[int],
    mask_id: int,
    vocab_ids: torch.Tensor,
    mask_ratio: float,
    poisson_lambda: float,
    random_ratio: float,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Text infilling on one sentence's token ids.

    Args:
        ids: the sentence's ids, special tokens included (they stay in place).
        special: ids never masked (and never drawn as random replacements).
        mask_id: the id that replaces a span.
        vocab_ids: the ids a random replacement is drawn from.
        mask_ratio: share of the non-special tokens to mask (rounded; at least one when there is
            one).
        poisson_lambda: mean span length; a span of length 0 inserts one mask before its start.
        random_ratio: probability that a span is written as a random id instead of ``mask_id``.
        generator: the random source (default: torch's global one, so ``seed`` fixes it).

    Returns:
        The corrupted ids: each maximal run of masked tokens is one ``mask_id`` (or random id).
    """
    content = [i for i, token in enumerate(ids) if token not in special]
    if not content:
        return list(ids)
    target = max(1, round(len(content) * mask_ratio))
    masked = [False] * len(ids)
    inserted: set[int] = set()  # positions a length-0 span inserts a mask before
    count = 0
    while count < target:
        length = int(torch.poisson(torch.tensor(float(poisson_lambda)), generator=generator).item())
        start = int(torch.randint(len(content), (1,), generator=generator).item())
        if length == 0:
            inserted.add(content[start])
            count += 1  # BART counts an insertion as one masked token
            continue
        for position in content[start : start + length]:
            if not masked[position]:
                masked[position] = True
                count += 1
            if count >= target:
                break

    def filler() -> int:
        if random_ratio > 0 and torch.rand((), generator=generator).item() < random_ratio:
            return int(vocab_ids[torch.randint(len(vocab_ids), (1,), generator=generator)].item())
        return mask_id

    out: list[int] = []
    for position, token in enumerate(ids):
        after_run = position > 0 and masked[position - 1]
        if position in inserted and not masked[position] and not after_run:
            out.append(filler())  # an insertion next to a masked span merges into it
        if masked[position]:
            if not after_run:
                out.append(filler())  # the first token of a run stands for the whole span
            continue
        out.append(token)
    return out


class TextDenoise(Objective):
    """Label-smoothed cross-entropy of the LM writing each target sentence from its infilled copy."""

    reads_visual = False

    def __init__(self, config: TextDenoiseConfig, dims: PointDims) -> None:
        super().__init__(config)
        self._vocab_ids: torch.Tensor | None = None

    def forward(self, output, batch, model) -> ObjectiveOutput:
        config: TextDenoiseConfig = self.config  # type: ignore[assignment]
        lm = model.lm
        special = lm.special_ids
        mask_id = lm.mask_token_id  # a ConfigError naming the tokenizer when it has none
        if self._vocab_ids is None:  # what a random replacement draws from: every non-special id
            self._vocab_ids = torch.tensor([i for i in lm.text_vocab_ids() if i not in special])
        vocab_ids = self._vocab_ids
        # Validation corrupts each dev batch the same way every time, so that dev losses compare.
        generator = None if self.training else torch.Generator().manual_seed(0)
        settings = {
            "special": special, "mask_id": mask_id, "vocab_ids": vocab_ids, "mask_ratio": config.mask_ratio,
            "poisson_lambda": config.poisson_lambda, "random_ratio": config.random_ratio, "generator": generator,
        }  # fmt: skip
        sources = [infill_spans(ids, **settings) for ids in lm.text_ids(batch.texts)]
        return ObjectiveOutput(loss=lm.reconstruction_loss(sources, batch.texts))
