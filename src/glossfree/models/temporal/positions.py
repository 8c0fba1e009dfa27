"""Sinusoidal position encodings (Vaswani et al. 2017, Sec. 3.5), shared by the modules that use them."""

from __future__ import annotations

import math

import torch


def sinusoidal_encoding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """``[len(positions), dim]`` encodings of (possibly negative) ``positions``: sines on even
    channels, cosines on odd ones, wavelengths from 2π to 10000·2π."""
    position = positions.to(torch.float32)[:, None]  # [T, 1]
    inverse = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * -(math.log(10000.0) / dim))  # [ceil(D/2)]
    table = torch.zeros(len(positions), dim)
    table[:, 0::2] = torch.sin(position * inverse)
    table[:, 1::2] = torch.cos(position * inverse[: dim // 2])
    return table
