"""Every CLI command on tiny data, and its error paths (exit code 2 and a message naming the problem)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from glossfree.cli.main import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_help_lists_every_command():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("demo", "synth", "prepare", "poses", "train", "evaluate", "translate", "pseudo-glosses"):
        assert command in result.output


def test_evaluate_two_text_files(tmp_path):
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("der mann sucht die milch\nes regnet\n", encoding="utf-8")
    ref.write_text("der mann sucht die milch\nes regnet morgen\n", encoding="utf-8")
    result = invoke("evaluate", "--hyp", hyp, "--ref", ref, "--json", "--out", tmp_path / "report")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert 0 < scores["bleu4"] < 100 and scores["preset"] == "signjoey"
    assert (tmp_path / "report" / "scores.json").is_file()


def test_evaluate_errors(tmp_path):
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("a\nb\n")
    ref.write_text("a\n")
    result = invoke("evaluate", "--hyp", hyp, "--ref", ref)
    assert result.exit_code == 2
    assert "hyp.txt" in result.output and "ref.txt" in result.output
    result = invoke("evaluate", tmp_path)
    assert result.exit_code == 2 and "not a trained glossfree model" in result.output


def test_train_errors(tmp_path, tiny_corpus):
    result = invoke("train", "pose_perceiver/tiny", "--data", tiny_corpus, "--out", tmp_path / "r", "--set", "stages.0.max_epoch=1")
    assert result.exit_code == 2
    assert "unknown key 'stages.0.max_epoch'" in result.output and "max_epochs" in result.output
    result = invoke("train", "pose_perceiver/tiny", "--data", tiny_corpus, "--out", tmp_path / "r", "--set", "stages.0.max_epochs=abc")
    assert result.exit_code == 2
    assert "--set stages.0.max_epochs=abc: stages.0.max_epochs: Input should be a valid integer" in result.output
    assert "tiny.yaml" not in result.output  # the recipe file is not at fault
    result = invoke("train", "nope/recipe", "--data", tiny_corpus, "--out", tmp_path / "r")
    assert result.exit_code == 2 and "built-in recipes" in result.output
    result = invoke("train", "pose_perceiver/tiny", "--data", tmp_path / "empty", "--out", tmp_path / "r")
    assert result.exit_code == 2 and "empty" in result.output


def test_evaluate_and_translate_a_trained_run(tiny_run, tiny_corpus, tmp_path):
    result = invoke("evaluate", tiny_run, "--split", "test", "--json", "--out", tmp_path / "eval")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["num_sentences"] == 4
    lines = (tmp_path / "eval" / "hypotheses.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4

    pose = tiny_corpus / "poses" / "test-00000.pose"
    result = invoke("translate", pose, "--model", tiny_run, "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert isinstance(record["text"], str) and record["num_frames"] > 0
    assert set(record["timings_s"]) == {"decode", "model"} and record["real_time_factor"] > 0

    result = invoke("translate", pose, "--model", tiny_run)
    assert result.exit_code == 0 and result.stdout.strip() == record["text"]


def test_translate_errors(tiny_run, tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    result = invoke("translate", text_file, "--model", tiny_run)
    assert result.exit_code == 2 and "notes.txt" in result.output and ".pose" in result.output
    result = invoke("translate", tmp_path / "missing.pose", "--model", tiny_run)
    assert result.exit_code == 2 and "missing.pose" in result.output
    empty = tmp_path / "empty.pose"
    empty.write_bytes(b"")
    result = invoke("translate", empty, "--model", tiny_run)
    assert result.exit_code == 2 and "empty.pose" in result.output


# ------------------------------------------------------------------ bad input (issue 14)
def _model_copy(tiny_run, tmp_path):
    import shutil

    return Path(shutil.copytree(tiny_run / "model", tmp_path / "model"))


def _pose_variant(source, target, *, frames=None, fps=None):
    """A copy of a .pose file with its first ``frames`` frames and/or another header fps."""
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody

    from glossfree.data.pose_io import read_pose, write_pose

    pose = read_pose(source)
    frames = frames or len(pose.body.data)
    body = NumPyPoseBody(
        fps=pose.body.fps if fps is None else fps,
        data=pose.body.data[:frames],
        confidence=pose.body.confidence[:frames],
    )
    write_pose(target, Pose(pose.header, body))
    return target


@pytest.mark.parametrize("size", [0, 1000])
def test_truncated_model_weights_name_the_file(tiny_run, tmp_path, size):
    model = _model_copy(tiny_run, tmp_path)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:size])
    result = invoke("translate", tmp_path / "any.pose", "--model", model)
    assert result.exit_code == 2
    assert f"model.safetensors: cannot load the model weights ({size} bytes;" in result.output
    assert "truncated, corrupt or from another model" in result.output


def test_model_folder_without_tokenizer(tiny_run, tmp_path):
    import shutil

    model = _model_copy(tiny_run, tmp_path)
    shutil.rmtree(model / "tokenizer")
    result = invoke("evaluate", model)
    assert result.exit_code == 2
    assert "model/tokenizer: the model folder has no tokenizer" in result.output
    assert "hf download" not in result.output


@pytest.mark.parametrize("beams", ["0", "-3"])
def test_num_beams_below_one_is_refused_before_loading(tmp_path, beams):
    # the model folder does not even exist: the flag is checked first
    for command in ("translate", "evaluate"):
        args = [command, tmp_path / "x.pose", "--model", tmp_path / "nope"] if command == "translate" else [command, tmp_path / "nope"]
        result = invoke(*args, f"--num-beams={beams}")
        assert result.exit_code == 2
        assert "Invalid value for '--num-beams'" in result.output and "greater than or equal to 1" in result.output


def test_translate_library_checks_num_beams(tiny_run):
    from glossfree.errors import ConfigError
    from glossfree.inference.translator import Translator

    with pytest.raises(ConfigError, match="num_beams must be at least 1, got 0"):
        Translator.from_path(tiny_run / "does-not-matter", num_beams=0)


def test_translate_warns_about_short_and_incomplete_inputs(tiny_run, tiny_corpus, samples_dir, tmp_path):
    one = _pose_variant(tiny_corpus / "poses" / "test-00000.pose", tmp_path / "one.pose", frames=1)
    result = invoke("translate", one, "--model", tiny_run)
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr
    assert "one.pose: only 1 frame(s) at the model's 12.5 fps, fewer than the 8 frames the model reads" in result.stderr

    reduced = samples_dir / "pose-format" / "tests" / "mediapipe.pose"  # pose-format's reduced holistic
    result = invoke("translate", reduced, "--model", tiny_run, "--json")
    assert result.exit_code == 0, result.output
    (warning,) = json.loads(result.stdout)["warnings"]
    assert "mediapipe.pose: 25 of the 203 points the model expects ('pose203') are missing" in warning
    assert "(POSE_LANDMARKS 25 of 33) and 21 more are never detected (LEFT_HAND_LANDMARKS 21)" in warning
    assert warning.endswith("46 of 203 points are masked in every frame")


def test_translate_pose_with_zero_fps_header(tiny_run, tiny_corpus, tmp_path):
    zero = _pose_variant(tiny_corpus / "poses" / "test-00000.pose", tmp_path / "zero.pose", fps=0)
    result = invoke("translate", zero, "--model", tiny_run)
    assert result.exit_code == 2
    assert "zero.pose: the pose header gives a frame rate of 0 fps, so it cannot be resampled" in result.output


def test_translate_tries_every_input_and_fails_at_the_end(tiny_run, tiny_corpus, tmp_path):
    good = tiny_corpus / "poses" / "test-00000.pose"
    bad = tmp_path / "bad.pose"
    bad.write_bytes(b"not a pose")
    third = tiny_corpus / "poses" / "test-00001.pose"
    result = invoke("translate", good, bad, third, "--model", tiny_run, "--json")
    assert result.exit_code == 2
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["input"] for line in lines] == [str(good), str(bad), str(third)]
    assert "text" in lines[0] and "text" in lines[2]
    assert lines[1]["error"].startswith(f"{bad}: not a readable .pose file")
    assert "1 of 3 inputs could not be translated" in result.stderr


def test_translate_truncated_video(tiny_run, samples_dir, tmp_path):
    pytest.importorskip("mediapipe")
    video = samples_dir / "pose-format" / "tests" / "test_video.mp4"
    truncated = tmp_path / "trunc.mp4"  # `head -c 170000 test_video.mp4`
    truncated.write_bytes(video.read_bytes()[:170_000])
    result = invoke("translate", truncated, "--model", tiny_run)
    assert result.exit_code == 2 and result.stdout == ""
    assert "trunc.mp4: the video is truncated or corrupt: decoding stopped at 0.74 s of the 1.94 s" in result.stderr


def test_evaluate_out_under_a_file(tiny_run, tmp_path):
    blocker = tmp_path / "report.txt"
    blocker.write_text("x")
    result = invoke("evaluate", tiny_run, "--out", blocker / "eval")
    assert result.exit_code == 2
    assert "eval: cannot create the --out folder: " in result.output and "report.txt is a file" in result.output


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--accelerator", "tpu9"], "--accelerator tpu9: unknown accelerator"),
        (["--devices", "abc"], "--devices abc: expected a number of devices per node"),
        (["--strategy", "bogus"], "--strategy bogus: unknown strategy"),
        (["--num-nodes", "0"], "--num-nodes 0: must be at least 1"),
    ],
)
def test_train_checks_launch_options_first(tiny_corpus, tmp_path, flags, message):
    result = invoke("train", "pose_perceiver/tiny", "--data", tiny_corpus, "--out", tmp_path / "r", *flags)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "r").exists()


def test_train_resume_with_nothing_to_resume(tiny_corpus, tmp_path):
    result = invoke("train", "pose_perceiver/tiny", "--data", tiny_corpus, "--out", tmp_path / "typo", "--resume")
    assert result.exit_code == 2
    assert "typo: nothing to resume: the folder does not exist; check --out, or drop --resume" in result.output


@pytest.mark.parametrize(
    "args",
    [["synth", "{out}"], ["prepare", "youtube_sl_25", "{root}", "--out", "{out}"], ["demo", "--out", "{out}"]],
    ids=["synth", "prepare", "demo"],
)
def test_output_folder_under_a_file(tmp_path, args):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "out"
    result = invoke(*[a.format(out=out, root=tmp_path) for a in args])
    assert result.exit_code == 2
    assert f"{out}: cannot create the" in result.output and "file is a file, not a folder" in result.output


def test_threads_option_sets_torch_threads_and_is_checked(tmp_path):
    import torch

    hyp = tmp_path / "hyp.txt"
    hyp.write_text("es regnet\n", encoding="utf-8")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        result = invoke("evaluate", "--hyp", hyp, "--ref", hyp, "--threads", 1)
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 1
        result = invoke("evaluate", "--hyp", hyp, "--ref", hyp, "--threads", 0)
        assert result.exit_code == 2 and "--threads" in result.output
        result = invoke("train", "--help")
        assert "--threads" in result.output
    finally:
        torch.set_num_threads(before)


def test_set_threads_rejects_non_positive():
    from glossfree.errors import ConfigError
    from glossfree.threads import set_threads

    with pytest.raises(ConfigError, match="--threads"):
        set_threads(0)
