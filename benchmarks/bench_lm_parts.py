"""Which of T5's differences from the mBART layout costs the from-scratch LM its pace? (issue 22)

The gloss->text model of ``glossfree.baselines.gloss_to_text`` (a recipe's LM fed the reference
glosses) trained for ``--steps`` optimiser steps on the benchmark's gloss/text pairs with the
recipe's optimiser and schedule, once per variant, one after the other in this process; dev BLEU-4
on every dev sentence (greedy). The variants start from the mBART layout (d 256, 3+3 layers,
4 heads, FFN 1,024, dropout 0.1, embeddings scaled by sqrt(d), learned absolute positions, GELU,
LayerNorm with bias, init N(0, 0.044) as the ``mid`` recipes, output tied without scaling) and swap in
one of T5's parts each:

- ``no_scale``: unscaled embeddings (``scale_embedding: false``);
- ``relu``: ReLU feed-forward (``activation_function: relu``);
- ``no_positions``: no absolute positions (the learned tables zeroed and frozen; T5 has relative
  position buckets in their place, mBART then has nothing);
- ``out_scale``: the tied output scaled by d^-0.5 (T5's ``tie_word_embeddings`` rescaling);
- ``rmsnorm``: every LayerNorm replaced by an RMSNorm without bias (T5's ``T5LayerNorm``);
- ``t5_init``: T5's initialisation (embeddings N(0, 1); attention and FFN weights N(0, fan_in^-0.5));
- ``t5``: the shipped T5 layout itself, with its own tokenizer;
- ``init_002``: not a T5 part: transformers' own mBART initialisation, N(0, 0.02) (set for d 1,024),
  which the ``mid`` recipes used until the eighth round of docs/benchmarks.md §12.

    python benchmarks/bench_lm_parts.py --data data/p14t_synth [--steps 666] [--variants mbart,no_scale,...]
        [--recipe pose_perceiver/mid] [--threads 1] [--json FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _util import machine, machine_line, write_json

MBART_MID = {
    "d_model": 256, "encoder_layers": 3, "decoder_layers": 3, "encoder_attention_heads": 4,
    "decoder_attention_heads": 4, "encoder_ffn_dim": 1024, "decoder_ffn_dim": 1024, "dropout": 0.1,
    "scale_embedding": True, "init_std": 0.044,
}  # fmt: skip
T5_MID = {
    "d_model": 256,
    "d_ff": 1024,
    "num_layers": 3,
    "num_decoder_layers": 3,
    "num_heads": 4,
    "d_kv": 64,
    "dropout_rate": 0.1,
}


def _no_positions(model) -> None:
    base = model.lm._base()
    for part in (base.get_encoder(), base.get_decoder()):
        part.embed_positions.weight.data.zero_()
        part.embed_positions.weight.requires_grad_(False)


def _out_scale(model) -> None:
    head = model.lm._base().lm_head
    scale = model.lm.embed_dim**-0.5
    head.register_forward_hook(lambda _module, _inputs, output: output * scale)


def _rmsnorm(model) -> None:
    import torch
    from torch import nn

    def swap(module: nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, nn.LayerNorm):
                setattr(module, name, nn.RMSNorm(child.normalized_shape, eps=1e-6, dtype=torch.float32))
            else:
                swap(child)

    swap(model.lm.model)


def _t5_init(model) -> None:
    from torch import nn

    base = model.lm._base()
    nn.init.normal_(base.get_input_embeddings().weight, std=1.0)
    for name, module in base.named_modules():
        if isinstance(module, nn.Linear) and module is not base.lm_head:
            nn.init.normal_(module.weight, std=module.in_features**-0.5)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


# name -> (family, architecture overrides of the family's mid layout, prepare hook)
VARIANTS = {
    "mbart": ("mbart", {}, None),
    "no_scale": ("mbart", {"scale_embedding": False}, None),
    "relu": ("mbart", {"activation_function": "relu"}, None),
    "no_positions": ("mbart", {}, _no_positions),
    "out_scale": ("mbart", {}, _out_scale),
    "rmsnorm": ("mbart", {}, _rmsnorm),
    "t5_init": ("mbart", {}, _t5_init),
    "t5": ("t5", {}, None),
    "init_002": ("mbart", {"init_std": 0.02}, None),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="benchmark root (manifest with gloss and text)")
    parser.add_argument(
        "--recipe", default="pose_perceiver/mid", help="recipe whose optimiser, schedule and LM settings are used"
    )
    parser.add_argument("--steps", type=int, default=666)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="recipe override for every variant"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    parser.add_argument("--out", type=Path, default=Path("bench_runs/lm_parts"))
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from glossfree.threads import set_threads

    set_threads(args.threads)
    from glossfree.baselines.gloss_to_text import train_gloss_to_text
    from glossfree.data.manifest import load_split
    from glossfree.text.tokenizers import train_tokenizer
    from glossfree.training.tasks import load_recipe

    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; valid: {', '.join(VARIANTS)}")
    texts = [r.text for r in load_split(args.data, "train")]
    tokenizers: dict[str, object] = {}
    results = []
    print(machine_line(machine()), flush=True)
    for name in names:
        family, changes, hook = VARIANTS[name]
        if family not in tokenizers:
            tokenizers[family] = train_tokenizer(
                texts, args.out / f"tokenizer_{family}", vocab_size=2000, family=family
            )
        architecture = {**(MBART_MID if family == "mbart" else T5_MID), **changes}
        overrides = [f"model.lm.family={family}", f"model.lm.architecture={architecture}", *args.overrides]
        recipe = load_recipe(args.recipe, overrides)
        started = time.perf_counter()
        result = train_gloss_to_text(recipe, tokenizers[family], args.data, steps=args.steps, test=False, prepare=hook)
        row = {"variant": name, "family": family, "architecture": architecture, "steps": args.steps,
               "dev_bleu4": result.dev.bleu4, "dev_rouge_l": result.dev.rouge_l, "seconds": time.perf_counter() - started}  # fmt: skip
        results.append(row)
        print(f"{name}: dev BLEU-4 {row['dev_bleu4']:.2f} (ROUGE-L {row['dev_rouge_l']:.2f}) at step {args.steps}, "
              f"{row['seconds']:.0f} s", flush=True)  # fmt: skip
    if args.json:
        write_json(args.json, {"machine": machine(), "recipe": args.recipe, "results": results})


if __name__ == "__main__":
    main()
