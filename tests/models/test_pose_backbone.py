"""Pose backbone (paper 004): shapes, masking contracts, skeleton graphs, paper-size build."""

from __future__ import annotations

import pytest
import torch

from glossfree.config import validate
from glossfree.data.layouts import KeypointLayout, get_layout
from glossfree.errors import ConfigError
from glossfree.models.frontends.pose_backbone import PoseBackbone, PoseBackboneConfig
from glossfree.models.frontends.skeleton_graph import (
    face_contour_edges,
    group_adjacency,
    group_edges,
    normalized_subsets,
)

TINY = {
    "dim": 32, "agcn_channels": 8, "agcn_multipliers": [1, 2], "articulator_dim": 16, "dropout": 0.0,
    "conformer": {"num_layers": 2, "num_heads": 4, "dropout": 0.0},
}  # fmt: skip


def tiny_backbone(**override) -> PoseBackbone:
    torch.manual_seed(0)
    return PoseBackbone(validate(PoseBackboneConfig, {**TINY, **override}), "pose203").eval()


def test_output_shape_and_zero_padding(make_batch):
    backbone = tiny_backbone()
    batch = make_batch([12, 20])
    out = backbone(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
    assert out.shape == (2, 20, 32)
    assert torch.all(out[0, 12:] == 0)
    assert out[0, :12].abs().sum() > 0


def test_padding_never_changes_a_sample(make_batch):
    backbone = tiny_backbone()
    alone = make_batch([13])
    padded = make_batch([13, 31])
    with torch.no_grad():
        a = backbone(alone.keypoints, alone.keypoint_mask, alone.frame_mask)
        b = backbone(padded.keypoints, padded.keypoint_mask, padded.frame_mask)
    torch.testing.assert_close(b[0, :13], a[0], atol=1e-5, rtol=0)


def test_padded_frame_content_is_ignored(make_batch):
    """Garbage in padded frames (even with the point mask set) must not reach real frames."""
    backbone = tiny_backbone()
    batch = make_batch([10, 16])
    noisy_points = batch.keypoints.clone()
    noisy_mask = batch.keypoint_mask.clone()
    noisy_points[0, 10:] = 100.0
    noisy_mask[0, 10:] = True
    with torch.no_grad():
        clean = backbone(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
        noisy = backbone(noisy_points, noisy_mask, batch.frame_mask)
    torch.testing.assert_close(noisy[0, :10], clean[0, :10], atol=1e-5, rtol=0)


def test_hands_masked_in_every_frame_give_finite_output(make_batch):
    backbone = tiny_backbone()
    batch = make_batch([9, 14])
    layout = get_layout("pose203")
    mask = batch.keypoint_mask.clone()
    for hand in ("left_hand", "right_hand"):
        start, stop = layout.groups[hand]
        mask[:, :, start:stop] = False
    out = backbone(batch.keypoints, mask, batch.frame_mask)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in backbone.parameters() if p.grad is not None)


def test_masked_point_differs_from_point_at_origin(make_batch):
    backbone = tiny_backbone()
    batch = make_batch([8])
    at_origin = batch.keypoints.clone()
    at_origin[0, :, 0] = 0.0  # the nose detected at (0, 0, 0)
    detected = batch.keypoint_mask.clone()
    detected[0, :, 0] = True
    missing = detected.clone()
    missing[0, :, 0] = False
    with torch.no_grad():
        seen = backbone(at_origin, detected, batch.frame_mask)
        unseen = backbone(at_origin, missing, batch.frame_mask)
    assert (seen - unseen).abs().max() > 1e-4


def test_masked_point_coordinates_are_ignored(make_batch):
    backbone = tiny_backbone()
    batch = make_batch([8])
    moved = batch.keypoints.clone()
    moved[~batch.keypoint_mask] = 50.0
    with torch.no_grad():
        a = backbone(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
        b = backbone(moved, batch.keypoint_mask, batch.frame_mask)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_shared_hand_encoder_sees_mirrored_right_hand(make_batch):
    backbone = tiny_backbone()
    assert set(backbone.encoders) == {"body", "face", "hand"}
    batch = make_batch([10])
    layout = get_layout("pose203")
    left, right = (slice(*layout.groups[hand]) for hand in ("left_hand", "right_hand"))
    points = batch.keypoints.clone()
    mask = batch.keypoint_mask.clone()
    points[:, :, right] = points[:, :, left] * torch.tensor([-1.0, 1.0, 1.0])  # mirror image
    mask[:, :, right] = mask[:, :, left]
    with torch.no_grad():
        features = backbone.encode_articulators(points, mask, batch.frame_mask)
    torch.testing.assert_close(features["right_hand"], features["left_hand"], atol=1e-6, rtol=0)


def test_separate_hand_encoders_when_not_shared():
    backbone = tiny_backbone(share_hands=False)
    assert set(backbone.encoders) == {"body", "face", "left_hand", "right_hand"}


def test_joint_aggregation_is_not_a_mean():
    backbone = tiny_backbone()
    face = backbone.encoders["face"]
    # reshape [N * C] + detection flags [N] -> articulator_dim
    assert face.aggregate.in_features == 128 * 16 + 128
    assert face.aggregate.out_features == 16


def test_wrong_number_of_points_names_the_layout(make_batch):
    backbone = tiny_backbone()
    batch = make_batch([5], num_points=543)
    with pytest.raises(ConfigError, match=r"pose203.*\[B, T, 203, 3\].*543"):
        backbone(batch.keypoints, batch.keypoint_mask, batch.frame_mask)


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"tiny: unknown key 'agcn_layers'.*valid keys:.*agcn_multipliers"):
        validate(PoseBackboneConfig, {"agcn_layers": 4}, source="tiny")


def test_even_conformer_kernel_is_rejected():
    with pytest.raises(ConfigError, match=r"conformer\.kernel_size.*odd"):
        validate(PoseBackboneConfig, {"conformer": {"kernel_size": 4}})


# --- skeleton graphs ------------------------------------------------------------------------------


def test_pose203_group_graphs():
    layout = get_layout("pose203")
    assert len(group_edges(layout, "body")) == 35
    assert len(group_edges(layout, "left_hand")) == 21
    assert group_edges(layout, "left_hand") == group_edges(layout, "right_hand")
    assert len(group_edges(layout, "face")) == 124  # every contour edge: the 128 points are the contours
    adjacency = group_adjacency(layout, "face")
    assert adjacency.shape == (128, 128)
    assert (adjacency == adjacency.T).all() and adjacency.diagonal().sum() == 0
    assert (adjacency.sum(axis=1) > 0).all()  # every face point lies on a contour


def test_holistic_face_keeps_only_contour_edges():
    layout = get_layout("holistic")
    adjacency = group_adjacency(layout, "face")
    assert adjacency.shape == (468, 468)
    assert int(adjacency.sum()) == 2 * 124
    assert (adjacency.sum(axis=1) > 0).sum() == 128


def test_normalized_subsets():
    adjacency = group_adjacency(get_layout("pose203"), "left_hand")
    subsets = normalized_subsets(adjacency)
    assert subsets.shape == (2, 21, 21)
    assert (subsets[0] == torch.eye(21).numpy()).all()
    # wrist (degree 3) -- thumb CMC (degree 2): 1 / sqrt(3 * 2)
    assert subsets[1, 0, 1] == pytest.approx(1 / 6**0.5)


def test_edges_match_mediapipe():
    solutions = pytest.importorskip("mediapipe.python.solutions")
    from glossfree.data.layouts import BODY_LIMBS, HAND_LIMBS

    holistic = solutions.holistic
    assert {frozenset(e) for e in face_contour_edges()} == {frozenset(e) for e in holistic.FACEMESH_CONTOURS}
    assert {frozenset(e) for e in BODY_LIMBS} == {frozenset(e) for e in holistic.POSE_CONNECTIONS}
    assert {frozenset(e) for e in HAND_LIMBS} == {frozenset(e) for e in holistic.HAND_CONNECTIONS}


# --- sliding-window Conformer and attentive pooling (paper 004, App. B.3, Sec. 3.1) ---------------

WINDOWED = {**TINY, "conformer": {**TINY["conformer"], "windowed": {"window": 6, "stride": 2}}}


@pytest.mark.parametrize("length", [4, 13])
def test_windowed_backbone_padding_never_changes_a_sample(make_batch, length):
    backbone = tiny_backbone(**WINDOWED)
    alone = make_batch([length])
    padded = make_batch([length, 31])
    noisy = padded.keypoints.clone()
    noisy[0, length:] = 50.0  # garbage in the padding must not matter either
    with torch.no_grad():
        a = backbone(alone.keypoints, alone.keypoint_mask, alone.frame_mask)
        b = backbone(noisy, padded.keypoint_mask, padded.frame_mask)
    torch.testing.assert_close(b[0, :length], a[0], atol=1e-5, rtol=0)
    assert torch.all(b[0, length:] == 0)


def test_windowed_backbone_runs_articulators_on_all_frames_and_conformer_on_windows(make_batch):
    whole, windows = tiny_backbone(), tiny_backbone(**WINDOWED)
    windows.load_state_dict(whole.state_dict())  # same weights: only the temporal mode differs
    batch = make_batch([20])
    with torch.no_grad():
        hidden = whole.frame_features(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
        expected = whole.conformer.encode_windows(hidden, batch.frame_mask, windows.config.conformer.windowed)
        out = windows(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
        full = whole(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    assert not torch.allclose(out, full, atol=1e-3)


def test_pool_shape_weights_and_masking(make_batch):
    backbone = tiny_backbone()
    batch = make_batch([9, 14])
    noisy = batch.keypoints.clone()
    noisy[0, 9:] = 50.0
    with torch.no_grad():
        pooled, weights = backbone.pool(batch.keypoints, batch.keypoint_mask, batch.frame_mask, return_weights=True)
        noisy_pooled = backbone.pool(noisy, batch.keypoint_mask, batch.frame_mask)
        alone = backbone.pool(batch.keypoints[:1, :9], batch.keypoint_mask[:1, :9], batch.frame_mask[:1, :9])
    assert pooled.shape == (2, 32) and weights.shape == (2, 14)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))
    assert torch.all(weights[0, 9:] == 0) and torch.all(weights[0, :9] > 0)
    torch.testing.assert_close(noisy_pooled, pooled, atol=1e-5, rtol=0)
    torch.testing.assert_close(alone[0], pooled[0], atol=1e-5, rtol=0)


def test_pool_gradient_reaches_weights_and_valid_inputs(make_batch):
    backbone = tiny_backbone(**WINDOWED)  # pool uses the whole clip even when forward is windowed
    batch = make_batch([7, 12])
    keypoints = batch.keypoints.clone().requires_grad_(True)
    backbone.pool(keypoints, batch.keypoint_mask, batch.frame_mask).pow(2).sum().backward()
    assert keypoints.grad[0, :7].abs().sum() > 0 and torch.all(keypoints.grad[0, 7:] == 0)
    attn = backbone.conformer.blocks[0].attn
    assert attn.q.weight.grad is not None and attn.q.weight.grad.abs().sum() > 0  # through the maps too


def test_paper_recipe_runs_the_conformer_on_24_frame_windows_stride_2():
    from glossfree.training.tasks import load_recipe

    recipe = load_recipe("pose_perceiver/phoenix14t")
    windows = recipe.model.frontend.conformer.windowed
    assert (windows.window, windows.stride, windows.combine) == (24, 2, "mean")
    assert PoseBackboneConfig().conformer.windowed is None  # other recipes keep the whole sequence


# --- paper size --------------------------------------------------------------------------------


def test_paper_size_builds_and_runs_on_meta():
    config = PoseBackboneConfig()
    assert (config.conformer.num_layers, config.conformer.num_heads, config.conformer.kernel_size) == (
        4,
        8,
        5,
    )
    assert (len(config.agcn_multipliers), config.temporal_kernel) == (4, 7)
    with torch.device("meta"):
        backbone = PoseBackbone(config, "pose203")
        out = backbone(
            torch.zeros(2, 250, 203, 3),
            torch.ones(2, 250, 203, dtype=torch.bool),
            torch.ones(2, 250, dtype=torch.bool),
        )
    assert out.shape == (2, 250, 512)
    count = sum(p.numel() for p in backbone.parameters())
    assert 40e6 < count < 46e6  # 43.1M: Conformer ~27M, joint aggregation (fc2) ~12M, AGCN ~3M


@pytest.mark.parametrize("length", [12, 13])
def test_stacked_frames_halve_the_steps_and_keep_padding_out(make_batch, length):
    backbone = tiny_backbone(stack_frames=2)
    alone = make_batch([length])
    padded = make_batch([length, 31])
    with torch.no_grad():
        a = backbone(alone.keypoints, alone.keypoint_mask, alone.frame_mask)
        b = backbone(padded.keypoints, padded.keypoint_mask, padded.frame_mask)
    steps = (length + 1) // 2
    assert a.shape == (1, steps, 32) and b.shape == (2, 16, 32)
    assert backbone.output_mask(padded.frame_mask).sum(dim=1).tolist() == [steps, 16]
    assert torch.all(b[0, steps:] == 0)
    torch.testing.assert_close(b[0, :steps], a[0], atol=1e-5, rtol=0)


def test_stacked_frames_reach_their_own_step_only(make_batch):
    """Without AGCN layers (which mix neighbouring steps) the step features are per step: moving
    frame 3, the second frame of step 1, changes step 1 only, and both frames of a step matter."""
    backbone = tiny_backbone(stack_frames=2, agcn_multipliers=[])
    batch = make_batch([10])
    with torch.no_grad():
        before = backbone.frame_features(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
        changes = []
        for frame in (2, 3):
            moved = batch.keypoints.clone()
            moved[0, frame] += 0.5
            after = backbone.frame_features(moved, batch.keypoint_mask, batch.frame_mask)
            changes.append((after - before).abs().amax(dim=-1)[0])  # [5]
    for changed in changes:
        assert changed[1] > 1e-4
        assert torch.all(changed[[0, 2, 3, 4]] == 0)
    assert not torch.allclose(changes[0], changes[1])


def test_standardizer_uses_detected_points_and_running_statistics(make_batch):
    backbone = tiny_backbone(standardize=True).train()
    standardizer = backbone.standardizer
    batch = make_batch([9, 14])
    points = batch.keypoints * 3.0 + 2.0
    mask = batch.keypoint_mask & batch.frame_mask.unsqueeze(-1)
    mask[:, :, 0] = False
    mask[0, 0, 0] = True  # point 0 detected once: too few for batch statistics, running ones used
    out = standardizer(points * mask.unsqueeze(-1), mask)
    assert torch.all(out[~mask] == 0)
    values = out[:, :, 1:][mask[:, :, 1:]]  # [valid, 3]
    torch.testing.assert_close(values.mean(dim=0), torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(values.var(dim=0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
    torch.testing.assert_close(out[0, 0, 0], points[0, 0, 0], atol=1e-4, rtol=0)  # running mean 0, var 1
    assert standardizer.running_mean[1].abs().sum() > 0 and standardizer.running_mean[0].abs().sum() == 0
    standardizer.eval()
    again = standardizer(points * mask.unsqueeze(-1), mask)
    expected = (points[:, :, 1] - standardizer.running_mean[1]) / (standardizer.running_var[1] + 1e-5).sqrt()
    torch.testing.assert_close(again[:, :, 1][mask[:, :, 1]], expected[mask[:, :, 1]], atol=1e-4, rtol=0)


def test_stack_frames_must_be_positive():
    with pytest.raises(ConfigError, match="stack_frames"):
        validate(PoseBackboneConfig, {**TINY, "stack_frames": 0})


def test_batch_norm_statistics_are_shared_by_both_hands_in_training_and_evaluation(make_batch):
    """With agcn_norm: batch the shared hand encoder runs once on both hands, so the statistics it
    normalises with in training are the ones its running estimates hold for evaluation."""
    backbone = tiny_backbone(agcn_norm="batch").train()
    calls = []
    backbone.encoders["hand"].register_forward_hook(lambda *_: calls.append(1))
    for module in backbone.modules():
        if hasattr(module, "running_mean"):
            module.momentum = 1.0  # running estimates := the last batch's statistics
    batch = make_batch([16, 16])
    with torch.no_grad():
        trained = backbone.encode_articulators(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
        backbone.eval()
        evaluated = backbone.encode_articulators(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
    assert len(calls) == 2  # one per forward, not one per hand
    for group in ("left_hand", "right_hand", "body", "face"):
        # running variances are unbiased, batch ones biased: equal up to count / (count - 1)
        torch.testing.assert_close(evaluated[group], trained[group], atol=2e-3, rtol=1e-2)


def test_masked_batch_norm_leaves_padded_frames_out_of_its_statistics():
    from glossfree.models.frontends.pose_backbone import MaskedBatchNorm2d

    torch.manual_seed(0)
    x = torch.randn(2, 4, 6, 5) * 3 + 1  # [B, C, T, N]
    mask = torch.ones(2, 6, dtype=torch.bool)
    padded = torch.cat([x, torch.full((2, 4, 3, 5), 100.0)], dim=2)  # garbage in 3 padded frames
    padded_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    plain, masked = MaskedBatchNorm2d(4).train(), MaskedBatchNorm2d(4).train()
    out, out_padded = plain(x, mask), masked(padded, padded_mask)
    torch.testing.assert_close(out_padded[:, :, :6], out)
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(dim=(0, 2, 3), unbiased=False), torch.ones(4), atol=1e-3, rtol=0)
    torch.testing.assert_close(masked.running_mean, 0.1 * x.mean(dim=(0, 2, 3)))
    masked.eval()
    expected = (x - masked.running_mean[:, None, None]) / (masked.running_var[:, None, None] + 1e-5).sqrt()
    torch.testing.assert_close(masked(padded, padded_mask)[:, :, :6], expected)


def test_hand_origin_wrist_measures_fingers_from_their_wrist(make_batch):
    """The wrist keeps its position, every other hand point becomes relative to it, nothing else changes."""
    backbone = tiny_backbone(hand_origin="wrist")
    layout = get_layout("pose203")
    batch = make_batch([6])
    mask = batch.keypoint_mask.clone()
    left_start, left_stop = layout.groups["left_hand"]
    right_start, _ = layout.groups["right_hand"]
    mask[0, :, left_start:left_stop] = True
    mask[0, :, right_start] = False  # right wrist lost: its fingers have no origin
    points = batch.keypoints * mask.unsqueeze(-1)
    moved = backbone._fingers_from_wrist(points, mask)
    wrist = points[0, :, left_start]
    torch.testing.assert_close(moved[0, :, left_start], wrist)
    torch.testing.assert_close(moved[0, :, left_start + 5], points[0, :, left_start + 5] - wrist)
    assert torch.all(moved[0, :, right_start + 1 : right_start + 21] == 0)
    outside = torch.ones(layout.num_points, dtype=torch.bool)
    outside[left_start + 1 : left_stop] = False
    outside[right_start + 1 : right_start + 21] = False
    torch.testing.assert_close(moved[0][:, outside], points[0][:, outside])


def test_hand_origin_wrist_is_translation_invariant_for_the_handshape(make_batch):
    """Moving a whole hand changes only its wrist's coordinates in what fc1 reads."""
    backbone = tiny_backbone(hand_origin="wrist")
    start, stop = get_layout("pose203").groups["left_hand"]
    batch = make_batch([5])
    mask = batch.keypoint_mask.clone()
    mask[0, :, start:stop] = True
    shifted = batch.keypoints.clone()
    shifted[0, :, start:stop, :2] += 0.3
    a = backbone._fingers_from_wrist(batch.keypoints, mask)
    b = backbone._fingers_from_wrist(shifted, mask)
    torch.testing.assert_close(b[0, :, start + 1 : stop], a[0, :, start + 1 : stop])
    assert not torch.allclose(b[0, :, start], a[0, :, start])


def test_hand_origin_wrist_needs_a_hand_group():
    full = get_layout("pose203")
    start, stop = full.groups["body"]
    body_only = KeypointLayout(name="body_only", points=full.points[start:stop], groups={"body": (0, stop - start)})
    config = validate(PoseBackboneConfig, {**TINY, "hand_origin": "wrist"})
    with pytest.raises(ConfigError, match="hand_origin: wrist needs a left_hand or right_hand group; layout 'body_only'"):
        PoseBackbone(config, body_only)
