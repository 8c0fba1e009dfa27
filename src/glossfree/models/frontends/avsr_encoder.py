"""Auto-AVSR's Conformer encoder (the 768-d lip-reading features of paper 004), for frozen extraction.

Paper 004 (Sec. 3.1, 4.2) takes its lip features from the Auto-AVSR lip reader (Ma et al. 2023,
mpc001/auto_avsr), "output dimension 768": the output of its ESPnet Conformer encoder on top of the
visual front-end (:class:`glossfree.models.frontends.lip_backbone.VisualFrontend`, 512-d). The
architecture below follows Auto-AVSR's ``espnet/nets/pytorch_backend/encoder/conformer_encoder.py``,
``transformer/attention.py`` (``RelPositionMultiHeadedAttention``), ``transformer/embedding.py``
(``RelPositionalEncoding``, ``rel_pos_type: latest``) and the visual config
(``configs/model/visual_backbone/resnet_conformer.yaml``: 768 wide, 12 heads, FF 3072, 12 blocks,
macaron, conv kernel 31, ``zero_triu: False``):

- input: ``Linear(512, 768)``, scaled by ``sqrt(768)``; sinusoidal relative positions
  ``-(T-1) .. T-1`` (Transformer-XL), no absolute position;
- each block (pre-norm, LayerNorm eps 1e-12): ``x + 0.5 FF(LN x)``, ``x + RelMHA(LN x)``,
  ``x + Conv(LN x)``, ``x + 0.5 FF(LN x)``, then LayerNorm; FF is Linear-ReLU-Linear; Conv is
  pointwise conv to 2x, GLU, depthwise conv, BatchNorm1d, Swish, pointwise conv;
- a final LayerNorm (``after_norm``).

Module names are those of Auto-AVSR inside each block (``self_attn.linear_q``, ``pos_bias_u``,
``conv_module.pointwise_cov1`` — sic —, ``norm_ff_macaron``, ...), so a block's weights load
unchanged; :func:`glossfree.features.extractors.avsr_encoder_state_dict` maps the rest. Inference
only (eval mode; dropout is off), one unpadded sequence at a time, as the extractor runs it.
This was checked numerically against Auto-AVSR's own modules (commit bd9fc94) with random weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from glossfree.models.temporal.positions import sinusoidal_encoding

_EPS = 1e-12  # ESPnet's LayerNorm


def relative_positions(length: int, dim: int) -> torch.Tensor:
    """``[2 T - 1, dim]`` sinusoidal encodings of relative positions ``T-1, ..., 1, 0, -1, ..., -(T-1)``
    (ESPnet ``RelPositionalEncoding``: sin on even, cos on odd channels)."""
    return sinusoidal_encoding(torch.arange(length - 1, -length, -1), dim)


class FeedForward(nn.Module):
    """``w_2(relu(w_1 x))`` (ESPnet ``PositionwiseFeedForward``)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w_1, self.w_2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(torch.relu(self.w_1(x)))


