"""Pose backbone of paper 004 ("Lost in Translation, Found in Embeddings", Sec. 3.1, A.1, A.2).

Keypoints ``[B, T, N, 3]`` (MediaPipe, shoulder-normalised) are split into the layout's articulator
groups (body, face, left hand, right hand). Each group goes through an articulator-specific encoder:

1. ``fc1``: a linear map of each point's coordinates plus its detection flag to ``agcn_channels``;
2. a stack of adaptive graph convolution layers (2s-AGCN, Shi et al. CVPR 2019, as in its
   reference code ``model/agcn.py``): graph convolution with adjacency ``A_k + B_k + C_k`` (fixed
   skeleton + learned + data-dependent), temporal convolution (kernel 7), residual, then
   squeeze-and-excitation over channels (Hu et al. 2018). Layer ``i`` has
   ``agcn_channels * agcn_multipliers[i]`` channels;
3. joint aggregation: the per-point features ``[B, T, N_g, C]`` are reshaped to ``[B, T, N_g * C]``,
   the detection mask ``[B, T, N_g]`` is appended, and ``fc2`` maps them to ``articulator_dim``
   (not a mean over joints; the paper's ablation, Tab. 2, loses 2.2 top-1 without it).

The two hands share one encoder; right-hand points are mirrored (x -> -x) first so both hands
present the same geometry. The four articulator features are concatenated, projected to ``dim``
and encoded by a Conformer (:mod:`glossfree.models.temporal.conformer`), over the whole sequence
or, with ``conformer.windowed`` (paper 004, App. B.3), on sliding windows while the articulator
encoders still see all frames at once; the per-frame output ``[B, T, dim]`` feeds the Sliding
Perceiver. :meth:`PoseBackbone.pool` gives the clip-level feature ``[B, dim]`` of the paper's ISLR
pre-training (attentive pooling, :class:`~glossfree.models.temporal.conformer.AttentivePool`).

Masking. A keypoint with ``keypoint_mask`` False has its coordinates zeroed and its detection flag
0, so "not detected" is distinguishable from "at the origin". Padded frames (``frame_mask``
False) never influence real frames: they are zeroed before every temporal convolution, excluded
from the data-dependent adjacency and from the squeeze-and-excitation statistics, and masked in
attention. The AGCN normalisation is an option (``agcn_norm``): a per-position LayerNorm over
channels (the default: a sample's features never depend on its batch) or 2s-AGCN's BatchNorm with
padded frames left out of its statistics (running statistics at evaluation). 2s-AGCN's input
``data_bn`` (per point and coordinate) is ``standardize``; ``stack_frames`` runs the backbone at a
lower step rate. Both hands go through their shared encoder as one batch.

Sizes. The paper's text states 4 AGCN layers, temporal kernel 7, a 4-block Conformer (8 heads, FFN
x4, conv expansion 2, kernel 5); its channel widths and Conformer width did not survive in the
seed text, so ``agcn_channels=64``, ``agcn_multipliers=[1, 2, 2, 4]``, ``articulator_dim=256`` and
``dim=512`` are our choices.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pydantic import Field

from glossfree.config import StrictModel
from glossfree.data.layouts import KeypointLayout, get_layout
from glossfree.errors import ConfigError
from glossfree.models.frontends.keypoint_mlp import relative_to_wrist
from glossfree.models.frontends.skeleton_graph import group_adjacency, normalized_subsets
from glossfree.models.temporal.conformer import AttentivePool, Conformer, ConformerConfig


class PoseBackboneConfig(StrictModel):
    """Pose backbone hyper-parameters (paper 004 defaults where the paper states them).

    Attributes:
        kind: frontend selector (``"pose_backbone"``).
        dim: per-frame output width (Conformer width).
        coord_dims: coordinates per keypoint (3 for MediaPipe XYZ).
        agcn_channels: width after ``fc1``.
        agcn_multipliers: one entry per AGCN layer; layer width = ``agcn_channels * multiplier``.
        temporal_kernel: AGCN temporal convolution kernel (odd).
        se_reduction: squeeze-and-excitation bottleneck ratio.
        articulator_dim: width of each articulator's feature after joint aggregation (``fc2``).
        share_hands: one encoder for both hands.
        mirror_right_hand: negate the right hand's x coordinate before its encoder.
        dropout: dropout after each AGCN layer and in the Conformer's input projection.
        agcn_norm: the normalisation in each AGCN layer (after the graph and the temporal
            convolution): ``batch``, the masked BatchNorm of 2s-AGCN (:class:`MaskedBatchNorm2d`), or
            ``layer``, a per-point LayerNorm over channels (:class:`ChannelNorm`).
        standardize: standardise every point's coordinates with batch statistics over detected
            points (running statistics at evaluation, i.e. the training set's) before ``fc1``. Off in
            the paper; needed from scratch at small size, where the shoulder-normalised input is
            mostly an offset every frame shares and the articulation is a small perturbation of it.
        hand_origin: where each hand's finger points are measured from before ``standardize`` and
            ``fc1``: ``shoulders`` (the paper: the shoulder-normalised coordinates as they come) or
            ``wrist`` (every hand point but the wrist relative to that hand's wrist; the wrist keeps
            its position, so where the hand is stays in the input and the handshape no longer hides
            under it, as in the keypoint MLP's wrist-relative features). From scratch at ``mid`` size
            the backbone has no AGCN layer, so ``fc1``/``fc2`` are linear in the standardised
            coordinates; with ``shoulders`` the handshape is a small part of each finger point's
            standardised variance (docs/benchmarks.md §12).
        stack_frames: ``s`` consecutive frames are stacked into one step before ``fc1`` (their
            coordinates and detection flags side by side, as low-frame-rate speech encoders stack
            feature frames), so the backbone runs at ``1/s`` of the input frame rate with no input
            dropped. 1 (the paper) keeps every frame a step. The output has ``ceil(T / s)`` steps;
            :meth:`PoseBackbone.output_mask` gives their mask.
        conformer: the temporal encoder.
    """

    kind: Literal["pose_backbone"] = "pose_backbone"
    dim: int = 512
    coord_dims: int = 3
    agcn_channels: int = 64
    agcn_multipliers: list[int] = [1, 2, 2, 4]
    temporal_kernel: int = 7
    se_reduction: int = 4
    articulator_dim: int = 256
    share_hands: bool = True
    mirror_right_hand: bool = True
    dropout: float = 0.1
    standardize: bool = False
    hand_origin: Literal["shoulders", "wrist"] = "shoulders"
    agcn_norm: Literal["layer", "batch"] = "layer"
    stack_frames: int = Field(default=1, ge=1)
    conformer: ConformerConfig = ConformerConfig()


def _zero_padding(x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
    """Zero padded frames of a channel-first ``x`` [B, C, T, N] (``frame_mask`` [B, T])."""
    return x * frame_mask[:, None, :, None].to(x.dtype)


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of ``[B, C, T, N]``, separately for every frame and point
    (``agcn_norm: layer``)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        centred = x - x.mean(dim=1, keepdim=True)
        scale = torch.rsqrt(centred.pow(2).mean(dim=1, keepdim=True) + self.eps)
        return centred * scale * self.weight[:, None, None] + self.bias[:, None, None]


class MaskedBatchNorm2d(nn.Module):
    """BatchNorm of 2s-AGCN over ``[B, C, T, N]`` per channel, with padded frames left out (``agcn_norm: batch``).

    Training uses the statistics of the batch's valid frames (all points), evaluation the running
    estimates (momentum 0.1, unbiased variance, as ``nn.BatchNorm2d``), so at inference a sample's
    output never depends on its batch. Unlike a per-point LayerNorm over a few channels it keeps
    each point's magnitude: a LayerNorm over the 8 channels of ``fc1(x, y, z, flag)`` maps a point at
    one and at two standard deviations in the same direction to the same feature.
    """

    def __init__(self, channels: int, *, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.momentum, self.eps = momentum, eps

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, C, T, N], ``frame_mask`` [B, T] -> [B, C, T, N]."""
        if self.training:
            weight = frame_mask[:, None, :, None].to(x.dtype)  # [B, 1, T, 1]
            count = (weight.sum() * x.shape[-1]).clamp(min=2)
            mean = (x * weight).sum(dim=(0, 2, 3)) / count  # [C]
            var = ((x - mean[:, None, None]).pow(2) * weight).sum(dim=(0, 2, 3)) / count  # [C]
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * count / (count - 1), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        scale = torch.rsqrt(var + self.eps) * self.weight  # [C]
        return x * scale[:, None, None] + (self.bias - mean * scale)[:, None, None]


def _norm(kind: str, channels: int) -> nn.Module:
    return MaskedBatchNorm2d(channels) if kind == "batch" else ChannelNorm(channels)


class AdaptiveGraphConv(nn.Module):
    """Graph convolution with adjacency ``A_k + B_k + C_k`` per subset ``k`` (2s-AGCN ``unit_gcn``).

    ``A_k`` fixed (skeleton), ``B_k`` learned (initialised at 0), ``C_k(x) = softmax_v(theta(x)_v .
    phi(x)_w / (C_e * T_valid))`` computed from the sample's valid frames only. Node ``w`` receives
    ``sum_v x_v (A_k + B_k + C_k)[v, w]``; the subsets' outputs are projected and summed (one 1x1
    convolution over the concatenated subsets). Tensors are channel-first ``[B, C, T, N]``, as in
    2s-AGCN, so that node aggregation is a plain batched matrix product.
    """

    def __init__(self, in_channels: int, out_channels: int, subsets: torch.Tensor, *, norm: str = "layer") -> None:
        super().__init__()
        self.num_subsets = subsets.shape[0]
        self.embed_channels = max(out_channels // 4, 1)
        embed = self.num_subsets * self.embed_channels
        self.register_buffer("fixed", subsets.clone())  # [K, N, N]
        self.learned = nn.Parameter(torch.zeros_like(subsets))  # [K, N, N]
        self.theta = nn.Conv2d(in_channels, embed, kernel_size=1)
        self.phi = nn.Conv2d(in_channels, embed, kernel_size=1)
        self.proj = nn.Conv2d(self.num_subsets * in_channels, out_channels, kernel_size=1)
        self.residual = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, kernel_size=1)
        )
        self.norm = _norm(norm, out_channels)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, C_in, T, N], ``frame_mask`` [B, T] -> [B, C_out, T, N]."""
        batch, channels, frames, points = x.shape
        subsets, embed = self.num_subsets, self.embed_channels
        lengths = frame_mask.sum(dim=1).clamp(min=1).to(x.dtype)  # [B]
        a = _zero_padding(self.theta(x), frame_mask).view(batch, subsets, embed * frames, points)
        b = _zero_padding(self.phi(x), frame_mask).view(batch, subsets, embed * frames, points)
        scores = a.transpose(-1, -2) @ b / (embed * lengths)[:, None, None, None]  # [B, K, N, N]
        adjacency = self.fixed + self.learned + scores.softmax(dim=-2)  # [B, K, N, N]
        gathered = x.reshape(batch, 1, channels * frames, points) @ adjacency  # [B, K, C_in * T, N]
        out = self.proj(gathered.view(batch, subsets * channels, frames, points))  # [B, C_out, T, N]
        return F.relu(self.norm(out + self.residual(x), frame_mask))


class SqueezeExcite(nn.Module):
    """Channel recalibration from the mean over valid frames and all points."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, C, T, N] -> [B, C, T, N]."""
        weights = frame_mask.to(x.dtype)  # [B, T]
        count = (weights.sum(dim=1) * x.shape[-1]).clamp(min=1)  # [B]
        squeezed = (x.sum(dim=-1) * weights[:, None, :]).sum(dim=-1) / count[:, None]  # [B, C]
        return x * self.fc(squeezed)[:, :, None, None]


