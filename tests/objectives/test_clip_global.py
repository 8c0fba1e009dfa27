"""clip_global's loss against hand-computed numbers, its temperature, and its config."""

from __future__ import annotations

import math

import pytest
import torch

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.objectives import OBJECTIVES, ClipGlobal, ClipGlobalConfig, PointDims, clip_loss, masked_mean

DIMS = PointDims(frontend=6, compressor=5, tokens=4, encoder=4, text=4)


def test_identity_pairs_with_scale_one():
    # v_i = t_i one-hot: logits = I, each row and column: -log(e / (e + 1)).
    eye = torch.eye(2)
    loss, accuracy = clip_loss(eye, eye, torch.tensor(1.0))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)))
    assert accuracy.item() == 1.0


def test_asymmetric_three_samples_by_hand():
    visual = torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])  # normalised inside: scale is ignored
    text = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    r = 1 / math.sqrt(2)
    # cosine similarities, rows = videos, columns = sentences
    cos = [[1.0, r, 0.0], [0.0, r, 1.0], [r, 1.0, r]]
    scale = 2.0

    def ce(row: list[float], target: int) -> float:
        return -scale * row[target] + math.log(sum(math.exp(scale * x) for x in row))

    v2t = sum(ce(cos[i], i) for i in range(3)) / 3
    columns = [[cos[i][j] for i in range(3)] for j in range(3)]
    t2v = sum(ce(columns[j], j) for j in range(3)) / 3
    loss, accuracy = clip_loss(visual, text, torch.tensor(scale))
    assert loss.item() == pytest.approx((v2t + t2v) / 2, rel=1e-6)
    # video 0 -> sentence 0 (1.0); video 1 -> sentence 2 (wrong); video 2 -> sentence 1 (wrong)
    assert accuracy.item() == pytest.approx(1 / 3)


def test_loss_falls_as_pairs_align_and_gradients_reach_both_sides():
    visual = torch.randn(3, 4, requires_grad=True)
    text = torch.randn(3, 4, requires_grad=True)
    loss, _ = clip_loss(visual, text, torch.tensor(10.0))
    loss.backward()
    assert visual.grad.abs().sum() > 0 and text.grad.abs().sum() > 0
    aligned, _ = clip_loss(text.detach(), text.detach(), torch.tensor(10.0))
    assert aligned < loss


def test_masked_mean_ignores_padding():
    features = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(masked_mean(features, mask), torch.tensor([[2.0, 3.0]]))
    assert masked_mean(features, torch.zeros_like(mask)).abs().sum() == 0  # no valid row: 0, not NaN


def test_temperature_starts_at_clip_init_and_is_clamped():
    head = ClipGlobal(ClipGlobalConfig(proj_dim=3), DIMS)
    assert head.logit_scale.item() == pytest.approx(1 / 0.07)
    assert isinstance(head.log_logit_scale, torch.nn.Parameter)
    with torch.no_grad():
        head.log_logit_scale.fill_(10.0)
    assert head.logit_scale.item() == pytest.approx(100.0)  # 1 / min_temperature
    names = {name for name, _ in head.named_parameters()}
    assert names == {"visual_proj.weight", "text_proj.weight", "log_logit_scale"}
    fixed = ClipGlobal(ClipGlobalConfig(proj_dim=None, learn_temperature=False, temperature=0.5), DIMS)
    assert list(fixed.parameters()) == [] and fixed.logit_scale.item() == pytest.approx(2.0)
    assert "log_logit_scale" not in fixed.state_dict()


def test_config_checks():
    assert OBJECTIVES["clip_global"] is ClipGlobal
    assert ClipGlobalConfig().owns_parameters
    assert not ClipGlobalConfig(proj_dim=None, learn_temperature=False).owns_parameters
    with pytest.raises(ConfigError, match="proj_dim null .* 'frontend' is 6 wide and the text side 4"):
        ClipGlobal(ClipGlobalConfig(proj_dim=None, visual="frontend"), DIMS)
    with pytest.raises(ConfigError, match="min_temperature 0.1 is above the initial temperature 0.07"):
        validate(ClipGlobalConfig, {"min_temperature": 0.1})
