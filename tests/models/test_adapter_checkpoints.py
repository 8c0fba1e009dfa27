"""Adapter-only storage: a frozen pretrained LM base is referenced by path and fingerprint, not copied."""

from __future__ import annotations

import torch
import pytest

from glossfree.checkpoint import (
    BASE_KEY,
    MODEL_FILE,
    export_model,
    load_checkpoint_weights,
    pretrained_base,
)
from glossfree.inference.loading import load_trained
from glossfree.errors import ConfigError, DataError
from glossfree.training.tasks.translation import build_slt_model
from glossfree.training.recipe import RecipeConfig

BASE_ARCH = {"d_model": 32, "d_ff": 512, "d_kv": 8, "num_heads": 4, "num_layers": 2, "num_decoder_layers": 2}


def save_base(folder, tokenizer, seed: int) -> None:
    """A tiny T5 saved with save_pretrained: the 'pretrained base' of these tests."""
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    ids = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id,
           "decoder_start_token_id": tokenizer.pad_token_id}  # fmt: skip
    T5ForConditionalGeneration(T5Config(**BASE_ARCH, vocab_size=len(tokenizer), dropout_rate=0.0, **ids)).save_pretrained(folder)


def pretrained_recipe(tiny_config, folder) -> RecipeConfig:
    from glossfree.models.language_model import AdapterConfig

    model = tiny_config()
    lm = model.lm.model_copy(
        update={"name_or_path": str(folder), "architecture": {}, "adapter": AdapterConfig(kind="dora", r=2)}
    )
    model = model.model_copy(update={"lm": lm})
    return RecipeConfig(model=model, stages=[{"name": "slt", "max_epochs": 1}])


def trained_model(recipe, tokenizer):
    torch.manual_seed(1)
    model = build_slt_model(recipe.model, tokenizer).eval()
    with torch.no_grad():  # training moved every trainable weight (LoRA B starts at zero)
        for param in model.parameters():
            if param.requires_grad:
                param.add_(0.05 * torch.randn_like(param))
    return model


def outputs(model, batch):
    with torch.no_grad():
        return model(batch).logits, model.generate(batch)


def test_export_holds_only_what_trained_and_reloads_exactly(t5_tokenizer, tiny_config, make_batch, tmp_path):
    save_base(tmp_path / "base", t5_tokenizer, seed=0)
    recipe = pretrained_recipe(tiny_config, tmp_path / "base")
    model = trained_model(recipe, t5_tokenizer)
    base_keys, prints = pretrained_base(model)
    assert base_keys and all(key.startswith("lm.") and "lora" not in key for key in base_keys)
    assert prints[0]["name_or_path"] == str(tmp_path / "base")

    out = export_model(model, recipe, t5_tokenizer, tmp_path / "model", {"glossfree_version": "test"})
    base_bytes = sum(t.numel() * t.element_size() for k, t in model.state_dict().items() if k in base_keys)
    all_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    size = (out / MODEL_FILE).stat().st_size
    assert size < all_bytes - 0.9 * base_bytes  # the base is not in the file
    from safetensors import safe_open

    with safe_open(str(out / MODEL_FILE), "pt") as handle:
        assert not set(handle.keys()) & base_keys
        assert any("lora_" in key for key in handle.keys())

    batch = make_batch([12, 20])
    loaded = load_trained(out)
    expected, loaded_out = outputs(model, batch), outputs(loaded.model, batch)
    assert torch.equal(expected[0], loaded_out[0]) and expected[1] == loaded_out[1]
    assert loaded.metadata[BASE_KEY][0]["checksum"] == prints[0]["checksum"]

    save_base(tmp_path / "base", t5_tokenizer, seed=7)  # another base behind the same path
    with pytest.raises(ConfigError, match=r"trained on the pretrained base .*loads a different one \(checksum"):
        load_trained(out)


def test_lightning_checkpoint_stores_no_base_and_resumes(t5_tokenizer, tiny_config, make_batch, tmp_path):
    from glossfree.training.module import SLTLightningModule

    save_base(tmp_path / "base", t5_tokenizer, seed=0)
    recipe = pretrained_recipe(tiny_config, tmp_path / "base")
    model = trained_model(recipe, t5_tokenizer)
    module = SLTLightningModule(model, recipe.stages[0], recipe.evaluation)
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)  # what Lightning calls before writing the .ckpt
    base_keys, _ = pretrained_base(model)
    assert not {key.removeprefix("model.") for key in checkpoint["state_dict"]} & base_keys
    torch.save(checkpoint, tmp_path / "last.ckpt")
    full = {"state_dict": module.state_dict()}
    torch.save(full, tmp_path / "full.ckpt")
    base_bytes = sum(t.numel() * t.element_size() for k, t in model.state_dict().items() if k in base_keys)
    saved = (tmp_path / "last.ckpt").stat().st_size
    assert saved < (tmp_path / "full.ckpt").stat().st_size - 0.9 * base_bytes

    fresh = build_slt_model(recipe.model, t5_tokenizer).eval()  # untrained adapter on the same base
    load_checkpoint_weights(fresh, tmp_path / "last.ckpt")
    batch = make_batch([9, 14])
    assert torch.equal(outputs(fresh, batch)[0], outputs(model, batch)[0])

    # Resume: Lightning loads strictly after on_load_checkpoint, which fills in the base.
    resumed = SLTLightningModule(build_slt_model(recipe.model, t5_tokenizer).eval(), recipe.stages[0], recipe.evaluation)
    loaded = torch.load(tmp_path / "last.ckpt", weights_only=True)
    resumed.on_load_checkpoint(loaded)
    resumed.load_state_dict(loaded["state_dict"], strict=True)
    assert torch.equal(outputs(resumed.model, batch)[0], outputs(model, batch)[0])

    save_base(tmp_path / "base", t5_tokenizer, seed=7)
    other = build_slt_model(recipe.model, t5_tokenizer)
    with pytest.raises(ConfigError, match="loads a different one"):
        load_checkpoint_weights(other, tmp_path / "last.ckpt")


def test_from_scratch_lm_saves_everything(t5_tokenizer, tiny_config, make_batch, tmp_path):
    recipe = RecipeConfig(model=tiny_config(), stages=[{"name": "slt", "max_epochs": 1}])
    model = trained_model(recipe, t5_tokenizer)
    assert pretrained_base(model) == (set(), [])
    out = export_model(model, recipe, t5_tokenizer, tmp_path / "model", {})
    batch = make_batch([10])
    assert torch.equal(outputs(load_trained(out).model, batch)[0], outputs(model, batch)[0])


def test_weights_of_another_recipe_are_refused(t5_tokenizer, tiny_config, tmp_path):
    recipe = RecipeConfig(model=tiny_config(), stages=[{"name": "slt", "max_epochs": 1}])
    out = export_model(trained_model(recipe, t5_tokenizer), recipe, t5_tokenizer, tmp_path / "model", {})
    save_base(tmp_path / "base", t5_tokenizer, seed=0)
    other = pretrained_recipe(tiny_config, tmp_path / "base")
    (out / "recipe.yaml").write_text(
        __import__("glossfree.checkpoint", fromlist=["recipe_to_yaml"]).recipe_to_yaml(other), encoding="utf-8"
    )
    with pytest.raises(DataError, match="do not fit this model's recipe"):
        load_trained(out)
