"""Does the visual side reach the language model? A bare training loop that logs it, part by part.

Trains a recipe's model with its first stage's optimiser, schedule and clipping on a benchmark
(length-bucketed batches, no validation generation, no checkpoints), and every ``--every`` steps
prints:

- the training loss;
- the dev loss (``--dev-batches`` batches of 32) with the real visual tokens and with each sample's
  tokens swapped for the next sample's, and their difference, the *input-reliance gap* (~0 = the
  LM ignores its input);
- the gradient norm reaching each part (frontend, compressor, mapper, token norm, LM), before clipping.

It is the loop behind docs/benchmarks.md §6's diagnosis and part-by-part tables: run one recipe
variant per process (``--set``), two side by side with one thread each, and compare rows at equal
steps. ``--stop`` ends the run early while the schedule keeps its full length (``--steps``), so
variants stopped at step 550 share the schedule of a 1,332-step run.

    .venv/bin/python benchmarks/bench_reliance_loop.py --data data/p14t_synth --recipe pose_perceiver/mid \\
        --steps 1332 --stop 550 [--set 'model.frontend.agcn_multipliers=[2]' ...] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch

PARTS = ("frontend", "compressor", "mapper", "token_norm", "lm")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="benchmark root (glossfree synth --from-phoenix)")
    parser.add_argument("--recipe", default="pose_perceiver/mid")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override (repeatable)")
    parser.add_argument("--steps", type=int, default=1332, help="schedule length in optimiser steps")
    parser.add_argument("--stop", type=int, default=None, help="stop after this many steps (default: --steps)")
    parser.add_argument("--every", type=int, default=50, help="log every N steps")
    parser.add_argument("--dev-batches", type=int, default=6, help="dev batches of 32 for the two dev losses")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


def dev_losses(model, batches) -> tuple[float, float]:
    """Mean dev loss per sample with the real visual tokens and with each sample's swapped for the next one's."""
    model.eval()
    real = swapped = count = 0.0
    with torch.no_grad():
        for batch in batches:
            tokens, mask = model.encode(batch)
            loss, _ = model.lm(tokens, mask, batch.texts)
            shift = torch.roll(torch.arange(len(batch.texts)), 1)
            loss_swapped, _ = model.lm(tokens[shift], mask[shift], batch.texts)
            real += loss.item() * len(batch.texts)
            swapped += loss_swapped.item() * len(batch.texts)
            count += len(batch.texts)
    model.train()
    return real / count, swapped / count


def grad_norms(model) -> dict[str, float]:
    norms = {}
    for name in PARTS:
        squares = [p.grad.norm() ** 2 for p in getattr(model, name).parameters() if p.grad is not None]
        norms[name] = math.sqrt(sum(squares)) if squares else 0.0
    return norms


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    from torch.utils.data import DataLoader

    from glossfree.data.datasets import LengthBucketBatchSampler, collate_pose
    from glossfree.data.manifest import load_split
    from glossfree.training.datamodule import PoseDataModule
    from glossfree.training.engine import prepare_tokenizer
    from glossfree.training.tasks.translation import build_model
    from glossfree.training.optim import build_optimizer, build_scheduler
    from glossfree.training.tasks import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    stage = recipe.stages[0]
    torch.manual_seed(recipe.seed)
    texts = [record.text for record in load_split(args.data, "train")]
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = prepare_tokenizer(recipe.tokenizer, texts, Path(tmp) / "tokenizer")
        model = build_model(recipe, tokenizer)
    module = PoseDataModule(recipe.data, args.data, layout=recipe.model.layout, batch_size=stage.batch_size,
                            eval_batch_size=32, seed=recipe.seed)  # fmt: skip
    train = module.train_dataset()
    sampler = LengthBucketBatchSampler(train.lengths, batch_size=stage.batch_size, shuffle=True, seed=recipe.seed)
    loader = DataLoader(train, batch_sampler=sampler, collate_fn=collate_pose)
    dev = module.dev_dataset()
    dev_loader = DataLoader(dev, batch_sampler=LengthBucketBatchSampler(dev.lengths, batch_size=32, shuffle=False),
                            collate_fn=collate_pose)  # fmt: skip
    dev_batches = [batch for _, batch in zip(range(args.dev_batches), dev_loader, strict=False)]
    optimizer = build_optimizer(model.named_parameters(), stage.optimizer)
    scheduler = build_scheduler(optimizer, args.steps, stage.schedule)
    stop = min(args.stop or args.steps, args.steps)
    print(f"{args.recipe} {' '.join(args.overrides)}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params, "
          f"schedule {args.steps} steps, stopping at {stop}", flush=True)  # fmt: skip
    step, epoch, started = 0, 0, time.perf_counter()
    while step < stop:
        sampler.set_epoch(epoch)
        for batch in loader:
            loss = model(batch).loss
            optimizer.zero_grad()
            loss.backward()
            norms = grad_norms(model) if step % args.every == 0 else None
            if stage.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), stage.grad_clip)
            optimizer.step()
            scheduler.step()
            if norms is not None:
                real, swapped = dev_losses(model, dev_batches)
                print(f"step {step} loss {loss.item():.3f} dev {real:.3f} swapped {swapped:.3f} gap {swapped - real:.3f} "
                      + " ".join(f"{name}={value:.2e}" for name, value in norms.items())
                      + f" t={time.perf_counter() - started:.0f}s", flush=True)  # fmt: skip
            step += 1
            if step >= stop:
                break
        epoch += 1
    real, swapped = dev_losses(model, dev_batches)
    print(f"final step {step}: dev {real:.3f} swapped {swapped:.3f} gap {swapped - real:.3f} "
          f"t={time.perf_counter() - started:.0f}s")  # fmt: skip


if __name__ == "__main__":
    main()
