"""The pose_conv baseline's parts: keypoint_mlp frontend and conv_pool compressor."""

from __future__ import annotations

import pytest
import torch

from glossfree.config import validate
from glossfree.data.layouts import get_layout
from glossfree.errors import ConfigError
from glossfree.models.frontends.keypoint_mlp import KeypointMLP, KeypointMLPConfig
from glossfree.training.tasks.translation import build_slt_model
from glossfree.models.temporal.conv_pool import ConvPool, ConvPoolConfig, strided_lengths


def _batch(lengths, points=203, seed=0):
    g = torch.Generator().manual_seed(seed)
    frames = max(lengths)
    mask = torch.arange(frames)[None] < torch.tensor(lengths)[:, None]
    keypoints = torch.randn(len(lengths), frames, points, 3, generator=g) * mask[..., None, None]
    point_mask = (torch.rand(len(lengths), frames, points, generator=g) > 0.1) & mask[..., None]
    return keypoints, point_mask, mask


def test_keypoint_mlp_features_hold_coordinates_wrist_relative_hands_and_flags():
    layout = get_layout("pose203")
    frontend = KeypointMLP(KeypointMLPConfig(coord_dims=2, groups=["left_hand"]), layout)
    start, _ = layout.groups["left_hand"]
    keypoints = torch.zeros(1, 1, 203, 3)
    keypoints[0, 0, start] = torch.tensor([1.0, 2.0, 9.0])  # the wrist
    keypoints[0, 0, start + 1] = torch.tensor([1.5, 3.0, 9.0])
    point_mask = torch.zeros(1, 1, 203, dtype=torch.bool)
    point_mask[0, 0, start : start + 2] = True
    features = frontend.frame_features(keypoints, point_mask)[0, 0]
    assert features.shape == (21 * 2 + 21 * 2 + 21,) == (frontend.input_dim,)
    assert features[:4].tolist() == [1.0, 2.0, 1.5, 3.0]  # absolute x, y (z not read)
    assert features[42:46].tolist() == [0.0, 0.0, 0.5, 1.0]  # relative to the wrist
    assert features[84:].tolist() == [1.0, 1.0] + [0.0] * 19  # detection flags


def test_keypoint_mlp_ignores_undetected_points_and_padding():
    frontend = KeypointMLP(KeypointMLPConfig(dim=16, dropout=0.0), "pose203").eval()
    keypoints, point_mask, mask = _batch([7, 5])
    noisy = keypoints.clone()
    noisy[~point_mask] = 1e3  # garbage where nothing was detected
    out = frontend(keypoints, point_mask, mask)
    assert torch.allclose(out, frontend(noisy, point_mask, mask))
    assert out.shape == (2, 7, 16) and out[1, 5:].abs().sum() == 0
    alone = frontend(keypoints[1:, :5], point_mask[1:, :5], mask[1:, :5])
    assert torch.allclose(out[1:, :5], alone, atol=1e-6)


def test_keypoint_mlp_rejects_unknown_groups():
    with pytest.raises(ConfigError, match="frontend.groups"):
        KeypointMLP(KeypointMLPConfig(groups=["tail"]), "pose203")


@pytest.mark.parametrize("length, stride, expected", [(1, 2, 1), (7, 2, 4), (8, 2, 4), (9, 3, 3)])
def test_strided_lengths(length, stride, expected):
    assert strided_lengths(torch.tensor([length]), stride).item() == expected


def test_conv_pool_reduces_time_and_is_padding_invariant():
    torch.manual_seed(0)
    pool = ConvPool(ConvPoolConfig(num_layers=2, stride=2, dim=12, dropout=0.0), input_dim=8, output_dim=99).eval()
    features = torch.randn(2, 11, 8)
    mask = torch.arange(11)[None] < torch.tensor([11, 6])[:, None]
    tokens, token_mask = pool(features * mask[..., None], mask)
    assert pool.output_dim == 12 and tokens.shape == (2, 3, 12)
    assert token_mask.sum(dim=1).tolist() == [3, 2]  # ceil(ceil(11/2)/2), ceil(ceil(6/2)/2)
    alone, alone_mask = pool(features[1:, :6], mask[1:, :6])
    assert torch.allclose(tokens[1:, :2], alone, atol=1e-6) and alone_mask.all()
    assert tokens[1, 2:].abs().sum() == 0


def test_conv_pool_kernel_must_be_odd():
    with pytest.raises(ConfigError, match="odd"):
        validate(ConvPoolConfig, {"kernel_size": 4})


def test_pose_conv_model_trains_end_to_end(t5_tokenizer, tiny_config, make_batch):
    config = tiny_config({
        "frontend": {"kind": "keypoint_mlp", "dim": 24, "dropout": 0.0},
        "compressor": {"kind": "conv_pool", "num_layers": 2, "dropout": 0.0},
        "mapper": {"kind": "linear"},
    })  # fmt: skip
    model = build_slt_model(config, t5_tokenizer)
    output = model(make_batch([13, 9]))
    output.loss.backward()
    assert torch.isfinite(output.loss)
    assert model.frontend.mlp[0].weight.grad.abs().sum() > 0
    assert output.visual["compressor"].features.shape[1] == 4  # 13 frames -> 7 -> 4 tokens


def test_conv_pool_max_pool_is_k5_p2():
    """``pool: max`` (SpaMo's K5-P2): a stride-1 convolution, LayerNorm and GELU over every step, then
    the max of each pair of real steps; a last odd step is pooled alone, padding never wins."""
    torch.manual_seed(0)
    config = ConvPoolConfig(num_layers=1, kernel_size=5, stride=2, dim=6, dropout=0.0, pool="max")
    pool = ConvPool(config, input_dim=4, output_dim=99).eval()
    features = torch.randn(2, 7, 4)
    mask = torch.arange(7)[None] < torch.tensor([7, 5])[:, None]
    tokens, token_mask = pool(features * mask[..., None], mask)
    assert tokens.shape == (2, 4, 6) and token_mask.sum(dim=1).tolist() == [4, 3]
    block = pool.blocks[0]
    for row, length in enumerate((7, 5)):
        x = features[row : row + 1, :length]
        h = block.act(block.norm(block.conv(x.transpose(1, 2)).transpose(1, 2)))[0]  # [length, 6]
        expected = torch.stack([h[i : i + 2].amax(dim=0) for i in range(0, length, 2)])
        torch.testing.assert_close(tokens[row, : len(expected)], expected)
    assert tokens[1, 3:].abs().sum() == 0
    # padding invariance with two blocks
    two = ConvPool(config.model_copy(update={"num_layers": 2}), input_dim=4, output_dim=99).eval()
    both, _ = two(features * mask[..., None], mask)
    alone, _ = two(features[1:, :5], mask[1:, :5])
    torch.testing.assert_close(both[1:, : alone.shape[1]], alone)
