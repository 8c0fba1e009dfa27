"""Keypoint layouts: contract sizes and groups, names against pose-format/mediapipe, point selection."""

from __future__ import annotations

import numpy as np
import pytest
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

from glossfree.data import layouts
from glossfree.data.layouts import KeypointLayout, get_layout, mirror_indices, select_points
from glossfree.errors import ConfigError, DataError


def _pose(components: list[tuple[str, list[str]]], frames: int = 3, seed: int = 0) -> Pose:
    header = PoseHeader(
        version=0.2,
        dimensions=PoseHeaderDimensions(width=1, height=1, depth=1),
        components=[PoseHeaderComponent(name, pts, [], [(255, 0, 0)], "XYZC") for name, pts in components],
    )
    total = sum(len(pts) for _, pts in components)
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(frames, 1, total, 3)).astype(np.float32)
    confidence = np.ones((frames, 1, total), dtype=np.float32)
    return Pose(header, NumPyPoseBody(fps=25.0, data=np.ma.masked_array(data), confidence=confidence))


def test_pose203_contract():
    layout = get_layout("pose203")
    assert layout.num_points == 203
    assert layout.groups == {
        "body": (0, 33),
        "face": (33, 161),
        "left_hand": (161, 182),
        "right_hand": (182, 203),
    }
    assert all(c == "POSE_LANDMARKS" for c, _ in layout.points[:33])
    assert all(c == "FACE_LANDMARKS" for c, _ in layout.points[33:161])
    assert layout.points[161] == ("LEFT_HAND_LANDMARKS", "WRIST")
    assert layout.points[182] == ("RIGHT_HAND_LANDMARKS", "WRIST")
    assert layout.points[202] == ("RIGHT_HAND_LANDMARKS", "PINKY_TIP")


def test_holistic_contract():
    layout = get_layout("holistic")
    assert layout.num_points == 543
    assert layout.groups == {
        "body": (0, 33),
        "face": (33, 501),
        "left_hand": (501, 522),
        "right_hand": (522, 543),
    }
    assert layout.points[33:501] == tuple(("FACE_LANDMARKS", str(i)) for i in range(468))
    assert list(layout.group_indices("left_hand")) == list(range(501, 522))


def test_unknown_layout_lists_valid_names():
    with pytest.raises(
        ConfigError, match="unknown keypoint layout 'pose999'; valid names: holistic, pose203"
    ):
        get_layout("pose999")
    with pytest.raises(ConfigError, match="no group 'torso'"):
        get_layout("pose203").group_indices("torso")


def test_layout_validation():
    with pytest.raises(ConfigError, match="group 'a' range \\(0, 3\\)"):
        KeypointLayout("bad", (("A", "x"), ("A", "y")), {"a": (0, 3)})
    with pytest.raises(ConfigError, match="not unique"):
        KeypointLayout("bad", (("A", "x"), ("A", "x")), {"a": (0, 2)})


def test_names_match_pose_format_holistic():
    """Hard-coded names equal what pose-format's MediaPipe estimator writes (needs the video extra)."""
    holistic = pytest.importorskip("pose_format.utils.holistic", exc_type=ImportError)
    components = {c.name: c for c in holistic.holistic_components(additional_face_points=10)}
    assert tuple(components["POSE_LANDMARKS"].points) == layouts.BODY_POINTS
    assert tuple(components["LEFT_HAND_LANDMARKS"].points) == layouts.HAND_POINTS
    assert tuple(components["FACE_LANDMARKS"].points[:468]) == layouts.FACE_POINTS
    assert tuple(holistic.FACEMESH_CONTOURS_POINTS) == layouts.CONTOUR_FACE_POINTS
    assert tuple(layouts.FACE_MIRROR) == tuple(holistic.FLIPPED_FACE_POINTS)
    assert set(layouts.BODY_LIMBS) == set(holistic.BODY_LIMBS)
    assert set(layouts.HAND_LIMBS) == set(holistic.HAND_LIMBS)


def test_pose203_face_is_the_reduced_face_of_real_files(samples_dir):
    """pose-format's reduced sample file carries exactly the 128 pose203 face points, in order."""
    with open(samples_dir / "pose-format/tests/mediapipe.pose", "rb") as handle:
        pose = Pose.read(handle.read())
    face = next(c for c in pose.header.components if c.name == "FACE_LANDMARKS")
    assert tuple(face.points) == layouts.CONTOUR_FACE_POINTS
    assert len(layouts.CONTOUR_FACE_POINTS) == 128


def test_face_mirror_is_an_involution_closed_on_contours():
    mirror = np.array(layouts.FACE_MIRROR)
    assert len(mirror) == 478
    np.testing.assert_array_equal(mirror[mirror], np.arange(478))
    contours = {int(p) for p in layouts.CONTOUR_FACE_POINTS}
    assert {int(mirror[p]) for p in contours} == contours


