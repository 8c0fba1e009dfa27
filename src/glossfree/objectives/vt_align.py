"""``vt_align``: SpaMo's Visual-Text Alignment (paper 003, Sec. 3.5, the VT-Align loss L_vt).

A warm-up ("warm-up and go") that aligns the sign adapter's output with the LLM's input space
before SLT supervision: for a batch of sign-text pairs, the sign features ``Z_sm = f_sa(S_i)`` (the
visual tokens the LM reads, ``visual: tokens``) and the target sentence's LLM input embeddings
``E_llm(T_i)`` are each mean pooled over their real tokens and L2-normalised, and a CLIP-style
softmax contrastive loss (Radford et al. 2021; Jia et al. 2021) with a learnable temperature pulls
matching pairs together, symmetric over videos and sentences; negatives are the other pairs of the
batch, from every DDP rank.

This is :mod:`~glossfree.objectives.clip_global` at ``text: embeddings`` with no projection (the
adapter's output already has the LM's width), so it reuses that module: temperature initialised at
0.07 (log logit scale ``log(1 / 0.07)``), clamped at 0.01. SpaMo keeps ``E_llm`` fixed ("only the SA
module is updated"): the sentence embeddings are computed without a graph even when the LM trains.
SpaMo does not say how it pools (its equation normalises ``f_sa(S_i)`` and ``E_llm(T_i)`` directly);
we mean pool, as the brief and SpaMo's released code do.
"""

from __future__ import annotations

from typing import Literal

from glossfree.objectives.clip_global import ClipGlobal, ClipGlobalConfig


class VTAlignConfig(ClipGlobalConfig):
    """SpaMo's VT-Align: pooled visual tokens against the pooled LM input embeddings of the sentence.

    Attributes:
        visual: where the visual tokens are read (default ``tokens``: the sign adapter's output,
            what the LM reads); see :class:`~glossfree.objectives.clip_global.ClipGlobalConfig`.
        temperature: initial softmax temperature (0.07, learnt unless ``learn_temperature`` is off).
        learn_temperature, min_temperature, gather: as for ``clip_global``.
        text, proj_dim: fixed (``embeddings``, no projection): the paper's form.
    """

    kind: Literal["vt_align"] = "vt_align"  # type: ignore[assignment]
    text: Literal["embeddings"] = "embeddings"  # type: ignore[assignment]
    proj_dim: None = None  # type: ignore[assignment]


class VTAlign(ClipGlobal):
    """:class:`ClipGlobal` on the fixed LM input embeddings (no gradient into ``E_llm``)."""

    text_gets_gradient = False