class AGCNLayer(nn.Module):
    """2s-AGCN ``TCN_GCN_unit``: graph conv, temporal conv, residual, ReLU; then SE and dropout.

    Only the operations that mix frames (temporal convolution, data-dependent adjacency, SE
    statistics) need padded frames zeroed, and each masks its own input; the output of padded
    frames is left as is (finite) and masked where the articulator feature is formed.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        subsets: torch.Tensor,
        *,
        temporal_kernel: int,
        se_reduction: int,
        dropout: float,
        norm: str = "layer",
    ) -> None:
        super().__init__()
        self.gcn = AdaptiveGraphConv(in_channels, out_channels, subsets, norm=norm)
        self.tcn = nn.Conv2d(
            out_channels, out_channels, kernel_size=(temporal_kernel, 1), padding=(temporal_kernel // 2, 0)
        )
        self.tcn_norm = _norm(norm, out_channels)
        self.residual = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, kernel_size=1)
        )
        self.se = SqueezeExcite(out_channels, se_reduction)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, C_in, T, N] -> [B, C_out, T, N]."""
        h = _zero_padding(self.gcn(x, frame_mask), frame_mask)  # [B, C_out, T, N]
        h = F.relu(self.tcn_norm(self.tcn(h), frame_mask) + self.residual(x))
        return self.dropout(self.se(h, frame_mask))


