"""``lm_ce``: the language model's label-smoothed cross-entropy on the target sentence.

The loss is computed inside ``LanguageModel`` (label smoothing: ``model.lm.label_smoothing``); the
objective reads it from the model output, which asks for the teacher-forced pass (``lm_need``).
"""

from __future__ import annotations

from typing import Literal

from glossfree.objectives.base import Objective, ObjectiveOutput, ObjectiveSettings, PointDims


class LMCrossEntropyConfig(ObjectiveSettings):
    """Translation loss: ``{kind: lm_ce, weight: 1.0}`` (the default objective of a stage)."""

    kind: Literal["lm_ce"] = "lm_ce"


class LMCrossEntropy(Objective):
    lm_need = "full"

    def __init__(self, config: LMCrossEntropyConfig, dims: PointDims) -> None:
        super().__init__(config)

    def forward(self, output, batch, model) -> ObjectiveOutput:
        assert output.lm_loss is not None  # the model runs the LM for an objective with lm_need "full"
        return ObjectiveOutput(loss=output.lm_loss)
