"""text_denoise: mBART's text infilling (span lengths, one mask per span, special tokens kept, the
exact masked share), its loss on a tiny mBART-layout LM (the visual side never runs, gradients reach
the LM alone, a few steps learn to fill the gaps), and its errors."""

from __future__ import annotations

import pytest
import torch
from tiny import TINY_MBART_ARCHITECTURE

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.models.language_model import LanguageModelConfig
from glossfree.objectives import OBJECTIVES, TextDenoise, TextDenoiseConfig, infill_spans
from glossfree.text.tokenizers import train_tokenizer
from glossfree.training.recipe import StageConfig
from glossfree.training.tasks.translation import build_slt_model

SPECIAL = {2, 250}
SENTENCE = list(range(10, 30)) + [2, 250]  # 20 distinct content ids, then </s> and a language code
MASK = 99


def _infill(ids=SENTENCE, seed=0, **settings):
    options = {"mask_ratio": 0.35, "poisson_lambda": 3.5, "random_ratio": 0.0, **settings}
    return infill_spans(ids, special=SPECIAL, mask_id=MASK, vocab_ids=torch.arange(3, 9),
                        generator=torch.Generator().manual_seed(seed), **options)  # fmt: skip


def _kept_in_order(out: list[int]) -> list[int]:
    return [token for token in out if token != MASK]


@pytest.mark.parametrize("seed", range(5))
def test_long_spans_remove_exactly_the_ratio_and_leave_one_mask_per_span(seed):
    # lambda 50: no span of length 0, so exactly round(20 * 0.35) = 7 tokens go, in runs of one mask each
    out = _infill(seed=seed, poisson_lambda=50.0)
    kept = _kept_in_order(out)
    assert out[-2:] == [2, 250]  # special tokens stay, in place
    assert kept == [t for t in SENTENCE if t in kept]  # the rest in order
    assert len(SENTENCE) - len(kept) == 7
    runs = 0
    for position, token in enumerate(SENTENCE):
        gone = token not in kept
        runs += gone and (position == 0 or SENTENCE[position - 1] in kept)
    assert out.count(MASK) == runs  # each maximal masked run is one <mask>


def test_zero_length_spans_insert_masks_and_remove_nothing():
    out = _infill(poisson_lambda=1e-6)  # every span has length 0: an inserted <mask>
    assert _kept_in_order(out) == SENTENCE
    assert 1 <= out.count(MASK) <= 7 and out[-2:] == [2, 250]


def test_a_one_word_sentence_loses_its_word_and_specials_are_never_masked():
    assert _infill([42, 2, 250], poisson_lambda=50.0) == [MASK, 2, 250]
    assert _infill([2, 250]) == [2, 250]  # nothing to mask


def test_random_spans_draw_from_the_vocabulary_and_a_seed_repeats():
    out = _infill(seed=3, random_ratio=1.0, poisson_lambda=50.0)
    assert MASK not in out
    replaced = [t for t in out if t not in SENTENCE]
    assert replaced and all(3 <= t < 9 for t in replaced)
    assert _infill(seed=3) == _infill(seed=3) and _infill(seed=3) != _infill(seed=4)


TEXTS = [
    "und nun die wettervorhersage für morgen", "mancherorts regnet es auch länger",
    "im süden gibt es gewitter", "am tag sonne und wolken im wechsel",
]  # fmt: skip
TINY_MBART = {
    "family": "mbart", "name_or_path": None, "src_lang": "de_DE", "tgt_lang": "de_DE",
    "architecture": TINY_MBART_ARCHITECTURE,
    "adapter": {"kind": "none"},
    "label_smoothing": 0.0,
}  # fmt: skip


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    root = tmp_path_factory.mktemp("tokenizers")
    return {
        family: train_tokenizer(TEXTS * 3, root / family, vocab_size=60, family=family)
        for family in ("mbart", "t5")
    }


def _model(tiny_config, tokenizer, lm: dict):
    torch.manual_seed(0)
    config = tiny_config({"mapper": {"kind": "linear"}}).model_copy(update={"lm": LanguageModelConfig.model_validate(lm)})
    return build_slt_model(config, tokenizer, [TextDenoiseConfig()])


