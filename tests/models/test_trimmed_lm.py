"""A trimmed vocabulary wired into the LM: it embeds and predicts only the kept ids (GFSLT/SAGE mBART)."""

from __future__ import annotations

import pytest
import torch
from tiny import TINY_MBART_ARCHITECTURE

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.models.language_model import LanguageModel, LanguageModelConfig
from glossfree.text.tokenizers import load_tokenizer
from glossfree.text.trim import TrimmedVocab, kept_token_ids

TEXTS = ["und nun die wettervorhersage für morgen", "über den höhen fällt schnee", "am tag sonne und wolken"]

TINY_MBART = {
    "family": "mbart", "name_or_path": None, "src_lang": "de_DE", "tgt_lang": "de_DE",
    "architecture": TINY_MBART_ARCHITECTURE,
    "adapter": {"kind": "none"}, "label_smoothing": 0.0, "generation": {"num_beams": 2, "max_new_tokens": 5},
}  # fmt: skip


@pytest.fixture(scope="module")
def gfslt_tokenizer(shared_dir):
    return load_tokenizer(shared_dir / "data" / "mbart_trimmed_tokenizer", src_lang="de_DE", tgt_lang="de_DE")


def _vocab(tokenizer, path) -> TrimmedVocab:
    kept = kept_token_ids(tokenizer, TEXTS)
    vocab = TrimmedVocab(tuple(kept), len(tokenizer), kept.index(tokenizer.unk_token_id))
    vocab.save(path)
    return vocab


def _build(override, tokenizer, seed=0) -> LanguageModel:
    torch.manual_seed(seed)
    return LanguageModel(validate(LanguageModelConfig, {**TINY_MBART, **override}), tokenizer).eval()


def _visual(lengths, seed=0):
    generator = torch.Generator().manual_seed(seed)
    mask = torch.arange(max(lengths))[None] < torch.tensor(lengths)[:, None]
    return torch.randn(len(lengths), max(lengths), 32, generator=generator) * mask[..., None], mask


def test_from_scratch_lm_on_the_kept_ids(gfslt_tokenizer, tmp_path):
    vocab = _vocab(gfslt_tokenizer, tmp_path / "trimmed_vocab.json")
    assert len(vocab) < 100 < len(gfslt_tokenizer) == 2454
    lm = _build({"trimmed_vocab": str(tmp_path / "trimmed_vocab.json")}, gfslt_tokenizer)
    assert lm.model.get_input_embeddings().weight.shape[0] == len(vocab)
    assert lm.model.config.pad_token_id == vocab.new_id(gfslt_tokenizer.pad_token_id)
    labels = lm.encode_targets(TEXTS[:2])
    assert int(labels.max()) < len(vocab)
    full = gfslt_tokenizer(text_target=TEXTS[0]).input_ids
    assert vocab.to_old(labels[0][labels[0] >= 0]).tolist() == full
    assert lm._decoder_start == vocab.new_id(gfslt_tokenizer.convert_tokens_to_ids("de_DE"))
    loss, logits = lm(*_visual([3, 5]), TEXTS[:2])
    assert torch.isfinite(loss) and logits.shape[-1] == len(vocab)
    # Generated (kept) ids decode through the full tokenizer.
    words = gfslt_tokenizer("wettervorhersage", add_special_tokens=False).input_ids
    assert lm._decode(vocab.to_new(words).tolist()) == gfslt_tokenizer.decode(words, skip_special_tokens=True)
    assert all(isinstance(text, str) for text in lm.generate(*_visual([4, 2])))


def test_a_full_pretrained_model_is_trimmed_on_load_and_predicts_the_same(gfslt_tokenizer, tmp_path):
    full = _build({}, gfslt_tokenizer, seed=3)
    full.model.save_pretrained(tmp_path / "full")
    vocab = _vocab(gfslt_tokenizer, tmp_path / "trimmed_vocab.json")
    trimmed = _build(
        {"name_or_path": str(tmp_path / "full"), "architecture": {}, "trimmed_vocab": str(tmp_path / "trimmed_vocab.json")},
        gfslt_tokenizer,
    )
    assert trimmed.model.get_input_embeddings().weight.shape[0] == len(vocab)
    embeds, mask = _visual([3, 5])
    with torch.no_grad():
        full_loss, full_logits = full(embeds, mask, TEXTS[:2])
        trimmed_loss, trimmed_logits = trimmed(embeds, mask, TEXTS[:2])
    index = torch.tensor(vocab.mapping)
    torch.testing.assert_close(trimmed_logits, full_logits[..., index])  # the kept rows, unchanged


def test_trimmed_vocab_errors(gfslt_tokenizer, tmp_path):
    with pytest.raises(ConfigError, match="lm.trimmed_vocab: .*nope.json not found"):
        _build({"trimmed_vocab": str(tmp_path / "nope.json")}, gfslt_tokenizer)
    with pytest.raises(ConfigError, match="lm.trimmed_vocab: train is resolved by `glossfree train`"):
        _build({"trimmed_vocab": "train"}, gfslt_tokenizer)
    TrimmedVocab((0, 1, 2), 100).save(tmp_path / "small.json")
    with pytest.raises(ConfigError, match="maps a vocabulary of 100 ids, but the tokenizer has 2454"):
        _build({"trimmed_vocab": str(tmp_path / "small.json")}, gfslt_tokenizer)
