"""Training throughput of the tiny pose recipe: samples/s and frames/s, torch threads 1 vs 2.

Builds the model of ``pose_perceiver/tiny`` exactly as ``glossfree train`` does (tokenizer trained
on the corpus texts, :func:`glossfree.training.engine.build_model`, the first stage's freezing,
optimiser, objectives and gradient clipping), on a small synthetic corpus, and times optimiser
steps (forward + backward + clip + step) directly, without Lightning, after a warm-up. Batches are
the recipe's: length-bucketed (:class:`LengthBucketBatchSampler`), collated by
:func:`collate_pose`, loaded before timing so that the figure is the model's; the data path
(read ``.pose`` + select layout + normalise + the recipe's augmentation + collate, uncached) is
timed separately.

Each thread count (default 1 and 2) runs the same batches; the measurements alternate over
``--rounds`` rounds so that a burst of load from other processes hits both settings alike, and the
ratio of the two is the figure to read (not the absolute rate, on a shared machine).

    .venv/bin/python benchmarks/bench_train.py [--samples 96] [--steps 6] [--warmup 1]
        [--rounds 2] [--threads 1,2] [--batch-size N] [--seed 0] [--json FILE]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from _util import CpuMeter, cpu_line, machine, machine_line, median, write_json

RECIPE = "pose_perceiver/tiny"


@dataclass
class Timing:
    """Accumulated seconds of timed steps at one thread count."""

    steps: int = 0
    samples: int = 0
    frames: int = 0
    padded_frames: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=lambda: {"forward": 0.0, "backward": 0.0, "optimizer": 0.0})
    step_seconds: list[float] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=96, help="synthetic training samples")
    parser.add_argument("--steps", type=int, default=6, help="timed optimiser steps per round and thread count")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before each measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating measurement rounds")
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the recipe's first stage")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    if not args.threads or min(args.threads) < 1 or min(args.steps, args.rounds, args.samples) < 1:
        parser.error("--threads, --steps, --rounds and --samples must be positive")
    return args


def make_corpus(root: Path, *, samples: int, seed: int) -> dict:
    """A small synthetic corpus: the demo's settings (frame rate, face points...), fewer samples."""
    from glossfree.data.synth import generate_corpus
    from glossfree.demo import demo_synth_config

    config = demo_synth_config(seed).model_copy(update={"num_train": samples, "num_dev": 0, "num_test": 0})
    summary = generate_corpus(root, config, progress=False)
    return {"config": config.model_dump(mode="json"), "summary": str(summary)}


def load_batches(recipe, root: Path, *, batch_size: int, seed: int):
    """Train-split batches as the datamodule builds them, and the uncached data-path rate."""
    from glossfree.data.datasets import LengthBucketBatchSampler, PoseDataset, collate_pose
    from glossfree.data.manifest import load_split
    from glossfree.data.transforms import build_transforms

    records = load_split(root, recipe.data.train_split)
    data = recipe.data
    transform = build_transforms(data.augment) if data.augment else None
    dataset = PoseDataset(records, root, layout=recipe.model.layout, normalize=data.normalize, fps=data.fps,
                          transform=transform)
    sampler = LengthBucketBatchSampler(dataset.lengths, batch_size=batch_size, shuffle=True, seed=seed, drop_last=True)
    start = time.perf_counter()
    batches = [collate_pose([dataset[i] for i in indices]) for indices in sampler]
    data_s = time.perf_counter() - start
    if not batches:
        raise ValueError(f"only {len(records)} training samples: fewer than one batch of {batch_size}; raise --samples")
    loaded = sum(len(b) for b in batches)
    return records, batches, {"samples": loaded, "seconds": data_s, "samples_per_s": loaded / data_s}


def build(recipe, records, tokenizer_dir: Path, *, seed: int):
    """Tokenizer, model, freezing and optimiser of the first stage, in ``train``'s order."""
    from glossfree.training.callbacks import apply_freezing
    from glossfree.training.engine import prepare_tokenizer
    from glossfree.training.tasks.translation import build_model
    from glossfree.training.optim import build_optimizer

    stage = recipe.stages[0]
    tokenizer = prepare_tokenizer(recipe.tokenizer, [r.text for r in records], tokenizer_dir)
    torch.manual_seed(seed)
    model = build_model(recipe, tokenizer)
    base_frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    model.train()
    apply_freezing(model, tuple(stage.train), base_frozen)
    optimizer = build_optimizer(model.named_parameters(), stage.optimizer)
    return stage, model, optimizer


def weighted_loss(stage, losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """The stage's objectives summed with their weights (as the Lightning module does)."""
    total = torch.zeros(())
    for objective in stage.objectives:
        total = total + objective.weight * losses[objective.kind]
    return total


def train_step(stage, model, optimizer, batch, timing: Timing | None) -> None:
    t0 = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    loss = weighted_loss(stage, model(batch).losses)
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    if stage.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], stage.grad_clip)
    optimizer.step()
    t3 = time.perf_counter()
    if timing is not None:
        timing.steps += 1
        timing.samples += len(batch)
        timing.frames += int(batch.lengths.sum())
        timing.padded_frames += batch.frame_mask.numel()
        timing.seconds += t3 - t0
        timing.step_seconds.append(t3 - t0)
        for name, seconds in (("forward", t1 - t0), ("backward", t2 - t1), ("optimizer", t3 - t2)):
            timing.phases[name] += seconds