def test_the_loss_trains_the_lm_alone_without_running_the_visual_side(tiny_config, tokenizers, make_batch, monkeypatch):
    model = _model(tiny_config, tokenizers["mbart"], TINY_MBART)
    assert isinstance(model.objectives["text_denoise"], TextDenoise) and OBJECTIVES["text_denoise"] is TextDenoise
    monkeypatch.setattr(model, "visual_points", lambda batch: pytest.fail("the visual side ran"))
    batch = make_batch([5, 7, 6, 4])
    batch.texts = TEXTS
    model.train()
    output = model(batch, objectives={"text_denoise": 1.0})
    vocab = model.lm._base().config.vocab_size
    # at initialisation the LM is near uniform over its vocabulary
    assert output.losses["text_denoise"].item() == pytest.approx(torch.log(torch.tensor(float(vocab))).item(), rel=0.2)
    output.loss.backward()
    grads = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert grads and all(name.startswith("lm.") for name in grads)
    assert any(".encoder." in name for name in grads) and any(".decoder." in name for name in grads)

    optimizer = torch.optim.Adam(model.lm.parameters(), lr=5e-3)
    first = output.loss.item()
    for _ in range(60):
        optimizer.zero_grad()
        loss = model(batch, objectives={"text_denoise": 1.0}).loss
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 2  # it learns to write the four sentences back from their infilled copies


def test_reconstruction_from_the_clean_text_is_the_plain_teacher_forced_loss(tiny_config, tokenizers):
    model = _model(tiny_config, tokenizers["mbart"], TINY_MBART).eval()
    lm = model.lm
    ids = lm.text_ids(TEXTS[:2])
    assert all(ids_row[-2:] == [lm.tokenizer.eos_token_id, lm.tokenizer.convert_tokens_to_ids("de_DE")] for ids_row in ids)
    # the same sentences through input_ids by hand: pad, mask, shift the labels right
    width = max(map(len, ids))
    input_ids = torch.tensor([row + [lm.tokenizer.pad_token_id] * (width - len(row)) for row in ids])
    labels = lm.encode_targets(TEXTS[:2])
    logits = lm.model(input_ids=input_ids, attention_mask=input_ids != lm.tokenizer.pad_token_id,
                      decoder_input_ids=lm._base().prepare_decoder_input_ids_from_labels(labels=labels)).logits  # fmt: skip
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    torch.testing.assert_close(lm.reconstruction_loss(ids, TEXTS[:2]), expected)
    with pytest.raises(ValueError, match="1 sources for 2 texts"):
        lm.reconstruction_loss(ids[:1], TEXTS[:2])


def test_a_tokenizer_without_a_mask_token_is_refused(tiny_config, tokenizers, make_batch, tiny_lm_config):
    model = _model(tiny_config, tokenizers["t5"], tiny_lm_config().model_dump())
    batch = make_batch([5, 6])
    with pytest.raises(ConfigError, match=r"t5 tokenizer .* no <mask> or <extra_id_0>.*family: mbart"):
        model(batch, objectives={"text_denoise": 1.0})


def test_config_in_a_stage():
    stage = validate(StageConfig, {"name": "text", "objectives": [{"kind": "text_denoise", "mask_ratio": 0.3}],
                                   "train": ["lm"], "monitor": "dev/text_denoise", "max_epochs": 1}, source="stage")  # fmt: skip
    assert isinstance(stage.objectives[0], TextDenoiseConfig) and stage.objectives[0].mask_ratio == 0.3
    with pytest.raises(ConfigError, match="mask_ratio"):
        validate(StageConfig, {"name": "text", "objectives": [{"kind": "text_denoise", "mask_ratio": 1.0}],
                               "max_epochs": 1}, source="stage")  # fmt: skip


def test_validation_corrupts_the_same_way_every_time(tiny_config, tokenizers, make_batch):
    model = _model(tiny_config, tokenizers["mbart"], TINY_MBART)
    batch = make_batch([5, 7, 6, 4])
    batch.texts = TEXTS
    model.eval()
    with torch.no_grad():
        losses = {model(batch, objectives={"text_denoise": 1.0}).loss.item() for _ in range(3)}
    assert len(losses) == 1
    model.train()
    with torch.no_grad():
        assert len({model(batch, objectives={"text_denoise": 1.0}).loss.item() for _ in range(3)}) == 3
