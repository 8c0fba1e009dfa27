"""How distinct are a recipe's visual tokens before training? Per visual point, at initialisation.

A from-scratch recipe's LM can read only what differs between its visual tokens. This script builds
each recipe as ``glossfree train`` would (same seed, same data pipeline, training mode), runs its
first training batches through the visual side and reports, at each point of
``SLTModel.visual_points`` (frontend, compressor, tokens as the LM reads them):

- **within**: the share of the features' variance that lies *within* a sample (over its time steps)
  rather than between samples' means. Near 0: every token of a sample is nearly the same vector.
- **adjacent cos**: the mean cosine between consecutive steps after each sample's mean is removed.
  Near 1: neighbouring tokens repeat each other (a smoothing compressor).
- **grad**: the norm of the LM loss's gradient reaching each part's parameters (first batch).
- **cross-attention** (mBART-layout LMs), per decoder layer on the first batch, eval mode: the
  entropy of each query's attention over the sample's source tokens divided by ln(tokens) (1 = the
  uniform average: the decoder reads one vector per sentence), and the RMS of what the branch adds to
  the decoder's residual stream divided by the stream's RMS.

Issue 22, sixth round (docs/benchmarks.md §12): a Sliding Perceiver with the paper's learned query
starts as an average over each window (compressor within 0.15, adjacent cos 0.54, against 0.74 /
0.02 for `pose_conv/mid`'s strided convolution), and one Conformer block's random branches decorrelate
neighbouring backbone steps (adjacent cos 0.10 against 0.49 without them). ``compressor.query:
centre`` and ``frontend.conformer.layer_scale`` are the options this made visible. Eighth round:
with transformers' mBART initialisation (N(0, 0.02), set for d 1,024) a d-256 LM's cross-attention
starts by adding a tenth of the decoder's stream (0.3-0.45 at 0.044) and the visual side gets a twelfth
of the gradient; ``lm.architecture.init_std: 0.044`` is the option this shows.

    python benchmarks/bench_tokens_at_init.py --data data/p14t_synth --batches 4 --recipe pose_conv/mid \\
        --recipe "pose_perceiver/mid model.compressor.query=learned model.compressor.dropout=0 model.frontend.conformer.layer_scale=null" \\
        --recipe pose_perceiver/mid --recipe "pose_perceiver/mid model.lm.architecture.init_std=0.02"
"""

from __future__ import annotations

import argparse
import itertools
import shlex
import tempfile
from pathlib import Path

import torch

from glossfree.threads import set_threads
from glossfree.training.engine import build_run
from glossfree.training.tasks import load_recipe


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a prepared corpus (e.g. data/p14t_synth)")
    parser.add_argument("--recipe", action="append", required=True, metavar='"NAME [KEY=VALUE ...]"',
                        help="a recipe and its overrides, one quoted string (repeat)")  # fmt: skip
    parser.add_argument("--batches", type=int, default=4, help="training batches to measure on")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    return parser.parse_args()


