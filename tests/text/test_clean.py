"""Subtitle cleaning (paper 004, appendix A.7): one test per rule, then the whole pipeline."""

from __future__ import annotations

import pytest

from glossfree.errors import DataError
from glossfree.text.clean import (
    clean_subtitle,
    collapse_spaces,
    decode_html,
    fix_punctuation_spacing,
    remove_markers,
    remove_speaker,
    strip_leading_symbols,
    trim_quotes,
)


def test_rule1_html_entities_and_tags():
    assert decode_html("&lt;font color=&quot;#ffff00&quot;&gt;Hello&lt;/font&gt;") == "Hello"
    assert decode_html("<c.colorE5E5E5>so</c> we <i>go</i>") == "so we go"
    assert decode_html("<00:00:01.500>auto<00:00:02.000> captions") == "auto captions"
    assert decode_html("fish &amp; chips, it&#39;s 3 &lt; 4") == "fish & chips, it's 3 < 4"
    assert clean_subtitle("a &lt; b and c > d") == "a < b and c > d"  # not tags: kept


def test_rule2_non_verbal_markers():
    assert collapse_spaces(remove_markers("(laughter) So [MUSIC] we *flush* go")) == "So we go"
    assert clean_subtitle("[Applause]") == ""
    assert clean_subtitle("I said (quietly) no") == "I said no"


def test_rule3_leading_symbols():
    assert strip_leading_symbols("♪ la la ♪") == "la la"
    assert strip_leading_symbols("• first point") == "first point"
    assert strip_leading_symbols("- Yes.") == "Yes."
    assert strip_leading_symbols(">> next") == "next"
    assert strip_leading_symbols("well - maybe") == "well - maybe"  # only at the start


def test_rule4_speaker_labels():
    assert remove_speaker("John: I am here") == " I am here"
    assert remove_speaker("JOHN: hi") == " hi"
    assert remove_speaker("Mary Ann: hi") == "Mary Ann: hi"  # two words: not a label
    assert remove_speaker("At 10:30 we meet") == "At 10:30 we meet"
    assert remove_speaker("10: items") == "10: items"
    assert clean_subtitle("- John: Hello.\n- Mary: Hi!") == "Hello. Hi!"


def test_rule5_space_before_punctuation():
    assert fix_punctuation_spacing("Hello , world ! Really ?") == "Hello, world! Really?"
    assert fix_punctuation_spacing("50 % (about )") == "50% (about)"


def test_rule6_collapse_spaces():
    assert collapse_spaces("  a \t b\n\nc  ") == "a b c"
    assert clean_subtitle("first line\nsecond   line") == "first line second line"


def test_rule7_quotes():
    assert trim_quotes('"Quoted text"') == "Quoted text"
    assert trim_quotes("“Curly” and more”") == "Curly” and more"
    assert clean_subtitle("'It's fine,' she said") == "It's fine,' she said"


def test_whole_pipeline_and_idempotence():
    raw = '<font color="#fff">♪ JOHN: &quot;We ( laughs ) did it , [cheering] *sigh* together !&quot;</font>'
    assert clean_subtitle(raw) == "We did it, together!"
    for text in [raw, "- (sighs) Hello ,  'you' !", "♪♪", "plain text."]:
        once = clean_subtitle(text)
        assert clean_subtitle(once) == once
    assert clean_subtitle("") == ""


def test_bytes_input():
    assert clean_subtitle("Grüße".encode()) == "Grüße"
    with pytest.raises(DataError, match=r"subtitle is not valid UTF-8 \(byte 2\)"):
        clean_subtitle(b"Gr\xfc\xdfe")
    with pytest.raises(DataError, match="subtitle must be text, got int"):
        clean_subtitle(5)
