"""Conformer encoder: padding safety and block structure."""

from __future__ import annotations

import torch

from glossfree.models.temporal.attention import MultiHeadAttention
from glossfree.models.temporal.conformer import Conformer, ConformerConfig


def conformer() -> Conformer:
    torch.manual_seed(0)
    return Conformer(16, ConformerConfig(num_layers=2, num_heads=4, kernel_size=5, dropout=0.0)).eval()


def test_padding_never_changes_a_sample():
    model = conformer()
    x = torch.randn(1, 9, 16)
    batch = torch.cat([torch.cat([x, torch.full((1, 6, 16), 7.0)], dim=1), torch.randn(1, 15, 16)])
    mask = torch.arange(15)[None] < torch.tensor([9, 15])[:, None]
    with torch.no_grad():
        alone = model(x, torch.ones(1, 9, dtype=torch.bool))
        padded = model(batch, mask)
    torch.testing.assert_close(padded[0, :9], alone[0], atol=1e-5, rtol=0)
    assert torch.all(padded[0, 9:] == 0)


def test_block_count_and_kernel():
    model = conformer()
    assert len(model.blocks) == 2
    assert model.blocks[0].conv.depthwise.kernel_size == (5,)
    assert model.blocks[0].conv.depthwise.in_channels == 32  # conv expansion 2


def test_attention_rows_without_keys_are_finite():
    attention = MultiHeadAttention(8, 2)
    query = torch.randn(2, 3, 8)
    keys = torch.randn(2, 4, 8)
    mask = torch.tensor([[False] * 4, [True, True, False, False]])
    out = attention(query, keys, mask)
    assert torch.isfinite(out).all()
