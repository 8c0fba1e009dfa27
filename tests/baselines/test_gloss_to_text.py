"""The gloss->text ceiling end to end on a tiny corpus, and where its positions come from."""

from __future__ import annotations

import json

import pytest
import torch

from glossfree.baselines.gloss_to_text import GlossToText, train_gloss_to_text
from glossfree.models.language_model import LanguageModel
from glossfree.text.tokenizers import train_tokenizer
from glossfree.training.tasks import load_recipe

PAIRS = [("WETTER MORGEN", "morgen wird es schön"), ("REGEN NORD", "im norden regnet es"),
         ("SONNE SUED", "im süden scheint die sonne"), ("WIND STARK", "der wind weht stark"),
         ("SCHNEE BERG", "in den bergen schneit es"), ("NEBEL TAL", "in den tälern ist es neblig")]  # fmt: skip
TINY_LM = {
    "t5": "{d_model: 64, d_ff: 128, num_layers: 1, num_decoder_layers: 1, num_heads: 4, d_kv: 16, dropout_rate: 0.0}",
    "mbart": "{d_model: 64, encoder_layers: 1, decoder_layers: 1, encoder_attention_heads: 4, decoder_attention_heads: 4, "
    "encoder_ffn_dim: 128, decoder_ffn_dim: 128, dropout: 0.0, scale_embedding: true}",
}


def _corpus(root):
    root.mkdir()
    for split in ("train", "dev", "test"):
        with (root / f"{split}.jsonl").open("w", encoding="utf-8") as out:
            for i, (gloss, text) in enumerate(PAIRS):
                record = {
                    "id": f"{split}-{i}",
                    "split": split,
                    "text": text,
                    "language": "de",
                    "gloss": gloss,
                    "pose": f"p/{i}.pose",
                }
                out.write(json.dumps(record) + "\n")
    return root


def _recipe(family: str):
    return load_recipe("pose_perceiver/mid", [
        f"model.lm.family={family}", f"model.lm.architecture={TINY_LM[family]}", "stages.0.batch_size=6",
        "stages.0.optimizer.lr=3e-3", "stages.0.schedule.warmup_steps=10", "evaluation.batch_size=6",
    ])  # fmt: skip


@pytest.mark.parametrize("family", ["t5", "mbart"])
def test_learns_a_small_mapping_end_to_end(tmp_path, family):
    root = _corpus(tmp_path / "corpus")
    tokenizer = train_tokenizer([t for _, t in PAIRS], tmp_path / "spm", vocab_size=60, family=family)
    result = train_gloss_to_text(_recipe(family), tokenizer, root, steps=120, eval_every=60)
    assert [step for step, _ in result.curve] == [60, 120]
    assert result.dev.bleu4 > 80, result.curve
    assert result.test is not None and result.test.bleu4 > 80
    skipped = train_gloss_to_text(_recipe(family), tokenizer, root, steps=2, test=False)
    assert skipped.test is None


@pytest.mark.parametrize("family", ["t5", "mbart"])
def test_positions_come_from_the_language_model(tmp_path, family):
    tokenizer = train_tokenizer([t for _, t in PAIRS], tmp_path / "spm", vocab_size=60, family=family)
    torch.manual_seed(0)
    model = GlossToText(["A", "B", "C"], LanguageModel(_recipe(family).model.lm, tokenizer)).eval()
    forward, forward_mask = model.encode(["A B C"])
    backward, _ = model.encode(["C B A"])
    # no position is added to the gloss embeddings: reversing the glosses reverses the rows
    torch.testing.assert_close(backward[0], forward[0].flip(0))
    assert forward_mask.all()
    # the LM tells the two orders apart (T5: relative buckets, mBART: learned absolute positions)
    with torch.no_grad():
        assert (
            abs(model(["A B C"], ["im norden regnet es"]).item() - model(["C B A"], ["im norden regnet es"]).item())
            > 1e-6
        )
