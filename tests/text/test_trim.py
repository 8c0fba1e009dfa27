"""Vocabulary trimming of tiny T5 and mBART models (the latter with the real GFSLT tokenizer)."""

from __future__ import annotations

import json

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    MBartConfig,
    MBartForConditionalGeneration,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

from glossfree.errors import ConfigError, DataError
from glossfree.text.trim import (
    TRIMMED_VOCAB_FILE,
    TrimmedVocab,
    kept_token_ids,
    load_trimmed,
    save_trimmed,
    trim_vocabulary,
)

WORDS = "und nun die wettervorhersage für morgen sonne regen wind nord süd schnee nebel frost".split()
TRAIN = ["und nun die wettervorhersage für morgen", "morgen sonne", "regen und wind"]


def word_tokenizer() -> PreTrainedTokenizerFast:
    """A T5-style word-level tokenizer: <pad>=0, </s>=1, <unk>=2, then WORDS; appends </s>."""
    vocab = {w: i for i, w in enumerate(["<pad>", "</s>", "<unk>", *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def tiny_t5(vocab_size: int, *, tied: bool) -> T5ForConditionalGeneration:
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=vocab_size, d_model=16, d_ff=32, num_layers=1, num_heads=2, d_kv=8,
        decoder_start_token_id=0, dropout_rate=0.0,
    )
    model = T5ForConditionalGeneration(config).eval()
    if not tied:  # Flan-T5 style: separate LM head
        model.lm_head.weight = torch.nn.Parameter(torch.randn(vocab_size, 16))
    return model


def tiny_mbart(vocab_size: int) -> MBartForConditionalGeneration:
    torch.manual_seed(0)
    config = MBartConfig(
        vocab_size=vocab_size, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=128,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2,
        dropout=0.0, scale_embedding=True,
    )
    model = MBartForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.final_logits_bias.normal_()  # non-zero, so that slicing it is checked
    return model


def logits(model, enc_ids, dec_ids):
    with torch.no_grad():
        return model(input_ids=enc_ids, attention_mask=(enc_ids != -1).long(), decoder_input_ids=dec_ids).logits


@pytest.mark.parametrize("tied", [True, False])
def test_t5_trim_keeps_logits_of_kept_tokens(tied):
    tok = word_tokenizer()
    model = tiny_t5(len(tok), tied=tied)
    enc = tok(TRAIN, return_tensors="pt", padding=True)["input_ids"]
    dec = torch.tensor([[0, 3, 4, 8], [0, 8, 9, 1], [0, 10, 3, 11]])
    before = logits(model, enc, dec)
    result = trim_vocabulary(model, tok, TRAIN)
    vocab = result.vocab
    # pad, eos, unk + the 9 distinct words of TRAIN, in old-id order
    assert result.mapping == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert vocab.unk_id == 2 and len(vocab) == 12
    assert model.config.vocab_size == 12
    assert model.shared.weight.shape == (12, 16) and model.lm_head.out_features == 12
    assert (model.lm_head.weight is model.shared.weight) == tied
    assert model.encoder.embed_tokens.weight is model.shared.weight
    after = logits(model, vocab.to_new(enc), vocab.to_new(dec))
    assert after.shape == (3, 4, 12)
    assert torch.allclose(before[..., result.mapping], after, atol=1e-6)


def test_t5_trim_drops_unused_words_and_maps_them_to_unk():
    tok = word_tokenizer()
    model = tiny_t5(len(tok), tied=True)
    result = trim_vocabulary(model, tok, ["morgen sonne"])
    vocab = result.vocab
    assert result.mapping == [0, 1, 2, 8, 9]
    snow = tok.convert_tokens_to_ids("schnee")
    assert vocab.new_id(snow) is None
    assert vocab.to_new([8, snow, -100]).tolist() == [3, 2, -100]  # unknown -> unk; label padding kept
    assert vocab.to_old([3, 4, -100]).tolist() == [8, 9, -100]
    enc = vocab.encode(tok, ["morgen schnee", "sonne"])
    assert enc["input_ids"].tolist() == [[3, 2, 1], [4, 1, 0]]
    assert vocab.decode(tok, torch.tensor([[0, 3, 4, 1]])) == ["morgen sonne"]


def test_keep_tokens_and_errors():
    tok = word_tokenizer()
    ids = kept_token_ids(tok, ["morgen"], keep_tokens=["frost", 5])
    assert ids == [0, 1, 2, 5, 8, tok.convert_tokens_to_ids("frost")]
    with pytest.raises(ConfigError, match="keep_tokens: 'hagel' is not a token"):
        kept_token_ids(tok, ["morgen"], keep_tokens=["hagel"])
    with pytest.raises(ConfigError, match="tokenizer has 17 tokens but the model only 10 embeddings"):
        trim_vocabulary(tiny_t5(10, tied=True), tok, TRAIN)
    with pytest.raises(DataError, match="sentence 0 is not valid UTF-8"):
        trim_vocabulary(tiny_t5(len(tok), tied=True), tok, [b"\xff"])


def test_trimmed_vocab_without_unk_and_out_of_range():
    vocab = TrimmedVocab((0, 1, 5), full_size=8)
    with pytest.raises(DataError, match=r"1 token\(s\) not in the trimmed vocabulary \(e.g. id 4\)"):
        vocab.to_new([0, 4])
    with pytest.raises(DataError, match="outside the full vocabulary"):
        vocab.to_new([9])
    with pytest.raises(DataError, match="outside the trimmed vocabulary"):
        vocab.to_old([3])
    with pytest.raises(ValueError, match="strictly increasing"):
        TrimmedVocab((3, 1), full_size=8)


def test_trimmed_vocab_file_roundtrip_and_errors(tmp_path):
    vocab = TrimmedVocab((0, 1, 2, 7), full_size=9, unk_id=2)
    assert TrimmedVocab.load(vocab.save(tmp_path / "m.json")) == vocab
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "glossfree.trimmed_vocab/1", "full_size": 9, "mapping": [0, "x"]}))
    with pytest.raises(DataError, match="'mapping' must be a list of integers"):
        TrimmedVocab.load(bad)
    bad.write_text(json.dumps({"format": "glossfree.trimmed_vocab/1", "full_size": 3, "mapping": [0, 7]}))
    with pytest.raises(DataError, match="invalid mapping"):
        TrimmedVocab.load(bad)


