"""Pseudo-gloss extraction, vocabulary (ids, filter, persistence) and dataset annotation."""

from __future__ import annotations

import json

import pytest
import torch

from glossfree.errors import ConfigError, DataError
from glossfree.text.pseudo_gloss import (
    BLANK,
    GLOSSES_FILE,
    VOCAB_FILE,
    PseudoGlossConfig,
    PseudoGlossVocab,
    annotate_manifest,
    build_vocab,
    check_texts,
    extract_pseudo_glosses,
    lemmatize,
    load_pseudo_glosses,
    pseudo_glosses_from_tags,
)
from glossfree.text.taggers import HanTaTagger, TaggedToken

TINY_TRAIN = [
    ["morgen", "regnen", "es", "norden"],
    ["tag", "scheinen", "sonne"],
    [],
    ["süden", "scheinen", "morgen", "sonne"],
]


def test_german_pseudo_glosses_are_content_lemmas_in_order():
    out = extract_pseudo_glosses(
        [
            "und nun die wettervorhersage für morgen donnerstag den zwölften august",
            "der orkan tobt über bayern",
        ],
        language="de",
    )
    assert out == [
        ["nun", "wettervorhersage", "morgen", "donnerstag", "zwölft", "august"],
        ["orkan", "toben", "bayern"],
    ]


def test_english_pseudo_glosses():
    out = extract_pseudo_glosses(["The wind blows weak to moderately from the southwest."], language="en")
    assert out == [["wind", "blow", "weak", "moderately", "southwest"]]


def test_empty_and_content_free_sentences_give_empty_lists():
    assert extract_pseudo_glosses(["", "   ", "und in der", "es regnet"]) == [[], [], [], ["es", "regnen"]]
    assert extract_pseudo_glosses(["and of the"], language="en") == [[]]


def test_keep_upos_and_symbol_lemmas():
    tagged = [
        TaggedToken("Sonne", "Sonne", "NOUN"),
        TaggedToken("scheint", "scheinen", "VERB"),
        TaggedToken("%", "%", "NOUN"),  # a symbol tagged as a noun is never a gloss
        TaggedToken("25", "25", "NUM"),
    ]
    assert pseudo_glosses_from_tags(tagged) == ["sonne", "scheinen", "25"]
    assert pseudo_glosses_from_tags(tagged, keep_upos={"NOUN"}) == ["sonne"]


def test_lemmatize_keeps_every_word_but_punctuation():
    assert lemmatize(["Der Orkan tobt über Bayern."]) == [["der", "orkan", "toben", "über", "bayern"]]


def test_bytes_and_bad_encodings():
    assert check_texts([b"s\xc3\xbcden", "nord"]) == ["süden", "nord"]
    with pytest.raises(DataError, match=r"my.jsonl: sentence 1 is not valid UTF-8 \(byte 1\)"):
        extract_pseudo_glosses(["gut", b"s\xfcden"], source="my.jsonl")
    with pytest.raises(DataError, match="sentence 0 contains undecodable bytes"):
        check_texts([b"s\xfcden".decode("utf-8", "surrogateescape")])
    with pytest.raises(DataError, match="sentence 0 is int, expected text"):
        check_texts([3])


def test_unknown_language_lists_supported():
    with pytest.raises(ConfigError, match=r"unsupported language 'fr'.*supported: de, en"):
        extract_pseudo_glosses(["bonjour"], language="fr")


def test_vocab_ids_sorted_with_blank_first():
    vocab = build_vocab(TINY_TRAIN, language="de", tagger="hanta-de")
    assert vocab.tokens == (
        BLANK, "es", "morgen", "norden", "regnen", "scheinen", "sonne", "süden", "tag",
    )
    assert vocab.blank_id == 0 and vocab.id(BLANK) == 0
    assert vocab.num_glosses == 8 and len(vocab) == 9
    assert vocab.num_sentences == 4
    assert vocab.doc_freq["morgen"] == 2 and vocab.doc_freq["tag"] == 1
    assert BLANK not in vocab and "sonne" in vocab
    # Order of the input sentences does not change the ids.
    assert build_vocab(TINY_TRAIN[::-1], language="de").tokens == vocab.tokens


def test_frequency_filter_drops_lemmas_at_or_above_threshold():
    # morgen, scheinen, sonne occur in 2 of 4 sentences = 50 %.
    at_half = build_vocab(TINY_TRAIN, language="de", max_doc_freq=0.5)
    assert at_half.dropped == ("morgen", "scheinen", "sonne")
    assert "morgen" not in at_half and "tag" in at_half
    assert build_vocab(TINY_TRAIN, language="de", max_doc_freq=0.51).dropped == ()
    assert build_vocab(TINY_TRAIN, language="de", min_count=2).tokens == (BLANK, "morgen", "scheinen", "sonne")


