"""Frontend union and fusion: each frontend's shape/mask contract, LoRA on the frame backbone,
concat_channels / concat_time (lengths, masks, padding invariance), required inputs."""

from __future__ import annotations

import pytest
import torch

from features.helpers import SMALL, VIT
from glossfree.config import validate
from glossfree.data.datasets import PoseBatch
from glossfree.errors import ConfigError
from glossfree.models.frontends.features import FeatureStreamConfig
from glossfree.models.frontends.frame_encoder import FrameEncoder, FrameEncoderConfig
from glossfree.models.slt import FusedFrontend, SLTModelConfig, VisualTokens, fuse, required_inputs

RESNET = {"embedding_size": 8, "hidden_sizes": [8, 16], "depths": [1, 1], "layer_type": "basic"}
CLIP = {**VIT}


def _frames_batch(lengths: list[int], size: int = 32, seed: int = 0) -> PoseBatch:
    g = torch.Generator().manual_seed(seed)
    longest = max(lengths)
    mask = torch.arange(longest)[None, :] < torch.tensor(lengths)[:, None]
    frames = torch.randn(len(lengths), longest, 3, size, size, generator=g) * mask[:, :, None, None, None]
    return PoseBatch(ids=[str(i) for i in range(len(lengths))], keypoints=None, keypoint_mask=None, frame_mask=mask,
                     lengths=mask.sum(1), texts=[""] * len(lengths), languages=[""] * len(lengths), frames=frames,
                     masks={"frames": mask})  # fmt: skip


@pytest.mark.parametrize(
    "spec, width",
    [
        ({"model": "dinov2", "model_config": VIT, "pooling": "cls+mean", "train": "frozen"}, 64),
        ({"model": "clip", "model_config": CLIP, "train": "full", "dim": 24}, 24),
        ({"model": "resnet", "model_config": RESNET, "train": "lora", "lora": {"layers": [1]}}, 16),
    ],
)
def test_frame_encoder_shape_mask_and_padding_invariance(spec, width):
    encoder = FrameEncoder(FrameEncoderConfig(kind="frame_encoder", preprocess=SMALL, **spec)).eval()
    assert encoder.output_dim == width
    batch = _frames_batch([3, 5])
    out = encoder(batch.frames, batch.masks["frames"])
    assert out.shape == (2, 5, width)
    assert out[0, 3:].abs().sum() == 0 and out[1].abs().sum(-1).gt(0).all()
    # padding invariance: sample 0 alone (no padding) gives the same features
    alone = encoder(batch.frames[:1, :3], batch.masks["frames"][:1, :3])
    torch.testing.assert_close(alone[0], out[0, :3], rtol=1e-4, atol=1e-5)


