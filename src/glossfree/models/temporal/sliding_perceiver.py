"""Sliding Perceiver mapping network of paper 004 (Sec. 3.1, Fig. 4, Sec. 4.2, A.5).

Per-frame visual features ``[B, T, D_in]`` are linearly projected to the LLM embedding width, a
learnable global temporal position encoding is added, and the sequence is cut into overlapping
windows (``window`` frames, hop ``stride``; the paper uses 8 and 2). In every window a learnable
latent query (``num_latents`` per window, 1 in the paper) cross-attends to the window's frames and
passes a feed-forward block, for ``num_layers`` layers; each window yields ``num_latents`` tokens.
The latent update follows Flamingo's Perceiver Resampler (lucidrains/flamingo-pytorch,
``flamingo_pytorch/flamingo_pytorch.py``): keys and values are the window frames *and* the
latents, with pre-LayerNorm and residuals. Windows are cut with ``Tensor.unfold`` (no Python loop).

Each sample is windowed over its own valid length ``len_b`` (frames are left-aligned, padding at
the end): it gets ``W_b = 1 + max(0, ceil((len_b - window) / stride))`` windows, the last one
possibly running past its end, with padded frames masked out of attention. ``token_mask`` marks
the valid tokens, so a sample's tokens do not depend on how much the batch is padded.

The number of layers and the latent width are not legible in the seed text; ``num_layers=2`` is
our choice and the width defaults to the output (LLM) width, as the paper's projection implies.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from glossfree.config import StrictModel
from glossfree.errors import ConfigError
from glossfree.models.temporal.attention import MultiHeadAttention
from glossfree.models.temporal.positions import sinusoidal_encoding


class SlidingPerceiverConfig(StrictModel):
    """Sliding Perceiver hyper-parameters (paper 004 defaults where the paper states them).

    Attributes:
        kind: compressor selector (``"sliding_perceiver"``).
        window: frames per window.
        stride: hop between window starts.
        num_layers: cross-attention + feed-forward layers.
        num_heads: attention heads (must divide the width).
        ff_mult: feed-forward hidden width = ``ff_mult * width``.
        num_latents: latent queries (output tokens) per window.
        max_len: longest input (frames) the learned position encoding covers.
        position_init: start of the learned position encoding: ``random`` (N(0, 0.02²)) or
            ``sinusoidal`` (the fixed encoding of Vaswani et al., still trained). The paper says only
            "learnable"; with ``random`` the tokens carry almost no absolute position until it is
            learnt, which a task that answers positions (SSA) cannot do without. For translation
            alone keep ``random``: the unit-scale sinusoids outweigh the content at the start and
            the LM stops reading it (docs/benchmarks.md §8).
        dim: internal width; ``None`` = the output (LLM embedding) width, as in the paper.
        dropout: dropout in attention and feed-forward blocks.
        query: what each window's latents start from: ``learned`` (the paper: the same learned
            latents for every window) or ``centre`` (the learned latents plus the window's centre
            frame, so each token starts as its own frame and the attention adds the window's
            context). With ``learned`` the attention over a window starts near a uniform average,
            and neighbouring tokens of a window-8, stride-2 perceiver are nearly the same token
            (docs/benchmarks.md §12, sixth round).
    """

    kind: Literal["sliding_perceiver"] = "sliding_perceiver"
    window: int = 8
    stride: int = 2
    num_layers: int = 2
    num_heads: int = 8
    ff_mult: int = 4
    num_latents: int = 1
    max_len: int = 1024
    position_init: Literal["random", "sinusoidal"] = "random"
    dim: int | None = None
    dropout: float = 0.0
    query: Literal["learned", "centre"] = "learned"


def num_windows(lengths: torch.Tensor, *, window: int, stride: int) -> torch.Tensor:
    """Windows per sample: ``1 + max(0, ceil((len - window) / stride))`` for ``lengths`` [B]."""
    extra = (lengths - window).clamp(min=0)
    return 1 + torch.div(extra + stride - 1, stride, rounding_mode="floor")


class PerceiverLayer(nn.Module):
    """Latents attend to ``[frames; latents]`` (Flamingo), then a feed-forward block; both residual."""

    def __init__(self, dim: int, *, num_heads: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.frame_norm = nn.LayerNorm(dim)
        self.latent_norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads, dropout=dropout)
        self.ff = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, dim * ff_mult),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(dim * ff_mult, dim),
        )

    def forward(self, latents: torch.Tensor, frames: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``latents`` [M, Q, D], ``frames`` [M, K, D], ``frame_mask`` [M, K] -> [M, Q, D]."""
        normed = self.latent_norm(latents)
        keys = torch.cat([self.frame_norm(frames), normed], dim=1)  # [M, K + Q, D]
        latent_mask = torch.ones(latents.shape[:2], dtype=torch.bool, device=latents.device)
        key_mask = torch.cat([frame_mask, latent_mask], dim=1)  # [M, K + Q]
        latents = latents + self.attn(normed, keys, key_mask)
        return latents + self.ff(latents)


