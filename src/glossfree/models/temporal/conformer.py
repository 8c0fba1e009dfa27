"""A compact Conformer encoder (Gulati et al., Interspeech 2020) with padding-safe masking.

Paper 004 (Sec. 3.1, Sec. 4.2, Tab. A.2) runs 4 Conformer blocks (8 heads, feed-forward multiplier
4, convolution expansion 2, kernel size 5) over the per-frame pose features. Each block is
``x + FFN/2 -> x + MHSA -> x + ConvModule -> x + FFN/2 -> LayerNorm`` as in the Conformer paper;
the convolution module follows lucidrains/conformer (``conformer/conformer.py``): pointwise conv to
``2 * expansion * dim``, GLU, depthwise conv, norm, Swish, pointwise conv back to ``dim``.

Padding never leaks into real frames: self-attention takes a key padding mask, padded frames are
zeroed before the depthwise convolution (so it sees exactly the zeros that a lone, unpadded
sequence sees at its end), and the batch-statistics BatchNorm of the original conv module is a
per-frame LayerNorm here, so a frame's output does not depend on the other samples of the batch.
Positions enter only through the convolutions (no positional encoding).
"""

from __future__ import annotations

import torch
from pydantic import field_validator
from torch import nn

from glossfree.config import StrictModel
from glossfree.models.temporal.attention import MultiHeadAttention


class ConformerConfig(StrictModel):
    """Conformer encoder hyper-parameters (paper 004, Sec. 4.2).

    Attributes:
        num_layers: number of Conformer blocks.
        num_heads: self-attention heads (must divide the model width).
        ff_mult: feed-forward hidden width = ``ff_mult * dim``.
        conv_expansion: convolution module inner width = ``conv_expansion * dim``.
        kernel_size: depthwise convolution kernel (odd).
        dropout: dropout in feed-forward, attention and convolution modules.
    """

    num_layers: int = 4
    num_heads: int = 8
    ff_mult: int = 4
    conv_expansion: int = 2
    kernel_size: int = 5
    dropout: float = 0.1

    @field_validator("kernel_size")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value % 2 != 1:
            raise ValueError(f"must be odd so that frames stay centred (got {value})")
        return value


class FeedForward(nn.Module):
    """Pre-norm feed-forward block: LayerNorm, Linear, Swish, Dropout, Linear, Dropout."""

    def __init__(self, dim: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, dim * mult),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(dim * mult, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvModule(nn.Module):
    """Conformer convolution module over time with padded frames zeroed before the depthwise conv."""

    def __init__(self, dim: int, *, expansion: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        inner = dim * expansion
        self.norm = nn.LayerNorm(dim)
        self.pointwise_in = nn.Linear(dim, 2 * inner)
        self.glu = nn.GLU(dim=-1)
        self.depthwise = nn.Conv1d(inner, inner, kernel_size, padding=kernel_size // 2, groups=inner)
        self.inner_norm = nn.LayerNorm(inner)
        self.act = nn.SiLU()
        self.pointwise_out = nn.Linear(inner, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, T, D], ``frame_mask`` [B, T] bool -> [B, T, D]."""
        keep = frame_mask.unsqueeze(-1).to(x.dtype)  # [B, T, 1]
        h = self.glu(self.pointwise_in(self.norm(x))) * keep  # [B, T, inner]
        h = self.depthwise(h.transpose(1, 2)).transpose(1, 2)  # [B, T, inner]
        h = self.pointwise_out(self.act(self.inner_norm(h)))  # [B, T, D]
        return self.dropout(h)


class ConformerBlock(nn.Module):
    """One Conformer block: half-step FFN, MHSA, convolution module, half-step FFN, LayerNorm."""

    def __init__(self, dim: int, config: ConformerConfig) -> None:
        super().__init__()
        self.ff1 = FeedForward(dim, config.ff_mult, config.dropout)
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, config.num_heads, dropout=config.dropout)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.conv = ConvModule(
            dim, expansion=config.conv_expansion, kernel_size=config.kernel_size, dropout=config.dropout
        )
        self.ff2 = FeedForward(dim, config.ff_mult, config.dropout)
        self.out_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, T, D], ``frame_mask`` [B, T] bool -> [B, T, D] (0 on padded frames)."""
        x = x + 0.5 * self.ff1(x)
        h = self.attn_norm(x)
        x = x + self.attn_dropout(self.attn(h, h, frame_mask))
        x = x + self.conv(x, frame_mask)
        x = x + 0.5 * self.ff2(x)
        return self.out_norm(x) * frame_mask.unsqueeze(-1).to(x.dtype)


class Conformer(nn.Module):
    """A stack of :class:`ConformerBlock` over per-frame features.

    Args:
        dim: model width (input and output).
        config: :class:`ConformerConfig`.
    """

    def __init__(self, dim: int, config: ConformerConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(ConformerBlock(dim, config) for _ in range(config.num_layers))

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, T, D], ``frame_mask`` [B, T] bool (True = real frame) -> [B, T, D]."""
        x = x * frame_mask.unsqueeze(-1).to(x.dtype)
        for block in self.blocks:
            x = block(x, frame_mask)
        return x
