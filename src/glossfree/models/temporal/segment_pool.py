"""One token per sign segment: SAGE's segment-aware visual tokenizer (``kind: segment_pool``).

Paper 002 (SAGE, Sec. 3.1.1 and 3.1.3): a segmenter cuts the video into sign segments; each segment's
frame features (ResNet-34, 512-d: the ``frame_encoder`` frontend) go through a temporal encoder,
``Conv1d(kernel 5)`` -> BatchNorm -> ReLU, that also widens them to 1024 ("(n - 4) x 1024": the
convolution runs inside the segment without padding), and are average-pooled over time into one
token per segment. A Transformer encoder (VE, 3 layers in the paper's best setting, Table 5) runs
over the segment tokens in pretraining, where the Cross-Hidden-State loss reads its output (the
``context`` point); Table 5's best translation drops it (``context_in_tokens: false``, the
default), keeping it is the switch ``context_in_tokens: true`` (the mapper then reads the VE output).

The segments are the batch's ``segments`` ``[B, S, 2]`` (frame spans ``[first, stop)`` in the
frontend's steps, from ``segments.jsonl``, see ``glossfree segment``). Choices the paper leaves open:

- **Segments shorter than the kernel** (``n < 5`` frames) are zero-padded symmetrically to 5 frames
  and give one convolution output (the paper's ``n - 4`` would be empty); a segment of ``n >= 5``
  frames gives ``n - 4`` outputs that see its own frames only, never a neighbour's.
- **BatchNorm over real outputs only** (:class:`~glossfree.models.mappers.MaskedBatchNorm`): the
  padding of a segment or of the batch never enters the statistics, and in evaluation (running
  statistics) a sample's tokens never depend on its batch (tested).
- **A sample without any segment** (the segmenter found no signing) gets one segment covering its
  whole clip, so the LM never reads an empty input. Spans are clipped to the sample's real steps.
- **VE**: pre-LayerNorm ``nn.TransformerEncoder`` (GELU, dropout 0.1, sinusoidal positions over the
  segment index, padded tokens masked as keys and zeroed); heads and feed-forward width are not in
  the paper (defaults 8 and ``4 * dim``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from glossfree.config import StrictModel
from glossfree.models.mappers import MaskedBatchNorm
from glossfree.models.outputs import VisualTokens
from glossfree.models.temporal.positions import sinusoidal_encoding


class SegmentPoolConfig(StrictModel):
    """Segment tokenizer (paper 002 defaults).

    Attributes:
        kind: compressor selector (``"segment_pool"``).
        dim: width of the temporal convolution and of the tokens (1024).
        kernel_size: temporal convolution kernel (5); odd.
        context_layers: layers of the Transformer encoder VE over the tokens (3; 0 = none).
        context_heads: VE attention heads (must divide ``dim``).
        context_ff_dim: VE feed-forward width (``None`` = ``4 * dim``).
        context_in_tokens: translation reads the VE output (``true``) or the pooled tokens (``false``,
            Table 5's best: VE used in pretraining only).
        dropout: VE dropout.
    """

    kind: Literal["segment_pool"] = "segment_pool"
    dim: int = Field(1024, ge=1)
    kernel_size: int = Field(5, ge=1)
    context_layers: int = Field(3, ge=0)
    context_heads: int = Field(8, ge=1)
    context_ff_dim: int | None = Field(None, ge=1)
    context_in_tokens: bool = False
    dropout: float = Field(0.1, ge=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> SegmentPoolConfig:
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd (short segments are padded on both sides), got {self.kernel_size}")
        if self.context_layers and self.dim % self.context_heads:
            raise ValueError(f"context_heads {self.context_heads} must divide dim {self.dim}")
        if self.context_in_tokens and not self.context_layers:
            raise ValueError("context_in_tokens needs a VE: set context_layers > 0")
        return self


def batch_segments(segments: torch.Tensor | None, segment_mask: torch.Tensor | None, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """The spans each sample is pooled over: ``segments`` ``[B, S, 2]`` clipped to its ``lengths``
    ``[B]`` real steps, spans left empty dropped (moved to the end), a sample without any span given
    ``[0, length)``. Returns ``(spans [B, S', 2], mask [B, S'])``, in order within each row."""
    batch = lengths.shape[0]
    if segments is None or segment_mask is None:
        segments = lengths.new_zeros(batch, 0, 2)
        segment_mask = torch.zeros(batch, 0, dtype=torch.bool, device=lengths.device)
    rows = []
    for row in range(batch):
        spans = segments[row][segment_mask[row].bool()].clamp(min=0)
        spans = torch.minimum(spans, lengths[row])
        spans = spans[spans[:, 1] > spans[:, 0]]
        if len(spans) == 0:
            spans = torch.stack([lengths.new_zeros(()), lengths[row].clamp(min=1)])[None]
        rows.append(spans)
    count = max(len(r) for r in rows)
    out = lengths.new_zeros(batch, count, 2)
    mask = torch.zeros(batch, count, dtype=torch.bool, device=lengths.device)
    for row, spans in enumerate(rows):
        out[row, : len(spans)] = spans
        mask[row, : len(spans)] = True
    return out, mask


class SegmentPool(nn.Module):
    """``[B, T, input_dim]`` frame features + spans -> ``[B, S, dim]`` segment tokens and mask ``[B, S]``.

    Args:
        config: :class:`SegmentPoolConfig`.
        input_dim: width of the per-frame features (512 for ResNet-34).
        output_dim: the LM width (unused: a mapper maps ``dim`` to it).
    """

    reads_segments = True

    def __init__(self, config: SegmentPoolConfig, input_dim: int, output_dim: int) -> None:
        super().__init__()
        self.config = config
        self.output_dim = config.dim
        self.conv = nn.Conv1d(input_dim, config.dim, config.kernel_size)
        self.norm = MaskedBatchNorm(config.dim)
        self.context: nn.TransformerEncoder | None = None
        if config.context_layers:
            layer = nn.TransformerEncoderLayer(
                config.dim, config.context_heads, config.context_ff_dim or 4 * config.dim, config.dropout,
                activation="gelu", batch_first=True, norm_first=True,
            )  # fmt: skip
            self.context = nn.TransformerEncoder(layer, config.context_layers, norm=nn.LayerNorm(config.dim), enable_nested_tensor=False)

    def pool(self, features: torch.Tensor, spans: torch.Tensor, span_mask: torch.Tensor) -> torch.Tensor:
        """Conv -> BN -> ReLU inside each real span, averaged: ``[B, S, dim]`` (0 on padded spans)."""
        kernel = self.config.kernel_size
        rows, cols = span_mask.nonzero(as_tuple=True)  # the N real spans
        first, stop = spans[rows, cols, 0], spans[rows, cols, 1]  # [N]
        length = stop - first
        pad = torch.clamp(kernel - length, min=0) // 2  # left zero padding of a short span
        width = int(torch.clamp(length, min=kernel).max()) if len(rows) else kernel
        steps = torch.arange(width, device=features.device)[None, :]  # [1, W]
        source = first[:, None] + steps - pad[:, None]  # [N, W] frame read at each place
        inside = (steps >= pad[:, None]) & (steps < (pad + length)[:, None])
        gathered = features[rows[:, None], source.clamp(0, features.shape[1] - 1)]  # [N, W, D_in]
        gathered = gathered * inside[..., None].to(gathered.dtype)
        hidden = self.conv(gathered.transpose(1, 2)).transpose(1, 2)  # [N, W - kernel + 1, dim]
        outputs = torch.clamp(length - kernel + 1, min=1)  # [N] valid outputs per span
        valid = torch.arange(hidden.shape[1], device=features.device)[None, :] < outputs[:, None]
        hidden = F.relu(self.norm(hidden, valid)) * valid[..., None].to(hidden.dtype)
        pooled = hidden.sum(dim=1) / outputs[:, None].to(hidden.dtype)  # [N, dim]
        tokens = features.new_zeros(*span_mask.shape, self.config.dim)
        tokens[rows, cols] = pooled.to(tokens.dtype)
        return tokens

    def contextualize(self, tokens: VisualTokens) -> VisualTokens:
        """VE over the segment tokens: ``[B, S, dim]`` hidden states (0 on padding), same mask."""
        assert self.context is not None, "context_layers is 0: this tokenizer has no VE"
        mask = tokens.mask.bool()
        positions = sinusoidal_encoding(torch.arange(mask.shape[1]), self.config.dim).to(tokens.features)
        hidden = self.context(tokens.features + positions[None], src_key_padding_mask=~mask)
        return VisualTokens(hidden * mask[..., None].to(hidden.dtype), mask)

    def forward(
        self,
        features: torch.Tensor,
        frame_mask: torch.Tensor,
        *,
        segments: torch.Tensor | None = None,
        segment_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``features`` ``[B, T, D_in]``, ``frame_mask`` ``[B, T]``, ``segments`` ``[B, S, 2]`` and
        ``segment_mask`` ``[B, S]`` -> tokens ``[B, S', dim]`` and their mask ``[B, S']``."""
        lengths = frame_mask.bool().sum(dim=1)
        spans, span_mask = batch_segments(segments, segment_mask, lengths)
        tokens = self.pool(features, spans.to(features.device), span_mask.to(features.device))
        if self.config.context_in_tokens:
            return self.contextualize(VisualTokens(tokens, span_mask)).features, span_mask
        return tokens, span_mask
