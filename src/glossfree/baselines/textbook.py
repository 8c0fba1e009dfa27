"""A textbook encoder-decoder Transformer: the reference a recipe's learning pace is read against.

Not a recipe and not built from ``transformers``: PyTorch's ``nn.Transformer`` with the settings of
the SLT and low-resource NMT literature (Vaswani et al. 2017 as joeynmt and fairseq train it; the
SLT Transformer of Camgoz et al. 2020), so a figure of glossfree's own language side can be checked
against what a plain Transformer reaches on the same data in the same number of steps
(``benchmarks/bench_learning.py`` trains it beside the recipes in every run; docs/benchmarks.md §12):

- pre-LN (``norm_first``) encoder and decoder with a final LayerNorm each, d 256, 4 heads, 3+3
  layers, FFN 1,024, dropout 0.3 (0.2 on the pose side);
- sinusoidal positions added to the source and target embeddings (embeddings scaled by sqrt(d));
- the output projection tied to the target embedding (no bias);
- Adam, betas (0.9, 0.98), no weight decay; linear warm-up for 500 steps to 7e-4, then the inverse
  square root; label smoothing 0.1; batch 32; greedy decoding;
- a sentencepiece unigram vocabulary of 2,000 trained on the training texts;
- the kept model is the one with the best dev BLEU-4 (all dev sentences) among the validations.

Two sources feed it:

- ``gloss``: the reference gloss sequence (word-level gloss vocabulary of the training split), the
  ceiling of a gloss-free recipe;
- ``pose``: the keypoints through two Conv1d layers (kernel 5, ReLU) over per-frame standardised
  features: shoulder-normalised x, y of every point of the layout, wrist-relative hand coordinates
  and detection flags (the ``keypoint_mlp`` frontend's feature vector). The strides are chosen so
  that ``tokens_per_second`` tokens per second reach the encoder (25 fps -> 2, 2; 12.5 fps -> 2, 1).
  Batches are length-sorted within random chunks (``LengthBucketBatchSampler``); augmentation is a
  time stretch (``TemporalResample``) and a scale/shift (``RandomAffine`` without rotation).
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from glossfree.config import StrictModel
from glossfree.data.manifest import Record, load_split
from glossfree.errors import ConfigError, DataError
from glossfree.evaluation import Scores, score
from glossfree.training.optim import (
    OptimizerConfig,
    ScheduleConfig,
    build_optimizer,
    build_scheduler,
    optimizer_step,
)

PAD, UNK = "<pad>", "<unk>"


class ReferenceConfig(StrictModel):
    """The textbook Transformer and how it is trained (defaults: the reference of issue 22).

    Attributes:
        d_model, num_heads, encoder_layers, decoder_layers, ffn_dim: Transformer sizes.
        dropout: dropout of the Transformer and of the embeddings.
        max_positions: length of the sinusoid table (source tokens and target tokens).
        label_smoothing: of the cross-entropy.
        lr, betas, warmup_steps: Adam (no weight decay), linear warm-up then 1/sqrt(step).
        batch_size: samples per optimiser step.
        grad_clip: gradient norm clipping (0 = none).
        vocab_size: sentencepiece unigram vocabulary trained on the training texts.
        max_target_length: target tokens kept in training.
        max_new_tokens: greedy decoding limit.
        fps: pose side: frame rate the keypoints are read at (``None`` = the files').
        tokens_per_second: pose side: tokens per second reaching the encoder; ``fps /
            tokens_per_second`` must be 1, 2 or 4 (two convolutions of stride 1 or 2).
        kernel_size: pose side: kernel of both convolutions.
        pose_dropout: pose side: replaces ``dropout``.
        time_stretch: pose side: ``TemporalResample`` speed range (``None`` = no time stretch).
        scale, shift: pose side: ``RandomAffine`` scale range and shift (no rotation).
    """

    d_model: int = Field(256, gt=0)
    num_heads: int = Field(4, gt=0)
    encoder_layers: int = Field(3, ge=1)
    decoder_layers: int = Field(3, ge=1)
    ffn_dim: int = Field(1024, gt=0)
    dropout: float = Field(0.3, ge=0, lt=1)
    max_positions: int = Field(1024, gt=0)
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    lr: float = Field(7e-4, gt=0)
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = Field(500, ge=0)
    batch_size: int = Field(32, ge=1)
    grad_clip: float = Field(0.0, ge=0)
    vocab_size: int = Field(2000, gt=8)
    max_target_length: int = Field(64, gt=1)
    max_new_tokens: int = Field(60, gt=0)
    fps: float | None = Field(None, gt=0)
    tokens_per_second: float = Field(6.25, gt=0)
    kernel_size: int = Field(5, ge=1)
    pose_dropout: float = Field(0.2, ge=0, lt=1)
    time_stretch: tuple[float, float] | None = (0.8, 1.2)
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = Field(0.05, ge=0)

    def check_dims(self) -> None:
        if self.d_model % self.num_heads:
            raise ConfigError(f"reference: d_model {self.d_model} is not a multiple of num_heads {self.num_heads}")


def conv_strides(fps: float, tokens_per_second: float) -> tuple[int, int]:
    """Strides of the two source convolutions that turn ``fps`` frames into ``tokens_per_second`` tokens."""
    ratio = fps / tokens_per_second
    strides = {1: (1, 1), 2: (2, 1), 4: (2, 2)}
    factor = round(ratio)
    if not math.isclose(ratio, factor, rel_tol=1e-6) or factor not in strides:
        raise ConfigError(
            f"reference: {fps} fps / {tokens_per_second} tokens per second = {ratio:g}; two convolutions of "
            "stride 1 or 2 reduce by 1, 2 or 4 (set fps or tokens_per_second accordingly)"
        )
    return strides[factor]


def sinusoids(length: int, dim: int) -> torch.Tensor:
    """The sinusoid table of Vaswani et al. 2017: ``[length, dim]``, sin on even and cos on odd channels."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # [L, 1]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # [dim/2]
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


class GlossSource(nn.Module):
    """Gloss sequences (strings) -> ``[B, L, d]`` scaled embeddings and a ``[B, L]`` mask."""

    def __init__(self, glosses: list[str], d_model: int) -> None:
        super().__init__()
        self.vocab = {PAD: 0, UNK: 1, **{g: i + 2 for i, g in enumerate(glosses)}}
        self.embed = nn.Embedding(len(self.vocab), d_model, padding_idx=0)
        nn.init.normal_(self.embed.weight, std=d_model**-0.5)
        self.scale = math.sqrt(d_model)

    def forward(self, sequences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [[self.vocab.get(g, 1) for g in s.split()] or [1] for s in sequences]
        ids = torch.zeros(len(rows), max(len(r) for r in rows), dtype=torch.long, device=self.embed.weight.device)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return self.embed(ids) * self.scale, ids != 0


class PoseSource(nn.Module):
    """Keypoints ``[B, T, N, C]`` -> per-frame standardised features -> two Conv1d (+ReLU) -> ``[B, T', d]``."""

    def __init__(self, layout: str, d_model: int, strides: tuple[int, int], kernel_size: int, dropout: float) -> None:
        super().__init__()
        from glossfree.models.frontends.keypoint_mlp import (
            KeypointMLP,
            KeypointMLPConfig,
        )

        # The keypoint_mlp frontend's feature vector and masked standardisation; its MLP is not used.
        self.features = KeypointMLP(KeypointMLPConfig(num_layers=0, wrist_relative=True), layout)
        self.strides, self.kernel_size = strides, kernel_size
        width = self.features.input_dim
        self.convs = nn.ModuleList(
            nn.Conv1d(c_in, d_model, kernel_size, stride=s, padding=kernel_size // 2)
            for c_in, s in zip((width, d_model), strides, strict=True)
        )
        self.dropout = nn.Dropout(dropout)

    def _length_after(self, lengths: torch.Tensor, stride: int) -> torch.Tensor:
        pad = self.kernel_size // 2
        return (torch.div(lengths + 2 * pad - self.kernel_size, stride, rounding_mode="floor") + 1).clamp(min=1)

    def lengths_after(self, lengths: torch.Tensor) -> torch.Tensor:
        """Tokens left of ``lengths`` frames after both convolutions."""
        for stride in self.strides:
            lengths = self._length_after(lengths, stride)
        return lengths

    def forward(
        self, keypoints: torch.Tensor, keypoint_mask: torch.Tensor, frame_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        frame_mask = frame_mask.bool()
        x = self.features.standardize(self.features.frame_features(keypoints, keypoint_mask), frame_mask)
        x = x * frame_mask.unsqueeze(-1).to(x.dtype)  # [B, T, F]
        lengths = frame_mask.sum(dim=1)
        for conv, stride in zip(self.convs, self.strides, strict=True):
            x = self.dropout(F.relu(conv(x.transpose(1, 2)))).transpose(1, 2)  # [B, T', d]
            lengths = self._length_after(lengths, stride)
            mask = torch.arange(x.shape[1], device=x.device).unsqueeze(0) < lengths.unsqueeze(1)
            x = x * mask.unsqueeze(-1).to(x.dtype)  # a shorter sample's padding stays zero, as if alone
        return x, mask


class TextbookTransformer(nn.Module):
    """Source embeddings -> pre-LN ``nn.Transformer`` -> tied output projection.

    Args:
        vocab_size: target vocabulary.
        pad_id: target padding id, also the decoder's start token (as in T5).
        eos_id: end of sentence.
        config: sizes and dropout (:class:`ReferenceConfig`).
        dropout: overrides ``config.dropout`` (the pose side's 0.2).
    """

    def __init__(
        self, vocab_size: int, pad_id: int, eos_id: int, config: ReferenceConfig, dropout: float | None = None
    ) -> None:
        super().__init__()
        config.check_dims()
        p = config.dropout if dropout is None else dropout
        d = config.d_model
        self.pad_id, self.eos_id, self.d_model = pad_id, eos_id, d
        self.target_embed = nn.Embedding(vocab_size, d, padding_idx=pad_id)
        nn.init.normal_(self.target_embed.weight, std=d**-0.5)
        self.register_buffer("positions", sinusoids(config.max_positions, d), persistent=False)
        self.dropout = nn.Dropout(p)

        def layer(kind: type[nn.Module]) -> nn.Module:
            return kind(d, config.num_heads, config.ffn_dim, p, batch_first=True, norm_first=True)

        encoder = nn.TransformerEncoder(
            layer(nn.TransformerEncoderLayer), config.encoder_layers, norm=nn.LayerNorm(d), enable_nested_tensor=False
        )
        decoder = nn.TransformerDecoder(layer(nn.TransformerDecoderLayer), config.decoder_layers, norm=nn.LayerNorm(d))
        self.transformer = nn.Transformer(
            d, config.num_heads, custom_encoder=encoder, custom_decoder=decoder, batch_first=True, norm_first=True
        )
        self.output = nn.Linear(d, vocab_size, bias=False)
        self.output.weight = self.target_embed.weight  # tied

    def _positioned(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.positions.shape[0]:
            raise DataError(
                f"reference: sequence of {x.shape[1]} tokens, the sinusoid table holds {self.positions.shape[0]}"
            )
        return self.dropout(x + self.positions[: x.shape[1]].to(x.dtype))

    def encode(self, source: torch.Tensor, source_mask: torch.Tensor) -> torch.Tensor:
        """``[B, S, d]`` source embeddings, ``[B, S]`` bool mask (True = real) -> encoder states ``[B, S, d]``."""
        return self.transformer.encoder(self._positioned(source), src_key_padding_mask=~source_mask)

    def decode(self, memory: torch.Tensor, source_mask: torch.Tensor, decoder_ids: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, L, V]`` for decoder inputs ``[B, L]`` (causal, padding = ``pad_id`` after the first)."""
        length = decoder_ids.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(length, device=decoder_ids.device, dtype=torch.bool)
        padding = decoder_ids == self.pad_id
        padding[:, 0] = False  # the start token is the pad id
        x = self._positioned(self.target_embed(decoder_ids) * math.sqrt(self.d_model))
        hidden = self.transformer.decoder(
            x, memory, tgt_mask=causal, tgt_key_padding_mask=padding, memory_key_padding_mask=~source_mask,
            tgt_is_causal=True,
        )  # fmt: skip
        return self.output(hidden)

    def forward(self, source: torch.Tensor, source_mask: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, L, V]`` teacher-forced on ``targets`` ``[B, L]`` (ids ending in eos, -100 on padding)."""
        decoder_ids = torch.full_like(targets, self.pad_id)
        decoder_ids[:, 1:] = targets[:, :-1].clamp(min=0).masked_fill(targets[:, :-1] < 0, self.pad_id)
        return self.decode(self.encode(source, source_mask), source_mask, decoder_ids)

    @torch.no_grad()
    def greedy(self, source: torch.Tensor, source_mask: torch.Tensor, max_new_tokens: int) -> list[list[int]]:
        """Greedy decoding: per sample the generated ids, without the start token and the eos."""
        memory = self.encode(source, source_mask)
        ids = torch.full((source.shape[0], 1), self.pad_id, dtype=torch.long, device=source.device)
        done = torch.zeros(source.shape[0], dtype=torch.bool, device=source.device)
        for _ in range(max_new_tokens):
            step = self.decode(memory, source_mask, ids)[:, -1].argmax(dim=-1)
            step = step.masked_fill(done, self.pad_id)
            ids = torch.cat([ids, step.unsqueeze(1)], dim=1)
            done |= step == self.eos_id
            if bool(done.all()):
                break
        rows = []
        for row in ids[:, 1:].tolist():
            rows.append(row[: row.index(self.eos_id)] if self.eos_id in row else row)
        return rows


@dataclass
class ReferenceResult:
    """Steps trained, seconds, the kept model's dev/test scores and the dev curve ``(step, BLEU-4)``."""

    source: str
    steps: int
    seconds: float
    best_step: int
    dev: Scores
    test: Scores | None
    curve: list[tuple[int, float]] = field(default_factory=list)
    params: int = 0


def _targets(tokenizer, texts: list[str], max_length: int) -> torch.Tensor:
    encoded = tokenizer(
        text_target=list(texts), max_length=max_length, truncation=True, padding="longest", return_tensors="pt"
    )
    return encoded.input_ids.masked_fill(encoded.attention_mask == 0, -100)


def _with_glosses(records: list[Record], split: str, root: Path) -> list[Record]:
    missing = [r.id for r in records if not r.gloss]
    if missing:
        raise DataError(
            f"{root}: {len(missing)} {split} records have no 'gloss' (first: {missing[0]}); the gloss source needs them"
        )
    return records


def _pose_dataset(records: list[Record], root: Path, config: ReferenceConfig, layout: str, seed: int, *, train: bool):
    """The split's keypoints; training samples time-stretched, scaled and shifted."""
    from glossfree.data.datasets import PoseDataset
    from glossfree.data.transforms import Compose, RandomAffine, TemporalResample

    transform = None
    if train:
        parts = [RandomAffine(rotation_deg=0.0, scale=config.scale, shift=config.shift)]
        if config.time_stretch is not None:
            parts.insert(0, TemporalResample(config.time_stretch))
        transform = Compose(parts)
    return PoseDataset(records, root, layout=layout, transform=transform, fps=config.fps, cache=True, seed=seed)


def _decode(model: TextbookTransformer, source: nn.Module, batches, tokenizer, max_new_tokens: int) -> list[str]:
    model.eval(), source.eval()
    hyps: list[str] = []
    with torch.no_grad():
        for inputs in batches:
            embeds, mask = source(*inputs)
            hyps += [
                tokenizer.decode(row, skip_special_tokens=True).strip()
                for row in model.greedy(embeds, mask, max_new_tokens)
            ]
    model.train(), source.train()
    return hyps


def train_reference(
    source: Literal["gloss", "pose"],
    root: str | Path,
    *,
    steps: int,
    eval_every: int | None = None,
    config: ReferenceConfig | None = None,
    tokenizer=None,
    tokenizer_dir: str | Path | None = None,
    layout: str = "pose203",
    splits: tuple[str, str, str] = ("train", "dev", "test"),
    preset: str = "signjoey",
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> ReferenceResult:
    """Train the textbook Transformer on ``root`` from ``source`` for ``steps`` optimiser steps.

    Validates (greedy dev BLEU-4 on every dev sentence) every ``eval_every`` steps and at the end,
    keeps the best validation's weights and scores the test split with them. ``tokenizer``: a
    sentencepiece tokenizer to use (``None``: one of ``config.vocab_size`` is trained on the
    training texts into ``tokenizer_dir``, or a temporary folder).
    """
    import tempfile

    from glossfree.text.tokenizers import train_tokenizer

    config = config or ReferenceConfig()
    if source not in ("gloss", "pose"):
        raise ConfigError(f"reference source '{source}': valid sources are gloss and pose")
    root = Path(root)
    torch.manual_seed(seed)
    train_records = load_split(root, splits[0])
    dev_records = load_split(root, splits[1])
    test_records = load_split(root, splits[2])
    if not train_records or not dev_records:
        raise DataError(f"{root}: the reference needs training and dev records")
    if tokenizer is None:
        folder = Path(tokenizer_dir) if tokenizer_dir else Path(tempfile.mkdtemp(prefix="reference_spm_"))
        tokenizer = train_tokenizer([r.text for r in train_records], folder, vocab_size=config.vocab_size, family="t5")
    pad_id, eos_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    rng = random.Random(seed)
    model = TextbookTransformer(
        len(tokenizer), pad_id, eos_id, config, dropout=config.pose_dropout if source == "pose" else None
    )
    decode_batch = 64
    if source == "gloss":
        for split, records in (("train", train_records), ("dev", dev_records), ("test", test_records)):
            if records:
                _with_glosses(records, split, root)
        encoder_source: nn.Module = GlossSource(
            sorted({g for r in train_records for g in (r.gloss or "").split()}), config.d_model
        )

        def train_batches():
            order: list[int] = []
            while True:
                if len(order) < config.batch_size:
                    order += rng.sample(range(len(train_records)), len(train_records))
                chunk = [train_records[i] for i in order[: config.batch_size]]
                del order[: config.batch_size]
                yield (([r.gloss or "" for r in chunk],), [r.text for r in chunk])

        def split_batches(records: list[Record]):
            return [
                ([r.gloss or "" for r in records[i : i + decode_batch]],) for i in range(0, len(records), decode_batch)
            ]
    else:
        from glossfree.data.datasets import LengthBucketBatchSampler, collate_pose

        fps = config.fps
        train_set = _pose_dataset(train_records, root, config, layout, seed, train=True)
        if fps is None:
            fps = train_set.keypoints(0).fps
        encoder_source = PoseSource(
            layout, config.d_model, conv_strides(fps, config.tokens_per_second), config.kernel_size, config.pose_dropout
        )
        sampler = LengthBucketBatchSampler(train_set.lengths, batch_size=config.batch_size, shuffle=True, seed=seed)

        def train_batches():
            epoch = 0
            while True:
                sampler.set_epoch(epoch)
                train_set.set_epoch(epoch)
                for indices in sampler:
                    batch = collate_pose([train_set[i] for i in indices])
                    yield ((batch.keypoints, batch.keypoint_mask, batch.frame_mask), batch.texts)
                epoch += 1

        def split_batches(records: list[Record]):
            dataset = _pose_dataset(records, root, config, layout, seed, train=False)
            out = []
            for start in range(0, len(records), decode_batch):
                batch = collate_pose([dataset[i] for i in range(start, min(start + decode_batch, len(records)))])
                out.append((batch.keypoints, batch.keypoint_mask, batch.frame_mask))
            return out

    modules = nn.ModuleDict({"source": encoder_source, "model": model})
    optimizer = build_optimizer(
        modules.named_parameters(), OptimizerConfig(kind="adamw", lr=config.lr, weight_decay=0.0, betas=config.betas)
    )
    scheduler = build_scheduler(optimizer, steps, ScheduleConfig(kind="inverse_sqrt", warmup_steps=config.warmup_steps))
    dev_inputs, dev_refs = split_batches(dev_records), [r.text for r in dev_records]
    curve: list[tuple[int, float]] = []
    best: tuple[float, int, dict] | None = None
    seconds = 0.0
    started = time.perf_counter()
    stream = train_batches()
    modules.train()
    for step in range(1, steps + 1):
        inputs, texts = next(stream)
        targets = _targets(tokenizer, texts, config.max_target_length)
        embeds, mask = encoder_source(*inputs)
        logits = model(embeds, mask, targets)
        loss = F.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=-100, label_smoothing=config.label_smoothing
        )
        optimizer_step(loss, optimizer, scheduler, modules.parameters(), config.grad_clip)
        if (eval_every and step % eval_every == 0) or step == steps:
            seconds += time.perf_counter() - started
            hyps = _decode(model, encoder_source, dev_inputs, tokenizer, config.max_new_tokens)
            bleu = score(hyps, dev_refs, preset=preset).bleu4
            curve.append((step, bleu))
            if best is None or bleu > best[0]:
                best = (bleu, step, copy.deepcopy(modules.state_dict()))
            if progress:
                progress(f"reference ({source}) step {step}: loss {loss.item():.3f}, dev BLEU-4 {bleu:.2f}")
            started = time.perf_counter()
    assert best is not None
    modules.load_state_dict(best[2])
    dev_scores = score(
        _decode(model, encoder_source, dev_inputs, tokenizer, config.max_new_tokens), dev_refs, preset=preset
    )
    test_scores = None
    if test_records:
        hyps = _decode(model, encoder_source, split_batches(test_records), tokenizer, config.max_new_tokens)
        test_scores = score(hyps, [r.text for r in test_records], preset=preset)
    params = sum(p.numel() for p in modules.parameters())
    return ReferenceResult(source, steps, seconds, best[1], dev_scores, test_scores, curve, params)
