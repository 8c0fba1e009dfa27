"""Training objectives: small modules chosen by ``kind`` through one explicit dict.

A stage lists its objectives in the recipe (``objectives: [{kind: lm_ce, weight: 1.0}, {kind:
clip_global, weight: 0.5, visual: tokens}]``); each config below is one member of the
:data:`ObjectiveConfig` union. ``SLTModel`` builds the modules of every objective a recipe names
(:func:`build_objective`) and sums the weighted losses of the running stage.

DESIGN.md's list (lm_ce · pseudo_gloss_bce · clip_global · clcl_token · vt_align · islr_ce ·
ssa_soft_digits): the later recipes add their configs to the union and their classes to
:data:`OBJECTIVES`. The ISLR objectives (``islr_ce``, ``islr_aux``, ``islr_contrastive``,
:mod:`glossfree.objectives.islr`) are in the union, so that a stage validates them and its
monitor, but their modules are built by the ISLR model (:data:`~glossfree.objectives.islr.ISLR_OBJECTIVES`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Discriminator, Tag

from glossfree.errors import ConfigError

from glossfree.objectives.base import (
    LM_NEEDS,
    Objective,
    ObjectiveOutput,
    ObjectiveSettings,
    PointDims,
    masked_mean,
)
from glossfree.objectives.clip_global import ClipGlobal, ClipGlobalConfig, clip_loss
from glossfree.objectives.islr import (
    ISLR_OBJECTIVE_KINDS,
    ISLRArticulatorAuxConfig,
    ISLRContrastiveConfig,
    ISLRCrossEntropyConfig,
)
from glossfree.objectives.lm_ce import LMCrossEntropy, LMCrossEntropyConfig
from glossfree.objectives.ssa_soft_digits import SSASoftDigits, SSASoftDigitsConfig

OBJECTIVES: dict[str, type[Objective]] = {
    "lm_ce": LMCrossEntropy,
    "clip_global": ClipGlobal,
    "ssa_soft_digits": SSASoftDigits,
}


def objective_kind(value) -> str:
    """An objective without ``kind`` is ``lm_ce`` (the translation loss)."""
    if isinstance(value, dict):
        return value.get("kind", "lm_ce")
    return getattr(value, "kind", "lm_ce")


ObjectiveConfig = Annotated[
    Annotated[LMCrossEntropyConfig, Tag("lm_ce")]
    | Annotated[ClipGlobalConfig, Tag("clip_global")]
    | Annotated[SSASoftDigitsConfig, Tag("ssa_soft_digits")]
    | Annotated[ISLRCrossEntropyConfig, Tag("islr_ce")]
    | Annotated[ISLRArticulatorAuxConfig, Tag("islr_aux")]
    | Annotated[ISLRContrastiveConfig, Tag("islr_contrastive")],
    Discriminator(objective_kind),
]


def build_objective(config: ObjectiveSettings, dims: PointDims) -> Objective:
    """The module of an SLT objective (the ISLR ones are built by ``glossfree.models.islr.ISLRModel``)."""
    kind = config.kind  # type: ignore[attr-defined]
    if kind in ISLR_OBJECTIVE_KINDS:
        raise ConfigError(f"objective '{config.key}' ({kind}) trains an ISLR model: use it in a recipe with `recipe: islr`")
    return OBJECTIVES[kind](config, dims)


__all__ = [
    "LM_NEEDS", "OBJECTIVES", "ClipGlobal", "ClipGlobalConfig", "LMCrossEntropy", "LMCrossEntropyConfig",
    "Objective", "ObjectiveConfig", "ObjectiveOutput", "ObjectiveSettings", "PointDims", "SSASoftDigits",
    "SSASoftDigitsConfig", "build_objective",
    "clip_loss", "masked_mean",
]  # fmt: skip
