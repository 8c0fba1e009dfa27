"""A compact Conformer encoder (Gulati et al., Interspeech 2020) with padding-safe masking.

Paper 004 (Sec. 3.1, Sec. 4.2, Tab. A.2) runs 4 Conformer blocks (8 heads, feed-forward multiplier
4, convolution expansion 2, kernel size 5) over the per-frame pose features. Each block is
``x + FFN/2 -> x + MHSA -> x + ConvModule -> x + FFN/2 -> LayerNorm`` as in the Conformer paper;
the convolution module follows lucidrains/conformer (``conformer/conformer.py``): pointwise conv to
``2 * expansion * dim``, GLU, depthwise conv, norm, Swish, pointwise conv back to ``dim``.

Padding never leaks into real frames: self-attention takes a key padding mask, padded frames are
zeroed before the depthwise convolution (so it sees exactly the zeros that a lone, unpadded
sequence sees at its end), and the batch-statistics BatchNorm of the original conv module is a
per-frame LayerNorm here, so a frame's output does not depend on the other samples of the batch.
Positions enter only through the convolutions (no positional encoding).

Sliding windows (``ConformerConfig.windowed``). Paper 004 pre-trains its backbone for ISLR on
24-frame clips, then, for the 500-frame (20 s at 25 fps) inputs of SLT, runs the per-frame part of
the backbone over all frames at once while "only the Conformer applies sliding-window feature
extraction, leveraging its prior knowledge learned from 24-frame windows" (App. B.3: window 24,
stride 2; 29.6 GB -> 5.6 GB at batch 1). :meth:`Conformer.encode_windows` does this with
``unfold``: every window is an independent sequence of ``window`` frames (the blocks never see
across a window's edge), and all windows run as one batch.

How window outputs become per-frame features is not stated in the text. The paper's
Sliding Perceiver reads "250-frame input features" from 500 frames, which suggests one
attentive-pooled vector per window at stride 2; glossfree's frontend must return one feature per
input frame (the compressor takes the frame mask), so we *choose* ``combine: mean``: a frame's
feature is the mean, over the windows that contain it, of that window's output at that frame.
Windows of a sample of ``L`` frames start at ``0, stride, 2 * stride, ...`` up to the first that
reaches the sample's end (``ceil(max(L - window, 0) / stride) + 1`` windows; a sample shorter than
a window is one truncated window). That set depends only on ``L``, never on the batch's padded
length, so a sample's output does not depend on batch padding; windows outside it are not run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, field_validator, model_validator
from torch import nn

from glossfree.config import StrictModel
from glossfree.models.temporal.attention import MultiHeadAttention


class ConformerWindows(StrictModel):
    """Sliding-window Conformer (paper 004, App. B.3: window 24, stride 2).

    Attributes:
        window: frames per window (the ISLR clip length the Conformer was trained on).
        stride: frames between window starts; at most ``window``, so every frame is covered.
        combine: how overlapping window outputs give one feature per frame; ``mean`` (the only
            option) averages a frame's outputs over the windows that contain it.
    """

    window: int = 24
    stride: int = 2
    combine: Literal["mean"] = "mean"

    @model_validator(mode="after")
    def _check(self) -> ConformerWindows:
        if self.window < 1 or not 1 <= self.stride <= self.window:
            raise ValueError(
                f"need window >= 1 and 1 <= stride <= window so that every frame is in a window "
                f"(got window={self.window}, stride={self.stride})"
            )
        return self


class ConformerConfig(StrictModel):
    """Conformer encoder hyper-parameters (paper 004, Sec. 4.2).

    Attributes:
        num_layers: number of Conformer blocks.
        num_heads: self-attention heads (must divide the model width).
        ff_mult: feed-forward hidden width = ``ff_mult * dim``.
        conv_expansion: convolution module inner width = ``conv_expansion * dim``.
        kernel_size: depthwise convolution kernel (odd).
        dropout: dropout in feed-forward, attention and convolution modules.
        windowed: ``null`` runs the blocks over the whole sequence; a :class:`ConformerWindows`
            (e.g. ``{window: 24, stride: 2}``) runs them on sliding windows (paper 004, App. B.3).
        layer_scale: ``null`` (the Conformer paper) adds each residual branch (both half-step FFNs,
            attention, convolution) as it is; a number multiplies each branch by a learned
            per-channel scale that starts at that value (LayerScale, Touvron et al. 2021, "Going
            deeper with image transformers"), so a block starts close to the LayerNorm of its input.
            From scratch at ``mid`` size the random branches of one block outweigh the small
            articulator features and the LM reads the pose backbone later (docs/benchmarks.md §12).
    """

    num_layers: int = 4
    num_heads: int = 8
    ff_mult: int = 4
    conv_expansion: int = 2
    kernel_size: int = 5
    dropout: float = 0.1
    windowed: ConformerWindows | None = None
    layer_scale: float | None = Field(None, gt=0)

    @field_validator("kernel_size")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value % 2 != 1:
            raise ValueError(f"must be odd so that frames stay centred (got {value})")
        return value


class FeedForward(nn.Module):
    """Pre-norm feed-forward block: LayerNorm, Linear, Swish, Dropout, Linear, Dropout."""

    def __init__(self, dim: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            nn.Linear(dim, dim * mult),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(dim * mult, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ConvModule(nn.Module):
    """Conformer convolution module over time with padded frames zeroed before the depthwise conv."""

    def __init__(self, dim: int, *, expansion: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        inner = dim * expansion
        self.norm = nn.LayerNorm(dim)
        self.pointwise_in = nn.Linear(dim, 2 * inner)
        self.glu = nn.GLU(dim=-1)
        self.depthwise = nn.Conv1d(inner, inner, kernel_size, padding=kernel_size // 2, groups=inner)
        self.inner_norm = nn.LayerNorm(inner)
        self.act = nn.SiLU()
        self.pointwise_out = nn.Linear(inner, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, T, D], ``frame_mask`` [B, T] bool -> [B, T, D]."""
        keep = frame_mask.unsqueeze(-1).to(x.dtype)  # [B, T, 1]
        h = self.glu(self.pointwise_in(self.norm(x))) * keep  # [B, T, inner]
        h = self.depthwise(h.transpose(1, 2)).transpose(1, 2)  # [B, T, inner]
        h = self.pointwise_out(self.act(self.inner_norm(h)))  # [B, T, D]
        return self.dropout(h)


class ConformerBlock(nn.Module):
    """One Conformer block: half-step FFN, MHSA, convolution module, half-step FFN, LayerNorm."""

    def __init__(self, dim: int, config: ConformerConfig) -> None:
        super().__init__()
        self.ff1 = FeedForward(dim, config.ff_mult, config.dropout)
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, config.num_heads, dropout=config.dropout)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.conv = ConvModule(
            dim, expansion=config.conv_expansion, kernel_size=config.kernel_size, dropout=config.dropout
        )
        self.ff2 = FeedForward(dim, config.ff_mult, config.dropout)
        self.out_norm = nn.LayerNorm(dim)
        if config.layer_scale is None:
            self.scales = None
        else:  # one learned per-channel scale per residual branch: ff1, attention, convolution, ff2
            self.scales = nn.Parameter(torch.full((4, dim), float(config.layer_scale)))

    def forward(
        self, x: torch.Tensor, frame_mask: torch.Tensor, *, need_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``x`` [B, T, D], ``frame_mask`` [B, T] bool -> [B, T, D] (0 on padded frames).

        With ``need_weights``, also the self-attention probabilities ``[B, H, T, T]``.
        """
        x = x + 0.5 * self._scaled(0, self.ff1(x))
        h = self.attn_norm(x)
        attended = self.attn(h, h, frame_mask, need_weights=need_weights)
        weights = None
        if need_weights:
            attended, weights = attended
        x = x + self._scaled(1, self.attn_dropout(attended))
        x = x + self._scaled(2, self.conv(x, frame_mask))
        x = x + 0.5 * self._scaled(3, self.ff2(x))
        x = self.out_norm(x) * frame_mask.unsqueeze(-1).to(x.dtype)
        return (x, weights) if need_weights else x

    def _scaled(self, branch: int, h: torch.Tensor) -> torch.Tensor:
        """Residual branch ``branch`` (0 ff1, 1 attention, 2 convolution, 3 ff2) times its layer scale."""
        return h if self.scales is None else h * self.scales[branch]


class Conformer(nn.Module):
    """A stack of :class:`ConformerBlock` over per-frame features, whole-sequence or windowed.

    Args:
        dim: model width (input and output).
        config: :class:`ConformerConfig`; ``config.windowed`` selects :meth:`encode_windows`.
    """

    def __init__(self, dim: int, config: ConformerConfig) -> None:
        super().__init__()
        self.windowed = config.windowed
        self.blocks = nn.ModuleList(ConformerBlock(dim, config) for _ in range(config.num_layers))

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """``x`` [B, T, D], ``frame_mask`` [B, T] bool (True = real frame) -> [B, T, D], 0 on padding."""
        if self.windowed is not None:
            return self.encode_windows(x, frame_mask)
        return self.encode(x, frame_mask)

    def encode(
        self, x: torch.Tensor, frame_mask: torch.Tensor, *, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """The blocks over the whole sequence: ``x`` [B, T, D] -> [B, T, D].

        With ``return_attention``, also each block's attention probabilities ``[B, H, T, T]``
        (computed explicitly, so slower than the default fused path).
        """
        frame_mask = frame_mask.bool()
        x = x * frame_mask.unsqueeze(-1).to(x.dtype)
        maps = []
        for block in self.blocks:
            if return_attention:
                x, weights = block(x, frame_mask, need_weights=True)
                maps.append(weights)
            else:
                x = block(x, frame_mask)
        return (x, maps) if return_attention else x

    def encode_windows(
        self, x: torch.Tensor, frame_mask: torch.Tensor, windows: ConformerWindows | None = None
    ) -> torch.Tensor:
        """The blocks on sliding windows, outputs averaged per frame (see the module docstring).

        ``x`` [B, T, D], ``frame_mask`` [B, T] bool (padding at the end) -> [B, T, D], 0 on padding.
        ``windows`` defaults to ``config.windowed``.
        """
        windows = windows if windows is not None else self.windowed
        if windows is None:
            raise ValueError("encode_windows needs a window size: set conformer.windowed or pass windows")
        window, stride = windows.window, windows.stride
        batch, frames, dim = x.shape
        frame_mask = frame_mask.bool()
        lengths = frame_mask.sum(dim=1)  # [B]
        count = -(-max(frames - window, 0) // stride) + 1  # windows over the padded length
        padded = (count - 1) * stride + window
        keep = frame_mask.to(x.dtype)
        x = F.pad(x * keep.unsqueeze(-1), (0, 0, 0, padded - frames))  # [B, T', D]
        mask = F.pad(frame_mask, (0, padded - frames))  # [B, T']
        # A sample's windows: starts k * stride < max(L - window, 0) + stride (depends on L only).
        starts = torch.arange(count, device=x.device) * stride  # [n]
        used = starts[None, :] < (lengths - window).clamp(min=0)[:, None] + stride  # [B, n]
        used &= lengths[:, None] > 0
        # unfold is a view; indexing copies only the windows that are run.
        views = x.unfold(1, window, stride).transpose(2, 3)  # [B, n, W, D]
        window_mask = mask.unfold(1, window, stride)  # [B, n, W]
        if x.device.type == "meta":  # shape-only runs (memory accounting): no data-dependent shapes
            out = self.encode(views.reshape(-1, window, dim), (window_mask & used[:, :, None]).flatten(0, 1))
            out = out.view(batch, count, window, dim)
        else:
            out = views.new_zeros(batch, count, window, dim)  # [B, n, W, D]
            if bool(used.any()):
                encoded = self.encode(views[used], window_mask[used])  # [N_used, W, D]
                out = out.index_put((used,), encoded)
        covered = (window_mask & used[:, :, None]).to(x.dtype)  # [B, n, W]
        # Overlap-add back to frames: fold sums window position w of window k into frame k*stride+w.
        summed = F.fold(
            out.permute(0, 3, 2, 1).reshape(batch, dim * window, count),
            output_size=(padded, 1),
            kernel_size=(window, 1),
            stride=(stride, 1),
        )[..., 0].transpose(1, 2)  # [B, T', D]
        hits = F.fold(
            covered.transpose(1, 2), output_size=(padded, 1), kernel_size=(window, 1), stride=(stride, 1)
        )[:, 0, :, 0]  # [B, T']
        features = summed / hits.clamp(min=1).unsqueeze(-1)
        return features[:, :frames] * keep.unsqueeze(-1)


class AttentivePool(nn.Module):
    """Paper 004's attentive pooling (Sec. 3.1, Tab. A.2): clip feature from a Conformer's attention.

    "The attentive pooling computes a mean attention map across all blocks and multiplies it with
    the output of the final block. Temporal averaging is then applied." With ``A`` the attention
    probabilities averaged over blocks and heads (``[B, T, T]``, rows = queries) and ``X`` the last
    block's output, the clip feature is ``mean_t (A X)_t`` over the valid frames ``t``, i.e.
    ``sum_s w_s X_s`` with ``w_s = mean_t A[t, s]``. Padded queries are left out of the mean and
    padded keys have probability 0, so ``w`` sums to 1 over the valid frames. No parameters.
    The text names no head reduction; averaging the heads with the blocks is our choice.
    """

    def forward(
        self, hidden: torch.Tensor, attention: Sequence[torch.Tensor], frame_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``hidden`` [B, T, D], ``attention`` per block [B, H, T, T], ``frame_mask`` [B, T] bool.

        Returns the pooled feature ``[B, D]`` and the frame weights ``[B, T]`` (0 on padding).
        """
        if not attention:
            raise ValueError("attentive pooling needs the attention maps of at least one block")
        keep = frame_mask.bool().to(hidden.dtype)  # [B, T]
        mean_map = torch.stack(list(attention)).mean(dim=(0, 2))  # [B, T, T]
        queries = keep / keep.sum(dim=1, keepdim=True).clamp(min=1)  # [B, T]
        weights = torch.einsum("bt,bts->bs", queries, mean_map) * keep  # [B, T]
        return torch.einsum("bs,bsd->bd", weights, hidden), weights
