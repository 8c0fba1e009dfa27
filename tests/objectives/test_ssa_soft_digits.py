"""ssa_soft_digits against hand-computed losses, its gradient's sign, SLT masking and the digit tokens
of glossfree's trained T5 tokenizer layout (with and without split digits)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest
import torch

from glossfree.objectives import OBJECTIVES, SSASoftDigits, SSASoftDigitsConfig
from glossfree.objectives.base import PointDims
from glossfree.objectives.ssa_soft_digits import digit_slots, digit_token_ids
from glossfree.text.prompts import build_ssa_prompt
from glossfree.text.tokenizers import train_tokenizer

SENTENCES = ["the man drinks the old coffee", "she will not drive to the city tomorrow", "we sign slowly"]
TARGETS = [f"{a:03d}-{b:03d}" for a, b in [(12, 345), (42, 137), (0, 399), (250, 301), (7, 86), (123, 456)]]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    texts = SENTENCES * 5 + TARGETS * 5 + [build_ssa_prompt(s, prior=(10, 20)) for s in SENTENCES]
    return train_tokenizer(texts, tmp_path_factory.mktemp("tok"), vocab_size=80, split_digits=True)


@dataclass
class FakeLM:
    """What the objective reads of ``SLTModel.lm``: the tokenizer, id maps, encode_targets."""

    tokenizer: object

    def model_id(self, full_id):
        return full_id

    def full_id(self, model_id):
        return model_id

    def encode_targets(self, texts):
        encoded = self.tokenizer(text_target=list(texts), padding="longest", return_tensors="pt")
        return encoded.input_ids.masked_fill(encoded.attention_mask == 0, -100)


def run(tokenizer, texts, tasks, logits, reduction="digit"):
    objective = SSASoftDigits(SSASoftDigitsConfig(reduction=reduction), PointDims(1, 1, 1, 1, 1))
    batch = SimpleNamespace(texts=texts, tasks=tasks)
    return objective(SimpleNamespace(logits=logits), batch, SimpleNamespace(lm=FakeLM(tokenizer)))


def zero_logits(tokenizer, texts):
    length = FakeLM(tokenizer).encode_targets(texts).shape[1]
    return torch.zeros(len(texts), length, len(tokenizer), requires_grad=True)


def test_registered():
    assert OBJECTIVES["ssa_soft_digits"] is SSASoftDigits


def test_every_digit_is_one_token_of_the_ten(tokenizer):
    pieces = tokenizer.convert_ids_to_tokens(tokenizer(text_target="012-345").input_ids)
    slots, widths = digit_slots(pieces)
    assert widths == [3, 3]
    assert [(digit, number, place) for _, _, digit, number, place in slots] == [
        (0, 0, 2), (1, 0, 1), (2, 0, 0), (3, 1, 2), (4, 1, 1), (5, 1, 0)
    ]  # fmt: skip
    ids = digit_token_ids(tokenizer, "{}")
    assert ids is not None and tokenizer.convert_ids_to_tokens(ids) == list("0123456789")


def test_uniform_digits_hand_computed(tokenizer):
    texts = ["012-345"]
    # Uniform over the ten digits: every expected digit is 4.5.
    out = run(tokenizer, texts, ["ssa"], zero_logits(tokenizer, texts))
    expected = (4.5 + 3.5 + 2.5 + 1.5 + 0.5 + 0.5) / 6
    assert out.loss.item() == pytest.approx(expected)
    assert out.metrics["coverage"].item() == 1.0
    # Whole numbers: 4.5 * 111 = 499.5 against 12 and 345.
    out = run(tokenizer, texts, ["ssa"], zero_logits(tokenizer, texts), reduction="number")
    assert out.loss.item() == pytest.approx((487.5 + 154.5) / 2)
    assert out.metrics["frame_l1"].item() == pytest.approx((487.5 + 154.5) / 2)


def test_confident_right_digits_give_zero(tokenizer):
    texts = ["042-137"]
    logits = zero_logits(tokenizer, texts).detach().clone()
    ids = FakeLM(tokenizer).encode_targets(texts)[0]
    for position, token in enumerate(ids.tolist()):
        piece = tokenizer.convert_ids_to_tokens(token)
        if piece.isdigit():
            logits[0, position, token] = 50.0
    out = run(tokenizer, texts, ["ssa"], logits)
    assert out.loss.item() == pytest.approx(0.0, abs=1e-6)
    assert out.metrics["digit_acc"].item() == 1.0


def test_gradient_favours_digits_closer_to_the_truth(tokenizer):
    texts = ["012-345"]
    logits = zero_logits(tokenizer, texts)
    out = run(tokenizer, texts, ["ssa"], logits)
    out.loss.backward()
    ids = digit_token_ids(tokenizer, "{}")
    position = next(p for p, slot_digit, *_ in [(s[0], s[2]) for s in digit_slots(
        tokenizer.convert_ids_to_tokens(FakeLM(tokenizer).encode_targets(texts)[0].tolist()))[0]] if slot_digit == 3)
    grad = logits.grad[0, position]
    # The truth is 3 and the expectation 4.5: raising 0..4 lowers the loss, raising 5..9 raises it.
    assert all(grad[ids[d]] < 0 for d in range(5))
    assert all(grad[ids[d]] > 0 for d in range(5, 10))
    # Loss decreases when the logit of the true digit goes up.
    bumped = logits.detach().clone()
    bumped[0, position, ids[3]] += 1.0
    assert run(tokenizer, texts, ["ssa"], bumped).loss < out.loss


def test_slt_samples_contribute_nothing(tokenizer):
    texts = ["012-345", "the man drinks the old coffee"]
    logits = zero_logits(tokenizer, texts)
    mixed = run(tokenizer, texts, ["ssa", "slt"], logits)
    alone = run(tokenizer, texts[:1], ["ssa"], zero_logits(tokenizer, texts[:1]))
    assert mixed.loss.item() == pytest.approx(alone.loss.item())
    mixed.loss.backward()
    assert logits.grad[1].abs().sum() == 0
    none = run(tokenizer, texts[1:], ["slt"], zero_logits(tokenizer, texts[1:]))
    assert none.loss.item() == 0.0 and none.loss.requires_grad
    untagged = run(tokenizer, texts, None, zero_logits(tokenizer, texts))  # a plain SLT batch has no tasks
    assert untagged.loss.item() == 0.0


def test_digits_merged_with_other_characters(tmp_path):
    # Without split_digits the trained T5 layout may write "2-" or "▁0": each digit of its own piece
    # takes the ten pieces of the same shape when they exist, else it is left out (coverage < 1).
    slots, widths = digit_slots(["\u2581", "0", "4", "2-", "1", "3", "7"])
    assert widths == [3, 3] and [s[1] for s in slots] == ["{}", "{}", "{}-", "{}", "{}", "{}"]
    slots, widths = digit_slots(["\u258104", "2", "-", "137"])
    assert widths == [3, 3] and [(s[2], s[4]) for s in slots] == [(2, 0)]
    tok = train_tokenizer(SENTENCES * 5 + TARGETS * 20, tmp_path / "tok", vocab_size=80)
    out = run(tok, TARGETS, ["ssa"] * len(TARGETS), zero_logits(tok, TARGETS))
    assert 0 < out.metrics["coverage"].item() <= 1.0
    assert torch.isfinite(out.loss)
