"""Tokenizers: train sentencepiece and reload, load pretrained folders offline, error messages."""

from __future__ import annotations

import pytest

from glossfree.errors import ConfigError, DataError
from glossfree.text.tokenizers import load_tokenizer, train_tokenizer

TEXTS = [
    "und nun die wettervorhersage für morgen donnerstag den zwölften august",
    "mancherorts regnet es auch länger und ergiebig",
    "auch lokale überschwemmungen sind wieder möglich",
    "im süden gibt es gewitter und später frost",
    "schöne grüße aus köln und münchen",
    "über den höhen fällt schnee",
] * 3
UMLAUTS = "über die höhen der wälder weht es mäßig aus süd, grüße"


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("tok") / "t5"
    return out, train_tokenizer(TEXTS, out, vocab_size=80)


def test_t5_special_ids_and_round_trip(t5_dir):
    _, tokenizer = t5_dir
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    ids = tokenizer(UMLAUTS).input_ids
    assert ids[-1] == tokenizer.eos_token_id
    assert tokenizer.unk_token_id not in tokenizer(TEXTS[0]).input_ids
    assert tokenizer.decode(tokenizer(TEXTS[2]).input_ids, skip_special_tokens=True) == TEXTS[2]


def test_umlauts_survive_when_their_characters_were_seen(t5_dir):
    _, tokenizer = t5_dir
    text = "grüße über höhen möglich und länger"
    assert tokenizer.decode(tokenizer(text).input_ids, skip_special_tokens=True) == text
    assert tokenizer.unk_token_id in tokenizer("höhen; länger").input_ids  # ';' was never seen


def test_reload_gives_the_same_tokenizer(t5_dir):
    out, tokenizer = t5_dir
    assert sorted(p.name for p in out.iterdir()) == ["tokenizer.json", "tokenizer_config.json"]
    reloaded = load_tokenizer(out)
    assert type(reloaded).__name__ == "T5Tokenizer"
    assert len(reloaded) == len(tokenizer)
    assert reloaded(UMLAUTS).input_ids == tokenizer(UMLAUTS).input_ids


def test_segmentation_equals_the_sentencepiece_model(tmp_path):
    import sentencepiece as spm

    from glossfree.text.tokenizers import _train_sentencepiece

    model = _train_sentencepiece(TEXTS, vocab_size=80, family="t5")
    processor = spm.SentencePieceProcessor(model_proto=model)
    tokenizer = train_tokenizer(TEXTS, tmp_path / "t5", vocab_size=80)
    for text in TEXTS[:6]:
        assert tokenizer(text).input_ids == processor.encode(text) + [1]


def test_training_is_deterministic(tmp_path):
    a = train_tokenizer(TEXTS, tmp_path / "a", vocab_size=60)
    b = train_tokenizer(TEXTS, tmp_path / "b", vocab_size=60)
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (
        tmp_path / "b" / "tokenizer.json"
    ).read_bytes()
    assert a.get_vocab() == b.get_vocab()


def test_retraining_replaces_the_folder_contents(tmp_path):
    train_tokenizer(TEXTS, tmp_path / "t", vocab_size=60)
    second = train_tokenizer(TEXTS[:2], tmp_path / "t", vocab_size=40)
    assert len(load_tokenizer(tmp_path / "t")) == len(second)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_mbart_family(tmp_path):
    tokenizer = train_tokenizer(
        TEXTS, tmp_path / "mbart", vocab_size=80, family="mbart", src_lang="de_DE", tgt_lang="de_DE"
    )
    assert type(tokenizer).__name__ == "MBartTokenizer"
    assert (
        tokenizer.bos_token_id,
        tokenizer.pad_token_id,
        tokenizer.eos_token_id,
        tokenizer.unk_token_id,
    ) == (0, 1, 2, 3)
    de = tokenizer.convert_tokens_to_ids("de_DE")
    assert de != tokenizer.unk_token_id
    labels = tokenizer(text_target=TEXTS[0]).input_ids
    assert labels[-2:] == [tokenizer.eos_token_id, de]
    assert tokenizer.decode(labels[:-2]) == TEXTS[0]
    assert load_tokenizer(tmp_path / "mbart")(text_target=TEXTS[0]).input_ids == labels


def test_blank_texts_are_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no non-blank texts"):
        train_tokenizer(["", "   "], tmp_path / "x", vocab_size=50)


def test_bad_family_and_vocab_size(tmp_path):
    with pytest.raises(ConfigError, match=r"family 'bpe' is not supported; valid: t5, mbart"):
        train_tokenizer(TEXTS, tmp_path / "x", vocab_size=50, family="bpe")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="vocab_size must be larger than 4"):
        train_tokenizer(TEXTS, tmp_path / "x", vocab_size=3)


def test_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match=r"nope: tokenizer folder not found"):
        load_tokenizer(tmp_path / "nope")


def test_hub_name_not_in_cache_says_to_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ConfigError, match=r"'glossfree-test/none'.*never downloads.*hf download glossfree-test/none"
    ):
        load_tokenizer("glossfree-test/none")


def test_loads_the_gfslt_mbart_tokenizer(shared_dir):
    """A sentencepiece-only folder (no tokenizer.json): ids are the sentencepiece ids + 1 (fairseq)."""
    import sentencepiece as spm

    folder = shared_dir / "data" / "mbart_trimmed_tokenizer"
    tokenizer = load_tokenizer(folder, src_lang="de_DE", tgt_lang="de_DE")
    assert len(tokenizer) == 2454
    processor = spm.SentencePieceProcessor(model_file=str(folder / "sentencepiece.bpe.model"))
    text = "und nun die wettervorhersage für morgen"
    ids = tokenizer(text).input_ids
    assert ids[:-2] == [i + 1 for i in processor.encode(text)]
    assert tokenizer.convert_ids_to_tokens(ids[-2:]) == ["</s>", "de_DE"]


def test_the_engine_trains_the_tokenizer_layout_of_the_lm_family(tmp_path):
    from glossfree.models.language_model import LanguageModelConfig
    from glossfree.training.engine import prepare_tokenizer
    from glossfree.training.recipe import TokenizerConfig

    texts = ["und nun die wettervorhersage", "über den höhen fällt schnee"] * 3
    config = TokenizerConfig(kind="train", vocab_size=40)
    mbart = prepare_tokenizer(
        config, texts, tmp_path / "mbart", lm=LanguageModelConfig(family="mbart", src_lang="de_DE", tgt_lang="de_DE")
    )
    assert type(mbart).__name__.startswith("MBartTokenizer")
    assert (mbart.pad_token_id, mbart.eos_token_id) == (1, 2)  # fairseq layout
    assert mbart(text_target="schnee").input_ids[-2:] == [2, mbart.convert_tokens_to_ids("de_DE")]
    t5 = prepare_tokenizer(config, texts, tmp_path / "t5", lm=LanguageModelConfig(family="t5"))
    assert (t5.pad_token_id, t5.eos_token_id) == (0, 1)
