"""The textbook reference Transformer: shapes, masks, tied weights, strides, and a run end to end."""

from __future__ import annotations

import json
import math

import pytest
import torch

from glossfree.baselines.textbook import (
    PoseSource,
    ReferenceConfig,
    TextbookTransformer,
    conv_strides,
    sinusoids,
    train_reference,
)
from glossfree.errors import ConfigError

SMALL = ReferenceConfig(d_model=32, num_heads=4, encoder_layers=2, decoder_layers=2, ffn_dim=64, dropout=0.0)


def _model(vocab: int = 50) -> TextbookTransformer:
    torch.manual_seed(0)
    return TextbookTransformer(vocab, pad_id=0, eos_id=1, config=SMALL).eval()


def test_shapes_and_tied_output():
    model = _model()
    source, mask = torch.randn(3, 7, 32), torch.ones(3, 7, dtype=torch.bool)
    targets = torch.tensor([[5, 6, 1, -100], [7, 8, 9, 1], [4, 1, -100, -100]])
    logits = model(source, mask, targets)
    assert logits.shape == (3, 4, 50)
    assert model.output.weight is model.target_embed.weight
    assert model.output.bias is None
    logits.sum().backward()
    assert model.target_embed.weight.grad is not None and model.target_embed.weight.grad.abs().sum() > 0
    # one set of output/embedding weights, counted once
    names = [name for name, _ in model.named_parameters()]
    assert "output.weight" not in names and "target_embed.weight" in names


def test_source_padding_is_masked():
    model = _model()
    torch.manual_seed(1)
    short, long = torch.randn(1, 4, 32), torch.randn(1, 9, 32)
    targets = torch.tensor([[5, 6, 7, 1]])
    alone = model(short, torch.ones(1, 4, dtype=torch.bool), targets)
    padded = torch.cat([torch.cat([short, torch.randn(1, 5, 32)], dim=1), long])  # padding holds noise
    mask = torch.tensor([[True] * 4 + [False] * 5, [True] * 9])
    batched = model(padded, mask, targets.repeat(2, 1))
    torch.testing.assert_close(batched[0], alone[0], atol=1e-5, rtol=1e-5)


def test_decoder_is_causal_and_greedy_stops_at_eos():
    model = _model()
    source, mask = torch.randn(1, 5, 32), torch.ones(1, 5, dtype=torch.bool)
    a = model(source, mask, torch.tensor([[5, 6, 7, 1]]))
    b = model(source, mask, torch.tensor([[5, 6, 9, 1]]))  # only the third target differs
    torch.testing.assert_close(a[:, :3], b[:, :3])  # decoder inputs 0..2 are the start, 5, 6 in both
    assert not torch.allclose(a[:, 3], b[:, 3])
    rows = model.greedy(source, mask, max_new_tokens=6)
    assert len(rows) == 1 and len(rows[0]) <= 6 and 1 not in rows[0]


def test_sinusoids_and_embedding_scale():
    table = sinusoids(10, 8)
    assert table.shape == (10, 8)
    torch.testing.assert_close(table[0], torch.tensor([0.0, 1.0] * 4))
    assert table[3, 0].item() == pytest.approx(math.sin(3))
    assert table[3, 3].item() == pytest.approx(math.cos(3 / 10000 ** (2 / 8)))


def test_conv_strides():
    assert conv_strides(25, 6.25) == (2, 2)
    assert conv_strides(12.5, 6.25) == (2, 1)
    assert conv_strides(6.25, 6.25) == (1, 1)
    with pytest.raises(ConfigError, match="1, 2 or 4"):
        conv_strides(10, 6.25)


def test_pose_source_lengths_and_padding():
    torch.manual_seed(0)
    source = PoseSource("pose203", 16, (2, 2), 5, dropout=0.0).eval()
    keypoints, flags = torch.randn(2, 21, 203, 3), torch.ones(2, 21, 203, dtype=torch.bool)
    frames = torch.ones(2, 21, dtype=torch.bool)
    frames[0, 13:] = False
    keypoints[0, 13:], flags[0, 13:] = 0.0, False
    tokens, mask = source(keypoints, flags, frames)
    assert tokens.shape == (2, 6, 16)  # 21 -> 11 -> 6
    assert mask.sum(dim=1).tolist() == [4, 6]  # 13 -> 7 -> 4
    alone, _ = source(keypoints[:1, :13], flags[:1, :13], frames[:1, :13])
    torch.testing.assert_close(tokens[0, :4], alone[0], atol=1e-5, rtol=1e-5)
    assert (tokens[0, 4:] == 0).all()


def _memorise_corpus(root):
    pairs = [("WETTER MORGEN", "morgen wird es schön"), ("REGEN NORD", "im norden regnet es"),
             ("SONNE SUED", "im süden scheint die sonne"), ("WIND STARK", "der wind weht stark"),
             ("SCHNEE BERG", "in den bergen schneit es"), ("NEBEL TAL", "in den tälern ist es neblig")]  # fmt: skip
    root.mkdir()
    for split in ("train", "dev", "test"):
        with (root / f"{split}.jsonl").open("w", encoding="utf-8") as out:
            for i, (gloss, text) in enumerate(pairs):
                out.write(
                    json.dumps(
                        {
                            "id": f"{split}-{i}",
                            "split": split,
                            "text": text,
                            "language": "de",
                            "gloss": gloss,
                            "pose": f"poses/{i}.pose",
                        }
                    )
                    + "\n"
                )
    return root


def test_gloss_reference_learns_a_small_mapping(tmp_path):
    root = _memorise_corpus(tmp_path / "corpus")
    config = ReferenceConfig(d_model=64, num_heads=4, encoder_layers=1, decoder_layers=1, ffn_dim=128,
                             dropout=0.0, vocab_size=60, warmup_steps=10, lr=3e-3, batch_size=6)  # fmt: skip
    result = train_reference("gloss", root, steps=80, eval_every=40, config=config, tokenizer_dir=tmp_path / "spm")
    assert [step for step, _ in result.curve] == [40, 80]
    assert result.dev.bleu4 > 80 and result.test is not None and result.test.bleu4 > 80
    assert result.best_step in (40, 80) and result.params > 0


def test_pose_reference_runs_on_the_tiny_corpus(tiny_corpus, tmp_path):
    config = ReferenceConfig(d_model=32, num_heads=4, encoder_layers=1, decoder_layers=1, ffn_dim=64,
                             vocab_size=120, batch_size=8, max_new_tokens=8, warmup_steps=2)  # fmt: skip
    result = train_reference("pose", tiny_corpus, steps=4, eval_every=2, config=config, tokenizer_dir=tmp_path / "spm")
    assert [step for step, _ in result.curve] == [2, 4]
    assert result.test is not None and result.source == "pose"


def test_unknown_source(tmp_path):
    with pytest.raises(ConfigError, match="gloss and pose"):
        train_reference("video", tmp_path, steps=1)  # type: ignore[arg-type]
