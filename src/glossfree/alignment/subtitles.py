"""Subtitle files: read and write WebVTT (``.vtt``) and SubRip (``.srt``) cues.

A :class:`Cue` is a start and end time in seconds and its text (lines joined with ``\\n``). Both
readers accept a UTF-8 byte-order mark and CRLF or CR line ends. The WebVTT reader follows the
W3C WebVTT syntax: the ``WEBVTT`` signature line and its header, ``NOTE``/``STYLE``/``REGION``
blocks (skipped), optional cue identifiers, ``mm:ss.ttt`` or ``hh:mm:ss.ttt`` timestamps and cue
settings after the end time (``align:start position:10%``, skipped). The SRT reader takes the
usual ``index``/``hh:mm:ss,mmm --> hh:mm:ss,mmm``/text blocks; a missing index, a ``.`` instead of
the ``,`` and display coordinates after the end time (``X1:..``) are tolerated.

Cue text is kept as written (WebVTT tags and entities included): subtitle cleaning is
:func:`glossfree.text.clean.clean_subtitle`'s job. A malformed file raises :class:`DataError`
naming the file and line. Writers go through :mod:`glossfree.io` (atomic) and round times to the
millisecond, the resolution of both formats, so ``.vtt -> .srt -> .vtt`` keeps text and times.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from glossfree.errors import DataError
from glossfree.io import atomic_write_text

__all__ = [
    "Cue",
    "format_srt",
    "format_timestamp",
    "format_vtt",
    "parse_srt",
    "parse_vtt",
    "read_subtitles",
    "write_subtitles",
]


@dataclass(frozen=True)
class Cue:
    """One subtitle: ``[start, end)`` in seconds and its text (``\\n`` between lines).

    ``identifier`` is the WebVTT cue identifier, if any (SRT's running numbers are not kept);
    ``line`` the file line of its timing, when it was read from a file (not compared).
    """

    start: float
    end: float
    text: str
    identifier: str | None = None
    line: int | None = field(default=None, compare=False)

    @property
    def duration(self) -> float:
        return self.end - self.start


# WebVTT: (hh:)?mm:ss.ttt with hours of two or more digits; SRT: hh:mm:ss,mmm (',' or '.').
_VTT_TIME = r"(?:(\d{2,}):)?(\d{2}):(\d{2})\.(\d{3})"
_VTT_TIMING = re.compile(rf"^{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?:[ \t]+(.*))?$")
_SRT_TIME = r"(\d{1,}):(\d{2}):(\d{2})[,.](\d{1,3})"
_SRT_TIMING = re.compile(rf"^\s*{_SRT_TIME}\s*-->\s*{_SRT_TIME}(?:\s+.*)?$")
_VTT_SIGNATURE = re.compile(r"^WEBVTT(?:[ \t].*)?$")


def _seconds(hours: str | None, minutes: str, seconds: str, fraction: str, *, where: str) -> float:
    if int(minutes) > 59 or int(seconds) > 59:
        raise DataError(f"{where}: minutes and seconds must be below 60 in a timestamp")
    millis = int(fraction.ljust(3, "0"))  # SRT writers sometimes drop trailing zeros: ",5" = 500 ms
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + millis / 1000.0


def format_timestamp(seconds: float, *, separator: str = ".") -> str:
    """``hh:mm:ss.ttt`` (``separator=","`` for SRT), rounded to the millisecond; hours may exceed 99."""
    if seconds < 0:
        raise DataError(f"subtitle times must not be negative, got {seconds}")
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _lines(data: str | bytes, source: str) -> list[str]:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise DataError(f"{source}: not valid UTF-8 (byte {error.start})") from None
    data = data.removeprefix("\ufeff")
    return data.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _blocks(lines: list[str]) -> Iterable[tuple[int, list[str]]]:
    """Runs of non-blank lines with the 1-based line number of their first line."""
    block: list[str] = []
    first = 0
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not block:
                first = number
            block.append(line)
        elif block:
            yield first, block
            block = []
    if block:
        yield first, block


def _check_times(start: float, end: float, where: str) -> None:
    if end < start:
        raise DataError(f"{where}: cue ends before it starts ({start:.3f} s -> {end:.3f} s)")


def parse_vtt(data: str | bytes, *, source: str = "<vtt>") -> list[Cue]:
    """Cues of a WebVTT document (``source`` names it in errors)."""
    lines = _lines(data, source)
    if not lines or not _VTT_SIGNATURE.match(lines[0]):
        raise DataError(f"{source}:1: a WebVTT file must start with 'WEBVTT', got {lines[0][:40]!r}")
    cues: list[Cue] = []
    blocks = iter(_blocks(lines))
    next(blocks)  # the signature line and its header lines
    for first, block in blocks:
        head = block[0].strip()
        if head.split(maxsplit=1)[0] in ("NOTE", "STYLE", "REGION") and "-->" not in head:
            continue
        identifier = None
        timing_at = 0
        if "-->" not in block[0]:
            identifier = block[0].strip()
            timing_at = 1
            if len(block) < 2:
                raise DataError(f"{source}:{first}: expected a cue timing line 'start --> end' after {identifier!r}")
        where = f"{source}:{first + timing_at}"
        match = _VTT_TIMING.match(block[timing_at].strip())
        if not match:
            raise DataError(
                f"{where}: not a WebVTT cue timing 'hh:mm:ss.ttt --> hh:mm:ss.ttt': {block[timing_at].strip()[:60]!r}"
            )
        groups = match.groups()
        start = _seconds(*groups[0:4], where=where)
        end = _seconds(*groups[4:8], where=where)
        _check_times(start, end, where)
        text_lines = block[timing_at + 1 :]
        for offset, line in enumerate(text_lines, start=timing_at + 1):
            if "-->" in line:
                raise DataError(f"{source}:{first + offset}: '-->' inside cue text (missing blank line between cues?)")
        cues.append(Cue(start, end, "\n".join(text_lines), identifier, line=first + timing_at))
    return cues


def parse_srt(data: str | bytes, *, source: str = "<srt>") -> list[Cue]:
    """Cues of a SubRip document (``source`` names it in errors)."""
    cues: list[Cue] = []
    for first, block in _blocks(_lines(data, source)):
        timing_at = 1 if block[0].strip().isdigit() else 0
        where = f"{source}:{first + timing_at}"
        if timing_at >= len(block):
            raise DataError(f"{where}: cue number {block[0].strip()} has no timing line")
        match = _SRT_TIMING.match(block[timing_at])
        if not match:
            raise DataError(
                f"{where}: expected a cue number or 'hh:mm:ss,mmm --> hh:mm:ss,mmm', "
                f"got {block[timing_at].strip()[:60]!r}"
            )
        groups = match.groups()
        start = _seconds(*groups[0:4], where=where)
        end = _seconds(*groups[4:8], where=where)
        _check_times(start, end, where)
        cues.append(Cue(start, end, "\n".join(block[timing_at + 1 :]), line=first + timing_at))
    return cues


def _check_writable(cues: Sequence[Cue], fmt: str) -> None:
    for index, cue in enumerate(cues):
        if cue.start < 0 or cue.end < cue.start:
            raise DataError(f"cue {index}: cannot write times {cue.start} -> {cue.end} s (need 0 <= start <= end)")
        if any(not line.strip() for line in cue.text.split("\n")) and cue.text:
            raise DataError(f"cue {index}: a blank line inside the text would end the cue in {fmt}: {cue.text!r}")
        if "-->" in cue.text:
            raise DataError(f"cue {index}: '-->' cannot appear in {fmt} cue text: {cue.text!r}")
        if cue.identifier is not None and ("-->" in cue.identifier or "\n" in cue.identifier):
            raise DataError(f"cue {index}: a WebVTT identifier cannot hold '-->' or a line break: {cue.identifier!r}")


def format_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT text of ``cues`` (LF line ends, identifiers kept)."""
    _check_writable(cues, "WebVTT")
    parts = ["WEBVTT\n"]
    for cue in cues:
        identifier = f"{cue.identifier}\n" if cue.identifier else ""
        text = f"{cue.text}\n" if cue.text else ""
        parts.append(f"\n{identifier}{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}\n{text}")
    return "".join(parts)


def format_srt(cues: Sequence[Cue]) -> str:
    """SubRip text of ``cues``, numbered from 1 (LF line ends). SRT has no cue identifiers."""
    _check_writable(cues, "SRT")
    parts = []
    for number, cue in enumerate(cues, start=1):
        text = f"{cue.text}\n" if cue.text else ""
        start, end = format_timestamp(cue.start, separator=","), format_timestamp(cue.end, separator=",")
        parts.append(f"{number}\n{start} --> {end}\n{text}\n")
    return "".join(parts)


def _format_of(path: Path, fmt: str | None) -> str:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in ("vtt", "srt"):
        raise DataError(f"{path}: unknown subtitle format {fmt!r} (use a .vtt or .srt file, or pass fmt)")
    return fmt


def read_subtitles(path: str | os.PathLike[str], *, fmt: str | None = None) -> list[Cue]:
    """Cues of a ``.vtt`` or ``.srt`` file (``fmt`` overrides the extension)."""
    path = Path(path)
    fmt = _format_of(path, fmt)
    if not path.is_file():
        raise DataError(f"{path}: subtitle file not found")
    parse = parse_vtt if fmt == "vtt" else parse_srt
    return parse(path.read_bytes(), source=str(path))


def write_subtitles(path: str | os.PathLike[str], cues: Sequence[Cue], *, fmt: str | None = None) -> None:
    """Write ``cues`` atomically as WebVTT or SRT (from the extension unless ``fmt`` is given)."""
    path = Path(path)
    fmt = _format_of(path, fmt)
    try:
        text = format_vtt(cues) if fmt == "vtt" else format_srt(cues)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None
    atomic_write_text(path, text)
