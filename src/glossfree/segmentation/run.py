"""``glossfree segment DATA``: write a dataset's ``segments.jsonl`` with a segmenter.

Each record's pose file (or the span ``start``/``end`` of it) is segmented; the spans are written
as frame indices of the whole file at its frame rate, one line per record,
``{"id", "fps", "num_frames", "segmenter", "signs": [{"start", "end"}]}``: the format
``glossfree synth`` writes and the ``segments`` input reads (:func:`glossfree.data.inputs.read_segments`).
The file is written atomically once every record is done. With ``truth`` (another segments file,
e.g. the synthetic signer's true boundaries) the boundary F1 is computed as well.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from glossfree.data.inputs import read_segments, segment_frames
from glossfree.data.manifest import Record, read_manifest, resolve
from glossfree.data.pose_io import frame_span, read_pose, read_pose_info
from glossfree.errors import DataError
from glossfree.io import atomic_write_text, check_output_file
from glossfree.segmentation.base import Clip, Segmenter, check_spans
from glossfree.segmentation.metrics import BoundaryScore, boundary_f1

SPLIT_FILES = ("train.jsonl", "dev.jsonl", "test.jsonl")


@dataclass(frozen=True)
class SegmentSummary:
    """What :func:`segment_dataset` did: clips, frames and segments, and the boundary score
    against ``truth`` (``None`` without one)."""

    out: Path
    clips: int
    frames: int
    segments: int
    score: BoundaryScore | None

    @property
    def tokens_per_frame(self) -> float:
        return self.segments / self.frames if self.frames else 0.0


def dataset_records(root: Path) -> list[Record]:
    """Every record of ``root``: ``manifest.jsonl``, else the ``{train,dev,test}.jsonl`` found."""
    if (root / "manifest.jsonl").is_file():
        return read_manifest(root / "manifest.jsonl")
    found = [root / name for name in SPLIT_FILES if (root / name).is_file()]
    if not found:
        raise DataError(f"{root}: no manifest.jsonl nor {', '.join(SPLIT_FILES)}")
    return [record for path in found for record in read_manifest(path)]


def record_clip(root: Path, record: Record) -> Clip:
    """The record's clip: its pose (the span's frames when it has ``start``/``end``) and where the
    span starts in the file."""
    path = resolve(root, record).pose
    if path is None:
        raise DataError(f"record '{record.id}' has no pose file; `glossfree segment` reads poses "
                        "(run `glossfree poses` on its video first)")  # fmt: skip
    info = read_pose_info(path)
    first = 0
    if record.start is not None or record.end is not None:
        first, _ = frame_span(record.start, record.end, info.fps, info.num_frames)
    pose = read_pose(path, start=record.start, end=record.end)
    return Clip(id=record.id, num_frames=int(pose.body.data.shape[0]), fps=info.fps, pose=pose, first_frame=first)


def segments_line(clip: Clip, spans: np.ndarray, segmenter: str, file_frames: int) -> str:
    """One ``segments.jsonl`` line: ``spans`` (clip frames) as frame indices of the file."""
    signs = [{"start": int(a) + clip.first_frame, "end": int(b) + clip.first_frame} for a, b in spans]
    return json.dumps({"id": clip.id, "fps": clip.fps, "num_frames": file_frames, "segmenter": segmenter, "signs": signs})


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[], None]]:
    if not enabled:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("segment"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()) as bar:
        task = bar.add_task("records", total=total)
        yield lambda: bar.advance(task)


def segment_dataset(root: str | Path, segmenter: Segmenter, *, name: str, out: str | Path | None = None,
                    truth: str | Path | None = None, tolerance: int = 2, progress: bool = True) -> SegmentSummary:  # fmt: skip
    """Segment every record of the dataset at ``root`` and write ``out`` (default ``<root>/segments.jsonl``).

    Args:
        root: dataset root (``manifest.jsonl`` or split files; records need pose files).
        segmenter: any :class:`~glossfree.segmentation.base.Segmenter`; ``name`` is written with its spans.
        out: the segments file to write (its folder must be writable; checked before any work).
        truth: a segments file with the true spans of the same records: boundary F1 within
            ``tolerance`` frames is computed (records it lacks are an error).
        progress: show a progress bar.
    """
    root = Path(root)
    out = check_output_file(Path(out) if out is not None else root / "segments.jsonl", what="segments file")
    true_seconds = read_segments(truth) if truth is not None else None
    records = dataset_records(root)
    lines, pairs, frames, count = [], [], 0, 0
    with _progress(progress, len(records)) as advance:
        for record in records:
            clip = record_clip(root, record)
            try:
                spans = check_spans(segmenter.segment(clip), clip.num_frames, source=f"{name} on '{record.id}'")
            except ValueError as error:
                raise DataError(str(error)) from None
            file_frames = read_pose_info(resolve(root, record).pose).num_frames if clip.first_frame or record.end else clip.num_frames
            lines.append(segments_line(clip, spans, name, file_frames))
            if true_seconds is not None:
                if record.id not in true_seconds:
                    raise DataError(f"{truth}: no true spans for record '{record.id}'")
                offset = clip.first_frame / clip.fps
                pairs.append((spans, segment_frames(true_seconds[record.id], offset=offset, fps=clip.fps, num_frames=clip.num_frames)))
            frames, count = frames + clip.num_frames, count + len(spans)
            advance()
    atomic_write_text(out, "".join(line + "\n" for line in lines))
    score = boundary_f1(pairs, tolerance) if true_seconds is not None else None
    return SegmentSummary(out=out, clips=len(records), frames=frames, segments=count, score=score)
