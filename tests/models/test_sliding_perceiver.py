"""Sliding Perceiver (paper 004): window counts, masks, a per-window reference, paper size."""

from __future__ import annotations

import math

import pytest
import torch

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.models.temporal.positions import sinusoidal_encoding
from glossfree.models.temporal.sliding_perceiver import (
    SlidingPerceiver,
    SlidingPerceiverConfig,
    num_windows,
)


def perceiver(**override) -> SlidingPerceiver:
    torch.manual_seed(0)
    config = validate(SlidingPerceiverConfig, {"num_layers": 2, "num_heads": 4, "max_len": 64, **override})
    return SlidingPerceiver(config, input_dim=12, output_dim=16).eval()


def features(lengths: list[int], dim: int = 12, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    longest = max(lengths)
    x = torch.randn(len(lengths), longest, dim, generator=generator)
    mask = torch.arange(longest)[None] < torch.tensor(lengths)[:, None]
    return x * mask[..., None], mask


def test_num_windows_formula():
    lengths = torch.tensor([1, 7, 8, 9, 10, 11, 250])
    # 1 + max(0, ceil((len - 8) / 2))
    assert num_windows(lengths, window=8, stride=2).tolist() == [1, 1, 1, 2, 2, 3, 122]


def test_token_shapes_and_mask():
    model = perceiver()
    x, mask = features([5, 11, 20])
    tokens, token_mask = model(x, mask)
    assert tokens.shape == (3, 7, 16)  # 1 + ceil(12 / 2) = 7 windows for the longest
    assert token_mask.sum(dim=1).tolist() == [1, 3, 7]
    assert torch.all(tokens[~token_mask] == 0)
    assert torch.isfinite(tokens).all()


def test_several_latents_per_window():
    model = perceiver(num_latents=3)
    x, mask = features([9, 20])
    tokens, token_mask = model(x, mask)
    assert tokens.shape == (2, 21, 16)
    assert token_mask.sum(dim=1).tolist() == [6, 21]


@pytest.mark.parametrize("query", ["learned", "centre"])
def test_matches_a_loop_over_windows(query):
    """Each token equals the latent stack run on exactly the valid frames of its window; with
    ``query: centre`` the latents start from the window's centre frame (frame 3 of 8), 0 past the end."""
    model = perceiver(query=query)
    x, mask = features([13, 6])
    with torch.no_grad():
        tokens, token_mask = model(x, mask)
        projected = model.input(x) + model.position[: x.shape[1]]
        for b, length in enumerate([13, 6]):
            for w in range(int(token_mask[b].sum())):
                start = w * 2
                frames = projected[b, start : min(start + 8, length)].unsqueeze(0)  # [1, k, D]
                latents = model.latents.unsqueeze(0)
                if query == "centre" and start + 3 < length:
                    latents = latents + projected[b, start + 3]
                for layer in model.layers:
                    latents = layer(latents, frames, torch.ones(frames.shape[:2], dtype=torch.bool))
                expected = model.output(model.norm(latents))[0, 0]
                torch.testing.assert_close(tokens[b, w], expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("query", ["learned", "centre"])
def test_padding_never_changes_a_sample(query):
    model = perceiver(query=query)
    x_long, _ = features([21], seed=1)
    x, mask = features([9], seed=2)
    batch = torch.zeros(2, 21, 12)
    batch[0, :9] = x[0]
    batch[1] = x_long[0]
    batch_mask = torch.arange(21)[None] < torch.tensor([9, 21])[:, None]
    with torch.no_grad():
        alone, alone_mask = model(x, mask)
        padded, padded_mask = model(batch, batch_mask)
    count = int(alone_mask.sum())
    assert int(padded_mask[0].sum()) == count
    torch.testing.assert_close(padded[0, :count], alone[0, :count], atol=1e-5, rtol=0)


@pytest.mark.parametrize("query", ["learned", "centre"])
def test_padded_frame_content_is_ignored(query):
    model = perceiver(query=query)
    x, mask = features([7, 15])
    noisy = x.clone()
    noisy[0, 7:] = 99.0
    with torch.no_grad():
        a, _ = model(x, mask)
        b, _ = model(noisy, mask)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_output_width_projection_when_dim_is_set():
    model = perceiver(dim=8)
    assert isinstance(model.output, torch.nn.Linear)
    tokens, _ = model(*features([10]))
    assert tokens.shape[-1] == 16


def test_too_long_input_names_max_len():
    model = perceiver()
    with pytest.raises(ConfigError, match="compressor.max_len=64"):
        model(*features([65]))


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'windows'.*valid keys:.*stride.*window"):
        validate(SlidingPerceiverConfig, {"windows": 8})


def test_paper_size_parameter_count_on_meta():
    config = SlidingPerceiverConfig()
    assert (config.window, config.stride, config.num_heads, config.ff_mult, config.num_latents) == (
        8,
        2,
        8,
        4,
        1,
    )
    d_in, d = 512, 2048  # pose backbone width -> Flan-T5-XL d_model
    with torch.device("meta"):
        model = SlidingPerceiver(config, input_dim=d_in, output_dim=d)  # window counts need real data
    per_layer = (
        2 * 2 * d  # frame and latent LayerNorms
        + (d * d + d)
        + (d * 2 * d + 2 * d)
        + (d * d + d)  # q, kv, out projections
        + 2 * d
        + (d * 4 * d + 4 * d)
        + (4 * d * d + d)  # feed-forward: LayerNorm, two linears
    )
    expected = (d_in * d + d) + config.max_len * d + d + config.num_layers * per_layer + 2 * d
    assert sum(p.numel() for p in model.parameters()) == expected


def test_sinusoidal_encoding_hand_computed():
    table = sinusoidal_encoding(torch.tensor([0, 1, -2]), 4)  # wavelengths: 1 and 1/100 rad per step
    expected = torch.tensor(
        [
            [0.0, 1.0, 0.0, 1.0],
            [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)],
            [math.sin(-2), math.cos(-2), math.sin(-0.02), math.cos(-0.02)],
        ]
    )
    torch.testing.assert_close(table, expected)
    assert sinusoidal_encoding(torch.arange(3), 5).shape == (3, 5)  # odd width: the last channel is a sine


def test_sinusoidal_position_init_starts_at_the_table_and_is_trained():
    model = perceiver(position_init="sinusoidal")
    torch.testing.assert_close(model.position.detach(), sinusoidal_encoding(torch.arange(64), 16))
    assert model.position.requires_grad
    default = perceiver()
    assert default.position.abs().max() < 0.2  # random N(0, 0.02²) start
    with pytest.raises(ConfigError, match="position_init"):
        validate(SlidingPerceiverConfig, {"position_init": "rope"})


def test_sinusoidal_positions_tell_identical_windows_apart():
    # Constant input: with the sinusoidal start, every window's token differs from the others'
    # (the tokens carry where they are); with the near-zero random start they are almost equal.
    x = torch.ones(1, 20, 12)
    mask = torch.ones(1, 20, dtype=torch.bool)
    spread = {}
    for init in ("random", "sinusoidal"):
        tokens, _ = perceiver(position_init=init)(x, mask)
        spread[init] = (tokens[0] - tokens[0].mean(dim=0)).norm(dim=-1).mean().item()
    assert spread["sinusoidal"] > 10 * spread["random"]


def test_centre_query_starts_tokens_apart():
    """At initialisation the learned query averages a window, so overlapping windows (8 frames, hop 2)
    of independent frames give similar tokens; starting each window's latent at its centre frame
    keeps them apart (mean cosine of consecutive centred tokens: 0.63 vs 0.06 here)."""
    x, mask = features([40], seed=3)
    cosines = {}
    for query in ("learned", "centre"):
        with torch.no_grad():
            tokens, _ = perceiver(query=query)(x, mask)  # [1, W, D]
        centred = tokens[0] - tokens[0].mean(dim=0)
        cosines[query] = float(torch.nn.functional.cosine_similarity(centred[1:], centred[:-1]).mean())
    assert cosines["learned"] > 0.4
    assert cosines["centre"] < 0.2
