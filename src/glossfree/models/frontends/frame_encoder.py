"""A per-frame image encoder on RGB frames (``kind: frame_encoder``): ``[B, T, 3, H, W]`` -> ``[B, T, D]``.

Any ``transformers`` vision backbone of the feature extractors' families, by name/path (loaded
with ``local_files_only=True``) or from an explicit config: DINOv2 (``Dinov2Model``, HFA's
ViT-S/14, paper 001 Sec. 3), CLIP vision (``CLIPVisionModel``) and ResNet (``ResNetModel``, SAGE's
ResNet-34, paper 002). Each frame gives one vector, pooled as the extractors pool
(:func:`glossfree.features.extractors.pool_output`: CLS, mean patch token or both; ResNet's
pooled map), and the dataset feeds frames preprocessed by the extractors' own
:func:`~glossfree.features.preprocess.preprocess_frames` (``preprocess``: the family's published
resize/crop/mean/std by default), so that a model trained on frames and one trained on the
cached features of the same backbone see the same pixels.

``train`` chooses what learns: ``frozen`` (no gradient; the backbone runs under ``no_grad``),
``lora`` (HFA: LoRA adapters from ``peft`` on ``lora.target_modules`` of the blocks in
``lora.layers``; the base weights stay frozen) or ``full``. Only real frames go through the
backbone (padding is skipped, not encoded), in chunks of ``chunk_size`` frames; padded steps come
out as 0.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import ConfigDict, Field, model_validator
from torch import nn

from glossfree.config import StrictModel
from glossfree.errors import ConfigError
from glossfree.features.config import DEFAULT_PREPROCESS, PreprocessConfig

# LoRA targets per family: the attention query/value projections (ResNet: its convolutions), and
# the name of the module list that ``lora.layers`` indexes.
# (transformers 5 names DINOv2's projections q_proj/v_proj, 4.x query/value: the first that exists is used.)
LORA_TARGETS = {
    "dinov2": [["q_proj", "v_proj"], ["query", "value"]],
    "clip": [["q_proj", "v_proj"]],
    "resnet": [["convolution"]],
}
LAYER_PATTERNS = {"dinov2": "layer", "clip": "layers", "resnet": "stages"}


class FrameLoRAConfig(StrictModel):
    """LoRA on the frame backbone (``train: lora``).

    Attributes:
        r: adapter rank.
        alpha: scaling numerator (``alpha / r``).
        dropout: dropout on the adapter input.
        target_modules: module names to adapt (default: the family's query/value projections).
        layers: indices of the blocks to adapt (DINOv2 ``encoder.layer.i``, CLIP
            ``encoder.layers.i``, ResNet ``encoder.stages.i``); None = all.
    """

    r: int = Field(16, ge=1)
    alpha: float = 32.0
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    target_modules: list[str] | None = None
    layers: list[int] | None = None


class FrameEncoderConfig(StrictModel):
    """A ``transformers`` image backbone applied to every frame. Defaults: HFA (DINOv2 + LoRA, CLS).

    Attributes:
        kind: frontend selector (``"frame_encoder"``).
        model: ``dinov2``, ``clip`` or ``resnet``.
        name_or_path: pretrained weights (local folder or a name in the local HF cache); nothing downloads.
        model_config: explicit ``Dinov2Config``/``CLIPVisionConfig``/``ResNetConfig`` kwargs (random
            weights, seeded by ``seed``): tests, shape checks. Exactly one of the two.
        preprocess: resize/crop/mean/std of the frames (family defaults for keys left out).
        pooling: ``cls``, ``mean`` or ``cls+mean`` (ignored by ResNet: its pooled map).
        train: ``frozen``, ``lora`` or ``full``.
        lora: adapter settings for ``train: lora``.
        dim: project the pooled vector to this width (Linear, then ``norm``); None keeps the backbone's.
        norm: the normalisation after the projection: ``layer`` (LayerNorm per frame) or ``batch``
            (paper 001: "transformed linearly and batch-normalized": BatchNorm over the batch's real
            frames, padding never counted, running statistics at evaluation).
        chunk_size: frames per backbone pass.
    """

    # the export writes fields by name (``model_config_``); both spellings load
    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(), populate_by_name=True)

    kind: Literal["frame_encoder"] = "frame_encoder"
    model: Literal["dinov2", "clip", "resnet"] = "dinov2"
    name_or_path: str | None = None
    model_config_: dict[str, Any] | None = Field(None, alias="model_config")
    seed: int = 0
    preprocess: PreprocessConfig | None = None
    pooling: Literal["cls", "mean", "cls+mean"] = "cls"
    train: Literal["frozen", "lora", "full"] = "lora"
    lora: FrameLoRAConfig = FrameLoRAConfig()
    dim: int | None = Field(None, ge=1)
    norm: Literal["layer", "batch"] = "layer"
    chunk_size: int = Field(64, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _family_preprocess(cls, data: Any) -> Any:
        # unspecified preprocessing keys take the family's published values (as the extractors do)
        if isinstance(data, dict):
            family = data.get("model", "dinov2")
            given = data.get("preprocess") or {}
            if isinstance(given, dict) and family in DEFAULT_PREPROCESS:
                data = {**data, "preprocess": {**DEFAULT_PREPROCESS[family], **given}}
        return data

    @model_validator(mode="after")
    def _one_weights_source(self) -> FrameEncoderConfig:
        if (self.name_or_path is None) == (self.model_config_ is None):
            raise ValueError(
                "frame_encoder: give exactly one of name_or_path (pretrained weights) and model_config "
                "(an explicit transformers config, random weights)"
            )
        if self.norm == "batch" and self.dim is None:
            raise ValueError("frame_encoder: norm 'batch' normalises the projection; set dim (paper 001: the width of F)")
        return self


def add_lora(model: nn.Module, family: str, config: FrameLoRAConfig) -> nn.Module:
    """Inject LoRA adapters into ``model`` in place (peft); base weights frozen, adapters trainable."""
    from peft import LoraConfig, inject_adapter_in_model

    leaves = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    candidates = LORA_TARGETS[family]
    targets = config.target_modules or next((c for c in candidates if set(c) <= leaves), candidates[0])
    peft_config = LoraConfig(
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(targets),
        layers_to_transform=list(config.layers) if config.layers is not None else None,
        layers_pattern=LAYER_PATTERNS[family] if config.layers is not None else None,
    )
    model.requires_grad_(False)
    try:
        model = inject_adapter_in_model(peft_config, model)
    except ValueError as error:
        raise ConfigError(f"frame_encoder.lora (target_modules={targets}, layers={config.layers}): {error}") from None
    adapted = [name for name, _ in model.named_parameters() if "lora_" in name]
    if not adapted:
        raise ConfigError(f"frame_encoder.lora: no module matched target_modules={targets} in layers {config.layers}")
    for name, param in model.named_parameters():
        param.requires_grad_("lora_" in name)
    return model


class FrameEncoder(nn.Module):
    """``frames`` ``[B, T, 3, H, W]``, ``mask`` ``[B, T]`` -> ``[B, T, output_dim]`` (0 on padding).

    Args:
        config: :class:`FrameEncoderConfig`.
    """

    def __init__(self, config: FrameEncoderConfig) -> None:
        super().__init__()
        from glossfree.features.extractors import build_backbone, pooled_dim

        self.config = config
        backbone = build_backbone(config.model, config)  # eval mode, frozen
        if config.train == "lora":
            backbone = add_lora(backbone, config.model, config.lora)
        elif config.train == "full":
            backbone.requires_grad_(True)
        self.backbone = backbone
        width = pooled_dim(backbone.config, config.model, config.pooling)
        if config.dim:  # only real frames reach it ([N_valid, D]): BatchNorm sees no padding
            norm = nn.LayerNorm(config.dim) if config.norm == "layer" else nn.BatchNorm1d(config.dim)
            self.proj: nn.Module = nn.Sequential(nn.Linear(width, config.dim), norm)
        else:
            self.proj = nn.Identity()
        self.output_dim = config.dim or width

    def train(self, mode: bool = True) -> FrameEncoder:
        super().train(mode)
        if self.config.train == "frozen":
            self.backbone.eval()  # a frozen backbone keeps its dropout off
        return self

    def _encode(self, pixels: torch.Tensor) -> torch.Tensor:
        from glossfree.features.extractors import pool_output

        chunks = []
        for start in range(0, pixels.shape[0], self.config.chunk_size):
            out = self.backbone(pixel_values=pixels[start : start + self.config.chunk_size])
            chunks.append(pool_output(out, self.config.model, self.config.pooling))
        return torch.cat(chunks)

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if frames.ndim != 5 or frames.shape[2] != 3:
            raise ConfigError(f"frame_encoder expects frames [B, T, 3, H, W], got {list(frames.shape)}")
        mask = mask.bool()
        valid = frames[mask]  # [N_valid, 3, H, W]: padding never reaches the backbone
        if valid.shape[0] == 0:
            pooled = frames.new_zeros(0, self.output_dim)
        elif self.config.train == "frozen":
            with torch.no_grad():
                encoded = self._encode(valid)
            pooled = self.proj(encoded)
        else:
            pooled = self.proj(self._encode(valid))  # [N_valid, D]
        out = pooled.new_zeros(*mask.shape, pooled.shape[-1])  # [B, T, D]
        out[mask] = pooled
        return out
