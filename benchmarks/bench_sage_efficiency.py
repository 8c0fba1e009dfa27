"""SAGE's efficiency claim (paper 002, Sec. 4.3.2, Tables 2-3), measured side by side.

Same clips, same batch, one translation training step (forward, backward) of SAGE's recipe and of the
frame-level x4 recipe it is compared with:

- ``tiny``: ``sage/tiny`` vs ``sage/frames_x4_tiny`` on RGB frames of the synthetic signer's videos
  (a tiny ResNet per frame; one token per pose-motion segment vs two stride-2 convolutions);
- ``mid``: ``sage/poses_mid`` vs ``pose_conv/mid`` on PHOENIX-length synthetic keypoints (the keypoint
  MLP of the ``mid`` recipes; one token per segment vs two stride-2 convolutions).

Reported per recipe: **LM input length** (visual tokens the LM reads, per frame: the paper's 0.129 vs
0.25), and **peak training memory** = parameters + gradients + optimiser state (AdamW's two moments for
both recipes, so the difference is the architecture's) + the activations autograd saves for backward
(``_memory.SavedActivations``: exact and deterministic, split into the visual side and the LM). Step
time (median of ``--rounds`` alternating steps) is printed too, as measured on a shared CPU. The
models are untrained (same seed); the tokenizer is trained on the clips' texts.

    python benchmarks/bench_sage_efficiency.py --tiny-data DATA_VIDEO --mid-data DATA_POSES
        [--batch 16] [--rounds 3] [--json FILE]

``DATA_VIDEO``: ``glossfree synth ... --video``; ``DATA_POSES``: ``glossfree synth ... --from-phoenix``
(both at 12.5 fps); a missing ``segments_motion.jsonl`` is written first with the pose-motion segmenter.

``--paper PHOENIX_DIR``: the paper's sizes, counted on the CPU (``_paper.py`` says how):
``sage/phoenix14t`` (ResNet-34 trained in full, segment pool + VE, mBART-large-50, SGD with momentum)
against the same recipe with the x4 ``conv_pool`` in place of the segment pool, one translation step
on ``--paper-batch`` real PHOENIX14T clips at 224x224 with spans at the paper's 0.129 tokens per frame,
fp32. The vocabulary is the trimmed mBART tokenizer of ``--paper-tokenizer`` (mBART-large-50's own is
not on this machine; SAGE trims its vocabulary too).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from _memory import SavedActivations, gib
from _paper import REPORT_HEADER, paper_step, phoenix_clips, report_line
from _util import machine, machine_line, median, write_json
from glossfree.data.datasets import collate_pose
from glossfree.data.manifest import load_split
from glossfree.segmentation.motion import PoseMotionConfig, PoseMotionSegmenter
from glossfree.segmentation.run import segment_dataset
from glossfree.text.tokenizers import train_tokenizer
from glossfree.training.datamodule import build_dataset
from glossfree.training.tasks import load_recipe
from glossfree.training.tasks.translation import build_model

PAIRS = {"tiny": ("sage/tiny", "sage/frames_x4_tiny"), "mid": ("sage/poses_mid", "pose_conv/mid")}
ADAMW_STATES = 2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny-data", type=Path, default=None, help="synthetic corpus with videos")
    parser.add_argument("--mid-data", type=Path, default=None, help="PHOENIX-scale synthetic corpus (poses)")
    parser.add_argument("--batch", type=int, default=16, help="clips per batch (the first train records)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed steps per recipe")
    parser.add_argument("--paper", type=Path, default=None, metavar="PHOENIX_DIR",
                        help="also measure the paper's sizes on real PHOENIX14T frame counts (its jsonl folder)")
    parser.add_argument("--paper-batch", type=int, default=8, help="clips per batch at paper size (translation: 8)")
    parser.add_argument("--paper-frames", type=int, default=4, help="frames the ResNet's activations are counted on")
    parser.add_argument("--paper-tokenizer", type=Path, default=Path("../shared/data/mbart_trimmed_tokenizer"))
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def ensure_segments(root: Path) -> None:
    if not (root / "segments_motion.jsonl").is_file():
        segment_dataset(root, PoseMotionSegmenter(PoseMotionConfig()), name="pose_motion",
                        out=root / "segments_motion.jsonl", progress=False)  # fmt: skip


def prepare(name: str, root: Path, records, tokenizer) -> tuple[Any, Any]:
    recipe = load_recipe(name)
    torch.manual_seed(0)
    model = build_model(recipe, tokenizer).train()
    dataset = build_dataset(recipe.data, recipe.model, records, root, train=False)
    batch = collate_pose([dataset[i] for i in range(len(records))])
    return model, batch


def step(model, batch, *, count: bool) -> dict[str, float]:
    """One translation step (lm_ce): tokens per frame, saved activations (visual side, LM), seconds."""
    model.zero_grad(set_to_none=True)
    started = time.perf_counter()
    with SavedActivations(model) as visual_saved:
        tokens = model.visual_points(batch)["tokens"]
    with SavedActivations(model) as lm_saved:
        out = model.lm.teacher_forced(tokens.features, tokens.mask, batch.texts, prompts=batch.prompts)
    out.loss.backward()
    seconds = time.perf_counter() - started
    frames = float(batch.frame_mask.sum())
    result = {"seconds": seconds, "lm_tokens": float(tokens.mask.sum()), "frames": frames,
              "tokens_per_frame": float(tokens.mask.sum()) / frames, "max_lm_len": int(tokens.mask.sum(dim=1).max())}  # fmt: skip
    if count:
        trained = [p for p in model.parameters() if p.grad is not None]
        params = sum(p.numel() * p.element_size() for p in trained)
        result.update(
            visual_activations=float(visual_saved.bytes), lm_activations=float(lm_saved.bytes),
            parameters=float(params), trained_parameters=float(sum(p.numel() for p in trained)),
            peak=float(params * (2 + ADAMW_STATES) + visual_saved.bytes + lm_saved.bytes),
        )  # fmt: skip
    visual_saved.release(), lm_saved.release()
    return result


def measure(size: str, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    ensure_segments(root)
    records = load_split(root, "train")[: args.batch]
    sage_name, base_name = PAIRS[size]
    vocab = load_recipe(sage_name).tokenizer.vocab_size
    family = load_recipe(sage_name).model.lm.family
    with tempfile.TemporaryDirectory() as tmp:
        texts = [r.text for r in load_split(root, "train")]
        try:
            tokenizer = train_tokenizer(texts, Path(tmp) / "tok", vocab_size=vocab, family=family)
        except Exception:  # a small corpus cannot fill the recipe's vocabulary: a smaller one, for both
            tokenizer = train_tokenizer(texts, Path(tmp) / "tok", vocab_size=min(vocab, 300), family=family)
        models = {name: prepare(name, root, records, tokenizer) for name in (sage_name, base_name)}
        results = {name: step(*models[name], count=True) for name in models}
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.rounds):
            for name in models:
                times[name].append(step(*models[name], count=False)["seconds"])
    for name in models:
        results[name]["step_s"] = median(times[name])
    sage, base = results[sage_name], results[base_name]
    return {"size": size, "data": str(root), "batch": len(records), "recipes": results,
            "memory_ratio": base["peak"] / sage["peak"], "length_ratio": base["lm_tokens"] / sage["lm_tokens"]}  # fmt: skip


def report(result: dict[str, Any]) -> None:
    print(f"\n{result['size']}: {result['batch']} clips of {result['data']}")
    print(f"{'recipe':<22} {'tok/frame':>9} {'LM len':>7} {'visual act':>11} {'LM act':>9} {'params':>9} {'peak':>9} {'step s':>7}")
    for name, r in result["recipes"].items():
        print(f"{name:<22} {r['tokens_per_frame']:>9.3f} {r['max_lm_len']:>7d} {gib(r['visual_activations']) * 1024:>8.1f} MiB "
              f"{gib(r['lm_activations']) * 1024:>6.1f} MiB {gib(r['parameters']) * 1024:>6.1f} MiB "
              f"{gib(r['peak']) * 1024:>6.1f} MiB {r['step_s']:>7.2f}")  # fmt: skip
    print(f"memory ratio (x4 / sage) {result['memory_ratio']:.2f}x [paper: up to 2.67x]; "
          f"LM input length ratio {result['length_ratio']:.2f}x [paper: 0.25 / 0.129 = 1.94x]")


X4_COMPRESSOR = "model.compressor={kind: conv_pool, num_layers: 2, kernel_size: 5, stride: 2, dim: 1024, dropout: 0.1}"


def measure_paper(args: argparse.Namespace) -> dict[str, Any]:
    clips = phoenix_clips(args.paper, args.paper_batch)
    common = {"tokenizer": args.paper_tokenizer, "frames_counted": args.paper_frames}
    results = {"sage/phoenix14t": paper_step("sage/phoenix14t", clips, **common),
               "sage/phoenix14t + x4 conv_pool": paper_step("sage/phoenix14t", clips, overrides=(X4_COMPRESSOR,), **common)}  # fmt: skip
    sage, base = results.values()
    return {"size": "paper", "batch": len(clips), "frames": sage["frames"], "recipes": results,
            "memory_ratio": base["peak"] / sage["peak"], "length_ratio": base["lm_tokens"] / sage["lm_tokens"]}  # fmt: skip


def report_paper(result: dict[str, Any]) -> None:
    print(f"\npaper size: {result['batch']} PHOENIX14T clips, {result['frames']:.0f} frames at 224x224, fp32")
    print(REPORT_HEADER)
    for name, r in result["recipes"].items():
        print(report_line(name, r))
    print(f"memory ratio (x4 / sage) {result['memory_ratio']:.2f}x [paper: up to 2.67x]; "
          f"LM input length ratio {result['length_ratio']:.2f}x [paper: 0.25 / 0.129 = 1.94x]")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    info = machine()
    print(machine_line(info))
    results = []
    for size, root in (("tiny", args.tiny_data), ("mid", args.mid_data)):
        if root is not None:
            results.append(measure(size, root, args))
            report(results[-1])
    if args.paper is not None:
        results.append(measure_paper(args))
        report_paper(results[-1])
    if args.json:
        write_json(args.json, {"machine": info, "results": results})


if __name__ == "__main__":
    main()