class ConvModule(nn.Module):
    """Pointwise conv (2x) + GLU, depthwise conv, BatchNorm1d, Swish, pointwise conv: ``[B, T, D]``."""

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.pointwise_cov1 = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise_conv = nn.Conv1d(dim, dim, kernel_size, padding=(kernel_size - 1) // 2, groups=dim)
        self.norm = nn.BatchNorm1d(dim)
        self.pointwise_cov2 = nn.Conv1d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.glu(self.pointwise_cov1(x.transpose(1, 2)), dim=1)  # [B, D, T]
        x = F.silu(self.norm(self.depthwise_conv(x)))
        return self.pointwise_cov2(x).transpose(1, 2)


class RelPositionAttention(nn.Module):
    """Multi-head self-attention with Transformer-XL relative positions (ESPnet
    ``RelPositionMultiHeadedAttention``, ``zero_triu=False``): ``x`` ``[B, T, D]`` and relative
    encodings ``[2T-1, D]`` -> ``[B, T, D]``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads, self.d_k = heads, dim // heads
        self.linear_q, self.linear_k = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.linear_v, self.linear_out = nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.linear_pos = nn.Linear(dim, dim, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(heads, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(heads, self.d_k))

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], -1, self.heads, self.d_k)  # [B, L, H, d_k]

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        q, k, v = self._split(self.linear_q(x)), self._split(self.linear_k(x)), self._split(self.linear_v(x))
        p = self._split(self.linear_pos(positions)[None])  # [1, 2T-1, H, d_k]
        content = torch.einsum("bihd,bjhd->bhij", q + self.pos_bias_u, k)  # [B, H, T, T]
        by_offset = torch.einsum("bihd,bjhd->bhij", q + self.pos_bias_v, p.expand(batch, -1, -1, -1))  # [B, H, T, 2T-1]
        # query i, key j: relative position i - j sits at index (T - 1) - (i - j) of the table
        index = (length - 1) - torch.arange(length)[:, None] + torch.arange(length)[None, :]  # [T, T]
        position = by_offset.gather(-1, index.expand(batch, self.heads, -1, -1))
        weights = torch.softmax((content + position) / math.sqrt(self.d_k), dim=-1)
        out = torch.einsum("bhij,bjhd->bihd", weights, v).reshape(batch, length, -1)
        return self.linear_out(out)


class ConformerLayer(nn.Module):
    """One Auto-AVSR/ESPnet Conformer block (macaron, pre-norm; names as in ``EncoderLayer``)."""

    def __init__(self, dim: int, heads: int, hidden: int, kernel_size: int) -> None:
        super().__init__()
        self.self_attn = RelPositionAttention(dim, heads)
        self.feed_forward, self.feed_forward_macaron = FeedForward(dim, hidden), FeedForward(dim, hidden)
        self.conv_module = ConvModule(dim, kernel_size)
        self.norm_ff, self.norm_mha = nn.LayerNorm(dim, eps=_EPS), nn.LayerNorm(dim, eps=_EPS)
        self.norm_ff_macaron, self.norm_conv = nn.LayerNorm(dim, eps=_EPS), nn.LayerNorm(dim, eps=_EPS)
        self.norm_final = nn.LayerNorm(dim, eps=_EPS)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        x = x + 0.5 * self.feed_forward_macaron(self.norm_ff_macaron(x))
        x = x + self.self_attn(self.norm_mha(x), positions)
        x = x + self.conv_module(self.norm_conv(x))
        x = x + 0.5 * self.feed_forward(self.norm_ff(x))
        return self.norm_final(x)


class AvsrConformerEncoder(nn.Module):
    """Front-end features ``[B, T, input_dim]`` (one unpadded sequence per row) -> ``[B, T, dim]``.

    Args:
        input_dim: front-end width (512).
        dim: encoder width (Auto-AVSR: 768).
        heads: attention heads (12).
        hidden: feed-forward width (3072).
        num_layers: Conformer blocks (12).
        kernel_size: depthwise convolution kernel (31).
    """

    def __init__(self, *, input_dim: int = 512, dim: int = 768, heads: int = 12, hidden: int = 3072,
                 num_layers: int = 12, kernel_size: int = 31) -> None:  # fmt: skip
        super().__init__()
        self.proj = nn.Linear(input_dim, dim)
        self.layers = nn.ModuleList(ConformerLayer(dim, heads, hidden, kernel_size) for _ in range(num_layers))
        self.after_norm = nn.LayerNorm(dim, eps=_EPS)
        self.dim = dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.proj(features) * math.sqrt(self.dim)  # [B, T, dim]
        positions = relative_positions(x.shape[1], self.dim).to(x)  # [2T-1, dim]
        for layer in self.layers:
            x = layer(x, positions)
        return self.after_norm(x)
