"""The shipped ``pose_perceiver/lips_tiny`` recipe (paper 004's pose + lip streams) trained end to end
on the synthetic signer's poses and stick-figure videos, then evaluated from the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glossfree.cli.main import app

FAST = [
    "stages.0.max_epochs=2",
    "stages.0.batch_size=4",
    "stages.0.val_every_n_epochs=1",
    "model.lm.generation.num_beams=1",
    "model.lm.generation.max_new_tokens=8",
    "tokenizer.vocab_size=100",
    "evaluation.batch_size=4",
]


@pytest.fixture(scope="module")
def lip_corpus(tmp_path_factory) -> Path:
    from glossfree.data.synth import SynthConfig, generate_corpus

    root = tmp_path_factory.mktemp("lip_corpus")
    config = SynthConfig(seed=7, num_train=8, num_dev=2, num_test=2, fps=12.5, width=128, height=128,
                         render_video=True, face_points="contours")  # fmt: skip
    generate_corpus(root, config, progress=False)
    return root


@pytest.mark.slow
def test_lips_tiny_recipe_trains_and_evaluates(lip_corpus, tmp_path):
    from glossfree.checkpoint import load_trained
    from glossfree.models.frontends.lip_backbone import LipBackbone
    from glossfree.training.engine import LaunchConfig, train
    from glossfree.training.recipe import load_recipe

    recipe = load_recipe("pose_perceiver/lips_tiny", FAST)
    run_dir = tmp_path / "run"
    train(recipe, data_root=lip_corpus, run_dir=run_dir, launch=LaunchConfig(accelerator="cpu", progress=False))
    trained = load_trained(run_dir)
    lip = trained.model.frontend.branches[1]
    assert isinstance(lip, LipBackbone) and trained.model.required_inputs() == {"keypoints", "lips"}
    result = CliRunner().invoke(app, ["evaluate", str(run_dir), "--data", str(lip_corpus), "--split", "test",
                                      "--json", "--out", str(tmp_path / "eval")], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["num_sentences"] == 2
