"""``pseudo_gloss_bce``: pseudo-gloss pre-training of paper 001 (HFA, Sec. 3.2, Eq. 1-3).

The segment features ``Z [T, D]`` (the compressor's tokens by default) are projected by a linear
layer to ``Z' [T, D']`` (``D' = 300``, the fastText width) and compared with the pseudo-gloss
prototypes ``P [U, D']`` by cosine similarity, ``S = cos(Z', P) [T, U]`` (Eq. 1). Two
temperature-scaled softmaxes locate each prototype in time and each step among the prototypes
(Eq. 2), ``S^T = softmax_t(S / tau_T)`` and ``S^U = softmax_u(S / tau_U)``; their element-wise
product summed over time is the presence score ``E_u = sum_t S^T[t, u] * S^U[t, u]`` in ``[0, 1]``
(Eq. 3), trained by binary cross-entropy against the sentence's multi-hot pseudo-glosses.

The prototype matrix is the file written by ``glossfree prototypes``
(:mod:`glossfree.text.prototypes`): ``[V, D']`` rows in pseudo-gloss vocabulary order, row 0 the
zero "blank" vector the paper adds for non-sign steps. The batch's ``targets["pseudo_gloss"]``
(``[B, V]``, the ``targets:pseudo_gloss`` input) has the same columns. A zero vector has cosine 0
with every feature (``F.normalize`` leaves it zero), so the blank is a constant score 0 that a step
picks in ``S^U`` when no pseudo-gloss fits it better.

Choices the paper leaves open:

- The blank column takes part in both softmaxes but not in the BCE (its target is always 0, and
  pushing its presence to 0 would forbid the "non-sign" choice it exists for); the loss is the
  mean BCE over the batch and the ``V - 1`` pseudo-gloss columns.
- tau_T and tau_U are learnt as logarithms (init ``log 0.1``) so they stay positive.
- Padded steps take no part: they are left out of the softmax over time and of the sum of Eq. 3.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from glossfree.errors import ConfigError, DataError
from glossfree.objectives.base import Objective, ObjectiveOutput, ObjectiveSettings, PointDims
from glossfree.text.prototypes import load_prototypes


class PseudoGlossBCEConfig(ObjectiveSettings):
    """Pseudo-gloss presence scores against prototypes, trained with BCE (paper 001 defaults).

    Attributes:
        kind: objective selector (``"pseudo_gloss_bce"``).
        visual: where the segment features are read: ``frontend`` (per frame), ``compressor``
            (paper 001's temporal-encoder output ``Z``), ``tokens`` or ``encoder``.
        prototypes: path of the prototype file written by ``glossfree prototypes``
            (``pseudo_gloss_prototypes.safetensors``, ``[V, dim]``, row 0 the zero blank); in a
            recipe, a relative path is under the data root.
        dim: width of the projected features ``Z'``; must equal the prototypes' width (fastText: 300).
        temperature_time: initial tau_T of the softmax over time.
        temperature_prototype: initial tau_U of the softmax over prototypes.
    """

    kind: Literal["pseudo_gloss_bce"] = "pseudo_gloss_bce"
    visual: Literal["frontend", "compressor", "tokens", "encoder"] = "compressor"
    prototypes: str
    dim: int = Field(300, ge=1)
    temperature_time: float = Field(0.1, gt=0)
    temperature_prototype: float = Field(0.1, gt=0)

    @property
    def owns_parameters(self) -> bool:
        return True


def presence_scores(
    similarity: torch.Tensor, mask: torch.Tensor, tau_time: torch.Tensor, tau_prototype: torch.Tensor
) -> torch.Tensor:
    """Eq. 2-3: ``E [B, U]`` from cosine similarities ``S [B, T, U]`` and the step ``mask [B, T]``.

    ``S^T`` is a softmax over the valid steps of each sample (padded steps get weight 0; a sample
    without valid steps scores 0), ``S^U`` a softmax over the prototypes.
    """
    valid = mask.bool().unsqueeze(-1)  # [B, T, 1]
    scores = similarity.float()
    over_time = (scores / tau_time).masked_fill(~valid, torch.finfo(torch.float32).min).softmax(dim=1)
    over_prototypes = (scores / tau_prototype).softmax(dim=2)  # [B, T, U]
    return (over_time * over_prototypes * valid).sum(dim=1)  # [B, U]


class PseudoGlossBCE(Objective):
    def __init__(self, config: PseudoGlossBCEConfig, dims: PointDims) -> None:
        super().__init__(config)
        self.lm_need = "encoder" if config.visual == "encoder" else "none"
        prototypes = load_prototypes(config.prototypes)  # [V, D']
        if prototypes.ndim != 2 or prototypes.shape[1] != config.dim:
            raise ConfigError(
                f"objective '{config.key}': {config.prototypes} holds prototypes of shape "
                f"{tuple(prototypes.shape)}, but dim is {config.dim}; set dim to the prototypes' width"
            )
        if prototypes.shape[0] < 2 or prototypes[0].abs().sum() != 0:
            raise DataError(
                f"{config.prototypes}: row 0 must be the zero blank vector followed by at least one "
                f"pseudo-gloss (got {prototypes.shape[0]} rows); rebuild it with `glossfree prototypes`"
            )
        # Unit rows; the blank stays 0, so its cosine with any feature is 0 (Eq. 1).
        self.register_buffer("prototypes", F.normalize(prototypes.float(), dim=-1), persistent=False)
        self.proj = nn.Linear(dims.visual(config.visual), config.dim)
        self.log_tau_time = nn.Parameter(torch.tensor(math.log(config.temperature_time)))
        self.log_tau_prototype = nn.Parameter(torch.tensor(math.log(config.temperature_prototype)))

    def forward(self, output, batch, model) -> ObjectiveOutput:
        config = self.config
        point = output.encoder if config.visual == "encoder" else output.visual[config.visual]
        assert point is not None  # lm_need "encoder" makes the model run the LM encoder
        targets = batch.targets.get("pseudo_gloss")
        if targets is None:
            raise ConfigError(
                f"objective '{config.key}' needs pseudo-gloss targets: add 'targets:pseudo_gloss' to "
                "the recipe's data.extra_inputs (and run `glossfree pseudo-glosses` on the dataset)"
            )
        if targets.shape[1] != self.prototypes.shape[0]:
            raise DataError(
                f"objective '{config.key}': the batch has {targets.shape[1]} pseudo-gloss columns but "
                f"{config.prototypes} has {self.prototypes.shape[0]} prototypes; rebuild them for this vocabulary"
            )
        projected = F.normalize(self.proj(point.features.to(self.proj.weight.dtype)).float(), dim=-1)  # [B, T, D']
        similarity = projected @ self.prototypes.T  # [B, T, V], Eq. 1
        presence = presence_scores(similarity, point.mask, self.log_tau_time.exp(), self.log_tau_prototype.exp())
        # Column 0 (blank) is not scored; clamp only guards float rounding above 1.
        loss = F.binary_cross_entropy(presence[:, 1:].clamp(0.0, 1.0), targets[:, 1:].float())
        metrics = {"tau_time": self.log_tau_time.exp().detach(), "tau_prototype": self.log_tau_prototype.exp().detach()}
        return ObjectiveOutput(loss=loss, metrics=metrics)