@pytest.mark.parametrize("name", ["pose203", "holistic"])
def test_mirror_indices(name):
    layout = get_layout(name)
    perm = mirror_indices(layout)
    np.testing.assert_array_equal(perm[perm], np.arange(layout.num_points))
    left, right = layout.groups["left_hand"], layout.groups["right_hand"]
    np.testing.assert_array_equal(perm[left[0] : left[1]], np.arange(*right))
    body = {p: i for i, p in enumerate(layout.points)}
    assert perm[body[("POSE_LANDMARKS", "LEFT_SHOULDER")]] == body[("POSE_LANDMARKS", "RIGHT_SHOULDER")]
    assert perm[body[("POSE_LANDMARKS", "NOSE")]] == body[("POSE_LANDMARKS", "NOSE")]
    assert perm[body[("FACE_LANDMARKS", "33")]] == body[("FACE_LANDMARKS", "263")]  # eye corners


def test_mirror_indices_needs_partners():
    layout = KeypointLayout("left_only", (("LEFT_HAND_LANDMARKS", "WRIST"),), {"left_hand": (0, 1)})
    with pytest.raises(ConfigError, match="no mirror partner \\('RIGHT_HAND_LANDMARKS', 'WRIST'\\)"):
        mirror_indices(layout)


def test_select_points_by_name_from_refined_face():
    """A 478-point face file maps onto the holistic layout by name (iris points not selected)."""
    pose = _pose(
        [
            ("POSE_LANDMARKS", list(layouts.BODY_POINTS)),
            ("FACE_LANDMARKS", [str(i) for i in range(478)]),
            ("LEFT_HAND_LANDMARKS", list(layouts.HAND_POINTS)),
            ("RIGHT_HAND_LANDMARKS", list(layouts.HAND_POINTS)),
            ("POSE_WORLD_LANDMARKS", list(layouts.BODY_POINTS)),
        ]
    )
    points, mask = select_points(pose, "holistic")
    raw = np.ma.getdata(pose.body.data)[:, 0]
    assert points.shape == (3, 543, 3) and points.dtype == np.float32 and mask.all()
    np.testing.assert_array_equal(points[:, :501], raw[:, :501])  # body + first 468 face points
    np.testing.assert_array_equal(points[:, 501:], raw[:, 511:553])  # hands after the 10 iris points


def test_select_points_names_missing_components():
    pose = _pose([("RIGHT_HAND_LANDMARKS", list(layouts.HAND_POINTS)), ("POSE_LANDMARKS", ["LEFT_SHOULDER"])])
    with pytest.raises(DataError) as info:
        select_points(pose, "pose203", source="clip.pose")
    message = str(info.value)
    assert message.startswith("clip.pose: keypoint layout 'pose203' needs points the pose file lacks")
    assert "POSE_LANDMARKS (32 of 33 points missing)" in message
    assert "FACE_LANDMARKS (128 of 128 points missing, component absent)" in message
    assert "LEFT_HAND_LANDMARKS (21 of 21 points missing, component absent)" in message
    assert "RIGHT_HAND" not in message.split("Components in the file")[0]
    assert "Components in the file: RIGHT_HAND_LANDMARKS (21 points), POSE_LANDMARKS (1 points)" in message
    assert "Re-estimate the poses with `glossfree poses`" in message and "allow_missing=True" in message


def test_select_points_allow_missing_masks_and_zeroes():
    pose = _pose([("RIGHT_HAND_LANDMARKS", list(layouts.HAND_POINTS))])
    points, mask = select_points(pose, "pose203", allow_missing=True)
    assert points.shape == (3, 203, 3)
    assert mask[:, 182:].all() and not mask[:, :182].any()
    assert (points[:, :182] == 0).all()
    np.testing.assert_array_equal(points[:, 182:], np.ma.getdata(pose.body.data)[:, 0])


def test_reduced_real_file_into_pose203(samples_dir):
    """pose-format's reduced file (8 body + 128 face points): whole face present, 25 body points masked."""
    with open(samples_dir / "pose-format/tests/mediapipe.pose", "rb") as handle:
        pose = Pose.read(handle.read())
    with pytest.raises(DataError, match=r"POSE_LANDMARKS \(25 of 33 points missing\)"):
        select_points(pose, "pose203")
    _, mask = select_points(pose, "pose203", allow_missing=True)
    layout = get_layout("pose203")
    present_body = [
        i for i, (_, name) in enumerate(layout.points[:33]) if name in pose.header.components[0].points
    ]
    assert len(present_body) == 8
    absent = sorted(set(range(33)) - set(present_body))
    assert not mask[:, absent].any()
    face_confidence = pose.body.confidence[:, 0, 8:136] > 0
    np.testing.assert_array_equal(mask[:, 33:161], face_confidence)
    assert not mask[:, 161:182].any()  # the left hand is never detected in this file
