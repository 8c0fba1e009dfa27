"""Gloss -> text: the upper bound of a gloss-free recipe on a corpus with reference glosses.

A sign-to-text model cannot do better than a model that is *given* the signs. This one reads each
sample's reference gloss sequence (the manifest's ``gloss`` field: analysis only, never a training
input of a gloss-free recipe) through a learned gloss embedding into the recipe's own language
model (same architecture, tokenizer and label smoothing); the gloss tokens carry no position of
their own, as the visual tokens carry none: the positions are the language model's (T5's relative
buckets, mBART's learned absolute positions), trains it for a fixed number of optimiser
steps with the recipe's first-stage optimiser, and decodes dev/test with the recipe's beam settings.
Its score is the ceiling the benchmark prints next to each recipe (``benchmarks/bench_learning.py``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from glossfree.data.manifest import Record, load_split
from glossfree.errors import DataError
from glossfree.evaluation import Scores, score
from glossfree.models.language_model import LanguageModel
from glossfree.training.optim import build_optimizer, build_scheduler, optimizer_step
from glossfree.training.recipe import RecipeConfig

PAD, UNK = "<pad>", "<unk>"


class GlossToText(nn.Module):
    """Gloss ids ``[B, L]`` -> embeddings (no positions of their own) -> the language model."""

    def __init__(self, glosses: list[str], lm: LanguageModel, max_len: int = 256) -> None:
        super().__init__()
        self.vocab = {PAD: 0, UNK: 1, **{g: i + 2 for i, g in enumerate(glosses)}}
        self.lm = lm
        self.embed = nn.Embedding(len(self.vocab), lm.embed_dim, padding_idx=0)
        self.max_len = max_len

    def ids(self, sequences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [[self.vocab.get(g, 1) for g in s.split()][: self.max_len] or [1] for s in sequences]
        longest = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), longest, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids, ids != 0

    def encode(self, sequences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = self.ids(sequences)
        return self.embed(ids), mask

    def forward(self, sequences: list[str], texts: list[str]) -> torch.Tensor:
        embeds, mask = self.encode(sequences)
        loss, _ = self.lm(embeds, mask, texts)
        return loss

    @torch.no_grad()
    def generate(self, sequences: list[str]) -> list[str]:
        embeds, mask = self.encode(sequences)
        return self.lm.generate(embeds, mask)


@dataclass
class GlossToTextResult:
    steps: int
    seconds: float
    dev: Scores
    test: Scores | None
    curve: list[tuple[int, float]] = field(default_factory=list)  # (step, dev BLEU-4)


def _with_glosses(records: list[Record], split: str, root: Path) -> list[Record]:
    missing = [r.id for r in records if not r.gloss]
    if missing:
        raise DataError(
            f"{root}: {len(missing)} {split} records have no 'gloss' (first: {missing[0]}); the gloss->text "
            "upper bound needs reference glosses"
        )
    return records


def _decode(model: GlossToText, records: list[Record], batch_size: int) -> list[str]:
    model.eval()
    hyps: list[str] = []
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        hyps += model.generate([r.gloss or "" for r in chunk])
    model.train()
    return hyps


def train_gloss_to_text(
    recipe: RecipeConfig,
    tokenizer,
    root: str | Path,
    *,
    steps: int,
    eval_every: int | None = None,
    max_dev_samples: int | None = None,
    seed: int = 0,
    progress: bool = False,
    test: bool = True,
    prepare: Callable[[GlossToText], None] | None = None,
) -> GlossToTextResult:
    """Train the gloss->text ceiling for ``steps`` optimiser steps and score dev (and test).

    Uses ``recipe.model.lm`` (architecture, label smoothing, generation settings), the given
    tokenizer, ``recipe.stages[0]`` (batch size, optimiser, schedule, clipping) and
    ``recipe.evaluation`` (preset). ``test=False`` skips the test split; ``prepare(model)`` changes
    the model before the optimiser is built (the LM ablations of ``benchmarks/bench_lm_parts.py``).
    """
    root = Path(root)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    train = _with_glosses(load_split(root, recipe.data.train_split), "train", root)
    dev = _with_glosses(load_split(root, recipe.data.dev_split), "dev", root)[:max_dev_samples]
    glosses = sorted({g for r in train for g in (r.gloss or "").split()})
    model = GlossToText(glosses, LanguageModel(recipe.model.lm, tokenizer))
    if prepare is not None:
        prepare(model)
    stage = recipe.stages[0]
    optimizer = build_optimizer(model.named_parameters(), stage.optimizer)
    scheduler = build_scheduler(optimizer, steps, stage.schedule)
    preset, period = recipe.evaluation.preset, recipe.evaluation.append_period
    batch_size = stage.batch_size
    curve: list[tuple[int, float]] = []
    order: list[int] = []
    started = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        if len(order) < batch_size:
            order += rng.sample(range(len(train)), len(train))
        batch = [train[i] for i in order[:batch_size]]
        del order[:batch_size]
        loss = model([r.gloss or "" for r in batch], [r.text for r in batch])
        optimizer_step(loss, optimizer, scheduler, model.parameters(), stage.grad_clip)
        if eval_every and step % eval_every == 0 and step < steps:
            hyps = _decode(model, dev, recipe.evaluation.batch_size)
            curve.append((step, score(hyps, [r.text for r in dev], preset=preset, append_period=period).bleu4))
            if progress:
                print(f"gloss->text step {step}: loss {loss.item():.3f}, dev BLEU-4 {curve[-1][1]:.2f}", flush=True)
    seconds = time.perf_counter() - started
    dev_scores = score(_decode(model, dev, recipe.evaluation.batch_size), [r.text for r in dev], preset=preset, append_period=period)
    curve.append((steps, dev_scores.bleu4))
    test_records = load_split(root, recipe.data.test_split) if test else []
    test_scores = None
    if test_records:
        test_records = _with_glosses(test_records, "test", root)
        hyps = _decode(model, test_records, recipe.evaluation.batch_size)
        test_scores = score(hyps, [r.text for r in test_records], preset=preset, append_period=period)
    return GlossToTextResult(steps=steps, seconds=seconds, dev=dev_scores, test=test_scores, curve=curve)
