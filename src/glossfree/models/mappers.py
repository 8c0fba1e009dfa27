"""Mappers: per-token maps from visual features to the language model's embedding width.

``linear`` (one projection), ``mlp`` (Linear, GELU, Dropout, Linear, as SpaMo's ``mlp2x_gelu`` and
the MLP baseline of paper 004, Tab. 3), ``ff_stack`` (SAGE's Vision-to-Language Mapper, paper 002
Sec. 3.1.4: ``num_blocks`` blocks of LayerNorm -> Linear -> GELU -> Dropout, the first from the
input width to the LM width, the others at the LM width) and ``identity`` (when the compressor already outputs the LM
width, as the Sliding Perceiver does). Chosen by ``kind`` through :data:`MAPPERS`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from glossfree.config import StrictModel
from glossfree.errors import ConfigError


class MapperConfig(StrictModel):
    """Mapper selection.

    Attributes:
        kind: ``"linear"``, ``"mlp"``, ``"ff_stack"`` or ``"identity"``.
        hidden_dim: MLP hidden width (``None`` = the output width); ignored by other kinds.
        dropout: MLP dropout between the two layers; ``ff_stack``: dropout closing each block (SAGE: 0.1).
        num_blocks: ``ff_stack`` blocks (SAGE: 3).
    """

    kind: Literal["linear", "mlp", "ff_stack", "identity"] = "identity"
    hidden_dim: int | None = None
    dropout: float = Field(0.0, ge=0, lt=1)
    num_blocks: int = Field(3, ge=1)


def _linear(config: MapperConfig, input_dim: int, output_dim: int) -> nn.Module:
    return nn.Linear(input_dim, output_dim)


def _mlp(config: MapperConfig, input_dim: int, output_dim: int) -> nn.Module:
    hidden = config.hidden_dim or output_dim
    return nn.Sequential(
        nn.Linear(input_dim, hidden), nn.GELU(), nn.Dropout(config.dropout), nn.Linear(hidden, output_dim)
    )


def _ff_stack(config: MapperConfig, input_dim: int, output_dim: int) -> nn.Module:
    widths = [input_dim] + [output_dim] * config.num_blocks
    return nn.Sequential(*(
        nn.Sequential(nn.LayerNorm(a), nn.Linear(a, b), nn.GELU(), nn.Dropout(config.dropout))
        for a, b in itertools.pairwise(widths)
    ))  # fmt: skip


def _identity(config: MapperConfig, input_dim: int, output_dim: int) -> nn.Module:
    if input_dim != output_dim:
        raise ConfigError(
            f"mapper.kind 'identity' needs equal widths, but the features are {input_dim}-d and the "
            f"language model embeds {output_dim}-d; use mapper.kind 'linear' or 'mlp'"
        )
    return nn.Identity()


MAPPERS: dict[str, Callable[[MapperConfig, int, int], nn.Module]] = {
    "linear": _linear,
    "mlp": _mlp,
    "ff_stack": _ff_stack,
    "identity": _identity,
}


def build_mapper(config: MapperConfig, input_dim: int, output_dim: int) -> nn.Module:
    """Build the mapper named by ``config.kind``: ``[..., input_dim] -> [..., output_dim]``."""
    return MAPPERS[config.kind](config, input_dim, output_dim)


class MaskedBatchNorm(nn.Module):
    """BatchNorm over the valid tokens of a batch: ``x`` [B, L, D], ``mask`` [B, L] -> [B, L, D].

    Standardises each feature over the real (unpadded) tokens in training and with running
    statistics in evaluation, so padding never changes a sample's output at inference. Placed in front
    of the language model (``model.token_norm: batch``), it removes the feature offsets that every
    sample shares: a from-scratch visual encoder's tokens start out nearly identical across samples
    (per-sample variation ~1 % of their norm), and an LM fed such tokens learns the sentence prior and
    ignores its input. Paper 004's backbone reaches the same effect with BatchNorm in its AGCN blocks.
    A training batch with a single valid token uses the running statistics.
    """

    def __init__(self, dim: int, *, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(dim, momentum=momentum, eps=eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.bool()
        rows = x[mask]  # [N_valid, D]
        if self.training and rows.shape[0] < 2:
            self.norm.eval()
            normed = self.norm(rows)
            self.norm.train()
        else:
            normed = self.norm(rows)
        return x.new_zeros(x.shape).masked_scatter(mask.unsqueeze(-1), normed)


class NoTokenNorm(nn.Module):
    """``model.token_norm: none``: tokens pass unchanged."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x


def build_token_norm(kind: str, dim: int) -> nn.Module:
    return MaskedBatchNorm(dim) if kind == "batch" else NoTokenNorm()
