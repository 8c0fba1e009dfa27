"""Training-step time of two recipes side by side (default: pose_perceiver/mid vs the pose_conv/mid baseline).

Builds both models exactly as ``glossfree train`` does (same tokenizer, first stage's optimiser and
clipping), then times full optimiser steps (forward, backward, clip, step) on the *same* batches,
alternating A, B, A, B, ... so that load from other processes hits both alike; the ratio of the
medians is the figure to read. Batches come from a dataset (``--data``, the recipes' own data
settings, length-bucketed) or, without one, are random PHOENIX-like keypoint batches (lengths drawn
around 58 frames at 12.5 fps, 10 % of points undetected). Also prints parameter counts.

    .venv/bin/python benchmarks/bench_step_ratio.py [--data ROOT] [--a pose_perceiver/mid]
        [--b pose_conv/mid] [--set-a KEY=VALUE ...] [--steps 8] [--threads 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from _util import machine, machine_line, write_json

GERMAN = [
    "und nun die wettervorhersage für morgen donnerstag den zwölften august",
    "mancherorts regnet es auch länger und ergiebig auch lokale überschwemmungen sind wieder möglich",
    "im nordwesten bleibt es heute nacht meist trocken",
    "am tag sonne und wolken im wechsel an den küsten frische böen",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", default="pose_perceiver/mid")
    parser.add_argument("--b", default="pose_conv/mid")
    parser.add_argument("--set-a", dest="overrides_a", action="append", default=[], help="override for recipe A (repeatable)")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per recipe (after one warm-up step)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def random_batches(count: int, batch_size: int, seed: int = 0):
    from glossfree.data.datasets import collate_pose

    g = torch.Generator().manual_seed(seed)
    batches = []
    for b in range(count):
        items = []
        for i in range(batch_size):
            frames = int(torch.randint(40, 76, (1,), generator=g))
            items.append({
                "id": f"{b}-{i}", "keypoints": torch.randn(frames, 203, 3, generator=g) * 0.3,
                "keypoint_mask": torch.rand(frames, 203, generator=g) > 0.1,
                "text": GERMAN[(b + i) % len(GERMAN)], "language": "de",
            })  # fmt: skip
        batches.append(collate_pose(items))
    return batches


def data_batches(recipe, root: Path, count: int, batch_size: int):
    from glossfree.data.datasets import collate_pose
    from glossfree.training.datamodule import PoseDataModule

    module = PoseDataModule(recipe.data, root, layout=recipe.model.layout, batch_size=batch_size,
                            eval_batch_size=batch_size, seed=0)  # fmt: skip
    dataset = module.train_dataset()
    order = sorted(range(len(dataset)), key=lambda i: dataset.lengths[i])
    middle = len(order) // 2 - count * batch_size // 2  # PHOENIX-typical lengths
    return [collate_pose([dataset[i] for i in order[middle + k * batch_size : middle + (k + 1) * batch_size]])
            for k in range(count)]  # fmt: skip


def build(name: str, tokenizer, overrides: list[str]):
    from glossfree.training.tasks.translation import build_model
    from glossfree.training.optim import build_optimizer
    from glossfree.training.tasks import load_recipe

    recipe = load_recipe(name, overrides)
    torch.manual_seed(0)
    model = build_model(recipe, tokenizer)
    model.train()
    stage = recipe.stages[0]
    return recipe, model, build_optimizer(model.named_parameters(), stage.optimizer), stage.grad_clip


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    from glossfree.data.manifest import load_split
    from glossfree.text.tokenizers import train_tokenizer
    from glossfree.training.tasks import load_recipe

    recipe_a = load_recipe(args.a, args.overrides_a)
    texts = [r.text for r in load_split(args.data, "train")] if args.data else GERMAN * 50
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = train_tokenizer(texts, Path(tmp) / "tok", vocab_size=recipe_a.tokenizer.vocab_size if args.data else 200)
    if args.a == args.b:
        raise SystemExit("--a and --b name the same recipe; compare two recipes (use --set-a for a variant of A)")
    systems = {args.a: build(args.a, tokenizer, args.overrides_a), args.b: build(args.b, tokenizer, [])}
    batch_size = recipe_a.stages[0].batch_size
    batches = data_batches(recipe_a, args.data, args.steps + 1, batch_size) if args.data else random_batches(args.steps + 1, batch_size)
    times: dict[str, list[float]] = {name: [] for name in systems}
    for step, batch in enumerate(batches):
        for name, (_, model, optimizer, clip) in systems.items():
            started = time.perf_counter()
            loss = model(batch).loss
            optimizer.zero_grad()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            if step:  # the first step warms up allocators and kernels
                times[name].append(time.perf_counter() - started)
    print(machine_line(machine()))
    if args.overrides_a:
        print(f"{args.a} with: {' '.join(args.overrides_a)}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, (_, model, _, _) in systems.items():
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {params / 1e6:.2f} M params, median step {medians[name]:.3f} s over {len(times[name])} steps "
              f"(batch {batch_size}, {'data ' + str(args.data) if args.data else 'random PHOENIX-like batches'})")  # fmt: skip
    ratio = medians[args.a] / medians[args.b]
    print(f"step time {args.a} / {args.b} = {ratio:.2f}x  (goal <= 1.5x)")
    if args.json:
        write_json(args.json, {"machine": machine(), "median_step_s": medians, "ratio": ratio})


if __name__ == "__main__":
    main()
