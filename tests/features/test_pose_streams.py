"""Fixed pose encodings (``kind: pose``): SpaMo's spatial and motion streams on keypoints, through
``glossfree extract`` from the records' ``.pose`` files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from glossfree.errors import ConfigError
from glossfree.features.cache import FeatureCache
from glossfree.features.config import (
    load_extractor_config,
    parse_extractor_config,
    signature,
)
from glossfree.features.extract import extract_features
from glossfree.features.extractors import (
    build_extractor,
    clip_starts,
    motion_encoding,
    spatial_encoding,
)


def test_motion_encoding_hand_computed():
    """One point moving along x by one unit a frame, windows of 4, one coefficient: the centred
    trajectory [-1.5, -0.5, 0.5, 1.5] on sqrt(2/4) cos(pi (t + 1/2) / 4)."""
    points = np.zeros((4, 1, 3), dtype=np.float32)
    points[:, 0, 0] = np.arange(4)
    mask = np.ones((4, 1), dtype=bool)
    out = motion_encoding(points, mask, clip_length=4, stride=2, coefficients=1)
    expected = np.sqrt(0.5) * (-1.5 * np.cos(np.pi / 8) - 0.5 * np.cos(3 * np.pi / 8)
                               + 0.5 * np.cos(5 * np.pi / 8) + 1.5 * np.cos(7 * np.pi / 8))  # fmt: skip
    assert out.shape == (1, 2)  # [clips, 2 coordinates x 1 coefficient x 1 point]
    np.testing.assert_allclose(out[0], [expected, 0.0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(expected, -2.2304, atol=1e-4)


def test_motion_ignores_position_and_undetected_frames():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(37, 5, 3)).astype(np.float32)
    mask = np.ones((37, 5), dtype=bool)
    base = motion_encoding(points, mask, clip_length=16, stride=8, coefficients=4)
    assert base.shape == (len(clip_starts(37, 16, 8)), 2 * 4 * 5) == (4, 40)
    shifted = points + np.array([3.0, -2.0, 1.0], dtype=np.float32)  # a signer standing elsewhere
    np.testing.assert_allclose(motion_encoding(shifted, mask, clip_length=16, stride=8, coefficients=4), base, atol=1e-5)
    still = np.repeat(points[:1], 37, axis=0)
    assert np.abs(motion_encoding(still, mask, clip_length=16, stride=8, coefficients=4)).max() < 1e-6
    lost = mask.copy()
    lost[:, 2] = False  # point 2 never detected: its coefficients are 0, the others unchanged
    out = motion_encoding(points, lost, clip_length=16, stride=8, coefficients=4).reshape(4, 5, 2, 4)
    assert not out[:, 2].any()
    np.testing.assert_allclose(out[:, [0, 1, 3, 4]], base.reshape(4, 5, 2, 4)[:, [0, 1, 3, 4]], atol=1e-6)
    short = motion_encoding(points[:5], mask[:5], clip_length=16, stride=8, coefficients=4)
    assert short.shape == (1, 40)  # one window, the last frame repeated


def test_spatial_encoding_flags_detections():
    points = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    mask = np.array([[True, False, True], [True, True, True]])
    out = spatial_encoding(points, mask).reshape(2, 3, 4)
    np.testing.assert_array_equal(out[0, 1], [0, 0, 0, 0])  # undetected: zeros, flag 0
    np.testing.assert_array_equal(out[1, 2], [*points[1, 2], 1])


def test_pose_configs_and_errors():
    spatial, motion = load_extractor_config("spamo/pose_spatial"), load_extractor_config("spamo/pose_motion")
    assert build_extractor(spatial).dim == 4 * 203 and build_extractor(motion).dim == 2 * 4 * 203
    assert signature(spatial) != signature(motion)
    with pytest.raises(ConfigError, match="unknown keypoint layout 'nope'"):
        parse_extractor_config({"kind": "pose", "layout": "nope"})
    with pytest.raises(ConfigError, match=r"coefficients \(16\) must be < clip_length \(16\)"):
        parse_extractor_config({"kind": "pose", "encoding": "motion", "coefficients": 16})


def test_extract_pose_streams_from_pose_files(tiny_corpus, tmp_path):
    from glossfree.data.manifest import load_split
    from glossfree.data.pose_io import extract_keypoints, read_pose
    from glossfree.data.transforms import resample_fps

    root = tmp_path / "data"
    shutil.copytree(tiny_corpus, root)
    for name in ("pose_spatial", "pose_motion"):
        summary = extract_features(root, load_extractor_config(f"spamo/{name}"), name=name, progress=False)
        assert summary.written == 32 and not summary.failed
    record = load_split(root, "dev")[0]
    keypoints = resample_fps(extract_keypoints(read_pose(root / record.pose), "pose203", normalize=True), 12.5)
    spatial = FeatureCache(root, "pose_spatial").read(record.id)
    motion = FeatureCache(root, "pose_motion").read(record.id)
    assert spatial.features.shape == (keypoints.num_frames, 812) and spatial.fps == 12.5
    assert motion.features.shape == (len(clip_starts(keypoints.num_frames, 16, 8)), 1624) and motion.fps == 12.5 / 8
    torch.testing.assert_close(spatial.features, torch.from_numpy(spatial_encoding(keypoints.points, keypoints.mask)))
    info = json.loads((root / "features" / "pose_motion" / "extractor.json").read_text())
    assert info["dim"] == 1624 and info["config"]["encoding"] == "motion"
