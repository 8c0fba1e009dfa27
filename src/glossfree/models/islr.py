"""Isolated sign recognition (ISLR) model of paper 004's backbone pre-training ("Lost in Translation,
Found in Embeddings", Sec. 3.1, 3.3, 4.2, 4.4, App. A).

Before SLT, the pose backbone (and the lip backbone) learns to classify isolated sign clips into
pseudo-gloss labels. One forward pass::

    keypoints [B, T, N, 3] -> PoseBackbone.encode_articulators -> {group: [B, T', A]}
        -> articulator masking (training only, Sec. 4.2)    -> zero 1..2 groups of some samples
        -> fuse (concat, linear) -> Conformer -> attentive pooling -> clip feature [B, D]
        -> classifier (linear)                                 -> pose logits [B, K]
    second stream (optional, any frontend kind; the paper's lip backbone on lip crops or a frozen
        lip reader's features: LipBackbone.pool, attentive pooling) -> clip feature [B, D2]
        -> its own classifier                                  -> lip logits [B, K]
    late fusion (Sec. 4.4, App. B.1): logits = 0.7 * pose + 0.3 * lip

The pose path is :meth:`PoseBackbone.pool` with the masking inserted between the articulator
encoders and their fusion (with nothing masked, the two agree exactly). The losses are stage
objectives (:mod:`glossfree.objectives.islr`): ``islr_ce``, ``islr_aux`` (articulator auxiliary
loss, whose shared auxiliary Conformer lives in ``objectives.islr_aux``) and ``islr_contrastive``.

Part names (what a stage trains, what ``init_checkpoint`` prefix maps read): ``backbone`` (a
:class:`PoseBackbone`, loadable into an SLT model's ``frontend`` with ``prefix_map: {"backbone.":
"frontend."}``), ``classifier``, ``lip_backbone`` and ``lip_classifier`` with a second stream, and
``objectives.<name>``. With two streams, both backbones load into a two-frontend SLT model (as
``pose_perceiver/lips_tiny``): ``prefix_map: {"backbone.": "frontend.branches.0.", "lip_backbone.":
"frontend.branches.1."}`` (docs/islr.md).

Labels. The model holds its label set (sorted class names, from the training split) and the LM
input embedding of every label (``label_embeddings`` ``[K, E]``: the mean of the label text's token
embeddings in the recipe's LM, computed once when the model is built: :func:`label_text_embeddings`),
the fixed text side of the contrastive loss (Sec. 3.3: "converted into a text embedding using the
embedding layer of the pretrained LLM, and then projected via a trainable MLP"). Batches carry each
clip's label as its text (:class:`~glossfree.training.tasks.islr.ISLRDataModule`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch
from pydantic import Field, model_validator
from torch import nn

from glossfree.config import StrictModel
from glossfree.data.layouts import get_layout
from glossfree.errors import ConfigError, DataError
from glossfree.models.frontends.pose_backbone import PoseBackbone, PoseBackboneConfig
from glossfree.models.language_model import LanguageModel, LanguageModelConfig
from glossfree.models.outputs import ISLRDims, ISLROutput, check_objective_names, masked_mean, weighted_objectives
from glossfree.models.slt import FrontendConfig, build_frontend, frontend_inputs, run_frontend

if TYPE_CHECKING:
    from glossfree.data.datasets import PoseBatch


class ArticulatorMaskingConfig(StrictModel):
    """Random articulator masking in training (paper 004, Sec. 4.2: "up to 50% of the articulator
    modalities (i.e., at most two) are randomly masked").

    Per training sample, with probability ``probability`` the sample is masked: ``k`` articulators,
    ``k`` uniform in ``1..max_articulators``, chosen uniformly without replacement, have their
    features zeroed before fusion. Never in evaluation. How ``k`` is drawn is not in the text: our choice.

    Attributes:
        probability: chance that a training sample has articulators masked (0 = off).
        max_articulators: most articulators masked in one sample (fewer than the layout's groups).
    """

    probability: float = Field(0.5, ge=0, le=1)
    max_articulators: int = Field(2, ge=1)


class ISLRModelConfig(StrictModel):
    """Model section of an ISLR recipe. Defaults: paper 004 at paper scale.

    Attributes:
        layout: keypoint layout of the input.
        backbone: the pose backbone (the part that SLT later reuses).
        lip: an optional second stream with its own classifier, late-fused with the pose logits:
            any frontend ``kind``; the paper's is ``lip_backbone`` (lip crops, ``source: crops``, or
            a frozen lip reader's cached stream, ``source: features``; the dataset then loads that
            input). Its clip feature is its own attentive ``pool`` when it is a ``lip_backbone`` or
            a ``pose_backbone``, else the masked mean of its per-step output.
        fusion_weights: ``(pose, lip)`` weights of the late fusion of logits (Sec. 4.4, App. B.1: 0.7 / 0.3).
        masking: articulator masking of the pose backbone in training.
        lm: the language model whose input embeddings give the label texts' embeddings (only its
            embedding table is used, once, when the model is built).
    """

    layout: str = "pose203"
    backbone: PoseBackboneConfig = Field(default_factory=PoseBackboneConfig)
    lip: FrontendConfig | None = None
    fusion_weights: tuple[float, float] = (0.7, 0.3)
    masking: ArticulatorMaskingConfig = Field(default_factory=ArticulatorMaskingConfig)
    lm: LanguageModelConfig = Field(default_factory=LanguageModelConfig)

    @model_validator(mode="after")
    def _check(self) -> ISLRModelConfig:
        groups = len(get_layout(self.layout).groups)
        if self.masking.probability > 0 and self.masking.max_articulators >= groups:
            raise ValueError(
                f"masking.max_articulators {self.masking.max_articulators} would mask every articulator: "
                f"layout '{self.layout}' has {groups} groups; use at most {groups - 1}"
            )
        if any(w < 0 for w in self.fusion_weights) or sum(self.fusion_weights) <= 0:
            raise ValueError(f"fusion_weights must be >= 0 and not both 0, got {list(self.fusion_weights)}")
        return self

    def frontend_list(self) -> list:
        """The frontend configs whose inputs the dataset loads (as ``SLTModelConfig.frontend_list``)."""
        return [self.backbone, *([self.lip] if self.lip is not None else [])]


def late_fusion(pose: torch.Tensor, lip: torch.Tensor | None, weights: tuple[float, float] = (0.7, 0.3)) -> torch.Tensor:
    """Late fusion of logits (paper 004, Sec. 4.4): ``w_pose * pose + w_lip * lip``; ``pose`` alone
    when there is no second stream. ``[B, K]`` each."""
    if lip is None:
        return pose
    return weights[0] * pose + weights[1] * lip


def articulator_mask(
    batch_size: int, groups: int, config: ArticulatorMaskingConfig, *, generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:  # fmt: skip
    """Which articulators each sample masks: ``[B, G]`` bool, True = zeroed (see :class:`ArticulatorMaskingConfig`).

    At most ``config.max_articulators`` per row; a row is masked at all with ``config.probability``.
    """
    draw = torch.rand(batch_size, generator=generator, device=device) < config.probability  # [B]
    count = torch.randint(1, config.max_articulators + 1, (batch_size,), generator=generator, device=device)
    order = torch.rand(batch_size, groups, generator=generator, device=device).argsort(dim=1).argsort(dim=1)  # [B, G]
    return (order < count[:, None]) & draw[:, None]


@torch.no_grad()
def label_text_embeddings(lm: LanguageModel, labels: Sequence[str], batch_size: int = 256) -> torch.Tensor:
    """``[K, E]``: each label text's LM input embeddings averaged over its tokens (the LM's own
    tokenisation, end-of-sequence token included)."""
    rows = []
    for start in range(0, len(labels), batch_size):
        embeds, mask = lm.embed_texts(list(labels[start : start + batch_size]))
        rows.append(masked_mean(embeds, mask))
    return torch.cat(rows).float()


class ISLRModel(nn.Module):
    """Pose backbone (+ optional second stream) with classifiers and the ISLR objectives.

    Args:
        config: :class:`ISLRModelConfig`.
        labels: the class names, in class-index order (sorted, from the training split).
        label_embeddings: ``[K, E]`` LM input embedding of each label (:func:`label_text_embeddings`).
        objectives: the ISLR objective modules the recipe's stages name, by name (built for this
            model's :meth:`dims` by :func:`~glossfree.training.tasks.islr.build_islr_model`); or set
            later with :meth:`set_objectives`.
    """

    def __init__(
        self,
        config: ISLRModelConfig,
        labels: Sequence[str],
        label_embeddings: torch.Tensor,
        objectives: Mapping[str, nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.labels = list(labels)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ConfigError(f"an ISLR model needs at least 2 distinct labels, got {len(set(self.labels))}")
        if tuple(label_embeddings.shape[:1]) != (len(self.labels),) or label_embeddings.ndim != 2:
            raise ConfigError(
                f"label_embeddings must be [{len(self.labels)}, E] (one row per label), got {list(label_embeddings.shape)}"
            )
        self.label_index = {label: index for index, label in enumerate(self.labels)}
        layout = get_layout(config.layout)
        self.backbone = PoseBackbone(config.backbone, layout)
        self.classifier = nn.Linear(config.backbone.dim, len(self.labels))
        if config.lip is not None:
            self.lip_backbone = build_frontend(config.lip, layout)
            self.lip_classifier = nn.Linear(self.lip_backbone.output_dim, len(self.labels))
        # Stored with the weights, so a checkpoint carries the text side of the contrastive loss.
        self.register_buffer("label_embeddings", label_embeddings.detach().float().clone())
        self.objectives = nn.ModuleDict(dict(objectives or {}))

    def dims(self) -> ISLRDims:
        """The widths the ISLR objectives are sized by: each stream's clip feature, the articulator
        features, the label text embeddings and the number of classes."""
        streams = {"pose": self.config.backbone.dim}
        if self.config.lip is not None:
            streams["lip"] = self.lip_backbone.output_dim
        return ISLRDims(
            streams=streams, articulator=self.config.backbone.articulator_dim,
            text=self.label_embeddings.shape[1], num_classes=len(self.labels),
        )  # fmt: skip

    def set_objectives(self, objectives: Mapping[str, nn.Module]) -> None:
        """Replace the objective modules (``objectives.<name>`` parts)."""
        self.objectives = nn.ModuleDict(dict(objectives))

    # ---------------------------------------------------------------- interface of the training engine
    def parts(self) -> list[str]:
        """Part names a stage trains or freezes (see the module docstring)."""
        own = ["backbone", "classifier", *(["lip_backbone", "lip_classifier"] if self.config.lip is not None else [])]
        heads = [f"objectives.{key}" for key, head in self.objectives.items() if next(head.parameters(), None) is not None]
        return [*own, *sorted(heads)]

    def required_inputs(self) -> set[str]:
        return set().union(*(frontend_inputs(c) for c in self.config.frontend_list()))

    # ------------------------------------------------------------------------------------ model
    def label_ids(self, names: Sequence[str], ids: Sequence[str] = ()) -> torch.Tensor:
        """Class indices ``[B]`` of label names; an unknown label is a :class:`DataError` naming the sample."""
        unknown = [(ids[i] if i < len(ids) else str(i), name) for i, name in enumerate(names) if name not in self.label_index]
        if unknown:
            listed = ", ".join(f"'{sample}': '{name}'" for sample, name in unknown[:5])
            raise DataError(
                f"label(s) not in the model's label set of {len(self.labels)} training labels ({listed}"
                f"{', ...' if len(unknown) > 5 else ''}); every dev/test label must occur in the training split"
            )
        return torch.tensor([self.label_index[name] for name in names], dtype=torch.long)

    def pose_features(
        self, keypoints: torch.Tensor, keypoint_mask: torch.Tensor, frame_mask: torch.Tensor,
        masked: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:  # fmt: skip
        """The pose clip feature ``[B, D]`` with the articulators of ``masked`` ``[B, G]`` zeroed before
        fusion, the per-articulator features ``{group: [B, T', A]}`` (unmasked) and the step mask ``[B, T']``.

        :meth:`PoseBackbone.pool` (Sec. 3.1) with the masking of Sec. 4.2 between its articulator
        encoders and their fusion.
        """
        backbone = self.backbone
        articulators = backbone.encode_articulators(keypoints, keypoint_mask, frame_mask)
        step_mask = backbone.output_mask(frame_mask.bool())  # [B, T']
        hidden = backbone.fuse_articulators(articulators, step_mask, dropped=masked)  # [B, T', D]
        pooled, _ = backbone.pool_steps(hidden, step_mask)  # [B, D]
        return pooled, articulators, step_mask

    def lip_features(self, batch: PoseBatch) -> torch.Tensor:
        """The second stream's clip feature ``[B, D2]``: the attentive pooling of a ``lip_backbone``
        (:meth:`LipBackbone.pool`, on the batch's ``lips`` crops ``[B, T, S, S]`` or its lip-reader
        stream ``[B, T, D_in]``) or of a ``pose_backbone``; the masked mean of any other kind's steps."""
        config, module = self.config.lip, self.lip_backbone
        assert config is not None
        if config.kind == "pose_backbone":
            return module.pool(batch.keypoints, batch.keypoint_mask, batch.frame_mask.bool())
        if config.kind == "lip_backbone":
            name = config.input_name()
            data = batch.lips if name == "lips" else batch.features.get(config.stream)
            mask = batch.masks.get(name)
            if data is None or mask is None:
                raise ConfigError(
                    f"the ISLR lip stream (lip_backbone, source: {config.source}) reads '{name}', but the batch "
                    f"has no such input (inputs: {sorted(batch.masks)})"
                )
            return module.pool(data, mask.bool(), batch.lip_mask if name == "lips" else None)
        tokens = run_frontend(config.kind, module, config, batch)
        return masked_mean(tokens.features, tokens.mask).to(tokens.features.dtype)

    def forward(self, batch: PoseBatch, *, objectives: Mapping[str, float] | None = None) -> ISLROutput:
        """Logits, features and the weighted objectives on ``batch`` (its ``texts`` are the labels).

        Args:
            batch: a :class:`~glossfree.data.datasets.PoseBatch` of isolated clips.
            objectives: weight of each objective by name (default: every built objective, weight 1).
        """
        if batch.keypoints is None:
            raise ConfigError(f"the ISLR pose backbone reads keypoints, but the batch has none (inputs: {sorted(batch.masks)})")
        weights = dict(objectives) if objectives is not None else {key: 1.0 for key in self.objectives}
        check_objective_names(self.objectives, weights)
        device = batch.keypoints.device
        labels = self.label_ids(batch.texts, batch.ids).to(device)
        frame_mask = batch.masks.get("keypoints", batch.frame_mask).bool()
        groups = len(self.backbone.groups)
        if self.training and self.config.masking.probability > 0:
            masked = articulator_mask(len(labels), groups, self.config.masking, device=device)
        else:
            masked = torch.zeros(len(labels), groups, dtype=torch.bool, device=device)
        pooled, articulators, step_mask = self.pose_features(batch.keypoints, batch.keypoint_mask, frame_mask, masked)
        stream_logits = {"pose": self.classifier(pooled)}
        features = {"pose": pooled}
        if self.config.lip is not None:
            features["lip"] = self.lip_features(batch)
            stream_logits["lip"] = self.lip_classifier(features["lip"])
        logits = late_fusion(stream_logits["pose"], stream_logits.get("lip"), self.config.fusion_weights)
        output = ISLROutput(
            loss=torch.zeros((), device=device), losses={}, logits=logits, stream_logits=stream_logits,
            features=features, articulators=articulators, step_mask=step_mask, masked=masked, labels=labels,
        )  # fmt: skip
        total = weighted_objectives(self.objectives, weights, output, batch, self)
        if total is not None:
            output.loss = total
        return output
