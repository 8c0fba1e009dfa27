"""WebVTT / SRT reading and writing."""

from __future__ import annotations

import pytest

from glossfree.alignment.subtitles import (
    Cue,
    format_srt,
    format_timestamp,
    format_vtt,
    parse_srt,
    parse_vtt,
    read_subtitles,
    write_subtitles,
)
from glossfree.errors import DataError

VTT = (
    "\ufeffWEBVTT - a title\r\n"
    "Kind: captions\r\n"
    "\r\n"
    "NOTE written by hand\r\n"
    "over two lines\r\n"
    "\r\n"
    "STYLE\r\n"
    "::cue { color: yellow }\r\n"
    "\r\n"
    "intro\r\n"
    "00:01.500 --> 00:04.250 align:start position:10%\r\n"
    "<v Anna>Hello there,\r\n"
    "how are you?\r\n"
    "\r\n"
    "\r\n"
    "01:02:03.004 --> 01:02:05.000\r\n"
    "Fine &amp; you?\r\n"
)


def test_vtt_reads_bom_crlf_header_note_style_identifier_settings_and_multiline_text():
    cues = parse_vtt(VTT.encode("utf-8"))
    assert cues == [
        Cue(1.5, 4.25, "<v Anna>Hello there,\nhow are you?", "intro"),
        Cue(3723.004, 3725.0, "Fine &amp; you?", None),
    ]


def test_srt_reads_comma_millis_bom_crlf_missing_index_and_coordinates():
    srt = (
        "\ufeff1\r\n00:00:01,500 --> 00:00:04,250 X1:10 X2:20 Y1:1 Y2:2\r\nHello there,\r\nhow are you?\r\n\r\n"
        "00:00:05.000 --> 00:00:06,5\r\nno index, dot and short millis\r\n"
    )
    assert parse_srt(srt) == [
        Cue(1.5, 4.25, "Hello there,\nhow are you?"),
        Cue(5.0, 6.5, "no index, dot and short millis"),
    ]


def test_round_trip_vtt_srt_vtt_keeps_text_and_times(tmp_path):
    cues = [
        Cue(0.0, 1.001, "first line\nsecond line"),
        Cue(2.5, 7.125, "Ünïcödé — text"),
        Cue(3725.004, 3726.999, "over an hour"),
    ]
    write_subtitles(tmp_path / "a.vtt", cues)
    from_vtt = read_subtitles(tmp_path / "a.vtt")
    write_subtitles(tmp_path / "b.srt", from_vtt)
    from_srt = read_subtitles(tmp_path / "b.srt")
    write_subtitles(tmp_path / "c.vtt", from_srt)
    again = read_subtitles(tmp_path / "c.vtt")
    for result in (from_vtt, from_srt, again):
        assert [(c.start, c.end, c.text) for c in result] == [(c.start, c.end, c.text) for c in cues]
    assert (tmp_path / "a.vtt").read_text(encoding="utf-8") == (tmp_path / "c.vtt").read_text(encoding="utf-8")
    assert "00:00:01,001" in (tmp_path / "b.srt").read_text(encoding="utf-8")


def test_vtt_identifier_survives_and_formats_are_exact():
    cues = [Cue(0.0, 1.0, "a", "id-1"), Cue(1.0, 2.0, "")]
    assert format_vtt(cues) == "WEBVTT\n\nid-1\n00:00:00.000 --> 00:00:01.000\na\n\n00:00:01.000 --> 00:00:02.000\n"
    assert parse_vtt(format_vtt(cues)) == cues
    assert format_srt(cues[:1]) == "1\n00:00:00,000 --> 00:00:01,000\na\n\n"
    assert format_timestamp(360000.0) == "100:00:00.000"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("WEBVTX\n\n00:01.000 --> 00:02.000\nx\n", 1, "must start with 'WEBVTT'"),
        ("WEBVTT\n\n00:01.000 --> 00:02.00\nx\n", 3, "not a WebVTT cue timing"),
        ("WEBVTT\n\n\nident\n", 4, "expected a cue timing line"),
        ("WEBVTT\n\n00:03.000 --> 00:02.000\nx\n", 3, "ends before it starts"),
        ("WEBVTT\n\n00:61.000 --> 01:02.000\nx\n", 3, "below 60"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nx\n00:02.000 --> 00:03.000\ny\n", 5, "'-->' inside cue text"),
    ],
)
def test_malformed_vtt_names_file_and_line(text, line, message):
    with pytest.raises(DataError, match=rf"^subs\.vtt:{line}: .*{message}"):
        parse_vtt(text, source="subs.vtt")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("1\n00:00:01,000 -> 00:00:02,000\nx\n", 2, "expected a cue number or"),
        ("1\n00:00:01,000 --> 00:00:02,000\nx\n\n2\n", 6, "has no timing line"),
        ("1\n00:00:01,000 --> 00:00:02,000\nx\n\nstray text\n", 5, "expected a cue number or"),
    ],
)
def test_malformed_srt_names_file_and_line(text, line, message):
    with pytest.raises(DataError, match=rf"^subs\.srt:{line}: .*{message}"):
        parse_srt(text, source="subs.srt")


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_subtitles(tmp_path / "missing.vtt")
    (tmp_path / "bad.srt").write_bytes(b"1\n00:00:01,000 --> 00:00:02,000\n\xff\xfe\n")
    with pytest.raises(DataError, match=r"bad\.srt: not valid UTF-8"):
        read_subtitles(tmp_path / "bad.srt")
    with pytest.raises(DataError, match="unknown subtitle format 'txt'"):
        read_subtitles(tmp_path / "x.txt")


def test_writer_refuses_text_it_cannot_represent_and_leaves_no_file(tmp_path):
    with pytest.raises(DataError, match=r"out\.srt: cue 0: a blank line"):
        write_subtitles(tmp_path / "out.srt", [Cue(0, 1, "a\n\nb")])
    with pytest.raises(DataError, match="need 0 <= start <= end"):
        write_subtitles(tmp_path / "out.vtt", [Cue(2, 1, "a")])
    assert list(tmp_path.iterdir()) == []
