"""Does a recipe *learn*? Recipes on the PHOENIX-scale synthetic benchmark, between a floor and a ceiling.

Trains each recipe (default: the ``pose_conv`` baseline and ``pose_perceiver/mid``) for the same
number of epochs on the synthetic benchmark built from the real PHOENIX14T glosses, texts and frame
counts (``glossfree synth --from-phoenix``, see ``docs/synthetic_benchmark.md``), and prints, measured
in one run:

- per validation: optimiser step, wall time, generated dev BLEU-4, dev loss and the input-reliance gap
  (dev loss with swapped visual tokens minus the real dev loss; ~0 = the model ignores its input);
- test BLEU-4 / ROUGE-L of each recipe;
- the floor (most frequent training sentence) and the ceiling (gloss->text with the same language
  model, tokenizer and optimiser, trained for the same number of steps);
- the textbook reference (``glossfree.baselines.textbook``: a plain ``nn.Transformer`` trained as
  the SLT literature trains it) on gloss->text and on pose->text for the same number of steps,
  validated at the same steps: the ceiling against the gloss reference says whether the language
  side learns at a textbook's pace, each recipe against the pose reference whether the whole recipe
  does (issue 22; ``--no-reference`` skips both);
- the ratios the issue asks for: dev BLEU-4 of each recipe over the baseline's at equal steps, and
  at equal wall time (each recipe's curve read at the time the baseline finished).

    .venv/bin/python benchmarks/bench_learning.py --data /path/to/phoenix_synth_12.5fps [--epochs 6]
        [--recipes pose_conv/mid,pose_perceiver/mid] [--threads 1] [--out DIR] [--json FILE]

Without ``--data`` the benchmark is rendered first from ``../shared/data/phoenix14t`` (12.5 fps,
contour faces; about 3 minutes and 1.8 GB; ``--limit N`` for a quick check). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import threading
import time
from pathlib import Path

from _util import machine, machine_line, write_json

PHOENIX = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "phoenix14t"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="benchmark root (rendered if absent)")
    parser.add_argument("--phoenix", type=Path, default=PHOENIX, help="PHOENIX14T label folder")
    parser.add_argument("--limit", type=int, default=None, help="render at most N samples per split")
    parser.add_argument("--recipes", default="pose_conv/mid,pose_perceiver/mid")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--val-every", type=int, default=2, help="validate every N epochs")
    parser.add_argument("--max-dev", type=int, default=None, help="dev samples decoded per validation")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="override for every recipe")
    parser.add_argument("--no-ceiling", action="store_true", help="skip the gloss->text ceiling")
    parser.add_argument("--no-reference", action="store_true", help="skip the textbook references (gloss and pose)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default torch's; 1 on a shared machine)")
    parser.add_argument("--accelerator", default="cpu", help="cpu or gpu (GPU utilisation is then sampled and reported)")
    parser.add_argument("--precision", default=None, help="e.g. bf16-mixed on a GPU")
    parser.add_argument("--out", type=Path, default=Path("bench_runs/learning"))
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def ensure_data(args: argparse.Namespace) -> Path:
    from glossfree.data.synth import SynthConfig, generate_corpus

    root = args.data or args.out / "data"
    if (root / "manifest.jsonl").is_file():
        return root
    config = SynthConfig(source="phoenix14t", source_dir=args.phoenix, limit=args.limit, fps=12.5, face_points="contours")
    summary = generate_corpus(root, config, progress=True)
    print(f"rendered the benchmark: {summary.total} samples in {summary.seconds:.0f} s -> {root}")
    return root


def validation_curve(run_dir: Path, stage: str) -> list[dict]:
    """Per validation (from the CSV logs of every attempt): step, epoch, dev metrics."""
    rows: list[dict] = []
    for metrics in sorted((run_dir / "logs" / stage).glob("attempt-*/metrics.csv")):
        with metrics.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row.get("dev/bleu4"):
                    rows.append({key: float(value) for key, value in row.items() if value not in ("", None)})
    return rows


class GpuUtilisation:
    """Samples ``nvidia-smi``'s GPU utilisation once a second in a thread while training runs."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and shutil.which("nvidia-smi") is not None
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, check=False).stdout.split()  # fmt: skip
            if out and out[0].isdigit():
                self.samples.append(float(out[0]))

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None

    def __enter__(self) -> GpuUtilisation:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join()