class SlidingPerceiver(nn.Module):
    """Compress ``[B, T, input_dim]`` frames into ``[B, W * num_latents, output_dim]`` tokens.

    Args:
        config: :class:`SlidingPerceiverConfig`.
        input_dim: width of the per-frame features.
        output_dim: width of the output tokens (the LLM embedding width).
    """

    def __init__(self, config: SlidingPerceiverConfig, input_dim: int, output_dim: int) -> None:
        super().__init__()
        if config.window < 1 or config.stride < 1:
            raise ConfigError(
                f"compressor.window and compressor.stride must be >= 1 (got {config.window}, {config.stride})"
            )
        self.config = config
        self.output_dim = output_dim
        dim = config.dim or output_dim
        self.input = nn.Linear(input_dim, dim)
        if config.position_init == "sinusoidal":
            start = sinusoidal_encoding(torch.arange(config.max_len), dim)
        else:
            start = torch.randn(config.max_len, dim) * 0.02
        self.position = nn.Parameter(start)  # [max_len, D]
        self.latents = nn.Parameter(torch.randn(config.num_latents, dim) * 0.02)  # [Q, D]
        self.layers = nn.ModuleList(
            PerceiverLayer(dim, num_heads=config.num_heads, ff_mult=config.ff_mult, dropout=config.dropout)
            for _ in range(config.num_layers)
        )
        self.norm = nn.LayerNorm(dim)
        self.output = nn.Identity() if dim == output_dim else nn.Linear(dim, output_dim)

    def forward(self, features: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Window, attend and pool.

        Args:
            features: ``[B, T, input_dim]``.
            frame_mask: ``[B, T]`` bool, True = real frame (left-aligned).

        Returns:
            ``tokens`` ``[B, W * num_latents, output_dim]`` (0 where invalid) and ``token_mask``
            ``[B, W * num_latents]`` bool, with ``W`` the largest per-sample window count.
        """
        cfg = self.config
        batch, frames, _ = features.shape
        if frames > cfg.max_len:
            raise ConfigError(
                f"input has {frames} frames but the Sliding Perceiver's position encoding covers "
                f"compressor.max_len={cfg.max_len}; raise max_len or crop the input"
            )
        frame_mask = frame_mask.bool()
        x = self.input(features) + self.position[:frames]  # [B, T, D]
        x = x * frame_mask.unsqueeze(-1).to(x.dtype)

        windows_per_sample = num_windows(frame_mask.sum(dim=1), window=cfg.window, stride=cfg.stride)  # [B]
        count = int(windows_per_sample.max())
        span = (count - 1) * cfg.stride + cfg.window  # frames covered by `count` windows
        if span > frames:
            x = nn.functional.pad(x, (0, 0, 0, span - frames))  # [B, span, D]
            frame_mask = nn.functional.pad(frame_mask, (0, span - frames), value=False)
        x, frame_mask = x[:, :span], frame_mask[:, :span]
        dim = x.shape[-1]
        windows = x.unfold(1, cfg.window, cfg.stride)  # [B, W, D, window]
        windows = windows.permute(0, 1, 3, 2).reshape(batch * count, cfg.window, dim)  # [B * W, window, D]
        window_mask = frame_mask.unfold(1, cfg.window, cfg.stride).reshape(batch * count, cfg.window)

        latents = self.latents.unsqueeze(0).expand(batch * count, -1, -1)  # [B * W, Q, D]
        if cfg.query == "centre":  # each window's latents start from its centre frame (0 if padding)
            latents = latents + windows[:, (cfg.window - 1) // 2].unsqueeze(1)  # [B * W, Q, D]
        for layer in self.layers:
            latents = layer(latents, windows, window_mask)
        tokens = self.output(self.norm(latents))  # [B * W, Q, out]
        tokens = tokens.reshape(batch, count * cfg.num_latents, self.output_dim)  # [B, W * Q, out]

        window_valid = torch.arange(count, device=x.device)[None, :] < windows_per_sample[:, None]  # [B, W]
        token_mask = window_valid.repeat_interleave(cfg.num_latents, dim=1)  # [B, W * Q]
        return tokens * token_mask.unsqueeze(-1).to(tokens.dtype), token_mask
