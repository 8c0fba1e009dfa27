"""Subtitle text cleaning for web data (YouTube-SL-25), following paper 004, appendix A.7.

The rules, applied in this order (each has its own function and test):

1. decode HTML entities (``&lt;`` -> ``<``, ``&amp;`` -> ``&``, ``&#39;`` -> ``'``) and remove the
   HTML tags left over (``<font color=...>``, ``</i>``, ``<c>``, WebVTT's ``<c.color...>`` and
   ``<00:00:01.500>``);
2. remove non-verbal annotations or stylistic markers in parentheses, square brackets or
   asterisks (``(laughter)``, ``[music]``, ``*flush*``);
3. remove leading special symbols of each line (``♪``, ``•``, ``-``, ...); glossfree also drops
   trailing music notes (``♪ la la ♪`` -> ``la la``), which the appendix does not mention;
4. remove a speaker label - a single word followed by a colon - at the start of a line (``John:``);
5. delete spaces before punctuation marks (``hello , world !`` -> ``hello, world!``);
6. collapse runs of whitespace (line breaks included) into one space;
7. trim leading and trailing quotation marks.

A subtitle that is only markup or markers cleans to ``""``; callers drop such samples.
"""

from __future__ import annotations

import html
import re

from glossfree.errors import DataError

# HTML tags and WebVTT cue tags (<c.colorE5E5E5>, <v Speaker>, <00:00:01.500> timestamps).
_TAG = re.compile(r"</?[A-Za-z][\w.-]*(?:\s[^<>]*)?/?>|<\d{1,2}(?::\d{2}){1,2}\.\d{3}>")
_MARKERS = (
    re.compile(r"\([^()]*\)"),
    re.compile(r"\[[^\[\]]*\]"),
    re.compile(r"\*[^*\n]+\*"),
)
_LEADING_SYMBOLS = re.compile(r"^[\s♪♫♬♩•·●▪■►▶*#~>\-–—]+")
_TRAILING_NOTES = re.compile(r"[\s♪♫♬♩]+$")
_SPEAKER = re.compile(r"^[^\W\d_][\w'’.-]*:(?=\s|$)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,!?;:%…)\]}»”])")
_SPACES = re.compile(r"\s+")
_QUOTES = "\"'“”„‟«»‘’‚‹›`´"


def decode_html(text: str) -> str:
    """Rule 1: decode entities, then drop tags (an entity-decoded ``<`` that is no tag stays)."""
    return _TAG.sub("", html.unescape(text))


def remove_markers(text: str) -> str:
    """Rule 2: drop ``(...)``, ``[...]`` and ``*...*`` spans."""
    for pattern in _MARKERS:
        text = pattern.sub(" ", text)
    return text


def strip_leading_symbols(line: str) -> str:
    """Rule 3: drop music notes, bullets, dashes and similar symbols at the start of a line
    (and music notes at its end)."""
    return _TRAILING_NOTES.sub("", _LEADING_SYMBOLS.sub("", line))


def remove_speaker(line: str) -> str:
    """Rule 4: drop ``Word:`` at the start of a line (not ``10:30``, not two words)."""
    return _SPEAKER.sub("", line.lstrip(), count=1)


def fix_punctuation_spacing(text: str) -> str:
    """Rule 5: no space before ``. , ! ? ; : % …`` and closing brackets/quotes."""
    return _SPACE_BEFORE_PUNCT.sub(r"\1", text)


def collapse_spaces(text: str) -> str:
    """Rule 6: one space between words, none at the ends."""
    return _SPACES.sub(" ", text).strip()


def trim_quotes(text: str) -> str:
    """Rule 7: drop quotation marks at the start and end."""
    return text.strip(_QUOTES).strip()


def clean_subtitle(text: str | bytes) -> str:
    """Clean one subtitle with the appendix A.7 rules (see module docstring). Bytes must be UTF-8."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(f"subtitle is not valid UTF-8 (byte {error.start})") from None
    if not isinstance(text, str):
        raise DataError(f"subtitle must be text, got {type(text).__name__}")
    text = remove_markers(decode_html(text))
    lines = [remove_speaker(strip_leading_symbols(line)) for line in text.splitlines()]
    text = collapse_spaces(fix_punctuation_spacing(" ".join(lines)))
    # Removing a marker or a quote can expose a leading symbol (or the reverse): repeat the edge
    # rules until nothing changes.
    previous = None
    while text != previous:
        previous, text = text, collapse_spaces(trim_quotes(strip_leading_symbols(text)))
    return text
