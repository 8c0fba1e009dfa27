"""Paper 004's lip backbone (``kind: lip_backbone``): lip crops or lip-reading features -> Conformer.

Paper 004 (Sec. 3.1 "Lip backbone", Sec. 4.2, Tab. A.2): grayscale lip-region clips go through a
pretrained lip-reading network (Auto-AVSR, Ma et al. 2023; 768-d output), kept *frozen*; only the
4-layer Conformer on top (hidden 512 in the paper's table, 8 heads, FF x4, conv expansion 2,
kernel 5) is trained. Its per-frame output is fused with the pose backbone's along the channel
axis before the Sliding Perceiver (``model.frontends`` + ``fusion: concat_channels``).

Two sources, one module:

- ``source: features`` (the paper): a cached stream of the frozen lip reader, written by
  ``glossfree extract`` with the ``lip_reader`` extractor (:mod:`glossfree.features.extractors`);
  the dataset reads ``features/<stream>/<id>.safetensors``.
- ``source: crops`` (a small trainable default, for data without a lip-reading checkpoint): the
  dataset's ``lips`` input (:mod:`glossfree.data.lips`, 88x88 normalised grayscale) through
  :class:`VisualFrontend`, the lip-reading visual front-end of Auto-AVSR
  (``espnet/nets/pytorch_backend/backbones/conv3d_extractor.py``: a 3D conv stem 5x7x7 with stride
  (1, 2, 2), norm, Swish, 3x3 max-pool, then a ResNet-18-style 2D trunk per frame and global
  average pooling), here narrower (``channels``) and with per-frame GroupNorm instead of BatchNorm
  so that a frame's feature never depends on the other samples of the batch.

Either way: input -> Linear -> LayerNorm -> Conformer -> ``[B, T, dim]`` (0 on padding). Padding
never changes a sample: crops are zeroed on padded steps before the 3D stem (a lone sequence's
convolution sees the same zeros past its end), only real frames enter the 2D trunk, and the
Conformer masks padding. Frames where the face was not detected (``lip_mask`` False) have their
crop (read by the 3D stem's neighbouring frames too) and their per-frame feature set to 0 with
``undetected: zero`` (the default); ``keep`` uses the crop at the carried box (:mod:`glossfree.data.lips`).

ISLR pre-training (:class:`~glossfree.models.islr.ISLRModel` with ``model.lip`` of this kind) reads a
clip feature ``[B, dim]`` from :meth:`LipBackbone.pool` (the Conformer's attentive pooling, Tab. A.2);
the weights are the same, so an ISLR run's ``lip_backbone.`` loads into an SLT model's lip frontend.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from glossfree.config import StrictModel
from glossfree.data.lips import LipCropConfig
from glossfree.errors import ConfigError
from glossfree.models.temporal.conformer import AttentivePool, Conformer, ConformerConfig


class Swish(nn.Module):
    """``x * sigmoid(x)`` (Auto-AVSR's ``Swish``, named as there)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


def _norm(kind: str, channels: int) -> nn.Module:
    # "batch": Auto-AVSR's BatchNorm (the frozen extractor, eval mode); "group": per-frame, batch-free
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.GroupNorm(min(8, channels), channels)


class BasicBlock(nn.Module):
    """ResNet basic block as in Auto-AVSR ``backbones/modules/resnet.py`` (same module names:
    ``conv1``, ``bn1``, ``conv2``, ``bn2``, ``downsample.{0,1}``), Swish activations."""

    def __init__(self, inplanes: int, planes: int, stride: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = _norm(norm, planes)
        self.relu1 = Swish()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = _norm(norm, planes)
        self.relu2 = Swish()
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), _norm(norm, planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + residual)


class ResNetTrunk(nn.Module):
    """``layer1..layer{n}`` of basic blocks (stride 1 for the first, 2 after) + global average pool:
    ``[N, C_in, H, W]`` -> ``[N, channels[-1]]``. Auto-AVSR: channels (64, 128, 256, 512), 2 blocks each."""

    def __init__(self, inplanes: int, channels: tuple[int, ...], blocks: int, norm: str) -> None:
        super().__init__()
        for number, planes in enumerate(channels, start=1):
            layers = []
            for index in range(blocks):
                stride = 2 if number > 1 and index == 0 else 1
                layers.append(BasicBlock(inplanes, planes, stride, norm))
                inplanes = planes
            self.add_module(f"layer{number}", nn.Sequential(*layers))
        self.num_layers = len(channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for number in range(1, self.num_layers + 1):
            x = getattr(self, f"layer{number}")(x)
        return self.avgpool(x).flatten(1)


class VisualFrontend(nn.Module):
    """Auto-AVSR's lip-reading visual front-end (``Conv3dResNet``): ``[B, T, H, W]`` grayscale crops
    and mask ``[B, T]`` -> ``[B, T, channels[-1]]`` (0 on padding).

    The stem is ``Conv3d(1, stem, (5, 7, 7), stride (1, 2, 2), padding (2, 3, 3))``, then norm, Swish
    and ``MaxPool (1, 3, 3) stride (1, 2, 2)``, all per frame after the convolution (BatchNorm3d and
    a per-frame BatchNorm2d are the same thing in eval mode; the key mapping of
    :func:`glossfree.features.extractors.avsr_frontend_state_dict` renames ``frontend3D.0`` ->
    ``stem_conv``, ``frontend3D.1`` -> ``stem_norm``). The time axis keeps its length.

    Args:
        stem_channels: stem output channels (Auto-AVSR: 64).
        channels: trunk stage widths (Auto-AVSR: 64, 128, 256, 512).
        blocks: basic blocks per stage (Auto-AVSR: 2).
        norm: ``batch`` (Auto-AVSR) or ``group`` (per frame, independent of the batch).
    """

    def __init__(self, *, stem_channels: int = 64, channels: tuple[int, ...] = (64, 128, 256, 512), blocks: int = 2,
                 norm: Literal["batch", "group"] = "batch") -> None:  # fmt: skip
        super().__init__()
        self.stem_conv = nn.Conv3d(1, stem_channels, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False)
        self.stem_norm = _norm(norm, stem_channels)
        self.stem_act = Swish()
        self.stem_pool = nn.MaxPool2d(3, 2, 1)
        self.trunk = ResNetTrunk(stem_channels, tuple(channels), blocks, norm)
        self.output_dim = int(channels[-1])
        self.context = 2  # frames the stem reads on each side (temporal kernel 5)

    def forward(self, crops: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if crops.ndim != 4:
            raise ConfigError(f"lip visual front-end expects crops [B, T, H, W], got {list(crops.shape)}")
        mask = mask.bool()
        x = (crops * mask[..., None, None].to(crops.dtype))[:, None]  # [B, 1, T, H, W], padding 0
        x = self.stem_conv(x)  # [B, C, T, H', W']
        x = x.transpose(1, 2)[mask]  # [N_valid, C, H', W']: padding never reaches the trunk
        out = x.new_zeros(*mask.shape, self.output_dim)  # [B, T, D]
        if x.shape[0]:
            out[mask] = self.trunk(self.stem_pool(self.stem_act(self.stem_norm(x))))
        return out


class LipBackboneConfig(StrictModel):
    """Paper 004's lip backbone. Defaults: the paper (frozen Auto-AVSR features, 768-d, Conformer).

    Attributes:
        kind: frontend selector (``"lip_backbone"``).
        source: ``features`` (a cached lip-reader stream, the paper) or ``crops`` (the ``lips``
            input through the trainable :class:`VisualFrontend`).
        stream: the feature stream name (``source: features``; the ``glossfree extract --name``).
        input_dim: width of that stream (Auto-AVSR's encoder, ``output: encoder``: 768; its visual
            front-end, ``output: frontend``: 512).
        crop: how the dataset cuts the ``lips`` input (``source: crops``; Auto-AVSR's 88x88 by default).
        stem_channels, channels, blocks: :class:`VisualFrontend` sizes (``source: crops``).
        dim: Conformer width = output width (paper Tab. A.2: 512).
        conformer: the Conformer (paper: 4 blocks, 8 heads, FF x4, conv expansion 2, kernel 5).
        undetected: ``zero`` sets the crops and per-frame features of frames without a detected
            face to 0 (before the 3D stem and the Conformer); ``keep`` uses them (crops at the
            carried box). ``source: crops`` only.
        dropout: dropout after the input projection.
    """

    kind: Literal["lip_backbone"] = "lip_backbone"
    source: Literal["features", "crops"] = "features"
    stream: str | None = "lip_avsr"
    input_dim: int = Field(768, ge=1)
    crop: LipCropConfig = LipCropConfig()
    stem_channels: int = Field(16, ge=1)
    channels: list[int] = Field(default_factory=lambda: [16, 32, 64, 128], min_length=1)
    blocks: int = Field(1, ge=1)
    dim: int = Field(512, ge=1)
    conformer: ConformerConfig = ConformerConfig()
    undetected: Literal["zero", "keep"] = "zero"
    dropout: float = Field(0.1, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _check(self) -> LipBackboneConfig:
        if self.source == "features" and not self.stream:
            raise ValueError("source 'features' needs 'stream' (the lip-reader feature folder under features/)")
        if self.dim % self.conformer.num_heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by conformer.num_heads ({self.conformer.num_heads})")
        return self

    def input_name(self) -> str:
        """The dataset input this frontend reads (:mod:`glossfree.data.inputs`)."""
        return "lips" if self.source == "crops" else f"features:{self.stream}"


class LipBackbone(nn.Module):
    """Lip crops ``[B, T, H, W]`` (or lip-reader features ``[B, T, D_in]``) and mask ``[B, T]`` ->
    ``[B, T, dim]`` (0 on padding).

    Args:
        config: :class:`LipBackboneConfig`.
    """

    def __init__(self, config: LipBackboneConfig) -> None:
        super().__init__()
        self.config = config
        if config.source == "crops":
            self.visual = VisualFrontend(stem_channels=config.stem_channels, channels=tuple(config.channels),
                                         blocks=config.blocks, norm="group")  # fmt: skip
            width = self.visual.output_dim
        else:
            self.visual = None
            width = config.input_dim
        self.proj = nn.Sequential(nn.Linear(width, config.dim), nn.LayerNorm(config.dim), nn.Dropout(config.dropout))
        self.conformer = Conformer(config.dim, config.conformer)
        self.attentive_pool = AttentivePool()  # ISLR's clip feature (:meth:`pool`); no parameters
        self.output_dim = config.dim

    def forward(self, data: torch.Tensor, mask: torch.Tensor, detected: torch.Tensor | None = None) -> torch.Tensor:
        """``data``: crops ``[B, T, H, W]`` (``source: crops``) or features ``[B, T, D_in]``;
        ``mask`` ``[B, T]`` True = real step; ``detected`` ``[B, T]`` True = face found (crops only)."""
        mask = mask.bool()
        return self.conformer(self.frame_features(data, mask, detected), mask)  # [B, T, dim], 0 on padding

    def pool(
        self, data: torch.Tensor, mask: torch.Tensor, detected: torch.Tensor | None = None, *, return_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """Clip-level feature ``[B, dim]`` for ISLR (paper 004, Sec. 3.3, Tab. A.2: each backbone's
        Conformer "applies an attentive pooling layer for temporal aggregation").

        As :meth:`PoseBackbone.pool <glossfree.models.frontends.pose_backbone.PoseBackbone.pool>`: the
        Conformer runs over the whole clip with its attention maps, and :class:`AttentivePool` (no
        parameters, so the weights are those of :meth:`forward`) weights the last block's output by
        their mean; padded steps get weight 0. Inputs as :meth:`forward`. With ``return_weights``,
        also the step weights ``[B, T]`` (sum 1 over valid steps).
        """
        mask = mask.bool()
        hidden = self.frame_features(data, mask, detected)  # [B, T, dim]
        encoded, maps = self.conformer.encode(hidden, mask, return_attention=True)
        pooled, weights = self.attentive_pool(encoded, maps, mask)  # [B, dim], [B, T]
        return (pooled, weights) if return_weights else pooled

    def frame_features(self, data: torch.Tensor, mask: torch.Tensor, detected: torch.Tensor | None = None) -> torch.Tensor:
        """The per-step part before the Conformer (visual front-end or the stream, projection): ``[B, T, dim]``,
        0 on padding. Inputs as :meth:`forward`."""
        mask = mask.bool()
        if self.visual is not None:
            drop = detected is not None and self.config.undetected == "zero"
            if drop:  # the crop (which the 3D stem's neighbours read too) and the frame's feature
                data = data * detected.bool()[..., None, None].to(data.dtype)
            per_frame = self.visual(data, mask)  # [B, T, C]
            if drop:
                per_frame = per_frame * detected.bool()[..., None].to(per_frame.dtype)
        else:
            if data.ndim != 3 or data.shape[-1] != self.config.input_dim:
                raise ConfigError(f"lip_backbone stream '{self.config.stream}': expected [B, T, {self.config.input_dim}] "
                                  f"features, got {list(data.shape)} (set input_dim to the width the extractor wrote)")  # fmt: skip
            per_frame = data.to(self.proj[0].weight.dtype)
        return self.proj(per_frame) * mask[..., None].to(per_frame.dtype)  # [B, T, dim]
