"""Shared pieces of the dataset preparers: subtitle parsing, layout checks, paths, the run summary.

Subtitles are read with :func:`glossfree.alignment.subtitles.read_subtitles` (WebVTT and SubRip,
errors naming ``file:line``); the cue text keeps its line breaks so a cleaner can work line by line,
and :func:`plain_text` flattens it.

Paths written into a manifest are relative to the output folder (the manifest's dataset root), so
a manifest written beside the release (``--out`` = the release root) holds short relative paths,
and one written elsewhere holds ``../``-style paths to the release. A record's ``pose`` is set when
``poses/<video stem>.pose`` exists in the output folder or the release root (the names
``glossfree poses`` writes). A record whose video is missing is still written when its pose exists
(pose-only corpora); otherwise it is skipped with a reason.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glossfree.alignment.subtitles import read_subtitles  # re-exported for the preparers
from glossfree.data.manifest import Record, write_manifest
from glossfree.errors import ConfigError, DataError
from glossfree.io import atomic_write_json, make_output_dir

MANIFEST_NAME = "manifest.jsonl"
SUMMARY_NAME = "prepare_summary.json"
_EXAMPLES = 10

_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


# ---------------------------------------------------------------------------------------------
# subtitles


def read_text(path: Path, what: str) -> str:
    """The text of a UTF-8 file (a leading BOM is dropped); errors name the file, line and byte."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read the {what} ({error.strerror or error})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(
            f"{path}:{line}: the {what} is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}); save it as UTF-8"
        ) from None


def plain_text(text: str) -> str:
    """Cue text as one line: markup tags removed, HTML entities decoded, whitespace collapsed."""
    return _SPACES.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()


@dataclass(frozen=True)
class CueFilter:
    """Keep cues by duration and length (paper 004 keeps 1-20 s clips of at most 80 words).

    All bounds are off by default; ``prepare`` writes everything the release has.
    """

    min_duration: float | None = None
    max_duration: float | None = None
    max_words: int | None = None

    def reason(self, start: float, end: float, text: str) -> str | None:
        """Why a cue is dropped, or None to keep it."""
        duration = end - start
        if duration <= 0:
            return "non-positive duration"
        if self.min_duration is not None and duration < self.min_duration:
            return f"shorter than {self.min_duration:g} s"
        if self.max_duration is not None and duration > self.max_duration:
            return f"longer than {self.max_duration:g} s"
        if self.max_words is not None and len(text.split()) > self.max_words:
            return f"more than {self.max_words} words"
        return None


# ---------------------------------------------------------------------------------------------
# layout, paths


def require(path: Path, what: str) -> Path:
    """Return ``path`` if it exists, else raise a DataError naming the missing piece."""
    if not path.exists():
        raise DataError(f"{path}: missing {what}")
    return path


def first_existing(candidates: Sequence[Path], what: str) -> Path:
    """The first existing path; the error lists every place looked at."""
    for candidate in candidates:
        if candidate.exists():
            return candidate
    looked = "\n  ".join(str(c) for c in candidates)
    raise DataError(f"missing {what}; looked for:\n  {looked}")


def check_splits(requested: Sequence[str] | None, available: Sequence[str], dataset: str) -> list[str]:
    """The splits to prepare: all ``available`` by default; unknown names are a ConfigError."""
    if requested is None:
        return list(available)
    unknown = [s for s in requested if s not in available]
    if unknown:
        raise ConfigError(f"{dataset}: unknown split(s) {unknown}; valid: {', '.join(available)}")
    return list(requested)


def relative(path: Path, out: Path) -> str:
    """``path`` relative to the output folder, with forward slashes (absolute across drives)."""
    try:
        return Path(os.path.relpath(path.resolve(), out.resolve())).as_posix()
    except ValueError:  # different drives on Windows
        return path.resolve().as_posix()


@dataclass
class Locator:
    """Builds the ``video``/``pose`` paths of records for one release root and output folder."""

    root: Path
    out: Path

    def pose(self, stem: str) -> str | None:
        for base in (self.out, self.root):
            candidate = base / "poses" / f"{stem}.pose"
            if candidate.is_file():
                return relative(candidate, self.out)
        return None

    def media(self, video: Path | None, stem: str) -> tuple[str | None, str | None] | None:
        """``(video, pose)`` relative paths; None when neither the video nor a pose exists."""
        pose = self.pose(stem)
        video_rel = relative(video, self.out) if video is not None and video.exists() else None
        if video_rel is None and pose is None:
            return None
        return video_rel, pose


# ---------------------------------------------------------------------------------------------
# summary and output


@dataclass
class PrepareSummary:
    """What ``glossfree prepare`` wrote and what it skipped (with reasons)."""

    dataset: str
    root: Path
    manifest: Path
    records_per_split: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, item: str) -> None:
        self.skipped.setdefault(reason, []).append(item)

    @property
    def num_records(self) -> int:
        return sum(self.records_per_split.values())

    @property
    def num_skipped(self) -> int:
        return sum(len(items) for items in self.skipped.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "root": str(self.root),
            "manifest": str(self.manifest),
            "records": self.num_records,
            "records_per_split": self.records_per_split,
            "skipped": {
                reason: {"count": len(items), "examples": items[:_EXAMPLES]}
                for reason, items in sorted(self.skipped.items())
            },
        }


def write_prepared(records: list[Record], summary: PrepareSummary) -> PrepareSummary:
    """Write ``manifest.jsonl`` and ``prepare_summary.json`` (both atomically) into the output folder.

    A repeated id keeps its first record; the others are skipped as ``duplicate id``. Raises DataError when there is no record at all (with the skip reasons), since an empty
    manifest only fails later and further from the cause.
    """
    if not records:
        reasons = "; ".join(f"{r}: {len(i)}" for r, i in sorted(summary.skipped.items())) or "none"
        raise DataError(f"{summary.root}: no {summary.dataset} sample could be prepared "
                        f"(skipped: {reasons})")  # fmt: skip
    unique: dict[str, Record] = {}
    for record in records:  # releases do repeat rows now and then: keep the first, report the rest
        if record.id in unique:
            summary.skip("duplicate id", record.id)
        else:
            unique[record.id] = record
    summary.records_per_split = {}
    for record in unique.values():
        summary.records_per_split[record.split] = summary.records_per_split.get(record.split, 0) + 1
    write_manifest(summary.manifest, list(unique.values()))
    atomic_write_json(summary.manifest.parent / SUMMARY_NAME, summary.to_json())
    return summary


def new_summary(dataset: str, root: Path, out: Path) -> PrepareSummary:
    """A summary for a run writing ``out/manifest.jsonl``; checks that ``root`` is a folder."""
    if not root.is_dir():
        raise DataError(f"{root}: {dataset} release folder not found")
    make_output_dir(out, what="--out folder")
    return PrepareSummary(dataset=dataset, root=root, manifest=out / MANIFEST_NAME)