def test_t5_save_reload_and_generate(tmp_path):
    tok = word_tokenizer()
    model = tiny_t5(len(tok), tied=False)
    result = trim_vocabulary(model, tok, TRAIN)
    out = save_trimmed(model, result.vocab, tmp_path / "trimmed")
    assert (out / TRIMMED_VOCAB_FILE).is_file() and (out / "config.json").is_file()
    reloaded, vocab = load_trimmed(out, T5ForConditionalGeneration)
    assert vocab == result.vocab
    enc = vocab.encode(tok, TRAIN)
    dec = torch.tensor([[0, 3, 4]])
    assert torch.allclose(
        logits(model, enc["input_ids"][:1], dec), logits(reloaded.eval(), enc["input_ids"][:1], dec), atol=1e-6
    )
    generated = reloaded.generate(input_ids=enc["input_ids"][:1], max_new_tokens=4, num_beams=2)
    assert int(generated.max()) < len(vocab)
    texts = vocab.decode(tok, generated)
    assert all(word in WORDS for word in texts[0].split())
    with pytest.raises(ConfigError, match="not a pair"):
        save_trimmed(tiny_t5(len(tok), tied=True), vocab, tmp_path / "x")


def test_mbart_trim_with_real_gfslt_tokenizer(mbart_tokenizer, phoenix_train50, tmp_path):
    tok = mbart_tokenizer
    assert len(tok) == 2454
    texts = [row["text"] for row in phoenix_train50]
    model = tiny_mbart(len(tok))
    enc = tok(texts[:3], return_tensors="pt", padding=True)
    dec = tok(text_target=texts[3:6], return_tensors="pt", padding=True)["input_ids"]
    with torch.no_grad():
        before = model(**enc, decoder_input_ids=dec).logits
    result = trim_vocabulary(model, tok, texts)
    vocab = result.vocab
    lang_codes = [i for t, i in tok.get_vocab().items() if len(t) == 5 and t[2] == "_"]
    assert len(lang_codes) == 25 and set(lang_codes) <= set(result.mapping)
    assert {0, 1, 2, 3, tok.convert_tokens_to_ids("<mask>")} <= set(result.mapping)
    assert vocab.unk_id == 3
    # ids used by the first 50 training sentences + 5 specials + 25 language codes
    used = {i for row in tok(texts)["input_ids"] for i in row}
    assert set(result.mapping) == used | {0, 1, 2, 3, 2453} | set(lang_codes)
    assert model.final_logits_bias.shape == (1, len(vocab))
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight  # still tied
    de = tok.convert_tokens_to_ids("de_DE")
    assert vocab.to_old([vocab.new_id(de)]).item() == de
    assert model.config.pad_token_id == vocab.new_id(1) and model.generation_config.eos_token_id == vocab.new_id(2)
    with torch.no_grad():
        after = model(
            input_ids=vocab.to_new(enc["input_ids"]), attention_mask=enc["attention_mask"],
            decoder_input_ids=vocab.to_new(dec),
        ).logits
    assert torch.allclose(before[..., result.mapping], after, atol=1e-5)
    out = save_trimmed(model, vocab, tmp_path / "mbart")
    reloaded, vocab2 = load_trimmed(out, MBartForConditionalGeneration)
    assert vocab2 == vocab
    with torch.no_grad():
        again = reloaded.eval()(
            input_ids=vocab.to_new(enc["input_ids"]), attention_mask=enc["attention_mask"],
            decoder_input_ids=vocab.to_new(dec),
        ).logits
    assert torch.allclose(after, again, atol=1e-6)


def test_real_tokenizer_on_all_phoenix_train_texts(mbart_tokenizer, phoenix_rows):
    # GFSLT's README: re-running its trimming on the train texts keeps ~2172-2215 of 2454 ids.
    texts = [row["text"] for row in phoenix_rows("train", 10_000)]
    assert len(texts) == 7096
    assert len(kept_token_ids(mbart_tokenizer, texts)) == 2172
