"""A per-frame keypoint frontend with no graph: standardised coordinates -> MLP (``kind: keypoint_mlp``).

The simple frontend of pose-based SLT baselines (the keypoint input of Camgoz et al. 2020's
successors, e.g. the pose baselines of How2Sign and YouTube-ASL): every frame's keypoints are
flattened into one vector, standardised per feature, and mapped to ``dim`` by a small MLP. It is
the ``pose_conv`` baseline recipe's frontend and the "linear frontend" ablation of the pose
backbone.

Per frame the feature vector holds, for the points of the chosen layout groups:

1. the (shoulder-normalised) coordinates of every point, 0 where the point is not detected;
2. for each hand group, the coordinates relative to that hand's wrist (point 0 of the group), which
   carry the handshape independently of where the hand is;
3. the detection flag of every point (so "not detected" differs from "at the origin").

Standardisation is a masked BatchNorm over valid frames (running statistics at evaluation, i.e. the
training set's), so a sample's features never depend on its batch at inference and padding never
enters the statistics. Without it, most of a shoulder-normalised input's energy is the offset that
all frames share (the face sits at the same place in every frame) and the per-frame variation that
carries the signs is a small perturbation of it.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from glossfree.config import StrictModel
from glossfree.data.layouts import KeypointLayout, get_layout
from glossfree.errors import ConfigError
from glossfree.models.mappers import MaskedBatchNorm

HAND_GROUPS = ("left_hand", "right_hand")


class KeypointMLPConfig(StrictModel):
    """Keypoint MLP frontend.

    Attributes:
        kind: frontend selector (``"keypoint_mlp"``).
        dim: per-frame output width.
        coord_dims: coordinates per keypoint read from the input (2 = x, y; 3 = x, y, z).
        groups: layout groups to read (``None`` = all groups of the layout).
        wrist_relative: add each hand's coordinates relative to its wrist.
        num_layers: linear layers (1 = a standardised linear map + norm + GELU).
        dropout: dropout after each layer.
    """

    kind: Literal["keypoint_mlp"] = "keypoint_mlp"
    dim: int = 256
    coord_dims: Literal[2, 3] = 2
    groups: list[str] | None = None
    wrist_relative: bool = True
    num_layers: int = 1
    dropout: float = 0.1


def relative_to_wrist(hand: torch.Tensor, hand_flags: torch.Tensor) -> torch.Tensor:
    """A hand's points ``[..., N_h, C]`` relative to its wrist (point 0 of the group), 0 where the
    point or the wrist is not detected (``hand_flags`` ``[..., N_h]``, 1 = detected): the handshape,
    independent of where the hand is. The wrist itself maps to 0."""
    both = hand_flags * hand_flags[..., :1]
    return (hand - hand[..., :1, :]) * both.unsqueeze(-1)


class KeypointMLP(nn.Module):
    """``[B, T, N, C]`` keypoints -> ``[B, T, dim]`` per-frame features (0 on padded frames).

    Args:
        config: :class:`KeypointMLPConfig`.
        layout: keypoint layout of the input (or its name).
    """

    def __init__(self, config: KeypointMLPConfig, layout: KeypointLayout | str) -> None:
        super().__init__()
        self.config = config
        self.layout = get_layout(layout)
        self.output_dim = config.dim
        groups = config.groups if config.groups is not None else list(self.layout.groups)
        unknown = [g for g in groups if g not in self.layout.groups]
        if unknown or not groups:
            raise ConfigError(
                f"frontend.groups {groups}: unknown or empty for layout '{self.layout.name}' "
                f"(groups: {', '.join(self.layout.groups)})"
            )
        indices = torch.cat([torch.as_tensor(self.layout.group_indices(g), dtype=torch.long) for g in groups])
        self.register_buffer("points", indices, persistent=False)  # [P]
        hands = [g for g in groups if g in HAND_GROUPS] if config.wrist_relative else []
        self.hand_ranges = [self.layout.groups[g] for g in hands]  # (start, stop) into the layout
        num_points = len(indices)
        hand_points = sum(stop - start for start, stop in self.hand_ranges)
        self.input_dim = (num_points + hand_points) * config.coord_dims + num_points
        self.standardize = MaskedBatchNorm(self.input_dim)
        layers: list[nn.Module] = []
        width = self.input_dim
        for _ in range(config.num_layers):
            layers += [nn.Linear(width, config.dim), nn.LayerNorm(config.dim), nn.GELU(), nn.Dropout(config.dropout)]
            width = config.dim
        self.mlp = nn.Sequential(*layers)

    def frame_features(self, keypoints: torch.Tensor, keypoint_mask: torch.Tensor) -> torch.Tensor:
        """The raw per-frame vector (before standardisation): ``[B, T, input_dim]``."""
        if keypoints.ndim != 4 or keypoints.shape[2] != self.layout.num_points or keypoints.shape[3] < self.config.coord_dims:
            raise ConfigError(
                f"keypoint_mlp (layout '{self.layout.name}') expects keypoints [B, T, {self.layout.num_points}, "
                f">={self.config.coord_dims}], got {list(keypoints.shape)}"
            )
        coords = keypoints[..., : self.config.coord_dims]
        flags = keypoint_mask.to(coords.dtype)  # [B, T, N]
        coords = coords * flags.unsqueeze(-1)
        parts = [coords[:, :, self.points].flatten(2)]
        for start, stop in self.hand_ranges:
            parts.append(relative_to_wrist(coords[:, :, start:stop], flags[:, :, start:stop]).flatten(2))
        parts.append(flags[:, :, self.points])
        return torch.cat(parts, dim=-1)

    def forward(self, keypoints: torch.Tensor, keypoint_mask: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``keypoints`` [B, T, N, C], ``keypoint_mask`` [B, T, N], ``frame_mask`` [B, T] -> [B, T, dim]."""
        frame_mask = frame_mask.bool()
        features = self.standardize(self.frame_features(keypoints, keypoint_mask), frame_mask)
        return self.mlp(features) * frame_mask.unsqueeze(-1).to(features.dtype)
