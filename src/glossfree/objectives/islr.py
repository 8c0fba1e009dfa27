"""ISLR pre-training objectives of paper 004 ("Lost in Translation, Found in Embeddings", Sec. 3.3, App. A).

The pose backbone (and the lip backbone, trained the same way) is pre-trained to classify isolated
sign clips into pseudo-gloss labels before it serves SLT. Three losses, each a stage objective of
an :class:`~glossfree.models.islr.ISLRModel` (they read its :class:`~glossfree.models.outputs.ISLROutput`):

- ``islr_ce`` (Sec. 3.3, "Classification loss"): cross-entropy of each stream's classifier logits
  against the label (pose, and lip when the model has a second stream). The streams share no
  parameter, so summing their losses trains them independently, as the paper does. Metrics:
  ``top1`` / ``top5``, per-instance accuracy of the late-fused logits (Sec. 4.4: ``0.7 pose + 0.3 lip``;
  the pose logits alone without a second stream) - the stage monitor ``dev/islr_ce_top1`` - and, in
  evaluation, ``class_top1``, the per-class top-1 accuracy of the whole dev split (Sec. 4.1).
- ``islr_aux`` (Sec. 3.3, "Articulator auxiliary loss", Fig. A.1, Tab. A.2): each articulator's
  feature stream ``[B, T', articulator_dim]`` (body, face, left hand, right hand) goes through ONE
  shared auxiliary network (``fc1`` to the backbone width, a Conformer, attentive pooling) and then
  the pose backbone's own classifier; ``L_aux = 1/N_a sum_a CE(logits_a, y)``. It reads the
  articulator features as encoded, before the articulator masking of the fused path (the masking
  makes the fused path robust to a missing articulator; the auxiliary loss asks each articulator
  to classify on its own, which a zeroed articulator cannot).
- ``islr_contrastive`` (Sec. 3.3, "Contrastive loss", App. A.3): the clip feature through a visual
  MLP projector (fc-ReLU-fc, Tab. A.3), the label's LM input embedding (mean over its tokens)
  through a text MLP of the same form, cosine similarity over ``tau = 0.1``. See
  :func:`weighted_contrastive_loss` for the exact weighting of duplicate labels.

Under DDP the contrastive negatives come from every rank's batch (``gather``, as ``clip_global``:
:func:`~glossfree.objectives.distributed.gather_with_grad`); the label weights are then those of the
gathered batch. The paper's batch is 64 per GPU and it does not say whether it gathered.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn
from torchmetrics import Metric

from glossfree.errors import ConfigError
from glossfree.models.outputs import ISLRDims, ISLROutput
from glossfree.models.temporal.conformer import AttentivePool, Conformer, ConformerConfig
from glossfree.objectives.base import Objective, ObjectiveOutput, ObjectiveSettings
from glossfree.objectives.distributed import gather_with_grad


# ---------------------------------------------------------------------------------------------
# configs


class ISLRCrossEntropyConfig(ObjectiveSettings):
    """Classification loss of every stream (paper 004, Sec. 3.3).

    Attributes:
        label_smoothing: cross-entropy label smoothing (the paper: none).
    """

    kind: Literal["islr_ce"] = "islr_ce"
    label_smoothing: float = Field(0.0, ge=0, lt=1)

    metric_names = ("top1", "top5", "class_top1")


class ISLRArticulatorAuxConfig(ObjectiveSettings):
    """Articulator auxiliary loss of the pose backbone (paper 004, Sec. 3.3, Fig. A.1, Tab. A.2).

    Attributes:
        conformer: the shared auxiliary Conformer (Tab. A.2: 4 blocks, as the backbone's). Its width
            is the pose backbone's ``dim``: its pooled output goes through the backbone's classifier.
    """

    kind: Literal["islr_aux"] = "islr_aux"
    conformer: ConformerConfig = Field(default_factory=ConformerConfig)

    @property
    def owns_parameters(self) -> bool:
        return True


class ISLRContrastiveConfig(ObjectiveSettings):
    """Weighted visual-text contrastive loss (paper 004, Sec. 3.3, App. A.3).

    Attributes:
        hidden_dim: width of the fc-ReLU-fc projectors' hidden layer (Tab. A.3; its sizes did not
            survive in the seed text: our choice).
        proj_dim: width of the shared space.
        temperature: softmax temperature (the paper: 0.1, fixed).
        gather: under DDP, take negatives (and duplicate-label positives) from every rank's batch.
    """

    kind: Literal["islr_contrastive"] = "islr_contrastive"
    hidden_dim: int = Field(512, ge=1)
    proj_dim: int = Field(256, ge=1)
    temperature: float = Field(0.1, gt=0)
    gather: bool = True

    @property
    def owns_parameters(self) -> bool:
        return True


ISLR_OBJECTIVE_KINDS = ("islr_ce", "islr_aux", "islr_contrastive")


# ---------------------------------------------------------------------------------------------
# losses and metrics (pure functions: the tests check them against hand-computed values)


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Share of rows whose label is among the ``k`` highest logits (``k`` capped at the class count).

    ``logits`` ``[B, K]``, ``labels`` ``[B]`` long -> 0-dim float in ``[0, 1]``. Ties go to the
    lower class index (``torch.topk`` order), so a constant row is wrong unless its label is class 0.
    """
    k = min(k, logits.shape[-1])
    top = logits.topk(k, dim=-1).indices  # [B, k]
    return (top == labels[:, None]).any(dim=-1).float().mean()


