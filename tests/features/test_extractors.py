"""Extractor configs, preprocessing and the four frozen extractors built from tiny explicit configs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from features.helpers import TINY_CONFIGS

from glossfree.errors import ConfigError, DataError
from glossfree.features.config import PreprocessConfig, parse_extractor_config, signature
from glossfree.features.extractors import build_extractor, clip_starts, preprocess_frames


@pytest.mark.parametrize("family", sorted(TINY_CONFIGS))
def test_extractor_shapes_and_determinism(family, frames):
    config = parse_extractor_config(TINY_CONFIGS[family])
    extractor = build_extractor(config)
    out = extractor.extract(frames, batch_size=4)
    rows = len(clip_starts(len(frames), 4, 2)) if family == "videomae" else len(frames)
    assert out.shape == (rows, extractor.dim) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    expected_dim = {"dinov2": 64, "clip": 64, "resnet": 32, "videomae": 32}[family]
    assert extractor.dim == expected_dim
    # a second build (seeded weights), other batch size, frames as a generator: same numbers
    again = build_extractor(config).extract(iter(list(frames)), batch_size=3)
    torch.testing.assert_close(out, again, rtol=1e-5, atol=1e-5)
    # different frames give different features
    assert not torch.allclose(out, extractor.extract(frames[::-1].copy(), batch_size=4))


def test_clip_s2_is_scale_one_plus_tiles():
    frames = np.random.default_rng(1).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    s2 = build_extractor(parse_extractor_config(TINY_CONFIGS["clip"]))
    single = build_extractor(parse_extractor_config({**TINY_CONFIGS["clip"], "s2_scales": None}))
    both, one = s2.extract(frames), single.extract(frames)
    assert both.shape == (3, 64) and one.shape == (3, 32)
    torch.testing.assert_close(both[:, :32], one)  # scale 1 comes first, unchanged
    # scale 2: the mean of the four 32x32 tiles of the 64x64 upsampled image
    x = preprocess_frames(frames, s2.config.preprocess)
    big = torch.nn.functional.interpolate(x, size=(64, 64), mode="bicubic", align_corners=False)
    tiles = [big[:, :, i : i + 32, j : j + 32] for i in (0, 32) for j in (0, 32)]
    with torch.inference_mode():
        expected = torch.stack([s2.model(pixel_values=t).pooler_output for t in tiles]).mean(0)
    torch.testing.assert_close(both[:, 32:], expected, rtol=1e-4, atol=1e-5)


def test_preprocess_resize_crop_normalise():
    config = PreprocessConfig(resize=20, crop=16, mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0))
    frames = np.full((2, 30, 60, 3), 102, dtype=np.uint8)  # 102/255 = 0.4
    x = preprocess_frames(frames, config)
    assert x.shape == (2, 3, 16, 16)
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([-0.4, -0.2, -0.1]), rtol=1e-4, atol=1e-4)
    with pytest.raises(DataError, match=r"\[T, H, W, 3\]"):
        preprocess_frames(np.zeros((2, 30, 60), dtype=np.uint8), config)


def test_clip_starts_cover_every_frame():
    assert clip_starts(10, 16, 8) == [0]
    assert clip_starts(16, 16, 8) == [0]
    assert clip_starts(32, 16, 8) == [0, 8, 16]
    assert clip_starts(35, 16, 8) == [0, 8, 16, 19]  # a last clip ending at the last frame
    for frames in range(1, 60):
        starts = clip_starts(frames, 16, 8)
        assert starts[-1] + 16 >= frames and starts == sorted(set(starts))


def test_short_video_is_padded_to_one_clip(frames):
    extractor = build_extractor(parse_extractor_config(TINY_CONFIGS["videomae"]))
    assert extractor.extract(frames[:3]).shape == (1, 32)


def test_signature_follows_every_setting():
    base = TINY_CONFIGS["clip"]
    reference = signature(parse_extractor_config(base))
    assert reference == signature(parse_extractor_config(copy.deepcopy(base)))
    changes = [{"s2_scales": None}, {"fps": 12.5}, {"seed": 1}, {"dtype": "float16"}, {"pooling": "mean"},
               {"preprocess": {"resize": 40, "crop": 32}}, {"model_config": {**base["model_config"], "num_hidden_layers": 3}}]  # fmt: skip
    signatures = {signature(parse_extractor_config({**base, **change})) for change in changes}
    assert reference not in signatures and len(signatures) == len(changes)


def test_config_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match=r"x.yaml: unknown key 'modl'.*valid keys: .*model_config"):
        parse_extractor_config({"kind": "image", "modl": "clip", "name_or_path": "m"}, "x.yaml")
    with pytest.raises(ConfigError, match="unknown extractor kind 'video'.*image, video_clips"):
        parse_extractor_config({"kind": "video", "name_or_path": "m"}, "x.yaml")
    with pytest.raises(ConfigError, match="missing key 'kind'"):
        parse_extractor_config({"model": "clip"}, "x.yaml")
    with pytest.raises(ConfigError, match="exactly one of name_or_path"):
        parse_extractor_config({"kind": "image", "model": "clip"}, "x.yaml")
    with pytest.raises(ConfigError, match="resnet has no CLS token"):
        parse_extractor_config({**TINY_CONFIGS["resnet"], "pooling": "cls"})
    with pytest.raises(ConfigError, match=r"s2_scales is implemented for model clip only"):
        parse_extractor_config({**TINY_CONFIGS["dinov2"], "s2_scales": [1, 2]})
    with pytest.raises(ConfigError, match=r"preprocess: .*crop \(64\) must be <= resize \(32\)"):
        parse_extractor_config({**TINY_CONFIGS["dinov2"], "preprocess": {"resize": 32, "crop": 64}})
    with pytest.raises(ConfigError, match=r"crop \(24\) must equal the CLIP model's image_size \(32\)"):
        build_extractor(parse_extractor_config({**TINY_CONFIGS["clip"], "preprocess": {"resize": 24, "crop": 24}}))
    with pytest.raises(ConfigError, match=r"clip_length \(8\) must equal .* num_frames \(4\)"):
        build_extractor(parse_extractor_config({**TINY_CONFIGS["videomae"], "clip_length": 8}))
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match=f"name_or_path {missing}: no such folder; .*nothing is downloaded"):
        build_extractor(parse_extractor_config({"kind": "image", "model": "dinov2", "name_or_path": str(missing)}))
    with pytest.raises(ConfigError, match="name_or_path 'org/no-such-model': cannot load Dinov2Model from local files"):
        build_extractor(parse_extractor_config({"kind": "image", "model": "dinov2", "name_or_path": "org/no-such-model"}))


def test_pretrained_folder_loads_locally(tmp_path, frames):
    """A saved model folder is loaded by path (the real-weights path), same numbers as the original."""
    from transformers import Dinov2Config, Dinov2Model

    from features.helpers import VIT

    torch.manual_seed(0)
    Dinov2Model(Dinov2Config(**VIT)).save_pretrained(tmp_path / "dino")
    by_path = build_extractor(parse_extractor_config({"kind": "image", "model": "dinov2", "name_or_path": str(tmp_path / "dino"),
                                                      "preprocess": {"resize": 32, "crop": 32}}))  # fmt: skip
    reference = Dinov2Model.from_pretrained(tmp_path / "dino").eval()
    x = preprocess_frames(frames, by_path.config.preprocess)
    with torch.inference_mode():
        expected = reference(pixel_values=x).last_hidden_state[:, 0]
    torch.testing.assert_close(by_path.extract(frames), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("family", ["clip", "dinov2"])
def test_default_preprocessing_matches_the_published_image_processors(family):
    """Our torch preprocessing vs transformers' own (PIL) processors configured as the released
    checkpoints are (openai/clip-vit-*: CLIPImageProcessor defaults; facebook/dinov2-*:
    BitImageProcessor, shortest edge 256, ImageNet mean/std): same crop, within resampling noise."""
    from transformers import BitImageProcessorPil
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    y, x = np.mgrid[0:260, 0:210]
    image = np.stack([(x * 1.2) % 256, (y * 0.9) % 256, ((x + y) * 0.5) % 256], -1).astype(np.uint8)
    if family == "clip":
        processor = CLIPImageProcessorPil()
    else:
        processor = BitImageProcessorPil(size={"shortest_edge": 256}, image_mean=[0.485, 0.456, 0.406],
                                         image_std=[0.229, 0.224, 0.225])  # fmt: skip
    reference = processor(images=[image], return_tensors="pt")["pixel_values"]
    config = parse_extractor_config({"kind": "image", "model": family, "name_or_path": "unused"})
    ours = preprocess_frames(image[None], config.preprocess)
    assert ours.shape == reference.shape == (1, 3, 224, 224)
    difference = (ours - reference).abs()
    assert difference.max() < 0.05 and difference.mean() < 0.01  # 0.01 ~ 0.7 grey levels


@pytest.mark.parametrize("chunk", [1, 3, 16])
@pytest.mark.parametrize("num_frames", [1, 3, 4, 5, 6, 7, 10, 11, 35])
def test_streamed_clips_are_the_sliding_windows(num_frames, chunk, monkeypatch):
    """The bounded-memory clip stream yields exactly the clips of clip_starts, in order, whatever
    the number of frames preprocessed at a time."""
    from glossfree.features import extractors

    monkeypatch.setattr(extractors, "_CLIP_CHUNK", chunk)
    extractor = build_extractor(parse_extractor_config(TINY_CONFIGS["videomae"]))  # L = 4, stride 2
    frames = np.random.default_rng(num_frames).integers(0, 256, size=(num_frames, 32, 32, 3), dtype=np.uint8)
    video = preprocess_frames(frames, extractor.config.preprocess)
    if num_frames < 4:
        video = torch.cat([video, video[-1:].expand(4 - num_frames, -1, -1, -1)])
    expected = [video[s : s + 4] for s in clip_starts(len(video), 4, 2)]
    clips = list(extractor._clips(iter(list(frames))))
    assert len(clips) == len(expected)
    for clip, reference in zip(clips, expected, strict=True):
        torch.testing.assert_close(clip, reference)


@pytest.mark.parametrize("gap", [4, 8, 12, 16])
@pytest.mark.parametrize("num_frames", [1, 15, 16, 17, 24, 25, 116, 173])
def test_sliding_window_clip_count_for_t_frames(num_frames, gap):
    """SpaMo's motion stream (Sec. 3.3, Fig. 4): 16-frame clips whose starts are n frames apart give
    N = ceil((T - 16) / n) + 1 clips for T > 16 (the tail clip included), one clip otherwise."""
    expected = 1 if num_frames <= 16 else -(-(num_frames - 16) // gap) + 1
    starts = clip_starts(num_frames, 16, gap)
    assert len(starts) == expected
    assert starts[-1] == max(0, num_frames - 16)  # the last clip ends at the last frame


def test_the_neighbouring_gap_is_a_config_setting(frames):
    """The gap n of Fig. 4 is `stride`: it changes the rows written and the signature."""
    rows = {}
    for stride in (1, 2, 3):
        config = parse_extractor_config({**TINY_CONFIGS["videomae"], "stride": stride})
        rows[stride] = (build_extractor(config).extract(frames).shape[0], signature(config))
    assert [r for r, _ in rows.values()] == [len(clip_starts(len(frames), 4, s)) for s in (1, 2, 3)] == [7, 4, 3]
    assert len({s for _, s in rows.values()}) == 3


def _paper_size(name: str, layers: int = 1) -> dict:
    """A shipped paper extractor config with its weights replaced by the published architecture's
    explicit config (random weights, ``layers`` blocks instead of 24: the widths and resolutions are
    the paper's, the depth changes no shape)."""
    from glossfree.features.config import config_dict, load_extractor_config

    data = config_dict(load_extractor_config(name))
    vit_l = {"hidden_size": 1024, "num_hidden_layers": layers, "num_attention_heads": 16, "intermediate_size": 4096}
    if data["model"] == "clip":
        architecture = {**vit_l, "patch_size": 14, "image_size": 224}
    else:
        architecture = {**vit_l, "patch_size": 16, "image_size": 224, "num_frames": 16, "tubelet_size": 2}
    return {**data, "name_or_path": None, "model_config": architecture, "compute_dtype": "float32"}


def test_paper_clip_l14_s2_shapes_and_tiling():
    """spamo/clip_l14_s2 at the paper's sizes: 224 and 448 (four 224 tiles) -> 2 x 1024 per frame."""
    from glossfree.features.config import load_extractor_config

    shipped = load_extractor_config("spamo/clip_l14_s2")
    assert (shipped.s2_scales, shipped.preprocess.crop, shipped.name_or_path) == ([1, 2], 224, "openai/clip-vit-large-patch14")
    extractor = build_extractor(parse_extractor_config(_paper_size("spamo/clip_l14_s2")))
    seen = []
    extractor.model.register_forward_hook(lambda module, args, kwargs, out: seen.append(tuple(kwargs["pixel_values"].shape)),
                                          with_kwargs=True)  # fmt: skip
    frames = np.random.default_rng(0).integers(0, 256, size=(2, 260, 210, 3), dtype=np.uint8)
    out = extractor.extract(frames)
    assert extractor.dim == 2048 and out.shape == (2, 2048)
    assert seen == [(2, 3, 224, 224), (8, 3, 224, 224)]  # the frames at 224, then 4 tiles of 224 each


def test_paper_videomae_l16_shapes():
    """spamo/videomae_l16 at the paper's sizes: 16-frame 224 clips, stride 8 -> 1024 per clip."""
    from glossfree.features.config import load_extractor_config

    shipped = load_extractor_config("spamo/videomae_l16")
    assert (shipped.clip_length, shipped.stride, shipped.preprocess.crop) == (16, 8, 224)
    extractor = build_extractor(parse_extractor_config(_paper_size("spamo/videomae_l16")))
    frames = np.random.default_rng(0).integers(0, 256, size=(27, 120, 100, 3), dtype=np.uint8)
    out = extractor.extract(frames, batch_size=2)
    assert out.shape == (len(clip_starts(27, 16, 8)), 1024) == (3, 1024)  # starts 0, 8, 11


def test_half_precision_compute(frames):
    """compute_dtype runs the frozen model in bfloat16 (float16 needs a GPU); it is part of the signature."""
    base = parse_extractor_config(TINY_CONFIGS["clip"])
    half = parse_extractor_config({**TINY_CONFIGS["clip"], "compute_dtype": "bfloat16"})
    assert signature(base) != signature(half)
    extractor = build_extractor(half)
    assert next(extractor.model.parameters()).dtype == torch.bfloat16
    full, low = build_extractor(base).extract(frames), extractor.extract(frames)
    assert low.dtype == torch.float32 and not torch.equal(full, low)
    torch.testing.assert_close(low, full, rtol=0.05, atol=0.05)
    with pytest.raises(ConfigError, match="float16 needs a GPU"):
        build_extractor(parse_extractor_config({**TINY_CONFIGS["videomae"], "compute_dtype": "float16"}))


def test_builtin_extractor_configs_by_name():
    from glossfree.features.config import load_extractor_config

    for name in ("spamo/clip_tiny", "spamo/videomae_tiny", "spamo/clip_l14_s2", "spamo/videomae_l16"):
        assert load_extractor_config(name).kind in ("image", "video_clips")
    with pytest.raises(ConfigError, match="no such extractor config file; built-in extractor configs: .*spamo/clip_l14_s2"):
        load_extractor_config("spamo/nope")
