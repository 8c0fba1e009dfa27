"""``clcl_token``: token-level cross-lingual contrastive learning (SAGE's CLCL, after CiCo).

Paper 002 (SAGE, Sec. 3.1.3 "Token-level contrastive alignment") applies CiCo's Cross-Lingual
Contrastive Learning loss (Cheng et al. 2023) between the segment-level visual tokens and the
text tokens, instead of CLIP's one pooled vector per side. For a video ``i`` with visual tokens
``v`` and a sentence ``j`` with text tokens ``w`` (both projected and L2-normalised, ``s_vw``
their cosine similarity):

- video-to-text: each visual token matches the sentence by a softmax-weighted sum over its text
  tokens, ``sum_w softmax_w(s_vw / tau_m) * s_vw``, averaged over the visual tokens: ``Z_V2T[i, j]``;
- text-to-video: each text token matches the video likewise over the visual tokens, averaged over
  the text tokens: ``Z_T2V[i, j]``.

Eq. 3: ``L_V2T`` is InfoNCE over the batch on ``Z_V2T / tau`` in both directions (rows and
columns, ``1 / 2N`` each), ``L_T2V`` the same on ``Z_T2V``; Eq. 4: ``L = alpha L_V2T + (1 - alpha)
L_T2V``, ``tau`` learnt. SAGE trains it twice, on the LM's input embeddings (``text: embeddings``,
L_CE) and on its encoder's hidden states (``text: encoder``, L_HS), mixed by beta (Eq. 5): list two
``clcl_token`` objectives with weights ``beta`` and ``1 - beta``.

Departures and choices: SAGE gives neither the token-matching aggregation nor its temperature
(it cites CiCo); we follow the brief's reading of CiCo, a softmax-weighted match (FILIP takes the
max, the limit ``tau_m -> 0``), with a fixed ``match_temperature``. Padded tokens never match:
they get no softmax weight and are left out of the averages, on both sides. The learnt temperature,
projections and DDP gathering are :mod:`~glossfree.objectives.clip_global`'s (its config and module
are the base classes here).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from glossfree.objectives.base import ObjectiveOutput
from glossfree.objectives.clip_global import ClipGlobal, ClipGlobalConfig
from glossfree.objectives.distributed import gather_tokens_with_grad


class ClclTokenConfig(ClipGlobalConfig):
    """Token-level CLCL between the visual tokens of a video and the tokens of its sentence.

    Attributes (beyond :class:`~glossfree.objectives.clip_global.ClipGlobalConfig`'s ``visual``,
    ``text``, ``proj_dim``, ``temperature``, ``learn_temperature``, ``min_temperature``, ``gather``):
        alpha: weight of the video-to-text loss; the text-to-video loss gets ``1 - alpha`` (Eq. 4).
        match_temperature: temperature of the softmax that weighs one token's matches over the
            other side's tokens (fixed; not given by the paper).
    """

    kind: Literal["clcl_token"] = "clcl_token"  # type: ignore[assignment]
    alpha: float = Field(0.5, ge=0, le=1)
    match_temperature: float = Field(0.1, gt=0)


def token_similarities(
    visual: torch.Tensor, visual_mask: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor, match_temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Z_V2T, Z_T2V)``, both ``[N_v, N_t]`` (row: video, column: sentence).

    Args:
        visual: ``[N_v, L_v, D]`` normalised visual tokens; ``visual_mask`` ``[N_v, L_v]`` True = real.
        text: ``[N_t, L_t, D]`` normalised text tokens; ``text_mask`` ``[N_t, L_t]`` True = real.
        match_temperature: temperature of the softmax over the tokens of the other side.
    """
    sims = torch.einsum("ivd,jwd->ijvw", visual, text)  # [N_v, N_t, L_v, L_t]
    pair_mask = visual_mask[:, None, :, None] & text_mask[None, :, None, :]  # [N_v, N_t, L_v, L_t]
    sims = sims.masked_fill(~pair_mask, 0.0)
    scaled = (sims / match_temperature).masked_fill(~pair_mask, float("-inf"))

    def match(dim: int, token_mask: torch.Tensor) -> torch.Tensor:
        # softmax over the other side's tokens (dim), then average over this side's real tokens
        weights = torch.softmax(scaled, dim=dim).nan_to_num(0.0)  # a padded row has no real match: 0
        per_token = (weights * sims).sum(dim=dim)  # [N_v, N_t, L_this]
        counts = token_mask.sum(dim=-1).clamp(min=1).to(per_token.dtype)
        return per_token.sum(dim=-1) / counts

    z_v2t = match(3, visual_mask[:, None, :].expand(-1, text.shape[0], -1))  # each visual token over words
    z_t2v = match(2, text_mask[None, :, :].expand(visual.shape[0], -1, -1))  # each word over visual tokens
    return z_v2t, z_t2v


