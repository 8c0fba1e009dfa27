"""Conformer encoder: padding safety, block structure, sliding windows, attentive pooling."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.models.temporal.attention import MultiHeadAttention
from glossfree.models.temporal.conformer import AttentivePool, Conformer, ConformerConfig, ConformerWindows


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


# --- sliding windows (paper 004, App. B.3) ------------------------------------------------------


def windowed(window: int = 6, stride: int = 2) -> Conformer:
    torch.manual_seed(0)
    config = ConformerConfig(
        num_layers=2, num_heads=4, dropout=0.0, windowed={"window": window, "stride": stride}
    )
    return Conformer(16, config).eval()


def looped_reference(model: Conformer, x: torch.Tensor, window: int, stride: int) -> torch.Tensor:
    """One lone sequence [1, L, D], windows run one by one in Python, outputs averaged per frame."""
    length = x.shape[1]
    total, hits = torch.zeros(length, x.shape[2]), torch.zeros(length)
    start = 0
    while True:
        stop = min(start + window, length)
        out = model.encode(x[:, start:stop], torch.ones(1, stop - start, dtype=torch.bool))
        total[start:stop] += out[0]
        hits[start:stop] += 1
        if start + window >= length:
            return total / hits[:, None]
        start += stride


@pytest.mark.parametrize(("length", "window", "stride"), [(13, 6, 2), (12, 6, 2), (4, 6, 2), (17, 5, 3), (9, 3, 3)])
def test_windows_match_one_by_one_reference(length, window, stride):
    model = windowed(window, stride)
    x = torch.randn(1, length, 16)
    with torch.no_grad():
        fast = model(x, torch.ones(1, length, dtype=torch.bool))
        slow = looped_reference(model, x, window, stride)
    torch.testing.assert_close(fast[0], slow, atol=1e-5, rtol=0)


@pytest.mark.parametrize("length", [3, 6, 9, 13])
def test_windowed_padding_never_changes_a_sample(length):
    model = windowed()
    x = torch.randn(1, length, 16)
    batch = torch.cat([torch.cat([x, torch.full((1, 23 - length, 16), 7.0)], dim=1), torch.randn(1, 23, 16)])
    mask = torch.arange(23)[None] < torch.tensor([length, 23])[:, None]
    with torch.no_grad():
        alone = model(x, torch.ones(1, length, dtype=torch.bool))
        padded = model(batch, mask)
    torch.testing.assert_close(padded[0, :length], alone[0], atol=1e-5, rtol=0)
    assert torch.all(padded[0, length:] == 0)


def test_windows_do_not_see_beyond_their_reach():
    """A frame's feature depends only on frames sharing a window with it (< window apart)."""
    model = windowed(window=6, stride=2)
    x = torch.randn(1, 30, 16)
    changed = x.clone()
    changed[0, 29] = torch.randn(16) * 3
    mask = torch.ones(1, 30, dtype=torch.bool)
    with torch.no_grad():
        a, b = model(x, mask), model(changed, mask)
    torch.testing.assert_close(a[0, :24], b[0, :24], atol=0, rtol=0)  # frame 29 is only in windows from 24
    assert not torch.allclose(a[0, 24:], b[0, 24:])
    whole = conformer()
    with torch.no_grad():
        c, d = whole(x, mask), whole(changed, mask)
    assert not torch.allclose(c[0, :20], d[0, :20])  # the whole-sequence Conformer sees every frame


def test_windowed_gradients_reach_every_valid_frame():
    model = windowed()
    x = torch.randn(2, 11, 16, requires_grad=True)
    mask = torch.arange(11)[None] < torch.tensor([11, 7])[:, None]
    model(x, mask).sum().backward()
    assert torch.all(x.grad[0].abs().sum(-1) > 0) and torch.all(x.grad[1, :7].abs().sum(-1) > 0)
    assert torch.all(x.grad[1, 7:] == 0)


@pytest.mark.parametrize("bad", [{"window": 4, "stride": 5}, {"window": 4, "stride": 0}, {"window": 0}])
def test_bad_windows_are_rejected_with_the_values(bad):
    with pytest.raises(ValidationError, match="stride"):
        ConformerWindows(**bad)


def test_windowed_config_rejects_unknown_keys():
    with pytest.raises(Exception, match="windowed"):
        validate(ConformerConfig, {"windowed": {"window": 24, "strid": 2}})


