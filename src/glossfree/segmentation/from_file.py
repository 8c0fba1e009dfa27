"""``file``: spans written by another segmenter, so that any external segmenter plugs in.

Paper 002 (SAGE) cuts signs with the Hands-On segmentation model (Moryossef et al.), whose trained
weights are not released; run any segmenter one has and hand its output to glossfree here.
Formats, by suffix:

- ``.jsonl``: glossfree's ``segments.jsonl`` (``{"id", "fps", "signs": [{"start", "end"}]}``,
  frame indices at the line's ``fps``; the unit is stated per line, ``unit`` is ignored);
- ``.json``: ``{"<id>": [[start, end], ...], ...}``;
- ``.tsv``: one span a line, ``id<TAB>start<TAB>end`` (a first line ``id start end`` is a header).

In ``.json`` and ``.tsv`` files ``unit`` says what the numbers are: ``frames`` (indices of the
record's pose file at its frame rate, end exclusive) or ``seconds``. Spans are of the whole file,
like ``segments.jsonl``; a record read from a ``start``/``end`` span keeps only the spans inside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np

from glossfree.config import StrictModel
from glossfree.data.inputs import read_segments, segment_frames
from glossfree.errors import DataError
from glossfree.io import describe_json_error
from glossfree.segmentation.base import Clip, check_spans


class FileSpansConfig(StrictModel):
    """Spans read from a file (see the module docstring).

    Attributes:
        kind: ``"file"``.
        path: the ``.jsonl``, ``.json`` or ``.tsv`` file.
        unit: ``frames`` or ``seconds`` (``.json`` and ``.tsv``).
    """

    kind: Literal["file"] = "file"
    path: Path
    unit: Literal["frames", "seconds"] = "frames"


def _read_json(path: Path) -> dict[str, list[tuple[float, float]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not JSON ({describe_json_error(error)})") from None
    if not isinstance(data, dict):
        raise DataError(f'{path}: expected an object {{"<id>": [[start, end], ...]}}, got {type(data).__name__}')
    out = {}
    for key, spans in data.items():
        try:
            out[str(key)] = [(float(a), float(b)) for a, b in spans]
        except (TypeError, ValueError):
            raise DataError(f"{path}: the spans of '{key}' are not a list of [start, end] pairs") from None
    return out


def _read_tsv(path: Path) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.rstrip("\n").split("\t")
        if not line.strip() or (number == 1 and fields[1:] == ["start", "end"]):
            continue
        try:
            key, start, end = fields
            out.setdefault(key, []).append((float(start), float(end)))
        except ValueError:
            raise DataError(f"{path}:{number}: expected 'id<TAB>start<TAB>end', got {line!r}") from None
    return out


class FileSpansSegmenter:
    """Looks each clip's spans up by id; a clip the file does not name is an error."""

    def __init__(self, config: FileSpansConfig) -> None:
        self.config = config
        path = Path(config.path)
        if not path.is_file():
            raise DataError(f"{path}: segments file not found")
        self._seconds: dict[str, np.ndarray] | None = None
        self._frames: dict[str, np.ndarray] | None = None
        if path.suffix == ".jsonl":
            self._seconds = read_segments(path)
        elif path.suffix in (".json", ".tsv"):
            spans = (_read_json if path.suffix == ".json" else _read_tsv)(path)
            table = {key: np.asarray(value, dtype=np.float64).reshape(-1, 2) for key, value in spans.items()}
            if config.unit == "seconds":
                self._seconds = table
            else:
                self._frames = table
        else:
            raise DataError(f"{path}: unknown spans format '{path.suffix}' (use .jsonl, .json or .tsv)")

    def segment(self, clip: Clip) -> np.ndarray:
        table = self._seconds if self._seconds is not None else self._frames
        assert table is not None
        if clip.id not in table:
            raise DataError(f"{self.config.path}: no spans for record '{clip.id}'")
        if self._seconds is not None:
            spans = segment_frames(table[clip.id], offset=clip.first_frame / clip.fps, fps=clip.fps, num_frames=clip.num_frames)
        else:
            shifted = table[clip.id] - clip.first_frame
            spans = np.clip(shifted, 0, clip.num_frames)
            spans = spans[spans[:, 1] > spans[:, 0]]
        try:
            return check_spans(spans, clip.num_frames, source=f"{self.config.path} ({clip.id})")
        except ValueError as error:
            raise DataError(str(error)) from None
