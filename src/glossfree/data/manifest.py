"""Dataset manifests: one JSON object per line, one record per sample (DESIGN.md, "Dataset layout").

A record::

    {"id": "train/01April_2010_Thursday_heute-6694", "split": "train", "language": "de",
     "text": "und nun die wettervorhersage", "pose": "poses/01April_2010_Thursday_heute-6694.pose",
     "signer": "Signer04", "start": 0.0, "end": 4.2, "gloss": "JETZT WETTER ..."}

Required keys: ``id`` (non-empty string, unique in the file), ``split`` (non-empty string),
``text`` (string; may be empty for inference-only data), ``language`` (non-empty string). At least
one of ``video``, ``pose``, ``features`` (non-empty strings: paths relative to the dataset root).
Optional: ``start``/``end`` (seconds within the video, numbers, ``0 <= start < end``), ``signer``
and ``gloss`` (strings; the gloss is for analysis only, never a training input). Any other key is
kept, untouched, in :attr:`Record.extra` (corpora carry extra annotations) and written back by
:func:`write_manifest`. Blank lines are skipped.

Every problem in a file is reported in one :class:`~glossfree.errors.DataError`, one
``path:line: what is wrong`` line per problem.

A dataset root holds either ``manifest.jsonl`` (all splits) or ``{split}.jsonl`` per split;
:func:`load_split` prefers ``{split}.jsonl`` when both exist.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glossfree.errors import DataError
from glossfree.io import atomic_write_text, describe_json_error

MODALITIES = ("video", "pose", "features")
_REQUIRED = ("id", "split", "text", "language")
_OPTIONAL_STR = ("video", "pose", "features", "signer", "gloss")
_KNOWN = (*_REQUIRED, *_OPTIONAL_STR, "start", "end")
_MAX_LISTED = 20


@dataclass(frozen=True)
class Record:
    """One sample of a dataset. Paths are relative to the dataset root (see :func:`resolve`)."""

    id: str
    split: str
    text: str
    language: str
    video: str | None = None
    pose: str | None = None
    features: str | None = None
    start: float | None = None
    end: float | None = None
    signer: str | None = None
    gloss: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """The manifest line as a dict: known keys (None left out), then the extra keys."""
        data: dict[str, Any] = {}
        for key in _KNOWN:
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        data.update(self.extra)
        return data


@dataclass(frozen=True)
class RecordPaths:
    """Absolute paths of a record's files (None where the record has no such modality)."""

    video: Path | None
    pose: Path | None
    features: Path | None


def _check_fields(obj: dict[str, Any]) -> list[str]:
    """Problems with one parsed manifest object (empty list when valid)."""
    problems = []
    for key in _REQUIRED:
        if key not in obj:
            problems.append(f"missing required key '{key}'")
        elif not isinstance(obj[key], str):
            problems.append(f"'{key}' must be a string, got {type(obj[key]).__name__} {obj[key]!r}")
        elif key != "text" and not obj[key].strip():
            problems.append(f"'{key}' must not be empty")
    for key in _OPTIONAL_STR:
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            problems.append(f"'{key}' must be a string or null, got {type(value).__name__} {value!r}")
        elif key in MODALITIES and not value.strip():
            problems.append(f"'{key}' must not be an empty path")
    if all(obj.get(key) is None for key in MODALITIES):
        problems.append(f"record has none of {', '.join(MODALITIES)} (at least one path is required)")
    for key in ("start", "end"):
        value = obj.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"'{key}' must be a number of seconds, got {type(value).__name__} {value!r}")
        elif value < 0:
            problems.append(f"'{key}' must be >= 0, got {value}")
    start, end = obj.get("start"), obj.get("end")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (start, end))
    if start is not None and end is not None and numbers and start >= end:
        problems.append(f"'start' ({start}) must be before 'end' ({end})")
    return problems


def _to_record(obj: dict[str, Any]) -> Record:
    known = {key: obj.get(key) for key in _KNOWN}
    for key in ("start", "end"):
        if known[key] is not None:
            known[key] = float(known[key])
    extra = {key: value for key, value in obj.items() if key not in _KNOWN}
    return Record(**known, extra=extra)