def measure(stage, model, optimizer, batches, *, threads: list[int], steps: int, warmup: int, rounds: int):
    timings = {t: Timing() for t in threads}
    previous = torch.get_num_threads()
    try:
        for _ in range(rounds):
            for count in threads:
                torch.set_num_threads(count)
                for k in range(warmup):
                    train_step(stage, model, optimizer, batches[k % len(batches)], None)
                for k in range(steps):
                    train_step(stage, model, optimizer, batches[k % len(batches)], timings[count])
    finally:
        torch.set_num_threads(previous)
    return timings


def summarise(timing: Timing) -> dict:
    return {
        "steps": timing.steps,
        "samples_per_s": timing.samples / timing.seconds,
        "frames_per_s": timing.frames / timing.seconds,
        "padded_frames_per_s": timing.padded_frames / timing.seconds,
        "steps_per_s": timing.steps / timing.seconds,
        "median_step_s": median(timing.step_seconds),
        # robust to bursts of load from other processes: batch size / median step time
        "samples_per_s_median_step": (timing.samples / timing.steps) / median(timing.step_seconds),
        "phase_share": {name: s / timing.seconds for name, s in timing.phases.items()},
    }


def report(res: dict) -> None:
    print(machine_line(res["machine"]))
    corpus = res["corpus"]
    print(f"recipe {RECIPE}: {res['parameters']['trainable']:,} trainable / {res['parameters']['total']:,} "
          f"parameters; {corpus['train_samples']} train samples in {corpus['batches']} batches of "
          f"{res['batch_size']} ({corpus['mean_frames']:.0f} frames on average)")  # fmt: skip
    data = res["data_path"]
    print(f"data path (read .pose, layout, normalise, augment, collate; uncached, one process): "
          f"{data['samples_per_s']:.1f} samples/s")  # fmt: skip
    print(f"\n{'threads':>7} {'samples/s':>10} {'frames/s':>10} {'steps/s':>8} {'median step':>12} "
          f"{'samples/s at median':>20}  forward/backward/optimizer")  # fmt: skip
    for count, s in res["threads"].items():
        share = s["phase_share"]
        print(f"{count:>7} {s['samples_per_s']:10.2f} {s['frames_per_s']:10.0f} {s['steps_per_s']:8.2f} "
              f"{s['median_step_s']:11.3f}s {s['samples_per_s_median_step']:20.2f}  "
              f"{share['forward']:.0%}/{share['backward']:.0%}/{share['optimizer']:.0%}")  # fmt: skip
    print(f"{cpu_line(res['cpu'])} (timed and warm-up steps)")
    for (a, sa), (b, sb) in zip(list(res["threads"].items()), list(res["threads"].items())[1:]):
        print(f"speed-up {b} vs {a} threads, measured side by side: {sb['samples_per_s'] / sa['samples_per_s']:.2f}x "
              f"(total time), {sa['median_step_s'] / sb['median_step_s']:.2f}x (median step)")  # fmt: skip


def main() -> None:
    args = parse_args()
    from glossfree.training.tasks import load_recipe

    recipe = load_recipe(RECIPE, [f"seed={args.seed}"])
    batch_size = args.batch_size or recipe.stages[0].batch_size
    with tempfile.TemporaryDirectory(prefix="glossfree-bench-train-") as tmp:
        root = Path(tmp) / "data"
        corpus = make_corpus(root, samples=args.samples, seed=args.seed)
        records, batches, data_path = load_batches(recipe, root, batch_size=batch_size, seed=args.seed)
        stage, model, optimizer = build(recipe, records, Path(tmp) / "tokenizer", seed=args.seed)
        with CpuMeter() as meter:
            timings = measure(stage, model, optimizer, batches, threads=args.threads, steps=args.steps,
                              warmup=args.warmup, rounds=args.rounds)  # fmt: skip
    lengths = [int(b.lengths.sum()) for b in batches]
    res = {
        "benchmark": "train",
        "machine": machine(),
        "recipe": RECIPE,
        "stage": stage.name,
        "batch_size": batch_size,
        "settings": {"samples": args.samples, "steps": args.steps, "warmup": args.warmup,
                     "rounds": args.rounds, "seed": args.seed},  # fmt: skip
        "corpus": {"train_samples": len(records), "batches": len(batches),
                   "mean_frames": sum(lengths) / sum(len(b) for b in batches), **corpus},  # fmt: skip
        "parameters": {"trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
                       "total": sum(p.numel() for p in model.parameters())},  # fmt: skip
        "data_path": data_path,
        "threads": {str(count): summarise(t) for count, t in timings.items()},
        "cpu": meter.result(),
    }
    counts = [str(t) for t in args.threads]
    if len(counts) >= 2:
        first, last = res["threads"][counts[0]], res["threads"][counts[-1]]
        res["speedup"] = last["samples_per_s"] / first["samples_per_s"]
        res["speedup_median_step"] = first["median_step_s"] / last["median_step_s"]
    report(res)
    if args.json is not None:
        write_json(args.json, res)


if __name__ == "__main__":
    main()
