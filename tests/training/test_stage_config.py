"""Stage schema: objectives union, monitor and its mode, validation cadence, parts; init_checkpoint loading."""

from __future__ import annotations

import pytest
import torch

from glossfree.errors import ConfigError
from glossfree.objectives import ClipGlobalConfig, LMCrossEntropyConfig
from glossfree.training.init_weights import load_weights_into, read_state_dict, remap_keys, resolve_init_checkpoint
from glossfree.training.recipe import InitCheckpointConfig
from glossfree.training.tasks import load_recipe

CLIP = "{kind: clip_global, proj_dim: 8}"


def _load(*overrides: str):
    return load_recipe("pose_perceiver/tiny", list(overrides))


def test_default_stage_is_unchanged():
    stage = _load().stages[0]
    assert stage.objectives == [LMCrossEntropyConfig(weight=1.0)]
    assert (stage.monitor, stage.monitor_mode, stage.generates) == ("dev/bleu4", "max", True)
    assert stage.trainable_parts(["frontend", "compressor", "mapper", "token_norm", "lm"]) == [
        "frontend", "compressor", "mapper", "token_norm", "lm"
    ]  # fmt: skip
    # The written form of older recipes: a bare weight, a kind without weight.
    assert _load("stages.0.objectives=[{weight: 0.5}]").stages[0].objectives[0].kind == "lm_ce"
    assert _load("stages.0.objectives=[{kind: lm_ce, weight: 1.0}]").stages[0].objective_weights == {"lm_ce": 1.0}


@pytest.mark.parametrize(
    ("monitor", "mode", "generates"),
    [("dev/bleu4", "max", True), ("dev/chrf", "max", True), ("dev/loss", "min", False),
     ("dev/clip_global", "min", False), ("dev/clip_global_acc", "max", False), ("dev/lm_ce", "min", False)],
)  # fmt: skip
def test_monitor_mode_follows_the_metric(monitor, mode, generates):
    stage = _load(f"stages.0.objectives=[{CLIP}, {{kind: lm_ce}}]", f"stages.0.monitor={monitor}").stages[0]
    assert (stage.monitor_mode, stage.generates) == (mode, generates)


def test_objectives_and_their_parts():
    recipe = _load(f"stages.0.objectives=[{CLIP}]", "stages.0.monitor=dev/clip_global_acc")
    stage = recipe.stages[0]
    assert isinstance(stage.objectives[0], ClipGlobalConfig) and not stage.generates
    parts = ["frontend", "compressor", "mapper", "token_norm", "lm", "objectives.clip_global", "objectives.other"]
    assert stage.trainable_parts(parts) == parts[:-1]  # another stage's objective module stays frozen
    train = _load(f"stages.0.objectives=[{CLIP}]", "stages.0.train=[frontend, objectives.clip_global]")
    assert train.stages[0].train == ["frontend", "objectives.clip_global"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["stages.0.monitor=dev/wer"], r"monitor 'dev/wer' is not logged by this stage; choose one of dev/bleu4.*dev/loss"),
        ([f"stages.0.objectives=[{CLIP}]", "stages.0.monitor=dev/lm_ce"], r"monitor 'dev/lm_ce' is not logged"),
        (["stages.0.generate=false"], r"monitor 'dev/bleu4' is scored on generated translations, but generate is false"),
        (["stages.0.val_every_n_steps=2"], r"val_every_n_epochs and val_every_n_steps exclude each other"),
        (["stages.0.val_every_n_epochs=null", "stages.0.val_every_n_steps=2"], r"val_every_n_steps 2 needs .* max_steps"),
        (["stages.0.val_every_n_epochs=null", "stages.0.max_epochs=null", "stages.0.max_steps=5",
          "stages.0.val_every_n_steps=2"], r"max_steps a multiple of it \(got 5\)"),
        (["stages.0.train=[frontend, head]"], r"train lists head, not part\(s\) of the model; its parts: frontend, "
         r"compressor, mapper, token_norm, lm, lm.encoder, lm.decoder$"),
        (["stages.0.train=[objectives.clip_global]"], r"train lists objectives.clip_global"),
        ([f"stages.0.objectives=[{CLIP}, {CLIP}]"], r"objective name\(s\) clip_global used twice"),
        (["stages.0.objectives=[{kind: clipp}]"], r"clipp"),
        (["stages.0.objectives=[]"], r"objectives"),
        (["stages.0.objectives=[{kind: clip_global, temperature: 0.07, min_temperature: 0.5}]"], r"min_temperature"),
    ],
)  # fmt: skip
def test_stage_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        _load(*overrides)


