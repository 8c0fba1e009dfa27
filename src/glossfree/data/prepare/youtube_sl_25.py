"""YouTube-SL-25 from its id list plus videos and captions downloaded with yt-dlp.

The release (google-research/google-research ``youtube_sl_25``) is only a list of YouTube video
ids, ``youtube-sl-25-metadata.csv``: one ``video_id,sign_language`` row per video (ISO 639-3 sign
language codes: ``ase`` ASL, ``bfi`` BSL, ...; a header row is tolerated). Users download the
videos and their manual captions themselves, e.g.::

    yt-dlp --write-subs --sub-format vtt -o "videos/%(id)s.%(ext)s" -- VIDEO_ID

which gives, under ``ROOT``::

    youtube-sl-25-metadata.csv
    videos/{video_id}.mp4            (.webm and .mkv are accepted too)
    videos/{video_id}.{lang}.vtt     one per caption track (en, en-US, de, ...); .srt accepted

Assumed and documented, since the release fixes none of it: that folder layout, that the
captions are the uploader's (not automatic) tracks, and the split (the release has none: every
record gets ``assign_split``, ``train`` by default). A video's caption track is chosen by the
primary language subtag in ``caption_languages`` order (default: English only); the record's
``language`` is that subtag. Cue text is cleaned with
:func:`glossfree.text.clean.clean_subtitle` (paper 004, appendix A.7) and cues empty after
cleaning are dropped and counted. Records point into the whole video with ``start``/``end``;
ids are ``{video_id}_{cue index:05d}``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

from glossfree.data.manifest import Record
from glossfree.data.prepare.common import (
    CueFilter,
    Locator,
    PrepareSummary,
    new_summary,
    read_subtitles,
    read_text,
    require,
    write_prepared,
)
from glossfree.errors import DataError
from glossfree.text.clean import clean_subtitle

METADATA = "youtube-sl-25-metadata.csv"
VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv")
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")


def read_metadata(path: Path) -> list[tuple[str, str]]:
    """``(video_id, sign language code)`` rows of ``youtube-sl-25-metadata.csv``."""
    require(path, "YouTube-SL-25 id list")
    rows: list[tuple[str, str]] = []
    text = read_text(path, "YouTube-SL-25 id list")
    for number, fields in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if not fields or not "".join(fields).strip():
            continue
        if len(fields) < 2:
            raise DataError(f"{path}:{number}: expected 'video_id,sign_language', got {fields}")
        video_id, language = fields[0].strip(), fields[1].strip()
        if not _YOUTUBE_ID.match(video_id):
            if number == 1:
                continue  # header row
            raise DataError(f"{path}:{number}: {video_id!r} is not a YouTube video id")
        rows.append((video_id, language))
    return rows


def caption_tracks(videos: Path, video_id: str) -> dict[str, Path]:
    """``{language tag: caption file}`` of one video (``{id}.{lang}.vtt`` / ``.srt``)."""
    tracks: dict[str, Path] = {}
    for suffix in (".srt", ".vtt"):  # .vtt wins when both exist
        for path in videos.glob(f"{video_id}.*{suffix}"):  # ids are [A-Za-z0-9_-]: no glob syntax
            tag = path.name[len(video_id) + 1 : -len(suffix)]
            if tag and "." not in tag:
                tracks[tag] = path
    return tracks


def choose_track(tracks: dict[str, Path], languages: Sequence[str]) -> tuple[str, Path] | None:
    """The first track whose primary subtag (``en`` of ``en-GB``) is in ``languages``, in order."""
    for wanted in languages:
        for tag in sorted(tracks):
            if tag.split("-")[0].lower() == wanted.lower():
                return wanted.lower(), tracks[tag]
    return None


def prepare_youtube_sl_25(
    root: Path,
    out: Path,
    *,
    sign_languages: Sequence[str] | None = None,
    caption_languages: Sequence[str] = ("en",),
    assign_split: str = "train",
    videos_dir: Path | None = None,
    min_duration: float | None = None,
    max_duration: float | None = None,
    max_words: int | None = None,
) -> PrepareSummary:
    """Write ``out/manifest.jsonl`` with one record per cleaned YouTube-SL-25 caption cue.

    Args:
        root: folder with ``youtube-sl-25-metadata.csv`` and ``videos/``.
        out: output folder.
        sign_languages: keep only these sign languages (paper 004: ``ase`` and ``bfi``);
            default all.
        caption_languages: accepted caption languages in order of preference.
        assign_split: split written on every record (the release has no split).
        videos_dir: folder of the videos and captions (default ``root/videos``).
        min_duration: drop cues shorter than this (seconds).
        max_duration: drop cues longer than this (seconds).
        max_words: drop cues with more words than this (counted after cleaning).
    """
    root, out = Path(root), Path(out)
    summary = new_summary("youtube_sl_25", root, out)
    rows = read_metadata(root / METADATA)
    videos = require(Path(videos_dir) if videos_dir is not None else root / "videos",
                     "folder of downloaded videos and captions")  # fmt: skip
    wanted = None if sign_languages is None else {s.lower() for s in sign_languages}
    keep = CueFilter(min_duration=min_duration, max_duration=max_duration, max_words=max_words)
    locate = Locator(root=root, out=out)
    records: list[Record] = []
    for video_id, sign_language in rows:
        if wanted is not None and sign_language.lower() not in wanted:
            summary.skip("sign language not selected", video_id)
            continue
        video = next((videos / f"{video_id}{s}" for s in VIDEO_SUFFIXES
                      if (videos / f"{video_id}{s}").is_file()), None)  # fmt: skip
        media = locate.media(video, video_id)
        if media is None:
            summary.skip("video and pose missing (not downloaded?)", video_id)
            continue
        track = choose_track(caption_tracks(videos, video_id), caption_languages)
        if track is None:
            summary.skip(f"no caption track in {', '.join(caption_languages)}", video_id)
            continue
        language, caption_file = track
        for cue_index, cue in enumerate(read_subtitles(caption_file)):
            cue_id = f"{video_id}_{cue_index:05d}"
            text = " ".join(clean_subtitle(cue.text).split())
            reason = "empty after cleaning" if not text else keep.reason(cue.start, cue.end, text)
            if reason is not None:
                summary.skip(reason, cue_id)
                continue
            records.append(Record(
                id=cue_id, split=assign_split, text=text, language=language, video=media[0],
                pose=media[1], start=cue.start, end=cue.end, extra={"sign_language": sign_language},
            ))  # fmt: skip
    return write_prepared(records, summary)
