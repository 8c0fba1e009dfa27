"""The composed SLT model: config schema, shape and mask contracts, generation, save/load, paper size."""

from __future__ import annotations

import pytest
import torch

from glossfree.config import validate
from glossfree.data.layouts import get_layout
from glossfree.errors import ConfigError
from glossfree.models.language_model import FLAN_T5_ARCHITECTURES, FLAN_T5_VOCAB_SIZE
from glossfree.models.slt import NoCompressorConfig, SLTModel, SLTModelConfig, SLTOutput
from glossfree.training.tasks.translation import build_slt_model
from glossfree.models.temporal.sliding_perceiver import SlidingPerceiverConfig, num_windows


def build(config, tokenizer, seed: int = 0) -> SLTModel:
    torch.manual_seed(seed)
    return build_slt_model(config, tokenizer).eval()


# --- config schema --------------------------------------------------------------------------------


def test_default_config_is_paper_004():
    config = SLTModelConfig()
    assert config.layout == "pose203"
    assert config.frontend.kind == "pose_backbone"
    assert isinstance(config.compressor, SlidingPerceiverConfig)
    assert (config.compressor.window, config.compressor.stride) == (8, 2)
    assert config.mapper.kind == "identity"
    assert (config.lm.name_or_path, config.lm.adapter.kind) == ("google/flan-t5-xl", "dora")


def test_unknown_key_lists_valid_keys():
    with pytest.raises(
        ConfigError,
        match=r"recipe.yaml: unknown key 'frontned'; valid keys: align, compressor, frontend, frontends, fusion, layout, lm, mapper",
    ):
        validate(SLTModelConfig, {"frontned": {}}, source="recipe.yaml")
    with pytest.raises(ConfigError, match=r"unknown key 'frontend.width' \(kind 'pose_backbone'\); valid keys: .*agcn_channels.*dim"):
        validate(SLTModelConfig, {"frontend": {"width": 3}}, source="recipe.yaml")


def test_compressor_kind_selects_the_section():
    assert isinstance(
        validate(SLTModelConfig, {"compressor": {"kind": "none"}}).compressor, NoCompressorConfig
    )
    with pytest.raises(ConfigError, match=r"compressor"):
        validate(SLTModelConfig, {"compressor": {"kind": "avg_pool"}})
    with pytest.raises(ConfigError, match=r"compressor.*window"):  # perceiver keys on the 'none' kind
        validate(SLTModelConfig, {"compressor": {"kind": "none", "window": 8}})


# --- forward --------------------------------------------------------------------------------------


def test_forward_returns_loss_logits_and_named_losses(t5_tokenizer, tiny_config, make_batch):
    model = build(tiny_config(), t5_tokenizer)
    assert [name for name, _ in model.named_children()] == [
        "lm", "frontend", "compressor", "mapper", "token_norm", "objectives"
    ]
    assert model.parts() == ["frontend", "compressor", "mapper", "token_norm", "lm"]  # lm_ce has no weights
    batch = make_batch([12, 20])
    out = model.train()(batch)
    assert isinstance(out, SLTOutput) and set(out.losses) == {"lm_ce"}
    assert out.loss is out.losses["lm_ce"] and out.loss.ndim == 0
    assert out.logits.shape[:2] == model.lm.encode_targets(batch.texts).shape
    out.loss.backward()
    assert model.frontend.fuse[0].weight.grad.abs().sum() > 0


def test_encode_gives_one_token_per_window(t5_tokenizer, tiny_config, make_batch):
    model = build(tiny_config(), t5_tokenizer)
    batch = make_batch([7, 12, 25])
    embeds, mask = model.encode(batch)
    expected = num_windows(batch.lengths, window=8, stride=2)
    assert embeds.shape == (3, int(expected.max()), model.lm.embed_dim)
    assert mask.sum(dim=1).tolist() == expected.tolist()
    assert torch.all(embeds[~mask] == 0)


def test_sinusoidal_token_positions_are_added_after_the_token_norm(t5_tokenizer, tiny_config, make_batch):
    """``token_positions: sinusoidal``: the LM input is the normed tokens plus the sinusoid table of
    their step (from 0 in every sample, so padding changes nothing), zero on padding."""
    from glossfree.models.temporal.positions import sinusoidal_encoding

    plain = build(tiny_config({"token_norm": "batch"}), t5_tokenizer)
    positioned = build(tiny_config({"token_norm": "batch", "token_positions": "sinusoidal"}), t5_tokenizer)
    batch = make_batch([14, 37])
    with torch.no_grad():
        tokens, mask = plain.encode(batch)
        with_positions, same_mask = positioned.encode(batch)
        alone, _ = positioned.encode(make_batch([14]))
    assert torch.equal(mask, same_mask)
    table = sinusoidal_encoding(torch.arange(tokens.shape[1]), tokens.shape[-1])
    expected = (tokens + table) * mask.unsqueeze(-1)
    torch.testing.assert_close(with_positions, expected)
    count = int(mask[0].sum())
    assert count < mask.shape[1] and torch.all(with_positions[0, count:] == 0)
    torch.testing.assert_close(with_positions[0, :count], alone[0, :count], atol=1e-5, rtol=0)
    with pytest.raises(ConfigError, match="token_positions"):
        tiny_config({"token_positions": "learned"})


