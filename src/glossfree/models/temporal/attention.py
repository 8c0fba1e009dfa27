"""Multi-head attention with a key padding mask, shared by the Conformer, the Sliding Perceiver and
the local transformer.

A thin wrapper over ``torch.nn.functional.scaled_dot_product_attention``. Keys where ``key_mask`` is
False take no part. ``key_mask`` is either one row per sample ``[B, Lk]`` or one row per query
``[B, Lq, Lk]`` (e.g. :func:`band_mask`, local self-attention). A query row whose keys are *all*
masked (a fully padded window) would give NaN; such rows attend to every key instead, and callers
zero or mask those outputs.

``rotary=True`` (self-attention) rotates queries and keys by their positions ``0 .. L - 1`` with
rotary position embeddings (:func:`~glossfree.models.temporal.positions.apply_rotary`) before the
dot product, so scores depend on the offset between a query and a key, not on where they are.

``need_weights=True`` computes the softmax explicitly and also returns the attention probabilities
``[B, H, Lq, Lk]`` (before dropout), for attentive pooling; the default path stays on the fused
kernel, which never materialises them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from glossfree.errors import ConfigError
from glossfree.models.temporal.positions import apply_rotary


def band_mask(key_mask: torch.Tensor, window: int) -> torch.Tensor:
    """Local self-attention mask: query ``i`` may attend to key ``j`` iff ``|i - j| <= window // 2``
    and key ``j`` is real.

    Args:
        key_mask: ``[B, T]`` bool, True = real step.
        window: odd number of steps a query sees (7: itself and 3 neighbours on each side).

    Returns:
        ``[B, T, T]`` bool, True = may attend. Padded keys are never allowed. A (padded) query row
        with no real key within its window is all False; :class:`MultiHeadAttention` lets such a
        row attend to every key (no NaN) and callers discard its output.
    """
    if window < 1 or window % 2 != 1:
        raise ConfigError(f"attention window must be odd and >= 1 so that it is centred (got {window})")
    steps = torch.arange(key_mask.shape[1], device=key_mask.device)
    near = (steps[:, None] - steps[None, :]).abs() <= window // 2  # [T, T]
    return near[None, :, :] & key_mask.bool()[:, None, :]  # [B, T, T]


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over ``num_heads`` heads.

    Args:
        dim: query (and output) width.
        num_heads: number of heads; must divide ``dim``.
        kv_dim: key/value input width (default ``dim``).
        dropout: attention-probability dropout (training only).
        rotary: rotate queries and keys by their positions (RoPE; the head width must be even).
    """

    def __init__(
        self, dim: int, num_heads: int, *, kv_dim: int | None = None, dropout: float = 0.0, rotary: bool = False
    ) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ConfigError(f"attention width {dim} is not divisible by num_heads={num_heads}")
        if rotary and (dim // num_heads) % 2 != 0:
            raise ConfigError(f"rotary positions need an even head width, got {dim} / {num_heads} = {dim // num_heads}")
        kv_dim = dim if kv_dim is None else kv_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.rotary = rotary
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
        """Attend from ``query`` [B, Lq, D] to ``key_value`` [B, Lk, Dkv]; ``key_mask`` [B, Lk] or
        [B, Lq, Lk] bool.

        Returns [B, Lq, D]; with ``need_weights``, also the probabilities [B, H, Lq, Lk].
        """
        batch, q_len, dim = query.shape
        k_len = key_value.shape[1]
        heads = self.num_heads
        q = self.q(query).view(batch, q_len, heads, dim // heads).transpose(1, 2)  # [B, H, Lq, Dh]
        k, v = self.kv(key_value).chunk(2, dim=-1)
        k = k.reshape(batch, k_len, heads, dim // heads).transpose(1, 2)  # [B, H, Lk, Dh]
        v = v.reshape(batch, k_len, heads, dim // heads).transpose(1, 2)  # [B, H, Lk, Dh]
        if self.rotary:
            q = apply_rotary(q, torch.arange(q_len, device=q.device))
            k = apply_rotary(k, torch.arange(k_len, device=k.device))
        usable = key_mask | ~key_mask.any(dim=-1, keepdim=True)  # [B, (Lq,) Lk]; empty rows see all keys
        attn_mask = usable[:, None, None, :] if usable.ndim == 2 else usable[:, None]  # [B, 1, 1|Lq, Lk]
        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            scores = q @ k.transpose(-1, -2) * (dim // heads) ** -0.5  # [B, H, Lq, Lk]
            weights = scores.masked_fill(~attn_mask, float("-inf")).softmax(dim=-1)
            out = F.dropout(weights, p=dropout_p, training=self.training) @ v  # [B, H, Lq, Dh]
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        out = self.out(out.transpose(1, 2).reshape(batch, q_len, dim))  # [B, Lq, D]
        return (out, weights) if need_weights else out
