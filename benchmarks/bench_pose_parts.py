"""Step time and activation memory of the pose recipe by part: frontend / compressor / LM.

Builds ``pose_perceiver/tiny`` scaled up to a PHOENIX-size step (:data:`SCALE_UP`: a 3+3-layer
d256 T5 built from config, a wider pose backbone and Sliding Perceiver), exactly as
``glossfree train`` builds a model (:func:`glossfree.training.engine.build_model`; tokenizer
trained on the PHOENIX14T dev sentences when ``shared/data`` has them), and feeds it a batch of
random poses at PHOENIX length (116 frames at 25 fps, the mean PHOENIX14T sample) with real target
sentences.

The step is cut at the part boundaries: each part's output is detached and fed to the next part as
a leaf, so forward and backward of frontend, compressor (+ mapper + token_norm) and LM are timed
separately; the backward runs LM -> compressor -> frontend with the incoming gradients, which is
the same arithmetic as one ``loss.backward()`` (the uncut step is timed too, as a check that the
parts add up). Memory is the activations each part saves for backward
(``_memory.SavedActivations``: exact, deterministic), counted at ``--batch`` in a forward pass.
Times are medians over ``--steps`` steps after ``--warmup`` at ``--time-batch``: a batch-32 CPU
backward needs more than 12 GB of RAM, more than the shared 23 GB machine can spare. Train mode
(dropout on), no optimiser step.

    .venv/bin/python benchmarks/bench_pose_parts.py [--batch 32] [--time-batch 8] [--frames 116]
        [--steps 3] [--warmup 1] [--set key=value ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from _memory import SavedActivations, gib, parameter_bytes
from _util import CpuMeter, cpu_line, machine, machine_line, median, write_json

RECIPE = "pose_perceiver/tiny"
# tiny.yaml's pose backbone, Sliding Perceiver and T5 scaled up (no new recipe file).
SCALE_UP = [
    "model.frontend.dim=256",
    "model.frontend.agcn_channels=16",
    "model.frontend.agcn_multipliers=[1, 2, 4]",
    "model.frontend.articulator_dim=64",
    "model.frontend.conformer={num_layers: 2, num_heads: 4, ff_mult: 4, kernel_size: 5, dropout: 0.1}",
    "model.compressor={kind: sliding_perceiver, window: 8, stride: 2, num_layers: 2, num_heads: 4, ff_mult: 4}",
    "model.lm.architecture={d_model: 256, d_ff: 1024, num_layers: 3, num_decoder_layers: 3, num_heads: 4, d_kv: 64, dropout_rate: 0.1}",
]
PHOENIX_DEV = Path(__file__).resolve().parents[1] / "shared" / "data" / "phoenix14t" / "dev.jsonl"
FALLBACK_TEXTS = [
    "und nun die wettervorhersage für morgen donnerstag den zwölften august",
    "mancherorts regnet es auch länger und ergiebig",
    "im süden und südwesten gibt es gewitter",
    "am tag sonne und wolken im wechsel",
]
PARTS = ("frontend", "compressor", "lm")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32, help="batch of the memory count")
    parser.add_argument("--time-batch", type=int, default=8, help="batch of the timed steps (default 8; 0: --batch)")
    parser.add_argument("--frames", type=int, default=116, help="frames per sample (PHOENIX14T mean at 25 fps)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra recipe override")
    parser.add_argument("--texts", type=Path, default=None, help="jsonl with a 'text' field (default: PHOENIX14T dev)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default torch's; 1 on a shared machine)")
    return parser.parse_args()


def load_texts(path: Path | None) -> list[str]:
    for candidate in [path, PHOENIX_DEV, Path("/work/shared/data/phoenix14t/dev.jsonl")]:
        if candidate is not None and candidate.is_file():
            lines = candidate.read_text(encoding="utf-8").splitlines()
            return [json.loads(line)["text"] for line in lines if line.strip()]
    return FALLBACK_TEXTS


def build(overrides: list[str], texts: list[str], tmp: Path):
    from glossfree.training.engine import prepare_tokenizer
    from glossfree.training.tasks.translation import build_model
    from glossfree.training.tasks import load_recipe

    recipe = load_recipe(RECIPE, [*SCALE_UP, *overrides])
    tokenizer = prepare_tokenizer(recipe.tokenizer, texts, tmp / "tokenizer")
    return recipe, build_model(recipe, tokenizer)


def make_batch(model, batch: int, frames: int, texts: list[str]):
    from glossfree.data.datasets import PoseBatch

    generator = torch.Generator().manual_seed(0)
    points = model.frontend.layout.num_points
    return PoseBatch(
        ids=[str(i) for i in range(batch)],
        keypoints=torch.randn(batch, frames, points, 3, generator=generator) * 0.3,
        keypoint_mask=torch.rand(batch, frames, points, generator=generator) > 0.05,
        frame_mask=torch.ones(batch, frames, dtype=torch.bool),
        lengths=torch.full((batch,), frames),
        texts=[texts[i % len(texts)] for i in range(batch)],
        languages=["de"] * batch,
    )


def saved_by_part(model, batch) -> dict[str, int]:
    """Bytes of activations each part saves for backward, from one forward pass (graph then freed)."""
    saved = {}
    frame_mask = batch.frame_mask.bool()
    with SavedActivations(model) as hook:
        frames = model.frontend(batch.keypoints, batch.keypoint_mask, frame_mask)
    saved["frontend"] = hook.bytes
    with SavedActivations(model) as hook:
        tokens, token_mask = model.compressor(frames.detach().requires_grad_(True), frame_mask)
        embeds = model.token_norm(model.mapper(tokens), token_mask) * token_mask.unsqueeze(-1).to(frames.dtype)
    saved["compressor"] = hook.bytes
    with SavedActivations(model) as hook:
        model.lm.teacher_forced(embeds.detach().requires_grad_(True), token_mask, batch.texts)
    saved["lm"] = hook.bytes
    return saved


def cut_step(model, batch) -> tuple[dict[str, float], dict[str, int], torch.Tensor]:
    """One forward + backward cut at the parts; returns seconds and saved-activation bytes per phase."""
    seconds, saved = {}, {}
    frame_mask = batch.frame_mask.bool()

    def timed(name, fn):
        start = time.perf_counter()
        out = fn()
        seconds[name] = time.perf_counter() - start
        return out

    with SavedActivations(model) as hook:
        frames = timed("frontend.forward", lambda: model.frontend(batch.keypoints, batch.keypoint_mask, frame_mask))
    saved["frontend"] = hook.bytes
    frames_in = frames.detach().requires_grad_(True)

    def compress():  # as SLTModel.visual_points: compressor, mapper, token_norm
        tokens, token_mask = model.compressor(frames_in, frame_mask)
        embeds = model.token_norm(model.mapper(tokens), token_mask)
        return embeds * token_mask.unsqueeze(-1).to(embeds.dtype), token_mask

    with SavedActivations(model) as hook:
        embeds, token_mask = timed("compressor.forward", compress)
    saved["compressor"] = hook.bytes
    embeds_in = embeds.detach().requires_grad_(True)
    with SavedActivations(model) as hook:
        loss = timed("lm.forward", lambda: model.lm.teacher_forced(embeds_in, token_mask, batch.texts).loss)
    saved["lm"] = hook.bytes
    timed("lm.backward", loss.backward)
    timed("compressor.backward", lambda: embeds.backward(embeds_in.grad))
    timed("frontend.backward", lambda: frames.backward(frames_in.grad))
    return seconds, saved, loss.detach()


def whole_step(model, batch) -> float:
    start = time.perf_counter()
    model(batch).loss.backward()
    return time.perf_counter() - start


def main() -> None:
    args = parse_args()
    from glossfree.threads import set_threads

    set_threads(args.threads)
    info = machine()
    print(machine_line(info))
    texts = load_texts(args.texts)
    with tempfile.TemporaryDirectory() as tmp:
        recipe, model = build(args.overrides, texts, Path(tmp))
    model.train()
    saved = saved_by_part(model, make_batch(model, args.batch, args.frames, texts))
    time_batch = args.time_batch or args.batch
    batch = make_batch(model, time_batch, args.frames, texts)
    with torch.no_grad():  # the cut step computes the model's loss (same parts, same order)
        model.eval()
        torch.testing.assert_close(cut_step_loss(model, batch), model(batch).loss)
        model.train()
    params = {part: parameter_bytes([getattr(model, part)]) for part in PARTS}
    params["compressor"] += parameter_bytes([model.mapper, model.token_norm])
    print(f"{RECIPE} with {' '.join(repr(o) for o in [*SCALE_UP, *args.overrides])}")
    print(
        f"memory at batch {args.batch}, times at batch {time_batch}, {args.frames} frames, "
        f"{len(texts)} target sentences; parameters: "
        + ", ".join(f"{part} {params[part] / 4 / 1e6:.2f}M" for part in PARTS)
    )
    runs, wholes = [], []
    with CpuMeter() as meter:
        for index in range(args.warmup + args.steps):
            model.zero_grad(set_to_none=True)
            seconds, _, _ = cut_step(model, batch)
            model.zero_grad(set_to_none=True)
            whole = whole_step(model, batch)
            if index >= args.warmup:
                runs.append(seconds)
                wholes.append(whole)
    phases = {name: median([run[name] for run in runs]) for name in runs[0]}
    total = sum(phases.values())
    total_saved = sum(saved.values())
    print(f"{'part':<11} {'forward s':>10} {'backward s':>11} {'share of step':>14} {'saved act. GiB @' + str(args.batch):>22} {'share':>6}")
    for part in PARTS:
        fwd, bwd = phases[f"{part}.forward"], phases[f"{part}.backward"]
        print(
            f"{part:<11} {fwd:>10.3f} {bwd:>11.3f} {100 * (fwd + bwd) / total:>13.1f}% "
            f"{gib(saved[part]):>22.3f} {100 * saved[part] / total_saved:>5.1f}%"
        )
    print(f"{'sum':<11} {sum(phases[f'{p}.forward'] for p in PARTS):>10.3f} {sum(phases[f'{p}.backward'] for p in PARTS):>11.3f} {100:>13.1f}% {gib(total_saved):>22.3f}")
    print(f"uncut step (model(batch).loss.backward()): {median(wholes):.3f} s, parts sum to {total:.3f} s (median of {args.steps})")
    print(cpu_line(meter.result()))
    if args.json:
        write_json(args.json, {
            "machine": info, "overrides": [*SCALE_UP, *args.overrides], "batch": args.batch, "time_batch": time_batch, "frames": args.frames,
            "seconds": phases, "uncut_step_s": median(wholes), "saved_bytes": saved, "parameter_bytes": params,
            "cpu": meter.result(),
        })


def cut_step_loss(model, batch) -> torch.Tensor:
    frame_mask = batch.frame_mask.bool()
    frames = model.frontend(batch.keypoints, batch.keypoint_mask, frame_mask)
    tokens, token_mask = model.compressor(frames, frame_mask)
    embeds = model.token_norm(model.mapper(tokens), token_mask) * token_mask.unsqueeze(-1).to(frames.dtype)
    return model.lm.teacher_forced(embeds, token_mask, batch.texts).loss


if __name__ == "__main__":
    main()
