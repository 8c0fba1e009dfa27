"""Paper 004's lip backbone (``kind: lip_backbone``): shapes, masks, padding invariance, frames
without a face, the config's inputs, and pose_backbone + lip_backbone fused end to end."""

from __future__ import annotations

import pytest
import torch

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.models.frontends.lip_backbone import LipBackbone, LipBackboneConfig, VisualFrontend
from glossfree.models.slt import SLTModelConfig, lip_crop_config, required_inputs

CONFORMER = {"num_layers": 1, "num_heads": 2, "dropout": 0.0}
CROPS = {"kind": "lip_backbone", "source": "crops", "crop": {"size": 24}, "stem_channels": 4, "channels": [4, 8],
         "dim": 16, "dropout": 0.0, "conformer": CONFORMER}  # fmt: skip


def crops_backbone(**override) -> LipBackbone:
    torch.manual_seed(0)
    return LipBackbone(validate(LipBackboneConfig, {**CROPS, **override}, source="t")).eval()


def test_visual_frontend_keeps_time_and_encodes_each_frame():
    model = VisualFrontend(stem_channels=4, channels=(4, 8, 16), blocks=2, norm="group").eval()
    out = model(torch.randn(2, 7, 32, 32), torch.ones(2, 7, dtype=torch.bool))
    assert out.shape == (2, 7, 16) and model.output_dim == 16
    with pytest.raises(ConfigError, match=r"crops \[B, T, H, W\]"):
        model(torch.randn(2, 7, 1, 32, 32), torch.ones(2, 7, dtype=torch.bool))


def test_crops_backbone_shapes_mask_and_padding_never_change_a_sample():
    model = crops_backbone()
    crops = torch.randn(2, 9, 24, 24)
    mask = torch.tensor([[1] * 5 + [0] * 4, [1] * 9], dtype=torch.bool)
    garbage = crops.clone()
    garbage[0, 5:] = 100.0  # whatever sits on padded steps must not matter
    out = model(garbage, mask)
    assert out.shape == (2, 9, 16)
    assert out[0, 5:].abs().sum() == 0  # padding comes out as 0
    alone = model(crops[:1, :5], mask[:1, :5])
    torch.testing.assert_close(out[0, :5], alone[0], rtol=1e-5, atol=1e-5)
    other = model(crops[1:], mask[1:])
    torch.testing.assert_close(out[1], other[0], rtol=1e-5, atol=1e-5)


def test_frames_without_a_face_are_zeroed_or_kept():
    crops, mask = torch.randn(1, 6, 24, 24), torch.ones(1, 6, dtype=torch.bool)
    detected = torch.tensor([[1, 1, 0, 1, 1, 1]], dtype=torch.bool)
    zero = crops_backbone()
    with_face = zero(crops, mask, detected)
    assert not torch.allclose(with_face, zero(crops, mask))  # the undetected frame was dropped
    blank = crops.clone()
    blank[0, 2] = torch.randn(24, 24)  # any crop there gives the same output: it is ignored
    torch.testing.assert_close(zero(blank, mask, detected), with_face)
    keep = crops_backbone(undetected="keep")
    torch.testing.assert_close(keep(crops, mask, detected), keep(crops, mask))


def test_features_source_reads_a_stream_of_its_width():
    torch.manual_seed(0)
    model = LipBackbone(LipBackboneConfig(stream="lip_avsr", input_dim=12, dim=16, conformer=CONFORMER)).eval()
    feats, mask = torch.randn(2, 5, 12), torch.tensor([[1, 1, 1, 0, 0], [1] * 5], dtype=torch.bool)
    out = model(feats, mask)
    assert out.shape == (2, 5, 16) and out[0, 3:].abs().sum() == 0
    torch.testing.assert_close(out[0, :3], model(feats[:1, :3], mask[:1, :3])[0], rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match=r"expected \[B, T, 12\] features, got \[2, 5, 7\]"):
        model(torch.randn(2, 5, 7), mask)


def test_config_inputs_defaults_and_errors():
    paper = LipBackboneConfig()
    assert (paper.source, paper.input_dim, paper.dim, paper.conformer.num_layers) == ("features", 768, 512, 4)
    assert paper.input_name() == "features:lip_avsr"
    fused = validate(SLTModelConfig, {"frontends": [{"kind": "pose_backbone"}, CROPS]}, source="t")
    assert required_inputs(fused) == {"keypoints", "lips"}
    assert lip_crop_config(fused).size == 24
    assert lip_crop_config(SLTModelConfig()) is None
    with pytest.raises(ConfigError, match="divisible by conformer.num_heads"):
        validate(LipBackboneConfig, {**CROPS, "dim": 15}, source="t")
    with pytest.raises(ConfigError, match="source 'features' needs 'stream'"):
        validate(LipBackboneConfig, {"stream": None}, source="t")
    other = {**CROPS, "crop": {"size": 32}}
    two = validate(SLTModelConfig, {"frontends": [CROPS, other]}, source="t")
    with pytest.raises(ConfigError, match="different crop settings"):
        lip_crop_config(two)


def test_pose_and_lip_backbones_fuse_by_channels_end_to_end(t5_tokenizer, make_batch):
    """Paper 004 Sec. 3.1: pose ⊕ lip features per frame -> Sliding Perceiver -> LM, trained jointly."""
    from glossfree.training.tasks.translation import build_slt_model
    from models.conftest import TINY_LM, TINY_MODEL

    config = validate(SLTModelConfig, {
        "frontends": [TINY_MODEL["frontend"], CROPS], "fusion": "concat_channels",
        "compressor": TINY_MODEL["compressor"], "mapper": {"kind": "identity"}, "lm": TINY_LM,
    }, source="t")  # fmt: skip
    torch.manual_seed(0)
    model = build_slt_model(config, t5_tokenizer).eval()
    assert model.required_inputs() == {"keypoints", "lips"} and model.frontend.output_dim == 32 + 16
    batch = make_batch([6, 9])
    mask = batch.frame_mask
    batch.lips = torch.randn(2, 9, 24, 24) * mask[..., None, None]
    batch.lip_mask = mask.clone()
    batch.lip_mask[1, 3] = False  # no face in one frame
    batch.masks = {"keypoints": mask, "lips": mask}
    points = model.visual_points(batch)
    assert points["frontend"].features.shape == (2, 9, 48)
    assert points["frontend"].features[0, 6:].abs().sum() == 0
    # the first sample alone gives the same fused features (padding changes nothing)
    one = batch.select([0])
    one.keypoints, one.keypoint_mask = one.keypoints[:, :6], one.keypoint_mask[:, :6]
    one.lips, one.lip_mask, one.frame_mask = one.lips[:, :6], one.lip_mask[:, :6], one.frame_mask[:, :6]
    one.masks = {"keypoints": one.frame_mask, "lips": one.frame_mask}
    torch.testing.assert_close(model.visual_points(one)["frontend"].features[0],
                               points["frontend"].features[0, :6], rtol=1e-4, atol=1e-5)  # fmt: skip
    out = model.train()(batch)
    out.loss.backward()
    lip = model.frontend.branches[1]
    assert lip.visual.stem_conv.weight.grad.abs().sum() > 0  # the lip crops reach the loss
    assert model.frontend.branches[0].output_dim == 32
    batch.lips = None
    with pytest.raises(ConfigError, match="frontend 'lip_backbone' reads 'lips', but the batch has no such input"):
        model(batch)
