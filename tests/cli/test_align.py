"""`glossfree align` end to end on a multitask model trained in seconds (pipeline and files, not quality),
the multitask recipe's checks and the SSA dev scores."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from glossfree.alignment.subtitles import read_subtitles
from glossfree.cli.main import app
from glossfree.data.synth.broadcast import BroadcastConfig, generate_broadcast
from glossfree.errors import ConfigError
from glossfree.training.module import ssa_answer_scores
from glossfree.training.tasks import load_recipe

runner = CliRunner()

FAST_SSA = [
    *(f"stages.{i}.{key}" for i in range(3) for key in ("max_epochs=1", "val_every_n_epochs=1", "batch_size=8")),
    "data.ssa.dev_streams=1",
    "data.max_dev_samples=4",
    "model.lm.generation.num_beams=1",
    "model.lm.generation.max_new_tokens=10",
    "tokenizer.vocab_size=120",
    "evaluation.batch_size=8",
]


@pytest.fixture(scope="module")
def ssa_run(tmp_path_factory):
    from glossfree.training.engine import LaunchConfig, train

    data = tmp_path_factory.mktemp("bc")
    generate_broadcast(data, BroadcastConfig(num_streams=3, sentences_per_stream=4, seed=4))
    run_dir = tmp_path_factory.mktemp("run") / "ssa"
    recipe = load_recipe("pose_perceiver/ssa_tiny", FAST_SSA)
    result = train(recipe, data_root=data, run_dir=run_dir, launch=LaunchConfig(accelerator="cpu", progress=False))
    return data, run_dir, result


def test_multitask_run_logs_ssa_scores(ssa_run):
    _, run_dir, result = ssa_run
    assert [s["stage"] for s in result.stages] == ["slt_frozen", "slt_full", "multitask"]
    header = (run_dir / "logs" / "multitask" / "attempt-0" / "metrics.csv").read_text().splitlines()[0].split(",")
    for name in ("train/ssa_soft_digits", "dev/ssa_iou50", "dev/ssa_exact", "dev/ssa_frame_l1", "dev/bleu4"):
        assert name in header
    first = (run_dir / "logs" / "slt_frozen" / "attempt-0" / "metrics.csv").read_text().splitlines()[0]
    assert "ssa" not in first  # the SLT stages see no SSA sample
    tokenizer = (run_dir / "model" / "tokenizer")
    assert tokenizer.is_dir()


def test_align_writes_subtitles_and_summary(ssa_run, tmp_path):
    data, run_dir, _ = ssa_run
    pose, audio = data / "streams" / "stream-0002.pose", data / "streams" / "stream-0002.audio.vtt"
    out = tmp_path / "aligned.srt"
    result = runner.invoke(app, ["align", str(pose), str(audio), "--model", str(run_dir), "-o", str(out),
                                 "--json", "--no-progress", "--accelerator", "cpu"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    priors = read_subtitles(audio)
    aligned = read_subtitles(out)  # SRT by the extension
    assert out.read_text().startswith("1\n")
    assert [c.text for c in aligned] == [c.text for c in priors]
    assert all(a.end <= b.start + 1e-3 for a, b in zip(aligned, aligned[1:]))  # DTW: ordered, no overlap
    assert summary["subtitles"] == len(priors) and summary["window_s"] == 16.0
    # The constrained beam search writes only sss-eee answers: a fallback can only be a start after
    # the end or past the window, never a malformed answer.
    assert len(summary["fallback_reasons"]) == summary["fallbacks"]
    assert not [r for r in summary["fallback_reasons"] if "digits" in r or "of the form" in r], summary["fallback_reasons"]
    vtt = tmp_path / "free.vtt"
    result = runner.invoke(app, ["align", str(pose), str(audio), "--model", str(run_dir), "-o", str(vtt), "--free",
                                 "--json", "--no-progress", "--accelerator", "cpu"], catch_exceptions=False)  # fmt: skip
    free = json.loads(result.stdout)
    assert result.exit_code == 0 and 0 <= free["fallbacks"] <= len(priors)
    assert len(free["fallback_reasons"]) == free["fallbacks"]
    vtt = tmp_path / "aligned.vtt"
    result = runner.invoke(app, ["align", str(pose), str(audio), "--model", str(run_dir), "-o", str(vtt),
                                 "--no-progress", "--accelerator", "cpu"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0 and vtt.read_text().startswith("WEBVTT")


def test_align_errors_name_the_files(ssa_run, tmp_path, tiny_run):
    data, run_dir, _ = ssa_run
    pose, audio = data / "streams" / "stream-0002.pose", data / "streams" / "stream-0002.audio.vtt"

    def align(*args):
        return runner.invoke(app, ["align", *map(str, args), "--no-progress", "--accelerator", "cpu"], catch_exceptions=False)

    result = align(pose, tmp_path / "missing.vtt", "--model", run_dir, "-o", tmp_path / "a.vtt")
    assert result.exit_code == 2 and "missing.vtt" in result.output
    result = align(tmp_path / "missing.pose", audio, "--model", run_dir, "-o", tmp_path / "a.vtt")
    assert result.exit_code == 2 and "missing.pose" in result.output
    result = align(pose, audio, "--model", run_dir, "-o", tmp_path / "a.txt")
    assert result.exit_code == 2 and "a.txt" in result.output
    result = align(pose, audio, "--model", tiny_run, "-o", tmp_path / "a.vtt")
    assert result.exit_code == 2 and "not trained for alignment" in result.output


def test_answer_format_constraint(ssa_run):
    import re

    import torch

    from glossfree.objectives.ssa_soft_digits import answer_format_constraint
    from glossfree.inference.loading import load_trained

    _, run_dir, _ = ssa_run
    lm = load_trained(run_dir).model.lm
    allowed = answer_format_constraint(lm)
    steps = [allowed(0, torch.zeros(1 + k, dtype=torch.long)) for k in range(9)]
    texts = [[lm.tokenizer.convert_ids_to_tokens(lm.full_id(i)) for i in step] for step in steps]
    assert texts[1] == list("0123456789") and texts[4] == ["-"] and texts[-1] == ["</s>"]
    assert re.fullmatch(r"\d{3}-\d{3}", lm.tokenizer.decode([s[0] for s in steps], skip_special_tokens=True).replace(" ", ""))


def test_ssa_fraction_needs_ssa_data():
    with pytest.raises(ConfigError, match="data.ssa"):
        load_recipe("pose_perceiver/tiny", ["stages.0.ssa_fraction=0.2"])


def test_ssa_answer_scores():
    scores = ssa_answer_scores([("010-020", "010-020"), ("012-022", "010-020"), ("junk", "010-020"), ("030-040", "010-020")])
    assert scores["ssa_exact"] == 0.25 and scores["ssa_parsed"] == 0.75
    assert scores["ssa_iou50"] == 0.5  # 9 of 13 frames overlap for the second answer; none for the last
    assert scores["ssa_frame_l1"] == pytest.approx((0 + 2 + 20) / 3)


def test_answers_count_frames_at_the_answer_rate(ssa_run, tmp_path):
    """The same signing at 50 fps gets the windows, prompts and answers of the 25 fps stream: answers
    count frames at the recipe's data.ssa.answer_fps (25), not at the stream's own rate."""
    import numpy as np
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody

    from glossfree.inference.aligner import align_pose_file
    from glossfree.inference.loading import load_trained

    data, run_dir, _ = ssa_run
    source, audio = data / "streams" / "stream-0002.pose", data / "streams" / "stream-0002.audio.vtt"
    pose = Pose.read(source.read_bytes())
    body = pose.body
    doubled = NumPyPoseBody(fps=2 * body.fps, data=np.repeat(body.data, 2, axis=0),
                            confidence=np.repeat(body.confidence, 2, axis=0))  # fmt: skip
    fast = tmp_path / "stream-50fps.pose"
    with open(fast, "wb") as handle:
        Pose(pose.header, doubled).write(handle)
    trained = load_trained(run_dir, device="cpu")
    assert trained.recipe.data.ssa.answer_fps == 25.0
    priors = read_subtitles(audio)
    at_25 = align_pose_file(trained, source, priors, num_beams=1)
    at_50 = align_pose_file(trained, fast, priors, num_beams=1)
    assert at_50.fps == 50.0 and at_50.num_frames == 2 * at_25.num_frames
    assert at_50.windows == at_25.windows  # 16 s = 400 answer frames, whatever the stream's rate
    assert at_50.answers == at_25.answers
    step = 1 / 25 + 1e-9  # the DTW runs at each stream's own rate: one 25 fps frame apart at most
    for slow_cue, fast_cue in zip(at_25.cues, at_50.cues, strict=True):
        assert abs(slow_cue.start - fast_cue.start) <= step and abs(slow_cue.end - fast_cue.end) <= step


def test_window_must_fit_the_answer_digits():
    with pytest.raises(ConfigError, match="answer_fps 60 has 1200 frames"):
        load_recipe("pose_perceiver/ssa_tiny", ["data.ssa.window_s=20", "data.ssa.answer_fps=60"])


def test_align_out_of_order_and_empty_cues_and_a_bad_output_path(ssa_run, tmp_path):
    """Issue 23, 3, 5, 6: out-of-order cues are sorted and named; an empty cue is named as such; an
    output under a file fails before the model runs."""
    from glossfree.alignment.subtitles import Cue, write_subtitles

    data, run_dir, _ = ssa_run
    pose, audio = data / "streams" / "stream-0002.pose", data / "streams" / "stream-0002.audio.vtt"
    cues = read_subtitles(audio)
    shuffled = [cues[1], cues[0], Cue(cues[2].start, cues[2].end, ""), *cues[3:]]
    subtitles = tmp_path / "shuffled.vtt"
    write_subtitles(subtitles, shuffled)
    out = tmp_path / "aligned.vtt"
    result = runner.invoke(app, ["align", str(pose), str(subtitles), "--model", str(run_dir), "-o", str(out),
                                 "--no-progress", "--accelerator", "cpu"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert f"shuffled.vtt: 1 subtitle cue(s) start before a cue listed above them (cue 2 (line 6, {cues[0].start:.3f}-" in output
    assert "aligned and written in time order" in output
    assert f"cue 3 (line 9, {cues[2].start:.3f}-{cues[2].end:.3f} s) has no text: nothing to look for" in output
    assert "unusable SSA answer ''" not in output
    aligned = read_subtitles(out)
    assert [c.text for c in aligned] == [cues[0].text, cues[1].text, "", *[c.text for c in cues[3:]]]
    assert all(a.end <= b.start + 1e-3 for a, b in zip(aligned, aligned[1:]))

    (tmp_path / "afile").write_text("x")
    result = runner.invoke(app, ["align", str(pose), str(audio), "--model", str(run_dir), "-o", str(tmp_path / "afile" / "x.vtt"),
                                 "--no-progress", "--accelerator", "cpu"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 2
    assert "afile: cannot use as the folder of the -o subtitle file: it is a file, not a folder" in " ".join(result.output.split())


def test_evaluate_on_a_stream_corpus_says_what_to_run_instead(ssa_run):
    """Issue 23, 9: not "8 invalid manifest line(s)" on the data `train` accepted."""
    data, run_dir, _ = ssa_run
    result = runner.invoke(app, ["evaluate", str(run_dir), "--data", str(data), "--split", "dev",
                                 "--accelerator", "cpu"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "manifest.jsonl: a stream corpus (3 long streams with signing and audio subtitles" in output
    assert f"python -m glossfree.inference.aligner MODEL {data}" in output
    assert "invalid manifest line" not in output
