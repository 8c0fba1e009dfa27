"""The LM's stage pieces ``lm.encoder`` / ``lm.decoder`` (paper 001's fine-tuning stage 1 trains the
mapper and the decoder alone): every LM weight is in exactly one piece, and a frozen piece stays
bit-identical through an AdamW step with weight decay while the trained ones move."""

from __future__ import annotations

import pytest
import torch

from glossfree.errors import ConfigError
from glossfree.models.language_model import LanguageModelConfig
from glossfree.models.slt import SUB_PARTS, part_names
from glossfree.text.tokenizers import train_tokenizer
from glossfree.training.callbacks import apply_freezing
from glossfree.training.optim import OptimizerConfig, build_optimizer
from glossfree.training.recipe import check_stage_parts
from glossfree.training.tasks.translation import build_slt_model



TEXTS = [
    "und nun die wettervorhersage für morgen", "mancherorts regnet es auch länger",
    "im süden gibt es gewitter", "am tag sonne und wolken im wechsel",
]
TINY_MBART = {
    "family": "mbart", "name_or_path": None, "src_lang": "de_DE", "tgt_lang": "de_DE",
    "architecture": {
        "d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 4,
        "decoder_attention_heads": 4, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64, "dropout": 0.1,
        "max_position_embeddings": 64, "scale_embedding": True,
    },
    "generation": {"num_beams": 1, "max_new_tokens": 5},
}  # fmt: skip


@pytest.fixture(scope="module")
def mbart_tokenizer(tmp_path_factory):
    return train_tokenizer(TEXTS * 3, tmp_path_factory.mktemp("mbart") / "tok", vocab_size=60, family="mbart")


def _model(tiny_config, tokenizer, adapter: str):
    torch.manual_seed(0)
    lm = LanguageModelConfig.model_validate({**TINY_MBART, "adapter": {"kind": adapter, "r": 2}})
    config = tiny_config({"mapper": {"kind": "linear"}}).model_copy(update={"lm": lm})
    model = build_slt_model(config, tokenizer)
    base_frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    return model, base_frozen


@pytest.mark.parametrize("adapter", ["none", "lora"])
def test_pieces_split_the_lm(tiny_config, mbart_tokenizer, adapter):
    model, _ = _model(tiny_config, mbart_tokenizer, adapter)
    encoder, _ = model.sub_part("lm.encoder")
    decoder, _ = model.sub_part("lm.decoder")
    lm_names = {name for name, _ in model.named_parameters() if name.startswith("lm.")}
    assert encoder and decoder and not encoder & decoder and encoder | decoder == lm_names
    assert all(".encoder." in name for name in encoder)
    shared = [name for name in decoder if "shared" in name or "embed_tokens" in name]
    assert shared  # the token embeddings are the decoder's (the encoder reads visual tokens)
    if adapter == "lora":
        assert any("lora_" in name for name in encoder) and any("lora_" in name for name in decoder)


@pytest.mark.parametrize("adapter", ["none", "lora"])
def test_frozen_encoder_stays_bit_identical_after_a_step(tiny_config, mbart_tokenizer, make_batch, adapter):
    model, base_frozen = _model(tiny_config, mbart_tokenizer, adapter)
    model.train()
    apply_freezing(model, ("mapper", "lm.decoder"), base_frozen)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    encoder, encoder_modules = model.sub_part("lm.encoder")
    decoder, _ = model.sub_part("lm.decoder")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and trainable <= decoder | {n for n in before if n.startswith("mapper.")}
    assert not trainable & base_frozen  # LoRA's base weights stay frozen whatever the stage says
    # The frozen encoder runs in eval mode (no dropout); the decoder trains in train mode.
    assert all(not m.training for module in encoder_modules for m in module.modules())
    assert model.lm._base().get_decoder().training

    optimizer = build_optimizer(model.named_parameters(), OptimizerConfig(kind="adamw", lr=1e-2, weight_decay=0.1))
    model(make_batch([9, 6])).loss.backward()
    optimizer.step()
    after = dict(model.named_parameters())
    frozen = [n for n in before if n not in trainable]
    assert all(torch.equal(before[n], after[n]) for n in frozen)  # bit-identical: encoder, frontend, compressor
    assert any(n in encoder for n in frozen)
    moved = {n for n in trainable if not torch.equal(before[n], after[n])}
    assert any(n.startswith("mapper.") for n in moved) and moved & decoder


