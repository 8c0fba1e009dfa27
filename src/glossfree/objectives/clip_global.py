"""``clip_global``: CLIP-style video-sentence alignment (symmetric InfoNCE on mean-pooled features).

Paper 001 (HFA, "Video-Language Alignment"): the visual tokens after the LM encoder are average
pooled to one video vector, the target sentence is encoded by a frozen mBART encoder and average
pooled to one sentence vector, and a CLIP loss with a learnable temperature pulls matching pairs
together (``visual: encoder, text: frozen_encoder``: the LoRA-adapted encoder reads the video, the
same encoder with its adapters switched off reads the sentence). GFSLT-VLP's pre-training is the same loss on other
points. Following CLIP (Radford et al. 2021, Sec. 2.5) the temperature is learnt as a log logit
scale, initialised at ``1 / 0.07`` and clamped so that it never exceeds 100.

Negatives are the other samples of the batch, gathered from every rank under DDP
(:func:`~glossfree.objectives.distributed.gather_with_grad`). Validation runs without gathering
(``torch.no_grad``): each rank scores its own batches, as ranks may hold different numbers of
batches there.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from glossfree.errors import ConfigError
from glossfree.objectives.base import Objective, ObjectiveOutput, ObjectiveSettings, PointDims, masked_mean
from glossfree.objectives.distributed import gather_with_grad


class ClipGlobalConfig(ObjectiveSettings):
    """Symmetric InfoNCE between one pooled vector per video and one per sentence.

    Attributes:
        visual: where the visual tokens are read: ``frontend`` (per frame), ``compressor``,
            ``tokens`` (after mapper and token_norm, what the LM reads), ``context`` (a compressor's
            context encoder over its tokens: SAGE's VE, for the Cross-Hidden-State loss) or
            ``encoder`` (the LM encoder's hidden states on them).
        text: ``embeddings`` (the LM's input embeddings of the sentence), ``encoder`` (the LM
            encoder's hidden states on the sentence) or ``frozen_encoder`` (paper 001's frozen
            mBART text encoder: the same encoder with its adapters disabled, in eval mode and
            without gradient; :meth:`~glossfree.models.language_model.LanguageModel.encode_texts`).
        proj_dim: width of the shared space; each side gets a linear projection to it. ``None``
            compares the pooled features directly (both sides must then have one width).
        temperature: initial softmax temperature (CLIP: 0.07).
        learn_temperature: learn the temperature (as CLIP's log logit scale) or keep it fixed.
        min_temperature: lower clamp of a learnt temperature (CLIP: 0.01, a logit scale of 100).
        gather: under DDP, take negatives from every rank's batch.
    """

    kind: Literal["clip_global"] = "clip_global"
    visual: Literal["frontend", "compressor", "tokens", "context", "encoder"] = "tokens"
    text: Literal["embeddings", "encoder", "frozen_encoder"] = "embeddings"
    proj_dim: int | None = Field(512, ge=1)
    temperature: float = Field(0.07, gt=0)
    learn_temperature: bool = True
    min_temperature: float = Field(0.01, gt=0)
    gather: bool = True

    metric_names = ("acc",)

    @model_validator(mode="after")
    def _check(self) -> ClipGlobalConfig:
        if self.min_temperature > self.temperature:
            raise ValueError(
                f"min_temperature {self.min_temperature} is above the initial temperature {self.temperature}"
            )
        return self

    @property
    def owns_parameters(self) -> bool:
        return self.proj_dim is not None or self.learn_temperature


def clip_loss(
    visual: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor, *, gather: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric InfoNCE of paired rows: ``(loss, accuracy)``.

    Args:
        visual: ``[B, D]`` one vector per video (normalised here).
        text: ``[B, D]`` the vector of each video's sentence (normalised here).
        logit_scale: 0-dim, ``1 / temperature``.
        gather: concatenate the rows of every DDP rank first (gradients reach the local rows).

    Returns:
        The mean of the video-to-text and text-to-video cross-entropies over the (gathered)
        ``N x N`` cosine-similarity logits, and the video-to-text top-1 accuracy.
    """
    visual = F.normalize(visual.float(), dim=-1)
    text = F.normalize(text.float(), dim=-1)
    if gather:
        visual, text = gather_with_grad(visual), gather_with_grad(text)
    logits = logit_scale * visual @ text.T  # [N, N], row i: video i against every sentence
    labels = torch.arange(logits.shape[0], device=logits.device)
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
    accuracy = (logits.argmax(dim=1) == labels).float().mean()
    return loss, accuracy.detach()


class ClipGlobal(Objective):
    text_gets_gradient = True  # False: the text side never trains through this objective (SpaMo's fixed E_llm)

    def __init__(self, config: ClipGlobalConfig, dims: PointDims) -> None:
        super().__init__(config)
        self.lm_need = "encoder" if config.visual == "encoder" else "none"
        visual_dim, text_dim = dims.visual(config.visual), dims.text
        if config.proj_dim is None:
            if visual_dim != text_dim:
                raise ConfigError(
                    f"objective '{config.key}': proj_dim null compares the features directly, but "
                    f"visual '{config.visual}' is {visual_dim} wide and the text side {text_dim}; set proj_dim"
                )
            self.visual_proj: nn.Module = nn.Identity()
            self.text_proj: nn.Module = nn.Identity()
        else:
            self.visual_proj = nn.Linear(visual_dim, config.proj_dim, bias=False)
            self.text_proj = nn.Linear(text_dim, config.proj_dim, bias=False)
        initial = torch.tensor(math.log(1.0 / config.temperature))
        if config.learn_temperature:
            self.log_logit_scale = nn.Parameter(initial)
        else:
            self.register_buffer("log_logit_scale", initial, persistent=False)
        self.max_log_scale = math.log(1.0 / config.min_temperature)

    @property
    def logit_scale(self) -> torch.Tensor:
        # Clamped in the forward pass (as open_clip does after each step): past the bound no gradient.
        return self.log_logit_scale.clamp(max=self.max_log_scale).exp()

    def text_tokens(self, batch, model) -> tuple[torch.Tensor, torch.Tensor]:
        """``(features [B, L, D_text], mask [B, L])`` of the batch's sentences from the LM's input
        embeddings or its encoder (``config.text``), or the encoder without adapters
        (``frozen_encoder``, never a graph). Computed without a graph when the LM is frozen
        (paper 001's frozen mBART text encoder) or when ``text_gets_gradient`` is False."""
        if self.config.text == "frozen_encoder":
            return model.lm.encode_texts(batch.texts, adapters=False)
        texts = model.lm.encode_texts if self.config.text == "encoder" else model.lm.embed_texts
        text_trains = self.text_gets_gradient and any(param.requires_grad for param in model.lm.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and text_trains):
            return texts(batch.texts)

    def forward(self, output, batch, model) -> ObjectiveOutput:
        config = self.config
        point = output.encoder if config.visual == "encoder" else output.visual[config.visual]
        assert point is not None  # lm_need "encoder" makes the model run the LM encoder
        text_features, text_mask = self.text_tokens(batch, model)
        dtype = self.visual_proj.weight.dtype if isinstance(self.visual_proj, nn.Linear) else torch.float32
        video = self.visual_proj(masked_mean(point.features, point.mask).to(dtype))  # [B, P]
        sentence = self.text_proj(masked_mean(text_features, text_mask).to(dtype))  # [B, P]
        gather = config.gather and torch.is_grad_enabled()
        loss, accuracy = clip_loss(video, sentence, self.logit_scale, gather=gather)
        return ObjectiveOutput(loss=loss, metrics={"acc": accuracy, "temperature": 1.0 / self.logit_scale.detach()})
