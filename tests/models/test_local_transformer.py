"""The local_transformer compressor (paper 001, HFA's temporal encoder): shapes, pooled masks,
padding invariance, paper defaults and its place in an SLT model."""

from __future__ import annotations

import pytest
import torch

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.models.slt import COMPRESSORS, SLTModelConfig
from glossfree.models.temporal.local_transformer import (
    LocalTransformer,
    LocalTransformerConfig,
    masked_avg_pool,
)
from glossfree.training.tasks.translation import build_slt_model

TINY = {"kind": "local_transformer", "num_layers": 3, "dim": 16, "num_heads": 2, "ff_dim": 32, "dropout": 0.0}


def tiny(**override) -> LocalTransformer:
    torch.manual_seed(0)
    return LocalTransformer(validate(LocalTransformerConfig, {**TINY, **override}), input_dim=6, output_dim=99).eval()


def test_defaults_are_the_paper_sizes():
    config = LocalTransformerConfig()
    assert (config.num_layers, config.dim, config.num_heads, config.ff_dim) == (4, 512, 8, 2048)
    assert (config.window, config.downsample, config.downsample_after) == (7, 2, 2)
    assert validate(SLTModelConfig, {"compressor": {"kind": "local_transformer"}}).compressor == config
    assert COMPRESSORS["local_transformer"] is LocalTransformer


def test_config_checks():
    with pytest.raises(ConfigError, match="window.*odd"):
        validate(LocalTransformerConfig, {"window": 6})
    with pytest.raises(ConfigError, match="downsample_after=5 is beyond num_layers=4"):
        validate(LocalTransformerConfig, {"downsample_after": 5})
    with pytest.raises(ConfigError, match="even width"):
        validate(LocalTransformerConfig, {"dim": 24, "num_heads": 8})  # heads of width 3


def test_masked_avg_pool_by_hand():
    x = torch.tensor([[[1.0], [3.0], [5.0], [7.0], [9.0]], [[2.0], [4.0], [6.0], [100.0], [100.0]]])
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    pooled, pooled_mask = masked_avg_pool(x, mask, 2)
    assert pooled_mask.tolist() == [[True, True, True], [True, True, False]]
    # sample 0: (1+3)/2, (5+7)/2, 9 alone; sample 1: (2+4)/2, 6 alone (100 is padding), padding 0
    torch.testing.assert_close(pooled[..., 0], torch.tensor([[2.0, 6.0, 9.0], [3.0, 6.0, 0.0]]))


def test_shapes_and_masks_after_downsampling():
    model = tiny()
    lengths = torch.tensor([9, 4, 1])
    mask = torch.arange(9)[None, :] < lengths[:, None]
    tokens, token_mask = model(torch.randn(3, 9, 6), mask)
    assert model.output_dim == 16
    assert tokens.shape == (3, 5, 16) and token_mask.shape == (3, 5)
    assert token_mask.sum(dim=1).tolist() == [5, 2, 1]  # ceil(len / 2)
    assert torch.all(tokens[~token_mask] == 0) and torch.isfinite(tokens).all()
    no_pool = tiny(downsample=1)
    assert no_pool(torch.randn(3, 9, 6), mask)[0].shape == (3, 9, 16)
    last = tiny(downsample_after=3)  # pooling after the last layer
    assert last(torch.randn(3, 9, 6), mask)[1].sum(dim=1).tolist() == [5, 2, 1]


def test_padding_does_not_change_a_sample():
    model = tiny()
    torch.manual_seed(1)
    sample = torch.randn(1, 11, 6)
    alone, alone_mask = model(sample, torch.ones(1, 11, dtype=torch.bool))
    batch = torch.randn(2, 20, 6) * 50  # padding holds large garbage
    batch[0, :11] = sample[0]
    mask = torch.arange(20)[None, :] < torch.tensor([[11], [20]])
    padded, padded_mask = model(batch, mask)
    assert padded_mask[0].sum() == alone_mask.sum() == 6
    torch.testing.assert_close(padded[0, :6], alone[0], atol=1e-5, rtol=0)
    assert torch.all(padded[0, 6:] == 0)


def test_attention_is_local():
    # one layer, no pooling: step 0's output cannot depend on frames beyond step 3
    model = tiny(num_layers=1, downsample=1, downsample_after=0)
    x = torch.randn(1, 12, 6)
    mask = torch.ones(1, 12, dtype=torch.bool)
    changed = x.clone()
    changed[0, 4:] += 10.0
    torch.testing.assert_close(model(changed, mask)[0][0, 0], model(x, mask)[0][0, 0])
    changed[0, 3] += 10.0
    assert not torch.allclose(model(changed, mask)[0][0, 0], model(x, mask)[0][0, 0])


def test_in_an_slt_model(t5_tokenizer, tiny_config, make_batch):
    config = tiny_config({"compressor": TINY, "mapper": {"kind": "linear"}})
    torch.manual_seed(0)
    model = build_slt_model(config, t5_tokenizer).eval()
    assert isinstance(model.compressor, LocalTransformer)
    batch = make_batch([9, 14])
    with torch.no_grad():
        embeds, mask = model.encode(batch)
        out = model(batch)
    assert embeds.shape == (2, 7, model.lm.embed_dim)
    assert mask.sum(dim=1).tolist() == [5, 7]
    assert torch.isfinite(out.loss)


def test_trains_with_pseudo_gloss_bce(t5_tokenizer, tiny_config, make_batch, tmp_path):
    # HFA's pre-training pairing: pseudo-gloss BCE read at the local transformer's output
    from glossfree.objectives import PseudoGlossBCEConfig
    from glossfree.text.prototypes import save_prototypes
    from glossfree.text.pseudo_gloss import PseudoGlossVocab

    vocab = PseudoGlossVocab(tokens=("<blank>", "a", "b"), language="de", doc_freq={"a": 1, "b": 1}, num_sentences=1)
    prototypes = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    path = save_prototypes(tmp_path / "prototypes.safetensors", prototypes, vocab)
    config = tiny_config({"compressor": TINY, "mapper": {"kind": "linear"}})
    torch.manual_seed(0)
    model = build_slt_model(config, t5_tokenizer, [PseudoGlossBCEConfig(prototypes=str(path), dim=3)])
    batch = make_batch([9, 14])
    batch.targets = {"pseudo_gloss": torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 1.0]])}
    out = model.train()(batch, objectives={"pseudo_gloss_bce": 1.0})
    assert set(out.losses) == {"pseudo_gloss_bce"} and out.logits is None  # the LM did not run
    out.loss.backward()
    assert model.compressor.input.weight.grad.abs().sum() > 0
    assert model.objectives["pseudo_gloss_bce"].proj.in_features == 16  # sized by the compressor
