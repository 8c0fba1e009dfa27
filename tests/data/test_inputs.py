"""Inputs beyond poses: only the required inputs are loaded, spans and the centred window, clip-
consistent augmentation, feature streams, segments, prompts and pseudo-gloss targets."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

from data.test_datasets import _dataset_root
from features.helpers import SMALL, write_video
from glossfree.data import datasets as datasets_module
from glossfree.data.datasets import PoseDataset, collate_pose
from glossfree.data.inputs import ClipAugment, affine_clip, centred_window, segment_frames
from glossfree.data.manifest import Record
from glossfree.errors import ConfigError, DataError
from glossfree.features.cache import FeatureCache, write_entry
from glossfree.features.config import PreprocessConfig

PRE = PreprocessConfig(**SMALL)


def _features_root(tmp_path: Path, lengths: dict[str, list[int]]) -> tuple[Path, list[Record]]:
    """Cached streams ``{stream: [T per record]}`` written as `glossfree extract` writes them."""
    records = [Record(id=f"r{i}", split="train", text=f"t {i}", language="de", pose=f"poses/r{i}.pose",
                      video=f"videos/r{i}.mp4") for i in range(len(next(iter(lengths.values()))))]  # fmt: skip
    for stream, counts in lengths.items():
        folder = tmp_path / "features" / stream
        folder.mkdir(parents=True)
        (folder / "extractor.json").write_text(json.dumps({"signature": "sig-" + stream, "config": {}, "dim": 3}))
        for record, count in zip(records, counts):
            feats = torch.arange(count * 3, dtype=torch.float32).view(count, 3)
            write_entry(FeatureCache(tmp_path, stream).path(record.id), feats,
                        {"signature": "sig-" + stream, "config": {}, "fps": 10.0, "num_frames": count})  # fmt: skip
    return tmp_path, records


def test_features_only_dataset_never_opens_a_pose_file_or_video(tmp_path):
    root, records = _features_root(tmp_path, {"clip_s2": [4, 6], "videomae": [2, 3]})
    with (mock.patch.object(datasets_module, "read_pose", side_effect=AssertionError("pose opened")),
          mock.patch.object(datasets_module, "read_pose_info", side_effect=AssertionError("pose opened")),
          mock.patch.object(datasets_module, "load_clip", side_effect=AssertionError("video opened"))):  # fmt: skip
        dataset = PoseDataset(records, root, inputs={"features:clip_s2", "features:videomae"})
        assert dataset.lengths == [4, 6]  # the first stream (sorted) is the primary time axis
        batch = collate_pose([dataset[0], dataset[1]])
    assert batch.keypoints is None and batch.frames is None
    assert batch.features["clip_s2"].shape == (2, 6, 3) and batch.features["videomae"].shape == (2, 3, 3)
    assert batch.masks["features:videomae"].tolist() == [[True, True, False], [True, True, True]]
    assert batch.features["clip_s2"][0, 4:].abs().sum() == 0
    torch.testing.assert_close(batch.frame_mask, batch.masks["features:clip_s2"])


def test_pose_only_dataset_never_reads_features_or_videos(tmp_path):
    root, records = _dataset_root(tmp_path, [5, 3])
    with mock.patch.object(datasets_module, "load_clip", side_effect=AssertionError("video opened")):
        item = PoseDataset(records, root)[0]
    assert set(item) == {"id", "keypoints", "keypoint_mask", "text", "language"}


def test_missing_input_path_is_named(tmp_path):
    root, records = _dataset_root(tmp_path, [5])
    with pytest.raises(DataError, match="record 's0' has no 'video' path"):
        PoseDataset(records, root, inputs={"frames"}, frames=PRE)
    with pytest.raises(ConfigError, match="needs the frame preprocessing"):
        PoseDataset(records, root, inputs={"frames"})
    with pytest.raises(ConfigError, match="unknown input 'posess'"):
        PoseDataset(records, root, inputs={"posess"})


def test_centred_window_hand_computed(tmp_path):
    # paper 004: a 20 s window centred on the subtitle [30, 34) s -> [22, 42) s
    assert centred_window(30.0, 34.0, 20.0) == (22.0, 42.0)
    assert centred_window(2.0, 4.0, 20.0) == (0.0, 20.0)  # would start before 0: moved right
    assert centred_window(2.0, 4.0, None) == (2.0, 4.0)
    assert centred_window(None, None, 20.0) == (None, None)
    root, _ = _dataset_root(tmp_path, [100], fps=10.0)
    record = Record(id="c", split="train", text="", language="de", pose="poses/s0.pose", start=4.0, end=5.0)
    whole = PoseDataset([record], root, normalize=False, use_span=False)[0]["keypoints"]
    span = PoseDataset([record], root, normalize=False, use_span=True)
    assert span.lengths == [10]
    torch.testing.assert_close(span[0]["keypoints"], whole[40:50])
    window = PoseDataset([record], root, normalize=False, use_span=True, window_s=2.0)
    # centre 4.5 s, window [3.5, 5.5) s at 10 fps -> frames [35, 55)
    assert window.lengths == [20]
    torch.testing.assert_close(window[0]["keypoints"], whole[35:55])


def test_clip_augmentation_is_clip_consistent_and_changes_per_epoch():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, size=(24, 32, 3), dtype=np.uint8)
    clip = np.stack([frame] * 5)  # five identical frames: a clip-consistent transform keeps them identical
    augment = ClipAugment(crop_scale=(0.5, 0.9), brightness=0.3, contrast=0.3)
    out = augment(clip, np.random.default_rng((0, 0, 7, 1)))
    assert out.shape[0] == 5 and out.shape[1] < 24
    for t in range(1, 5):
        np.testing.assert_array_equal(out[t], out[0])
    other = augment(clip, np.random.default_rng((0, 1, 7, 1)))  # next epoch
    assert other.shape != out.shape or not np.array_equal(other, out)
    # the crop box is the same for every frame of a clip of *different* frames
    moving = rng.integers(0, 255, size=(4, 24, 32, 3), dtype=np.uint8)
    box, _, _ = augment.draw(24, 32, np.random.default_rng(3))
    top, left, h, w = box
    cropped = ClipAugment(crop_scale=(0.5, 0.9), brightness=0.0, contrast=0.0)(moving, np.random.default_rng(3))
    np.testing.assert_array_equal(cropped, moving[:, top : top + h, left : left + w])


def test_affine_warp_by_hand():
    image = np.arange(36, dtype=np.float32).reshape(1, 6, 6, 1)
    # 90 degrees counter-clockwise on screen is numpy's rot90 (k=1) of the rows and columns
    np.testing.assert_allclose(affine_clip(image, 90, 1, 0, 0), np.rot90(image, k=1, axes=(1, 2)), atol=1e-3)
    wide = np.arange(24, dtype=np.float32).reshape(1, 4, 6, 1)  # not square: 180 degrees is still a flip of both axes
    np.testing.assert_allclose(affine_clip(wide, 180, 1, 0, 0), wide[:, ::-1, ::-1], atol=1e-3)
    # a shift of a third of the width moves every row two pixels right; the uncovered columns are black
    shifted = affine_clip(image, 0, 1, 2 / 6, 0)
    np.testing.assert_allclose(shifted[0, :, 2:, 0], image[0, :, :4, 0], atol=1e-3)
    assert np.abs(shifted[0, :, :2]).max() < 1e-3
    # scale 2 about the centre (3, 3): output pixel (0, 0), centred at (0.5, 0.5), reads input point
    # (3 - 2.5 / 2, 3 - 2.5 / 2) = (1.75, 1.75), i.e. row = col = 1.25 in index units; the image is
    # 6 * row + col, which bilinear sampling reproduces: 8.75
    zoomed = affine_clip(image, 0, 2, 0, 0)[0, :, :, 0]
    assert zoomed[0, 0] == pytest.approx(6 * 1.25 + 1.25, abs=1e-4)


def test_affine_part_is_one_draw_per_clip_with_probability_p():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, size=(24, 32, 3), dtype=np.uint8)
    clip = np.stack([frame] * 4)
    augment = ClipAugment(crop_scale=(1, 1), brightness=0, contrast=0, rotation_deg=15, scale=(0.8, 1.2), translate=0.1, p=0.5)
    outs = [augment(clip, np.random.default_rng(seed)) for seed in range(40)]
    for out in outs:
        assert out.shape == clip.shape
        for t in range(1, 4):
            np.testing.assert_array_equal(out[t], out[0])  # the same warp on every frame
    unchanged = sum(np.array_equal(out, clip) for out in outs)
    assert 10 <= unchanged <= 30  # about half the clips keep their frames (p = 0.5)
    # clip_tensor warps the resized, normalised frames with the clip's draw
    from glossfree.data.inputs import clip_tensor, warp_frames

    quarter = ClipAugment(crop_scale=(1, 1), brightness=0, contrast=0, rotation_deg=90, p=1.0)
    square = rng.integers(0, 255, size=(2, 40, 40, 3), dtype=np.uint8)
    draws = np.random.default_rng(5)
    quarter.draw(40, 40, draws)  # the crop and colour draws come first
    angle, scale, dx, dy = quarter.draw_affine(draws)
    expected = warp_frames(clip_tensor(square, PRE), angle, scale, dx, dy)
    torch.testing.assert_close(clip_tensor(square, PRE, augment=quarter, rng=np.random.default_rng(5)), expected)
    never = ClipAugment(crop_scale=(1, 1), brightness=0, contrast=0, rotation_deg=15, p=0.0)
    np.testing.assert_array_equal(never(clip, np.random.default_rng(1)), clip)
    # off, the affine part draws nothing: crops and colours are those of a recipe without it
    plain = ClipAugment(crop_scale=(0.5, 0.9))
    assert plain.draw_affine(np.random.default_rng(2)) is None
    with pytest.raises(ConfigError, match="rotation_deg"):
        ClipAugment(rotation_deg=-1)
    with pytest.raises(ConfigError, match="scale"):
        ClipAugment(scale=(1.2, 0.8))


def test_frames_input_from_video_with_span_and_epoch_augmentation(tmp_path):
    write_video(tmp_path / "videos" / "v.mp4", num_frames=20, fps=10)
    record = Record(id="v", split="train", text="x", language="en", video="videos/v.mp4", start=0.5, end=1.5)
    plain = PoseDataset([record], tmp_path, inputs={"frames"}, frames=PRE, use_span=True)
    assert plain.lengths == [10]
    item = plain[0]
    assert set(item) == {"id", "text", "language", "frames"} and item["frames"].shape == (10, 3, 32, 32)
    whole = PoseDataset([record], tmp_path, inputs={"frames"}, frames=PRE, use_span=False)[0]["frames"]
    torch.testing.assert_close(item["frames"], whole[5:15])
    augmented = PoseDataset([record], tmp_path, inputs={"frames"}, frames=PRE, use_span=True, clip_augment=ClipAugment())
    first, again, later = augmented[(0, 0)]["frames"], augmented[(0, 0)]["frames"], augmented[(0, 1)]["frames"]
    torch.testing.assert_close(first, again)  # seeded per (seed, epoch, index)
    assert not torch.allclose(first, later)
    # cache: the clip is decoded once; augmentation still changes per epoch and never alters the cache
    cached = PoseDataset([record], tmp_path, inputs={"frames"}, frames=PRE, use_span=True, cache=True,
                         clip_augment=ClipAugment())  # fmt: skip
    with mock.patch.object(datasets_module, "load_clip", wraps=datasets_module.load_clip) as loads:
        epochs = [cached[(0, epoch)]["frames"] for epoch in (0, 1, 0)]
    assert loads.call_count == 1
    torch.testing.assert_close(epochs[0], first)
    torch.testing.assert_close(epochs[2], first)
    torch.testing.assert_close(epochs[1], later)
    batch = collate_pose([plain[0], PoseDataset([record], tmp_path, inputs={"frames"}, frames=PRE)[0]])
    assert batch.frames.shape == (2, 20, 3, 32, 32) and batch.lengths.tolist() == [10, 20]


def test_segments_prompts_and_pseudo_gloss_targets(tmp_path):
    from glossfree.text.pseudo_gloss import GLOSSES_FILE, PseudoGlossVocab

    root, _ = _dataset_root(tmp_path, [40], fps=10.0)
    (root / "segments.jsonl").write_text(json.dumps(
        {"id": "s0", "fps": 10.0, "num_frames": 40, "signs": [{"gloss": "A", "start": 2, "end": 9},
                                                               {"gloss": "B", "start": 12, "end": 20},
                                                               {"gloss": "C", "start": 35, "end": 39}]}) + "\n")  # fmt: skip
    vocab = PseudoGlossVocab(tokens=("<blank>", "haus", "regen"), language="de", doc_freq={"haus": 1, "regen": 1}, num_sentences=1)
    vocab.save(root / "pseudo_gloss_vocab.json")
    (root / GLOSSES_FILE).write_text(json.dumps({"format": "glossfree.pseudo_glosses/1", "samples": {"s0": ["regen"]}}))
    record = Record(id="s0", split="train", text="es regnet", language="de", pose="poses/s0.pose",
                    start=1.0, end=3.0, extra={"prompt": "Translate:"})  # fmt: skip
    dataset = PoseDataset([record], root, use_span=True, inputs={"keypoints", "segments", "prompts", "targets:pseudo_gloss"})
    item = dataset[0]
    # frames at 10 fps; sample = [1.0, 3.0) s = 20 frames: A ends before it (dropped), B [1.2, 2.0) s -> [2, 10), C after it
    assert item["segments"].tolist() == [[2, 10]]
    assert item["prompt"] == "Translate:"
    assert item["targets"]["pseudo_gloss"].tolist() == [0.0, 0.0, 1.0]
    batch = collate_pose([item, item])
    assert batch.segments.shape == (2, 1, 2) and batch.segment_mask.all()
    assert batch.prompts == ["Translate:", "Translate:"] and batch.targets["pseudo_gloss"].shape == (2, 3)
    np.testing.assert_array_equal(segment_frames(np.array([[0.25, 0.9]]), offset=0.0, fps=10.0, num_frames=40), [[2, 9]])
    moved = batch.to("cpu")
    assert moved.targets["pseudo_gloss"].shape == (2, 3) and moved.masks.keys() == batch.masks.keys()


def test_recipe_dataset_reads_spans_and_windows_by_default(tmp_path):
    from glossfree.config import validate
    from glossfree.models.slt import SLTModelConfig
    from glossfree.training.datamodule import build_dataset
    from glossfree.training.recipe import DataConfig

    root, _ = _dataset_root(tmp_path, [100], fps=10.0)
    # one pose file per episode, one record per subtitle (BOBSL, YouTube-SL-25 after `prepare`)
    record = Record(id="c", split="train", text="", language="de", pose="poses/s0.pose", start=4.0, end=5.0)
    model = validate(SLTModelConfig, {"frontend": {"kind": "keypoint_mlp"}}, source="t")
    assert build_dataset(DataConfig(), model, [record], root, train=False).lengths == [10]
    assert build_dataset(DataConfig(window_s=2.0), model, [record], root, train=False).lengths == [20]
    assert build_dataset(DataConfig(spans=False), model, [record], root, train=False).lengths == [100]
    features_model = validate(SLTModelConfig, {"frontend": {"kind": "features", "stream": "s", "input_dim": 3}}, source="t")
    with pytest.raises(DataError, match="'s' a feature stream extracted"):
        build_dataset(DataConfig(), features_model, [record], root, train=False)
