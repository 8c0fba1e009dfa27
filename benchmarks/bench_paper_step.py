"""Training memory of one translation step of a frame-encoder recipe at its paper's sizes, on the CPU.

What a GPU run at paper size would hold (weights, gradients, optimiser state, saved activations),
counted exactly without a GPU (``_paper.py`` says how: the frame encoder's activations are counted
on a few frames and scaled, everything after it runs on the whole batch with random weights built
from the published architectures). fp32; bf16 autocast keeps roughly half the activation bytes.
Samples/s needs the GPU and is not measured here.

    python benchmarks/bench_paper_step.py --recipe hfa/phoenix14t --stage finetune2 [--batch 16]
        [--phoenix ../shared/data/phoenix14t] [--tokenizer ../shared/data/mbart_trimmed_tokenizer] [--json FILE]

HFA (paper 001) at batch 16: the paper's DINOv2-S with LoRA on blocks 9-11, local-attention encoder,
mBART-cc25 with LoRA; finetune2 trains everything trainable.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from _memory import gib
from _paper import REPORT_HEADER, paper_step, phoenix_clips, report_line
from _util import machine, machine_line, write_json


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="hfa/phoenix14t")
    parser.add_argument("--stage", default=None, help="a translation stage (default: the last one with lm_ce)")
    parser.add_argument("--batch", type=int, default=16, help="PHOENIX14T training clips in the batch")
    parser.add_argument("--phoenix", type=Path, default=Path("../shared/data/phoenix14t"))
    parser.add_argument("--tokenizer", type=Path, default=Path("../shared/data/mbart_trimmed_tokenizer"))
    parser.add_argument("--frames", type=int, default=4, help="frames the frame encoder's activations are counted on")
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    info = machine()
    print(machine_line(info))
    clips = phoenix_clips(args.phoenix, args.batch)
    result = paper_step(args.recipe, clips, tokenizer=args.tokenizer, stage_name=args.stage, frames_counted=args.frames)
    print(f"\n{args.recipe} stage {result['stage']}: {len(clips)} PHOENIX14T clips, {result['frames']:.0f} frames, fp32, "
          f"{result['trained_parameters'] / 1e6:.2f} M trained parameters")  # fmt: skip
    print(REPORT_HEADER)
    print(report_line(args.recipe, result))
    print(f"frame encoder: {gib(result['frontend_activations_per_frame']) * 1024:.2f} MiB of saved activations per frame")
    if args.json:
        write_json(args.json, {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "result": result})


if __name__ == "__main__":
    main()
