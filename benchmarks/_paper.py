"""Training memory of one translation step at a paper's sizes, counted exactly on the CPU.

A GPU is not needed to know what a step keeps in memory: weights, gradients and optimiser state follow
from the parameter counts, and the activations autograd saves for backward are counted exactly by
:class:`_memory.SavedActivations`. What does not fit a CPU is the batch's frames through the frame
encoder (30 MiB of saved activations per 224x224 frame for a ResNet-34 trained in full: 31 GiB for
eight PHOENIX clips). A per-frame encoder saves the same tensors for every frame, so they are counted on
a few frames and scaled by the batch's frame count; everything after it (compressor, mapper, LM
encoder-decoder and its logits) runs on the whole batch with random weights from the published
architectures (:func:`glossfree.inference.params.full_size_recipe`) and is counted as it is.

Clips are real PHOENIX14T samples (their frame counts and sentences, ``../shared/data/phoenix14t``).
A segment-pool recipe gets spans at ``tokens_per_frame`` (SAGE's 0.129), evenly spaced.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from _memory import SavedActivations, gib
from glossfree.training.callbacks import apply_freezing
from glossfree.training.tasks import load_recipe
from glossfree.training.tasks.translation import build_model

OPTIMISER_STATES = {"adamw": 2, "sgd": 1}  # tensors per trained weight (SGD: momentum)


def phoenix_clips(folder: Path, count: int) -> list[dict[str, Any]]:
    """The first ``count`` PHOENIX14T training samples: ``{"length": frames, "text": sentence, ...}``."""
    with open(Path(folder) / "train.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for _, line in zip(range(count), handle)]


def even_segments(lengths: torch.Tensor, tokens_per_frame: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Evenly spaced spans, ``round(tokens_per_frame * T)`` per clip: ``[B, S, 2]`` and ``[B, S]``."""
    edges = [torch.linspace(0, int(t), max(1, round(tokens_per_frame * int(t))) + 1).round().long() for t in lengths]
    count = max(len(e) - 1 for e in edges)
    segments = torch.zeros(len(edges), count, 2, dtype=torch.long)
    mask = torch.zeros(len(edges), count, dtype=torch.bool)
    for row, e in enumerate(edges):
        segments[row, : len(e) - 1] = torch.stack([e[:-1], e[1:]], dim=1)
        mask[row, : len(e) - 1] = True
    return segments, mask


def _build(name: str, tokenizer: Path, stage_name: str | None, overrides: tuple[str, ...], *, meta: bool = False):
    """The full-size recipe restricted to its translation stage, and its model with that stage's freezing."""
    from glossfree.inference.params import full_size_recipe
    from glossfree.text.tokenizers import load_tokenizer

    full, _ = full_size_recipe(load_recipe(name, [f"tokenizer.name_or_path={tokenizer}", *overrides]))
    stages = [s for s in full.stages if (s.name == stage_name if stage_name else any(o.kind == "lm_ce" for o in s.objectives))]
    if not stages or not any(o.kind == "lm_ce" for o in stages[-1].objectives):
        raise ValueError(f"{name}: no translation stage {stage_name or ''}; stages: {[s.name for s in full.stages]}")
    stage = stages[-1]
    full = full.model_copy(update={"stages": [stage]})  # the stage's model: no other stage's heads
    torch.manual_seed(0)
    if meta:
        with torch.device("meta"):
            model = build_model(full, load_tokenizer(str(tokenizer)))
    else:
        model = build_model(full, load_tokenizer(str(tokenizer)))
    base_frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    model.train()
    apply_freezing(model, tuple(stage.trainable_parts(model.parts())), base_frozen)
    return full, stage, model


def _state(model: torch.nn.Module, stage: Any) -> dict[str, float]:
    """Weights, trained parameters, their gradients and the optimiser's state, in bytes."""
    trained = [p for p in model.parameters() if p.requires_grad]
    trained_bytes = sum(p.numel() * p.element_size() for p in trained)
    # AdamW / SGD keep their state in the parameter's dtype
    return {"weights": float(sum(p.numel() * p.element_size() for p in model.parameters())),
            "trained_parameters": float(sum(p.numel() for p in trained)), "gradients": float(trained_bytes),
            "optimizer_state": float(trained_bytes * OPTIMISER_STATES[stage.optimizer.kind])}  # fmt: skip