def token_statistics(features: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
    """``features`` [B, T, D], ``mask`` [B, T] -> (within-sample share of variance, adjacent cosine)."""
    mask = mask.bool()
    weight = mask.unsqueeze(-1).to(features.dtype)  # [B, T, 1]
    means = (features * weight).sum(dim=1) / weight.sum(dim=1).clamp(min=1)  # [B, D]
    centred = (features - means[:, None]) * weight  # [B, T, D]
    total = features[mask].var(dim=0, unbiased=False).sum()
    within = centred.pow(2).sum() / weight.sum().clamp(min=1)
    pairs = mask[:, 1:] & mask[:, :-1]
    cosine = torch.nn.functional.cosine_similarity(centred[:, 1:], centred[:, :-1], dim=-1)[pairs]
    return float(within / total.clamp(min=1e-12)), float(cosine.mean()) if cosine.numel() else float("nan")


def cross_attention_at_init(model: torch.nn.Module, batch) -> list[tuple[float, float]]:
    """Per decoder layer of an mBART-layout LM: (attention entropy / ln(source tokens), branch RMS / stream RMS).

    Measured with forward hooks on each layer's ``encoder_attn`` (its query, key and mask as the layer
    computes them) and ``encoder_attn_layer_norm`` (its input is the residual stream the branch is
    added to). Empty for an LM without such layers (T5).
    """
    base = model.lm._base()
    streams: dict[str, torch.Tensor] = {}
    rows: list[tuple[float, float]] = []

    def stream_hook(name: str):
        def hook(module, args):
            streams[name] = args[0]

        return hook

    def attention_hook(name: str):
        def hook(module, args, kwargs, output):
            hidden = args[0] if args else kwargs["hidden_states"]
            source = kwargs.get("key_value_states")
            if source is None:
                return
            batch_size, heads = hidden.shape[0], module.num_heads
            query = module.q_proj(hidden).view(batch_size, hidden.shape[1], heads, -1).transpose(1, 2)
            key = module.k_proj(source).view(batch_size, source.shape[1], heads, -1).transpose(1, 2)
            logits = query @ key.transpose(-1, -2) * module.scaling  # [B, H, L, S]
            mask = kwargs.get("attention_mask")
            real = torch.ones(batch_size, source.shape[1], dtype=torch.bool, device=source.device)
            if mask is not None:  # [B, 1, L, S]: bool (True = attend) or additive (0 = attend)
                real = mask[:, 0, 0].bool() if mask.dtype == torch.bool else mask[:, 0, 0] == 0
            logits = logits.masked_fill(~real[:, None, None, :], float("-inf"))
            probs = logits.softmax(dim=-1)
            entropy = -(probs * probs.clamp(min=1e-12).log()).sum(dim=-1)  # [B, H, L]
            normalised = entropy / real.sum(dim=1).clamp(min=2).log()[:, None, None].to(entropy.dtype)
            stream = streams[name.rsplit(".", 1)[0] + ".encoder_attn_layer_norm"]
            ratio = output[0].pow(2).mean().sqrt() / stream.pow(2).mean().sqrt()
            rows.append((float(normalised.mean()), float(ratio)))

        return hook

    handles = []
    for name, module in base.named_modules():
        if name.endswith("encoder_attn_layer_norm"):
            handles.append(module.register_forward_pre_hook(stream_hook(name)))
        elif name.endswith("encoder_attn"):
            handles.append(module.register_forward_hook(attention_hook(name), with_kwargs=True))
    try:
        with torch.no_grad():
            model.eval()(batch)
    finally:
        model.train()
        for handle in handles:
            handle.remove()
    return rows


def measure(spec: str, root: Path, batches: int) -> None:
    name, *overrides = shlex.split(spec)
    recipe = load_recipe(name, [*overrides, "data.num_workers=0", f"data.root={root}"])  # as `train --data`
    with tempfile.TemporaryDirectory() as tmp:
        built = build_run(recipe, root, Path(tmp) / "run")
        stage = built.recipe.stages[-1]  # the translation stage of a staged recipe
        loader = built.task.datamodule(built.recipe, stage, root, built.data).train_dataloader()
        model = built.model.train()
        loaded = list(itertools.islice(loader, batches))
        rows: dict[str, list[tuple[float, float]]] = {}
        for batch in loaded:
            with torch.no_grad():
                for point, visual in model.visual_points(batch).items():
                    rows.setdefault(point, []).append(token_statistics(visual.features, visual.mask))
        attention = cross_attention_at_init(model, loaded[0])
        model.zero_grad()
        model(loaded[0]).loss.backward()
        grads: dict[str, float] = {}
        for param_name, param in model.named_parameters():
            if param.grad is not None:
                part = param_name.split(".")[0]
                grads[part] = grads.get(part, 0.0) + float(param.grad.pow(2).sum())
    print(f"\n{spec}")
    for point, values in rows.items():
        within = sum(v[0] for v in values) / len(values)
        adjacent = sum(v[1] for v in values) / len(values)
        print(f"  {point:<11} within {within:.3f}   adjacent cos {adjacent:.3f}")
    print("  grad   " + "  ".join(f"{part} {value ** 0.5:.4f}" for part, value in grads.items()))
    if attention:
        print("  cross-attention, decoder layer by layer: entropy/ln S "
              + " ".join(f"{entropy:.3f}" for entropy, _ in attention)
              + "   branch/stream RMS " + " ".join(f"{ratio:.3f}" for _, ratio in attention))


def main() -> None:
    args = parse_args()
    set_threads(args.threads)
    for spec in args.recipe:
        torch.manual_seed(0)
        measure(spec, args.data, args.batches)


if __name__ == "__main__":
    main()
