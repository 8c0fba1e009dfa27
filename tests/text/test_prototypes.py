"""Prototype vectors: fastText training, user vector files, LM embeddings, persistence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glossfree.errors import ConfigError, DataError
from glossfree.text.prototypes import (
    PrototypeConfig,
    build_dataset_prototypes,
    fasttext_prototypes,
    lm_embedding_prototypes,
    load_prototypes,
    load_vector_prototypes,
    save_prototypes,
)
from glossfree.text.pseudo_gloss import VOCAB_FILE, PseudoGlossVocab, annotate_manifest, build_vocab

CORPUS = [
    ["morgen", "regnen", "es", "im", "norden"],
    ["am", "tag", "scheinen", "die", "sonne"],
    ["im", "süden", "scheinen", "morgen", "die", "sonne"],
    ["nachts", "geben", "es", "frost"],
] * 5


@pytest.fixture()
def vocab():
    return build_vocab([["morgen", "sonne", "wolkenfeld"], ["frost"]], language="de")


def test_fasttext_shape_blank_and_determinism(vocab):
    first = fasttext_prototypes(vocab, CORPUS, dim=16, epochs=2, seed=3, buckets=1000)
    again = fasttext_prototypes(vocab, CORPUS, dim=16, epochs=2, seed=3, buckets=1000)
    other_seed = fasttext_prototypes(vocab, CORPUS, dim=16, epochs=2, seed=4, buckets=1000)
    assert first.shape == (len(vocab), 16) and first.dtype == torch.float32
    assert torch.equal(first[0], torch.zeros(16))  # blank prototype
    assert bool((first[1:].norm(dim=1) > 0).all())
    assert torch.equal(first, again)
    assert not torch.equal(first, other_seed)


def test_fasttext_vector_for_word_outside_the_corpus_comes_from_ngrams(vocab):
    # "wolkenfeld" is not in CORPUS: fastText still gives it a (character n-gram) vector.
    protos = fasttext_prototypes(vocab, CORPUS, dim=8, epochs=1, buckets=1000)
    assert protos[vocab.id("wolkenfeld")].norm() > 0


def test_fasttext_errors(vocab):
    with pytest.raises(DataError, match="empty corpus"):
        fasttext_prototypes(vocab, [[], []], dim=8)
    with pytest.raises(ConfigError, match="dim and epochs must be >= 1"):
        fasttext_prototypes(vocab, CORPUS, dim=0)


def _write_vec(path, rows, header=True):
    lines = [f"{len(rows)} {len(next(iter(rows.values())))}"] if header else []
    lines += [f"{word} " + " ".join(str(x) for x in vec) for word, vec in rows.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_vec_file_with_capitalised_keys(tmp_path, vocab):
    rows = {"Morgen": [1.0, 0.0, 0.0], "sonne": [0.0, 2.0, 0.0], "Wolkenfeld": [0.0, 0.0, 3.0],
            "Frost": [1.0, 1.0, 1.0], "unused": [9.0, 9.0, 9.0]}
    for header in (True, False):
        path = _write_vec(tmp_path / f"v{header}.vec", rows, header=header)
        protos = load_vector_prototypes(vocab, path)
        expected = torch.tensor([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 2, 0], [0, 0, 3]], dtype=torch.float32)
        # vocab order: <blank>, frost, morgen, sonne, wolkenfeld
        assert vocab.tokens == ("<blank>", "frost", "morgen", "sonne", "wolkenfeld")
        assert torch.equal(protos, expected)


def test_vec_missing_words(tmp_path, vocab):
    path = _write_vec(tmp_path / "v.vec", {"morgen": [3.0, 4.0], "sonne": [0.0, 5.0]})
    with pytest.raises(DataError, match=r"no vector for 2 of 4 pseudo-glosses, e.g. \['frost', 'wolkenfeld'\]") as caught:
        load_vector_prototypes(vocab, path)
    assert "--on-missing random (on_missing='random' from Python or a recipe)" in str(caught.value)
    protos = load_vector_prototypes(vocab, path, on_missing="random", seed=1)
    assert torch.allclose(protos[1:].norm(dim=1), torch.full((4,), 5.0))  # random rows get the mean norm
    assert torch.equal(protos, load_vector_prototypes(vocab, path, on_missing="random", seed=1))


def test_vector_file_errors(tmp_path, vocab):
    with pytest.raises(DataError, match="vector file not found"):
        load_vector_prototypes(vocab, tmp_path / "none.vec")
    bad = tmp_path / "bad.vec"
    bad.write_text("2 3\nmorgen 1 2 3\nsonne 1 2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.vec:3: expected a word and 3 numbers, got 2"):
        load_vector_prototypes(vocab, bad)
    other = tmp_path / "x.npy"
    other.write_bytes(b"")
    with pytest.raises(ConfigError, match="unknown vector format '.npy'"):
        load_vector_prototypes(vocab, other)
    notbin = tmp_path / "x.bin"
    notbin.write_bytes(b"not a model")
    with pytest.raises(DataError, match="not a fastText .bin model"):
        load_vector_prototypes(vocab, notbin)


def test_facebook_bin_roundtrip(tmp_path, vocab):
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    model = FastText(vector_size=8, min_count=1, workers=1, seed=0, epochs=1, bucket=1000)
    model.build_vocab(corpus_iterable=CORPUS)
    model.train(corpus_iterable=CORPUS, total_examples=len(CORPUS), epochs=1)
    path = tmp_path / "cc.test.8.bin"
    save_facebook_model(model, str(path))
    protos = load_vector_prototypes(vocab, path)
    assert protos.shape == (5, 8) and torch.equal(protos[0], torch.zeros(8))
    for token in vocab.tokens[1:]:
        assert np.allclose(protos[vocab.id(token)].numpy(), model.wv[token], atol=1e-6)


def test_lm_embedding_prototypes_average_subwords(mbart_tokenizer, vocab):
    weight = torch.randn(len(mbart_tokenizer), 6, generator=torch.Generator().manual_seed(0))
    protos = lm_embedding_prototypes(vocab, torch.nn.Embedding.from_pretrained(weight), mbart_tokenizer)
    assert protos.shape == (5, 6) and torch.equal(protos[0], torch.zeros(6))
    ids = mbart_tokenizer("wolkenfeld", add_special_tokens=False)["input_ids"]
    assert len(ids) > 1  # a compound split into several pieces
    assert torch.allclose(protos[vocab.id("wolkenfeld")], weight[ids].mean(0))
    with pytest.raises(ConfigError, match="outside the embedding matrix"):
        lm_embedding_prototypes(vocab, weight[:100], mbart_tokenizer)


def test_save_load_and_vocab_mismatch(tmp_path, vocab):
    protos = torch.randn(len(vocab), 4)
    path = save_prototypes(tmp_path / "p.safetensors", protos, vocab)
    assert torch.equal(load_prototypes(path, vocab), protos)
    other = build_vocab([["regen"]], language="de")
    with pytest.raises(DataError, match="built for another pseudo-gloss vocabulary"):
        load_prototypes(path, other)
    with pytest.raises(ValueError, match=r"prototypes must be \[5, D\]"):
        save_prototypes(tmp_path / "q.safetensors", torch.zeros(3, 4), vocab)
    with pytest.raises(DataError, match="prototype file not found"):
        load_prototypes(tmp_path / "none.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"junk")
    with pytest.raises(DataError, match="not a prototype safetensors file"):
        load_prototypes(junk)


def test_dataset_prototypes_from_annotated_manifest(tiny_manifest):
    with pytest.raises(DataError, match="run `glossfree pseudo-glosses"):
        build_dataset_prototypes(tiny_manifest.parent)
    result = annotate_manifest(tiny_manifest)
    path = build_dataset_prototypes(tiny_manifest.parent, config=PrototypeConfig(dim=8, epochs=1))
    protos = load_prototypes(path, result.vocab)
    assert protos.shape == (len(result.vocab), 8)
    with pytest.raises(ConfigError, match="needs prototypes.vectors"):
        build_dataset_prototypes(tiny_manifest.parent, config=PrototypeConfig(source="vectors"))
    with pytest.raises(ConfigError, match="needs the path of a local language model"):
        build_dataset_prototypes(tiny_manifest.parent, config=PrototypeConfig(source="lm"))


def test_dataset_prototypes_from_a_local_lm(tiny_manifest, mbart_tokenizer, tmp_path):
    from transformers import MBartConfig, MBartForConditionalGeneration

    annotate_manifest(tiny_manifest)
    config = MBartConfig(
        vocab_size=len(mbart_tokenizer), d_model=8, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16,
    )
    lm_dir = tmp_path / "lm"
    model = MBartForConditionalGeneration(config)
    model.save_pretrained(str(lm_dir))
    mbart_tokenizer.save_pretrained(str(lm_dir))
    path = build_dataset_prototypes(tiny_manifest.parent, config=PrototypeConfig(source="lm"), lm_path=lm_dir)
    vocab = PseudoGlossVocab.load(tiny_manifest.parent / VOCAB_FILE)
    protos = load_prototypes(path, vocab)
    weight = model.get_input_embeddings().weight.detach()
    ids = mbart_tokenizer("sonne", add_special_tokens=False)["input_ids"]
    assert protos.shape == (len(vocab), 8)
    assert torch.allclose(protos[vocab.id("sonne")], weight[ids].mean(0))
    with pytest.raises(DataError, match="language model folder not found"):
        build_dataset_prototypes(tiny_manifest.parent, config=PrototypeConfig(source="lm"), lm_path=tmp_path / "x")
