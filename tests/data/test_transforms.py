"""Keypoint transforms: new objects out, explicit generators, masks preserved, hand-checked values."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from glossfree.data.layouts import get_layout
from glossfree.data.pose_io import Keypoints
from glossfree.data.transforms import (
    Compose,
    HorizontalFlip,
    RandomAffine,
    RandomPointDropout,
    TemporalResample,
    build_transforms,
    resample_fps,
    resample_indices,
)
from glossfree.errors import ConfigError

N = get_layout("pose203").num_points


def _keypoints(frames: int = 10, seed: int = 0, fps: float = 25.0) -> Keypoints:
    rng = np.random.default_rng(seed)
    mask = rng.random((frames, N)) > 0.3
    mask[:, 161:182] = False  # left hand never detected
    points = np.where(mask[..., None], rng.normal(size=(frames, N, 3)), 0).astype(np.float32)
    return Keypoints(points=points, mask=mask, fps=fps)


def _check_masked_zero(keypoints: Keypoints) -> None:
    assert keypoints.points.dtype == np.float32 and keypoints.mask.dtype == bool
    assert (keypoints.points[~keypoints.mask] == 0).all()


ALL = [
    RandomAffine(),
    TemporalResample(),
    RandomPointDropout(0.2),
    HorizontalFlip("pose203", p=1.0),
    Compose([RandomAffine(), TemporalResample(), RandomPointDropout(0.1), HorizontalFlip()]),
]


@pytest.mark.parametrize("transform", ALL, ids=lambda t: type(t).__name__)
def test_input_unchanged_deterministic_masks_kept(transform):
    keypoints = _keypoints()
    before = copy.deepcopy(keypoints)
    out = transform(keypoints, np.random.default_rng(3))
    np.testing.assert_array_equal(keypoints.points, before.points)
    np.testing.assert_array_equal(keypoints.mask, before.mask)
    again = transform(keypoints, np.random.default_rng(3))
    np.testing.assert_array_equal(out.points, again.points)
    np.testing.assert_array_equal(out.mask, again.mask)
    _check_masked_zero(out)
    assert out.fps == keypoints.fps


def test_affine_scale_only_hand_computed():
    keypoints = _keypoints()
    out = RandomAffine(rotation_deg=0, scale=(2.0, 2.0), shift=0)(keypoints, np.random.default_rng(0))
    np.testing.assert_allclose(out.points, keypoints.points * 2)
    np.testing.assert_array_equal(out.mask, keypoints.mask)


def test_affine_rotation_is_rigid_in_plane():
    keypoints = _keypoints(frames=1)
    out = RandomAffine(rotation_deg=90, scale=(1.0, 1.0), shift=0.0)(keypoints, np.random.default_rng(5))
    valid = keypoints.mask[0]
    before, after = keypoints.points[0, valid], out.points[0, valid]
    np.testing.assert_allclose(
        np.linalg.norm(after[:, :2], axis=1), np.linalg.norm(before[:, :2], axis=1), rtol=1e-5
    )
    np.testing.assert_allclose(after[:, 2], before[:, 2], rtol=1e-6)
    assert not np.allclose(after[:, :2], before[:, :2])


def test_temporal_resample_selects_frames():
    keypoints = _keypoints(frames=10)
    out = TemporalResample(speed_range=(2.0, 2.0))(keypoints, np.random.default_rng(0))
    assert out.num_frames == 5
    np.testing.assert_array_equal(resample_indices(10, 5), [1, 3, 5, 7, 9])
    np.testing.assert_array_equal(out.points, keypoints.points[[1, 3, 5, 7, 9]])
    np.testing.assert_array_equal(out.mask, keypoints.mask[[1, 3, 5, 7, 9]])
    slow = TemporalResample(speed_range=(0.5, 0.5))(keypoints, np.random.default_rng(0))
    assert slow.num_frames == 20
    np.testing.assert_array_equal(slow.points[::2], keypoints.points)


def test_resample_fps():
    keypoints = _keypoints(frames=10, fps=50.0)
    half = resample_fps(keypoints, 25.0)
    assert half.num_frames == 5 and half.fps == 25.0
    np.testing.assert_array_equal(half.points, keypoints.points[1::2])
    assert resample_fps(keypoints, 50.0) is keypoints
    assert resample_fps(_keypoints(frames=1), 5.0).num_frames == 1  # never empty
    with pytest.raises(ValueError, match="cannot resample"):
        resample_fps(keypoints, 0)


def test_point_dropout():
    keypoints = _keypoints()
    assert not RandomPointDropout(1.0)(keypoints, np.random.default_rng(0)).mask.any()
    same = RandomPointDropout(0.0)(keypoints, np.random.default_rng(0))
    np.testing.assert_array_equal(same.mask, keypoints.mask)
    half = RandomPointDropout(0.5)(keypoints, np.random.default_rng(11))
    assert not (half.mask & ~keypoints.mask).any()  # never un-masks
    assert 0.3 < half.mask.sum() / keypoints.mask.sum() < 0.7
    kept = half.mask
    np.testing.assert_array_equal(half.points[kept], keypoints.points[kept])


def test_horizontal_flip_swaps_hands_and_mirrors_x():
    keypoints = _keypoints()
    flipped = HorizontalFlip("pose203", p=1.0)(keypoints, np.random.default_rng(0))
    right = keypoints.points[:, 182:203]
    np.testing.assert_array_equal(flipped.points[:, 161:182, 0], -right[..., 0])
    np.testing.assert_array_equal(flipped.points[:, 161:182, 1:], right[..., 1:])
    np.testing.assert_array_equal(flipped.mask[:, 161:182], keypoints.mask[:, 182:203])
    assert not flipped.mask[:, 182:203].any()  # the never-seen left hand is now the right hand
    back = HorizontalFlip("pose203", p=1.0)(flipped, np.random.default_rng(0))
    np.testing.assert_array_equal(back.points, keypoints.points)
    assert HorizontalFlip("pose203", p=0.0)(keypoints, np.random.default_rng(0)) is keypoints
    shifted = HorizontalFlip("pose203", p=1.0, center_x=1.0)(keypoints, np.random.default_rng(0))
    np.testing.assert_allclose(
        shifted.points[:, 161:182, 0], np.where(keypoints.mask[:, 182:], 2 - right[..., 0], 0)
    )


def test_flip_rejects_other_layouts():
    with pytest.raises(ValueError, match="layout 'holistic' has 543"):
        HorizontalFlip("holistic", p=1.0)(_keypoints(), np.random.default_rng(0))


def test_compose_order():
    keypoints = _keypoints()
    composed = Compose([TemporalResample((2.0, 2.0)), RandomAffine(0, (3.0, 3.0), 0)])
    out = composed(keypoints, np.random.default_rng(0))
    np.testing.assert_allclose(out.points, keypoints.points[1::2] * 3)


def test_build_transforms():
    composed = build_transforms(
        [{"kind": "RandomAffine", "rotation_deg": 5}, {"kind": "HorizontalFlip", "layout": "pose203"}]
    )
    assert [type(t).__name__ for t in composed.transforms] == ["RandomAffine", "HorizontalFlip"]
    assert composed.transforms[0].rotation_deg == 5
    with pytest.raises(
        ConfigError,
        match="transforms\\[0\\]: unknown kind 'Blur'; valid kinds: RandomAffine, TemporalResample",
    ):
        build_transforms([{"kind": "Blur"}])
    with pytest.raises(
        ConfigError, match="transforms\\[0\\] \\(RandomAffine\\): .*unexpected keyword argument 'angle'"
    ):
        build_transforms([{"kind": "RandomAffine", "angle": 3}])
    with pytest.raises(ConfigError, match="p must be in \\[0, 1\\], got 2"):
        build_transforms([{"kind": "RandomPointDropout", "p": 2}])
    with pytest.raises(ConfigError, match="speed_range"):
        TemporalResample((0.0, 1.0))
    with pytest.raises(ConfigError, match="scale=\\(1.2, 1.1\\)"):
        RandomAffine(scale=(1.2, 1.1))
