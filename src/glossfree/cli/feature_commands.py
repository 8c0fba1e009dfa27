"""``glossfree extract``: frozen-extractor features into the dataset's feature cache.

Parses the arguments, calls :func:`glossfree.features.extract.extract_features`, prints the summary.
Exit codes: 0 when every record of the shard was written or already there, 1 when some records
failed (each failure listed with its file), 2 for a usage, config or data error (stale cache files
without ``--overwrite`` included), with the message and no traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from glossfree.errors import GlossfreeError

_SHOWN_FAILURES = 20


def _fail(message: object, code: int = 2) -> None:
    Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    raise typer.Exit(code=code)


def extract(
    data_root: Annotated[Path, typer.Argument(help="Dataset root (manifest.jsonl or {split}.jsonl) whose records have 'video'.")],
    config: Annotated[Path, typer.Option(help="Extractor YAML (kind: image | video_clips | lip_reader), or a built-in one by name (spamo/clip_l14_s2).")],
    name: Annotated[Optional[str], typer.Option(help="Cache folder under DATA_ROOT/features/ (default: the config file's stem).")] = None,
    num_shards: Annotated[int, typer.Option(help="Split the records over this many workers.")] = 1,
    shard_index: Annotated[int, typer.Option(help="Which worker this is, 0-based.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Frames (image) or clips (video_clips) per forward pass.")] = 32,
    device: Annotated[str, typer.Option(help="cpu or cuda (cuda:N).")] = "cpu",
    overwrite: Annotated[bool, typer.Option(help="Re-extract cached files written with a different config.")] = False,
    split: Annotated[Optional[list[str]], typer.Option(help="Only these splits (repeatable; default: all of manifest.jsonl).")] = None,
    folder_fps: Annotated[float, typer.Option(help="Frame rate of frame-folder videos.")] = 25.0,
    progress: Annotated[bool, typer.Option(help="Show a progress bar (stderr).")] = True,
) -> None:
    """Frozen image/video features of every record into DATA_ROOT/features/NAME/<id>.safetensors (sharded, resumable)."""
    from glossfree.features.config import load_extractor_config
    from glossfree.features.extract import extract_features

    cache_name = name or Path(config).stem
    try:
        extractor_config = load_extractor_config(config)
        summary = extract_features(
            data_root, extractor_config, name=cache_name, splits=split or None, num_shards=num_shards,
            shard_index=shard_index, batch_size=batch_size, device=device, overwrite=overwrite,
            progress=progress, folder_fps=folder_fps,
        )  # fmt: skip
    except GlossfreeError as error:
        _fail(error)
        return
    console = Console()
    table = Table(title=f"extract -> {summary.directory} (shard {shard_index + 1}/{num_shards})")
    for column in ("written", "already there", "failed"):
        table.add_column(column, justify="right")
    table.add_row(str(summary.written), str(summary.skipped), str(len(summary.failed)))
    console.print(table)
    if summary.replaced_stale:
        console.print(f"re-extracted {summary.replaced_stale} stale files (--overwrite)")
    for record_id in summary.replaced_invalid:
        console.print(f"[yellow]replaced an unreadable cache file:[/] {record_id}", highlight=False, soft_wrap=True)
    for record_id, reason in summary.failed[:_SHOWN_FAILURES]:
        console.print(f"[red]failed:[/] {record_id}: {reason}", highlight=False, soft_wrap=True, markup=True)
    if len(summary.failed) > _SHOWN_FAILURES:
        console.print(f"[red]... and {len(summary.failed) - _SHOWN_FAILURES} more failures[/]")
    if summary.total == 0:
        console.print("nothing to do in this shard")
    elif summary.failed:
        _fail(f"{len(summary.failed)} of {summary.total} records failed", code=1)


def register(app: typer.Typer) -> None:
    """Add ``extract`` to the ``glossfree`` app."""
    app.command("extract")(extract)
