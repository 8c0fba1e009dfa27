"""Taggers: HanTa tag tables, tokenisation, UPOS output, spaCy adapter, language errors."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest

from glossfree.errors import ConfigError
from glossfree.text.taggers import (
    CLAWS5_TO_UPOS,
    STTS_TO_UPOS,
    HanTaTagger,
    SpacyTagger,
    Tagger,
    TaggedToken,
    get_tagger,
    map_tag,
    normalize_language,
    tokenize,
)

UPOS = {
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
    "PUNCT", "SCONJ", "SYM", "VERB", "X",
}


def _hanta_tags(tagger: HanTaTagger) -> set[str]:
    # As in HanoverTagger.list_postags: POS tags are the ids whose negation is also a key.
    table = tagger._model.int2tag
    return {table[-key] for key in table if key < 0}


@pytest.mark.parametrize(("language", "table"), [("de", STTS_TO_UPOS), ("en", CLAWS5_TO_UPOS)])
def test_every_hanta_tag_has_an_explicit_upos(language, table):
    tags = _hanta_tags(HanTaTagger(language))
    assert len(tags) > 30
    assert tags <= set(table), f"unmapped HanTa tags: {sorted(tags - set(table))}"
    assert set(table.values()) <= UPOS


def test_tag_tables_follow_ud_conversion():
    assert map_tag("NN", "de") == "NOUN"
    assert map_tag("NE", "de") == "PROPN"
    assert map_tag("VV(FIN)", "de") == "VERB"
    assert map_tag("VM(FIN)", "de") == "AUX"
    assert map_tag("VA(FIN)", "de") == "AUX"
    assert map_tag("ADJ(D)", "de") == "ADJ"
    assert map_tag("PPER", "de") == "PRON"
    assert map_tag("PROAV", "de") == "ADV"
    assert map_tag("CARD", "de") == "NUM"
    assert map_tag("ART", "de") == "DET"
    assert map_tag("NP0", "en") == "PROPN"
    assert map_tag("VVZ", "en") == "VERB"
    assert map_tag("VBZ", "en") == "AUX"
    assert map_tag("CRD", "en") == "NUM"
    assert map_tag("no-such-tag", "de") == "X"


def test_german_sentence_upos():
    text = "und nun die wettervorhersage für morgen donnerstag den zwölften august"
    tagged = HanTaTagger("de").tag([text])[0]
    assert [t.token for t in tagged] == text.split()
    assert [t.upos for t in tagged] == [
        "CCONJ", "ADV", "DET", "NOUN", "ADP", "ADV", "NOUN", "DET", "ADJ", "NOUN",
    ]
    assert [t.lemma.lower() for t in tagged][2:4] == ["der", "wettervorhersage"]
    assert all(isinstance(t, TaggedToken) for t in tagged)


def test_english_clitics_are_split_before_tagging():
    assert tokenize("I don't think it's going to rain.", "en") == [
        "I", "do", "n't", "think", "it", "'s", "going", "to", "rain", ".",
    ]
    tagged = HanTaTagger("en").tag(["I don't think it's going to rain."])[0]
    lemmas = {t.token: (t.lemma, t.upos) for t in tagged}
    assert lemmas["n't"] == ("not", "PART")
    assert lemmas["going"] == ("go", "VERB")
    assert lemmas["."][1] == "PUNCT"


def test_german_tokenizer_keeps_hyphenated_words():
    assert tokenize("nordrhein-westfalen, 25 grad!", "de") == ["nordrhein-westfalen", ",", "25", "grad", "!"]


def test_empty_and_repeated_sentences():
    tagger = HanTaTagger("de")
    out = tagger.tag(["", "   ", "es regnet", "es regnet"])
    assert out[0] == [] and out[1] == []
    assert out[2] == out[3] and out[2] is not out[3]


def test_case_handling_auto_matches_lowercase_mode_on_lowercase_text():
    text = ["im süden scheint morgen die sonne"]
    auto = HanTaTagger("de").tag(text)
    insensitive = HanTaTagger("de", case_sensitive=False).tag(text)
    assert auto == insensitive
    assert HanTaTagger("de").name == "hanta-de"
    assert HanTaTagger("de", case_sensitive=True).name == "hanta-de-case_sensitive=True"


def test_language_codes_and_unknown_language():
    assert normalize_language("de_DE") == "de"
    assert normalize_language("EN-gb") == "en"
    with pytest.raises(ConfigError, match=r"unsupported language 'fr'.*supported: de, en"):
        normalize_language("fr")
    with pytest.raises(ConfigError, match="supported: de, en"):
        HanTaTagger("xx")
    with pytest.raises(ConfigError, match="supported: de, en"):
        get_tagger("nl")


class _FakeToken(SimpleNamespace):
    pass


class _FakeNlp:
    """Duck-typed spaCy pipeline: whitespace tokens, lemma = lowercase, POS from a dict."""

    lang = "de"
    meta = {"lang": "de", "name": "fake_news_sm"}

    def __init__(self, pos):
        self.pos = pos

    def pipe(self, texts, batch_size=1):
        for text in texts:
            yield [
                _FakeToken(text=w, lemma_=w.lower(), pos_=self.pos.get(w, "X")) for w in text.split()
            ]


def test_spacy_adapter_uses_pipeline_output():
    tagger = SpacyTagger(_FakeNlp({"Sonne": "NOUN", "scheint": "VERB"}))
    assert isinstance(tagger, Tagger)
    assert tagger.name == "spacy-de_fake_news_sm"
    assert tagger.tag(["Sonne scheint heute", ""]) == [
        [("Sonne", "sonne", "NOUN"), ("scheint", "scheint", "VERB"), ("heute", "heute", "X")],
        [],
    ]


@pytest.mark.skipif(importlib.util.find_spec("spacy") is not None, reason="spaCy is installed here")
def test_spacy_by_name_without_spacy_says_how_to_install():
    with pytest.raises(ConfigError, match="spaCy is not installed.*pip install spacy"):
        get_tagger("de", spacy_model="de_core_news_lg")
