"""clcl_token's loss against a hand-computed 2-pair case, padding that never matches, its config."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import TypeAdapter

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.objectives import OBJECTIVES, ClclToken, ClclTokenConfig, ObjectiveConfig, PointDims, clcl_token_loss

A, B = [1.0, 0.0], [0.0, 1.0]
PAD = [7.0, -3.0]  # garbage in padded slots


def _pairs():
    # video 0: tokens {a, b}; video 1: {a} + pad. sentence 0: {a, b}; sentence 1: {b} + pad.
    visual = torch.tensor([[A, B], [A, PAD]])
    visual_mask = torch.tensor([[True, True], [True, False]])
    text = torch.tensor([[A, B], [B, PAD]])
    text_mask = torch.tensor([[True, True], [True, False]])
    return visual, visual_mask, text, text_mask


def test_two_pairs_by_hand():
    # Cosines are 1 (same token) or 0. With match temperature 1, a token facing {a, b} that holds
    # its twin scores p = e / (e + 1) (softmax weight of the 1); facing one token it scores that cosine.
    p = math.e / (math.e + 1)
    # Z_V2T[i][j]: mean over video i's tokens of their weighted match over sentence j's tokens
    z_v2t = [[p, (0.0 + 1.0) / 2],  # video 0 vs sentence 1 {b}: a -> 0, b -> 1
             [p, 0.0]]  # video 1 {a}: vs {a, b} -> p; vs {b} -> 0
    # Z_T2V[i][j]: mean over sentence j's tokens of their weighted match over video i's tokens
    z_t2v = [[p, p],  # sentence 1 {b} vs video 0 {a, b} -> p
             [(1.0 + 0.0) / 2, 0.0]]  # sentence 0 {a, b} vs video 1 {a}: a -> 1, b -> 0
    scale, alpha = 2.0, 0.3

    def nce(z):  # Eq. 3: -1/2N sum_i log row-softmax - 1/2N sum_j log column-softmax
        rows = sum(-scale * z[i][i] + math.log(sum(math.exp(scale * x) for x in z[i])) for i in range(2))
        cols = sum(-scale * z[j][j] + math.log(sum(math.exp(scale * z[i][j]) for i in range(2))) for j in range(2))
        return (rows + cols) / 4

    expected = alpha * nce(z_v2t) + (1 - alpha) * nce(z_t2v)
    loss, accuracy = clcl_token_loss(*_pairs(), torch.tensor(scale), alpha=alpha, match_temperature=1.0)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert accuracy.item() == pytest.approx(0.5)  # video 0 -> sentence 0 (p > 0.5); video 1 -> sentence 0 (p > 0)


def test_padded_tokens_never_match():
    visual, visual_mask, text, text_mask = _pairs()
    reference, _ = clcl_token_loss(visual, visual_mask, text, text_mask, torch.tensor(5.0))
    torch.manual_seed(0)
    for _ in range(3):
        noisy_visual, noisy_text = visual.clone(), text.clone()
        noisy_visual[~visual_mask] = torch.randn(int((~visual_mask).sum()), 2) * 10
        noisy_text[~text_mask] = torch.randn(int((~text_mask).sum()), 2) * 10
        loss, _ = clcl_token_loss(noisy_visual, visual_mask, noisy_text, text_mask, torch.tensor(5.0))
        torch.testing.assert_close(loss, reference)
    # more padding (a longer batch) changes nothing either
    wide_visual = torch.cat([visual, torch.randn(2, 3, 2)], dim=1)
    wide_mask = torch.cat([visual_mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    loss, _ = clcl_token_loss(wide_visual, wide_mask, text, text_mask, torch.tensor(5.0))
    torch.testing.assert_close(loss, reference)
    # and no gradient reaches a padded token
    visual = visual.clone().requires_grad_(True)
    loss, _ = clcl_token_loss(visual, visual_mask, text, text_mask, torch.tensor(5.0))
    loss.backward()
    assert visual.grad[~visual_mask].abs().sum() == 0 and visual.grad[visual_mask].abs().sum() > 0


def test_small_match_temperature_approaches_filip_max():
    visual, visual_mask, text, text_mask = _pairs()
    # tau_m -> 0: each token takes its best match (FILIP); Z_V2T = [[1, 0.5], [1, 0]], Z_T2V = [[1, 1], [0.5, 0]]
    z_v2t, z_t2v = [[1.0, 0.5], [1.0, 0.0]], [[1.0, 1.0], [0.5, 0.0]]

    def nce(z):
        rows = sum(-z[i][i] + math.log(sum(math.exp(x) for x in z[i])) for i in range(2))
        cols = sum(-z[j][j] + math.log(sum(math.exp(z[i][j]) for i in range(2))) for j in range(2))
        return (rows + cols) / 4

    loss, _ = clcl_token_loss(visual, visual_mask, text, text_mask, torch.tensor(1.0), match_temperature=1e-3)
    assert loss.item() == pytest.approx((nce(z_v2t) + nce(z_t2v)) / 2, rel=1e-5)


def test_config_and_registry():
    config = TypeAdapter(ObjectiveConfig).validate_python({"kind": "clcl_token", "visual": "encoder", "text": "encoder", "alpha": 0.7})
    assert isinstance(config, ClclTokenConfig) and OBJECTIVES["clcl_token"] is ClclToken
    with pytest.raises(ConfigError, match="alpha"):
        validate(ClclTokenConfig, {"alpha": 1.5})
    head = ClclToken(ClclTokenConfig(proj_dim=3), PointDims(frontend=6, compressor=5, tokens=4, encoder=4, text=4))
    assert head.logit_scale.item() == pytest.approx(1 / 0.07)
    assert {name for name, _ in head.named_parameters()} == {"visual_proj.weight", "text_proj.weight", "log_logit_scale"}
