"""Pose I/O: every real sample file, hand-built poses (masks, normalisation), bad input."""

from __future__ import annotations

import re
import copy
import os
from pathlib import Path

import numpy as np
import pytest
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions
from pose_format.utils.generic import fake_openpose_pose

from glossfree.data.layouts import BODY_POINTS, FACE_POINTS, HAND_POINTS, get_layout
from glossfree.data.pose_io import (
    Keypoints,
    detected_fraction,
    extract_keypoints,
    frame_span,
    keypoints_to_pose,
    read_pose,
    read_pose_info,
    write_pose,
)
from glossfree.errors import DataError

SHARED = Path(os.environ.get("GLOSSFREE_SHARED", Path(__file__).resolve().parents[3] / "shared"))
SAMPLE_FILES = sorted((SHARED / "data" / "samples").rglob("*.pose"))
HOLISTIC = ["POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"]
LEFT_SHOULDER, RIGHT_SHOULDER = BODY_POINTS.index("LEFT_SHOULDER"), BODY_POINTS.index("RIGHT_SHOULDER")


def _holistic_pose(data: np.ndarray, confidence: np.ndarray, fps: float = 25.0, dims: str = "XYZC") -> Pose:
    """A MediaPipe-holistic pose (33 + 468 + 21 + 21 points) from ``data [T, P, 543, D]``."""
    names = [BODY_POINTS, FACE_POINTS, HAND_POINTS, HAND_POINTS]
    header = PoseHeader(
        version=0.2,
        dimensions=PoseHeaderDimensions(width=640, height=480, depth=640),
        components=[
            PoseHeaderComponent(c, list(p), [], [(255, 0, 0)], dims)
            for c, p in zip(HOLISTIC, names, strict=True)
        ],
    )
    masked = np.ma.masked_array(
        data.astype(np.float32), mask=np.repeat(confidence[..., None] == 0, data.shape[-1], -1)
    )
    return Pose(header, NumPyPoseBody(fps=fps, data=masked, confidence=confidence.astype(np.float32)))


