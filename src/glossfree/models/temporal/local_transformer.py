"""Local-attention transformer with temporal downsampling: HFA's temporal encoder (``kind: local_transformer``).

Paper 001 (HFA, Sec. 3.1 "Temporal Encoder", Sec. 4 "Model"): frame features go through a four-layer
transformer (hidden 512, 8 heads, feed-forward 2048) whose self-attention is local, with a window
of seven steps (each step attends to itself and three neighbours on each side, as in Sign2GPT),
uses rotary position embeddings (RoPE) for positions, and downsamples time after the second
layer; the output ``Z`` ("segment features") has ``T' < T`` steps.

Choices the paper leaves open, made here:

- Layers are pre-LayerNorm (``x + MHSA(LN(x))``, ``x + FFN(LN(x))``, GELU), with a final LayerNorm.
- Downsampling is masked average pooling with kernel = stride = ``downsample`` (2): output step
  ``j`` is the mean of the *real* frames among ``2j, 2j + 1``. A sample of ``len`` real frames gives
  ``ceil(len / 2)`` steps, so the mask is downsampled as ``arange(T') < ceil(len / 2)`` (an odd last
  frame is pooled alone). No parameters; the window stays seven steps after pooling, so later
  layers see twice as far in frames.
- RoPE uses RoFormer's frequencies (base 10000) on every layer's queries and keys; its positions
  are each sample's own step indices ``0 .. T - 1`` (frames are left-aligned), ``0 .. T' - 1``
  after pooling.

Padding never reaches a real step: attention never attends padded keys (:func:`band_mask`),
pooling averages real frames only, and padded steps are zeroed, so a sample's tokens do not depend
on the batch it is in.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from glossfree.config import StrictModel
from glossfree.models.temporal.attention import MultiHeadAttention, band_mask
from glossfree.models.temporal.conv_pool import strided_lengths


class LocalTransformerConfig(StrictModel):
    """Local-attention transformer (paper 001 defaults).

    Attributes:
        kind: compressor selector (``"local_transformer"``).
        num_layers: transformer layers.
        dim: hidden width (the output width; a mapper maps it to the LM width).
        num_heads: attention heads (must divide ``dim``; the head width must be even for RoPE).
        ff_dim: feed-forward hidden width.
        window: steps each query sees (odd; 7 = itself and ±3 neighbours).
        downsample: temporal pooling factor (masked average pooling, kernel = stride); 1 = none.
        downsample_after: number of layers run before pooling (0 pools the projected input).
        dropout: dropout in attention and feed-forward blocks.
    """

    kind: Literal["local_transformer"] = "local_transformer"
    num_layers: int = Field(4, ge=1)
    dim: int = Field(512, ge=1)
    num_heads: int = Field(8, ge=1)
    ff_dim: int = Field(2048, ge=1)
    window: int = Field(7, ge=1)
    downsample: int = Field(2, ge=1)
    downsample_after: int = Field(2, ge=0)
    dropout: float = 0.1

    @model_validator(mode="after")
    def _check(self) -> LocalTransformerConfig:
        if self.window % 2 != 1:
            raise ValueError(f"window must be odd so that it is centred on its step (got {self.window})")
        if self.downsample_after > self.num_layers:
            raise ValueError(f"downsample_after={self.downsample_after} is beyond num_layers={self.num_layers}")
        if self.dim % self.num_heads != 0 or (self.dim // self.num_heads) % 2 != 0:
            raise ValueError(
                f"dim={self.dim} must split into num_heads={self.num_heads} heads of even width (RoPE)"
            )
        return self


def masked_avg_pool(x: torch.Tensor, mask: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of the real steps of each group of ``factor`` steps.

    Args:
        x: ``[B, T, D]``.
        mask: ``[B, T]`` bool, left-aligned.
        factor: kernel = stride.

    Returns:
        ``[B, ceil(T / factor), D]`` (0 on padding) and its mask, ``ceil(len / factor)`` real steps.
    """
    batch, steps, dim = x.shape
    extra = -steps % factor
    keep = mask.unsqueeze(-1).to(x.dtype)  # [B, T, 1]
    total = F.pad(x * keep, (0, 0, 0, extra)).view(batch, -1, factor, dim).sum(dim=2)  # [B, T', D]
    count = F.pad(keep, (0, 0, 0, extra)).view(batch, -1, factor, 1).sum(dim=2)  # [B, T', 1]
    lengths = strided_lengths(mask.sum(dim=1), factor)  # [B]
    pooled_mask = torch.arange(total.shape[1], device=x.device)[None, :] < lengths[:, None]  # [B, T']
    return total / count.clamp_min(1.0), pooled_mask


class LocalTransformerLayer(nn.Module):
    """Pre-norm layer: ``x + MHSA(LN(x))`` with a band mask and RoPE, then ``x + FFN(LN(x))``."""

    def __init__(self, config: LocalTransformerConfig) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(config.dim)
        self.attn = MultiHeadAttention(config.dim, config.num_heads, dropout=config.dropout, rotary=True)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.ff = nn.Sequential(
            nn.LayerNorm(config.dim),
            nn.Linear(config.dim, config.ff_dim),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.ff_dim, config.dim),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """``x`` [B, T, D], ``allowed`` [B, T, T] (:func:`band_mask`) -> [B, T, D]."""
        normed = self.attn_norm(x)
        x = x + self.attn_dropout(self.attn(normed, normed, allowed))
        return x + self.ff(x)


class LocalTransformer(nn.Module):
    """``[B, T, input_dim]`` frames -> ``[B, T', dim]`` tokens and their mask ``[B, T']``.

    Args:
        config: :class:`LocalTransformerConfig`.
        input_dim: width of the per-frame features (projected to ``dim``).
        output_dim: the LM width (unused: a mapper maps ``dim`` to it, paper 001's linear mapper).
    """

    def __init__(self, config: LocalTransformerConfig, input_dim: int, output_dim: int) -> None:
        super().__init__()
        self.config = config
        self.output_dim = config.dim
        self.input = nn.Linear(input_dim, config.dim)
        self.layers = nn.ModuleList(LocalTransformerLayer(config) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, features: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Project, attend locally, pool after ``downsample_after`` layers.

        Args:
            features: ``[B, T, input_dim]``.
            frame_mask: ``[B, T]`` bool, True = real frame (left-aligned).

        Returns:
            ``tokens`` ``[B, ceil(T / downsample), dim]`` (0 where invalid) and their mask.
        """
        cfg = self.config
        mask = frame_mask.bool()
        x = self.input(features) * mask.unsqueeze(-1).to(features.dtype)  # [B, T, D]
        for index, layer in enumerate(self.layers):
            if index == cfg.downsample_after and cfg.downsample > 1:
                x, mask = masked_avg_pool(x, mask, cfg.downsample)  # [B, T', D]
            x = layer(x, band_mask(mask, cfg.window))
            x = x * mask.unsqueeze(-1).to(x.dtype)
        if cfg.downsample_after == cfg.num_layers and cfg.downsample > 1:
            x, mask = masked_avg_pool(x, mask, cfg.downsample)
        x = self.norm(x)
        return x * mask.unsqueeze(-1).to(x.dtype), mask
