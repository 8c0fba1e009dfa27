"""End to end on inputs beyond poses: a frame_encoder recipe on the synthetic signer's stick-figure
videos and a two-stream features recipe on features `glossfree extract` wrote from them, each
trained through ``engine.train`` (2 epochs), then evaluated and translated from the exported model.
Neither touches a pose file: the datasets load only what the model reads."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest
import torch
from tiny import invoke, render_video_corpus

from glossfree.data import datasets as datasets_module

RECIPES = Path(__file__).parent / "recipes"
VIT = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
       "patch_size": 8, "image_size": 32}  # fmt: skip
EXTRACTORS = {
    "frame": {"kind": "image", "model": "resnet", "pooling": "mean", "preprocess": {"resize": 32, "crop": 32},
              "model_config": {"embedding_size": 8, "hidden_sizes": [8, 16], "depths": [1, 1], "layer_type": "basic"}},
    "motion": {"kind": "video_clips", "model": "videomae", "clip_length": 4, "stride": 2,
               "preprocess": {"resize": 32, "crop": 32}, "model_config": {**VIT, "num_frames": 4, "tubelet_size": 2}},
}  # fmt: skip


@pytest.fixture(scope="module")
def video_corpus(tmp_path_factory) -> Path:
    return render_video_corpus(tmp_path_factory.mktemp("video_corpus"), seed=5)


def _no_pose_reads():
    """Patches that fail the test if a dataset opens a pose file."""
    error = AssertionError("a dataset opened a pose file for a model that reads no keypoints")
    return (mock.patch.object(datasets_module, "read_pose", side_effect=error),
            mock.patch.object(datasets_module, "read_pose_info", side_effect=error))  # fmt: skip


def _train(recipe_name: str, root: Path, run_dir: Path):
    from glossfree.training.engine import LaunchConfig, train
    from glossfree.training.tasks import load_recipe

    recipe = load_recipe(RECIPES / recipe_name)
    first, second = _no_pose_reads()
    with first, second:
        train(recipe, data_root=root, run_dir=run_dir, launch=LaunchConfig(accelerator="cpu", progress=False))
    return recipe


def _evaluate_and_translate(run_dir: Path, root: Path, tmp_path: Path) -> None:
    first, second = _no_pose_reads()
    with first, second:
        result = invoke("evaluate", run_dir, "--data", root, "--split", "test", "--json", "--out", tmp_path / "eval")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["num_sentences"] == 2
    assert len((tmp_path / "eval" / "hypotheses.txt").read_text(encoding="utf-8").splitlines()) == 2
    video = root / "videos" / "test-00000.mp4"
    result = invoke("translate", video, "--model", run_dir, "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert isinstance(record["text"], str) and record["num_frames"] > 0 and record["duration_s"] > 0


def test_frame_encoder_recipe_on_stick_figure_videos(video_corpus, tmp_path):
    from glossfree.inference.loading import load_trained
    from glossfree.models.frontends.frame_encoder import FrameEncoder

    recipe = _train("frames_tiny.yaml", video_corpus, tmp_path / "run")
    trained = load_trained(tmp_path / "run")
    assert trained.model.required_inputs() == {"frames"}
    encoder = trained.model.frontend
    assert isinstance(encoder, FrameEncoder)
    # LoRA: the base stayed as built (seeded), the adapter of block 1 learnt, block 0 has none
    fresh = FrameEncoder(recipe.model.frontend)
    trained_state = encoder.state_dict()
    for name, value in fresh.state_dict().items():
        if "lora_" not in name and not name.startswith("proj"):
            torch.testing.assert_close(trained_state[name], value, rtol=0, atol=0, msg=name)
    lora_b = {name: value for name, value in trained_state.items() if "lora_B" in name}
    assert lora_b and all(".layer.1." in name for name in lora_b)
    assert any(value.abs().sum() > 0 for value in lora_b.values())
    _evaluate_and_translate(tmp_path / "run", video_corpus, tmp_path)


def test_features_recipe_on_extracted_streams(video_corpus, tmp_path):
    import shutil

    from glossfree.features.config import parse_extractor_config
    from glossfree.features.extract import extract_features
    from glossfree.inference.loading import load_trained

    root = tmp_path / "data"
    shutil.copytree(video_corpus, root)
    for name, spec in EXTRACTORS.items():
        extract_features(root, parse_extractor_config(spec), name=name, progress=False)
    (root / "poses").rename(root / "poses_gone")  # a features model needs no pose file at all
    _train("features_tiny.yaml", root, tmp_path / "run")
    trained = load_trained(tmp_path / "run")
    assert trained.model.required_inputs() == {"features:frame", "features:motion"}
    assert set(trained.metadata["feature_extractors"]) == {"frame", "motion"}
    _evaluate_and_translate(tmp_path / "run", root, tmp_path)
