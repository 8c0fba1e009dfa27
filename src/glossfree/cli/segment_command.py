"""``glossfree segment DATA``: cut every record's poses into sign segments (:mod:`glossfree.segmentation`).

Writes ``DATA/segments.jsonl`` (or ``--out``), the file the ``segments`` input of a recipe reads
(SAGE's one token per segment). ``--truth`` scores the boundaries against another segments file
(e.g. the synthetic signer's, kept under another name) within ``--tolerance`` frames::

    glossfree segment DATA --segmenter pose_motion --out DATA/segments_motion.jsonl --truth DATA/segments.jsonl
    glossfree segment DATA --segmenter file --spans hands_on.tsv --unit seconds --out DATA/segments.jsonl --overwrite
    glossfree segment DATA --segmenter fixed_stride --stride 4 --out DATA/segments_x4.jsonl
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from glossfree.cli.common import fail
from glossfree.errors import GlossfreeError


def segment(
    data: Annotated[Path, typer.Argument(help="Dataset root (manifest.jsonl or split files, records with pose files).")],
    segmenter: Annotated[str, typer.Option(help="pose_motion, file or fixed_stride.")] = "pose_motion",
    spans: Annotated[Path | None, typer.Option(help="With --segmenter file: the .jsonl, .json or .tsv spans file.")] = None,
    unit: Annotated[str, typer.Option(help="With --segmenter file (.json/.tsv): frames or seconds.")] = "frames",
    stride: Annotated[int | None, typer.Option(help="With --segmenter fixed_stride: frames per segment (default 4).")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML file with the segmenter's keys (kind and its settings).")] = None,
    out: Annotated[Path | None, typer.Option(help="Segments file to write (default DATA/segments.jsonl).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing segments file.")] = False,
    truth: Annotated[Path | None, typer.Option(help="Segments file with the true spans: report boundary F1.")] = None,
    tolerance: Annotated[int, typer.Option(help="Boundary F1 tolerance in frames.")] = 2,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Segment a dataset's poses into sign spans and write them as segments.jsonl."""
    from glossfree.config import read_yaml, validate
    from glossfree.segmentation.run import segment_dataset
    from glossfree.segmentation.segmenters import SegmentSettings, build_segmenter

    values: dict[str, Any] = read_yaml(config) if config is not None else {}
    values.setdefault("kind", segmenter)
    if spans is not None:
        values["path"] = str(spans)
    if values["kind"] == "file":
        values.setdefault("unit", unit)
    if stride is not None:
        values["length"] = stride
    try:
        settings = validate(SegmentSettings, {"segmenter": values}, source=str(config or "command line")).segmenter
        target = out if out is not None else data / "segments.jsonl"
        if target.exists() and not overwrite and (truth is None or target.resolve() != truth.resolve()):
            raise GlossfreeError(f"{target}: exists; pass --overwrite to replace it or --out for another file")
        summary = segment_dataset(data, build_segmenter(settings), name=settings.kind, out=target, truth=truth,
                                  tolerance=tolerance, progress=progress)  # fmt: skip
    except GlossfreeError as error:
        fail(error)
        return
    line = (f"wrote {summary.segments} segments of {summary.clips} records to {summary.out}: "
            f"{summary.tokens_per_frame:.3f} segments per frame")  # fmt: skip
    if summary.score is not None:
        score = summary.score
        line += f"; boundary F1 (±{tolerance}) {score.f1:.3f} (precision {score.precision:.3f}, recall {score.recall:.3f})"
    Console().print(line, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``segment`` command to ``app``."""
    app.command("segment")(segment)
