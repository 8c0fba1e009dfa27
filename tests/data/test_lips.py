"""Lip crops (paper 004's lip stream input): box geometry, frames without a face, border clipping,
pose/video consistency errors, the dataset's ``lips`` input, and the real sample video."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from data.lip_helpers import lip_points, lip_pose, mouth_frames, write_pair
from glossfree.data.layouts import CONTOUR_FACE_POINTS
from glossfree.data.lips import (
    LIP_POINTS,
    LipCropConfig,
    box_pixels,
    crop_lips,
    lip_boxes,
    lip_crops,
    load_lip_crops,
)
from glossfree.errors import DataError


def normalised(pixels, config: LipCropConfig):
    return (np.asarray(pixels, dtype=np.float32) / 255.0 - config.mean) / config.std


def test_lip_points_are_mediapipe_lips_and_inside_the_contour_faces():
    assert len(LIP_POINTS) == len(set(LIP_POINTS)) == 40
    assert {str(i) for i in LIP_POINTS} <= set(CONTOUR_FACE_POINTS)  # reduced 128-point faces work too


def test_box_is_centred_on_the_lips_and_sized_from_them():
    centres = np.array([[50.0, 40.0], [60.0, 30.0]])
    points = lip_points(centres, half_width=10.0)  # mouth 20 wide, 10 high
    points[1, :, 1] += 0.0
    config = LipCropConfig(scale=1.5, smooth=1)
    boxes, detected = lip_boxes(points, np.ones(points.shape[:2], bool), config)
    assert detected.all()
    np.testing.assert_allclose(boxes[:, :2], centres, atol=1e-4)
    np.testing.assert_allclose(boxes[:, 2], 1.5 * 20.0, atol=1e-4)  # scale x the larger side (width)
    # a tall mouth: the height decides
    tall = points.copy()
    tall[..., 1] = centres[:, None, 1] + 4 * (points[..., 1] - centres[:, None, 1])  # height 40 > width 20
    boxes, _ = lip_boxes(tall, np.ones(points.shape[:2], bool), config)
    np.testing.assert_allclose(boxes[:, 2], 1.5 * 40.0, atol=1e-4)


def test_only_detected_lip_points_count():
    points = lip_points(np.array([[50.0, 40.0]]), half_width=10.0)
    mask = np.ones(points.shape[:2], bool)
    points[0, 0] = [500.0, 500.0, 0.0]  # a wild point, but masked
    mask[0, 0] = False
    boxes, _ = lip_boxes(points, mask, LipCropConfig(smooth=1, scale=1.0))
    assert boxes[0, 0] < 60 and boxes[0, 1] < 50


def test_smoothing_is_a_centred_mean_over_detected_frames():
    xs = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    points = lip_points(np.stack([xs, np.full(5, 30.0)], axis=1), half_width=5.0)
    mask = np.ones(points.shape[:2], bool)
    mask[2] = False  # the middle frame has no face: it counts in no window
    boxes, detected = lip_boxes(points, mask, LipCropConfig(smooth=3, scale=1.0))
    assert detected.tolist() == [True, True, False, True, True]
    np.testing.assert_allclose(boxes[[0, 1, 3, 4], 0], [15.0, 15.0, 45.0, 45.0], atol=1e-4)
    np.testing.assert_allclose(boxes[2], boxes[1])  # carried from the last detected frame


def test_frames_without_a_face_carry_the_last_box_and_are_masked():
    xs = 20.0 + 5 * np.arange(6)
    points = lip_points(np.stack([xs, np.full(6, 30.0)], axis=1), half_width=5.0)
    mask = np.ones(points.shape[:2], bool)
    mask[[0, 1, 4]] = False
    boxes, detected = lip_boxes(points, mask, LipCropConfig(smooth=1, scale=1.0))
    assert detected.tolist() == [False, False, True, True, False, True]
    np.testing.assert_allclose(boxes[:, 0], [30.0, 30.0, 30.0, 35.0, 35.0, 45.0], atol=1e-4)  # leading: first box


def test_no_face_in_any_frame_is_an_error_naming_the_file():
    points = lip_points(np.zeros((3, 2)), half_width=5.0)
    with pytest.raises(DataError, match="clip.pose.*not detected in any of its 3 frames"):
        lip_boxes(points, np.zeros(points.shape[:2], bool), LipCropConfig(), source="clip.pose")


def test_crop_is_the_boxed_grey_patch_normalised():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    grey = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    config = LipCropConfig(size=16, smooth=1)
    box = np.array([[30.0, 20.0, 16.0]])  # exactly 16 px: no resizing
    assert box_pixels(box[0]) == (22, 12, 16)
    crop = crop_lips([frame], box, config)[0]
    np.testing.assert_allclose(crop, normalised(grey[12:28, 22:38], config), atol=1e-4)


def test_box_crossing_the_image_border_is_black_outside():
    frame = np.full((40, 60, 3), 200, dtype=np.uint8)
    config = LipCropConfig(size=16, smooth=1)
    crop = crop_lips([frame], np.array([[2.0, 35.0, 16.0]]), config)[0]  # left and bottom outside
    left, top, _ = box_pixels(np.array([2.0, 35.0, 16.0]))
    assert (left, top) == (-6, 27)
    inside = crop[: 40 - top, -left:]
    np.testing.assert_allclose(inside, normalised(200, config), atol=1e-3)
    np.testing.assert_allclose(crop[:, : -left], normalised(0, config), atol=1e-4)  # left of the image
    np.testing.assert_allclose(crop[40 - top :, :], normalised(0, config), atol=1e-4)  # below it


def test_lip_crops_follow_the_mouth_and_resize():
    centres = np.array([[30, 20], [40, 24], [50, 28]])
    frames = mouth_frames(centres, 6, (80, 48))
    pose = lip_pose(centres, 6.0, fps=10.0, size=(80, 48), undetected=[1])
    config = LipCropConfig(size=24, smooth=1, scale=2.0)
    crops = lip_crops(frames, pose, config, fps=10.0)
    assert crops.crops.shape == (3, 24, 24) and crops.crops.dtype == np.float32
    assert crops.detected.tolist() == [True, False, True]
    white = normalised(255, config)
    for t in (0, 2):  # the white mouth sits in the middle of its crop
        assert crops.crops[t, 12, 12] == pytest.approx(white, abs=0.05)
        assert crops.crops[t, 1, 1] < white - 1
    # frame 1 is cut at frame 0's box (carried), where frame 1's mouth is not centred
    assert crops.crops[1, 12, 12] < crops.crops[0, 12, 12]


def test_pose_coordinates_are_rescaled_to_the_video_size():
    centres = np.array([[40, 24]])
    frames = mouth_frames(centres * 2, 12, (160, 96))  # the video is twice the pose header's size
    pose = lip_pose(centres, 6.0, fps=10.0, size=(80, 48))
    crops = lip_crops(frames, pose, LipCropConfig(size=24, smooth=1, scale=2.0), fps=10.0)
    np.testing.assert_allclose(crops.boxes[0], [80.0, 48.0, 48.0], atol=1e-4)
    wrong_aspect = lip_pose(centres, 6.0, fps=10.0, size=(80, 80))
    with pytest.raises(DataError, match="aspect ratio"):
        lip_crops(frames, wrong_aspect, LipCropConfig(), fps=10.0, source="x.pose")


def test_pose_without_a_face_is_an_error_naming_the_file():
    from glossfree.data.layouts import HAND_POINTS, RIGHT_HAND, KeypointLayout
    from glossfree.data.pose_io import Keypoints, keypoints_to_pose

    layout = KeypointLayout("hand", tuple((RIGHT_HAND, p) for p in HAND_POINTS), {"hand": (0, 21)})
    pose = keypoints_to_pose(Keypoints(np.ones((2, 21, 3), np.float32), np.ones((2, 21), bool), 10.0), layout)
    with pytest.raises(DataError, match="hand.pose: no FACE_LANDMARKS component"):
        lip_crops(np.zeros((2, 8, 8, 3), np.uint8), pose, LipCropConfig(), fps=10.0, source="hand.pose")


def test_load_lip_crops_from_files_whole_and_span(tmp_path):
    video, pose = write_pair(tmp_path, "a", num_frames=12, fps=10.0, undetected=[5])
    config = LipCropConfig(size=24, smooth=1, scale=2.0)
    whole = load_lip_crops(video, pose, config)
    assert whole.crops.shape == (12, 24, 24) and whole.fps == pytest.approx(10.0)
    assert whole.detected.sum() == 11 and not whole.detected[5]
    np.testing.assert_allclose(whole.boxes[:, 0], [40 + 2 * t if t != 5 else 48 for t in range(12)], atol=1e-4)
    span = load_lip_crops(video, pose, config, start=0.3, end=0.8)  # frames 3..7
    assert span.crops.shape[0] == 5
    np.testing.assert_allclose(span.boxes, whole.boxes[3:8], atol=1e-4)
    np.testing.assert_allclose(span.crops, whole.crops[3:8], atol=1e-5)


def test_pose_and_video_that_disagree_are_errors_naming_both(tmp_path):
    config = LipCropConfig(size=16)
    video, pose = write_pair(tmp_path, "short", num_frames=10, pose_frames=8)
    with pytest.raises(DataError, match=r"short\.pose has 8 frames, .*short\.mp4 has 10"):
        load_lip_crops(video, pose, config)
    video, pose = write_pair(tmp_path, "rate", num_frames=10, fps=10.0, pose_fps=25.0)
    with pytest.raises(DataError, match=r"rate\.pose \(25 fps\) and .*rate\.mp4 \(10 fps\)"):
        load_lip_crops(video, pose, config)


def test_dataset_loads_lips_only_when_asked_and_at_the_keypoint_steps(tmp_path):
    import torch

    from glossfree.data.datasets import PoseDataset, collate_pose
    from glossfree.data.manifest import Record

    write_pair(tmp_path, "a", num_frames=12, fps=10.0, undetected=[3])
    write_pair(tmp_path, "b", num_frames=8, fps=10.0)
    records = [Record(id=n, split="train", text="x", language="en", video=f"videos/{n}.mp4", pose=f"poses/{n}.pose")
               for n in ("a", "b")]  # fmt: skip
    lips = LipCropConfig(size=16, smooth=1, scale=2.0)
    dataset = PoseDataset(records, tmp_path, inputs={"lips"}, lips=lips, fps=5.0)
    item = dataset[0]
    assert set(item) == {"id", "text", "language", "lips", "lip_mask"}
    assert item["lips"].shape == (6, 16, 16) and item["lip_mask"].dtype == torch.bool
    whole = load_lip_crops(tmp_path / "videos/a.mp4", tmp_path / "poses/a.pose", lips)
    # 10 -> 5 fps by the keypoints' frame selection (glossfree.data.transforms.resample_indices)
    np.testing.assert_allclose(item["lips"].numpy(), whole.crops[[1, 3, 5, 7, 9, 11]], atol=1e-6)
    assert item["lip_mask"].tolist() == [True, False, True, True, True, True]
    batch = collate_pose([dataset[0], dataset[1]])
    assert batch.lips.shape == (2, 6, 16, 16) and batch.masks["lips"].sum(1).tolist() == [6, 4]
    assert batch.lip_mask[1, 4:].any().item() is False and (batch.lips[1, 4:] == 0).all()
    assert batch.keypoints is None
    missing = Record(id="c", split="train", text="x", language="en", video="videos/a.mp4")
    with pytest.raises(DataError, match="record 'c' needs both a 'video' and a 'pose'"):
        PoseDataset([missing], tmp_path, inputs={"lips"})


@pytest.fixture(scope="module")
def real_pair(samples_dir, tmp_path_factory):
    """The real signer video (pose-format's test clip; test-only) and a pose estimated from it.

    PROVENANCE.md lists no .pose of this video (the sample .pose files come from other, unnamed
    videos), so the pose is estimated here with MediaPipe holistic, as `glossfree poses` does."""
    video = samples_dir / "pose-format" / "tests" / "test_video.mp4"
    if not video.is_file():
        pytest.skip(f"{video} is absent")
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe is not installed (pip install 'glossfree[video]'); no pose of the real video")
    from glossfree.data.pose_estimation import video_to_pose
    from glossfree.data.pose_io import write_pose

    pose = tmp_path_factory.mktemp("real") / "test_video.pose"
    write_pose(pose, video_to_pose(video))
    return video, pose


@pytest.mark.slow
def test_real_video_lip_crops_sit_on_the_mouth(real_pair):
    from glossfree.data.pose_io import read_pose
    from glossfree.data.video import probe_video

    video, pose_path = real_pair
    crops = load_lip_crops(video, pose_path, LipCropConfig())
    info = probe_video(video)
    assert crops.crops.shape == (info.num_frames, 88, 88)
    assert crops.detected.mean() > 0.9
    pose = read_pose(pose_path)
    face = [c.name for c in pose.header.components].index("FACE_LANDMARKS")
    offset = sum(len(c.points) for c in pose.header.components[:face])
    data = np.ma.getdata(pose.body.data)[:, 0]
    nose_y, chin_y = data[:, offset + 1, 1], data[:, offset + 152, 1]  # face mesh: 1 nose tip, 152 chin
    rows = crops.detected
    # the mouth box lies between the nose tip and the chin, and well inside the portrait frame
    assert (crops.boxes[rows, 1] > nose_y[rows]).all() and (crops.boxes[rows, 1] < chin_y[rows]).all()
    assert (crops.boxes[rows, 2] < info.width / 2).all() and (crops.boxes[rows, 2] > 10).all()
    # a real mouth: the crop has texture (not a flat or black patch)
    assert crops.crops[rows].std(axis=(1, 2)).min() > 0.1
