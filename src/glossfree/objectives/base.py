"""What every objective shares: its config fields, its output, and the module interface.

An objective is a small ``nn.Module`` built from its config and the widths of the model's named
points (:class:`PointDims`). Its ``forward`` reads a :class:`~glossfree.models.slt.SLTOutput` (the
visual tokens at named points, the LM's loss, logits and encoder states when the LM ran) and the
text side of the LM (``model.lm.embed_texts`` / ``encode_texts``), and returns an unweighted loss
plus optional metrics. The stage weights and sums the losses (``SLTModel.forward``).

An objective that owns parameters (projections, a temperature) lives in ``SLTModel.objectives``,
so it is trained, checkpointed and frozen like any other part of the model (part name
``objectives.<name>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from glossfree.config import StrictModel

if TYPE_CHECKING:
    from glossfree.data.datasets import PoseBatch
    from glossfree.models.slt import SLTModel, SLTOutput

# How much of the language model an objective needs on the visual tokens, in increasing cost:
# nothing, the encoder alone (its hidden states), or the teacher-forced pass (loss, logits, encoder).
LMNeed = Literal["none", "encoder", "full"]
LM_NEEDS: tuple[LMNeed, ...] = ("none", "encoder", "full")


class ObjectiveSettings(StrictModel):
    """Fields every objective config has.

    Attributes:
        name: key of the objective in losses, logs (``train/<name>``, ``dev/<name>``) and the
            model (``objectives.<name>``); default: its ``kind``. Two objectives of one kind in a
            recipe (e.g. CLIP on embeddings and on encoder states) need different names.
        weight: factor of this loss in the stage's total loss.
    """

    name: str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    weight: float = Field(1.0, ge=0)

    # Metrics the objective reports beside its loss, logged as ``<split>/<name>_<metric>``; all of
    # them are higher-is-better (accuracies), which is how a stage's ``monitor`` picks its mode.
    metric_names: ClassVar[tuple[str, ...]] = ()

    @property
    def key(self) -> str:
        return self.name or self.kind  # type: ignore[attr-defined]

    @property
    def owns_parameters(self) -> bool:
        """True when the objective has weights (then it is a trainable part of the model)."""
        return False

    def head_settings(self) -> dict:
        """What shapes the objective's module (everything but ``weight``): two stages that use the
        same objective name must agree on it, since they share one module."""
        return self.model_dump(exclude={"weight"})


@dataclass(frozen=True)
class PointDims:
    """Feature widths of the model's named points (see ``SLTModel.visual_points``) and of its text side."""

    frontend: int
    compressor: int
    tokens: int
    encoder: int
    text: int

    def visual(self, point: str) -> int:
        return getattr(self, point)


@dataclass
class ObjectiveOutput:
    """An objective's unweighted scalar loss and its metrics (floats or 0-dim tensors)."""

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


class Objective(nn.Module):
    """Base class: ``forward(output, batch, model) -> ObjectiveOutput``."""

    lm_need: LMNeed = "none"

    def __init__(self, config: ObjectiveSettings) -> None:
        super().__init__()
        self.config = config

    def forward(self, output: SLTOutput, batch: PoseBatch, model: SLTModel) -> ObjectiveOutput:
        raise NotImplementedError


def masked_mean(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``features [B, L, D]`` over the valid rows of ``mask [B, L]`` -> ``[B, D]`` (float32).

    A sample without a valid row pools to 0.
    """
    weights = mask.to(torch.float32).unsqueeze(-1)  # [B, L, 1]
    total = (features.float() * weights).sum(dim=1)  # [B, D]
    return total / weights.sum(dim=1).clamp_min(1.0)