def symmetric_info_nce(logits: torch.Tensor) -> torch.Tensor:
    """Eq. 3: ``-1/2N sum_i log softmax_row(logits)[i, i] - 1/2N sum_j log softmax_col(logits)[j, j]``."""
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def clcl_token_loss(
    visual: torch.Tensor,
    visual_mask: torch.Tensor,
    text: torch.Tensor,
    text_mask: torch.Tensor,
    logit_scale: torch.Tensor,
    *,
    alpha: float = 0.5,
    match_temperature: float = 0.1,
    gather: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token-level CLCL of paired rows: ``(loss, video-to-text top-1 accuracy)``.

    Args:
        visual: ``[B, L_v, D]`` visual tokens of each video (normalised here); ``visual_mask``
            ``[B, L_v]`` True = real token.
        text: ``[B, L_t, D]`` tokens of each video's sentence (normalised here); ``text_mask``
            ``[B, L_t]``.
        logit_scale: 0-dim, ``1 / tau``.
        alpha: weight of ``L_V2T`` (Eq. 4).
        match_temperature: temperature of the token-matching softmax.
        gather: take every DDP rank's pairs as negatives (gradients reach the local rows).
    """
    visual = F.normalize(visual.float(), dim=-1)
    text = F.normalize(text.float(), dim=-1)
    visual_mask, text_mask = visual_mask.bool(), text_mask.bool()
    if gather:
        visual, visual_mask = gather_tokens_with_grad(visual, visual_mask)
        text, text_mask = gather_tokens_with_grad(text, text_mask)
    z_v2t, z_t2v = token_similarities(visual, visual_mask, text, text_mask, match_temperature)  # [N, N]
    loss = alpha * symmetric_info_nce(logit_scale * z_v2t) + (1 - alpha) * symmetric_info_nce(logit_scale * z_t2v)
    labels = torch.arange(z_v2t.shape[0], device=z_v2t.device)
    accuracy = (z_v2t.argmax(dim=1) == labels).float().mean()
    return loss, accuracy.detach()


class ClclToken(ClipGlobal):
    """The projections and learnt temperature of :class:`ClipGlobal`, applied per token."""

    def forward(self, output, batch, model) -> ObjectiveOutput:
        config = self.config
        point = output.encoder if config.visual == "encoder" else output.visual[config.visual]
        assert point is not None  # lm_need "encoder" makes the model run the LM encoder
        text_features, text_mask = self.text_tokens(batch, model)  # [B, L_t, D_t], [B, L_t]
        dtype = self.visual_proj.weight.dtype if isinstance(self.visual_proj, nn.Linear) else torch.float32
        video = self.visual_proj(point.features.to(dtype))  # [B, L_v, P]
        sentence = self.text_proj(text_features.to(dtype))  # [B, L_t, P]
        loss, accuracy = clcl_token_loss(
            video, point.mask, sentence, text_mask, self.logit_scale, alpha=config.alpha,
            match_temperature=config.match_temperature, gather=config.gather and torch.is_grad_enabled(),
        )  # fmt: skip
        return ObjectiveOutput(loss=loss, metrics={"acc": accuracy, "temperature": 1.0 / self.logit_scale.detach()})
