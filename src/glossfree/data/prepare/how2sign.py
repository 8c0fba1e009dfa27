"""How2Sign (ASL, English) from its official downloads: re-aligned translations + front-view clips.

``ROOT`` holds, for each split ``train``/``val``/``test``::

    how2sign_realigned_{split}.csv                      tab-separated, header
        VIDEO_ID VIDEO_NAME SENTENCE_ID SENTENCE_NAME START_REALIGNED END_REALIGNED SENTENCE
    {split}_rgb_front_clips/raw_videos/{SENTENCE_NAME}.mp4   one clip per sentence

The clips are already cut to the sentence (with the re-aligned times), so records carry no
``start``/``end``. A clips archive unpacked without its ``raw_videos`` level
(``{split}_rgb_front_clips/{SENTENCE_NAME}.mp4``) is accepted too. The official ``val`` split is
written as ``dev``; ids are ``SENTENCE_NAME``. Subtitles are manually aligned to the signing.
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
    first_existing,
    new_summary,
    read_text,
    write_prepared,
)
from glossfree.errors import DataError

SPLITS = {"train": "train", "dev": "val", "test": "test"}
"""Manifest split -> split name in the official file names."""
COLUMNS = ("SENTENCE_NAME", "SENTENCE")


def read_translations(path: Path) -> list[dict[str, str]]:
    """Rows of a ``how2sign_realigned_{split}.csv`` (tab-separated despite the name)."""
    with io.StringIO(read_text(path, "How2Sign translation file"), newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}:1: missing column(s) {missing} (the file must be tab-separated); "
                            f"header is {reader.fieldnames}")  # fmt: skip
        rows = []
        for row in reader:
            if any(row.get(c) is None for c in COLUMNS):
                raise DataError(f"{path}:{reader.line_num}: too few tab-separated fields")
            rows.append(row)
    return rows


def prepare_how2sign(root: Path, out: Path, *, splits: Sequence[str] | None = None) -> PrepareSummary:
    """Write ``out/manifest.jsonl`` for How2Sign (splits train/dev/test by default)."""
    root, out = Path(root), Path(out)
    summary = new_summary("how2sign", root, out)
    locate = Locator(root=root, out=out)
    records: list[Record] = []
    for split in check_splits(splits, tuple(SPLITS), "how2sign"):
        official = SPLITS[split]
        table = first_existing([root / f"how2sign_realigned_{official}.csv"],
                               f"How2Sign re-aligned translations of split '{official}'")  # fmt: skip
        clips = first_existing(
            [root / f"{official}_rgb_front_clips" / "raw_videos", root / f"{official}_rgb_front_clips"],
            f"How2Sign front-view clips folder of split '{official}'",
        )
        for row in read_translations(table):
            name = row["SENTENCE_NAME"].strip()
            media = locate.media(clips / f"{name}.mp4", name)
            if media is None:
                summary.skip("clip and pose missing", name)
                continue
            text = row["SENTENCE"].strip()
            if not text:
                summary.skip("empty sentence", name)
                continue
            records.append(Record(id=name, split=split, text=text, language="en", video=media[0],
                                  pose=media[1]))  # fmt: skip
    return write_prepared(records, summary)