def train_recipe(name: str, root: Path, args: argparse.Namespace) -> dict:
    from glossfree.inference.loading import load_trained
    from glossfree.inference.evaluate import evaluate_split
    from glossfree.training.engine import LaunchConfig, train
    from glossfree.training.tasks import load_recipe

    overrides = [f"stages.0.max_epochs={args.epochs}", f"stages.0.val_every_n_epochs={args.val_every}", *args.overrides]
    if args.max_dev:
        overrides.append(f"data.max_dev_samples={args.max_dev}")
    if args.precision:
        overrides.append(f"stages.0.precision={args.precision}")
    recipe = load_recipe(name, overrides)
    run_dir = args.out / name.replace("/", "_")
    started = time.perf_counter()
    with GpuUtilisation(enabled=args.accelerator != "cpu") as gpu:
        result = train(recipe, data_root=root, run_dir=run_dir, resume=(run_dir / "recipe.yaml").is_file(),
                       launch=LaunchConfig(accelerator=args.accelerator, progress=False))  # fmt: skip
    seconds = time.perf_counter() - started
    stage = result.stages[-1]
    curve = validation_curve(run_dir, stage["stage"])
    trained = load_trained(result.model_dir)
    test = evaluate_split(trained, root, "test", out_dir=run_dir / "eval_test").scores
    params = sum(p.numel() for p in trained.model.parameters())
    return {
        "recipe": name, "params": params, "steps": stage["steps"], "train_s": seconds,
        "s_per_step": seconds / max(stage["steps"], 1), "curve": curve,
        "test_bleu4": test.bleu4, "test_rouge_l": test.rouge_l, "run_dir": str(run_dir),
        "input_reliance": curve[-1].get("dev/input_reliance") if curve else None,
        "tokenizer": str(run_dir / "tokenizer"), "gpu_utilisation_mean": gpu.mean,
    }  # fmt: skip


def bleu_at(curve: list[dict], key: str, value: float) -> float:
    """Dev BLEU-4 of the last validation at or before ``value`` of ``key`` (``step`` or ``time_s``)."""
    best = 0.0
    for row in curve:
        if row.get(key, float("inf")) <= value + 1e-9:
            best = row["dev/bleu4"]
    return best


def bleu_near(curve: list[dict], step: float) -> float:
    """Dev BLEU-4 of the validation nearest to ``step`` (the engine validates at 221/443/..., the
    references at 222/444/...: the same epochs)."""
    return min(curve, key=lambda row: abs(row["step"] - step))["dev/bleu4"] if curve else 0.0


def _reference_row(name: str, result, steps_per_epoch: int) -> dict:
    return {"name": name, "steps": result.steps, "seconds": result.seconds, "best_step": result.best_step,
            "params": result.params, "curve": [{"step": s, "dev/bleu4": b} for s, b in result.curve],
            "dev_bleu4": result.dev.bleu4, "test_bleu4": result.test.bleu4 if result.test else None,
            "steps_per_epoch": steps_per_epoch}  # fmt: skip