def _random_pose(frames: int = 4, people: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = rng.uniform(100, 500, size=(frames, people, 543, 3))
    confidence = np.ones((frames, people, 543))
    return data, confidence


def _components(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        return [c.name for c in Pose.read(handle.read()).header.components]


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_sample_file(samples_dir, path):
    """MediaPipe files load; OpenPose is rejected clearly; partial files name what is missing."""
    components = _components(path)
    if "pose_keypoints_2d" in components:
        with pytest.raises(DataError) as info:
            read_pose(path)
        message = str(info.value)
        assert message.startswith(f"{path}: an OpenPose pose file (137 points")
        assert "pose_keypoints_2d (25 points, XYC)" in message
        assert "glossfree expects MediaPipe holistic components (POSE_LANDMARKS" in message
        with pytest.raises(DataError, match="OpenPose"):
            read_pose_info(path)
        return
    pose = read_pose(path)
    info = read_pose_info(path)
    assert info.num_frames == pose.body.data.shape[0] > 0
    assert info.fps == pytest.approx(float(pose.body.fps))
    assert info.components == {c.name: len(c.points) for c in pose.header.components}
    confidence = pose.body.confidence[:, 0]
    if "POSE_LANDMARKS" not in components:  # *_hand_normalized.pose: right hand only
        with pytest.raises(DataError, match="POSE_LANDMARKS \\(33 of 33 points missing, component absent\\)"):
            extract_keypoints(pose, "pose203", source=str(path))
        with pytest.raises(DataError, match="no POSE_LANDMARKS LEFT_SHOULDER and RIGHT_SHOULDER"):
            extract_keypoints(pose, "pose203", source=str(path), allow_missing=True)
        raw = extract_keypoints(pose, "pose203", normalize=False, allow_missing=True)
        np.testing.assert_array_equal(raw.mask[:, 182:], confidence > 0)
        assert not raw.mask[:, :182].any()
        return
    reduced = len(next(c for c in pose.header.components if c.name == "POSE_LANDMARKS").points) < 33
    if reduced:
        with pytest.raises(DataError, match="POSE_LANDMARKS \\(25 of 33 points missing\\)"):
            extract_keypoints(pose, "pose203", source=str(path))
    for name in ("pose203", "holistic"):
        keypoints = extract_keypoints(pose, name, source=str(path), allow_missing=reduced)
        assert keypoints.points.shape == (info.num_frames, get_layout(name).num_points, 3)
        assert keypoints.points.dtype == np.float32 and keypoints.mask.dtype == bool
        assert np.isfinite(keypoints.points).all()
        assert (keypoints.points[~keypoints.mask] == 0).all()
        assert keypoints.mask.any()
        # normalised: mean shoulder midpoint at 0, mean shoulder length 1
        index = {p: i for i, p in enumerate(get_layout(name).points)}
        left = index[("POSE_LANDMARKS", "LEFT_SHOULDER")]
        right = index[("POSE_LANDMARKS", "RIGHT_SHOULDER")]
        both = keypoints.mask[:, left] & keypoints.mask[:, right]
        lefts, rights = keypoints.points[both, left], keypoints.points[both, right]
        np.testing.assert_allclose(((lefts + rights) / 2).mean(0), 0, atol=1e-5)
        assert np.linalg.norm(lefts - rights, axis=-1).mean() == pytest.approx(1, abs=1e-5)


def test_sample_files_found(samples_dir):
    """The parametrised test above sees every kind of real header: 576, 586, 178, 21 and 137 points."""
    totals = set()
    for path in SAMPLE_FILES:
        with open(path, "rb") as handle:
            totals.add(sum(len(c.points) for c in Pose.read(handle.read()).header.components))
    assert totals == {576, 586, 178, 21, 137} and len(SAMPLE_FILES) == 13


def test_normalisation_matches_pose_format(samples_dir):
    """Same numbers as pose-format's own Pose.normalize (the SignCLIP preprocessing)."""
    path = samples_dir / "segmentation/example.pose"
    pose = read_pose(path)
    keypoints = extract_keypoints(pose, "holistic")
    reference = copy.deepcopy(pose)
    reference.normalize()
    expected = reference.get_components(HOLISTIC).body.data[:, 0].filled(0)
    assert (~keypoints.mask).any()  # the file has undetected hands
    np.testing.assert_allclose(keypoints.points, np.where(keypoints.mask[..., None], expected, 0), atol=1e-5)


def test_normalisation_hand_computed():
    data, confidence = _random_pose(frames=3)
    data[0, 0, LEFT_SHOULDER], data[0, 0, RIGHT_SHOULDER] = (3, 4, 0), (1, 4, 0)
    data[1, 0, LEFT_SHOULDER], data[1, 0, RIGHT_SHOULDER] = (5, 6, 2), (3, 6, 2)
    data[2, 0, LEFT_SHOULDER] = (1000, 1000, 1000)
    confidence[2, 0, LEFT_SHOULDER] = 0  # frame 2 has one shoulder only: ignored by the statistics
    data[:, 0, 0] = (7, 9, 1)  # NOSE in every frame
    keypoints = extract_keypoints(_holistic_pose(data, confidence), "pose203")
    # centre = mean of midpoints (2,4,0), (4,6,2) = (3,5,1); scale = mean length = 2
    np.testing.assert_allclose(keypoints.points[:, 0], [[2, 2, 0]] * 3)
    np.testing.assert_allclose(keypoints.points[0, LEFT_SHOULDER], [0, -0.5, -0.5])
    np.testing.assert_allclose(keypoints.points[1, RIGHT_SHOULDER], [0, 0.5, 0.5])
    mid = (keypoints.points[:2, LEFT_SHOULDER] + keypoints.points[:2, RIGHT_SHOULDER]) / 2
    np.testing.assert_allclose(mid.mean(0), 0, atol=1e-6)
    assert (
        np.linalg.norm(
            keypoints.points[:2, LEFT_SHOULDER] - keypoints.points[:2, RIGHT_SHOULDER], axis=-1
        ).mean()
        == 1
    )
    assert not keypoints.mask[2, LEFT_SHOULDER] and (keypoints.points[2, LEFT_SHOULDER] == 0).all()
    raw = extract_keypoints(_holistic_pose(data, confidence), "pose203", normalize=False)
    np.testing.assert_array_equal(raw.points[:, 0], [[7, 9, 1]] * 3)


def test_masked_points_are_masked_and_zero():
    data, confidence = _random_pose(frames=2)
    confidence[0, 0, 5] = 0  # masked with a garbage value behind the mask (as in mediapipe.pose)
    data[0, 0, 5] = 866.0
    data[1, 0, 6] = np.nan  # a NaN is never a detection
    keypoints = extract_keypoints(_holistic_pose(data, confidence), "holistic", normalize=False)
    assert not keypoints.mask[0, 5] and (keypoints.points[0, 5] == 0).all()
    assert not keypoints.mask[1, 6] and (keypoints.points[1, 6] == 0).all()
    assert keypoints.mask.sum() == 2 * 543 - 2
    normalised = extract_keypoints(_holistic_pose(data, confidence), "holistic")
    assert (normalised.points[0, 5] == 0).all() and not normalised.mask[0, 5]


def test_hands_masked_in_every_frame_are_allowed():
    data, confidence = _random_pose(frames=5)
    confidence[:, :, 501:522] = 0  # left hand never detected
    keypoints = extract_keypoints(_holistic_pose(data, confidence), "pose203", source="x.pose")
    assert not keypoints.mask[:, 161:182].any() and keypoints.mask[:, 182:].all()
    assert (keypoints.points[:, 161:182] == 0).all()


def test_multi_person_takes_person_zero():
    data, confidence = _random_pose(frames=2, people=2)
    single = extract_keypoints(_holistic_pose(data[:, :1], confidence[:, :1]), "pose203")
    double = extract_keypoints(_holistic_pose(data, confidence), "pose203")
    np.testing.assert_array_equal(single.points, double.points)


def test_no_frame_with_both_shoulders():
    data, confidence = _random_pose(frames=3)
    confidence[:2, 0, LEFT_SHOULDER] = 0
    confidence[2, 0, RIGHT_SHOULDER] = 0
    with pytest.raises(DataError, match="^clip.pose: cannot normalise: no frame has both shoulders detected"):
        extract_keypoints(_holistic_pose(data, confidence), "pose203", source="clip.pose")


def test_two_dimensional_holistic_rejected():
    data, confidence = _random_pose(frames=2)
    pose = _holistic_pose(data[..., :2], confidence, dims="XYC")
    with pytest.raises(DataError, match="expected 3 coordinates per point"):
        extract_keypoints(pose, "pose203", source="flat.pose")


def test_openpose_in_memory_rejected():
    with pytest.raises(DataError, match="^op.pose: an OpenPose pose file \\(137 points"):
        extract_keypoints(fake_openpose_pose(3), "pose203", source="op.pose")


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match="^" + re.escape(f"{tmp_path / 'nope.pose'}: pose file not found")):
        read_pose(tmp_path / "nope.pose")
    with pytest.raises(DataError, match="pose file not found"):
        read_pose_info(tmp_path / "nope.pose")
    bad = tmp_path / "bad.pose"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(DataError, match="^" + re.escape(f"{bad}: not a readable .pose file")):
        read_pose(bad)


def test_zero_frame_pose(tmp_path):
    data, confidence = _random_pose(frames=1)
    empty = _holistic_pose(data[:0], confidence[:0])
    path = tmp_path / "empty.pose"
    write_pose(path, empty)
    with pytest.raises(DataError, match="^" + re.escape(f"{path}: pose file has 0 frames")):
        read_pose(path)
    with pytest.raises(DataError, match="0 frames"):
        read_pose_info(path)
    with pytest.raises(DataError, match="^empty.pose: pose has 0 frames"):
        extract_keypoints(empty, "pose203", source="empty.pose")


def test_write_is_atomic_and_round_trips(tmp_path):
    data, confidence = _random_pose(frames=3)
    confidence[1, 0, 40:60] = 0
    pose = _holistic_pose(data, confidence, fps=30.0)
    path = tmp_path / "sub" / "clip.pose"
    write_pose(path, pose)
    assert sorted(p.name for p in path.parent.iterdir()) == ["clip.pose"]  # no temp file left
    (path.parent / "plain").write_bytes(b"")
    assert path.stat().st_mode == (path.parent / "plain").stat().st_mode  # umask permissions, not 0600
    back = read_pose(path)
    np.testing.assert_array_equal(back.body.confidence, pose.body.confidence)
    np.testing.assert_allclose(np.ma.getdata(back.body.data), np.ma.getdata(pose.body.data))
    assert read_pose_info(path).num_frames == 3 and read_pose_info(path).fps == 30.0


@pytest.mark.parametrize("layout", ["pose203", "holistic"])
def test_keypoints_to_pose_round_trip(tmp_path, layout):
    rng = np.random.default_rng(1)
    n = get_layout(layout).num_points
    mask = rng.random((6, n)) > 0.2
    points = np.where(mask[..., None], rng.normal(size=(6, n, 3)), 0).astype(np.float32)
    keypoints = Keypoints(points=points, mask=mask, fps=12.5)
    write_pose(tmp_path / "k.pose", keypoints_to_pose(keypoints, layout))
    back = extract_keypoints(read_pose(tmp_path / "k.pose"), layout, normalize=False)
    np.testing.assert_array_equal(back.points, keypoints.points)
    np.testing.assert_array_equal(back.mask, keypoints.mask)
    assert back.fps == 12.5
    with pytest.raises(ValueError, match="do not fit layout 'holistic'"):
        keypoints_to_pose(Keypoints(points[:, :5], mask[:, :5], 25.0), "holistic")


def test_span_reading(samples_dir):
    for name in ("segmentation/example.pose", "pose-format/tests/mediapipe.pose"):  # v0.2 and v0.1
        path = samples_dir / name
        full = read_pose(path)
        part = read_pose(path, start=1.0, end=2.0)
        first, stop = frame_span(1.0, 2.0, float(full.body.fps), full.body.data.shape[0])
        assert stop - first == round(float(full.body.fps)) == part.body.data.shape[0]
        np.testing.assert_array_equal(part.body.confidence, full.body.confidence[first:stop])
    with pytest.raises(DataError, match="span starts at 100.0 s"):
        read_pose(samples_dir / "segmentation/example.pose", start=100.0, end=101.0)


def test_frame_span():
    assert frame_span(None, None, 25, 100) == (0, 100)
    assert frame_span(1.0, 2.0, 25, 100) == (25, 50)
    assert frame_span(3.9, 9.0, 25, 100) == (97, 100)  # clipped to the sequence
    assert frame_span(1.0, 1.001, 25, 100) == (25, 26)
    with pytest.raises(ValueError, match="frame 100"):
        frame_span(4.0, 5.0, 25, 100)


def test_detected_fraction_matches_provenance(samples_dir):
    """Per-component detection rates as listed in the samples' PROVENANCE.md."""
    fractions = detected_fraction(read_pose(samples_dir / "segmentation/example.pose"))
    assert round(fractions["LEFT_HAND_LANDMARKS"] * 100) == 55
    assert round(fractions["RIGHT_HAND_LANDMARKS"] * 100) == 73
    assert fractions["POSE_LANDMARKS"] == fractions["FACE_LANDMARKS"] == 1.0
