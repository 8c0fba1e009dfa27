"""RWTH-PHOENIX-Weather 2014 T from its official release layout.

``ROOT`` is ``PHOENIX-2014-T`` (or the release folder ``PHOENIX-2014-T-release-v3`` holding it)::

    annotations/manual/PHOENIX-2014-T.{train,dev,test}.corpus.csv
    features/fullFrame-210x260px/{train,dev,test}/<name>/images0001.png ...

The corpus files are ``|``-separated with the header ``name|video|start|end|speaker|orth|translation``.
``translation`` (lowercase German, no punctuation) is the target text, ``orth`` the gloss (kept for
analysis), ``speaker`` the signer. The ``video`` column reads ``<name>/1/*.png`` while the frames of
the release lie directly in ``<split>/<name>/``; both places are tried. The record's ``video`` is
the frame folder (25 fps), which the video readers accept; the id is ``name``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from glossfree.data.manifest import Record
from glossfree.data.prepare.common import (
    Locator,
    PrepareSummary,
    check_splits,
    new_summary,
    read_text,
    require,
    write_prepared,
)
from glossfree.data.video import is_frame_folder
from glossfree.errors import DataError

SPLITS = ("train", "dev", "test")
COLUMNS = ("name", "video", "speaker", "orth", "translation")
FRAMES = Path("features") / "fullFrame-210x260px"


def _base(root: Path) -> Path:
    """The ``PHOENIX-2014-T`` folder: ``root`` itself or ``root/PHOENIX-2014-T``."""
    nested = root / "PHOENIX-2014-T"
    if not (root / "annotations").exists() and nested.is_dir():
        return nested
    return root


def read_corpus(path: Path) -> list[dict[str, str]]:
    """Rows of a ``PHOENIX-2014-T.{split}.corpus.csv`` file; errors name the file and line."""
    require(path, "PHOENIX-2014-T corpus file")
    with io.StringIO(read_text(path, "PHOENIX-2014-T corpus file"), newline="") as handle:
        reader = csv.DictReader(handle, delimiter="|", quoting=csv.QUOTE_NONE)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}:1: missing column(s) {missing}; header is {reader.fieldnames}")
        rows = []
        for row in reader:
            if None in row or any(row[c] is None for c in COLUMNS):
                raise DataError(f"{path}:{reader.line_num}: expected {len(reader.fieldnames or [])} "
                                "'|'-separated fields")  # fmt: skip
            rows.append(row)
    return rows


def _frame_folder(split_dir: Path, row: dict[str, str]) -> Path | None:
    """The frame folder of a row: ``<split>/<name>/`` or the ``video`` column's folder."""
    candidates = [split_dir / row["name"], split_dir / Path(row["video"]).parent]
    return next((c for c in candidates if is_frame_folder(c)), None)


def prepare_phoenix14t(root: Path, out: Path, *, splits: Sequence[str] | None = None) -> PrepareSummary:
    """Write ``out/manifest.jsonl`` for PHOENIX-2014-T (splits train/dev/test by default)."""
    root, out = Path(root), Path(out)
    summary = new_summary("phoenix14t", root, out)
    base = _base(root)
    locate = Locator(root=root, out=out)
    records: list[Record] = []
    for split in check_splits(splits, SPLITS, "phoenix14t"):
        rows = read_corpus(base / "annotations" / "manual" / f"PHOENIX-2014-T.{split}.corpus.csv")
        split_dir = require(base / FRAMES / split, f"frame folder of split '{split}'")
        for row in rows:
            name = row["name"].strip()
            media = locate.media(_frame_folder(split_dir, row), name)
            if media is None:
                summary.skip("frame folder and pose missing", name)
                continue
            text = row["translation"].strip()
            if not text:
                summary.skip("empty translation", name)
                continue
            records.append(Record(
                id=name, split=split, text=text, language="de", video=media[0], pose=media[1],
                signer=row["speaker"].strip() or None, gloss=row["orth"].strip() or None,
            ))  # fmt: skip
    return write_prepared(records, summary)