def test_sign2gpt_occurrence_filter_differs_from_document_frequency():
    lists = [["es", "es"], ["sonne"], ["regen"], ["wind"]]
    # "es": in 1 of 4 sentences (25 %) but 2 occurrences / 4 sentences = 50 %.
    assert build_vocab(lists, language="de", max_doc_freq=0.4).dropped == ()
    by_occurrence = build_vocab(lists, language="de", max_doc_freq=0.4, filter_mode="occurrences")
    assert by_occurrence.dropped == ("es",) and by_occurrence.filter_mode == "occurrences"
    # Sign2GPT divides by the number of distinct sentence texts.
    fewer = build_vocab(lists, language="de", max_doc_freq=0.4, filter_mode="occurrences", num_distinct_sentences=2)
    assert fewer.dropped == ("es", "regen", "sonne", "wind")
    with pytest.raises(ConfigError, match="filter_mode must be 'sentences' or 'occurrences', got 'tokens'"):
        build_vocab(lists, language="de", filter_mode="tokens")


def test_bad_filter_values():
    with pytest.raises(ConfigError, match=r"max_doc_freq must be in \(0, 1\], got 1.5"):
        build_vocab(TINY_TRAIN, language="de", max_doc_freq=1.5)
    with pytest.raises(ConfigError, match="min_count must be >= 1, got 0"):
        build_vocab(TINY_TRAIN, language="de", min_count=0)
    with pytest.raises(DataError, match="zero training sentences"):
        build_vocab([], language="de")


def test_encode_multi_hot_and_empty_targets():
    vocab = build_vocab(TINY_TRAIN, language="de")
    assert vocab.encode(["sonne", "orkan", "sonne", BLANK]) == [6, 6]
    assert vocab.encode(["sonne", "sonne", "tag"], unique=True) == [6, 8]
    assert vocab.decode([6, 8]) == ["sonne", "tag"]
    target = vocab.multi_hot([["sonne", "tag", "sonne"], [], ["orkan"]])
    expected = torch.zeros(3, 9)
    expected[0, [6, 8]] = 1.0
    assert torch.equal(target, expected)  # the empty and the all-unknown rows stay zero


def test_vocab_save_load_roundtrip(tmp_path):
    vocab = build_vocab(TINY_TRAIN, language="de", max_doc_freq=0.5, tagger="hanta-de")
    path = vocab.save(tmp_path / "v" / VOCAB_FILE)
    assert [p.name for p in path.parent.iterdir()] == [VOCAB_FILE]  # no temp file left behind
    loaded = PseudoGlossVocab.load(path)
    assert loaded == vocab
    assert loaded.dropped == vocab.dropped and loaded.doc_freq == vocab.doc_freq
    assert json.loads(path.read_text(encoding="utf-8"))["tokens"][0] == BLANK


def test_vocab_load_errors(tmp_path):
    path = tmp_path / "v.json"
    with pytest.raises(DataError, match="v.json: pseudo-gloss vocabulary not found"):
        PseudoGlossVocab.load(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match=r"v.json:1: not valid JSON"):
        PseudoGlossVocab.load(path)
    good = build_vocab(TINY_TRAIN, language="de").to_dict()
    for change, message in [
        ({"format": "other"}, "not a pseudo-gloss vocabulary"),
        ({"tokens": ["sonne", BLANK]}, r"tokens\[0\] must be '<blank>'"),
        ({"tokens": [BLANK, "tag", "es"]}, "must be sorted and unique"),
        ({"doc_freq": {}}, "'doc_freq' lacks 8 tokens"),
    ]:
        path.write_text(json.dumps({**good, **change}), encoding="utf-8")
        with pytest.raises(DataError, match=message):
            PseudoGlossVocab.load(path)
    del good["num_sentences"]
    path.write_text(json.dumps(good), encoding="utf-8")
    with pytest.raises(DataError, match="missing key 'num_sentences'"):
        PseudoGlossVocab.load(path)


def test_annotate_manifest_builds_vocab_on_train_only(tiny_manifest):
    result = annotate_manifest(tiny_manifest, max_doc_freq=0.5)
    folder = tiny_manifest.parent
    assert result.vocab_path == folder / VOCAB_FILE and result.glosses_path == folder / GLOSSES_FILE
    assert result.num_samples == 6 and result.num_empty == 1
    assert result.split_counts == {"train": 4, "dev": 1, "test": 1}
    vocab = PseudoGlossVocab.load(result.vocab_path)
    assert vocab == result.vocab
    assert vocab.tokens == (BLANK, "es", "norden", "regnen", "süden", "tag")
    assert vocab.language == "de" and vocab.tagger == "hanta-de" and vocab.max_doc_freq == 0.5
    samples = load_pseudo_glosses(folder)
    assert samples["c"] == []
    assert samples["f"] == ["orkan", "toben", "bayern"]  # kept in the file ...
    assert vocab.encode(samples["f"]) == []  # ... but not in the (train-only) vocabulary
    assert samples["a"] == ["morgen", "regnen", "es", "norden"]