def test_frame_encoder_lora_freezes_base_and_trains_adapters_on_chosen_layers():
    config = FrameEncoderConfig(model="dinov2", model_config={**VIT, "num_hidden_layers": 3}, preprocess=SMALL,
                                train="lora", lora={"r": 4, "layers": [0, 2]})  # fmt: skip
    encoder = FrameEncoder(config)
    trainable = {n for n, p in encoder.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert {n.split("encoder.layer.")[1].split(".")[0] for n in trainable} == {"0", "2"}
    assert any("q_proj" in n or "query" in n for n in trainable) and any("v_proj" in n or "value" in n for n in trainable)
    base_before = {n: p.detach().clone() for n, p in encoder.named_parameters() if not p.requires_grad}
    optimizer = torch.optim.SGD([p for p in encoder.parameters() if p.requires_grad], lr=0.1)
    batch = _frames_batch([2, 2])
    for _ in range(2):
        optimizer.zero_grad()
        encoder(batch.frames, batch.masks["frames"]).pow(2).sum().backward()
        optimizer.step()
    for name, param in encoder.named_parameters():
        if not param.requires_grad:
            torch.testing.assert_close(param, base_before[name], rtol=0, atol=0)
    lora_b = [p for n, p in encoder.named_parameters() if "lora_B" in n]
    assert any(p.abs().sum() > 0 for p in lora_b)  # B starts at 0: the adapter learnt


def test_hfa_frame_encoder_lora_on_the_top_three_layers_and_batch_norm():
    # Paper 001: LoRA on the top three of ViT-S/14's twelve blocks (q and v), CLS -> Linear -> BatchNorm.
    config = FrameEncoderConfig(model="dinov2", model_config={**VIT, "num_hidden_layers": 12}, preprocess=SMALL,
                                train="lora", lora={"layers": [9, 10, 11]}, dim=16, norm="batch")  # fmt: skip
    encoder = FrameEncoder(config)
    trainable = sorted(n for n, p in encoder.named_parameters() if p.requires_grad)
    lora = [n for n in trainable if "lora_" in n]
    assert len(lora) == 3 * 2 * 2  # 3 blocks x (q, v) x (A, B)
    assert {n.split("encoder.layer.")[1].split(".")[0] for n in lora} == {"9", "10", "11"}
    assert [n for n in trainable if n not in lora] == ["proj.0.bias", "proj.0.weight", "proj.1.bias", "proj.1.weight"]
    assert isinstance(encoder.proj[1], torch.nn.BatchNorm1d)
    # BatchNorm statistics come from the real frames only: padding is never encoded nor counted
    batch = _frames_batch([2, 4])
    encoder.train()
    with torch.no_grad():
        pooled = encoder.proj[0](encoder._encode(batch.frames[batch.masks["frames"]]))  # [6, 16]
        encoder.proj[1].reset_running_stats()
        encoder.proj[1].momentum = 1.0  # running mean = this batch's mean
        out = encoder(batch.frames, batch.masks["frames"])
    torch.testing.assert_close(encoder.proj[1].running_mean, pooled.mean(0), rtol=1e-4, atol=1e-5)
    assert out[0, 2:].abs().sum() == 0
    with pytest.raises(ValueError, match="norm 'batch'"):
        FrameEncoderConfig(model="dinov2", model_config=VIT, norm="batch")


def test_frame_encoder_needs_one_weights_source():
    with pytest.raises(ValueError, match="exactly one of name_or_path"):
        FrameEncoderConfig(model="dinov2")
    with pytest.raises(ConfigError, match="name_or_path 'no/such-model'"):
        FrameEncoder(FrameEncoderConfig(model="dinov2", name_or_path="no/such-model"))


def _tokens(lengths: list[int], dim: int, offset: float = 0.0) -> VisualTokens:
    longest = max(lengths)
    mask = torch.arange(longest)[None, :] < torch.tensor(lengths)[:, None]
    values = torch.arange(len(lengths) * longest * dim, dtype=torch.float32).view(len(lengths), longest, dim) + offset
    return VisualTokens(values * mask[..., None], mask)


def test_concat_channels_strict_and_resample():
    pose, lip = _tokens([4, 2], 3), _tokens([4, 2], 2, 100.0)
    fused = fuse([pose, lip], "concat_channels", "strict")
    assert fused.features.shape == (2, 4, 5) and torch.equal(fused.mask, pose.mask)
    torch.testing.assert_close(fused.features[..., 3:], lip.features)
    short = _tokens([2, 1], 2, 100.0)
    with pytest.raises(ValueError, match=r"frontend 1 has other lengths than frontend 0 \(a: 4 vs 2, b: 2 vs 1\)"):
        fuse([pose, short], "concat_channels", "strict", ["a", "b"])
    resampled = fuse([pose, short], "concat_channels", "resample")
    # sample 0: 4 reference steps over 2 stream steps -> indices 0, 0, 1, 1
    torch.testing.assert_close(resampled.features[0, :, 3:], short.features[0, [0, 0, 1, 1]])
    assert resampled.features[1, 2:].abs().sum() == 0  # padding of the reference stays 0
    empty = VisualTokens(torch.zeros(2, 1, 2), torch.tensor([[True], [False]]))
    with pytest.raises(ValueError, match="an empty stream cannot be aligned"):
        fuse([pose, empty], "concat_channels", "resample")


def test_concat_time_packs_each_sample_and_ignores_padding():
    a, b = _tokens([3, 1], 2), _tokens([2, 4], 2, 100.0)
    fused = fuse([a, b], "concat_time", "strict")
    assert fused.features.shape == (2, 5, 2)
    assert fused.mask.sum(1).tolist() == [5, 5]
    torch.testing.assert_close(fused.features[0], torch.cat([a.features[0, :3], b.features[0, :2]]))
    torch.testing.assert_close(fused.features[1], torch.cat([a.features[1, :1], b.features[1, :4]]))
    # extra padding on either stream changes nothing
    padded = VisualTokens(torch.cat([a.features, torch.full((2, 3, 2), 0.0)], 1), torch.cat([a.mask, torch.zeros(2, 3, dtype=torch.bool)], 1))
    torch.testing.assert_close(fuse([padded, b], "concat_time", "strict").features, fused.features)


def test_fused_model_config_inputs_and_widths():
    streams = [{"kind": "features", "stream": "clip_s2", "input_dim": 6, "dim": 8},
               {"kind": "features", "stream": "videomae", "input_dim": 4, "dim": 8}]  # fmt: skip
    config = validate(SLTModelConfig, {"frontends": streams, "fusion": "concat_time"}, source="t")
    assert required_inputs(config) == {"features:clip_s2", "features:videomae"}
    assert required_inputs(SLTModelConfig()) == {"keypoints"}
    fused = FusedFrontend(config.frontends, "pose203", "concat_time", "strict")
    assert fused.output_dim == 8
    assert FusedFrontend(config.frontends, "pose203", "concat_channels", "strict").output_dim == 16
    with pytest.raises(ConfigError, match=r"widths must agree; frontend widths are \[8, 5\]"):
        FusedFrontend([config.frontends[0], FeatureStreamConfig(stream="x", input_dim=4, dim=5)], "pose203", "concat_time", "strict")
    with pytest.raises(ConfigError, match="either 'frontend'"):
        validate(SLTModelConfig, {"frontend": {"kind": "keypoint_mlp"}, "frontends": streams}, source="t")
    pose_lip = validate(SLTModelConfig, {"frontends": [{"kind": "keypoint_mlp", "dim": 8}, streams[0]]}, source="t")
    assert required_inputs(pose_lip) == {"keypoints", "features:clip_s2"}


def test_fused_features_frontend_is_padding_invariant():
    streams = [{"kind": "features", "stream": "a", "input_dim": 6, "dim": 8, "dropout": 0.0},
               {"kind": "features", "stream": "b", "input_dim": 4, "dim": 8, "dropout": 0.0}]  # fmt: skip
    config = validate(SLTModelConfig, {"frontends": streams, "fusion": "concat_time"}, source="t")
    fused = FusedFrontend(config.frontends, "pose203", "concat_time", "strict").eval()
    a, b = torch.randn(2, 5, 6), torch.randn(2, 3, 4)
    ma = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    mb = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    batch = PoseBatch(ids=["x", "y"], keypoints=None, keypoint_mask=None, frame_mask=ma, lengths=ma.sum(1),
                      texts=["", ""], languages=["", ""], features={"a": a * ma[..., None], "b": b * mb[..., None]},
                      masks={"features:a": ma, "features:b": mb})  # fmt: skip
    out = fused(batch)
    assert out.features.shape == (2, 8, 8) and out.mask.sum(1).tolist() == [5, 8]
    one = PoseBatch(ids=["x"], keypoints=None, keypoint_mask=None, frame_mask=ma[:1, :3], lengths=torch.tensor([3]),
                    texts=[""], languages=[""], features={"a": a[:1, :3], "b": b[:1, :2]},
                    masks={"features:a": ma[:1, :3], "features:b": mb[:1, :2]})  # fmt: skip
    torch.testing.assert_close(fused(one).features[0], out.features[0, :5], rtol=1e-5, atol=1e-6)


def test_pose_and_lip_stream_fuse_by_channels_in_the_model(t5_tokenizer, make_batch):
    """Paper 004's pose ⊕ lip: a keypoint frontend and a feature stream of the same length."""
    from glossfree.training.tasks.translation import build_slt_model
    from models.conftest import TINY_LM

    config = validate(SLTModelConfig, {
        "frontends": [{"kind": "keypoint_mlp", "dim": 16, "dropout": 0.0},
                      {"kind": "features", "stream": "lip", "input_dim": 5, "dim": 8, "dropout": 0.0}],
        "fusion": "concat_channels", "compressor": {"kind": "none"}, "mapper": {"kind": "linear"}, "lm": TINY_LM,
    }, source="t")  # fmt: skip
    torch.manual_seed(0)
    model = build_slt_model(config, t5_tokenizer).eval()
    assert model.required_inputs() == {"keypoints", "features:lip"} and model.frontend.output_dim == 24
    batch = make_batch([6, 9])
    lip = torch.randn(2, 9, 5) * batch.frame_mask[..., None]
    batch.features, batch.masks = {"lip": lip}, {"keypoints": batch.frame_mask, "features:lip": batch.frame_mask}
    points = model.visual_points(batch)
    assert points["frontend"].features.shape == (2, 9, 24)
    assert points["frontend"].features[0, 6:].abs().sum() == 0
    out = model.train()(batch)
    out.loss.backward()
    assert model.frontend.branches[1].proj.weight.grad.abs().sum() > 0  # the lip stream reaches the loss
    batch.features = {}
    with pytest.raises(ConfigError, match="frontend 'features' reads 'features:lip', but the batch has no such input"):
        model(batch)
