"""ISLR model and losses (paper 004, Sec. 3.3, 4.2, 4.4): shapes, masks, hand-computed losses,
contrastive weights with duplicate labels, articulator masking, late fusion, accuracy, the lip
backbone as the second stream, and the pose backbone's stack_frames / agcn_norm options."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from glossfree.config import validate
from glossfree.data.datasets import collate_pose
from glossfree.errors import ConfigError, DataError
from glossfree.models.islr import (
    ArticulatorMaskingConfig,
    ISLRModel,
    ISLRModelConfig,
    articulator_mask,
    late_fusion,
)
from glossfree.training.tasks.islr import build_islr_model
from glossfree.objectives.islr import (
    ISLRArticulatorAuxConfig,
    ISLRContrastiveConfig,
    ISLRCrossEntropyConfig,
    PerClassAccuracy,
    contrastive_weights,
    topk_accuracy,
    weighted_contrastive_loss,
)

BACKBONE = {
    "dim": 32, "agcn_channels": 8, "agcn_multipliers": [1], "articulator_dim": 16, "dropout": 0.0,
    "conformer": {"num_layers": 1, "num_heads": 4, "dropout": 0.0},
}  # fmt: skip
LIP = {
    "kind": "pose_backbone", "dim": 16, "agcn_channels": 4, "agcn_multipliers": [1], "articulator_dim": 8,
    "dropout": 0.0, "conformer": {"num_layers": 1, "num_heads": 2, "dropout": 0.0},
}  # fmt: skip
LABELS = ["AUTO", "HAUS", "WETTER"]


def objectives():
    return [
        ISLRCrossEntropyConfig(),
        ISLRArticulatorAuxConfig(conformer={"num_layers": 1, "num_heads": 4, "dropout": 0.0}),
        ISLRContrastiveConfig(hidden_dim=16, proj_dim=8),
    ]


def tiny_model(**override) -> ISLRModel:
    torch.manual_seed(0)
    config = validate(ISLRModelConfig, {"backbone": BACKBONE, **override}, source="tiny")
    return build_islr_model(config, LABELS, torch.randn(len(LABELS), 12), objectives())


def clip_batch(lengths, labels, seed=0):
    generator = torch.Generator().manual_seed(seed)
    items = [
        {
            "id": f"clip{i}",
            "keypoints": torch.randn(length, 203, 3, generator=generator),
            "keypoint_mask": torch.rand(length, 203, generator=generator) > 0.2,
            "text": label,
            "language": "de",
        }
        for i, (length, label) in enumerate(zip(lengths, labels))
    ]
    return collate_pose(items)


# ------------------------------------------------------------------------------------- pure losses
def test_contrastive_weights_with_duplicate_labels():
    weights = contrastive_weights(torch.tensor([3, 1, 3, 3, 2]))
    third = 1.0 / 3.0
    expected = torch.tensor([
        [third, 0, third, third, 0],
        [0, 1, 0, 0, 0],
        [third, 0, third, third, 0],
        [third, 0, third, third, 0],
        [0, 0, 0, 0, 1],
    ])  # fmt: skip
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(5))


def test_contrastive_loss_hand_values():
    # Distinct labels, v_i = t_i orthonormal: s = [[10, 0], [0, 10]] -> loss = log(1 + e^-10).
    eye = torch.eye(2)
    loss = weighted_contrastive_loss(eye, eye, torch.tensor([0, 1]), 0.1)
    assert loss.item() == pytest.approx(math.log1p(math.exp(-10)), abs=1e-7)  # float32 log-softmax
    # Two clips of one label: both texts are the label's, every row is log(1/2) twice with weight 1/2.
    visual = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    text = torch.tensor([[0.3, 0.4], [0.3, 0.4]])
    loss = weighted_contrastive_loss(visual, text, torch.tensor([5, 5]), 0.1)
    assert loss.item() == pytest.approx(math.log(2), rel=1e-5)


def test_contrastive_loss_against_a_scalar_loop():
    visual = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 2.0]])
    text = torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 1.0]])  # labels 0, 0, 1: rows 0 and 1 share a text
    labels = [0, 0, 1]
    tau = 0.1

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    total = 0.0
    for i in range(3):
        logits = [cos(visual[i].tolist(), text[j].tolist()) / tau for j in range(3)]
        log_norm = math.log(sum(math.exp(s) for s in logits))
        count = labels.count(labels[i])
        total -= sum((logits[j] - log_norm) / count for j in range(3) if labels[j] == labels[i])
    expected = total / 3
    loss = weighted_contrastive_loss(visual, text, torch.tensor(labels), tau)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_topk_accuracy():
    logits = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = torch.tensor([1, 1, 0, 0])
    assert topk_accuracy(logits, labels, 1).item() == pytest.approx(0.5)  # rows 0 and 3
    assert topk_accuracy(logits, labels, 2).item() == pytest.approx(0.75)  # row 1 too; row 2's 0 is last
    assert topk_accuracy(logits, labels, 5).item() == pytest.approx(1.0)  # k capped at the 3 classes


def test_per_class_accuracy_over_batches():
    metric = PerClassAccuracy(4)
    # batch 1: class 0 right twice, class 1 wrong; batch 2: class 0 wrong, class 1 right; class 3 predicted, never a target
    metric.update(torch.tensor([[5.0, 0, 0, 0], [5.0, 0, 0, 0], [5.0, 0, 0, 0]]), torch.tensor([0, 0, 1]))
    metric.update(torch.tensor([[0, 0, 0, 5.0], [0, 5.0, 0, 0]]), torch.tensor([0, 1]))
    # class 0: 2/3, class 1: 1/2 -> per-class (2/3 + 1/2) / 2 = 7/12; per-instance would be 3/5
    assert metric.compute().item() == pytest.approx(7 / 12)


def test_late_fusion_weights():
    pose, lip = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 10.0]])
    torch.testing.assert_close(late_fusion(pose, lip), torch.tensor([[0.7, 3.0]]))
    torch.testing.assert_close(late_fusion(pose, lip, (0.5, 0.5)), torch.tensor([[0.5, 5.0]]))
    assert late_fusion(pose, None) is pose


# -------------------------------------------------------------------------------------- masking
def test_masking_never_masks_more_than_two_articulators():
    config = ArticulatorMaskingConfig(probability=0.5, max_articulators=2)
    masked = articulator_mask(4000, 4, config, generator=torch.Generator().manual_seed(1))
    counts = masked.sum(dim=1)
    assert counts.max().item() == 2
    assert set(counts.tolist()) == {0, 1, 2}
    assert (counts > 0).float().mean().item() == pytest.approx(0.5, abs=0.03)
    assert masked.float().mean(dim=0).min().item() > 0.15  # every articulator gets masked sometimes
    always = articulator_mask(200, 4, ArticulatorMaskingConfig(probability=1.0), generator=torch.Generator().manual_seed(2))
    assert bool((always.sum(dim=1) >= 1).all()) and bool((always.sum(dim=1) <= 2).all())


def test_masking_only_in_training():
    model = tiny_model(masking={"probability": 1.0, "max_articulators": 2})
    batch = clip_batch([10, 12, 9, 11], ["AUTO", "HAUS", "WETTER", "AUTO"])
    model.train()
    trained = model(batch)
    assert bool((trained.masked.sum(dim=1) >= 1).all()) and int(trained.masked.sum(dim=1).max()) <= 2
    model.eval()
    evaluated = model(batch)
    assert not bool(evaluated.masked.any())
    again = model(batch)
    torch.testing.assert_close(evaluated.logits, again.logits)  # evaluation is deterministic


def test_a_masked_articulator_is_ignored():
    model = tiny_model().eval()
    batch = clip_batch([10, 14], ["AUTO", "HAUS"])
    groups = model.backbone.groups
    index = groups.index("left_hand")
    start, stop = model.backbone.layout.groups["left_hand"]
    masked = torch.zeros(2, len(groups), dtype=torch.bool)
    masked[:, index] = True
    noisy = batch.keypoints.clone()
    noisy[:, :, start:stop] += 5.0
    with torch.no_grad():
        clean, _, _ = model.pose_features(batch.keypoints, batch.keypoint_mask, batch.frame_mask, masked)
        perturbed, _, _ = model.pose_features(noisy, batch.keypoint_mask, batch.frame_mask, masked)
        unmasked, _, _ = model.pose_features(noisy, batch.keypoint_mask, batch.frame_mask)
        reference, _, _ = model.pose_features(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
    torch.testing.assert_close(perturbed, clean, atol=1e-5, rtol=0)
    assert (unmasked - reference).abs().max() > 1e-3  # without the mask the left hand does count


def test_max_articulators_below_the_group_count():
    with pytest.raises(ConfigError, match="max_articulators 4 would mask every articulator"):
        validate(ISLRModelConfig, {"backbone": BACKBONE, "masking": {"max_articulators": 4}})


# ------------------------------------------------------------------------------------ the model
def test_shapes_and_pool_equivalence():
    model = tiny_model().eval()
    batch = clip_batch([9, 15, 12], ["AUTO", "WETTER", "HAUS"])
    out = model(batch)
    assert out.logits.shape == (3, 3)
    assert out.features["pose"].shape == (3, 32)
    assert set(out.articulators) == {"body", "face", "left_hand", "right_hand"}
    assert all(f.shape == (3, 15, 16) for f in out.articulators.values())
    assert out.step_mask.sum(dim=1).tolist() == [9, 15, 12]
    assert out.labels.tolist() == [0, 2, 1]
    # Nothing masked: the clip feature is PoseBackbone.pool's (Sec. 3.1 attentive pooling).
    torch.testing.assert_close(out.features["pose"], model.backbone.pool(batch.keypoints, batch.keypoint_mask, batch.frame_mask))
    # Padding does not change a clip's prediction.
    alone = model(clip_batch([9], ["AUTO"]))
    torch.testing.assert_close(alone.logits[0], out.logits[0], atol=1e-5, rtol=0)


def test_losses_against_a_hand_computed_tiny_case():
    model = tiny_model().eval()
    batch = clip_batch([8, 10, 9, 11], ["AUTO", "HAUS", "AUTO", "WETTER"])
    weights = {"islr_ce": 1.0, "islr_aux": 0.5, "islr_contrastive": 0.25}
    out = model(batch, objectives=weights)
    labels = torch.tensor([0, 1, 0, 2])
    with torch.no_grad():
        pooled = model.backbone.pool(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
        ce = F.cross_entropy(model.classifier(pooled), labels)
        # Articulator auxiliary loss: each articulator alone through the shared aux network and classifier.
        aux_head = model.objectives["islr_aux"]
        articulators = model.backbone.encode_articulators(batch.keypoints, batch.keypoint_mask, batch.frame_mask)
        mask = batch.frame_mask
        per_group = []
        for group in model.backbone.groups:
            hidden = aux_head.fc1(articulators[group]) * mask.unsqueeze(-1)
            encoded, maps = aux_head.conformer.encode(hidden, mask, return_attention=True)
            feature, _ = aux_head.pool(encoded, maps, mask)
            per_group.append(F.cross_entropy(model.classifier(feature), labels))
        aux = sum(per_group) / 4
        head = model.objectives["islr_contrastive"]
        visual = F.normalize(head.visual["pose"](pooled), dim=-1)
        text = F.normalize(head.text["pose"](model.label_embeddings[labels]), dim=-1)
        sims = visual @ text.T / 0.1
        rows = []
        for i in range(4):
            positives = [j for j in range(4) if labels[j] == labels[i]]
            log_probs = sims[i] - torch.logsumexp(sims[i], dim=0)
            rows.append(-sum(log_probs[j] for j in positives) / len(positives))
        contrastive = sum(rows) / 4
    torch.testing.assert_close(out.losses["islr_ce"], ce, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.losses["islr_aux"], aux, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.losses["islr_contrastive"], contrastive, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.loss, ce + 0.5 * aux + 0.25 * contrastive, atol=1e-5, rtol=1e-5)
    predicted = model.classifier(pooled).argmax(dim=1)
    assert out.metrics["islr_ce_top1"].item() == pytest.approx((predicted == labels).float().mean().item())
    per_class = [(predicted[labels == c] == c).float().mean().item() for c in labels.unique()]
    assert out.metrics["islr_ce_class_top1"].compute().item() == pytest.approx(sum(per_class) / len(per_class))


def test_gradients_reach_backbone_classifier_and_heads():
    model = tiny_model()
    model.train()
    out = model(clip_batch([10, 12, 8], ["AUTO", "HAUS", "AUTO"]))
    out.loss.backward()
    for part in ("backbone.fuse", "classifier", "objectives.islr_aux.fc1", "objectives.islr_contrastive.visual"):
        grads = [p.grad for name, p in model.named_parameters() if name.startswith(part)]
        assert grads and all(g is not None and g.abs().sum() > 0 for g in grads), part
    assert model.parts() == ["backbone", "classifier", "objectives.islr_aux", "objectives.islr_contrastive"]


def test_second_stream_is_late_fused():
    model = tiny_model(lip=LIP).eval()
    batch = clip_batch([10, 13], ["HAUS", "WETTER"])
    out = model(batch)
    assert set(out.stream_logits) == {"pose", "lip"} and out.features["lip"].shape == (2, 16)
    torch.testing.assert_close(out.logits, 0.7 * out.stream_logits["pose"] + 0.3 * out.stream_logits["lip"])
    ce = F.cross_entropy(out.stream_logits["pose"], out.labels) + F.cross_entropy(out.stream_logits["lip"], out.labels)
    torch.testing.assert_close(out.losses["islr_ce"], ce)  # each stream trained on its own CE (Sec. 3.3)
    assert {"lip_backbone", "lip_classifier"} <= set(model.parts())
    pose_only = tiny_model(lip=LIP, fusion_weights=[1.0, 0.0]).eval()(batch)
    torch.testing.assert_close(pose_only.logits, pose_only.stream_logits["pose"])


def test_unknown_label_names_the_clip():
    model = tiny_model()
    with pytest.raises(DataError, match=r"'clip1': 'ZUG'.*training split"):
        model(clip_batch([8, 9], ["AUTO", "ZUG"]))


def test_model_rejects_slt_objectives_and_bad_embeddings():
    from glossfree.objectives import LMCrossEntropyConfig

    config = validate(ISLRModelConfig, {"backbone": BACKBONE})
    with pytest.raises(ConfigError, match="not an ISLR objective"):
        build_islr_model(config, LABELS, torch.randn(3, 4), [LMCrossEntropyConfig()])
    with pytest.raises(ConfigError, match=r"label_embeddings must be \[3, E\]"):
        build_islr_model(config, LABELS, torch.randn(2, 4))


def test_any_frontend_kind_as_second_stream():
    """A cached feature stream stands in for the lip backbone: its per-step output is mean-pooled."""
    model = tiny_model(lip={"kind": "features", "stream": "lip", "input_dim": 6, "dim": 10, "dropout": 0.0}).eval()
    batch = clip_batch([7, 9], ["AUTO", "HAUS"])
    generator = torch.Generator().manual_seed(5)
    lip = torch.randn(2, 9, 6, generator=generator)
    mask = torch.tensor([[True] * 7 + [False] * 2, [True] * 9])
    lip[0, 7:] = 0.0
    batch.features["lip"], batch.masks["features:lip"] = lip, mask
    assert model.required_inputs() == {"keypoints", "features:lip"}
    out = model(batch)
    steps = model.lip_backbone(lip, mask)
    expected = torch.stack([steps[0, :7].mean(dim=0), steps[1].mean(dim=0)])
    torch.testing.assert_close(out.features["lip"], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.logits, 0.7 * out.stream_logits["pose"] + 0.3 * model.lip_classifier(expected), atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------ the paper's lip backbone (Sec. 3.3, 4.4)
LIP_CROPS = {
    "kind": "lip_backbone", "source": "crops", "crop": {"size": 16}, "stem_channels": 4, "channels": [4, 8],
    "blocks": 1, "dim": 16, "dropout": 0.0, "conformer": {"num_layers": 1, "num_heads": 2, "dropout": 0.0},
}  # fmt: skip


def lip_batch(lengths, labels, seed=0, undetected=()):
    """Clips with keypoints and 16x16 lip crops; ``undetected`` (sample, frame) pairs have no face."""
    generator = torch.Generator().manual_seed(seed)
    items = []
    for i, (length, label) in enumerate(zip(lengths, labels)):
        detected = torch.ones(length, dtype=torch.bool)
        for sample, frame in undetected:
            if sample == i:
                detected[frame] = False
        items.append({
            "id": f"clip{i}", "text": label, "language": "de",
            "keypoints": torch.randn(length, 203, 3, generator=generator),
            "keypoint_mask": torch.rand(length, 203, generator=generator) > 0.2,
            "lips": torch.randn(length, 16, 16, generator=generator), "lip_mask": detected,
        })  # fmt: skip
    return collate_pose(items)


def test_lip_backbone_stream_pools_attentively_and_is_late_fused():
    """The lip stream's clip feature is LipBackbone.pool (attentive pooling of the same per-step output
    the SLT model reads); logits = 0.7 pose + 0.3 lip; padding changes no clip."""
    from glossfree.models.frontends.lip_backbone import LipBackbone

    model = tiny_model(lip=LIP_CROPS).eval()
    assert isinstance(model.lip_backbone, LipBackbone) and model.required_inputs() == {"keypoints", "lips"}
    batch = lip_batch([9, 12, 7], ["AUTO", "HAUS", "WETTER"], undetected=[(1, 3)])
    out = model(batch)
    lip = model.lip_backbone
    with torch.no_grad():
        steps = lip(batch.lips, batch.masks["lips"], batch.lip_mask)  # what an SLT model's lip frontend gives
        hidden = lip.frame_features(batch.lips, batch.masks["lips"], batch.lip_mask)
        encoded, maps = lip.conformer.encode(hidden, batch.masks["lips"], return_attention=True)
        mean_map = torch.stack(maps).mean(dim=(0, 2))  # [B, T, T]: blocks and heads
        expected = []
        for b, length in enumerate([9, 12, 7]):
            weights = mean_map[b, :length, :length].mean(dim=0)  # mean over the valid queries
            expected.append(weights @ encoded[b, :length])
    torch.testing.assert_close(encoded, steps)
    torch.testing.assert_close(out.features["lip"], torch.stack(expected), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.stream_logits["lip"], model.lip_classifier(out.features["lip"]))
    torch.testing.assert_close(out.logits, 0.7 * out.stream_logits["pose"] + 0.3 * out.stream_logits["lip"])
    single = collate_pose([{
        "id": "clip2", "text": "WETTER", "language": "de",
        "keypoints": batch.keypoints[2, :7], "keypoint_mask": batch.keypoint_mask[2, :7],
        "lips": batch.lips[2, :7], "lip_mask": batch.lip_mask[2, :7],
    }])  # fmt: skip
    alone = model(single)
    torch.testing.assert_close(alone.logits[0], out.logits[2], atol=1e-5, rtol=0)
    # a frame without a face is blanked: its crop does not count
    changed = lip_batch([9, 12, 7], ["AUTO", "HAUS", "WETTER"], undetected=[(1, 3)])
    changed.lips[1, 3] += 7.0
    torch.testing.assert_close(model(changed).features["lip"], out.features["lip"])


def test_both_streams_are_trained_by_their_own_losses():
    model = tiny_model(lip=LIP_CROPS).train()
    out = model(lip_batch([10, 12, 8, 9], ["AUTO", "HAUS", "AUTO", "WETTER"]))
    assert set(out.losses) == {"islr_ce", "islr_aux", "islr_contrastive"}
    out.loss.backward()
    for part in ("backbone.", "classifier.", "lip_backbone.visual.", "lip_backbone.proj.", "lip_backbone.conformer.",
                 "lip_classifier.", "objectives.islr_contrastive.visual.lip.", "objectives.islr_contrastive.visual.pose."):
        grads = [(name, p.grad) for name, p in model.named_parameters() if name.startswith(part)]
        assert grads, part
        assert all(g is not None and g.abs().sum() > 0 for _, g in grads), [n for n, g in grads if g is None or not g.abs().sum()]
    # independent streams (Sec. 3.3): the lip loss terms never reach the pose backbone and vice versa
    model.zero_grad()
    out = model(lip_batch([10, 12], ["AUTO", "HAUS"]))
    F.cross_entropy(out.stream_logits["lip"], out.labels).backward()
    assert all(p.grad is None or not p.grad.abs().sum() for p in model.backbone.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.lip_backbone.parameters())


def test_lip_backbone_stream_without_its_input_is_a_clear_error():
    model = tiny_model(lip=LIP_CROPS).eval()
    with pytest.raises(ConfigError, match=r"lip stream \(lip_backbone, source: crops\) reads 'lips'"):
        model(clip_batch([8, 9], ["AUTO", "HAUS"]))


# ------------------------------------------------------- the pose backbone's step-rate and norm options
@pytest.mark.parametrize(
    "options", [{"stack_frames": 2, "agcn_norm": "batch"}, {"stack_frames": 2, "agcn_norm": "layer", "standardize": True},
                {"stack_frames": 1, "agcn_norm": "batch"}],
    ids=["stack2-batch", "stack2-layer-standardize", "stack1-batch"],
)  # fmt: skip
def test_pooling_and_masking_with_the_backbone_options(options):
    """ISLR pooling, articulator masking and the auxiliary loss on the backbone's output steps
    (``ceil(T / stack_frames)``) with the masked BatchNorm of 2s-AGCN."""
    torch.manual_seed(0)
    config = validate(ISLRModelConfig, {"backbone": {**BACKBONE, **options}, "masking": {"probability": 1.0}})
    model = build_islr_model(config, LABELS, torch.randn(len(LABELS), 12), objectives())
    lengths, size = [9, 15, 12], options["stack_frames"]
    batch = clip_batch(lengths, ["AUTO", "WETTER", "HAUS"])
    model.train()
    trained = model(batch)
    steps = [-(-n // size) for n in lengths]
    assert trained.step_mask.sum(dim=1).tolist() == steps and trained.step_mask.shape[1] == max(steps)
    assert all(f.shape == (3, max(steps), 16) for f in trained.articulators.values())
    assert bool((trained.masked.sum(dim=1) >= 1).all()) and int(trained.masked.sum(dim=1).max()) <= 2
    trained.loss.backward()
    assert all(p.grad is not None for name, p in model.named_parameters() if name.startswith(("backbone.encoders", "backbone.fuse")))
    model.eval()
    with torch.no_grad():
        out = model(batch)
        # nothing masked in evaluation: the clip feature is PoseBackbone.pool's
        torch.testing.assert_close(out.features["pose"], model.backbone.pool(batch.keypoints, batch.keypoint_mask, batch.frame_mask))
        # a masked articulator is ignored (with BatchNorm in eval, running statistics)
        index = model.backbone.groups.index("face")
        start, stop = model.backbone.layout.groups["face"]
        masked = torch.zeros(3, 4, dtype=torch.bool)
        masked[:, index] = True
        noisy = batch.keypoints.clone()
        noisy[:, :, start:stop] += 3.0
        clean, _, _ = model.pose_features(batch.keypoints, batch.keypoint_mask, batch.frame_mask, masked)
        perturbed, _, _ = model.pose_features(noisy, batch.keypoint_mask, batch.frame_mask, masked)
        unmasked, _, _ = model.pose_features(noisy, batch.keypoint_mask, batch.frame_mask)
    torch.testing.assert_close(perturbed, clean, atol=1e-5, rtol=0)
    assert (unmasked - out.features["pose"]).abs().max() > 1e-3
    # padding does not change a clip in evaluation (masked BatchNorm and stacking leave padding out)
    alone = model(clip_batch([9], ["AUTO"]))
    torch.testing.assert_close(alone.logits[0], out.logits[0], atol=1e-5, rtol=0)
