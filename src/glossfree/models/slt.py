"""The composed sign language translation model: frontend -> compressor -> mapper -> language model.

Each part is chosen by the ``kind`` of its config section through one explicit dict
(:data:`FRONTENDS`, :data:`COMPRESSORS`, :data:`glossfree.models.mappers.MAPPERS`). The default
configuration is paper 004's SLT path on poses ("Lost in Translation, Found in Embeddings"):

- Sec. 3.1 / A.1 / A.2: pose backbone (articulator AGCN encoders + SE, joint aggregation,
  Conformer) on the 203-keypoint layout;
- Sec. 3.1 / A.5: Sliding Perceiver (window 8, stride 2) to LLM-width tokens, identity mapper;
- Sec. 3.2 / 4.2: Flan-T5-XL with DoRA (r 32, alpha 64), beam search with 5 beams.

The lip backbone and the ISLR pre-training heads of paper 004 are not part of this model; its SSA
task is the same model with another prompt (``PoseBatch.prompts``, :mod:`glossfree.data.multitask`). Training objectives (:mod:`glossfree.objectives`) are modules of the model too
(``SLTModel.objectives``), so that their weights train, save and freeze with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

import torch
from pydantic import Discriminator, Field, Tag
from torch import nn

from glossfree.config import StrictModel
from glossfree.data.layouts import get_layout
from glossfree.models.frontends.keypoint_mlp import KeypointMLP, KeypointMLPConfig
from glossfree.models.frontends.pose_backbone import PoseBackbone, PoseBackboneConfig
from glossfree.models.language_model import LanguageModel, LanguageModelConfig
from glossfree.models.mappers import MapperConfig, build_mapper, build_token_norm
from glossfree.models.temporal.conv_pool import ConvPool, ConvPoolConfig
from glossfree.models.temporal.sliding_perceiver import SlidingPerceiver, SlidingPerceiverConfig
from glossfree.objectives import LM_NEEDS, LMCrossEntropyConfig, ObjectiveSettings, PointDims, build_objective

if TYPE_CHECKING:
    from glossfree.data.datasets import PoseBatch


class NoCompressorConfig(StrictModel):
    """No temporal compression: one token per frame."""

    kind: Literal["none"] = "none"


class PassThrough(nn.Module):
    """Compressor that keeps every frame as a token (``output_dim`` = ``input_dim``)."""

    def __init__(self, config: NoCompressorConfig, input_dim: int, output_dim: int) -> None:
        super().__init__()
        self.output_dim = input_dim

    def forward(self, features: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return features, frame_mask.bool()


FRONTENDS = {"pose_backbone": PoseBackbone, "keypoint_mlp": KeypointMLP}
COMPRESSORS = {"sliding_perceiver": SlidingPerceiver, "conv_pool": ConvPool, "none": PassThrough}


def _kind_or(default: str):
    """Discriminator that reads ``kind`` and falls back to ``default`` when a section omits it."""

    def discriminate(value) -> str:
        if isinstance(value, dict):
            return value.get("kind", default)
        return getattr(value, "kind", default)

    return Discriminator(discriminate)


FrontendConfig = Annotated[
    Annotated[PoseBackboneConfig, Tag("pose_backbone")] | Annotated[KeypointMLPConfig, Tag("keypoint_mlp")],
    _kind_or("pose_backbone"),
]
CompressorConfig = Annotated[
    SlidingPerceiverConfig | ConvPoolConfig | NoCompressorConfig, Field(discriminator="kind")
]


class SLTModelConfig(StrictModel):
    """Model section of a recipe. Defaults: paper 004's pose SLT model at paper scale.

    Attributes:
        layout: keypoint layout of the input (see :func:`glossfree.data.layouts.get_layout`).
        frontend: per-frame visual encoder (``kind: pose_backbone``, the default, or
            ``keypoint_mlp``).
        compressor: temporal compression (``kind: sliding_perceiver``, ``conv_pool`` or ``none``).
        mapper: token map to the LM width (``kind: linear``, ``mlp`` or ``identity``).
        token_norm: ``batch`` standardises the visual tokens per feature over the batch's valid
            tokens before the LM (:class:`~glossfree.models.mappers.MaskedBatchNorm`); ``none``
            leaves them as they are.
        lm: the language model.
    """

    layout: str = "pose203"
    frontend: FrontendConfig = PoseBackboneConfig()
    compressor: CompressorConfig = SlidingPerceiverConfig()
    mapper: MapperConfig = MapperConfig()
    token_norm: Literal["none", "batch"] = "none"
    lm: LanguageModelConfig = LanguageModelConfig()


# Top-level parts of every SLTModel, in data-flow order; objective modules with weights add
# ``objectives.<name>`` (see :meth:`SLTModel.parts`). A stage's ``train`` list names these parts.
BASE_PARTS = ("frontend", "compressor", "mapper", "token_norm", "lm")

# Named points where the visual tokens can be read (``SLTOutput.visual``).
VISUAL_POINTS = ("frontend", "compressor", "tokens")


def model_parts(objectives: Sequence[ObjectiveSettings] = ()) -> list[str]:
    """The part names of a model built with ``objectives`` (without building it)."""
    heads = {f"objectives.{config.key}" for config in objectives if config.owns_parameters}
    return [*BASE_PARTS, *sorted(heads)]


@dataclass
class VisualTokens:
    """Features ``[B, L, D]`` (0 on padding) and their mask ``[B, L]`` (bool, True = valid)."""

    features: torch.Tensor
    mask: torch.Tensor


@dataclass
class SLTOutput:
    """What one forward pass computed.

    Attributes:
        loss: the weighted sum of ``losses`` (the objectives' weights).
        losses: unweighted loss of each objective, by name.
        metrics: objectives' metrics, ``<name>_<metric>`` (e.g. ``clip_global_acc``).
        visual: the visual tokens at named points: ``frontend`` (per frame, frame mask),
            ``compressor`` (compressed tokens), ``tokens`` (after mapper and token_norm: the LM input).
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


class SLTModel(nn.Module):
    """frontend -> compressor -> mapper -> token_norm -> lm, plus the modules of its objectives.

    Args:
        config: :class:`SLTModelConfig`.
        tokenizer: the language model's tokenizer (see :mod:`glossfree.text.tokenizers`).
        objectives: configs of the objectives the model is trained with (every stage's; one module
            per name). ``lm_ce`` is always available.
    """

    def __init__(self, config: SLTModelConfig, tokenizer, objectives: Sequence[ObjectiveSettings] = ()) -> None:
        super().__init__()
        self.config = config
        layout = get_layout(config.layout)
        # The LM goes first: its embedding width sizes the compressor and the mapper.
        self.lm = LanguageModel(config.lm, tokenizer)
        self.frontend = FRONTENDS[config.frontend.kind](config.frontend, layout)
        self.compressor = COMPRESSORS[config.compressor.kind](
            config.compressor, self.frontend.output_dim, self.lm.embed_dim
        )
        self.mapper = build_mapper(config.mapper, self.compressor.output_dim, self.lm.embed_dim)
        self.token_norm = build_token_norm(config.token_norm, self.lm.embed_dim)
        # Objectives come last: their projections are sized by the parts' widths.
        dims = PointDims(
            frontend=self.frontend.output_dim,
            compressor=self.compressor.output_dim,
            tokens=self.lm.embed_dim,
            encoder=self.lm.embed_dim,
            text=self.lm.embed_dim,
        )
        configs = {"lm_ce": LMCrossEntropyConfig()}
        for objective in objectives:
            configs[objective.key] = objective
        self.objectives = nn.ModuleDict({key: build_objective(cfg, dims) for key, cfg in configs.items()})

    def parts(self) -> list[str]:
        """Names of the parts a stage can train or freeze: :data:`BASE_PARTS` and ``objectives.<name>``
        for each objective with weights."""
        heads = [f"objectives.{key}" for key, head in self.objectives.items() if next(head.parameters(), None) is not None]
        return [*BASE_PARTS, *sorted(heads)]

    def visual_points(self, batch: PoseBatch) -> dict[str, VisualTokens]:
        """The visual tokens at each named point of :data:`VISUAL_POINTS` (see :class:`SLTOutput`)."""
        frame_mask = batch.frame_mask.bool()
        frames = self.frontend(batch.keypoints, batch.keypoint_mask, frame_mask)  # [B, T, D]
        tokens, token_mask = self.compressor(frames, frame_mask)  # [B, W, D']
        embeds = self.token_norm(self.mapper(tokens), token_mask)  # [B, W, embed_dim]
        embeds = embeds * token_mask.unsqueeze(-1).to(embeds.dtype)
        return {
            "frontend": VisualTokens(frames, frame_mask),
            "compressor": VisualTokens(tokens, token_mask),
            "tokens": VisualTokens(embeds, token_mask),
        }

    def encode(self, batch: PoseBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Visual tokens for the LM: ``[B, L, embed_dim]`` (0 on padding) and their mask ``[B, L]``."""
        tokens = self.visual_points(batch)["tokens"]
        return tokens.features, tokens.mask

    def forward(
        self,
        batch: PoseBatch,
        *,
        prompts: list[str] | None = None,
        objectives: Mapping[str, float] | None = None,
    ) -> SLTOutput:
        """The weighted objectives on ``batch`` (default ``{"lm_ce": 1.0}``: the translation loss).

        Args:
            batch: a :class:`~glossfree.data.datasets.PoseBatch` with target texts.
            prompts: per-sample LM prompts (default: the batch's ``prompts``, else ``config.lm.prompt``).
            objectives: weight of each objective by name (names of ``self.objectives``).

        The LM runs only as far as the objectives need: not at all, its encoder, or the
        teacher-forced pass.
        """
        prompts = prompts if prompts is not None else getattr(batch, "prompts", None)
        weights = dict(objectives) if objectives is not None else {"lm_ce": 1.0}
        unknown = [name for name in weights if name not in self.objectives]
        if unknown:
            raise KeyError(
                f"objective(s) {', '.join(unknown)} not built into this model (built: "
                f"{', '.join(self.objectives)}); build SLTModel with their configs"
            )
        if not weights:
            raise ValueError("no objective to compute: pass at least one")
        heads = {name: self.objectives[name] for name in weights}
        visual = self.visual_points(batch)
        tokens = visual["tokens"]
        need = max((LM_NEEDS.index(head.lm_need) for head in heads.values()), default=0)
        encoder = lm_loss = logits = None
        if need == LM_NEEDS.index("full"):
            lm = self.lm.teacher_forced(tokens.features, tokens.mask, batch.texts, prompts=prompts)
            encoder, lm_loss, logits = VisualTokens(lm.encoder_hidden, lm.encoder_mask), lm.loss, lm.logits
        elif need == LM_NEEDS.index("encoder"):
            encoder = VisualTokens(*self.lm.encode_embeds(tokens.features, tokens.mask, prompts=prompts))
        output = SLTOutput(
            loss=torch.zeros(()), losses={}, logits=logits, visual=visual, encoder=encoder, lm_loss=lm_loss
        )
        total = None
        for name, head in heads.items():
            result = head(output, batch, self)
            output.losses[name] = result.loss
            output.metrics.update({f"{name}_{metric}": value for metric, value in result.metrics.items()})
            weight = weights[name]
            term = result.loss if weight == 1.0 else weight * result.loss
            total = term if total is None else total + term
        assert total is not None
        output.loss = total
        return output

    def swapped_input_losses(self, batch: PoseBatch, *, prompts: list[str] | None = None) -> dict[str, torch.Tensor]:
        """The input-reliance check: LM loss with the batch's real visual tokens and with each sample's
        tokens swapped for the next sample's (a cyclic shift of the batch).

        Returns ``{"lm_ce": real, "lm_ce_swapped": swapped}``. A model that reads its input scores
        clearly worse on swapped tokens; one that learned only the sentence prior scores the same.
        A batch of one sample has nothing to swap with: both entries are the real loss.
        """
        prompts = prompts if prompts is not None else getattr(batch, "prompts", None)
        embeds, mask = self.encode(batch)
        real, _ = self.lm(embeds, mask, batch.texts, prompts=prompts)
        if embeds.shape[0] < 2:
            return {"lm_ce": real, "lm_ce_swapped": real}
        order = torch.roll(torch.arange(embeds.shape[0], device=embeds.device), 1)
        swapped, _ = self.lm(embeds[order], mask[order], batch.texts, prompts=prompts)
        return {"lm_ce": real, "lm_ce_swapped": swapped}

    @torch.no_grad()
    def generate(
        self,
        batch: PoseBatch,
        *,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
        length_penalty: float | None = None,
        prompts: list[str] | None = None,
        prefix_allowed_tokens_fn=None,
    ) -> list[str]:
        """Translate a batch by beam search; ``None`` arguments take ``config.lm.generation``
        (prompts: the batch's ``prompts``, else ``config.lm.prompt``)."""
        prompts = prompts if prompts is not None else getattr(batch, "prompts", None)
        embeds, mask = self.encode(batch)
        return self.lm.generate(
            embeds,
            mask,
            prompts=prompts,
            num_beams=num_beams,
            max_new_tokens=max_new_tokens,
            length_penalty=length_penalty,
            prefix_allowed_tokens_fn=prefix_allowed_tokens_fn,
        )
