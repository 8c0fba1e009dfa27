"""A frontend over a cached feature stream (``kind: features``): ``[B, T, D_in]`` -> ``[B, T, dim]``.

The frozen-extractor recipes (SpaMo: CLIP-S2 + VideoMAE; HFA: DINOv2; SAGE: ResNet-34) train on
features read from ``features/<stream>/<id>.safetensors`` (:mod:`glossfree.features`). This
frontend maps one such stream to the model width: an optional norm of the input features
(``input_norm``: a LayerNorm without affine parameters, which puts streams of very different
scales on one footing), a linear projection, an optional LayerNorm of the output, GELU-free (the
compressor/mapper after it brings the non-linearity), dropout. Padded time steps come out as
exactly zero. In a recipe: ``model.frontend: {kind: features, stream: ..., input_dim: ...}``, or
one entry of ``model.frontends`` (see :mod:`glossfree.models.slt`); the dataset then reads the stream.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from glossfree.config import StrictModel
from glossfree.errors import ConfigError


class FeatureStreamConfig(StrictModel):
    """One cached feature stream as a frontend.

    Attributes:
        kind: frontend selector (``"features"``).
        stream: the cache folder name under ``features/`` (``glossfree extract --name``).
        input_dim: width ``D_in`` of the cached features (``dim`` in the folder's ``extractor.json``).
        dim: output width.
        input_norm: normalise each input vector (LayerNorm without learnt parameters) first.
        norm: ``layernorm`` after the projection, or ``none``.
        dropout: dropout on the output.
    """

    kind: Literal["features"] = "features"
    stream: str
    input_dim: int = Field(ge=1)
    dim: int = Field(256, ge=1)
    input_norm: bool = False
    norm: Literal["layernorm", "none"] = "layernorm"
    dropout: float = Field(0.1, ge=0.0, lt=1.0)


class FeatureStreamFrontend(nn.Module):
    """Projection of a cached stream: ``features`` ``[B, T, D_in]`` and ``mask`` ``[B, T]`` -> ``[B, T, dim]``."""

    def __init__(self, config: FeatureStreamConfig) -> None:
        super().__init__()
        self.config = config
        self.input_norm = nn.LayerNorm(config.input_dim, elementwise_affine=False) if config.input_norm else nn.Identity()
        self.proj = nn.Linear(config.input_dim, config.dim)
        self.norm = nn.LayerNorm(config.dim) if config.norm == "layernorm" else nn.Identity()
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``features`` ``[B, T, D_in]`` (any float dtype), ``mask`` ``[B, T]`` (True = real step) -> ``[B, T, dim]``."""
        if features.ndim != 3 or features.shape[-1] != self.config.input_dim:
            raise ConfigError(
                f"feature stream '{self.config.stream}': expected [B, T, {self.config.input_dim}] features, "
                f"got {list(features.shape)} (set input_dim to the width the extractor wrote)"
            )
        if mask.shape != features.shape[:2]:
            raise ValueError(f"mask {list(mask.shape)} does not match features {list(features.shape[:2])}")
        x = features.to(self.proj.weight.dtype)
        out = self.dropout(self.norm(self.proj(self.input_norm(x))))  # [B, T, dim]
        return out * mask.unsqueeze(-1).to(out.dtype)