def weighted_contrastive_loss(
    visual: torch.Tensor, text: torch.Tensor, labels: torch.Tensor, temperature: float, *, gather: bool = False
) -> torch.Tensor:
    """Paper 004's contrastive loss with label-frequency weights (Sec. 3.3).

    With ``s_ij = cos(v_i, t_j) / tau`` over the batch (row ``i``: clip ``i`` against the label text
    of every clip ``j``)::

        L = -1/B sum_i sum_j w_ij log( exp(s_ij) / sum_k exp(s_ik) ),
        w_ij = 1 / n(y_i) if y_j == y_i else 0,

    where ``n(y)`` is the number of clips with label ``y`` in the batch. So every clip that shares
    ``i``'s label is a positive of ``i`` (its text is ``i``'s own label text), each weighted by the
    inverse batch frequency of that label: the weights of a row sum to 1, and a label present ``n``
    times does not count ``n`` times as a target. Without duplicates ``w`` is the identity and this
    is the InfoNCE (video-to-text direction) of CLIP. The paper's equation did not survive in the
    seed text; this is our reading of its description ("for samples i and j sharing the same
    pseudo-gloss label, w_ij is the inverse of that label's batch frequency").

    Args:
        visual: ``[B, P]`` projected clip features (normalised here).
        text: ``[B, P]`` projected label embeddings of the same clips (normalised here).
        labels: ``[B]`` long, class index of each clip.
        temperature: ``tau`` (the paper: 0.1).
        gather: concatenate the rows of every DDP rank first (gradients reach the local rows).

    Returns:
        0-dim float32 loss.
    """
    if gather:
        visual, text, labels = gather_with_grad(visual), gather_with_grad(text), gather_with_grad(labels)
    visual = F.normalize(visual.float(), dim=-1)
    text = F.normalize(text.float(), dim=-1)
    log_probs = F.log_softmax(visual @ text.T / temperature, dim=-1)  # [B, B]
    weights = contrastive_weights(labels)  # [B, B]
    return -(weights * log_probs).sum(dim=-1).mean()


def contrastive_weights(labels: torch.Tensor) -> torch.Tensor:
    """``w_ij = [y_i == y_j] / n(y_i)`` (``[B, B]`` float32, rows sum to 1); see :func:`weighted_contrastive_loss`."""
    same = (labels[:, None] == labels[None, :]).float()  # [B, B]
    return same / same.sum(dim=-1, keepdim=True)


# ---------------------------------------------------------------------------------------------
# objective modules


def _islr_output(output, key: str) -> ISLROutput:
    if not hasattr(output, "stream_logits"):
        raise ConfigError(
            f"objective '{key}' trains an ISLR model (a recipe with `recipe: islr`), not the SLT model"
        )
    return output


class PerClassAccuracy(Metric):
    """Per-class top-1 accuracy over an epoch (paper 004, Sec. 4.1, following Albanie et al. 2020): the
    mean over the classes present in the targets of each class's recall. Counts are summed over
    batches and, under DDP, over ranks (torchmetrics sync), so the value is that of the whole split.
    A class that is predicted but absent from the targets does not count (its recall is undefined)."""

    full_state_update = False

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.add_state("correct", default=torch.zeros(num_classes), dist_reduce_fx="sum")
        self.add_state("total", default=torch.zeros(num_classes), dist_reduce_fx="sum")

    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:  # [B, K], [B]
        hits = (logits.argmax(dim=-1) == labels).float()
        self.correct.index_add_(0, labels, hits)
        self.total.index_add_(0, labels, torch.ones_like(hits))

    def compute(self) -> torch.Tensor:
        present = self.total > 0
        return (self.correct[present] / self.total[present]).mean()


