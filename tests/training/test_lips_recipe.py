"""The shipped ``pose_perceiver/lips_tiny`` recipe (paper 004's pose + lip streams) trained end to end
on the synthetic signer's poses and stick-figure videos, then evaluated from the run folder."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from tiny import render_video_corpus
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
    return render_video_corpus(tmp_path_factory.mktemp("lip_corpus"), seed=7, size=128)


@pytest.fixture(scope="module")
def lips_run(lip_corpus, tmp_path_factory) -> Path:
    from glossfree.training.engine import LaunchConfig, train
    from glossfree.training.tasks import load_recipe

    recipe = load_recipe("pose_perceiver/lips_tiny", FAST)
    run_dir = tmp_path_factory.mktemp("lips_run") / "run"
    train(recipe, data_root=lip_corpus, run_dir=run_dir, launch=LaunchConfig(accelerator="cpu", progress=False))
    return run_dir


@pytest.mark.slow
def test_lips_tiny_recipe_trains_and_evaluates(lips_run, lip_corpus, tmp_path):
    from glossfree.inference.loading import load_trained
    from glossfree.models.frontends.lip_backbone import LipBackbone

    trained = load_trained(lips_run)
    lip = trained.model.frontend.branches[1]
    assert isinstance(lip, LipBackbone) and trained.model.required_inputs() == {"keypoints", "lips"}
    result = CliRunner().invoke(app, ["evaluate", str(lips_run), "--data", str(lip_corpus), "--split", "test",
                                      "--json", "--out", str(tmp_path / "eval")], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["num_sentences"] == 2


@pytest.mark.slow
def test_lips_model_translates_the_real_video_and_refuses_a_bare_pose(lips_run, samples_dir, lip_corpus):
    """The real signer video (test-only): MediaPipe poses and lip crops of the same frames."""
    video = samples_dir / "pose-format" / "tests" / "test_video.mp4"
    if not video.is_file():
        pytest.skip(f"{video} is absent")
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe is not installed (pip install 'glossfree[video]')")
    result = CliRunner().invoke(app, ["translate", str(video), "--model", str(lips_run), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert isinstance(record["text"], str) and record["num_frames"] == pytest.approx(1.94 * 12.5, abs=1)
    result = CliRunner().invoke(app, ["translate", str(lip_corpus / "poses" / "test-00000.pose"), "--model", str(lips_run)])
    assert result.exit_code != 0 and "reads lip crops, which are cut from the video" in result.output
