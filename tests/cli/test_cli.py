"""Every CLI command on tiny data, and its error paths (exit code 2 and a message naming the problem)."""

from __future__ import annotations

import json

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