def test_padding_never_changes_a_sample(t5_tokenizer, tiny_config, make_batch):
    model = build(tiny_config({"lm": {"prompt": "übersetze"}}), t5_tokenizer)
    alone = make_batch([14])
    padded = make_batch([14, 37])  # same first sample, padded by a longer one
    with torch.no_grad():
        embeds_alone, mask_alone = model.encode(alone)
        embeds_padded, mask_padded = model.encode(padded)
        count = int(mask_alone.sum())
        torch.testing.assert_close(embeds_padded[0, :count], embeds_alone[0, :count], atol=1e-5, rtol=0)

        out_alone = model(alone)
        out_padded = model(padded)
        steps = out_alone.logits.shape[1]
        torch.testing.assert_close(out_padded.logits[0, :steps], out_alone.logits[0], atol=1e-5, rtol=0)
        # the batch loss is the token-weighted mean of the per-sample losses
        second = make_batch([37], seed=1)
        second.texts = [padded.texts[1]]
        out_second = model(second)
        tokens = [(model.lm.encode_targets([text]) != -100).sum().item() for text in padded.texts]
        weighted = (out_alone.loss * tokens[0] + out_second.loss * tokens[1]) / sum(tokens)
        torch.testing.assert_close(out_padded.loss, weighted, atol=1e-5, rtol=0)

    assert model.generate(padded, num_beams=3)[0] == model.generate(alone, num_beams=3)[0]


def test_hands_masked_in_every_frame_give_a_finite_loss(t5_tokenizer, tiny_config, make_batch):
    model = build(tiny_config(), t5_tokenizer)
    batch = make_batch([10, 16])
    layout = get_layout("pose203")
    for hand in ("left_hand", "right_hand"):
        start, stop = layout.groups[hand]
        batch.keypoint_mask[:, :, start:stop] = False
    out = model.train()(batch)
    assert torch.isfinite(out.loss) and torch.isfinite(out.logits).all()
    out.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_generate_returns_one_string_per_sample(t5_tokenizer, tiny_config, make_batch):
    model = build(tiny_config(), t5_tokenizer)
    out = model.generate(make_batch([9, 15, 4]), num_beams=2, max_new_tokens=4)
    assert len(out) == 3 and all(isinstance(text, str) for text in out)


def test_frame_tokens_without_compressor(t5_tokenizer, tiny_config, make_batch):
    model = build(tiny_config({"compressor": {"kind": "none"}, "mapper": {"kind": "mlp"}}), t5_tokenizer)
    batch = make_batch([6, 11])
    embeds, mask = model.encode(batch)
    assert embeds.shape == (2, 11, 32) and mask.sum(dim=1).tolist() == [6, 11]
    assert torch.isfinite(model(batch).loss)


def test_identity_mapper_needs_matching_widths(t5_tokenizer, tiny_config):
    config = tiny_config(
        {"frontend": {"dim": 16}, "compressor": {"kind": "none"}, "mapper": {"kind": "identity"}}
    )
    with pytest.raises(ConfigError, match=r"identity.*16-d.*32-d"):
        build_slt_model(config, t5_tokenizer)


def test_layout_mismatch_is_reported(t5_tokenizer, tiny_config, make_batch):
    model = build(tiny_config(), t5_tokenizer)
    with pytest.raises(ConfigError, match=r"layout 'pose203'.*543"):
        model(make_batch([5], num_points=543))


def test_dora_recipe_trains_visual_parts_and_adapters(t5_tokenizer, tiny_config):
    model = build(tiny_config({"lm": {"adapter": {"kind": "dora", "r": 4}}}), t5_tokenizer)
    for part in (model.frontend, model.compressor):
        assert all(p.requires_grad for p in part.parameters())
    lm_trainable = [name for name, p in model.lm.named_parameters() if p.requires_grad]
    assert lm_trainable and all(".lora_" in name for name in lm_trainable)


def test_save_and_load(t5_tokenizer, tiny_config, make_batch, tmp_path):
    config = tiny_config({"lm": {"adapter": {"kind": "lora", "r": 4}}})
    model = build(config, t5_tokenizer, seed=1)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    restored = build(config, t5_tokenizer, seed=2)
    restored.load_state_dict(torch.load(tmp_path / "model.pt"))
    batch = make_batch([9, 13])
    with torch.no_grad():
        torch.testing.assert_close(restored(batch).logits, model(batch).logits)
    assert restored.generate(batch) == model.generate(batch)


def test_paper_size_model_instantiates_on_meta(t5_tokenizer):
    """Paper 004 sizes (pose backbone, Sliding Perceiver, Flan-T5-XL architecture with DoRA) on meta."""
    config = SLTModelConfig(lm={"name_or_path": None, "architecture": FLAN_T5_ARCHITECTURES["xl"]})
    with torch.device("meta"):
        model = build_slt_model(config, t5_tokenizer)
    assert model.lm.embed_dim == 2048
    assert model.compressor.output_dim == 2048
    lm_total = sum(p.numel() for p in model.lm.parameters())
    lm_trainable = sum(p.numel() for p in model.lm.parameters() if p.requires_grad)
    vocab_rows = len(t5_tokenizer) * 2048
    # flan-t5-xl minus its two 32128-row vocabulary matrices, plus one (tied) for this tokenizer
    assert lm_total - lm_trainable == 2_849_757_184 - 2 * FLAN_T5_VOCAB_SIZE * 2048 + vocab_rows
    # DoRA r=32 on q and v of 24 + 24 self-attention and 24 cross-attention layers:
    # A (32 x 2048) + B (2048 x 32) + magnitude (2048) per adapted matrix
    assert lm_trainable == 72 * 2 * (32 * 2048 + 2048 * 32 + 2048)
