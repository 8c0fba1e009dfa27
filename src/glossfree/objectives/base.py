"""What every objective shares: its config fields, its output, and the module interface.

An objective is a small ``nn.Module`` built from its config and the widths of the model's named
points (:class:`~glossfree.models.outputs.PointDims`). Its ``forward`` reads a
:class:`~glossfree.models.outputs.SLTOutput` (the
visual tokens at named points, the LM's loss, logits and encoder states when the LM ran) and the
text side of the LM (``model.lm.embed_texts`` / ``encode_texts``), and returns an unweighted loss
plus optional metrics. The stage weights and sums the losses (``SLTModel.forward``).

An objective that owns parameters (projections, a temperature) lives in ``SLTModel.objectives``,
so it is trained, checkpointed and frozen like any other part of the model (part name
``objectives.<name>``). Objectives read the model's outputs and the few public methods named above;
they import the output types (:mod:`glossfree.models.outputs`) and never the model classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch
from pydantic import Field
from torch import nn

from glossfree.config import StrictModel
from glossfree.models.outputs import LM_NEEDS, LMNeed, PointDims, SLTOutput, masked_mean

if TYPE_CHECKING:
    from glossfree.data.datasets import PoseBatch

__all__ = ["LM_NEEDS", "LMNeed", "Objective", "ObjectiveOutput", "ObjectiveSettings", "PointDims", "masked_mean"]


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


@dataclass
class ObjectiveOutput:
    """An objective's unweighted scalar loss and its metrics (floats or 0-dim tensors)."""

    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


class Objective(nn.Module):
    """Base class: ``forward(output, batch, model) -> ObjectiveOutput``."""

    lm_need: LMNeed = "none"
    # False: the objective reads only the batch's texts (text_denoise), and a stage of such
    # objectives alone does not run the visual side at all.
    reads_visual: bool = True

    def __init__(self, config: ObjectiveSettings) -> None:
        super().__init__()
        self.config = config

    def forward(self, output: SLTOutput, batch: PoseBatch, model: nn.Module) -> ObjectiveOutput:
        raise NotImplementedError
