"""Strided temporal convolutions: the compressor of convolutional SLT baselines (``kind: conv_pool``).

``num_layers`` blocks of ``Conv1d(kernel_size, stride)`` -> LayerNorm -> GELU -> Dropout reduce the
frame rate by ``stride ** num_layers`` (the "temporal convolution + pooling" front of Camgoz et al.
2020-style pose baselines and of SpaMo's Sign Adapter, ``K5-P2-K5-P2``, which pools with max-pool
instead of a stride: ``pool: max``, a stride-1 convolution followed by a max-pool of ``stride`` steps
over the sample's real steps). A sample of ``len`` valid frames gives ``ceil(len / stride)`` tokens per
layer. Padded frames are zeroed before every convolution, so each sample sees exactly the zero
padding it would see alone: a sample's tokens never depend on the batch.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, field_validator
from torch import nn

from glossfree.config import StrictModel


class ConvPoolConfig(StrictModel):
    """Strided Conv1d compressor.

    Attributes:
        kind: compressor selector (``"conv_pool"``).
        num_layers: strided convolution blocks.
        kernel_size: temporal kernel (odd).
        stride: frame-rate reduction of each block.
        dim: channels of every block (``None`` = the input width).
        dropout: dropout after each block.
        pool: ``stride`` (the convolution strides) or ``max`` (a stride-1 convolution, then a
            max-pool of ``stride`` steps: SpaMo's K5-P2, after Hu et al. 2023's TemporalConv).
    """

    kind: Literal["conv_pool"] = "conv_pool"
    num_layers: int = Field(2, ge=1)
    kernel_size: int = Field(5, ge=1)
    stride: int = Field(2, ge=1)
    dim: int | None = None
    dropout: float = 0.1
    pool: Literal["stride", "max"] = "stride"

    @field_validator("kernel_size")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value % 2 != 1:
            raise ValueError(f"must be odd so that tokens stay centred on their frames (got {value})")
        return value


def strided_lengths(lengths: torch.Tensor, stride: int) -> torch.Tensor:
    """Valid outputs of a ``padding = kernel // 2`` convolution with ``stride``: ``ceil(len / stride)``."""
    return torch.div(lengths + stride - 1, stride, rounding_mode="floor")


class ConvBlock(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, config: ConvPoolConfig) -> None:
        super().__init__()
        self.pool = config.stride if config.pool == "max" else 1
        stride = 1 if config.pool == "max" else config.stride
        self.conv = nn.Conv1d(in_dim, out_dim, config.kernel_size, stride=stride, padding=config.kernel_size // 2)
        self.norm = nn.LayerNorm(out_dim)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, T, D_in] (0 on padding), ``mask`` [B, T] -> [B, ceil(T / stride), D_out]."""
        h = self.act(self.norm(self.conv(x.transpose(1, 2)).transpose(1, 2)))
        if self.pool > 1:  # max over each run of ``pool`` steps, never over padding
            batch, steps, width = h.shape
            h = h.masked_fill(~mask[..., None], float("-inf"))
            extra = (-steps) % self.pool
            h = torch.cat([h, h.new_full((batch, extra, width), float("-inf"))], dim=1)
            h = h.view(batch, -1, self.pool, width).amax(dim=2)  # [B, ceil(T / pool), D]
            h = h.masked_fill(torch.isinf(h), 0.0)
        return self.dropout(h)


class ConvPool(nn.Module):
    """``[B, T, input_dim]`` frames -> ``[B, T', dim]`` tokens and their mask ``[B, T']``.

    Args:
        config: :class:`ConvPoolConfig`.
        input_dim: width of the per-frame features.
        output_dim: the LM width (unused: a mapper maps ``dim`` to it).
    """

    def __init__(self, config: ConvPoolConfig, input_dim: int, output_dim: int) -> None:
        super().__init__()
        self.config = config
        dim = config.dim or input_dim
        self.output_dim = dim
        widths = [input_dim] + [dim] * config.num_layers
        self.blocks = nn.ModuleList(ConvBlock(a, b, config) for a, b in zip(widths[:-1], widths[1:], strict=True))

    def forward(self, features: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = frame_mask.bool()
        lengths = mask.sum(dim=1)
        x = features
        for block in self.blocks:
            x = block(x * mask.unsqueeze(-1).to(x.dtype), mask)
            lengths = strided_lengths(lengths, self.config.stride)
            mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        return x * mask.unsqueeze(-1).to(x.dtype), mask