def test_encode_windows_needs_a_window():
    with pytest.raises(ValueError, match="windowed"):
        conformer().encode_windows(torch.randn(1, 5, 16), torch.ones(1, 5, dtype=torch.bool))


def test_windowed_runs_on_meta():
    with torch.device("meta"):
        model = Conformer(16, ConformerConfig(num_heads=4, windowed={"window": 6, "stride": 2}))
        out = model(torch.zeros(2, 23, 16), torch.ones(2, 23, dtype=torch.bool))
    assert out.shape == (2, 23, 16)


# --- attention maps and attentive pooling -------------------------------------------------------


def test_explicit_attention_matches_fused_path():
    attention = MultiHeadAttention(8, 2).eval()
    x = torch.randn(2, 5, 8)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    fused = attention(x, x, mask)
    explicit, weights = attention(x, x, mask, need_weights=True)
    torch.testing.assert_close(explicit, fused, atol=1e-5, rtol=0)
    assert weights.shape == (2, 2, 5, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 5))
    assert torch.all(weights[1, :, :, 3:] == 0)


def test_encode_returns_one_map_per_block_and_same_output():
    model = conformer()
    x = torch.randn(2, 7, 16)
    mask = torch.arange(7)[None] < torch.tensor([7, 4])[:, None]
    with torch.no_grad():
        plain = model.encode(x, mask)
        out, maps = model.encode(x, mask, return_attention=True)
    torch.testing.assert_close(out, plain, atol=1e-5, rtol=0)
    assert len(maps) == 2 and maps[0].shape == (2, 4, 7, 7)


def test_attentive_pool_is_mean_map_times_last_output():
    hidden = torch.randn(2, 6, 16)
    maps = [torch.rand(2, 3, 6, 6) for _ in range(2)]
    mask = torch.arange(6)[None] < torch.tensor([6, 4])[:, None]
    maps = [(m * mask[:, None, None, :]) / (m * mask[:, None, None, :]).sum(-1, keepdim=True) for m in maps]
    pooled, weights = AttentivePool()(hidden, maps, mask)
    assert pooled.shape == (2, 16) and weights.shape == (2, 6)
    mean_map = (maps[0] + maps[1]).mean(dim=1) / 2  # [B, T, T]
    expected = torch.stack([(mean_map[b, :n] @ hidden[b]).mean(0) for b, n in enumerate([6, 4])])
    torch.testing.assert_close(pooled, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))
    assert torch.all(weights[1, 4:] == 0)


def test_attentive_pool_needs_maps():
    with pytest.raises(ValueError, match="attention maps"):
        AttentivePool()(torch.randn(1, 3, 4), [], torch.ones(1, 3, dtype=torch.bool))


def test_layer_scale_starts_each_branch_at_its_value_and_zero_is_the_input_norm():
    """``layer_scale`` multiplies every residual branch by a learned per-channel scale: at 0 a block
    is the LayerNorm of its input; at 1 it is the block without layer scale."""
    torch.manual_seed(0)
    plain = Conformer(8, validate(ConformerConfig, {"num_layers": 1, "num_heads": 2, "ff_mult": 2})).eval()
    scaled = Conformer(8, validate(ConformerConfig, {"num_layers": 1, "num_heads": 2, "ff_mult": 2, "layer_scale": 0.1})).eval()
    block = scaled.blocks[0]
    assert block.scales.shape == (4, 8) and torch.all(block.scales == 0.1) and block.scales.requires_grad
    state = {k: v for k, v in scaled.state_dict().items() if not k.endswith("scales")}
    plain.load_state_dict(state)
    x = torch.randn(2, 7, 8)
    mask = torch.arange(7)[None] < torch.tensor([7, 4])[:, None]
    with torch.no_grad():
        block.scales.fill_(1.0)
        torch.testing.assert_close(scaled(x, mask), plain(x, mask))
        block.scales.zero_()
        expected = block.out_norm(x) * mask.unsqueeze(-1)
        torch.testing.assert_close(scaled(x, mask), expected)
        block.scales.fill_(0.1)
        assert not torch.allclose(scaled(x, mask), expected)


@pytest.mark.parametrize("bad", [0.0, -0.5])
def test_layer_scale_must_be_positive(bad):
    with pytest.raises(ConfigError, match="layer_scale: Input should be greater than 0"):
        validate(ConformerConfig, {"layer_scale": bad})
