"""The ``glossfree`` command. Each command parses its arguments, then calls one library function.

Sub-commands written beside this file (``synth_command``, ``data_commands``, ``text_commands``)
register themselves through an explicit ``register(app)`` call below: no plugin discovery.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from glossfree.cli import (
    align_command, analyze_commands, data_commands, feature_commands, segment_command, synth_command, text_commands,
)
from glossfree.cli.common import console, fail
from glossfree.errors import GlossfreeError
from glossfree.io import check_output_dir

app = typer.Typer(
    name="glossfree",
    help="Gloss-free sign language translation: synthesise, prepare, train, evaluate, translate.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


_THREADS_HELP = (
    "torch CPU threads (default: torch's, one per core). On a machine other processes also use, 1 is "
    "often several times faster (docs/benchmarks.md §12)."
)


@app.command()
def train(
    recipe: Annotated[str, typer.Argument(help="Recipe YAML path, or a built-in name such as pose_perceiver/tiny.")],
    data: Annotated[Optional[Path], typer.Option(help="Dataset root (manifest.jsonl or {split}.jsonl).")] = None,
    out: Annotated[Path, typer.Option(help="Run folder: checkpoints, logs, exported model.")] = Path("runs/latest"),
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run in --out.")] = False,
    accelerator: Annotated[str, typer.Option(help="cpu, gpu, auto (Lightning).")] = "auto",
    devices: Annotated[str, typer.Option(help="Number of devices per node, or 'auto'.")] = "1",
    num_nodes: Annotated[int, typer.Option(help="Number of nodes (torchrun/SLURM).")] = 1,
    strategy: Annotated[str, typer.Option(help="Lightning strategy: auto or ddp (FSDP is not supported yet).")] = "auto",
    override: Annotated[Optional[list[str]], typer.Option("--set", help="Override a recipe key: --set stages.0.max_epochs=3")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    threads: Annotated[Optional[int], typer.Option(min=1, help=_THREADS_HELP)] = None,
) -> None:
    """Train a recipe; the best model by generated dev BLEU-4 is exported to OUT/model."""
    from glossfree.threads import set_threads
    from glossfree.training.engine import LaunchConfig
    from glossfree.training.engine import train as run_training
    from glossfree.training.tasks import load_recipe

    try:
        set_threads(threads)
        config = load_recipe(recipe, override or [])
        launch = LaunchConfig(
            accelerator=accelerator,
            devices=int(devices) if devices.isdigit() else devices,
            num_nodes=num_nodes,
            strategy=strategy,
            progress=progress,
        )
        result = run_training(config, data_root=data, run_dir=out, resume=resume, launch=launch)
    except GlossfreeError as error:
        fail(error)
        return
    for stage in result.stages:
        skipped = stage.get("skipped_samples", {})
        note = f"; unreadable samples left out: {_counts(skipped)}" if any(skipped.values()) else ""
        monitor, best = stage.get("monitor", "dev/bleu4"), stage.get("best_score", stage["best_dev_bleu4"])
        reliance = stage.get("input_reliance")
        if reliance is not None:
            note += f"; input reliance {reliance:.3f}"
        console.print(f"stage {stage['stage']}: best {monitor} {best}{note}")
        if stage.get("not_reading_input"):
            console.print(
                f"[bold yellow]warning:[/] stage {stage['stage']}: the model is not reading its input (dev loss "
                "with another sample's input is as good as with its own); see docs/benchmarks.md",
                highlight=False,
            )
    if result.data.get("empty_text_left_out"):
        console.print(f"training records with empty text left out: {result.data['empty_text_left_out']}")
    if result.data.get("ignored_splits"):
        console.print(f"manifest records in splits the recipe does not read: {_counts(result.data['ignored_splits'])}")
    console.print(f"model exported to {result.model_dir}")


_ACCELERATOR_HELP = "cpu, gpu (= cuda) or auto (a GPU when there is one); an absent GPU is an error."
_DEVICES_HELP = "Index of the GPU to run on (default 0); inference uses one device."
_PRECISION_HELP = "32 (the weights' dtype) or bf16 (autocast on a GPU)."


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


@app.command()
def evaluate(
    model: Annotated[Optional[Path], typer.Argument(help="Run or model folder written by `glossfree train`.")] = None,
    data: Annotated[Optional[Path], typer.Option(help="Dataset root (default: the one the model was trained on).")] = None,
    split: Annotated[str, typer.Option(help="Split to score.")] = "test",
    hyp: Annotated[Optional[Path], typer.Option(help="Score a hypothesis file (one sentence per line) instead of a model.")] = None,
    ref: Annotated[Optional[Path], typer.Option(help="Reference file for --hyp.")] = None,
    preset: Annotated[Optional[str], typer.Option(help="signjoey, spamo or sacrebleu (default: the recipe's).")] = None,
    append_period: Annotated[Optional[bool], typer.Option("--append-period/--no-append-period", help="Append ' .' to both sides (signjoey annotation files).")] = None,
    num_beams: Annotated[Optional[int], typer.Option(min=1, help="Beam size (default: the recipe's).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Samples per generation batch (default: the recipe's evaluation.batch_size).")] = None,
    accelerator: Annotated[str, typer.Option(help=_ACCELERATOR_HELP)] = "auto",
    devices: Annotated[Optional[str], typer.Option(help=_DEVICES_HELP)] = None,
    precision: Annotated[str, typer.Option(help=_PRECISION_HELP)] = "32",
    out: Annotated[Optional[Path], typer.Option(help="Folder for hypotheses, references, per-sample scores and signature.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    baselines: Annotated[bool, typer.Option("--baselines", help="Also score the most frequent training sentence and the model on another sample's input.")] = False,
    threads: Annotated[Optional[int], typer.Option(min=1, help=_THREADS_HELP)] = None,
) -> None:
    """Score a trained model on a split (generated text only), or two text files."""
    from glossfree.evaluation.report import evaluate_files, format_scores_table
    from glossfree.threads import set_threads

    compared: dict = {}
    try:
        if baselines and (hyp is not None or model is None):
            raise typer.BadParameter("--baselines scores a model folder's baselines: give the model, not --hyp/--ref")
        set_threads(threads)
        if out is not None:
            check_output_dir(out, what="--out folder")
        if hyp is not None or ref is not None:
            if hyp is None or ref is None:
                raise typer.BadParameter("--hyp and --ref go together")
            scores = evaluate_files(
                hyp, ref, preset=preset or "signjoey", append_period=bool(append_period), out_dir=out
            )
        else:
            if model is None:
                raise typer.BadParameter("give a model folder, or --hyp and --ref")
            from glossfree.inference.loading import load_trained
            from glossfree.inference.device import resolve_device
            from glossfree.inference.evaluate import evaluate_split

            device = resolve_device(accelerator, devices, precision)  # before the model loads
            trained = load_trained(model, device=device.device)
            root = data or trained.recipe.data.root
            if root is None:
                raise typer.BadParameter("the model does not record its dataset: pass --data")
            scores = evaluate_split(
                trained,
                root,
                split,
                out_dir=out or Path(trained.path) / f"eval_{split}",
                preset=preset,
                append_period=append_period,
                num_beams=num_beams,
                progress=True,
                device=device,
                batch_size=batch_size,
            ).scores
            if baselines:
                from glossfree.inference.evaluate import split_baselines

                compared = {name: result.scores for name, result in split_baselines(
                    trained, root, split, preset=preset, append_period=append_period).items()}  # fmt: skip
    except GlossfreeError as error:
        fail(error)
        return
    extra = {f"baseline_{name}": value.as_dict() for name, value in compared.items()}
    if as_json:
        typer.echo(json.dumps({**scores.as_dict(), **extra}, indent=2))
    else:
        Console().print(format_scores_table(scores))
        for name, value in compared.items():
            console.print(f"baseline {name}: BLEU-4 {value.bleu4:.2f}, ROUGE-L {value.rouge_l:.2f}, chrF {value.chrf:.2f}")


@app.command()
def translate(
    inputs: Annotated[list[Path], typer.Argument(help=".pose files, videos or frame folders.")],
    model: Annotated[Path, typer.Option(help="Run or model folder written by `glossfree train`.")] = Path("demo_run/run"),
    num_beams: Annotated[Optional[int], typer.Option(min=1, help="Beam size (default: the recipe's).")] = None,
    fps: Annotated[Optional[float], typer.Option(help="Frame rate of frame-folder inputs (required for them; videos and .pose files carry theirs). Every input is resampled to the model's training rate.")] = None,
    accelerator: Annotated[str, typer.Option(help=_ACCELERATOR_HELP)] = "auto",
    devices: Annotated[Optional[str], typer.Option(help=_DEVICES_HELP)] = None,
    precision: Annotated[str, typer.Option(help=_PRECISION_HELP)] = "32",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per input on stdout.")] = False,
) -> None:
    """Translate signing to text, with a timing breakdown (decode, poses, model).

    Every input is tried; an input that cannot be translated is reported (with --json as an object
    with an "error" key) and the command exits 2 at the end.
    """
    from glossfree.inference.device import resolve_device
    from glossfree.inference.translator import Translator

    try:
        device = resolve_device(accelerator, devices, precision)
        translator = Translator.from_path(model, num_beams=num_beams, device=device)
    except GlossfreeError as error:
        fail(error)
        return
    failed = 0
    for path in inputs:
        try:
            result = translator.translate(path, fps=fps)
        except (GlossfreeError, ImportError) as error:  # ImportError: a video without MediaPipe installed
            failed += 1
            console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            if as_json:
                typer.echo(json.dumps({"input": str(path), "error": str(error)}, ensure_ascii=False))
            continue
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
        if as_json:
            typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
        else:
            typer.echo(result.text)
            timings = ", ".join(f"{k} {v:.2f}s" for k, v in result.timings_s.items())
            console.print(
                f"[dim]{path}: {result.num_frames} frames ({result.duration_s:.1f}s); {timings}; "
                f"real-time factor {result.real_time_factor:.2f}[/]"
            )
    if failed:
        if len(inputs) > 1:
            console.print(f"[bold red]error:[/] {failed} of {len(inputs)} inputs could not be translated")
        raise typer.Exit(code=2)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the synthetic corpus, the run and the reports.")] = Path("demo_run"),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic corpus and of training.")] = 0,
    fresh: Annotated[bool, typer.Option(help="Delete an earlier demo in --out first.")] = False,
) -> None:
    """Synthesise a corpus, train the tiny pose recipe, evaluate it against baselines, translate a sample."""
    from glossfree.demo import run_demo

    try:
        check_output_dir(out, what="--out folder")
        run_demo(out, seed=seed, fresh=fresh)
    except GlossfreeError as error:
        fail(error)


synth_command.register(app)
data_commands.register(app)
text_commands.register(app)
feature_commands.register(app)
align_command.register(app)
segment_command.register(app)
analyze_commands.register(app)


@app.command()
def params(
    recipe: Annotated[str, typer.Argument(help="Recipe YAML path, or a built-in name such as hfa/phoenix14t.")],
    data: Annotated[Optional[Path], typer.Option(help="Dataset root: for a recipe that trains its tokenizer.")] = None,
    override: Annotated[Optional[list[str]], typer.Option("--set", help="Override a recipe key.")] = None,
) -> None:
    """Trainable / total parameters of each stage of a recipe's full-size model (meta device, no weights)."""
    from rich.table import Table

    from glossfree.inference.params import recipe_parameters
    from glossfree.training.tasks import load_recipe

    try:
        rows, sources = recipe_parameters(load_recipe(recipe, override or []), data)
    except GlossfreeError as error:
        fail(error)
    table = Table(title=f"{recipe}: parameters per stage (HFA Tab. 3 layout)")
    for column in ("stage", "trainable", "total", "run by the stage's objectives"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for row in rows:
        table.add_row(row.stage, f"{row.trainable:,}", f"{row.total:,}", f"{row.in_use:,}")
    console.print(table)
    for part, source in sources.items():
        console.print(f"{part}: architecture from {source}")


def main() -> None:  # pragma: no cover - console entry point
    app(sys.argv[1:])


if __name__ == "__main__":  # `python -m glossfree.cli.main …` (used by torchrun)
    main()
