"""BOBSL (BBC-Oxford British Sign Language) from its release layout: one record per subtitle cue.

``ROOT`` is the release folder ``bobsl/``::

    subset2episode.json  (or splits/ or metadata/subset2episode.json)  {"train": [episode, ...], ...}
    videos/{episode}.mp4                                                (or videos/mp4/{episode}.mp4)
    subtitles/audio-aligned/{episode}.vtt                         as broadcast (timed to the speech)
    subtitles/audio-aligned-heuristic-correction/{episode}.vtt    shifted towards the signing
    subtitles/manually-aligned/{episode}.vtt                      aligned to the signing by hand
                                                                  (only the val/test episodes)
    automatic_annotations/signing_aligned_subtitles/auto_sat_aligned/{episode}.vtt
                                                                  aligned to the signing by SAT

``alignment`` picks the subtitle folder (see :data:`ALIGNMENTS`; ``subtitles_dir`` overrides it,
e.g. for SAT+ pseudo-subtitles). Paper 004 pretrains on signing-aligned subtitles and evaluates
SSA against the manual alignment; audio-aligned times are the prior an aligner starts from.
Records point into the whole episode with ``start``/``end`` seconds; ids are
``{episode}_{cue index:05d}``. The split names of the split file are kept except ``val``, written
``dev``. Cue text is made plain (tags removed, entities decoded, lines joined); cues can be
filtered by duration and word count (paper 004: 1-20 s, at most 80 words).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from glossfree.data.manifest import Record
from glossfree.data.prepare.common import (
    CueFilter,
    Locator,
    PrepareSummary,
    first_existing,
    new_summary,
    plain_text,
    read_subtitles,
    write_prepared,
)
from glossfree.errors import ConfigError, DataError

ALIGNMENTS = {
    "audio": Path("subtitles") / "audio-aligned",
    "audio-corrected": Path("subtitles") / "audio-aligned-heuristic-correction",
    "manual": Path("subtitles") / "manually-aligned",
    "signing": Path("automatic_annotations") / "signing_aligned_subtitles" / "auto_sat_aligned",
}
SPLIT_NAMES = {"val": "dev"}
SPLIT_FILES = (Path("subset2episode.json"), Path("splits") / "subset2episode.json",
               Path("metadata") / "subset2episode.json")  # fmt: skip


def read_split_file(path: Path) -> dict[str, list[str]]:
    """``{manifest split: [episode, ...]}`` from ``subset2episode.json`` (``val`` -> ``dev``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: cannot read the BOBSL split file ({error})") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(e, str) for e in v) for v in data.values()
    ):
        raise DataError(f"{path}: expected an object mapping split names to lists of episode ids")
    return {SPLIT_NAMES.get(name, name): episodes for name, episodes in data.items()}


def prepare_bobsl(
    root: Path,
    out: Path,
    *,
    alignment: str = "audio",
    subtitles_dir: Path | None = None,
    splits: Sequence[str] | None = None,
    min_duration: float | None = None,
    max_duration: float | None = None,
    max_words: int | None = None,
) -> PrepareSummary:
    """Write ``out/manifest.jsonl`` with one record per BOBSL subtitle cue.

    Args:
        root: the BOBSL release folder.
        out: output folder.
        alignment: which subtitles: ``audio``, ``audio-corrected``, ``manual`` or ``signing``.
        subtitles_dir: a folder of ``{episode}.vtt`` to use instead (overrides ``alignment``).
        splits: splits to write (names after ``val`` -> ``dev``); default all in the split file.
        min_duration: drop cues shorter than this (seconds).
        max_duration: drop cues longer than this (seconds).
        max_words: drop cues with more words than this.
    """
    root, out = Path(root), Path(out)
    if alignment not in ALIGNMENTS:
        raise ConfigError(f"bobsl: unknown alignment '{alignment}'; valid: {', '.join(ALIGNMENTS)}")
    summary = new_summary("bobsl", root, out)
    split_file = first_existing([root / p for p in SPLIT_FILES], "BOBSL split file subset2episode.json")
    episodes_by_split = read_split_file(split_file)
    if splits is not None:
        unknown = [s for s in splits if s not in episodes_by_split]
        if unknown:
            raise ConfigError(f"bobsl: split(s) {unknown} not in {split_file}; "
                              f"valid: {', '.join(episodes_by_split)}")  # fmt: skip
        episodes_by_split = {s: episodes_by_split[s] for s in splits}
    subtitle_root = Path(subtitles_dir) if subtitles_dir is not None else root / ALIGNMENTS[alignment]
    if not subtitle_root.is_dir():
        raise DataError(f"{subtitle_root}: missing BOBSL subtitle folder for alignment '{alignment}'")
    video_dirs = [root / "videos", root / "videos" / "mp4"]
    keep = CueFilter(min_duration=min_duration, max_duration=max_duration, max_words=max_words)
    locate = Locator(root=root, out=out)
    records: list[Record] = []
    for split, episodes in episodes_by_split.items():
        for episode in episodes:
            vtt = subtitle_root / f"{episode}.vtt"
            if not vtt.is_file():
                summary.skip(f"no subtitles in {subtitle_root.name}", episode)
                continue
            video = next((d / f"{episode}.mp4" for d in video_dirs if (d / f"{episode}.mp4").is_file()), None)
            media = locate.media(video, episode)
            if media is None:
                summary.skip("episode video and pose missing", episode)
                continue
            for cue_index, cue in enumerate(read_subtitles(vtt)):
                cue_id = f"{episode}_{cue_index:05d}"
                text = plain_text(cue.text)
                reason = "empty text" if not text else keep.reason(cue.start, cue.end, text)
                if reason is not None:
                    summary.skip(reason, cue_id)
                    continue
                records.append(Record(
                    id=cue_id, split=split, text=text, language="en", video=media[0],
                    pose=media[1], start=cue.start, end=cue.end,
                ))  # fmt: skip
    return write_prepared(records, summary)