def _raise_all(path: Path, problems: list[str]) -> None:
    if not problems:
        return
    shown = problems[:_MAX_LISTED]
    more = len(problems) - len(shown)
    tail = f"\n... and {more} more problems" if more else ""
    header = f"{path}: {len(problems)} invalid manifest line(s)\n" if len(problems) > 1 else ""
    raise DataError(header + "\n".join(shown) + tail)


def _read_lines(path: Path) -> list[tuple[int, Record]]:
    """Parse and validate a manifest; returns (line number, record) pairs."""
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read manifest ({error})") from None
    problems: list[str] = []
    records: list[tuple[int, Record]] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{path}:{lineno}: invalid JSON ({describe_json_error(error)})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            continue
        line_problems = _check_fields(obj)
        problems.extend(f"{path}:{lineno}: {problem}" for problem in line_problems)
        if line_problems:
            continue
        if obj["id"] in first_line:
            problems.append(
                f"{path}:{lineno}: duplicate id '{obj['id']}' (first on line {first_line[obj['id']]})"
            )
            continue
        first_line[obj["id"]] = lineno
        records.append((lineno, _to_record(obj)))
    _raise_all(path, problems)
    return records


def read_manifest(path: str | Path) -> list[Record]:
    """Read and validate a JSON-lines manifest. Errors name ``file:line`` and what is wrong."""
    return [record for _, record in _read_lines(Path(path))]


def write_manifest(path: str | Path, records: list[Record]) -> None:
    """Write records as JSON lines (UTF-8, not ASCII-escaped), atomically."""
    path = Path(path)
    seen: set[str] = set()
    lines = []
    for record in records:
        if record.id in seen:
            raise DataError(f"{path}: refusing to write duplicate id '{record.id}'")
        seen.add(record.id)
        lines.append(json.dumps(record.to_json(), ensure_ascii=False))
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def load_split(root: str | Path, split: str) -> list[Record]:
    """Records of one split from ``<root>/{split}.jsonl`` or else ``<root>/manifest.jsonl``.

    In a per-split file every record's ``split`` must equal ``split``; from ``manifest.jsonl`` the
    records of that split are returned, and a split with no record is an error listing the splits.
    """
    root = Path(root)
    split_file, manifest = root / f"{split}.jsonl", root / "manifest.jsonl"
    if split_file.is_file():
        pairs = _read_lines(split_file)
        wrong = [
            f"{split_file}:{lineno}: record '{r.id}' has split '{r.split}', expected '{split}'"
            for lineno, r in pairs
            if r.split != split
        ]
        _raise_all(split_file, wrong)
        return [record for _, record in pairs]
    if manifest.is_file():
        records = read_manifest(manifest)
        selected = [record for record in records if record.split == split]
        if not selected:
            present = sorted({record.split for record in records})
            raise DataError(
                f"{manifest}: no records with split '{split}'; splits present: {', '.join(present) or 'none'}"
            )
        return selected
    raise DataError(f"{root}: no manifest for split '{split}' (looked for {split_file} and {manifest})")


def unread_splits(root: str | Path, used: list[str]) -> list[tuple[Path, str, int]]:
    """Records of ``<root>/manifest.jsonl`` that no split in ``used`` reads: ``(file, split, count)``
    per split, e.g. a misspelt ``"split": "trian"``. Per-split files (``{split}.jsonl``) are not
    looked at: other ``.jsonl`` files may sit beside them (the synthetic corpus's ``segments.jsonl``).

    Corpora may hold splits a recipe does not use on purpose; callers report them, never fail.
    """
    root = Path(root)
    found: list[tuple[Path, str, int]] = []
    manifest = root / "manifest.jsonl"
    if manifest.is_file() and not all((root / f"{split}.jsonl").is_file() for split in used):
        counts: dict[str, int] = {}
        for record in read_manifest(manifest):
            if record.split not in used:
                counts[record.split] = counts.get(record.split, 0) + 1
        found += [(manifest, split, count) for split, count in sorted(counts.items())]
    return found


def resolve(root: str | Path, record: Record) -> RecordPaths:
    """Absolute paths of a record's video/pose/features under ``root`` (absolute paths kept)."""
    root = Path(root)

    def join(relative: str | None) -> Path | None:
        return None if relative is None else Path(os.path.abspath(root / relative))

    return RecordPaths(video=join(record.video), pose=join(record.pose), features=join(record.features))
