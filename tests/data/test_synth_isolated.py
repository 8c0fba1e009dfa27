"""Synthetic isolated signs (``glossfree synth --isolated``): determinism, labels, splits, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from glossfree.cli.synth_command import register
from glossfree.config import validate
from glossfree.data.manifest import read_manifest
from glossfree.data.pose_io import read_pose
from glossfree.data.synth import SynthConfig, generate_corpus
from glossfree.errors import ConfigError

SMALL = {"source": "isolated", "num_signs": 4, "per_sign": 3, "per_sign_eval": 2, "fps": 12.5, "face_points": "contours"}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def isolated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("isolated")
    generate_corpus(root, validate(SynthConfig, SMALL), progress=False)
    return root


def test_same_seed_same_bytes_other_seed_other_clips(isolated, tmp_path):
    generate_corpus(tmp_path / "again", validate(SynthConfig, SMALL), progress=False)
    assert _files(tmp_path / "again") == _files(isolated)
    generate_corpus(tmp_path / "other", validate(SynthConfig, {**SMALL, "seed": 1}), progress=False)
    assert (tmp_path / "other" / "poses" / "train-00000.pose").read_bytes() != (isolated / "poses" / "train-00000.pose").read_bytes()


def test_labels_match_the_performed_signs_and_splits(isolated):
    records = read_manifest(isolated / "manifest.jsonl")
    lexicon = list(json.loads((isolated / "lexicon.json").read_text())["signs"])
    assert len(lexicon) == 4
    segments = {json.loads(line)["id"]: json.loads(line) for line in (isolated / "segments.jsonl").read_text().splitlines()}
    sizes = {split: sum(r.split == split for r in records) for split in ("train", "dev", "test")}
    assert sizes == {"train": 12, "dev": 8, "test": 8}
    for record in records:
        index = int(record.id.split("-")[1])
        assert record.extra["label"] == record.gloss == lexicon[index % 4]  # balanced: clip k is sign k mod K
        assert record.text == record.gloss.lower()
        signs = segments[record.id]["signs"]
        assert [s["gloss"] for s in signs] == [record.extra["label"]]  # one sign per clip
        assert 0 < signs[0]["start"] < signs[0]["end"] <= segments[record.id]["num_frames"]
    assert len({r.signer for r in records}) > 1  # signer variation


def test_clips_vary_and_drop_detections(isolated):
    everything = read_manifest(isolated / "manifest.jsonl")
    records = [r for r in everything if r.extra["label"] == everything[0].extra["label"]]  # one sign's clips
    poses = [read_pose(isolated / r.pose) for r in records]
    lengths = {pose.body.data.shape[0] for pose in poses}
    assert len(lengths) > 1  # speed varies per signer and clip
    dropped = [bool(np.ma.getmaskarray(pose.body.data).any()) for pose in poses]
    assert any(dropped)  # some hand detections are missing


def test_isolated_settings_are_checked():
    with pytest.raises(ConfigError, match="num_train is for source: grammar"):
        validate(SynthConfig, {"source": "isolated", "num_train": 10})
    with pytest.raises(ConfigError, match="per_sign: only for source: isolated"):
        validate(SynthConfig, {"per_sign": 5})
    with pytest.raises(ConfigError, match="num_signs"):
        validate(SynthConfig, {"source": "isolated", "num_signs": 1})


def test_cli_isolated(tmp_path):
    app = typer.Typer()
    register(app)

    @app.command()
    def _other() -> None:  # a second command keeps typer from collapsing the app into one command
        pass

    runner = CliRunner()
    out = tmp_path / "iso"
    result = runner.invoke(app, ["synth", str(out), "--isolated", "--signs", "3", "--per-sign", "2", "--per-sign-eval", "1",
                                 "--fps", "12.5", "--face-points", "contours", "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 12 samples (train 6, dev 3, test 3)" in result.output
    result = runner.invoke(app, ["synth", str(tmp_path / "bad"), "--per-sign", "2", "--no-progress"])
    assert result.exit_code == 2 and "--isolated corpora only" in result.output
