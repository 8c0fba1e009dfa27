"""``glossfree demo``: the whole pipeline on a laptop in minutes.

1. synthesise a small parallel corpus with the synthetic signer (poses + German sentences);
2. train the tiny pose recipe (paper 004's SLT path: pose backbone → Sliding Perceiver → T5);
3. evaluate on the held-out test split with beam search (BLEU-1..4, ROUGE-L, chrF), next to two
   baselines measured on the same split: the most frequent training sentence, and the same model
   fed another sample's poses;
4. translate one test sample through the same code path as ``glossfree translate``.

Re-running resumes an interrupted demo (corpus and finished stages are reused); ``--fresh`` restarts.
"""

from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from glossfree.inference.loading import load_trained
from glossfree.data.manifest import load_split
from glossfree.data.synth import SynthConfig, generate_corpus
from glossfree.evaluation import Scores
from glossfree.inference.evaluate import (
    evaluate_split,
    most_frequent_sentence_baseline,
    shuffled_input_baseline,
)
from glossfree.inference.translator import Translator
from glossfree.io import atomic_write_json
from glossfree.training.engine import LaunchConfig, train
from glossfree.training.tasks import load_recipe

DEMO_RECIPE = "pose_perceiver/tiny"


@dataclass
class DemoResult:
    scores: Scores
    most_frequent: Scores
    shuffled: Scores
    timings_s: dict[str, float] = field(default_factory=dict)
    translation: str = ""


def demo_synth_config(seed: int) -> SynthConfig:
    """The demo corpus: small enough to train in a few minutes on 2 cores.

    12.5 fps halves the frames of every step (a sign still spans ~5 frames, more than the Sliding
    Perceiver's stride); contour faces write only the 128 face points pose203 reads. The smallest
    lexicon, four signers and clean hand detections let a from-scratch model find the signs within
    a few hundred steps: gloss-free training gets only the sentence as supervision.
    """
    return SynthConfig(
        seed=seed,
        num_train=1200,
        num_dev=100,
        num_test=150,
        fps=12.5,
        face_points="contours",
        text_style="lower",
        lexicon_size=24,
        num_signers=4,
        hand_drop_rate=0.0,
    )


def _scores_table(rows: list[tuple[str, Scores]]) -> Table:
    table = Table(title="test split (generated with beam search)")
    table.add_column("system")
    for name in ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "chrF"):
        table.add_column(name, justify="right")
    for name, s in rows:
        table.add_row(name, *(f"{v:.2f}" for v in (s.bleu1, s.bleu2, s.bleu3, s.bleu4, s.rouge_l, s.chrf)))
    return table


def _examples_table(ids: list[str], hyps: list[str], refs: list[str], count: int = 8) -> Table:
    table = Table(title=f"example translations ({count} of {len(ids)})", show_lines=True)
    table.add_column("id", style="dim")
    table.add_column("reference")
    table.add_column("hypothesis")
    for sample_id, ref, hyp in list(zip(ids, refs, hyps))[:count]:
        table.add_row(sample_id, ref, hyp if hyp == ref else f"[yellow]{hyp}[/]")
    return table


def _quiet_lightning() -> None:
    """The demo prints its own story: drop Lightning's start-up banner and tips, keep its warnings."""
    import logging

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*treespec.*LeafSpec.*")


def run_demo(
    out: str | Path = "demo_run",
    *,
    seed: int = 0,
    fresh: bool = False,
    synth: SynthConfig | None = None,
    recipe_overrides: list[str] | None = None,
    console: Console | None = None,
    progress: bool = True,
) -> DemoResult:
    console = console or Console()
    _quiet_lightning()
    out = Path(out)
    if fresh and out.exists():
        shutil.rmtree(out)
    data_dir, run_dir = out / "data", out / "run"
    timings: dict[str, float] = {}

    start = time.perf_counter()
    if not (data_dir / "manifest.jsonl").is_file():
        console.rule("1/4 synthesising a corpus")
        summary = generate_corpus(data_dir, synth or demo_synth_config(seed), progress=progress)
        splits = ", ".join(f"{split} {count}" for split, count in summary.samples.items())
        console.print(
            f"{splits} samples; {summary.sign_vocabulary} signs, {summary.word_vocabulary} words, "
            f"{summary.mean_frames:.0f} frames per sample on average; {summary.seconds:.1f}s -> {data_dir}"
        )
    else:
        console.print(f"reusing the synthetic corpus in {data_dir}")
    timings["synth"] = time.perf_counter() - start

    console.rule("2/4 training the tiny pose recipe (paper 004 SLT path)")
    start = time.perf_counter()
    recipe = load_recipe(DEMO_RECIPE, [f"seed={seed}", *(recipe_overrides or [])])
    resume = (run_dir / "recipe.yaml").is_file()  # an earlier demo started this run: continue it
    result = train(recipe, data_root=data_dir, run_dir=run_dir, resume=resume, launch=LaunchConfig(accelerator="cpu", progress=progress))
    timings["train"] = time.perf_counter() - start

    console.rule("3/4 evaluating on the test split")
    start = time.perf_counter()
    trained = load_trained(result.model_dir)
    evaluation = trained.recipe.evaluation
    test = evaluate_split(trained, data_dir, "test", out_dir=out / "eval_test", progress=progress)
    train_records = load_split(data_dir, recipe.data.train_split)
    test_records = load_split(data_dir, "test")
    frequent = most_frequent_sentence_baseline(train_records, test_records, preset=evaluation.preset)
    shuffled = shuffled_input_baseline(trained, test_records, data_dir, seed=seed, preset=evaluation.preset)
    timings["evaluate"] = time.perf_counter() - start
    console.print(_scores_table([
        ("glossfree tiny pose recipe", test.scores),
        ("baseline: most frequent training sentence", frequent.scores),
        ("baseline: same model, another sample's poses", shuffled.scores),
    ]))
    console.print(_examples_table(test.ids, test.hypotheses, test.references))

    console.rule("4/4 glossfree translate")
    start = time.perf_counter()
    sample = test_records[0]
    pose_path = data_dir / str(sample.pose)
    translation = Translator(trained).translate(pose_path)
    timings["translate"] = time.perf_counter() - start
    console.print(f"$ glossfree translate {pose_path} --model {run_dir}")
    console.print(f"[bold]{translation.text}[/]")
    console.print(f"reference: {sample.text}")
    console.print(
        "timings: " + ", ".join(f"{k} {v:.3f}s" for k, v in translation.timings_s.items())
        + f"; real-time factor {translation.real_time_factor:.3f}"
    )

    demo = DemoResult(test.scores, frequent.scores, shuffled.scores, timings, translation.text)
    atomic_write_json(out / "demo_results.json", {
        "test": test.scores.as_dict(),
        "baseline_most_frequent": frequent.scores.as_dict(),
        "baseline_shuffled_inputs": shuffled.scores.as_dict(),
        "timings_s": timings,
        "translation": translation.as_dict(),
    })
    console.print(f"demo finished in {sum(timings.values()):.0f}s; reports in {out}")
    return demo