def main() -> None:
    args = parse_args()
    from glossfree.threads import set_threads

    set_threads(args.threads)
    root = ensure_data(args)
    results = []
    for name in [n.strip() for n in args.recipes.split(",") if n.strip()]:
        results.append(train_recipe(name, root, args))
        print(f"trained {name}: test BLEU-4 {results[-1]['test_bleu4']:.2f}", flush=True)  # the table comes at the end
    base = results[0]
    for result in results:  # wall time of each validation, from the per-step time of the run
        for row in result["curve"]:
            row["time_s"] = row.get("step", 0) * result["s_per_step"]

    from glossfree.data.manifest import load_split
    from glossfree.inference.evaluate import most_frequent_sentence_baseline
    from glossfree.text.tokenizers import load_tokenizer
    from glossfree.training.tasks import load_recipe

    test_records = load_split(root, "test")
    preset = load_recipe(base["recipe"]).evaluation.preset
    # validations of the references and the ceiling at the recipes' validation steps
    validation_every = max(1, round(base["steps"] / args.epochs) * args.val_every)
    floor = most_frequent_sentence_baseline(load_split(root, "train"), test_records, preset=preset).scores
    ceiling = None
    if not args.no_ceiling:
        from glossfree.baselines.gloss_to_text import train_gloss_to_text

        recipe = load_recipe(base["recipe"], [f"stages.0.max_epochs={args.epochs}",
                                              f"stages.0.val_every_n_epochs={args.val_every}", *args.overrides])
        ceiling = train_gloss_to_text(recipe, load_tokenizer(base["tokenizer"]), root, steps=base["steps"],
                                      eval_every=validation_every)  # fmt: skip
    references: list[dict] = []
    if not args.no_reference:
        from glossfree.baselines.textbook import train_reference

        for source in ("gloss", "pose"):
            result = train_reference(source, root, steps=base["steps"], eval_every=validation_every,
                                     tokenizer_dir=args.out / "reference_tokenizer", preset=preset,
                                     progress=lambda line: print(line, flush=True))  # fmt: skip
            references.append(_reference_row(f"reference ({source})", result, validation_every))

    print(machine_line(machine()))
    print(f"benchmark: {root} ({len(test_records)} test samples), {args.epochs} epochs per recipe")
    for result in results:
        curve = ", ".join(
            f"step {int(r['step'])}: BLEU-4 {r['dev/bleu4']:.2f} / reliance {r.get('dev/input_reliance', float('nan')):.3f}"
            for r in result["curve"]
        )
        print(f"{result['recipe']}: {result['params'] / 1e6:.2f} M params, {result['steps']} steps, "
              f"{result['s_per_step']:.2f} s/step; dev {curve}; test BLEU-4 {result['test_bleu4']:.2f}, "
              f"ROUGE-L {result['test_rouge_l']:.2f}")  # fmt: skip
        if result["gpu_utilisation_mean"] is not None:
            print(f"  mean GPU utilisation while training: {result['gpu_utilisation_mean']:.0f} %")
        if result["input_reliance"] is not None and result["input_reliance"] < 0.05:
            print(f"  WARNING {result['recipe']}: input reliance {result['input_reliance']:.3f}: not reading its input")
    print(f"floor (most frequent training sentence): test BLEU-4 {floor.bleu4:.2f}")
    if ceiling is not None and ceiling.test is not None:
        curve = ", ".join(f"step {step}: {bleu:.2f}" for step, bleu in ceiling.curve)
        print(f"ceiling (gloss->text, {ceiling.steps} steps, {ceiling.seconds:.0f} s): dev BLEU-4 {curve}; "
              f"test BLEU-4 {ceiling.test.bleu4:.2f}")  # fmt: skip
    for ref in references:
        curve = ", ".join(f"step {int(r['step'])}: {r['dev/bleu4']:.2f}" for r in ref["curve"])
        print(f"{ref['name']}: {ref['params'] / 1e6:.2f} M params, {ref['seconds']:.0f} s; dev BLEU-4 {curve}; "
              f"test BLEU-4 {ref['test_bleu4']:.2f} (best dev step {ref['best_step']})")  # fmt: skip
    by_name = {ref["name"]: ref for ref in references}
    if ceiling is not None and "reference (gloss)" in by_name:
        ref_curve = by_name["reference (gloss)"]["curve"]
        for step, bleu in ceiling.curve:
            ref_bleu = bleu_near(ref_curve, step)
            print(f"language side: ceiling / gloss reference at step {step}: {bleu:.2f} / {ref_bleu:.2f} = "
                  f"{bleu / max(ref_bleu, 1e-9):.2f}x")  # fmt: skip
    if "reference (pose)" in by_name:
        ref_curve = by_name["reference (pose)"]["curve"]
        for result in results:
            ratios = ", ".join(
                f"step {int(r['step'])}: {r['dev/bleu4']:.2f} / {bleu_near(ref_curve, r['step']):.2f} = "
                f"{r['dev/bleu4'] / max(bleu_near(ref_curve, r['step']), 1e-9):.2f}x"
                for r in result["curve"]
            )
            print(f"{result['recipe']} / pose reference (dev BLEU-4, equal steps): {ratios}")
    base_steps, base_time = base["steps"], base["steps"] * base["s_per_step"]
    base_bleu = bleu_at(base["curve"], "step", base_steps)
    for result in results[1:]:
        at_steps = bleu_at(result["curve"], "step", base_steps)
        at_time = bleu_at(result["curve"], "time_s", base_time)
        print(f"{result['recipe']} / {base['recipe']}: dev BLEU-4 at equal steps {at_steps:.2f} / {base_bleu:.2f} "
              f"= {at_steps / max(base_bleu, 1e-9):.2f}x; at equal time ({base_time:.0f} s) {at_time:.2f} / "
              f"{base_bleu:.2f} = {at_time / max(base_bleu, 1e-9):.2f}x; step time "
              f"{result['s_per_step'] / base['s_per_step']:.2f}x")  # fmt: skip
    if args.json:
        payload = {"machine": machine(), "results": results, "floor_test_bleu4": floor.bleu4,
                   "ceiling_test_bleu4": ceiling.test.bleu4 if ceiling and ceiling.test else None,
                   "ceiling_curve": ceiling.curve if ceiling else None, "references": references}  # fmt: skip
        write_json(args.json, payload)


if __name__ == "__main__":
    main()
