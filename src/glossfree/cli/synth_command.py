"""``glossfree synth OUT_DIR``: write a synthetic parallel corpus (:mod:`glossfree.data.synth`).

``glossfree synth OUT --isolated [--per-sign 20] [--per-sign-eval 4] [--signs K]`` writes isolated
sign clips (one lexicon sign each, labelled) for ISLR pre-training (``docs/islr.md``).

``glossfree synth OUT --from-phoenix DIR`` performs the PHOENIX-2014-T samples of
``DIR/{train,dev,test}.jsonl`` (texts, glosses, clip lengths, signers) instead of drawing sentences
from the grammar: the synthetic benchmark (``docs/synthetic_benchmark.md``), e.g.::

    glossfree synth /work/bench_data/phoenix_synth --from-phoenix /work/shared/data/phoenix14t \\
        --face-points contours [--fps 12.5] [--limit 200]

Settings come from ``SynthConfig`` defaults, then ``--config synth.yaml``, then the flags. The
command calls :func:`glossfree.data.synth.generate_corpus` and prints a one-line summary. Exit
codes: 0 on success, 2 for a usage, config or data error (message, no traceback).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from glossfree.errors import GlossfreeError
from glossfree.io import check_output_dir


def _fail(message: object) -> None:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the corpus (must be empty or absent).")],
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default 0).")] = None,
    num_train: Annotated[Optional[int], typer.Option(help="Training samples (default 1500).")] = None,
    num_dev: Annotated[Optional[int], typer.Option(help="Dev samples (default 150).")] = None,
    num_test: Annotated[Optional[int], typer.Option(help="Test samples (default 150).")] = None,
    language: Annotated[Optional[str], typer.Option(help="Target language: de or en (default de).")] = None,
    fps: Annotated[Optional[float], typer.Option(help="Frames per second (default 25).")] = None,
    video: Annotated[Optional[bool], typer.Option("--video/--no-video", help="Also write stick-figure .mp4 videos.")] = None,
    from_phoenix: Annotated[Optional[Path], typer.Option(
        "--from-phoenix", help="Perform the PHOENIX-2014-T samples of this folder's train/dev/test.jsonl "
        "(source: phoenix14t) instead of grammar sentences.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="With --from-phoenix: at most N samples per split (the first).")] = None,
    face_points: Annotated[Optional[str], typer.Option(
        help="full (468-point face mesh, default) or contours (the 128 points pose203 reads; 2.4x smaller files).")] = None,
    isolated: Annotated[bool, typer.Option(
        "--isolated", help="Isolated sign clips for ISLR pre-training (source: isolated): one lexicon sign per clip.")] = False,
    per_sign: Annotated[Optional[int], typer.Option(help="With --isolated: training clips per sign (default 20).")] = None,
    per_sign_eval: Annotated[Optional[int], typer.Option(help="With --isolated: dev and test clips per sign (default 4).")] = None,
    signs: Annotated[Optional[int], typer.Option(help="With --isolated: number of signs (default: the whole lexicon, 61).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML file with SynthConfig keys.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a synthetic corpus already in OUT_DIR.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Generate a seeded synthetic sign language corpus: .pose files, manifest, sign boundaries."""
    from glossfree.config import load_config, validate
    from glossfree.data.synth import SynthConfig, generate_corpus

    flags: dict[str, Any] = {
        "seed": seed, "num_train": num_train, "num_dev": num_dev, "num_test": num_test,
        "language": language, "fps": fps, "render_video": video, "limit": limit, "face_points": face_points,
    }  # fmt: skip
    if from_phoenix is not None:
        flags.update(source="phoenix14t", source_dir=str(from_phoenix))
    if isolated:
        flags.update(source="isolated", per_sign=per_sign, per_sign_eval=per_sign_eval, num_signs=signs)
    elif any(v is not None for v in (per_sign, per_sign_eval, signs)):
        _fail("--per-sign, --per-sign-eval and --signs apply to --isolated corpora only")
        return
    try:
        check_output_dir(out_dir, what="corpus folder")
        base = load_config(SynthConfig, config) if config is not None else SynthConfig()
        values = {**base.model_dump(), **{k: v for k, v in flags.items() if v is not None}}
        source = "command line" if config is None else f"{config} with command-line flags"
        settings = validate(SynthConfig, values, source=source)
        summary = generate_corpus(out_dir, settings, progress=progress, overwrite=overwrite)
    except GlossfreeError as error:
        _fail(error)
        return
    samples = ", ".join(f"{split} {count}" for split, count in summary.samples.items())
    Console().print(
        f"wrote {summary.total} samples ({samples}) to {summary.out_dir}: {summary.sign_vocabulary} signs, "
        f"{summary.word_vocabulary} words, {summary.mean_frames:.1f} frames per sample, {summary.seconds:.1f} s",
        highlight=False, soft_wrap=True,
    )  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``synth`` command to ``app``."""
    app.command("synth")(synth)
