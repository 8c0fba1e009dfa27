"""The real signer video (pose-format's test clip, MIT, test-only) through `poses` and `translate`.

The tiny model is trained on synthetic signing, so the sentence is not expected to be right: this
checks that a real phone video goes through decoding, MediaPipe, layout conversion, normalisation
and the model without error. Skipped only if the video file (or the `video` extra) is absent.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from glossfree.cli.main import app
from glossfree.data.pose_io import read_pose

runner = CliRunner()


@pytest.fixture(scope="module")
def real_video(samples_dir):
    path = samples_dir / "pose-format" / "tests" / "test_video.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe is not installed (pip install 'glossfree[video]')")
    return path


@pytest.mark.slow
def test_real_video_through_poses_and_translate(real_video, tiny_run, tmp_path):
    result = runner.invoke(app, ["poses", str(real_video), "--out", str(tmp_path / "poses"), "--no-progress"])
    assert result.exit_code == 0, result.output
    pose_path = tmp_path / "poses" / "test_video.pose"
    pose = read_pose(pose_path)
    assert pose.body.data.shape[0] > 50
    assert {c.name for c in pose.header.components} >= {"POSE_LANDMARKS", "FACE_LANDMARKS", "RIGHT_HAND_LANDMARKS"}

    result = runner.invoke(app, ["translate", str(real_video), str(pose_path), "--model", str(tiny_run), "--json"])
    assert result.exit_code == 0, result.output
    from_video, from_pose = (json.loads(line) for line in result.stdout.strip().splitlines())
    assert set(from_video["timings_s"]) == {"decode", "poses", "model"}
    assert isinstance(from_video["text"], str)  # a model trained 2 epochs on synthetic data may say nothing
    assert from_video["duration_s"] == pytest.approx(1.94, abs=0.1)
    assert from_video["num_frames"] == pytest.approx(1.94 * 12.5, abs=1)  # decoded at the model's 12.5 fps
    # The .pose extracted at the video's own 29.9 fps is resampled to 12.5 fps by the model: both
    # paths give the model 12.5 fps landmarks of the same video.
    assert from_pose["num_frames"] == 58 and isinstance(from_pose["text"], str)