class ArticulatorEncoder(nn.Module):
    """fc1 -> AGCN layers -> joint aggregation (reshape + detection mask + fc2) for one articulator."""

    def __init__(self, config: PoseBackboneConfig, subsets: np.ndarray) -> None:
        super().__init__()
        num_points = subsets.shape[-1]
        fixed = torch.tensor(subsets)  # [K, N, N]; a factory call, so it follows the default device
        step_inputs = config.stack_frames * (config.coord_dims + 1)  # coordinates + flag per stacked frame
        self.input = nn.Conv2d(step_inputs, config.agcn_channels, kernel_size=1)  # fc1
        widths = [config.agcn_channels] + [config.agcn_channels * m for m in config.agcn_multipliers]
        self.layers = nn.ModuleList(
            AGCNLayer(
                c_in,
                c_out,
                fixed,
                temporal_kernel=config.temporal_kernel,
                se_reduction=config.se_reduction,
                dropout=config.dropout,
                norm=config.agcn_norm,
            )
            for c_in, c_out in zip(widths[:-1], widths[1:], strict=True)
        )
        self.aggregate = nn.Linear(num_points * widths[-1] + num_points, config.articulator_dim)  # fc2

    def forward(
        self, points: torch.Tensor, flags: torch.Tensor, frame_mask: torch.Tensor
    ) -> torch.Tensor:
        """Encode one articulator's steps.

        Args:
            points: ``[B, T, N, S * C]``, the coordinates of the ``S`` stacked frames of each step
                (``S = stack_frames``), 0 where not detected.
            flags: ``[B, T, N, S]`` float detection flags, 1 = detected.
            frame_mask: ``[B, T]`` bool, True = real step.

        Returns:
            ``[B, T, articulator_dim]``, 0 on padded steps.
        """
        batch, frames, num_points, _ = points.shape
        h = self.input(torch.cat([points, flags], dim=-1).permute(0, 3, 1, 2).contiguous())  # [B, C0, T, N]
        for layer in self.layers:
            h = layer(h, frame_mask)
        joints = h.permute(0, 2, 3, 1).reshape(batch, frames, -1)  # [B, T, N * C]
        joints = torch.cat([joints, flags.mean(dim=-1)], dim=-1)  # [B, T, N * C + N]: detected fraction
        return self.aggregate(joints) * frame_mask.unsqueeze(-1).to(h.dtype)


