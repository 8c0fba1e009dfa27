"""Synthetic broadcast streams: deterministic, true spans in the stream, audio shifted within bounds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pose_format import Pose
from pydantic import ValidationError

from glossfree.alignment.subtitles import read_subtitles
from glossfree.data.synth.broadcast import BroadcastConfig, generate_broadcast, read_broadcast_manifest
from glossfree.errors import DataError

SMALL = BroadcastConfig(num_streams=3, sentences_per_stream=5, seed=3, lag_s=(1.0, 3.0), jitter_s=0.4)


@pytest.fixture(scope="module")
def streams_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("broadcast")
    generate_broadcast(out, SMALL)
    return out


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_and_streams_independent_of_count(streams_dir, tmp_path):
    generate_broadcast(tmp_path / "again", SMALL)
    assert _files(tmp_path / "again") == _files(streams_dir)
    generate_broadcast(tmp_path / "two", SMALL.model_copy(update={"num_streams": 2}))
    two = _files(tmp_path / "two")
    assert two["streams/stream-0001.pose"] == _files(streams_dir)["streams/stream-0001.pose"]
    generate_broadcast(tmp_path / "other", SMALL.model_copy(update={"seed": 4}))
    assert _files(tmp_path / "other")["streams/stream-0000.audio.vtt"] != two["streams/stream-0000.audio.vtt"]


def test_layout_manifest_and_pose(streams_dir):
    entries = read_broadcast_manifest(streams_dir)
    assert [e["id"] for e in entries] == ["stream-0000", "stream-0001", "stream-0002"]
    assert json.loads((streams_dir / "broadcast_config.json").read_text())["seed"] == 3
    for entry in entries:
        pose = Pose.read((streams_dir / entry["pose"]).read_bytes())
        assert pose.body.data.shape[0] == entry["num_frames"]
        assert pose.body.fps == entry["fps"] == 25.0
        assert entry["duration"] == pytest.approx(entry["num_frames"] / 25.0)


def test_true_spans_lie_inside_the_stream_in_order(streams_dir):
    for entry in read_broadcast_manifest(streams_dir):
        signing = read_subtitles(streams_dir / entry["signing"])
        assert len(signing) == SMALL.sentences_per_stream
        starts = np.array([c.start for c in signing])
        ends = np.array([c.end for c in signing])
        assert (starts >= 0).all() and (ends <= entry["duration"]).all() and (ends > starts).all()
        gaps = starts[1:] - ends[:-1]
        assert (gaps >= SMALL.pause_s[0]).all(), "sentences are separated by at least the shortest pause"
        assert all(c.text.strip() for c in signing)


def test_audio_subtitles_lead_signing_within_the_configured_bounds(streams_dir):
    low, high, jitter = SMALL.lag_s[0], SMALL.lag_s[1], SMALL.jitter_s
    for entry in read_broadcast_manifest(streams_dir):
        signing = read_subtitles(streams_dir / entry["signing"])
        audio = read_subtitles(streams_dir / entry["audio"])
        assert [c.text for c in audio] == [c.text for c in signing]
        lag = entry["lag"]
        assert low <= lag <= high
        shifts = np.array([s.start - a.start for s, a in zip(signing, audio, strict=True)])
        tol = 2e-3  # times are written to the millisecond
        assert (shifts >= lag - jitter - tol).all() and (shifts <= lag + jitter + tol).all()
        assert (shifts >= low - jitter - tol).all() and (shifts <= high + jitter + tol).all()
        # sequential, non-overlapping, at least min_subtitle_s long, inside the stream
        a_start = np.array([c.start for c in audio])
        a_end = np.array([c.end for c in audio])
        assert (a_end - a_start >= SMALL.min_subtitle_s - tol).all()
        assert (a_end[:-1] <= a_start[1:]).all()
        assert a_start[0] >= 0 and a_end[-1] <= entry["duration"]


def test_config_and_folder_checks(streams_dir, tmp_path):
    with pytest.raises(ValidationError, match="lag_s"):
        BroadcastConfig(lag_s=(3.0, 1.0))
    with pytest.raises(ValidationError):
        BroadcastConfig(unknown_key=1)
    with pytest.raises(DataError, match="not empty"):
        generate_broadcast(streams_dir, SMALL)
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(DataError, match="not a broadcast set"):
        generate_broadcast(tmp_path, SMALL, overwrite=True)
    with pytest.raises(DataError, match="too soon"):
        generate_broadcast(tmp_path / "x", BroadcastConfig(num_streams=1, sentences_per_stream=3, pause_s=(0.0, 0.0),
                                                           min_subtitle_s=10.0))  # fmt: skip


def test_hands_move_inside_the_true_spans_and_rest_in_the_lead_in(streams_dir):
    entry = read_broadcast_manifest(streams_dir)[0]
    pose = Pose.read((streams_dir / entry["pose"]).read_bytes())
    names = [p for c in pose.header.components for p in c.points]
    wrist = pose.body.data[:, 0, names.index("RIGHT_WRIST"), :2].filled(np.nan)  # [T, 2] pixels (body component)
    speed = np.linalg.norm(np.diff(wrist, axis=0), axis=1)
    inside = np.zeros(len(speed), dtype=bool)
    for cue in read_subtitles(streams_dir / entry["signing"]):
        inside[round(cue.start * 25) : round(cue.end * 25) - 1] = True
    rest = speed[: 25]  # the first second is the lead-in: the interpreter waits at rest
    assert np.nanmean(speed[inside]) > 2 * np.nanmean(rest)  # rest: keypoint jitter only
