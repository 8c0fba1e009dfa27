"""The composed sign language translation model: frontend -> compressor -> mapper -> language model.

Each part is chosen by the ``kind`` of its config section through one explicit dict
(:data:`FRONTENDS`, :data:`COMPRESSORS`, :data:`glossfree.models.mappers.MAPPERS`). The default
configuration is paper 004's SLT path on poses ("Lost in Translation, Found in Embeddings"):

- Sec. 3.1 / A.1 / A.2: pose backbone (articulator AGCN encoders + SE, joint aggregation,
  Conformer) on the 203-keypoint layout;
- Sec. 3.1 / A.5: Sliding Perceiver (window 8, stride 2) to LLM-width tokens, identity mapper;
- Sec. 3.2 / 4.2: Flan-T5-XL with DoRA (r 32, alpha 64), beam search with 5 beams.

Paper 004's lip backbone (Sec. 3.1) is the frontend ``kind: lip_backbone``
(:mod:`glossfree.models.frontends.lip_backbone`), fused with the pose backbone through
``frontends`` + ``fusion: concat_channels``. The ISLR pre-training heads of paper 004 are not part of this model; its SSA
task is the same model with another prompt (``PoseBatch.prompts``, :mod:`glossfree.data.multitask`). Training objectives (:mod:`glossfree.objectives`) are modules of the model too
(``SLTModel.objectives``), so that their weights train, save and freeze with it; the model does not
build them (it reads no objective code): the translation task does
(:func:`glossfree.training.tasks.translation.build_slt_model`), sized by :meth:`SLTModel.point_dims`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import torch
from pydantic import Discriminator, Field, Tag, model_validator
from torch import nn

from glossfree.config import StrictModel
from glossfree.data.layouts import get_layout
from glossfree.errors import ConfigError
from glossfree.models.frontends.features import (
    FeatureStreamConfig,
    FeatureStreamFrontend,
)
from glossfree.models.frontends.frame_encoder import FrameEncoder, FrameEncoderConfig
from glossfree.models.frontends.keypoint_mlp import KeypointMLP, KeypointMLPConfig
from glossfree.models.frontends.lip_backbone import LipBackbone, LipBackboneConfig
from glossfree.models.frontends.pose_backbone import PoseBackbone, PoseBackboneConfig
from glossfree.models.language_model import LanguageModel, LanguageModelConfig
from glossfree.models.mappers import MapperConfig, build_mapper, build_token_norm
from glossfree.models.outputs import (
    LM_NEEDS,
    PointDims,
    SLTOutput,
    VisualTokens,
    check_objective_names,
    weighted_objectives,
)
from glossfree.models.temporal.conv_pool import ConvPool, ConvPoolConfig
from glossfree.models.temporal.local_transformer import (
    LocalTransformer,
    LocalTransformerConfig,
)
from glossfree.models.temporal.positions import sinusoidal_encoding
from glossfree.models.temporal.segment_pool import SegmentPool, SegmentPoolConfig
from glossfree.models.temporal.sliding_perceiver import (
    SlidingPerceiver,
    SlidingPerceiverConfig,
)

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


FRONTENDS = {
    "pose_backbone": PoseBackbone,
    "keypoint_mlp": KeypointMLP,
    "frame_encoder": FrameEncoder,
    "features": FeatureStreamFrontend,
    "lip_backbone": LipBackbone,
}
COMPRESSORS = {
    "sliding_perceiver": SlidingPerceiver,
    "conv_pool": ConvPool,
    "local_transformer": LocalTransformer,
    "segment_pool": SegmentPool,
    "none": PassThrough,
}


def _kind_or(default: str):
    """Discriminator that reads ``kind`` and falls back to ``default`` when a section omits it."""

    def discriminate(value) -> str:
        if isinstance(value, dict):
            return value.get("kind", default)
        return getattr(value, "kind", default)

    return Discriminator(discriminate)


FrontendConfig = Annotated[
    Annotated[PoseBackboneConfig, Tag("pose_backbone")]
    | Annotated[KeypointMLPConfig, Tag("keypoint_mlp")]
    | Annotated[FrameEncoderConfig, Tag("frame_encoder")]
    | Annotated[FeatureStreamConfig, Tag("features")]
    | Annotated[LipBackboneConfig, Tag("lip_backbone")],
    _kind_or("pose_backbone"),
]
CompressorConfig = Annotated[
    SlidingPerceiverConfig | ConvPoolConfig | LocalTransformerConfig | SegmentPoolConfig | NoCompressorConfig,
    Field(discriminator="kind"),
]


class SLTModelConfig(StrictModel):
    """Model section of a recipe. Defaults: paper 004's pose SLT model at paper scale.

    Attributes:
        layout: keypoint layout of the input (see :func:`glossfree.data.layouts.get_layout`).
        frontend: per-frame visual encoder: ``kind: pose_backbone`` (the default), ``keypoint_mlp``
            (keypoints), ``frame_encoder`` (RGB frames), ``features`` (a cached stream) or
            ``lip_backbone`` (lip crops or a cached lip-reader stream, paper 004).
        frontends: several frontends fused by ``fusion`` (instead of ``frontend``).
        fusion: how ``frontends`` combine: ``concat_channels`` (time-aligned streams, e.g. pose and
            lip: ``[B, T, sum D_i]``) or ``concat_time`` (SpaMo: each sample's streams one after the
            other, ``[B, sum T_i, D]``, equal widths).
        align: ``concat_channels`` with streams of different lengths: ``strict`` is an error naming
            the samples, ``resample`` maps each stream onto the first one's steps (nearest earlier step).
        compressor: temporal compression (``kind: sliding_perceiver``, ``conv_pool``,
            ``local_transformer`` or ``none``).
        mapper: token map to the LM width (``kind: linear``, ``mlp`` or ``identity``).
        token_norm: ``batch`` standardises the visual tokens per feature over the batch's valid
            tokens before the LM (:class:`~glossfree.models.mappers.MaskedBatchNorm`); ``none``
            leaves them as they are.
        token_positions: ``sinusoidal`` adds the fixed sinusoid table of Vaswani et al. (2017) to the
            visual tokens (after ``token_norm``, so at a strength comparable to unit-variance tokens)
            before the LM; ``none`` leaves position to the LM. A from-scratch mBART adds learned
            positions initialised at std 0.02, 50x weaker than standardised tokens at the start, so
            its encoder begins as a bag of tokens (docs/benchmarks.md §12); a pretrained LM has
            positions of its own scale (keep ``none``).
        lm: the language model.
    """

    layout: str = "pose203"
    frontend: FrontendConfig = PoseBackboneConfig()
    frontends: list[FrontendConfig] | None = None
    fusion: Literal["concat_channels", "concat_time"] = "concat_channels"
    align: Literal["strict", "resample"] = "strict"
    compressor: CompressorConfig = SlidingPerceiverConfig()
    mapper: MapperConfig = MapperConfig()
    token_norm: Literal["none", "batch"] = "none"
    token_positions: Literal["none", "sinusoidal"] = "none"
    lm: LanguageModelConfig = LanguageModelConfig()

    @model_validator(mode="after")
    def _one_frontend_form(self) -> SLTModelConfig:
        if self.frontends is not None:
            # (an exported recipe dumps every field, the unused default ``frontend`` too)
            if "frontend" in self.model_fields_set and self.frontend != PoseBackboneConfig():
                raise ValueError("give either 'frontend' (one) or 'frontends' (a list fused by 'fusion'), not both")
            if not self.frontends:
                raise ValueError("'frontends' is empty; list at least one frontend")
        return self

    def frontend_list(self) -> list:
        """The frontend configs, in order (one for ``frontend``)."""
        return list(self.frontends) if self.frontends is not None else [self.frontend]


def frontend_inputs(config) -> set[str]:
    """The inputs one frontend config reads (names of :mod:`glossfree.data.inputs`)."""
    if config.kind in ("pose_backbone", "keypoint_mlp"):
        return {"keypoints"}
    if config.kind == "frame_encoder":
        return {"frames"}
    if config.kind == "lip_backbone":
        return {config.input_name()}
    return {f"features:{config.stream}"}


def required_inputs(config: Any) -> set[str]:
    """Every input the model of ``config`` reads: the union over its frontends (``config.frontend_list()``:
    an SLT model's, or an ISLR model's pose backbone and second stream), and ``segments`` for a
    compressor that pools over them (``segment_pool``)."""
    inputs = set().union(*(frontend_inputs(c) for c in config.frontend_list()))
    if getattr(getattr(config, "compressor", None), "kind", None) == "segment_pool":
        inputs.add("segments")
    return inputs


def frame_preprocess(config: Any):
    """The preprocessing of the ``frames`` input (its frame encoders'), or None without one; several
    frame encoders must agree (the dataset prepares the frames once)."""
    found = [c.preprocess for c in config.frontend_list() if c.kind == "frame_encoder"]
    if any(p != found[0] for p in found):
        raise ConfigError(f"frame encoders with different preprocessing read the same frames: {[str(p) for p in found]}")
    return found[0] if found else None


def lip_crop_config(config: Any):
    """How the ``lips`` input is cut (its lip backbones' ``crop``), or None without one; several
    lip backbones on crops must agree (the dataset cuts the crops once). ``config``: any model config
    with ``frontend_list()`` (an SLT model's frontends, an ISLR model's ``backbone`` and ``lip``)."""
    found = [c.crop for c in config.frontend_list() if c.kind == "lip_backbone" and c.source == "crops"]
    if any(c != found[0] for c in found):
        raise ConfigError(f"lip backbones with different crop settings read the same lips: {[str(c) for c in found]}")
    return found[0] if found else None


def build_frontend(config, layout) -> nn.Module:
    """The frontend module of one frontend config (``kind``) on ``layout``; ``output_dim`` is its width."""
    module = FRONTENDS[config.kind](config, layout) if config.kind in ("pose_backbone", "keypoint_mlp") else FRONTENDS[config.kind](config)
    if not hasattr(module, "output_dim"):
        module.output_dim = config.dim  # FeatureStreamFrontend: its projection width
    return module


def run_frontend(kind: str, module: nn.Module, config, batch: PoseBatch) -> VisualTokens:
    """One frontend on the batch's input it reads: per-step features ``[B, T_i, D_i]`` and mask."""
    name = next(iter(frontend_inputs(config)))
    mask = batch.masks.get(name)
    if name == "keypoints":
        if batch.keypoints is None:
            raise ConfigError(f"frontend '{kind}' reads keypoints, but the batch has none (inputs: {sorted(batch.masks)})")
        mask = (mask if mask is not None else batch.frame_mask).bool()
        features = module(batch.keypoints, batch.keypoint_mask, mask)
        # A frontend that changes the step rate (pose_backbone's stack_frames) says which steps are real.
        return VisualTokens(features, module.output_mask(mask) if hasattr(module, "output_mask") else mask)
    data = batch.frames if name == "frames" else batch.lips if name == "lips" else batch.features.get(config.stream)
    if mask is None or data is None:
        raise ConfigError(f"frontend '{kind}' reads '{name}', but the batch has no such input (inputs: {sorted(batch.masks)})")
    mask = mask.bool()
    if name == "lips":  # frames without a detected face are marked for the lip backbone
        return VisualTokens(module(data, mask, batch.lip_mask), mask)
    return VisualTokens(module(data, mask), mask)


def _resample_to(tokens: VisualTokens, reference: torch.Tensor) -> torch.Tensor:
    """``tokens`` ``[B, T_i, D]`` mapped onto the steps of ``reference`` ``[B, T]`` per sample:
    step ``t`` of a sample with ``L`` reference steps takes stream step ``floor(t * L_i / L)``."""
    ref_len = reference.sum(dim=1).clamp(min=1)  # [B]
    own_len = tokens.mask.sum(dim=1)  # [B]
    steps = torch.arange(reference.shape[1], device=reference.device)[None, :]  # [1, T]
    index = (steps * own_len[:, None]) // ref_len[:, None]  # [B, T]
    index = torch.minimum(index, (own_len - 1).clamp(min=0)[:, None])
    gathered = tokens.features.gather(1, index[..., None].expand(-1, -1, tokens.features.shape[-1]))
    return gathered * reference[..., None].to(gathered.dtype)


def fuse(streams: Sequence[VisualTokens], fusion: str, align: str, ids: Sequence[str] = ()) -> VisualTokens:
    """Fuse frontend outputs by ``fusion`` (see :class:`SLTModelConfig`); padding stays 0 and masked."""
    if len(streams) == 1:
        return streams[0]
    if fusion == "concat_channels":
        reference = streams[0].mask
        ref_len = reference.sum(dim=1)
        parts = [streams[0].features]
        for number, stream in enumerate(streams[1:], start=1):
            own_len = stream.mask.sum(dim=1)
            if torch.equal(own_len, ref_len) and stream.features.shape[1] == reference.shape[1]:
                parts.append(stream.features)
                continue
            empty = (own_len == 0) & (ref_len > 0)
            if align == "strict" or bool(empty.any()):
                rows = (own_len != ref_len).nonzero().flatten().tolist()
                named = ", ".join(f"{ids[r] if r < len(ids) else r}: {int(ref_len[r])} vs {int(own_len[r])}" for r in rows[:5])
                raise ValueError(
                    f"concat_channels: frontend {number} has other lengths than frontend 0 ({named}); "
                    + ("an empty stream cannot be aligned" if bool(empty.any()) else
                       "set model.align: resample to map it onto frontend 0's steps, or give streams of one frame rate")
                )  # fmt: skip
            parts.append(_resample_to(stream, reference))
        return VisualTokens(torch.cat(parts, dim=-1), reference)
    # concat_time: pack each sample's real steps of every stream one after the other
    lengths = torch.stack([s.mask.sum(dim=1) for s in streams], dim=1)  # [B, S]
    total = lengths.sum(dim=1)  # [B]
    batch, width = streams[0].mask.shape[0], streams[0].features.shape[-1]
    out = streams[0].features.new_zeros(batch, int(total.max()), width)  # [B, sum T_i, D]
    for row in range(batch):
        pieces = [s.features[row][s.mask[row]] for s in streams]
        packed = torch.cat(pieces)
        out[row, : packed.shape[0]] = packed
    mask = torch.arange(out.shape[1], device=out.device)[None, :] < total[:, None]
    return VisualTokens(out, mask)


class FusedFrontend(nn.Module):
    """Several frontends, each on its own input, fused by a declared rule (``model.fusion``)."""

    def __init__(self, configs: Sequence, layout, fusion: str, align: str) -> None:
        super().__init__()
        self.configs, self.fusion, self.align = list(configs), fusion, align
        self.branches = nn.ModuleList(build_frontend(c, layout) for c in configs)
        dims = [b.output_dim for b in self.branches]
        if fusion == "concat_time" and len(set(dims)) > 1:
            raise ConfigError(
                f"fusion concat_time puts streams one after the other, so their widths must agree; "
                f"frontend widths are {dims} (set each frontend's dim to one value)"
            )
        self.output_dim = sum(dims) if fusion == "concat_channels" else dims[0]

    def forward(self, batch: PoseBatch) -> VisualTokens:
        streams = [run_frontend(c.kind, m, c, batch) for c, m in zip(self.configs, self.branches)]
        return fuse(streams, self.fusion, self.align, batch.ids)


# Top-level parts of every SLTModel, in data-flow order; objective modules with weights add
# ``objectives.<name>`` (see :meth:`SLTModel.parts`). A stage's ``train`` list names these parts.
BASE_PARTS = ("frontend", "compressor", "mapper", "token_norm", "lm")

# Parts a stage can also train piece by piece: paper 001's first fine-tuning stage trains the LM
# decoder with its encoder frozen. ``lm`` stays one part and means both pieces.
SUB_PARTS: dict[str, tuple[str, ...]] = {"lm": ("lm.encoder", "lm.decoder")}


def part_names(parts: Sequence[str]) -> list[str]:
    """What a stage's ``train`` may list for a model with ``parts``: the parts and their pieces."""
    return [name for part in parts for name in (part, *SUB_PARTS.get(part, ()))]


# Named points where the visual tokens can be read (``SLTOutput.visual``); ``context`` (the output of
# a compressor's own context encoder, SAGE's VE) only where the compressor has one and an objective reads it.
VISUAL_POINTS = ("frontend", "compressor", "tokens", "context")


def model_parts(objectives: Sequence[Any] = ()) -> list[str]:
    """The part names of a model built with ``objectives`` (their configs: ``key`` and
    ``owns_parameters``), without building it."""
    heads = {f"objectives.{config.key}" for config in objectives if config.owns_parameters}
    return [*BASE_PARTS, *sorted(heads)]


class SLTModel(nn.Module):
    """frontend -> compressor -> mapper -> token_norm -> lm, plus the modules of its objectives.

    Args:
        config: :class:`SLTModelConfig`.
        tokenizer: the language model's tokenizer (see :mod:`glossfree.text.tokenizers`).
        objectives: the objective modules the model is trained with, by name (every stage's; built
            for this model's :meth:`point_dims` by
            :func:`~glossfree.training.tasks.translation.build_slt_model`, which always adds ``lm_ce``);
            they can also be set later with :meth:`set_objectives`. A model without objectives
            encodes, generates and scores input reliance, but has no loss to compute.
    """

    def __init__(self, config: SLTModelConfig, tokenizer, objectives: Mapping[str, nn.Module] | None = None) -> None:
        super().__init__()
        self.config = config
        layout = get_layout(config.layout)
        # The LM goes first: its embedding width sizes the compressor and the mapper.
        self.lm = LanguageModel(config.lm, tokenizer)
        # One frontend keeps its own module (and its weights' names, ``frontend.*``); several are fused.
        if config.frontends is None:
            self.frontend = build_frontend(config.frontend, layout)
        else:
            self.frontend = FusedFrontend(config.frontends, layout, config.fusion, config.align)
        self.compressor = COMPRESSORS[config.compressor.kind](
            config.compressor, self.frontend.output_dim, self.lm.embed_dim
        )
        self.mapper = build_mapper(config.mapper, self.compressor.output_dim, self.lm.embed_dim)
        self.token_norm = build_token_norm(config.token_norm, self.lm.embed_dim)
        # Objectives come last: their projections are sized by the parts' widths (point_dims).
        self.objectives = nn.ModuleDict(dict(objectives or {}))

    def point_dims(self) -> PointDims:
        """The widths of the named points (:data:`VISUAL_POINTS`), the encoder and the text side."""
        return PointDims(
            frontend=self.frontend.output_dim,
            compressor=self.compressor.output_dim,
            tokens=self.lm.embed_dim,
            encoder=self.lm.embed_dim,
            text=self.lm.embed_dim,
            context=self.compressor.output_dim if getattr(self.compressor, "context", None) is not None else None,
        )

    def set_objectives(self, objectives: Mapping[str, nn.Module]) -> None:
        """Replace the objective modules (``objectives.<name>`` parts)."""
        self.objectives = nn.ModuleDict(dict(objectives))

    def parts(self) -> list[str]:
        """Names of the parts a stage can train or freeze: :data:`BASE_PARTS` and ``objectives.<name>``
        for each objective with weights."""
        heads = [f"objectives.{key}" for key, head in self.objectives.items() if next(head.parameters(), None) is not None]
        return [*BASE_PARTS, *sorted(heads)]

    def sub_parts(self) -> dict[str, tuple[str, ...]]:
        """The parts a stage can train piece by piece, and their pieces (:data:`SUB_PARTS`)."""
        return dict(SUB_PARTS)

    def sub_part(self, name: str) -> tuple[frozenset[str], list[nn.Module]]:
        """One piece (``lm.encoder``, ``lm.decoder``): its parameter names in this model and the
        modules to put in eval mode when it is frozen (:meth:`LanguageModel.part_split`)."""
        names, modules = self.lm.part_split()[name.removeprefix("lm.")]
        return frozenset(f"lm.{n}" for n in names), modules

    def required_inputs(self) -> set[str]:
        """What the datasets must load for this model: ``{"keypoints"}``, ``{"frames"}``,
        ``{"features:clip_s2", "features:videomae"}``, ... (:mod:`glossfree.data.inputs`)."""
        return required_inputs(self.config)

    def encode_frontend(self, batch: PoseBatch) -> VisualTokens:
        """The (fused) frontend output ``[B, T, D]`` and its mask."""
        if isinstance(self.frontend, FusedFrontend):
            return self.frontend(batch)
        config = self.config.frontend
        return run_frontend(config.kind, self.frontend, config, batch)

    def visual_points(self, batch: PoseBatch) -> dict[str, VisualTokens]:
        """The visual tokens at each named point of :data:`VISUAL_POINTS` (see :class:`SLTOutput`)."""
        fused = self.encode_frontend(batch)
        frames, frame_mask = fused.features, fused.mask  # [B, T, D], [B, T]
        if getattr(self.compressor, "reads_segments", False):  # segment_pool: one token per sign segment
            tokens, token_mask = self.compressor(frames, frame_mask, segments=batch.segments, segment_mask=batch.segment_mask)
        else:
            tokens, token_mask = self.compressor(frames, frame_mask)  # [B, W, D']
        embeds = self.token_norm(self.mapper(tokens), token_mask)  # [B, W, embed_dim]
        if self.config.token_positions == "sinusoidal":
            steps = torch.arange(embeds.shape[1], device=embeds.device)
            embeds = embeds + sinusoidal_encoding(steps, embeds.shape[-1]).to(embeds.device, embeds.dtype)
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
        weights = dict(objectives) if objectives is not None else {"lm_ce": 1.0}
        check_objective_names(
            self.objectives, weights, "; build the model with their configs (glossfree.training.tasks.translation.build_slt_model)"
        )
        if not weights:
            raise ValueError("no objective to compute: pass at least one")
        heads = {name: self.objectives[name] for name in weights}
        prompts = prompts if prompts is not None else batch.prompts  # per-sample prompts loaded with the data
        need = max((LM_NEEDS.index(head.lm_need) for head in heads.values()), default=0)
        visual: dict[str, VisualTokens] = {}
        if need > 0 or any(head.reads_visual for head in heads.values()):
            visual = self.visual_points(batch)
        if any(getattr(getattr(head, "config", None), "visual", None) == "context" for head in heads.values()):
            visual["context"] = self.compressor.contextualize(visual["compressor"])  # SAGE's VE, pretraining only
        encoder = lm_loss = logits = None
        if need == LM_NEEDS.index("full"):
            tokens = visual["tokens"]
            lm = self.lm.teacher_forced(tokens.features, tokens.mask, batch.texts, prompts=prompts)
            encoder, lm_loss, logits = VisualTokens(lm.encoder_hidden, lm.encoder_mask), lm.loss, lm.logits
        elif need == LM_NEEDS.index("encoder"):
            tokens = visual["tokens"]
            encoder = VisualTokens(*self.lm.encode_embeds(tokens.features, tokens.mask, prompts=prompts))
        output = SLTOutput(
            loss=torch.zeros(()), losses={}, logits=logits, visual=visual, encoder=encoder, lm_loss=lm_loss
        )
        total = weighted_objectives(self.objectives, weights, output, batch, self)
        assert total is not None
        output.loss = total
        return output

    def swapped_input_losses(
        self, batch: PoseBatch, *, prompts: list[str] | None = None, output: SLTOutput | None = None
    ) -> dict[str, torch.Tensor]:
        """The input-reliance check: LM loss with the batch's real visual tokens and with each sample's
        tokens swapped for the next sample's (a cyclic shift of the batch).

        Returns ``{"lm_ce": real, "lm_ce_swapped": swapped}``. A model that reads its input scores
        clearly worse on swapped tokens; one that learned only the sentence prior scores the same.
        A batch of one sample has nothing to swap with: both entries are the real loss. ``output``
        (this batch's forward output, with its LM loss) saves encoding the batch and the real LM
        pass again.
        """
        prompts = prompts if prompts is not None else batch.prompts
        if output is not None and output.lm_loss is not None:
            embeds, mask, real = output.visual["tokens"].features, output.visual["tokens"].mask, output.lm_loss
        else:
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
        """Translate a batch by beam search; ``None`` arguments take ``config.lm.generation``."""
        prompts = prompts if prompts is not None else batch.prompts
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
