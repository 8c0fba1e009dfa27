"""Objectives inside SLTModel: named visual points, the LM text side, weighting, and which parts get gradients."""

from __future__ import annotations

import pytest
import torch

from glossfree.models.slt import model_parts
from glossfree.training.tasks.translation import build_slt_model
from glossfree.objectives import ClipGlobalConfig, LMCrossEntropyConfig

TEXTS = ["am tag sonne und wolken im wechsel", "über den höhen fällt schnee"]


def build(config, tokenizer, objectives=()):
    torch.manual_seed(0)
    return build_slt_model(config, tokenizer, objectives)


def test_embed_and_encode_texts_give_masked_features(t5_tokenizer, tiny_config):
    lm = build(tiny_config(), t5_tokenizer).lm.eval()
    embeds, mask = lm.embed_texts(TEXTS)
    hidden, hidden_mask = lm.encode_texts(TEXTS)
    lengths = [len(t5_tokenizer(text).input_ids) for text in TEXTS]
    assert embeds.shape == hidden.shape == (2, max(lengths), lm.embed_dim)
    assert mask.sum(dim=1).tolist() == hidden_mask.sum(dim=1).tolist() == lengths
    assert embeds[~mask].abs().sum() == 0 and hidden[~hidden_mask].abs().sum() == 0
    short = min(range(2), key=lengths.__getitem__)
    alone, _ = lm.encode_texts([TEXTS[short]])  # padding of the batch does not change a sentence
    torch.testing.assert_close(hidden[short, : lengths[short]], alone[0], atol=1e-5, rtol=1e-5)
    ids = torch.tensor(t5_tokenizer(TEXTS[0]).input_ids)
    torch.testing.assert_close(embeds[0, : lengths[0]], lm.model.get_input_embeddings()(ids))


def test_output_exposes_named_points_and_skips_the_lm_when_not_needed(t5_tokenizer, tiny_config, make_batch):
    clip = ClipGlobalConfig(proj_dim=8)
    model = build(tiny_config(), t5_tokenizer, [clip]).train()
    assert model.parts() == model_parts([clip]) == [
        "frontend", "compressor", "mapper", "token_norm", "lm", "objectives.clip_global"
    ]  # fmt: skip
    batch = make_batch([12, 20, 16])
    out = model(batch, objectives={"clip_global": 1.0})
    assert set(out.visual) == {"frontend", "compressor", "tokens"}
    assert out.visual["frontend"].features.shape[:2] == batch.frame_mask.shape
    assert out.visual["tokens"].features.shape[-1] == model.lm.embed_dim
    assert out.logits is None and out.lm_loss is None and out.encoder is None  # the LM decoder never ran
    assert set(out.losses) == {"clip_global"} and set(out.metrics) == {"clip_global_acc", "clip_global_temperature"}
    out.loss.backward()
    head = model.objectives["clip_global"]
    for param in (head.visual_proj.weight, head.text_proj.weight, head.log_logit_scale, model.frontend.fuse[0].weight):
        assert param.grad is not None and param.grad.abs().sum() > 0
    assert model.lm.model.get_input_embeddings().weight.grad.abs().sum() > 0  # text side: LM embeddings
    decoder = model.lm.model.decoder.block[0].layer[0].SelfAttention.q.weight
    assert decoder.grad is None
    # A frozen LM: the text side builds no graph, the visual side still learns.
    model.zero_grad(set_to_none=True)
    model.lm.requires_grad_(False)
    out = model(batch, objectives={"clip_global": 1.0})
    out.loss.backward()
    assert head.visual_proj.weight.grad.abs().sum() > 0 and head.text_proj.weight.grad.abs().sum() > 0
    assert model.lm.model.get_input_embeddings().weight.grad is None


def test_two_weighted_objectives_sum(t5_tokenizer, tiny_config, make_batch):
    clip = ClipGlobalConfig(name="clip_hidden", visual="encoder", text="encoder", proj_dim=None)
    model = build(tiny_config(), t5_tokenizer, [LMCrossEntropyConfig(), clip]).eval()
    batch = make_batch([12, 20])
    out = model(batch, objectives={"lm_ce": 1.0, "clip_hidden": 0.25})
    assert out.encoder is not None and out.logits is not None
    assert out.encoder.features.shape[:2] == out.encoder.mask.shape
    torch.testing.assert_close(out.loss, out.losses["lm_ce"] + 0.25 * out.losses["clip_hidden"])
    torch.testing.assert_close(out.losses["lm_ce"], model(batch).loss)  # default: lm_ce alone
    assert model.parts()[-1] == "objectives.clip_hidden"  # its temperature is learnt
    with pytest.raises(KeyError, match="clip_global.*not built into this model"):
        model(batch, objectives={"clip_global": 1.0})
