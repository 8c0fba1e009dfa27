"""Training memory of one translation step of a frame-encoder recipe at its paper's sizes, on the CPU.

What a GPU run at paper size would hold (weights, gradients, optimiser state, saved activations),
counted exactly without a GPU (``_paper.py`` says how: the frame encoder's activations are counted
on a few frames and scaled, everything after it runs on the whole batch with random weights built
from the published architectures). fp32; bf16 autocast keeps roughly half the activation bytes.
Samples/s needs the GPU and is not measured here.

    python benchmarks/bench_paper_step.py --recipe hfa/phoenix14t --stage finetune2 [--batch 16]
        [--phoenix ../shared/data/phoenix14t] [--tokenizer ../shared/data/mbart_trimmed_tokenizer] [--json FILE]
    python benchmarks/bench_paper_step.py --recipe spamo/phoenix14t --tokenizer t5 --window videomae=16,8 --lm-layers 24

HFA (paper 001) at batch 16: the paper's DINOv2-S with LoRA on blocks 9-11, local-attention encoder,
mBART-cc25 with LoRA; finetune2 trains everything trainable. SpaMo (paper 003) at batch 16: cached
CLIP-S2 (per frame, 2,048-d) and VideoMAE (16-frame clips, stride 8, 1,024-d) streams, the Sign
Adapter, Flan-T5-XL in bf16 with LoRA and a one-exemplar prompt; too large to run here, its 24 + 24
layers are extrapolated exactly from runs with 1 and 2 layers (``_paper.paper_step``). ``--tokenizer
t5`` trains a stand-in T5 sentencepiece on the PHOENIX14T training sentences (Flan-T5's own is not
on this machine; the LM keeps its published 32,128-entry vocabulary).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from _memory import gib
from _paper import REPORT_HEADER, paper_step, phoenix_clips, report_line
from _util import machine, machine_line, write_json
from glossfree.text.tokenizers import train_tokenizer
from glossfree.training.tasks import load_recipe


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="hfa/phoenix14t")
    parser.add_argument("--stage", default=None, help="a translation stage (default: the last one with lm_ce)")
    parser.add_argument("--batch", type=int, default=16, help="PHOENIX14T training clips in the batch")
    parser.add_argument("--phoenix", type=Path, default=Path("../shared/data/phoenix14t"))
    parser.add_argument("--tokenizer", type=Path, default=Path("../shared/data/mbart_trimmed_tokenizer"))
    parser.add_argument("--frames", type=int, default=4, help="frames the frame encoder's activations are counted on")
    parser.add_argument("--window", action="append", default=[], metavar="STREAM=WINDOW,STRIDE",
                        help="a feature stream computed over clips of frames (default: one step per frame)")
    parser.add_argument("--lm-layers", type=int, default=None,
                        help="extrapolate the LM's activations from 1 and 2 layers to this depth (an LM too large to run)")
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    info = machine()
    print(machine_line(info))
    clips = phoenix_clips(args.phoenix, args.batch)
    windows = {w.split("=")[0]: tuple(int(v) for v in w.split("=")[1].split(",")) for w in args.window}
    family = load_recipe(args.recipe).model.lm.family
    layer_keys = ("num_layers", "num_decoder_layers") if family == "t5" else ("encoder_layers", "decoder_layers")
    lm_layers = dict.fromkeys(layer_keys, args.lm_layers) if args.lm_layers else None
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = args.tokenizer
        if str(tokenizer) in ("t5", "mbart"):  # a stand-in trained on the PHOENIX14T training sentences
            texts = [clip["text"] for clip in phoenix_clips(args.phoenix, 10**9)]
            train_tokenizer(texts, Path(tmp) / "tokenizer", vocab_size=2000, family=str(tokenizer))
            tokenizer = Path(tmp) / "tokenizer"
        result = paper_step(args.recipe, clips, tokenizer=tokenizer, stage_name=args.stage, frames_counted=args.frames,
                            windows=windows, lm_layers=lm_layers)  # fmt: skip
    print(f"\n{args.recipe} stage {result['stage']}: {len(clips)} PHOENIX14T clips, {result['frames']:.0f} frames, fp32, "
          f"{result['trained_parameters'] / 1e6:.2f} M trained parameters")  # fmt: skip
    print(REPORT_HEADER)
    print(report_line(args.recipe, result))
    if result["frontend_activations_per_frame"]:
        print(f"frame encoder: {gib(result['frontend_activations_per_frame']) * 1024:.2f} MiB of saved activations per frame")
    if "lm_layers_extrapolated" in result:
        print(f"LM activations extrapolated from 1 and 2 layers to {result['lm_layers_extrapolated']} per stack")
    if args.json:
        write_json(args.json, {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "result": result})


if __name__ == "__main__":
    main()