class PointStandardizer(nn.Module):
    """Per point and coordinate standardisation over detected points (``standardize: true``).

    BatchNorm statistics without affine parameters (``fc1`` follows): in training the mean and
    variance of each ``(point, coordinate)`` over the batch's detected points, with running
    estimates (momentum ``0.1``) used in evaluation; a point detected fewer than twice in a
    training batch uses the running estimates. Undetected points stay 0.
    """

    def __init__(self, num_points: int, coord_dims: int, *, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("running_mean", torch.zeros(num_points, coord_dims))
        self.register_buffer("running_var", torch.ones(num_points, coord_dims))

    def forward(self, points: torch.Tensor, point_mask: torch.Tensor) -> torch.Tensor:
        """``points`` [B, T, N, C], ``point_mask`` [B, T, N] bool -> [B, T, N, C]."""
        weight = point_mask.unsqueeze(-1).to(points.dtype)  # [B, T, N, 1]
        mean, var = self.running_mean, self.running_var
        if self.training:
            with torch.no_grad():
                count = weight.sum(dim=(0, 1))  # [N, 1]
                enough = count > 1
                batch_mean = (points * weight).sum(dim=(0, 1)) / count.clamp(min=1)
                batch_var = ((points - batch_mean) * weight).pow(2).sum(dim=(0, 1)) / count.clamp(min=1)
                unbiased = batch_var * count / (count - 1).clamp(min=1)
                self.running_mean.copy_(torch.where(enough, torch.lerp(mean, batch_mean, self.momentum), mean))
                self.running_var.copy_(torch.where(enough, torch.lerp(var, unbiased, self.momentum), var))
                mean = torch.where(enough, batch_mean, mean)
                var = torch.where(enough, batch_var, var)
        return (points - mean) * torch.rsqrt(var + self.eps) * weight


def stack_steps(x: torch.Tensor, size: int) -> torch.Tensor:
    """``[B, T, ...]`` -> ``[B, ceil(T / size), size, ...]``, zero-padding the last step."""
    if size == 1:
        return x.unsqueeze(2)
    pad = -x.shape[1] % size
    if pad:
        x = torch.cat([x, x.new_zeros(x.shape[0], pad, *x.shape[2:])], dim=1)
    return x.view(x.shape[0], x.shape[1] // size, size, *x.shape[2:])


_HANDS = ("left_hand", "right_hand")


class PoseBackbone(nn.Module):
    """Articulator-specific AGCN encoders, concatenation, projection, Conformer (paper 004).

    Args:
        config: :class:`PoseBackboneConfig`.
        layout: the keypoint layout (or its name) of the input; every group gets an encoder
            (both hands one shared encoder when ``config.share_hands``).
    """

    def __init__(self, config: PoseBackboneConfig, layout: KeypointLayout | str) -> None:
        super().__init__()
        self.config = config
        self.layout = get_layout(layout)
        self.output_dim = config.dim
        self.groups = list(self.layout.groups)
        share = config.share_hands and all(hand in self.layout.groups for hand in _HANDS)
        if share:
            self._check_hands_match()
        self.encoder_of = {group: ("hand" if share and group in _HANDS else group) for group in self.groups}
        encoders = {}
        for group in self.groups:
            name = self.encoder_of[group]
            if name not in encoders:
                subsets = normalized_subsets(group_adjacency(self.layout, group))
                encoders[name] = ArticulatorEncoder(config, subsets)
        self.encoders = nn.ModuleDict(encoders)
        self.hand_ranges = [self.layout.groups[hand] for hand in _HANDS if hand in self.layout.groups]
        if config.hand_origin == "wrist" and not self.hand_ranges:
            raise ConfigError(
                f"frontend.hand_origin: wrist needs a left_hand or right_hand group; layout "
                f"'{self.layout.name}' has {', '.join(self.layout.groups)}"
            )
        self.standardizer = (
            PointStandardizer(self.layout.num_points, config.coord_dims) if config.standardize else None
        )
        self.fuse = nn.Sequential(
            nn.Linear(len(self.groups) * config.articulator_dim, config.dim), nn.Dropout(config.dropout)
        )
        self.conformer = Conformer(config.dim, config.conformer)
        self.attentive_pool = AttentivePool()

    def _check_hands_match(self) -> None:
        left, right = (self.layout.groups[hand] for hand in _HANDS)
        left_names = [name for _, name in self.layout.points[slice(*left)]]
        right_names = [name for _, name in self.layout.points[slice(*right)]]
        if left_names != right_names:
            raise ConfigError(
                f"layout '{self.layout.name}': share_hands needs the same points in the same order in "
                f"left_hand ({len(left_names)} points) and right_hand ({len(right_names)} points); "
                "set frontend.share_hands: false"
            )

    def _check_inputs(
        self, keypoints: torch.Tensor, keypoint_mask: torch.Tensor, frame_mask: torch.Tensor
    ) -> None:
        expected = (self.layout.num_points, self.config.coord_dims)
        if keypoints.ndim != 4 or tuple(keypoints.shape[2:]) != expected:
            raise ConfigError(
                f"pose backbone (layout '{self.layout.name}') expects keypoints [B, T, "
                f"{expected[0]}, {expected[1]}], got {list(keypoints.shape)}; does the dataset use "
                "the same keypoint layout as the model?"
            )
        if keypoint_mask.shape != keypoints.shape[:3] or frame_mask.shape != keypoints.shape[:2]:
            raise ValueError(
                f"mask shapes {list(keypoint_mask.shape)} / {list(frame_mask.shape)} do not match "
                f"keypoints {list(keypoints.shape)}"
            )

    def _fingers_from_wrist(self, points: torch.Tensor, point_mask: torch.Tensor) -> torch.Tensor:
        """``hand_origin: wrist``: each hand's points after the first relative to its wrist (``[B, T, N, C]``)."""
        flags = point_mask.to(points.dtype)
        moved = points.clone()
        for start, stop in self.hand_ranges:
            moved[:, :, start + 1 : stop] = relative_to_wrist(points[:, :, start:stop], flags[:, :, start:stop])[:, :, 1:]
        return moved

    def output_mask(self, frame_mask: torch.Tensor) -> torch.Tensor:
        """The mask ``[B, ceil(T / stack_frames)]`` of the output steps for an input ``frame_mask`` ``[B, T]``:
        a step is real when any of its stacked frames is."""
        return stack_steps(frame_mask.bool(), self.config.stack_frames).any(dim=2)

    def encode_articulators(
        self, keypoints: torch.Tensor, keypoint_mask: torch.Tensor, frame_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Per-articulator features ``{group: [B, T', articulator_dim]}`` before fusion
        (``T' = ceil(T / stack_frames)``)."""
        self._check_inputs(keypoints, keypoint_mask, frame_mask)
        frame_mask = frame_mask.bool()
        point_mask = keypoint_mask.bool() & frame_mask.unsqueeze(-1)  # [B, T, N]
        points = keypoints * point_mask.unsqueeze(-1).to(keypoints.dtype)  # [B, T, N, C]
        if self.config.hand_origin == "wrist":
            points = self._fingers_from_wrist(points, point_mask)
        if self.standardizer is not None:
            points = self.standardizer(points, point_mask)
        size = self.config.stack_frames
        step_mask = self.output_mask(frame_mask)  # [B, T']
        # [B, T', S, N, C] -> [B, T', N, S, C]: each point carries its S frames side by side.
        points = stack_steps(points, size).transpose(2, 3)
        flags = stack_steps(point_mask, size).transpose(2, 3).to(points.dtype)  # [B, T', N, S]
        features = {}
        for name, encoder in self.encoders.items():
            # Groups sharing an encoder (both hands) go through it as one batch: one call, and the
            # batch statistics of agcn_norm: batch are those of both hands, as its running ones are.
            members = [group for group in self.groups if self.encoder_of[group] == name]
            group_points, group_flags = [], []
            for group in members:
                start, stop = self.layout.groups[group]
                chunk = points[:, :, start:stop]  # [B, T', N_g, S, C]
                if group == "right_hand" and self.config.mirror_right_hand:
                    flip = torch.ones(self.config.coord_dims, dtype=points.dtype, device=points.device)
                    flip[0] = -1.0
                    chunk = chunk * flip
                group_points.append(chunk.flatten(3))
                group_flags.append(flags[:, :, start:stop])
            encoded = encoder(torch.cat(group_points), torch.cat(group_flags), step_mask.repeat(len(members), 1))
            features.update(zip(members, encoded.chunk(len(members)), strict=True))
        return features

    def forward(
        self, keypoints: torch.Tensor, keypoint_mask: torch.Tensor, frame_mask: torch.Tensor
    ) -> torch.Tensor:
        """Encode a padded batch of keypoint sequences.

        Args:
            keypoints: ``[B, T, N, C]`` float, padding 0.
            keypoint_mask: ``[B, T, N]`` bool, True = detected.
            frame_mask: ``[B, T]`` bool, True = real frame.

        Returns:
            ``[B, T', dim]`` per-step features (``T' = ceil(T / stack_frames)``; ``T`` by default), 0 on
            padded steps; :meth:`output_mask` gives their mask.
        """
        hidden = self.frame_features(keypoints, keypoint_mask, frame_mask)  # [B, T', dim]
        return self.conformer(hidden, self.output_mask(frame_mask))

    def frame_features(
        self, keypoints: torch.Tensor, keypoint_mask: torch.Tensor, frame_mask: torch.Tensor
    ) -> torch.Tensor:
        """The per-step part (articulator encoders, fusion) before the Conformer: ``[B, T', dim]``."""
        features = self.encode_articulators(keypoints, keypoint_mask, frame_mask)
        return self.fuse_articulators(features, self.output_mask(frame_mask))

    def fuse_articulators(
        self, features: dict[str, torch.Tensor], step_mask: torch.Tensor, dropped: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Concatenate and project the articulator features ``{group: [B, T', articulator_dim]}`` to
        ``[B, T', dim]`` (0 on padded steps of ``step_mask`` ``[B, T']``). ``dropped`` ``[B, G]`` bool
        (groups in ``self.groups`` order) zeroes those articulators of those samples first: the
        articulator masking of paper 004's ISLR pre-training (Sec. 4.2)."""
        parts = [features[group] for group in self.groups]  # G x [B, T', articulator_dim]
        if dropped is not None:
            parts = [part * (~dropped[:, index]).to(part.dtype)[:, None, None] for index, part in enumerate(parts)]
        fused = torch.cat(parts, dim=-1)  # [B, T', G * articulator_dim]
        return self.fuse(fused) * step_mask.unsqueeze(-1).to(fused.dtype)  # [B, T', dim]

    def pool(
        self,
        keypoints: torch.Tensor,
        keypoint_mask: torch.Tensor,
        frame_mask: torch.Tensor,
        *,
        return_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Clip-level feature ``[B, dim]`` for ISLR (paper 004, Sec. 3.1 / Tab. A.2).

        The Conformer runs over the whole clip (an ISLR clip is one window, 24 frames in the
        paper, so ``conformer.windowed`` does not apply here) and returns its attention maps;
        :class:`AttentivePool` weights the last block's output with their mean. Padded frames get
        weight 0. With ``return_weights``, also the step weights ``[B, T']`` (sum 1 over valid steps).
        """
        hidden = self.frame_features(keypoints, keypoint_mask, frame_mask)
        pooled, weights = self.pool_steps(hidden, self.output_mask(frame_mask))
        return (pooled, weights) if return_weights else pooled

    def pool_steps(self, hidden: torch.Tensor, step_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Conformer over the whole of ``hidden`` ``[B, T', dim]``, then attentive pooling: the clip
        feature ``[B, dim]`` and the step weights ``[B, T']`` (see :meth:`pool`)."""
        encoded, maps = self.conformer.encode(hidden, step_mask, return_attention=True)
        return self.attentive_pool(encoded, maps, step_mask)