def test_lm_means_both_pieces(tiny_config, mbart_tokenizer):
    model, base_frozen = _model(tiny_config, mbart_tokenizer, "lora")
    apply_freezing(model, ("lm",), base_frozen)
    whole = {name for name, p in model.named_parameters() if p.requires_grad}
    apply_freezing(model, ("lm.encoder", "lm.decoder"), base_frozen)
    assert whole == {name for name, p in model.named_parameters() if p.requires_grad}
    assert any("lora_" in name for name in whole)


def test_stage_validation_names_the_pieces(tiny_config, mbart_tokenizer):
    assert part_names(["mapper", "lm"]) == ["mapper", "lm", *SUB_PARTS["lm"]]
    model, base_frozen = _model(tiny_config, mbart_tokenizer, "none")
    with pytest.raises(ConfigError, match="lm.encoder, lm.decoder"):
        apply_freezing(model, ("lm.decoderr",), base_frozen)
    from types import SimpleNamespace

    with pytest.raises(ValueError, match="lm.decoders"):
        check_stage_parts([SimpleNamespace(name="ft1", train=["mapper", "lm.decoders"])], ["mapper", "lm"])
    check_stage_parts([SimpleNamespace(name="ft1", train=["mapper", "lm.decoder"])], ["mapper", "lm"])


# --- paper 001's frozen text path: the same encoder with its adapters off ---------------------------


def _lora_on(model) -> None:
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:  # peft starts B at 0: make the adapters change the output
                param.normal_(0.0, 0.5)


def test_frozen_text_path_leaves_the_adapters_out(tiny_config, mbart_tokenizer):
    import copy

    model, _ = _model(tiny_config, mbart_tokenizer, "lora")
    _lora_on(model)
    model.train()
    frozen, mask = model.lm.encode_texts(TEXTS, adapters=False)
    adapted, _ = model.lm.encode_texts(TEXTS)
    assert not frozen.requires_grad and frozen.grad_fn is None
    assert adapted.requires_grad and not torch.allclose(frozen, adapted)
    # Reference: a copy whose adapters do nothing (B = 0), in eval mode: the frozen path's numbers.
    bare = copy.deepcopy(model)
    with torch.no_grad():
        for name, param in bare.named_parameters():
            if "lora_B" in name:
                param.zero_()
    bare.eval()
    with torch.no_grad():
        expected, expected_mask = bare.lm.encode_texts(TEXTS)
    torch.testing.assert_close(frozen, expected)
    assert torch.equal(mask, expected_mask)
    # The adapters are back on and the modes are as they were (dropout 0.1 runs again in training).
    assert all(m.training for m in model.lm.modules())
    with torch.no_grad():
        assert not torch.allclose(model.lm.encode_texts(TEXTS)[0], expected)
    # No second encoder in memory: the text path is the LM's own.
    encoders = [m for m in model.modules() if type(m).__name__ == "MBartEncoder"]
    assert len(encoders) == 1


def test_clip_global_frozen_text_gets_no_gradient(tiny_config, mbart_tokenizer, make_batch):
    from glossfree.objectives import ClipGlobalConfig

    lm = LanguageModelConfig.model_validate({**TINY_MBART, "adapter": {"kind": "lora", "r": 2}})
    config = tiny_config({"mapper": {"kind": "linear"}}).model_copy(update={"lm": lm})
    clip = ClipGlobalConfig(visual="tokens", text="frozen_encoder", proj_dim=8)
    torch.manual_seed(0)
    model = build_slt_model(config, mbart_tokenizer, [clip])
    _lora_on(model)
    model.train()
    model(make_batch([7, 5, 6]), objectives={"clip_global": 1.0}).loss.backward()
    assert all(p.grad is None for p in model.lm.parameters())  # the sentence side never trains
    assert model.objectives["clip_global"].text_proj.weight.grad is not None
    assert model.mapper.weight.grad is not None
    # Paper 001's pairing: the adapted encoder reads the video, gradients reach its LoRA weights only
    # through the visual side.
    model.zero_grad()
    model.set_objectives({"clip_global": type(model.objectives["clip_global"])(
        ClipGlobalConfig(visual="encoder", text="frozen_encoder", proj_dim=8), model.point_dims())})
    model(make_batch([7, 5, 6]), objectives={"clip_global": 1.0}).loss.backward()
    encoder, _ = model.sub_part("lm.encoder")
    decoder, _ = model.sub_part("lm.decoder")
    grads = {name for name, p in model.named_parameters() if p.grad is not None}
    assert any("lora_" in name for name in grads & encoder) and not grads & decoder
