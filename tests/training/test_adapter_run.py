"""A run on a frozen pretrained LM base with DoRA: checkpoints and export hold no base weights."""

from __future__ import annotations

import pytest
import torch

from glossfree.checkpoint import BASE_KEY
from glossfree.inference.loading import load_trained
from glossfree.data.manifest import load_split
from glossfree.errors import ConfigError
from glossfree.text.tokenizers import train_tokenizer
from glossfree.training.callbacks import KillAtEpoch, SimulatedKill
from glossfree.training.engine import LaunchConfig, train
from glossfree.training.tasks import load_recipe
from tiny import FAST_RECIPE


def _base(folder, texts, seed: int) -> None:
    from transformers import T5Config, T5ForConditionalGeneration

    tokenizer = train_tokenizer(texts, folder, vocab_size=120)
    torch.manual_seed(seed)
    config = T5Config(
        d_model=64, d_ff=512, d_kv=16, num_heads=4, num_layers=2, num_decoder_layers=2, vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=0,
    )  # fmt: skip
    T5ForConditionalGeneration(config).save_pretrained(folder)


@pytest.mark.slow
def test_dora_run_on_a_local_base_stores_only_the_adapter(tiny_corpus, tmp_path):
    base = tmp_path / "base"
    texts = [record.text for record in load_split(tiny_corpus, "train")]
    _base(base, texts, seed=0)
    recipe = load_recipe(
        "pose_perceiver/tiny",
        [*FAST_RECIPE, f"model.lm.name_or_path={base}", "model.lm.architecture={}",
         "model.lm.adapter={kind: dora, r: 4, alpha: 8}", "tokenizer.kind=pretrained", f"tokenizer.name_or_path={base}"],
    )  # fmt: skip
    launch = LaunchConfig(accelerator="cpu", progress=False)
    run = tmp_path / "run"
    with pytest.raises(SimulatedKill):
        train(recipe, data_root=tiny_corpus, run_dir=run, launch=LaunchConfig(
            accelerator="cpu", progress=False, extra_callbacks=[KillAtEpoch(1)]))  # fmt: skip
    result = train(recipe, data_root=tiny_corpus, run_dir=run, resume=True, launch=launch)

    base_bytes = sum(p.stat().st_size for p in base.glob("*.safetensors"))
    for ckpt in (run / "stages" / "slt" / "checkpoints").glob("*.ckpt"):
        saved = torch.load(ckpt, weights_only=True, mmap=True)
        assert BASE_KEY in saved
        assert not any("base_layer" in key or key.endswith("shared.weight") for key in saved["state_dict"])
    trained = load_trained(result.model_dir)
    everything = sum(t.numel() * t.element_size() for t in trained.model.state_dict().values())
    assert (result.model_dir / "model.safetensors").stat().st_size < everything - 0.9 * base_bytes
    assert trained.metadata[BASE_KEY][0]["name_or_path"] == str(base)

    _base(base, texts, seed=1)  # the folder now holds another model
    with pytest.raises(ConfigError, match="loads a different one"):
        load_trained(result.model_dir)
    with pytest.raises(ConfigError, match="loads a different one"):  # the stage checkpoints are checked too
        train(recipe, data_root=tiny_corpus, run_dir=run, resume=True, launch=launch)
