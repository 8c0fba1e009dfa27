"""Step time and training memory of every stage of several recipes, side by side on one machine.

Each recipe is built as ``glossfree train`` builds it (:func:`glossfree.training.engine.build_run`:
its task reads the data, trains the tokenizer into a temporary run folder, builds the model), then for every stage: the stage's
freezing (its ``train`` parts, frozen parts in eval mode), its optimiser, and the first ``--steps``
batches of its own training loader (its batch size, sampler and augmentation; loaded before timing, so
the figure is the model's, not the data path's). One step = forward with the stage's weighted
objectives, backward, gradient clipping, optimiser step, as the Lightning module does.

Reported per (recipe, stage):

- **s/step**: the median over ``--rounds`` rounds; rounds alternate over every (recipe, stage), so that
  a burst of load from other processes hits them alike. On a shared machine read the **ratio** to the
  first row (``vs first``), not the absolute time.
- **training memory** = all parameters + gradients of the trained ones + the optimiser's state (read
  from the optimiser after a step: AdamW's two moments, SGD's momentum) + the activations autograd
  saves for backward (``_memory.SavedActivations``: exact and deterministic, independent of the
  machine's load).
- **LM tokens per frame**: visual tokens the LM reads per input frame (from the stage's batches; the
  frames of the longest input stream, e.g. SpaMo's per-frame spatial stream, not its motion windows).

    python benchmarks/bench_stage_steps.py --recipe hfa/poses_mid=DATA --recipe pose_conv/mid=DATA \\
        [--recipe spamo/poses_mid=DATA ...] [--steps 3] [--rounds 3] [--threads 1] [--set KEY=VALUE] [--json FILE]

``DATA`` is what the recipe trains on (``glossfree synth``; for ``hfa/*`` with pseudo-glosses and
prototypes, for ``spamo/poses_mid`` with its extracted feature streams, for ``sage/*`` with its segments
file). ``--set`` applies to every recipe (e.g. ``--set data.fps=12.5``).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from _memory import SavedActivations, gib
from _util import machine, machine_line, median, write_json
from glossfree.training.callbacks import apply_freezing
from glossfree.training.engine import build_run
from glossfree.training.optim import build_optimizer
from glossfree.training.tasks import load_recipe


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", action="append", required=True, metavar="NAME=DATA",
                        help="a recipe and the corpus it trains on (repeat)")  # fmt: skip
    parser.add_argument("--steps", type=int, default=3, help="timed batches per stage and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds over every (recipe, stage)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override for all")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    for item in args.recipe:
        if "=" not in item:
            parser.error(f"--recipe {item!r}: expected NAME=DATA")
    return args


class StageBench:
    """One stage of one recipe, ready to step: the shared model, this stage's freezing and optimiser."""

    def __init__(self, label: str, stage: Any, model: torch.nn.Module, base_frozen: set[str], batches: list) -> None:
        self.label, self.stage, self.model, self.base_frozen, self.batches = label, stage, model, base_frozen, batches
        self.freeze()
        self.optimizer = build_optimizer(self.model.named_parameters(), stage.optimizer)

    def freeze(self) -> None:
        self.model.train()
        apply_freezing(self.model, tuple(self.stage.trainable_parts(self.model.parts())), self.base_frozen)

    def step(self, batch: Any, saved: SavedActivations | None = None) -> float:
        started = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        if saved is None:
            loss = self.model(batch, objectives=self.stage.objective_weights).loss
        else:
            with saved:
                loss = self.model(batch, objectives=self.stage.objective_weights).loss
        loss.backward()
        if self.stage.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], self.stage.grad_clip)
        self.optimizer.step()
        return time.perf_counter() - started

    def memory(self) -> dict[str, float]:
        """Bytes of the first batch's step: weights, gradients, optimiser state, saved activations."""
        saved = SavedActivations(self.model)
        self.step(self.batches[0], saved)
        params = sum(p.numel() * p.element_size() for p in self.model.parameters())
        trained = [p for p in self.model.parameters() if p.requires_grad]
        grads = sum(p.numel() * p.element_size() for p in trained)
        state = sum(t.numel() * t.element_size() for s in self.optimizer.state.values()
                    for t in s.values() if torch.is_tensor(t) and t.dim() > 0)  # fmt: skip
        activations = float(saved.bytes)
        saved.release()
        return {"parameters": float(params), "trained_parameters": float(sum(p.numel() for p in trained)),
                "gradients": float(grads), "optimizer_state": float(state), "activations": activations,
                "total": float(params + grads + state + activations)}  # fmt: skip

    def tokens_per_frame(self) -> float | None:
        """Visual tokens the LM reads per input frame, over this stage's batches (None without an LM input)."""
        tokens = frames = 0.0
        self.model.eval()
        with torch.no_grad():
            for batch in self.batches:
                visual = self.model.visual_points(batch).get("tokens")
                if visual is None:
                    return None
                tokens += float(visual.mask.sum())
                # input frames: the longest input (feature-only batches' frame_mask is their first stream)
                frames += max(float(mask.sum()) for mask in batch.masks.values())
        self.freeze()
        return tokens / frames if frames else None


def prepare(name: str, root: Path, overrides: list[str], steps: int, tmp: Path) -> list[StageBench]:
    recipe = load_recipe(name, [*overrides, "data.num_workers=0", f"data.root={root}"])  # as `train --data`
    built = build_run(recipe, root, tmp / name.replace("/", "_"))
    benches = []
    for stage in built.recipe.stages:
        loader = built.task.datamodule(built.recipe, stage, root, built.data).train_dataloader()
        batches = list(itertools.islice(loader, steps))
        benches.append(StageBench(f"{name}:{stage.name}", stage, built.model, built.base_frozen, batches))
    return benches


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    info = machine()
    print(machine_line(info))
    with tempfile.TemporaryDirectory() as tmp:
        benches = [b for item in args.recipe
                   for b in prepare(item.split("=", 1)[0], Path(item.split("=", 1)[1]), args.overrides, args.steps, Path(tmp))]  # fmt: skip
        results: dict[str, dict[str, Any]] = {}
        for bench in benches:  # the model is shared by its recipe's stages: each re-applies its freezing
            bench.freeze()
            results[bench.label] = {"memory": bench.memory(), "tokens_per_frame": bench.tokens_per_frame(),
                                    "batch_size": len(bench.batches[0]), "times": []}  # fmt: skip
        for _ in range(args.rounds):
            for bench in benches:
                bench.freeze()
                results[bench.label]["times"].extend(bench.step(batch) for batch in bench.batches)
    for result in results.values():
        result["s_per_step"] = median(result["times"])
    first = next(iter(results.values()))["s_per_step"]
    print(f"\n{'recipe:stage':<34} {'batch':>5} {'s/step':>7} {'vs first':>8} {'trained':>11} {'memory':>10} "
          f"{'activations':>12} {'tok/frame':>9}")  # fmt: skip
    for label, r in results.items():
        m, tpf = r["memory"], r["tokens_per_frame"]
        print(f"{label:<34} {r['batch_size']:>5} {r['s_per_step']:>7.3f} {r['s_per_step'] / first:>7.2f}x "
              f"{m['trained_parameters'] / 1e6:>9.2f} M {gib(m['total']) * 1024:>6.0f} MiB "
              f"{gib(m['activations']) * 1024:>8.0f} MiB {'-' if tpf is None else f'{tpf:.3f}':>9}")  # fmt: skip
    if args.json:
        write_json(args.json, {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}, "results": results})


if __name__ == "__main__":
    main()
