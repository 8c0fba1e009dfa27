"""What a model's forward pass hands to its objectives: typed outputs, the widths objectives are
sized by, and how far the language model must run.

This module is the contract between :mod:`glossfree.models` and :mod:`glossfree.objectives`: the
objectives read these types and never the model classes' insides, and the models call their
objectives through the small interface below (``objective(output, batch, model)`` returning a
loss and metrics, ``objective.lm_need``) without importing them. The training tasks
(:mod:`glossfree.training.tasks`) build the objectives and hand them to the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from glossfree.errors import ConfigError

# How much of the language model an objective needs on the visual tokens, in increasing cost:
# nothing, the encoder alone (its hidden states), or the teacher-forced pass (loss, logits, encoder).
LMNeed = Literal["none", "encoder", "full"]
LM_NEEDS: tuple[LMNeed, ...] = ("none", "encoder", "full")


@dataclass
class VisualTokens:
    """Features ``[B, L, D]`` (0 on padding) and their mask ``[B, L]`` (bool, True = valid)."""

    features: torch.Tensor
    mask: torch.Tensor


@dataclass
class SLTOutput:
    """What one forward pass of :class:`~glossfree.models.slt.SLTModel` computed.

    Attributes:
        loss: the weighted sum of ``losses`` (the objectives' weights).
        losses: unweighted loss of each objective, by name.
        metrics: objectives' metrics, ``<name>_<metric>`` (e.g. ``clip_global_acc``).
        visual: the visual tokens at named points: ``frontend`` (per frame, frame mask),
            ``compressor`` (compressed tokens), ``tokens`` (after mapper and token_norm: the LM input),
            ``context`` (a compressor's context encoder on its tokens, SAGE's VE: only when an objective reads it).
        encoder: the LM encoder's hidden states on the tokens (and prompt), when an objective needed them.
        lm_loss, logits: the LM's teacher-forced loss and ``[B, L_target, V]`` logits, when an
            objective needed them (``lm_ce``).
    """

    loss: torch.Tensor
    losses: dict[str, torch.Tensor]
    logits: torch.Tensor | None = None
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)
    visual: dict[str, VisualTokens] = field(default_factory=dict)
    encoder: VisualTokens | None = None
    lm_loss: torch.Tensor | None = None


@dataclass
class ISLROutput:
    """What one forward pass of :class:`~glossfree.models.islr.ISLRModel` computed.

    Attributes:
        loss: weighted sum of ``losses``.
        losses: unweighted loss per objective name.
        metrics: ``<objective>_<metric>`` (``islr_ce_top1``, ``islr_ce_top5``).
        logits: ``[B, K]`` late-fused logits (the pose logits without a second stream).
        stream_logits: ``{"pose": [B, K], "lip": [B, K]}``.
        features: clip features per stream, ``{"pose": [B, D], "lip": [B, D2]}``.
        articulators: the pose backbone's per-articulator features ``{group: [B, T', A]}`` before masking.
        step_mask: ``[B, T']`` valid steps of the backbone output.
        masked: ``[B, G]`` bool, the articulators zeroed in this pass (all False in evaluation).
        labels: ``[B]`` class indices.
    """

    loss: torch.Tensor
    losses: dict[str, torch.Tensor]
    logits: torch.Tensor
    stream_logits: dict[str, torch.Tensor]
    features: dict[str, torch.Tensor]
    articulators: dict[str, torch.Tensor]
    step_mask: torch.Tensor
    masked: torch.Tensor
    labels: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class PointDims:
    """Feature widths of an SLT model's named points (see ``SLTModel.visual_points``) and of its text side."""

    frontend: int
    compressor: int
    tokens: int
    encoder: int
    text: int
    context: int | None = None  # a compressor's context encoder (SAGE's VE), if it has one

    def visual(self, point: str) -> int:
        width = getattr(self, point)
        if width is None:
            raise ConfigError(f"visual point '{point}' does not exist in this model: its compressor has no "
                              "context encoder (segment_pool with context_layers > 0 has one)")  # fmt: skip
        return width


@dataclass(frozen=True)
class ISLRDims:
    """Widths an ISLR objective is built with: each stream's clip feature, the pose backbone's
    articulator features, and the label text embeddings."""

    streams: dict[str, int]
    articulator: int
    text: int
    num_classes: int


def masked_mean(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``features [B, L, D]`` over the valid rows of ``mask [B, L]`` -> ``[B, D]`` (float32).

    A sample without a valid row pools to 0.
    """
    weights = mask.to(torch.float32).unsqueeze(-1)  # [B, L, 1]
    total = (features.float() * weights).sum(dim=1)  # [B, D]
    return total / weights.sum(dim=1).clamp_min(1.0)


def weighted_objectives(
    objectives: nn.ModuleDict, weights: dict[str, float], output, batch, model
) -> torch.Tensor | None:
    """Run each weighted objective on ``output`` (a :class:`SLTOutput` or :class:`ISLROutput`), record
    its unweighted loss and metrics on ``output``, and return the weighted sum (None without objectives)."""
    total = None
    for name, weight in weights.items():
        result = objectives[name](output, batch, model)
        output.losses[name] = result.loss
        output.metrics.update({f"{name}_{metric}": value for metric, value in result.metrics.items()})
        term = result.loss if weight == 1.0 else weight * result.loss
        total = term if total is None else total + term
    return total


def check_objective_names(objectives: nn.ModuleDict, weights: dict[str, float], hint: str = "") -> None:
    """A ``KeyError`` naming the weighted objectives that the model was not built with."""
    unknown = [name for name in weights if name not in objectives]
    if unknown:
        raise KeyError(
            f"objective(s) {', '.join(unknown)} not built into this model (built: "
            f"{', '.join(objectives) or 'none'}){hint}"
        )
