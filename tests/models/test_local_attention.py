"""Local (band) self-attention masks and rotary position embeddings (paper 001, Sec. 3.1)."""

from __future__ import annotations

import pytest
import torch

from glossfree.errors import ConfigError
from glossfree.models.temporal.attention import MultiHeadAttention, band_mask
from glossfree.models.temporal.positions import apply_rotary


def test_band_mask_reaches_three_neighbours_and_never_padding():
    key_mask = torch.tensor([[True] * 10, [True] * 6 + [False] * 4])
    allowed = band_mask(key_mask, window=7)  # [2, 10, 10]
    assert allowed.shape == (2, 10, 10)
    for b in range(2):
        for i in range(10):
            for j in range(10):
                expected = abs(i - j) <= 3 and bool(key_mask[b, j])
                assert bool(allowed[b, i, j]) == expected, (b, i, j)
    assert allowed[0].sum(dim=1).tolist() == [4, 5, 6, 7, 7, 7, 7, 6, 5, 4]
    assert not allowed[1, :, 6:].any()  # padded keys: never
    assert not allowed[1, 9].any()  # padded query 9 has no real key within ±3


def test_band_mask_needs_an_odd_window():
    with pytest.raises(ConfigError, match="odd"):
        band_mask(torch.ones(1, 4, dtype=torch.bool), window=4)


def test_attention_weights_follow_the_band_and_padded_rows_stay_finite():
    torch.manual_seed(0)
    attention = MultiHeadAttention(8, 2, rotary=True).eval()
    key_mask = torch.tensor([[True] * 9 + [False] * 5])
    x = torch.randn(1, 14, 8)
    allowed = band_mask(key_mask, window=7)
    out, weights = attention(x, x, allowed, need_weights=True)  # weights [1, H, 14, 14]
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    valid_rows = weights[:, :, :9]  # queries 0..8 (real)
    assert torch.all(valid_rows[~allowed[:, None, :9].expand_as(valid_rows)] == 0)
    torch.testing.assert_close(valid_rows.sum(dim=-1), torch.ones(1, 2, 9))
    fused = attention(x, x, allowed)  # the fused kernel path agrees
    torch.testing.assert_close(fused[:, :9], out[:, :9], atol=1e-5, rtol=1e-5)


def test_rotary_scores_depend_only_on_the_offset():
    torch.manual_seed(0)
    q, k = torch.randn(16), torch.randn(16)

    def score(m: int, n: int) -> torch.Tensor:
        rq = apply_rotary(q[None], torch.tensor([m]))[0]
        rk = apply_rotary(k[None], torch.tensor([n]))[0]
        return rq @ rk

    for m, n, shift in [(0, 3, 5), (7, 2, 11), (4, 4, 100)]:
        torch.testing.assert_close(score(m, n), score(m + shift, n + shift), atol=1e-4, rtol=1e-5)
    assert not torch.allclose(score(0, 3), score(0, 4))  # a different offset gives a different score


def test_rotary_keeps_norms_and_position_zero():
    x = torch.randn(2, 5, 6)  # [B, L, D]
    rotated = apply_rotary(x, torch.arange(5))
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(rotated[:, 0], x[:, 0])
    # pair (0, 1) at position 1 turns by 1 radian: (x0 cos 1 - x1 sin 1, x0 sin 1 + x1 cos 1)
    c, s = torch.cos(torch.tensor(1.0)), torch.sin(torch.tensor(1.0))
    torch.testing.assert_close(rotated[:, 1, 0], x[:, 1, 0] * c - x[:, 1, 1] * s)
    torch.testing.assert_close(rotated[:, 1, 1], x[:, 1, 0] * s + x[:, 1, 1] * c)
    with pytest.raises(ValueError, match="even"):
        apply_rotary(torch.randn(3, 5), torch.arange(3))
    with pytest.raises(ConfigError, match="even head width"):
        MultiHeadAttention(6, 2, rotary=True)
