"""``glossfree poses`` and ``glossfree prepare``: data commands, registered by ``register(app)``.

Each command parses its arguments, calls one library function
(:func:`glossfree.data.pose_estimation.extract_poses`, :func:`glossfree.data.prepare.prepare`)
and prints its summary with rich. Exit codes of ``poses``: 0 when every input was written (or was
already there), 1 when some or all inputs failed (each failure is listed), 2 for a usage or data
error (message, no traceback).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from glossfree.errors import GlossfreeError
from glossfree.cli.common import fail
from glossfree.io import check_output_dir

_SHOWN_FAILURES = 20


def poses(
    inputs: Annotated[list[Path], typer.Argument(help="Video files, frame folders, or folders holding them.")],
    out: Annotated[Path, typer.Option(help="Folder for the <name>.pose files.")],
    num_shards: Annotated[int, typer.Option(help="Split the inputs over this many workers.")] = 1,
    shard_index: Annotated[int, typer.Option(help="Which worker this is, 0-based.")] = 0,
    overwrite: Annotated[bool, typer.Option(help="Re-estimate inputs whose .pose file exists.")] = False,
    fps: Annotated[Optional[float], typer.Option(help="Resample every input to this frame rate.")] = None,
    refine_face: Annotated[bool, typer.Option(help="Refined 478-point face mesh.")] = False,
    folder_fps: Annotated[float, typer.Option(help="Frame rate of frame folders.")] = 25.0,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """MediaPipe Holistic landmarks of videos into pose-format .pose files (sharded, resumable)."""
    from glossfree.data.pose_estimation import collect_inputs, extract_poses

    try:
        paths = collect_inputs(inputs)
        summary = extract_poses(
            paths, out, num_shards=num_shards, shard_index=shard_index, overwrite=overwrite,
            progress=progress, fps=fps, refine_face_landmarks=refine_face, folder_fps=folder_fps,
        )  # fmt: skip
    except (GlossfreeError, ImportError) as error:
        fail(error)
        return
    console = Console()
    table = Table(title=f"poses -> {out} (shard {shard_index + 1}/{num_shards})")
    for column in ("written", "already there", "failed", "no person"):
        table.add_column(column, justify="right")
    table.add_row(str(summary.done), str(summary.skipped_existing), str(len(summary.failed)),
                  str(len(summary.no_person)))  # fmt: skip
    console.print(table)
    for path in summary.no_person:
        console.print(f"[yellow]no person detected:[/] {path}", highlight=False, soft_wrap=True)
    for path, reason in summary.failed[:_SHOWN_FAILURES]:
        console.print(f"[red]failed:[/] {reason}", highlight=False, soft_wrap=True)
    if len(summary.failed) > _SHOWN_FAILURES:
        console.print(f"[red]... and {len(summary.failed) - _SHOWN_FAILURES} more failures[/]")
    if summary.total == 0:
        console.print("nothing to do in this shard")
    elif summary.failed:
        fail(f"{len(summary.failed)} of {summary.total} inputs failed", code=1)


def prepare(
    dataset: Annotated[str, typer.Argument(help="phoenix14t, how2sign, bobsl or youtube_sl_25.")],
    root: Annotated[Path, typer.Argument(help="The dataset release folder, in its official layout.")],
    out: Annotated[Path, typer.Option(help="Folder for manifest.jsonl and prepare_summary.json.")],
    split: Annotated[Optional[list[str]], typer.Option(help="Only these splits (repeatable); train/dev/test.")] = None,
    alignment: Annotated[Optional[str], typer.Option(help="bobsl: audio, audio-corrected, manual or signing.")] = None,
    subtitles_dir: Annotated[Optional[Path], typer.Option(help="bobsl: folder of {episode}.vtt to use instead.")] = None,
    sign_language: Annotated[Optional[list[str]], typer.Option(help="youtube_sl_25: keep these sign languages (ase, bfi, ...; repeatable).")] = None,
    caption_language: Annotated[Optional[list[str]], typer.Option(help="youtube_sl_25: caption languages in order of preference (default en).")] = None,
    assign_split: Annotated[Optional[str], typer.Option(help="youtube_sl_25: split written on every record (default train).")] = None,
    videos_dir: Annotated[Optional[Path], typer.Option(help="youtube_sl_25: folder of videos and captions (default ROOT/videos).")] = None,
    min_duration: Annotated[Optional[float], typer.Option(help="bobsl, youtube_sl_25: drop cues shorter than this (s).")] = None,
    max_duration: Annotated[Optional[float], typer.Option(help="bobsl, youtube_sl_25: drop cues longer than this (s).")] = None,
    max_words: Annotated[Optional[int], typer.Option(help="bobsl, youtube_sl_25: drop cues with more words.")] = None,
) -> None:
    """Convert an official dataset release into the glossfree manifest."""
    from glossfree.data.prepare import prepare as run_prepare

    given: dict[str, Any] = {
        "splits": split or None, "alignment": alignment, "subtitles_dir": subtitles_dir,
        "sign_languages": sign_language or None, "caption_languages": caption_language or None,
        "assign_split": assign_split, "videos_dir": videos_dir, "min_duration": min_duration,
        "max_duration": max_duration, "max_words": max_words,
    }  # fmt: skip
    options = {key: value for key, value in given.items() if value is not None}
    try:
        check_output_dir(out, what="--out folder")
        summary = run_prepare(dataset, root, out, **options)
    except GlossfreeError as error:
        fail(error)
        return
    console = Console()
    table = Table(title=f"{summary.dataset} -> {summary.manifest}")
    table.add_column("split")
    table.add_column("records", justify="right")
    for name, count in summary.records_per_split.items():
        table.add_row(name, str(count))
    console.print(table)
    if summary.skipped:
        skipped = Table(title="skipped")
        skipped.add_column("reason")
        skipped.add_column("count", justify="right")
        skipped.add_column("examples")
        for reason, items in sorted(summary.skipped.items()):
            skipped.add_row(reason, str(len(items)), ", ".join(items[:3]))
        console.print(skipped)


def register(app: typer.Typer) -> None:
    """Add ``poses`` and ``prepare`` to the ``glossfree`` app."""
    app.command("poses")(poses)
    app.command("prepare")(prepare)
