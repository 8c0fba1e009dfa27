"""Issue 25, item 1: segmenters behind one interface, ``glossfree segment``, boundary F1."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from glossfree.cli.main import app
from glossfree.data.inputs import read_segments
from glossfree.data.manifest import read_manifest
from glossfree.errors import DataError
from glossfree.segmentation.base import Clip, check_spans
from glossfree.segmentation.fixed import FixedStrideConfig, FixedStrideSegmenter
from glossfree.segmentation.from_file import FileSpansConfig, FileSpansSegmenter
from glossfree.segmentation.metrics import boundary_f1, match_boundaries
from glossfree.segmentation.motion import (
    PoseMotionConfig,
    PoseMotionSegmenter,
    split_stretch,
)
from glossfree.segmentation.run import segment_dataset

runner = CliRunner()
# Measured on synthetic corpora (seeds 0 and 1, 25 and 30 fps, 40 and 120 clips): 0.94-0.96.
MIN_MOTION_F1 = 0.85


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("seg") / "corpus"
    result = runner.invoke(app, ["synth", str(out), "--num-train", "20", "--num-dev", "2", "--num-test", "2",
                                 "--face-points", "contours", "--seed", "3", "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def _assert_in_order(spans: np.ndarray, num_frames: int) -> None:
    assert spans.dtype == np.int64 and spans.shape[1] == 2
    assert (spans[:, 0] < spans[:, 1]).all() and spans.min() >= 0 and spans.max() <= num_frames
    assert (spans[1:, 0] >= spans[:-1, 1]).all()  # in order, no overlap


def test_pose_motion_recovers_the_synthetic_boundaries(corpus, tmp_path):
    summary = segment_dataset(corpus, PoseMotionSegmenter(PoseMotionConfig()), name="pose_motion",
                              out=tmp_path / "motion.jsonl", truth=corpus / "segments.jsonl", progress=False)  # fmt: skip
    assert summary.clips == 24 and summary.score is not None
    assert summary.score.f1 >= MIN_MOTION_F1, summary.score
    # the fixed-stride baseline, scored alike, is far below: the score measures boundaries, not counts
    baseline = segment_dataset(corpus, FixedStrideSegmenter(FixedStrideConfig(length=4)), name="fixed_stride",
                               out=tmp_path / "x4.jsonl", truth=corpus / "segments.jsonl", progress=False)  # fmt: skip
    assert baseline.score.f1 < 0.7 < summary.score.f1
    assert summary.tokens_per_frame < 0.1 < baseline.tokens_per_frame


def test_written_spans_read_back_unchanged_and_in_order(corpus, tmp_path):
    out = tmp_path / "motion.jsonl"
    segment_dataset(corpus, PoseMotionSegmenter(PoseMotionConfig()), name="pose_motion", out=out, progress=False)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == [r.id for r in read_manifest(corpus / "manifest.jsonl")]
    seconds = read_segments(out)
    for line in lines:
        spans = np.array([[s["start"], s["end"]] for s in line["signs"]])
        _assert_in_order(spans, line["num_frames"])
        np.testing.assert_allclose(seconds[line["id"]] * line["fps"], spans)


def test_fixed_stride_covers_the_clip_in_order_without_overlap():
    spans = FixedStrideSegmenter(FixedStrideConfig(length=4)).segment(Clip("a", 10, 25.0))
    assert spans.tolist() == [[0, 4], [4, 8], [8, 10]]
    _assert_in_order(spans, 10)


def test_split_stretch_cuts_halfway_up_each_transition():
    # two slow signs (frames 2-7 and 13-18) around a fast transition peaking at frame 10
    speed = np.array([5, 3, 1, .5, .2, .1, .2, .5, 1, 3, 5, 3, 1, .5, .2, .1, .2, .5, 1, 3, 5], dtype=float)
    spans = split_stretch(speed, 0, len(speed), PoseMotionConfig(min_segment_s=0.12), 25.0)
    # valley 5: cut where speed < 0.1 + 0.5 * (5 - 0.1) = 2.55, from frame 2 to frame 8 inclusive
    assert spans == [(2, 9), (12, 19)]


def test_split_stretch_drops_weak_peaks_and_splits_long_segments():
    wobble = np.array([1.0, 0.8, 1.0, 0.9, 1.0, 0.8, 1.0] * 6)  # 42 frames, peaks 0.2 above the valleys
    config = PoseMotionConfig(min_segment_s=0.2, max_segment_s=0.8, min_prominence=0.5)
    spans = split_stretch(wobble, 0, len(wobble), config, 25.0)  # one segment of 42 > 20 frames: split
    assert spans[0][0] == 0 and spans[-1][1] == 42 and all(5 <= b - a <= 20 for a, b in spans)
    assert all(a == b_prev for (_, b_prev), (a, _) in itertools.pairwise(spans))


def test_boundary_f1_by_hand():
    # true boundaries 10, 20, 25, 40; predicted 11, 22, 23, 33: 11-10 and 22-20 or 23-25 (one each)
    assert match_boundaries(np.array([11, 22, 23, 33]), np.array([10, 20, 25, 40]), 2) == 3
    score = boundary_f1([(np.array([[11, 22], [23, 33]]), np.array([[10, 20], [25, 40]]))], tolerance=2)
    assert (score.hits, score.predicted, score.true) == (3, 4, 4) and score.f1 == pytest.approx(0.75)


def test_spans_from_json_tsv_and_jsonl_files(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"a": [[0, 5], [7, 12]]}))
    (tmp_path / "s.tsv").write_text("id\tstart\tend\na\t0.0\t0.2\na\t0.28\t0.48\n")
    (tmp_path / "s.jsonl").write_text(json.dumps({"id": "a", "fps": 25, "signs": [{"start": 0, "end": 5}, {"start": 7, "end": 12}]}) + "\n")
    clip = Clip("a", 20, 25.0)
    for config in (FileSpansConfig(path=tmp_path / "s.json"), FileSpansConfig(path=tmp_path / "s.tsv", unit="seconds"),
                   FileSpansConfig(path=tmp_path / "s.jsonl")):  # fmt: skip
        assert FileSpansSegmenter(config).segment(clip).tolist() == [[0, 5], [7, 12]], config
    # a clip cut from frame 6 of its file keeps what lies inside it, in its own frames
    shifted = Clip("a", 10, 25.0, first_frame=6)
    assert FileSpansSegmenter(FileSpansConfig(path=tmp_path / "s.json")).segment(shifted).tolist() == [[1, 6]]
    with pytest.raises(DataError, match="no spans for record 'b'"):
        FileSpansSegmenter(FileSpansConfig(path=tmp_path / "s.json")).segment(Clip("b", 20, 25.0))
    (tmp_path / "bad.json").write_text(json.dumps({"a": [[0, 5], [3, 9]]}))
    with pytest.raises(DataError, match="starts before span 0 ends"):
        FileSpansSegmenter(FileSpansConfig(path=tmp_path / "bad.json")).segment(clip)


def test_check_spans_names_the_span_at_fault():
    with pytest.raises(ValueError, match="span 1 \\[3, 3\\) is empty"):
        check_spans(np.array([[0, 2], [3, 3]]), 10, source="x")


def test_segment_command(corpus, tmp_path):
    out = tmp_path / "m.jsonl"
    result = runner.invoke(app, ["segment", str(corpus), "--out", str(out), "--truth", str(corpus / "segments.jsonl"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "boundary F1 (±2)" in result.output and out.is_file()
    # the default output is the dataset's segments.jsonl, here the true spans: never replaced silently
    result = runner.invoke(app, ["segment", str(corpus), "--segmenter", "fixed_stride", "--no-progress"])
    assert result.exit_code == 2 and "--overwrite" in result.output
    result = runner.invoke(app, ["segment", str(corpus), "--segmenter", "fixed", "--out", str(out), "--no-progress"])
    assert result.exit_code == 2 and "fixed_stride" in result.output


def test_translate_segments_a_pose_for_a_segment_pooling_model(corpus, tmp_path):
    # glossfree translate on a .pose file: a segment_pool model reads the pose-motion segmenter's spans
    import torch

    from glossfree.inference.loading import TrainedModel
    from glossfree.inference.translator import Translator
    from glossfree.text.tokenizers import train_tokenizer
    from glossfree.training.tasks import load_recipe
    from glossfree.training.tasks.translation import build_model

    small = ["model.frontend.dim=16", "model.compressor.dim=16", "model.compressor.context_layers=1", "model.compressor.context_ff_dim=32",
             "model.lm.architecture.d_model=16", "model.lm.architecture.encoder_layers=1",
             "model.lm.architecture.decoder_layers=1", "model.lm.architecture.encoder_ffn_dim=32",
             "model.lm.architecture.decoder_ffn_dim=32", "model.lm.architecture.encoder_attention_heads=2",
             "model.lm.architecture.decoder_attention_heads=2",
             "model.lm.generation.max_new_tokens=3", "data.fps=25"]  # fmt: skip
    recipe = load_recipe("sage/poses_mid", small)
    texts = [r.text for r in read_manifest(corpus / "manifest.jsonl")]
    tokenizer = train_tokenizer(texts * 3, tmp_path / "tok", vocab_size=60, family="mbart")
    trained = TrainedModel(build_model(recipe, tokenizer).eval(), recipe, tokenizer, {"fps": 25}, tmp_path)
    seen = []
    original = trained.model.generate
    trained.model.generate = lambda batch, **kw: seen.append(batch.segments) or original(batch, **kw)
    path = corpus / "poses" / "train-00000.pose"
    Translator(trained).translate(path)
    from glossfree.data.pose_io import read_pose

    pose = read_pose(path)
    clip = Clip("x", pose.body.data.shape[0], float(pose.body.fps), pose)
    expected = PoseMotionSegmenter(PoseMotionConfig()).segment(clip)  # the corpus is at 25 fps, as the model
    assert len(expected) >= 2 and torch.equal(seen[0][0], torch.from_numpy(expected))
