"""The frozen lip reader (``kind: lip_reader``): Auto-AVSR's visual front-end loaded from a tiny
random-weight checkpoint saved in Auto-AVSR's key layout, its key mapping and errors, chunked
encoding, and ``glossfree extract`` writing a stream the lip backbone reads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from data.lip_helpers import write_pair
from glossfree.errors import ConfigError
from glossfree.features.config import parse_extractor_config
from glossfree.features.extractors import LipReaderExtractor, avsr_frontend_state_dict, build_extractor

SIZES = {"stem_channels": 4, "channels": [4, 8], "blocks": 1}


class _Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class _AvsrBlock(nn.Module):
    """Auto-AVSR ``BasicBlock`` names (``backbones/modules/resnet.py``), written out independently."""

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.relu1, self.relu2 = _Swish(), _Swish()
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes)
        self.downsample = (nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                           if stride != 1 or inplanes != planes else None)  # fmt: skip

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))) + residual)


class _AvsrConv3dResNet(nn.Module):
    """A small replica of Auto-AVSR's ``Conv3dResNet`` (``backbones/conv3d_extractor.py``): its
    module names give the checkpoint layout, its forward the reference output."""

    def __init__(self, stem=4, channels=(4, 8)):
        super().__init__()
        self.frontend3D = nn.Sequential(nn.Conv3d(1, stem, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False),
                                        nn.BatchNorm3d(stem), _Swish(), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))  # fmt: skip
        self.trunk = nn.Module()
        inplanes = stem
        for number, planes in enumerate(channels, start=1):
            self.trunk.add_module(f"layer{number}", nn.Sequential(_AvsrBlock(inplanes, planes, 1 if number == 1 else 2)))
            inplanes = planes
        self.num = len(channels)

    def forward(self, x):  # [B, T, 1, H, W] as Auto-AVSR feeds it
        x = self.frontend3D(x.transpose(1, 2))  # [B, C, T, H, W]
        b, c, t = x.shape[:3]
        x = x.transpose(1, 2).reshape(b * t, c, *x.shape[3:])
        for number in range(1, self.num + 1):
            x = getattr(self.trunk, f"layer{number}")(x)
        return x.mean(dim=(2, 3)).view(b, t, -1)


@pytest.fixture(scope="module")
def avsr_model() -> _AvsrConv3dResNet:
    torch.manual_seed(3)
    model = _AvsrConv3dResNet()
    for module in model.modules():  # non-trivial BatchNorm statistics, as a trained checkpoint has
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def avsr_state(model: nn.Module, prefix: str = "encoder.frontend.") -> dict[str, torch.Tensor]:
    """The state dict of a whole Auto-AVSR model: the front-end under ``prefix`` and other parts."""
    state = {prefix + key: value for key, value in model.state_dict().items()}
    state["encoder.embed.0.weight"] = torch.randn(768, 512)  # the Conformer encoder's input layer
    state["encoder.encoders.0.self_attn.linear_q.weight"] = torch.randn(8, 8)
    state["decoder.embed.0.weight"] = torch.randn(10, 8)
    state["ctc.ctc_lo.weight"] = torch.randn(10, 8)
    return state


def lip_config(checkpoint, **extra):
    return parse_extractor_config({"kind": "lip_reader", "checkpoint": str(checkpoint), "output": "frontend", **SIZES,
                                   "crop": {"size": 24, "smooth": 1, "scale": 2.0}, **extra})  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(avsr_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "vsr_tiny.pth"
    torch.save(avsr_state(avsr_model), path)
    return path


def test_key_mapping_from_the_auto_avsr_layout(avsr_model):
    mapped = avsr_frontend_state_dict(avsr_state(avsr_model))
    assert "stem_conv.weight" in mapped and "stem_norm.running_var" in mapped
    assert "trunk.layer2.0.downsample.1.weight" in mapped
    assert not any(k.startswith(("encoder", "decoder", "ctc", "frontend3D")) for k in mapped)
    torch.testing.assert_close(mapped["stem_conv.weight"], avsr_model.frontend3D[0].weight)
    lightning = {"model." + k: v for k, v in avsr_state(avsr_model).items()}
    assert set(avsr_frontend_state_dict(lightning)) == set(mapped)


def test_extractor_matches_the_auto_avsr_forward(avsr_model, checkpoint):
    extractor = build_extractor(lip_config(checkpoint))
    assert isinstance(extractor, LipReaderExtractor) and extractor.dim == 8
    assert not any(p.requires_grad for p in extractor.model.parameters())
    crops = torch.randn(11, 24, 24)
    with torch.no_grad():
        reference = avsr_model(crops[None, :, None])[0]  # [T, 8]
    torch.testing.assert_close(extractor.encode_crops(crops, batch_size=100), reference, rtol=1e-4, atol=1e-5)
    # chunks of 3 frames with 2 frames of context each side: the same numbers as one pass
    torch.testing.assert_close(extractor.encode_crops(crops, batch_size=3), reference, rtol=1e-4, atol=1e-5)


def test_lightning_checkpoint_with_state_dict_loads(avsr_model, tmp_path):
    path = tmp_path / "epoch.ckpt"
    torch.save({"state_dict": {"model." + k: v for k, v in avsr_state(avsr_model).items()}, "epoch": 3}, path)
    assert build_extractor(lip_config(path)).dim == 8


def test_checkpoint_errors_are_clear(avsr_model, tmp_path):
    def saved(state, name="bad.pth"):
        torch.save(state, tmp_path / name)
        return tmp_path / name

    with pytest.raises(ConfigError, match="file not found"):
        build_extractor(lip_config(tmp_path / "nope.pth"))
    state = avsr_state(avsr_model)
    del state["encoder.frontend.trunk.layer1.0.bn1.weight"]
    with pytest.raises(ConfigError, match=r"bad\.pth: .*missing keys: trunk\.layer1\.0\.bn1\.weight; unexpected keys: none"):
        build_extractor(lip_config(saved(state)))
    state = avsr_state(avsr_model)
    state["encoder.frontend.trunk.layer3.0.conv1.weight"] = torch.randn(8, 8, 3, 3)
    with pytest.raises(ConfigError, match=r"missing keys: none; unexpected keys: trunk\.layer3\.0\.conv1\.weight"):
        build_extractor(lip_config(saved(state)))
    state = avsr_state(avsr_model)
    state["encoder.frontend.mystery.weight"] = torch.randn(2)
    with pytest.raises(ConfigError, match=r"not part of the Auto-AVSR visual front-end: encoder\.frontend\.mystery\.weight"):
        build_extractor(lip_config(saved(state)))
    with pytest.raises(ConfigError, match=r"shapes differ .*set stem_channels/channels/blocks"):
        build_extractor(lip_config(saved(avsr_state(avsr_model)), channels=[4, 16]))
    with pytest.raises(ConfigError, match="no Auto-AVSR visual front-end"):
        build_extractor(lip_config(saved({"decoder.embed.0.weight": torch.randn(2)})))
    two = {**avsr_state(avsr_model), **avsr_state(avsr_model, prefix="aux.frontend.")}
    with pytest.raises(ConfigError, match="several visual front-ends .*choose one with key_prefix"):
        build_extractor(lip_config(saved(two)))
    assert build_extractor(lip_config(saved(two), key_prefix="aux.frontend.")).dim == 8
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="junk.pth: cannot read the checkpoint"):
        build_extractor(lip_config(tmp_path / "junk.pth"))


def test_extract_writes_a_lip_stream_the_lip_backbone_reads(checkpoint, tmp_path):
    from glossfree.data.datasets import PoseDataset, collate_pose
    from glossfree.data.manifest import read_manifest
    from glossfree.features.extract import extract_features
    from glossfree.models.frontends.lip_backbone import LipBackbone, LipBackboneConfig

    root = tmp_path / "data"
    write_pair(root, "a", num_frames=12, fps=10.0, undetected=[4])
    write_pair(root, "b", num_frames=8, fps=10.0)
    records = [
        {"id": "a", "split": "train", "text": "x", "language": "en", "video": "videos/a.mp4", "pose": "poses/a.pose"},
        {"id": "b", "split": "train", "text": "y", "language": "en", "video": "videos/b.mp4", "pose": "poses/b.pose",
         "start": 0.2, "end": 0.6},
        {"id": "c", "split": "train", "text": "z", "language": "en", "video": "videos/a.mp4"},
    ]  # fmt: skip
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    config = lip_config(checkpoint)
    summary = extract_features(root, config, name="lip", progress=False)
    assert summary.written == 2 and [r for r, _ in summary.failed] == ["c"]
    assert "needs a 'video' and a 'pose'" in summary.failed[0][1]
    again = extract_features(root, config, name="lip", progress=False)
    assert again.skipped == 2 and again.written == 0  # resumable: same signature, nothing redone

    usable = [r for r in read_manifest(root / "manifest.jsonl") if r.id != "c"]
    dataset = PoseDataset(usable, root, inputs={"features:lip"})
    a, b = dataset[0], dataset[1]
    assert a["features"]["lip"].shape == (12, 8) and b["features"]["lip"].shape == (4, 8)  # span 0.2-0.6 s
    # the same numbers as encoding the crops directly
    from glossfree.data.lips import load_lip_crops

    crops = load_lip_crops(root / "videos/a.mp4", root / "poses/a.pose", config.crop)
    direct = build_extractor(config).encode_crops(crops.crops)
    np.testing.assert_allclose(a["features"]["lip"].numpy(), direct.numpy(), rtol=1e-5, atol=1e-6)
    batch = collate_pose([a, b])
    backbone = LipBackbone(LipBackboneConfig(stream="lip", input_dim=8, dim=16,
                                             conformer={"num_layers": 1, "num_heads": 2})).eval()  # fmt: skip
    out = backbone(batch.features["lip"], batch.masks["features:lip"])
    assert out.shape == (2, 12, 16) and out[1, 4:].abs().sum() == 0


def test_extract_cli_with_a_lip_reader_yaml(checkpoint, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from glossfree.cli.main import app
    from glossfree.features.cache import FeatureCache

    root = tmp_path / "data"
    write_pair(root, "a", num_frames=6, fps=10.0)
    record = {"id": "a", "split": "train", "text": "x", "language": "en", "video": "videos/a.mp4", "pose": "poses/a.pose"}
    (root / "manifest.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    config = tmp_path / "lip_avsr.yaml"
    config.write_text(yaml.safe_dump({"kind": "lip_reader", "checkpoint": str(checkpoint), "output": "frontend",
                                      **SIZES, "crop": {"size": 24}}), encoding="utf-8")  # fmt: skip
    result = CliRunner().invoke(app, ["extract", str(root), "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    entry = FeatureCache(root, "lip_avsr").read("a")
    assert tuple(entry.features.shape) == (6, 8) and entry.fps == pytest.approx(10.0)
    stored = json.loads((root / "features" / "lip_avsr" / "extractor.json").read_text(encoding="utf-8"))
    assert stored["config"]["kind"] == "lip_reader" and stored["dim"] == 8
    config.write_text(yaml.safe_dump({"kind": "lip_reader", "checkpoint": str(checkpoint), "crop": {"size": 4}}),
                      encoding="utf-8")  # fmt: skip
    result = CliRunner().invoke(app, ["extract", str(root), "--config", str(config), "--name", "other"])
    assert result.exit_code != 0 and "crop.size" in result.output


# ---------------------------------------------------------------------------------------------
# the Conformer encoder (output: encoder, the paper's 768-d features), tiny sizes

ENCODER = {"dim": 16, "heads": 2, "hidden": 32, "num_layers": 2, "kernel_size": 5}
# Auto-AVSR / ESPnet names inside one encoder block (``encoder/conformer_encoder.py`` EncoderLayer,
# ``transformer/attention.py`` RelPositionMultiHeadedAttention; ``pointwise_cov`` is theirs).
AVSR_BLOCK_KEYS = {
    "self_attn.pos_bias_u", "self_attn.pos_bias_v", "self_attn.linear_pos.weight",
    *(f"self_attn.linear_{n}.{p}" for n in "qkv" for p in ("weight", "bias")),
    "self_attn.linear_out.weight", "self_attn.linear_out.bias",
    *(f"{ff}.{w}.{p}" for ff in ("feed_forward", "feed_forward_macaron") for w in ("w_1", "w_2") for p in ("weight", "bias")),
    *(f"conv_module.{c}.{p}" for c in ("pointwise_cov1", "depthwise_conv", "pointwise_cov2") for p in ("weight", "bias")),
    *(f"conv_module.norm.{p}" for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")),
    *(f"{n}.{p}" for n in ("norm_ff", "norm_mha", "norm_ff_macaron", "norm_conv", "norm_final") for p in ("weight", "bias")),
}  # fmt: skip


def encoder_state(layout: str, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random Auto-AVSR encoder weights named as in its 2023 (``encoder.embed.0``) or 2025
    (``proj_encoder``) checkpoints, for the tiny front-end (width 8)."""
    from glossfree.models.frontends.avsr_encoder import AvsrConformerEncoder

    torch.manual_seed(seed)
    ours = AvsrConformerEncoder(input_dim=8, **{"dim": 16, "heads": 2, "hidden": 32, "num_layers": 2, "kernel_size": 5})
    for name, tensor in ours.state_dict().items():  # everything random, BatchNorm variances positive
        if tensor.is_floating_point():
            tensor.copy_(torch.rand_like(tensor) + 0.5 if name.endswith("running_var") else torch.randn_like(tensor) * 0.3)
    proj, root = ("encoder.embed.0.", "encoder.") if layout == "2023" else ("proj_encoder.", "encoder.")
    state = {}
    for key, value in ours.state_dict().items():
        if key.startswith("proj."):
            state[proj + key[5:]] = value
        elif key.startswith("layers."):
            state[root + "encoders." + key[7:]] = value
        else:
            state[root + key] = value
    return state