def _feature_batch(full: Any, clips: list[dict[str, Any]], windows: dict[str, tuple[int, int]]) -> SimpleNamespace:
    """Cached feature streams of paper width: per frame, or per (window, stride) clip of frames."""
    features, masks = {}, {}
    for config in full.model.frontend_list():
        window, stride = windows.get(config.stream, (1, 1))
        steps = torch.tensor([max(1, (c["length"] - window) // stride + 1) for c in clips])
        mask = torch.arange(int(steps.max()))[None] < steps[:, None]
        features[config.stream] = torch.randn(len(clips), mask.shape[1], config.input_dim) * mask[..., None]
        masks[f"features:{config.stream}"] = mask
    ids = [str(clip.get("name", i)) for i, clip in enumerate(clips)]
    return SimpleNamespace(ids=ids, features=features, masks=masks, segments=None, segment_mask=None)


def _prompts(full: Any, clips: list[dict[str, Any]]) -> list[str] | None:
    """SpaMo-style prompts: the instruction and ``exemplars`` sentences of the other clips."""
    from glossfree.text.prompts import Exemplar, build_slt_prompt

    if full.data.prompt is None:
        return None
    count = full.data.prompt.exemplars
    return [build_slt_prompt("de", exemplars=[Exemplar(id=str(j), target=clips[(i + 1 + j) % len(clips)]["text"])
                                               for j in range(count)]) for i in range(len(clips))]  # fmt: skip


def _activations(model, full, clips, *, frames_counted, tokens_per_frame, windows) -> dict[str, float]:
    """Saved activations of one step: the frame encoder's per frame (scaled), the rest on the whole batch."""
    from glossfree.models.outputs import VisualTokens

    lengths = torch.tensor([clip["length"] for clip in clips])
    frames = float(lengths.sum())
    per_frame = 0.0
    if getattr(full.model.frontend, "kind", None) == "frame_encoder":
        preprocess = full.model.frontend.preprocess
        size = preprocess.crop if preprocess is not None else 224
        with SavedActivations(model) as saved:
            model.frontend(torch.randn(1, frames_counted, 3, size, size), torch.ones(1, frames_counted, dtype=torch.bool))
        per_frame = saved.bytes / frames_counted
        saved.release()
        mask = torch.arange(int(lengths.max()))[None] < lengths[:, None]  # [B, T]
        features = torch.randn(len(clips), mask.shape[1], model.frontend.output_dim)
        features.requires_grad_(any(p.requires_grad for p in model.frontend.parameters()))  # gradient into the encoder
        model.encode_frontend = lambda batch: VisualTokens(features * mask[..., None], mask)  # counted above
        segments, segment_mask = even_segments(lengths, tokens_per_frame)
        batch = SimpleNamespace(segments=segments, segment_mask=segment_mask)
    else:
        batch = _feature_batch(full, clips, windows)
    with SavedActivations(model) as rest:
        tokens = model.visual_points(batch)["tokens"]
        model.lm.teacher_forced(tokens.features, tokens.mask, [clip["text"] for clip in clips], prompts=_prompts(full, clips))
    result = {"frames": frames, "lm_tokens": float(tokens.mask.sum()), "tokens_per_frame": float(tokens.mask.sum()) / frames,
              "max_lm_len": int(tokens.mask.sum(dim=1).max()), "frontend_activations_per_frame": per_frame,
              "frontend_activations": per_frame * frames, "after_frontend_activations": float(rest.bytes)}  # fmt: skip
    rest.release()
    return result


def paper_step(
    name: str,
    clips: list[dict[str, Any]],
    *,
    tokenizer: Path,
    stage_name: str | None = None,
    overrides: tuple[str, ...] = (),
    frames_counted: int = 4,
    tokens_per_frame: float = 0.129,
    windows: dict[str, tuple[int, int]] | None = None,
    lm_layers: dict[str, int] | None = None,
) -> dict[str, Any]:
    """One training step of recipe ``name``'s translation stage (or ``stage_name``) at full size on
    ``clips``; a frame encoder's activations counted on ``frames_counted`` frames and scaled.

    ``lm_layers`` (e.g. ``{"num_layers": 24, "num_decoder_layers": 24}`` for a Flan-T5-XL): an LM too
    large to run here is run with 1 and with 2 layers per stack; its identical layers make the
    activations ``a(1) + (L - 1) * (a(2) - a(1))``, exact. Weights and optimiser state are counted on
    the full-size model built on the meta device.
    """
    windows = windows or {}
    options = {"frames_counted": frames_counted, "tokens_per_frame": tokens_per_frame, "windows": windows}
    if lm_layers is None:
        full, stage, model = _build(name, tokenizer, stage_name, overrides)
        result = {"stage": stage.name, "clips": len(clips), **_state(model, stage), **_activations(model, full, clips, **options)}
    else:
        full, stage, meta_model = _build(name, tokenizer, stage_name, overrides, meta=True)
        result = {"stage": stage.name, "clips": len(clips), **_state(meta_model, stage)}
        del meta_model
        counted = []
        for layers in (1, 2):
            small = tuple(overrides) + tuple(f"model.lm.architecture.{key}={layers}" for key in lm_layers)
            full, _, model = _build(name, tokenizer, stage_name, small)
            counted.append(_activations(model, full, clips, **options))
            del model
        depth = max(lm_layers.values())
        assert len(set(lm_layers.values())) == 1, f"one depth for every stack: {lm_layers}"
        one, two = counted
        result.update(one)
        result["after_frontend_activations"] = one["after_frontend_activations"] + (depth - 1) * (
            two["after_frontend_activations"] - one["after_frontend_activations"])  # fmt: skip
        result["lm_layers_extrapolated"] = depth
    result["peak"] = sum(result[k] for k in ("weights", "gradients", "optimizer_state", "frontend_activations", "after_frontend_activations"))
    return result


def report_line(label: str, r: dict[str, float]) -> str:
    return (f"{label:<34} {r['tokens_per_frame']:>9.3f} {r['max_lm_len']:>7d} {gib(r['frontend_activations']):>8.2f} GiB "
            f"{gib(r['after_frontend_activations']):>6.2f} GiB {gib(r['weights']):>6.2f} GiB "
            f"{gib(r['gradients'] + r['optimizer_state']):>6.2f} GiB {gib(r['peak']):>7.2f} GiB")  # fmt: skip


REPORT_HEADER = (f"{'recipe':<34} {'tok/frame':>9} {'LM len':>7} {'frames act':>12} {'rest act':>10} "
                 f"{'weights':>10} {'grad+opt':>10} {'peak':>11}")  # fmt: skip
