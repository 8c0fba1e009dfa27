"""Position encodings shared by the modules that use them: sinusoidal (Vaswani et al. 2017, Sec. 3.5)
and rotary (Su et al., RoFormer; used by the local transformer of paper 001, Sec. 3.1)."""

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


def apply_rotary(x: torch.Tensor, positions: torch.Tensor, *, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding (RoPE; Su et al., RoFormer, Sec. 3.2 and 3.4) of ``x [..., L, D]``.

    Channel pairs ``(2i, 2i + 1)`` of the vector at position ``m`` (``positions [L]``) are rotated by
    the angle ``m * theta_i``, ``theta_i = base ** (-2i / D)``. Applied to queries and keys, the dot
    product of a query at ``m`` and a key at ``n`` then depends only on ``m - n``. ``D`` must be even.
    """
    dim = x.shape[-1]
    if dim % 2 != 0:
        raise ValueError(f"rotary embedding needs an even width, got {dim}")
    theta = base ** (-torch.arange(0, dim, 2, dtype=torch.float32, device=x.device) / dim)  # [D/2]
    angle = positions.to(torch.float32)[:, None] * theta[None, :]  # [L, D/2]
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]  # [..., L, D/2]
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)  # [..., L, D/2, 2]
    return rotated.flatten(-2)  # [..., L, D]
