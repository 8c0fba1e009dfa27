"""Does the SSA model read where the signing is? A bare multitask loop that measures it.

Trains an SSA recipe's model (``data.ssa``) on a broadcast set with mixed batches (``--ssa-fraction``
of each batch are SSA samples), with the last stage's optimiser, objectives and clipping, and every
``--every`` steps scores the held-out SSA windows of ``--eval`` (another broadcast set; all its
streams) teacher-forced:

- ``l1``: the mean error in frames of the soft-decoded start and end (``ssa_soft_digits``'s
  ``frame_l1``) with the real windows;
- ``l1_swapped``: the same with each window's poses swapped for another window's (the prompts and
  targets stay). An aligner that reads the signing does clearly worse on swapped windows; one
  that answers the average lag does the same on both;
- ``const``: the error of the best constant answer (the median training start and end), the floor
  a model that ignores its input reaches at best.

The loop behind docs/alignment.md's "Why the aligner answered a constant" table: one variant per
process (``--set``), two side by side with one thread each, compared at equal steps.

    .venv/bin/python benchmarks/bench_ssa_loop.py --data bc40 --eval bc_test --recipe pose_perceiver/ssa_tiny \\
        --steps 1500 [--ssa-fraction 0.5] [--set model.compressor.position_init=sinusoidal ...] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="training broadcast set (generate_broadcast)")
    parser.add_argument("--eval", type=Path, required=True, help="held-out broadcast set (another seed)")
    parser.add_argument("--recipe", default="pose_perceiver/ssa_tiny")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override (repeatable)")
    parser.add_argument("--steps", type=int, default=1500, help="optimiser steps (the schedule's length)")
    parser.add_argument("--ssa-fraction", type=float, default=0.5, help="SSA share of each training batch")
    parser.add_argument("--every", type=int, default=100, help="score every N steps")
    parser.add_argument("--eval-windows", type=int, default=96, help="held-out SSA windows scored")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


def swap_visual(batch):
    """``batch`` with each sample's poses replaced by the next sample's (prompts and targets kept)."""
    import dataclasses

    order = torch.roll(torch.arange(len(batch)), 1)
    swapped = {
        name: getattr(batch, name)[order]
        for name in ("keypoints", "keypoint_mask", "frame_mask", "lengths")
        if getattr(batch, name) is not None
    }
    masks = {name: mask[order] for name, mask in batch.masks.items()}
    return dataclasses.replace(batch, masks=masks, **swapped)


def frame_l1(model, batches) -> tuple[float, float]:
    """Mean teacher-forced expected-frame error (frames) with the real and with swapped windows."""
    objectives = {"lm_ce": 1.0, "ssa_soft_digits": 1.0}
    model.eval()
    real = swapped = count = 0.0
    with torch.no_grad():
        for batch in batches:
            size = len(batch)
            real += model(batch, objectives=objectives).metrics["ssa_soft_digits_frame_l1"].item() * size
            swapped += model(swap_visual(batch), objectives=objectives).metrics["ssa_soft_digits_frame_l1"].item() * size
            count += size
    model.train()
    return real / count, swapped / count


def constant_l1(train_records, eval_records) -> float:
    """Error (frames) of always answering the median training start and end."""
    from glossfree.text.prompts import parse_ssa_target

    spans = torch.tensor([parse_ssa_target(r.text) for r in train_records], dtype=torch.float32)
    median = spans.median(dim=0).values
    truth = torch.tensor([parse_ssa_target(r.text) for r in eval_records], dtype=torch.float32)
    return float((truth - median).abs().mean())


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    from torch.utils.data import DataLoader

    from glossfree.data.multitask import (
        MixedTaskBatchSampler,
        MultitaskDataset,
        collate_multitask,
        record_task,
        tokenizer_texts,
    )
    from glossfree.training.engine import prepare_tokenizer
    from glossfree.training.tasks.translation import build_model
    from glossfree.training.tasks.multitask import MultitaskDataModule
    from glossfree.training.optim import build_optimizer, build_scheduler
    from glossfree.training.tasks import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    if recipe.data.ssa is None:
        raise SystemExit(f"{args.recipe} has no data.ssa section: not an SSA recipe")
    stage = recipe.stages[-1]
    torch.manual_seed(recipe.seed)
    every_stream = recipe.data.ssa.model_copy(update={"dev_streams": 0})  # all streams of both sets
    train_records, _ = every_stream.records(args.data, "train")
    eval_records, _ = every_stream.records(args.eval, "train")
    eval_records = [r for r in eval_records if record_task(r) == "ssa"][: args.eval_windows]
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = prepare_tokenizer(recipe.tokenizer, tokenizer_texts(train_records), Path(tmp) / "tokenizer",
                                      lm=recipe.model.lm, split_digits=True)  # fmt: skip
        model = build_model(recipe, tokenizer)
    if "ssa_soft_digits" not in model.objectives:
        raise SystemExit("the recipe's model has no ssa_soft_digits objective")
    common = dict(layout=recipe.model.layout, model=recipe.model, batch_size=stage.batch_size, eval_batch_size=32,
                  seed=recipe.seed)  # fmt: skip
    train_module = MultitaskDataModule(recipe.data, args.data, ssa_fraction=args.ssa_fraction, train_records=train_records,
                                       **common)  # fmt: skip
    train = train_module.train_dataset()
    sampler = MixedTaskBatchSampler(train.tasks, train.lengths, batch_size=stage.batch_size,
                                    ssa_fraction=args.ssa_fraction, shuffle=True, seed=recipe.seed, tag_epoch=True)  # fmt: skip
    loader = DataLoader(train, batch_sampler=sampler, collate_fn=collate_multitask)
    eval_module = MultitaskDataModule(recipe.data, args.eval, ssa_fraction=0.0, **common)
    held_out = MultitaskDataset(eval_module.pose_dataset(eval_records, train=False, use_span=True), sample_prior=False)
    eval_sampler = MixedTaskBatchSampler(held_out.tasks, held_out.lengths, batch_size=32, ssa_fraction=0.0,
                                         shuffle=False)  # fmt: skip
    eval_batches = list(DataLoader(held_out, batch_sampler=eval_sampler, collate_fn=collate_multitask))
    const = constant_l1([r for r in train_records if record_task(r) == "ssa"], eval_records)

    objectives = dict(stage.objective_weights)
    objectives.setdefault("ssa_soft_digits", 1.0)
    optimizer = build_optimizer(model.named_parameters(), stage.optimizer)
    scheduler = build_scheduler(optimizer, args.steps, stage.schedule)
    print(f"{args.recipe} {' '.join(args.overrides)}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params, "
          f"{args.steps} steps, SSA share {args.ssa_fraction}, {len(eval_records)} held-out windows, "
          f"constant answer l1 {const:.1f} frames", flush=True)  # fmt: skip
    step, epoch, started = 0, 0, time.perf_counter()
    while step < args.steps:
        sampler.set_epoch(epoch)
        for batch in loader:
            output = model(batch, objectives=objectives)
            optimizer.zero_grad()
            output.loss.backward()
            if stage.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), stage.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            if step % args.every == 0 or step == args.steps:
                real, swapped = frame_l1(model, eval_batches)
                print(f"step {step} loss {output.loss.item():.3f} l1 {real:.1f} l1_swapped {swapped:.1f} "
                      f"gap {swapped - real:.1f} const {const:.1f} t={time.perf_counter() - started:.0f}s", flush=True)  # fmt: skip
            if step >= args.steps:
                break
        epoch += 1


if __name__ == "__main__":
    main()
