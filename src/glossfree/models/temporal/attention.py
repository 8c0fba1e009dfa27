"""Multi-head attention with a key padding mask, shared by the Conformer and the Sliding Perceiver.

A thin wrapper over ``torch.nn.functional.scaled_dot_product_attention``. Keys where ``key_mask`` is
False take no part. A query row whose keys are *all* masked (a fully padded window) would give NaN;
such rows attend to every key instead, and callers zero or mask those outputs.

``need_weights=True`` computes the softmax explicitly and also returns the attention probabilities
``[B, H, Lq, Lk]`` (before dropout), for attentive pooling; the default path stays on the fused
kernel, which never materialises them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from glossfree.errors import ConfigError


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over ``num_heads`` heads.

    Args:
        dim: query (and output) width.
        num_heads: number of heads; must divide ``dim``.
        kv_dim: key/value input width (default ``dim``).
        dropout: attention-probability dropout (training only).
    """

    def __init__(self, dim: int, num_heads: int, *, kv_dim: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ConfigError(f"attention width {dim} is not divisible by num_heads={num_heads}")
        kv_dim = dim if kv_dim is None else kv_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(kv_dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(
        self,
        query: torch.Tensor,
        key_value: torch.Tensor,
        key_mask: torch.Tensor,
        *,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query`` [B, Lq, D] to ``key_value`` [B, Lk, Dkv]; ``key_mask`` [B, Lk] bool.

        Returns [B, Lq, D]; with ``need_weights``, also the probabilities [B, H, Lq, Lk].
        """
        batch, q_len, dim = query.shape
        k_len = key_value.shape[1]
        heads = self.num_heads
        q = self.q(query).view(batch, q_len, heads, dim // heads).transpose(1, 2)  # [B, H, Lq, Dh]
        k, v = self.kv(key_value).chunk(2, dim=-1)
        k = k.reshape(batch, k_len, heads, dim // heads).transpose(1, 2)  # [B, H, Lk, Dh]
        v = v.reshape(batch, k_len, heads, dim // heads).transpose(1, 2)  # [B, H, Lk, Dh]
        usable = key_mask | ~key_mask.any(dim=-1, keepdim=True)  # [B, Lk]; empty rows see all keys
        attn_mask = usable[:, None, None, :]  # [B, 1, 1, Lk]
        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            scores = q @ k.transpose(-1, -2) * (dim // heads) ** -0.5  # [B, H, Lq, Lk]
            weights = scores.masked_fill(~attn_mask, float("-inf")).softmax(dim=-1)
            out = F.dropout(weights, p=dropout_p, training=self.training) @ v  # [B, H, Lq, Dh]
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        out = self.out(out.transpose(1, 2).reshape(batch, q_len, dim))  # [B, Lq, D]
        return (out, weights) if need_weights else out
