"""Training objectives: small modules chosen by ``kind`` through one explicit dict.

A stage lists its objectives in the recipe (``objectives: [{kind: lm_ce, weight: 1.0}, {kind:
clip_global, weight: 0.5, visual: tokens}]``); each config below is one member of the
:data:`ObjectiveConfig` union. The training task builds the modules of every objective a recipe
names (:func:`build_objectives`, sized by the model's widths) and hands them to the model, which
sums the weighted losses of the running stage.

DESIGN.md's list (lm_ce · pseudo_gloss_bce · clip_global · clcl_token · vt_align · islr_ce ·
ssa_soft_digits): the later recipes add their configs to the union and their classes to
:data:`OBJECTIVES` (``clcl_token``: SAGE's token-level CLCL; ``vt_align``: SpaMo's VT-Align; ``text_denoise``: mBART's text infilling, a
text-only stage that stands in for a pretrained text model). The ISLR objectives (``islr_ce``, ``islr_aux``, ``islr_contrastive``,
:mod:`glossfree.objectives.islr`) are in the union, so that a stage validates them and its
monitor; :func:`build_islr_objectives` builds their modules (:data:`~glossfree.objectives.islr.ISLR_OBJECTIVES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from pydantic import Discriminator, Tag
from torch import nn

from glossfree.errors import ConfigError

from glossfree.models.outputs import LM_NEEDS, ISLRDims, PointDims, masked_mean
from glossfree.objectives.base import Objective, ObjectiveOutput, ObjectiveSettings
from glossfree.objectives.clcl_token import ClclToken, ClclTokenConfig, clcl_token_loss
from glossfree.objectives.clip_global import ClipGlobal, ClipGlobalConfig, clip_loss
from glossfree.objectives.islr import (
    ISLR_OBJECTIVE_KINDS,
    ISLR_OBJECTIVES,
    ISLRArticulatorAuxConfig,
    ISLRContrastiveConfig,
    ISLRCrossEntropyConfig,
)
from glossfree.objectives.lm_ce import LMCrossEntropy, LMCrossEntropyConfig
from glossfree.objectives.pseudo_gloss import PseudoGlossBCE, PseudoGlossBCEConfig
from glossfree.objectives.ssa_soft_digits import SSASoftDigits, SSASoftDigitsConfig
from glossfree.objectives.text_denoise import TextDenoise, TextDenoiseConfig, infill_spans
from glossfree.objectives.vt_align import VTAlign, VTAlignConfig

OBJECTIVES: dict[str, type[Objective]] = {
    "lm_ce": LMCrossEntropy,
    "clip_global": ClipGlobal,
    "pseudo_gloss_bce": PseudoGlossBCE,
    "clcl_token": ClclToken,
    "vt_align": VTAlign,
    "ssa_soft_digits": SSASoftDigits,
    "text_denoise": TextDenoise,
}


def objective_kind(value) -> str:
    """An objective without ``kind`` is ``lm_ce`` (the translation loss)."""
    if isinstance(value, dict):
        return value.get("kind", "lm_ce")
    return getattr(value, "kind", "lm_ce")


ObjectiveConfig = Annotated[
    Annotated[LMCrossEntropyConfig, Tag("lm_ce")]
    | Annotated[ClipGlobalConfig, Tag("clip_global")]
    | Annotated[PseudoGlossBCEConfig, Tag("pseudo_gloss_bce")]
    | Annotated[ClclTokenConfig, Tag("clcl_token")]
    | Annotated[VTAlignConfig, Tag("vt_align")]
    | Annotated[SSASoftDigitsConfig, Tag("ssa_soft_digits")]
    | Annotated[TextDenoiseConfig, Tag("text_denoise")]
    | Annotated[ISLRCrossEntropyConfig, Tag("islr_ce")]
    | Annotated[ISLRArticulatorAuxConfig, Tag("islr_aux")]
    | Annotated[ISLRContrastiveConfig, Tag("islr_contrastive")],
    Discriminator(objective_kind),
]


def build_objective(config: ObjectiveSettings, dims: PointDims) -> Objective:
    """The module of an SLT objective (the ISLR ones: :func:`build_islr_objectives`)."""
    kind = config.kind  # type: ignore[attr-defined]
    if kind in ISLR_OBJECTIVE_KINDS:
        raise ConfigError(f"objective '{config.key}' ({kind}) trains an ISLR model: use it in a recipe with `recipe: islr`")
    return OBJECTIVES[kind](config, dims)


def build_objectives(configs: Sequence[ObjectiveSettings], dims: PointDims) -> nn.ModuleDict:
    """One module per objective name of an SLT model with widths ``dims``; ``lm_ce`` (the translation
    loss) is always among them, so any model can be trained and scored on its LM loss."""
    chosen: dict[str, ObjectiveSettings] = {"lm_ce": LMCrossEntropyConfig()}
    for config in configs:
        chosen[config.key] = config
    return nn.ModuleDict({key: build_objective(config, dims) for key, config in chosen.items()})


def build_islr_objectives(configs: Sequence[ObjectiveSettings], dims: ISLRDims) -> nn.ModuleDict:
    """One module per ISLR objective name of an ISLR model with widths ``dims``."""
    built = {}
    for config in configs:
        kind = config.kind  # type: ignore[attr-defined]
        if kind not in ISLR_OBJECTIVES:
            raise ConfigError(
                f"objective '{config.key}' ({kind}) is not an ISLR objective; an ISLR stage uses "
                f"{', '.join(ISLR_OBJECTIVES)}"
            )
        built[config.key] = ISLR_OBJECTIVES[kind](config, dims)
    return nn.ModuleDict(built)


__all__ = [
    "LM_NEEDS", "OBJECTIVES", "ClclToken", "ClclTokenConfig", "ClipGlobal", "ClipGlobalConfig", "LMCrossEntropy",
    "LMCrossEntropyConfig", "Objective", "ObjectiveConfig", "ObjectiveOutput", "ObjectiveSettings", "PointDims",
    "PseudoGlossBCE", "PseudoGlossBCEConfig", "SSASoftDigits", "SSASoftDigitsConfig", "TextDenoise", "TextDenoiseConfig", "VTAlign", "VTAlignConfig",
    "build_islr_objectives", "build_objective", "build_objectives", "clcl_token_loss", "clip_loss", "infill_spans",
    "masked_mean",
]  # fmt: skip