class ISLRCrossEntropy(Objective):
    """Metrics: ``top1``/``top5`` per batch (per-instance), and in evaluation ``class_top1``, a
    :class:`PerClassAccuracy` that Lightning accumulates over the dev epoch."""

    def __init__(self, config: ISLRCrossEntropyConfig, dims: ISLRDims) -> None:
        super().__init__(config)
        self.class_top1 = PerClassAccuracy(dims.num_classes)

    def forward(self, output, batch, model: nn.Module) -> ObjectiveOutput:
        out = _islr_output(output, self.config.key)
        loss = sum(
            F.cross_entropy(logits.float(), out.labels, label_smoothing=self.config.label_smoothing)
            for logits in out.stream_logits.values()
        )
        metrics: dict = {
            "top1": topk_accuracy(out.logits.detach(), out.labels, 1),
            "top5": topk_accuracy(out.logits.detach(), out.labels, 5),
        }
        if not self.training:  # an epoch-level value: logged as the Metric object, computed at epoch end
            self.class_top1(out.logits.detach(), out.labels)
            metrics["class_top1"] = self.class_top1
        return ObjectiveOutput(loss=loss, metrics=metrics)  # type: ignore[arg-type]


class ISLRArticulatorAux(Objective):
    """One auxiliary network shared by all articulators: ``fc1`` -> Conformer -> attentive pooling
    (Tab. A.2), then the pose backbone's classifier (``model.classifier``)."""

    def __init__(self, config: ISLRArticulatorAuxConfig, dims: ISLRDims) -> None:
        super().__init__(config)
        width = dims.streams["pose"]
        self.fc1 = nn.Linear(dims.articulator, width)
        self.conformer = Conformer(width, config.conformer)
        self.pool = AttentivePool()

    def articulator_logits(
        self, articulators: dict[str, torch.Tensor], step_mask: torch.Tensor, classifier: nn.Module
    ) -> torch.Tensor:
        """Logits ``[G, B, K]`` of each articulator's stream ``{group: [B, T', A]}`` (mask ``[B, T']``)."""
        groups = list(articulators)
        stacked = torch.cat([articulators[g] for g in groups], dim=0)  # [G * B, T', A]
        mask = step_mask.bool().repeat(len(groups), 1)  # [G * B, T']
        hidden = self.fc1(stacked) * mask.unsqueeze(-1).to(stacked.dtype)
        encoded, maps = self.conformer.encode(hidden, mask, return_attention=True)
        pooled, _ = self.pool(encoded, maps, mask)  # [G * B, D]
        return classifier(pooled).view(len(groups), step_mask.shape[0], -1)

    def forward(self, output, batch, model: nn.Module) -> ObjectiveOutput:
        out = _islr_output(output, self.config.key)
        logits = self.articulator_logits(out.articulators, out.step_mask, model.classifier)  # [G, B, K]
        # L_aux = 1/N_a sum_a CE(logits_a, y)   (Sec. 3.3)
        losses = [F.cross_entropy(group_logits.float(), out.labels) for group_logits in logits]
        return ObjectiveOutput(loss=torch.stack(losses).mean())


def projector(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """App. A.3 / Tab. A.3: fc1 -> ReLU -> fc2."""
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))


class ISLRContrastive(Objective):
    """Per stream (each backbone is trained independently, Sec. 3.3): a visual projector on its clip
    feature and a text projector on the label embedding; the stream losses are summed."""

    def __init__(self, config: ISLRContrastiveConfig, dims: ISLRDims) -> None:
        super().__init__(config)
        self.visual = nn.ModuleDict(
            {name: projector(width, config.hidden_dim, config.proj_dim) for name, width in dims.streams.items()}
        )
        self.text = nn.ModuleDict(
            {name: projector(dims.text, config.hidden_dim, config.proj_dim) for name in dims.streams}
        )

    def forward(self, output, batch, model: nn.Module) -> ObjectiveOutput:
        out = _islr_output(output, self.config.key)
        embeddings = model.label_embeddings[out.labels]  # [B, E]
        gather = self.config.gather and torch.is_grad_enabled()  # validation: each rank its own batch
        loss = sum(
            weighted_contrastive_loss(
                self.visual[name](features), self.text[name](embeddings.to(features.dtype)),
                out.labels, self.config.temperature, gather=gather,
            )  # fmt: skip
            for name, features in out.features.items()
        )
        return ObjectiveOutput(loss=loss)  # type: ignore[arg-type]


ISLR_OBJECTIVES: dict[str, type[Objective]] = {
    "islr_ce": ISLRCrossEntropy,
    "islr_aux": ISLRArticulatorAux,
    "islr_contrastive": ISLRContrastive,
}