def test_annotate_split_files_and_out_dir(tmp_path, make_manifest):
    root = tmp_path / "ds"
    make_manifest(root / "train.jsonl", [{"id": "t1", "split": "train", "language": "de_DE", "text": "es schneit"}])
    make_manifest(root / "test.jsonl", [{"id": "x1", "split": "test", "language": "de_DE", "text": "sonne"}])
    result = annotate_manifest(root, out_dir=tmp_path / "out")
    assert result.vocab.tokens == (BLANK, "es", "schneien")
    assert set(load_pseudo_glosses(tmp_path / "out" / GLOSSES_FILE)) == {"t1", "x1"}


def test_annotate_errors(tmp_path, make_manifest):
    with pytest.raises(DataError, match="no such manifest file or dataset folder"):
        annotate_manifest(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no manifest.jsonl or <split>.jsonl"):
        annotate_manifest(empty)
    only_test = make_manifest(tmp_path / "a" / "manifest.jsonl", [{"id": "1", "split": "test", "language": "de", "text": "x"}])
    with pytest.raises(DataError, match=r"no records with split 'train' \(found test\)"):
        annotate_manifest(only_test)
    mixed = make_manifest(
        tmp_path / "b" / "manifest.jsonl",
        [
            {"id": "1", "split": "train", "language": "de", "text": "sonne"},
            {"id": "2", "split": "train", "language": "en", "text": "sun"},
        ],
    )
    with pytest.raises(DataError, match=r"several languages \(de, en\); pick one with --language \(language= from Python\)"):
        annotate_manifest(mixed)
    assert annotate_manifest(mixed, language="en").vocab.tokens == (BLANK, "sun")
    french = make_manifest(tmp_path / "c" / "manifest.jsonl", [{"id": "1", "split": "train", "language": "fr", "text": "x"}])
    with pytest.raises(ConfigError, match="supported: de, en"):
        annotate_manifest(french)
    bad = tmp_path / "d" / "manifest.jsonl"
    bad.parent.mkdir()
    bad.write_bytes(b'{"id": "1", "split": "train", "language": "de", "pose": "p", "text": "s\xfcden"}\n')
    with pytest.raises(DataError, match="manifest.jsonl"):
        annotate_manifest(bad)
    dup = tmp_path / "e"
    make_manifest(dup / "train.jsonl", [{"id": "1", "split": "train", "language": "de", "text": "a"}])
    make_manifest(dup / "dev.jsonl", [{"id": "1", "split": "dev", "language": "de", "text": "b"}])
    with pytest.raises(DataError, match="duplicate id '1'"):
        annotate_manifest(dup)


def test_load_pseudo_glosses_errors(tmp_path):
    path = tmp_path / GLOSSES_FILE
    path.write_text(json.dumps({"format": "glossfree.pseudo_glosses/1", "samples": {"a": "sonne"}}))
    with pytest.raises(DataError, match=r"samples\['a'\] must be a list of strings"):
        load_pseudo_glosses(path)
    path.write_text(json.dumps({"samples": {}}))
    with pytest.raises(DataError, match="not a pseudo-gloss file"):
        load_pseudo_glosses(path)


def test_config_defaults_are_the_papers():
    config = PseudoGlossConfig()
    assert set(config.keep_upos) == {"NOUN", "NUM", "ADV", "PRON", "PROPN", "ADJ", "VERB"}
    assert config.max_doc_freq is None and config.language == "de"
    with pytest.raises(Exception, match="extra"):
        PseudoGlossConfig(unknown=1)


def test_real_phoenix_sentences(phoenix_train50):
    texts = [row["text"] for row in phoenix_train50]
    glosses = extract_pseudo_glosses(texts, tagger=HanTaTagger("de"))
    assert len(glosses) == 50
    assert all(glosses), "every PHOENIX14T sentence has at least one content word"
    assert all(lemma == lemma.lower() and lemma.strip() for g in glosses for lemma in g)
    assert glosses[0] == ["nun", "wettervorhersage", "morgen", "donnerstag", "zwölft", "august"]
    # Pseudo-glosses are a subsequence-like selection: never more than the sentence's words.
    assert all(len(g) <= len(t.split()) for g, t in zip(glosses, texts))
    vocab = build_vocab(glosses, language="de")
    assert list(vocab.tokens[1:]) == sorted({lemma for g in glosses for lemma in g})
