"""Issue 25: ``segments.jsonl`` holds frame indices at each line's ``fps`` (what ``glossfree synth``
writes); the dataset turns them into the sample's steps, also when resampled, read from a span,
or counted in a feature stream's rows."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from glossfree.cli.main import app
from glossfree.config import validate
from glossfree.data.datasets import PoseDataset, collate_pose
from glossfree.data.inputs import read_segments
from glossfree.data.manifest import load_split
from glossfree.errors import DataError
from glossfree.features.cache import FeatureCache, write_entry
from glossfree.models.slt import SLTModelConfig
from glossfree.training.datamodule import build_dataset
from glossfree.training.recipe import DataConfig


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("segments") / "corpus"
    result = CliRunner().invoke(app, ["synth", str(out), "--num-train", "3", "--num-dev", "1", "--num-test", "1",
                                      "--fps", "25", "--face-points", "contours", "--seed", "4"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def _truth(root: Path) -> dict[str, dict]:
    """The synthetic signer's true boundaries, as written: frame indices at 25 fps, end exclusive."""
    return {row["id"]: row for row in map(json.loads, (root / "segments.jsonl").read_text().splitlines())}


def _model():
    return validate(SLTModelConfig, {"frontend": {"kind": "keypoint_mlp"}}, source="t")


def test_synth_segments_reach_the_batch_as_the_true_frame_spans(corpus):
    records, truth = load_split(corpus, "train"), _truth(corpus)
    dataset = build_dataset(DataConfig(extra_inputs=["segments"]), _model(), records, corpus, train=False)
    batch = collate_pose([dataset[i] for i in range(len(records))])
    assert batch.segments is not None and batch.segment_mask.any(dim=1).all()
    for row, record in enumerate(records):
        expected = [[sign["start"], sign["end"]] for sign in truth[record.id]["signs"]]
        assert len(expected) >= 2 and batch.lengths[row] == truth[record.id]["num_frames"]
        count = int(batch.segment_mask[row].sum())
        assert batch.segments[row, :count].tolist() == expected


def test_segments_follow_resampling_and_spans(corpus):
    record, truth = load_split(corpus, "train")[0], _truth(corpus)
    signs = [(sign["start"], sign["end"]) for sign in truth[record.id]["signs"]]
    # data.fps 12.5: half as many frames; a sign [s, e) at 25 fps covers [floor(s / 2), ceil(e / 2))
    half = build_dataset(DataConfig(fps=12.5, extra_inputs=["segments"]), _model(), [record], corpus, train=False)[0]
    assert half["segments"].tolist() == [[s // 2, math.ceil(e / 2)] for s, e in signs]
    # a record that is a span of the file: from the second sign's start (seconds) to the file's end
    start = signs[1][0] / 25.0
    spanned = dataclasses.replace(record, start=start, end=truth[record.id]["num_frames"] / 25.0)
    item = build_dataset(DataConfig(extra_inputs=["segments"]), _model(), [spanned], corpus, train=False)[0]
    assert item["segments"].tolist() == [[s - signs[1][0], e - signs[1][0]] for s, e in signs[1:]]
    assert item["keypoints"].shape[0] == truth[record.id]["num_frames"] - signs[1][0]


def test_segments_of_a_feature_only_model_count_the_stream_rows(corpus, tmp_path):
    """A features stream has its own rate (the cache's ``fps``: rows per second) and, for a record
    with a span, the ``start`` extraction read from; no keypoints or frames are needed."""
    record, truth = load_split(corpus, "train")[0], _truth(corpus)
    signs = [(sign["start"], sign["end"]) for sign in truth[record.id]["signs"]]
    root = tmp_path / "data"
    root.mkdir()
    (root / "segments.jsonl").write_text((corpus / "segments.jsonl").read_text())
    folder = root / "features" / "clips"
    folder.mkdir(parents=True)
    (folder / "extractor.json").write_text(json.dumps({"signature": "sig", "config": {}, "dim": 3}))
    rows = math.ceil(truth[record.id]["num_frames"] / 4)  # a video_clips stream with stride 4: 6.25 rows/s
    write_entry(FeatureCache(root, "clips").path(record.id), torch.zeros(rows, 3),
                {"signature": "sig", "config": {}, "fps": 25.0 / 4, "num_frames": truth[record.id]["num_frames"]})  # fmt: skip
    model = validate(SLTModelConfig, {"frontend": {"kind": "features", "stream": "clips", "input_dim": 3}}, source="t")
    dataset = build_dataset(DataConfig(extra_inputs=["segments"]), model, [record], root, train=False)
    batch = collate_pose([dataset[0]])
    assert batch.segments[0].tolist() == [[s // 4, math.ceil(e / 4)] for s, e in signs]
    # the cache's start: rows begin at the second sign (seconds of the file)
    start = signs[1][0] / 25.0
    spanned = dataclasses.replace(record, start=start, end=None)
    write_entry(FeatureCache(root, "clips").path(record.id), torch.zeros(rows, 3),
                {"signature": "sig", "config": {}, "fps": 25.0 / 4, "num_frames": 0, "start": start})  # fmt: skip
    item = PoseDataset([spanned], root, inputs={"features:clips", "segments"}, use_span=False)[0]
    shifted = [(s - signs[1][0], e - signs[1][0]) for s, e in signs[1:]]
    assert item["segments"].tolist() == [[s // 4, min(rows, math.ceil(e / 4))] for s, e in shifted]


def test_a_segments_line_must_state_its_frame_rate(tmp_path):
    path = tmp_path / "segments.jsonl"
    path.write_text(json.dumps({"id": "a", "signs": [{"start": 2, "end": 5}]}) + "\n")
    with pytest.raises(DataError, match=r"segments.jsonl:1: .*'fps'"):
        read_segments(path)
    path.write_text(json.dumps({"id": "a", "fps": 0, "signs": [{"start": 2, "end": 5}]}) + "\n")
    with pytest.raises(DataError, match="fps 0.0 is not positive"):
        read_segments(path)
    path.write_text(json.dumps({"id": "a", "fps": 10, "signs": [{"start": 2, "end": 5}]}) + "\n")
    assert read_segments(path)["a"].tolist() == [[0.2, 0.5]]