def test_one_objective_name_configured_two_ways_is_an_error():
    stage = "{name: %s, max_epochs: 1, objectives: [{kind: clip_global, proj_dim: %d, weight: %s}]}"
    ok = _load(f"stages=[{stage % ('a', 8, 1.0)}, {stage % ('b', 8, 0.5)}]")  # weights may differ
    assert [o.key for o in ok.objective_configs()] == ["clip_global"]
    with pytest.raises(ConfigError, match=r"objective 'clip_global' is configured differently in stages 'a' and 'b'"):
        _load(f"stages=[{stage % ('a', 8, 1.0)}, {stage % ('b', 16, 1.0)}]")


# --------------------------------------------------------------------------- init_checkpoint loading
class Two(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.frontend = torch.nn.Linear(2, 3)
        self.mapper = torch.nn.Linear(3, 3)


def test_prefix_map_renames_and_selects():
    state = {"enc.w": 1, "enc.b": 2, "other.w": 3, "enc.deep.w": 4}
    assert remap_keys(state, {}) == state
    assert remap_keys(state, {"enc.": "frontend."}) == {"frontend.w": 1, "frontend.b": 2, "frontend.deep.w": 4}
    assert remap_keys(state, {"enc.": "a.", "enc.deep.": "b."}) == {"a.w": 1, "a.b": 2, "b.w": 4}  # longest wins


def test_strict_load_lists_unmatched_keys_and_loose_load_takes_the_matches(tmp_path):
    torch.manual_seed(0)
    source, target = Two(), Two()
    state = {"encoder.weight": source.frontend.weight.detach(), "encoder.bias": source.frontend.bias.detach(),
             "encoder.extra": torch.zeros(1), "mapper.weight": torch.zeros(5, 5)}  # fmt: skip
    with pytest.raises(ConfigError, match=r"1 key\(s\) not in the model: frontend.extra.*strict: false"):
        load_weights_into(target, state, prefix_map={"encoder.": "frontend."})
    with pytest.raises(ConfigError, match=r"of another shape: mapper.weight \(5, 5\) vs \(3, 3\).*not in the checkpoint: mapper.bias"):
        load_weights_into(target, state, prefix_map={"mapper.": "mapper."})
    with pytest.raises(ConfigError, match=r"no key starts with 'enc2.'"):
        load_weights_into(target, state, prefix_map={"enc2.": "frontend."})
    mapper_before = target.mapper.weight.detach().clone()
    loaded = load_weights_into(target, state, prefix_map={"encoder.": "frontend.", "mapper.": "mapper."}, strict=False)
    assert loaded == ["frontend.bias", "frontend.weight"]
    assert torch.equal(target.frontend.weight, source.frontend.weight)
    assert torch.equal(target.mapper.weight, mapper_before)
    exact = {k: v for k, v in Two().state_dict().items()}
    assert load_weights_into(target, exact) == sorted(exact)  # no map, strict, everything matches


def test_resolve_and_read_checkpoint_files(tmp_path):
    model = Two()
    ckpt = tmp_path / "a.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}, "epoch": 1}, ckpt)
    assert resolve_init_checkpoint(InitCheckpointConfig(path=ckpt), "s") == ckpt
    assert read_state_dict(ckpt).keys() == model.state_dict().keys()
    with pytest.raises(ConfigError, match="is a file; init_checkpoint.stage only applies to a run folder"):
        resolve_init_checkpoint(InitCheckpointConfig(path=ckpt, stage="x"), "s")
    with pytest.raises(ConfigError, match=r"stage 'x' has not finished there .*finished stages: none"):
        resolve_init_checkpoint(InitCheckpointConfig(path=tmp_path, stage="x"), "s")
    with pytest.raises(ConfigError, match="no model.safetensors in it or in its model/ folder"):
        resolve_init_checkpoint(InitCheckpointConfig(path=tmp_path), "s")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception, match="junk.ckpt: cannot read weights"):
        read_state_dict(tmp_path / "junk.ckpt")
