"""Manifest reading, validation (file:line errors), atomic writing, split loading, path resolution."""

from __future__ import annotations

import re
import json
from pathlib import Path

import pytest

from glossfree.data.manifest import Record, load_split, read_manifest, resolve, write_manifest
from glossfree.errors import DataError

GOOD = {"id": "a", "split": "train", "text": "guten morgen", "language": "de", "pose": "poses/a.pose"}


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8"
    )
    return path


def test_read_full_record_and_extras(tmp_path):
    line = {
        **GOOD, "video": "videos/a.mp4", "features": "features/clip/a.safetensors", "start": 1, "end": 2.5,
        "signer": "Signer04", "gloss": "MORGEN", "orth": "x", "frames": [1, 2],
    }  # fmt: skip
    (record,) = read_manifest(_write(tmp_path / "m.jsonl", [line]))
    assert record == Record(
        id="a", split="train", text="guten morgen", language="de", video="videos/a.mp4", pose="poses/a.pose",
        features="features/clip/a.safetensors", start=1.0, end=2.5, signer="Signer04", gloss="MORGEN",
        extra={"orth": "x", "frames": [1, 2]},
    )  # fmt: skip
    assert isinstance(record.start, float)


def test_blank_lines_and_empty_text(tmp_path):
    path = _write(tmp_path / "m.jsonl", ["", {**GOOD, "text": ""}, "   ", {**GOOD, "id": "b"}])
    records = read_manifest(path)
    assert [r.id for r in records] == ["a", "b"] and records[0].text == ""


def test_round_trip_is_atomic_and_unicode(tmp_path):
    records = [
        Record(id="ä1", split="dev", text="straße — ok", language="de", pose="p/1.pose", extra={"k": 1}),
        Record(id="2", split="test", text="hi", language="en", video="v/2.mp4", start=0.0, end=1.5),
    ]
    path = tmp_path / "out" / "manifest.jsonl"
    write_manifest(path, records)
    assert read_manifest(path) == records
    text = path.read_text(encoding="utf-8")
    assert "straße" in text and '"start": 0.0' in text and "null" not in text
    assert sorted(p.name for p in path.parent.iterdir()) == ["manifest.jsonl"]
    (tmp_path / "plain").write_text("")
    assert path.stat().st_mode == (tmp_path / "plain").stat().st_mode  # umask permissions, not 0600
    with pytest.raises(DataError, match="duplicate id '2'"):
        write_manifest(path, [records[1], records[1]])
    assert read_manifest(path) == records  # a failed write leaves the old file intact


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "split": ', "invalid JSON (Expecting value at column 22)"),
        ('{"id": "a', "invalid JSON (Unterminated string starting at column 8)"),  # not "at at"
        ("[1, 2]", "expected a JSON object, got list"),
        ({k: v for k, v in GOOD.items() if k != "language"}, "missing required key 'language'"),
        ({**GOOD, "id": 7}, "'id' must be a string, got int 7"),
        ({**GOOD, "id": " "}, "'id' must not be empty"),
        ({**GOOD, "text": None}, "'text' must be a string, got NoneType None"),
        ({**GOOD, "pose": 3}, "'pose' must be a string or null, got int 3"),
        ({**GOOD, "pose": ""}, "'pose' must not be an empty path"),
        ({**GOOD, "pose": None}, "record has none of video, pose, features (at least one path is required)"),
        ({**GOOD, "start": "1"}, "'start' must be a number of seconds, got str '1'"),
        ({**GOOD, "end": True}, "'end' must be a number of seconds, got bool True"),
        ({**GOOD, "start": -1}, "'start' must be >= 0, got -1"),
        ({**GOOD, "start": 2, "end": 2}, "'start' (2) must be before 'end' (2)"),
        ({**GOOD, "signer": 4}, "'signer' must be a string or null, got int 4"),
    ],
)
def test_bad_line_names_file_and_line(tmp_path, line, message):
    path = _write(tmp_path / "m.jsonl", [{**GOOD, "id": "first"}, line])
    with pytest.raises(DataError) as info:
        read_manifest(path)
    assert str(info.value) == f"{path}:2: {message}"


def test_duplicate_id_names_both_lines(tmp_path):
    path = _write(tmp_path / "m.jsonl", [GOOD, {**GOOD, "id": "b"}, GOOD])
    with pytest.raises(
        DataError, match="^" + re.escape(f"{path}:3: duplicate id 'a' (first on line 1)") + "$"
    ):
        read_manifest(path)


def test_all_problems_reported_together(tmp_path):
    path = _write(tmp_path / "m.jsonl", ["{", GOOD, {**GOOD, "id": "b", "split": 1}])
    with pytest.raises(DataError) as info:
        read_manifest(path)
    lines = str(info.value).splitlines()
    assert lines[0] == f"{path}: 2 invalid manifest line(s)"
    assert lines[1].startswith(f"{path}:1: invalid JSON")
    assert lines[2] == f"{path}:3: 'split' must be a string, got int 1"


def test_missing_manifest(tmp_path):
    with pytest.raises(DataError, match="^" + re.escape(f"{tmp_path / 'x.jsonl'}: manifest not found")):
        read_manifest(tmp_path / "x.jsonl")


def test_load_split_from_manifest(tmp_path):
    _write(tmp_path / "manifest.jsonl", [GOOD, {**GOOD, "id": "b", "split": "dev"}, {**GOOD, "id": "c"}])
    assert [r.id for r in load_split(tmp_path, "train")] == ["a", "c"]
    assert [r.id for r in load_split(tmp_path, "dev")] == ["b"]
    with pytest.raises(DataError, match="no records with split 'test'; splits present: dev, train"):
        load_split(tmp_path, "test")


def test_load_split_prefers_split_file_and_checks_it(tmp_path):
    _write(tmp_path / "manifest.jsonl", [GOOD])
    _write(tmp_path / "train.jsonl", [{**GOOD, "id": "t"}])
    assert [r.id for r in load_split(tmp_path, "train")] == ["t"]
    path = _write(tmp_path / "dev.jsonl", [{**GOOD, "split": "dev"}, {**GOOD, "id": "x"}])
    with pytest.raises(
        DataError, match="^" + re.escape(f"{path}:2: record 'x' has split 'train', expected 'dev'") + "$"
    ):
        load_split(tmp_path, "dev")


def test_load_split_without_manifest(tmp_path):
    with pytest.raises(
        DataError, match="no manifest for split 'train' \\(looked for .*train.jsonl and .*manifest.jsonl\\)"
    ):
        load_split(tmp_path, "train")


def test_resolve(tmp_path):
    record = Record(id="a", split="train", text="", language="de", pose="poses/a.pose", video="/abs/a.mp4")
    paths = resolve(tmp_path, record)
    assert paths.pose == tmp_path / "poses" / "a.pose"
    assert paths.video == Path("/abs/a.mp4") and paths.features is None
    assert paths.pose.is_absolute()