def test_encoder_block_names_are_auto_avsr_s():
    from glossfree.models.frontends.avsr_encoder import ConformerLayer

    assert set(ConformerLayer(16, 2, 32, 5).state_dict()) == AVSR_BLOCK_KEYS


def test_relative_attention_matches_a_direct_transformer_xl_sum():
    """score(i, j) = ((q_i + u) . k_j + (q_i + v) . W_pos r(i - j)) / sqrt(d_k), r a sinusoid of i - j."""
    import math

    from glossfree.models.frontends.avsr_encoder import RelPositionAttention, relative_positions

    torch.manual_seed(0)
    attention = RelPositionAttention(8, 2).eval()
    nn.init.normal_(attention.pos_bias_u)
    nn.init.normal_(attention.pos_bias_v)
    x, length, d_k = torch.randn(1, 5, 8), 5, 4

    def sinusoid(offset: int) -> torch.Tensor:
        out = torch.zeros(8)
        for k in range(4):
            angle = offset / 10000 ** (2 * k / 8)
            out[2 * k], out[2 * k + 1] = math.sin(angle), math.cos(angle)
        return out

    q, k, v = attention.linear_q(x[0]), attention.linear_k(x[0]), attention.linear_v(x[0])
    out = torch.zeros(length, 8)
    for h in range(2):
        part = slice(h * d_k, (h + 1) * d_k)
        scores = torch.zeros(length, length)
        for i in range(length):
            for j in range(length):
                pos = attention.linear_pos(sinusoid(i - j))[part]
                scores[i, j] = ((q[i, part] + attention.pos_bias_u[h]) @ k[j, part]
                                + (q[i, part] + attention.pos_bias_v[h]) @ pos) / math.sqrt(d_k)  # fmt: skip
        out[:, part] = torch.softmax(scores, dim=-1) @ v[:, part]
    expected = attention.linear_out(out)
    with torch.no_grad():
        got = attention(x, relative_positions(length, 8))[0]
    torch.testing.assert_close(got, expected.detach(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layout", ["2023", "2025"])
def test_encoder_output_from_both_checkpoint_layouts(avsr_model, layout, tmp_path):
    front_prefix = "encoder.frontend." if layout == "2023" else "frontend."
    state = {**{front_prefix + k: v for k, v in avsr_model.state_dict().items()}, **encoder_state(layout),
             "decoder.embed.0.weight": torch.randn(3, 16)}  # fmt: skip
    torch.save(state, tmp_path / "avsr.pth")
    extractor = build_extractor(lip_config(tmp_path / "avsr.pth", output="encoder", encoder=ENCODER))
    assert extractor.dim == 16 and not any(p.requires_grad for p in extractor.encoder.parameters())
    crops = torch.randn(9, 24, 24)
    out = extractor.encode_crops(crops, batch_size=4)
    assert out.shape == (9, 16)
    with torch.no_grad():
        expected = extractor.encoder(avsr_model(crops[None, :, None]))[0]  # encoder on the reference front-end
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out, extractor.encode_crops(crops, batch_size=100), rtol=1e-5, atol=1e-6)


def test_encoder_errors_are_clear(avsr_model, tmp_path):
    base = {**{"frontend." + k: v for k, v in avsr_model.state_dict().items()}}
    torch.save({**base, "decoder.embed.0.weight": torch.randn(3, 16)}, tmp_path / "front.pth")
    with pytest.raises(ConfigError, match="no Auto-AVSR Conformer encoder next to the front-end.*use output: frontend"):
        build_extractor(lip_config(tmp_path / "front.pth", output="encoder", encoder=ENCODER))
    state = {**base, **encoder_state("2025")}
    del state["encoder.encoders.1.norm_final.bias"]
    torch.save(state, tmp_path / "a.pth")
    with pytest.raises(ConfigError, match=r"Conformer encoder does not match .*missing keys: layers\.1\.norm_final\.bias"):
        build_extractor(lip_config(tmp_path / "a.pth", output="encoder", encoder=ENCODER))
    state = {**base, **encoder_state("2025"), "encoder.embed.1.pe": torch.randn(3)}
    torch.save(state, tmp_path / "b.pth")
    with pytest.raises(ConfigError, match=r"unexpected keys in the Auto-AVSR encoder that do not map: encoder\.embed\.1\.pe"):
        build_extractor(lip_config(tmp_path / "b.pth", output="encoder", encoder=ENCODER))
    torch.save({**base, **encoder_state("2025")}, tmp_path / "c.pth")
    with pytest.raises(ConfigError, match="missing keys: layers.2"):
        build_extractor(lip_config(tmp_path / "c.pth", output="encoder", encoder={**ENCODER, "num_layers": 3}))
    with pytest.raises(ConfigError, match=r"shapes differ .*set encoder\.dim/heads/hidden/num_layers/kernel_size"):
        build_extractor(lip_config(tmp_path / "c.pth", output="encoder", encoder={**ENCODER, "hidden": 24}))
    with pytest.raises(ConfigError, match="must be divisible by heads"):
        lip_config(tmp_path / "c.pth", encoder={**ENCODER, "heads": 3})
