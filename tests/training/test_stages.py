"""Multi-stage recipes on the tiny corpus: freezing, init_from / init_checkpoint, monitors and best checkpoints."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest
import torch

from glossfree.inference.loading import load_trained
from glossfree.errors import ConfigError
from glossfree.training.engine import LaunchConfig, train
from glossfree.training.init_weights import read_state_dict
from glossfree.training.module import SLTLightningModule
from glossfree.training.recipe import RecipeConfig
from glossfree.training.tasks import load_recipe

from tiny import FAST_RECIPE

CLIP = {"kind": "clip_global", "proj_dim": 16, "visual": "tokens", "text": "embeddings"}


def _recipe(*stages: dict, overrides: list[str] | None = None) -> RecipeConfig:
    base = load_recipe("pose_perceiver/tiny", [*FAST_RECIPE, *(overrides or [])]).model_dump()
    defaults = {"batch_size": 8, "optimizer": {"kind": "adamw", "lr": 2.0e-3}, "schedule": {"kind": "constant"}}
    return RecipeConfig.model_validate({**base, "stages": [{**defaults, **stage} for stage in stages]})


class Probe(L.Callback):
    """The model's state at the start and end of each stage's training."""

    def __init__(self) -> None:
        self.start: dict[str, dict[str, torch.Tensor]] = {}
        self.end: dict[str, dict[str, torch.Tensor]] = {}

    @staticmethod
    def _state(module) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in module.model.state_dict().items()}

    def on_train_start(self, trainer, pl_module) -> None:
        self.start[pl_module.stage.name] = self._state(pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self.end[pl_module.stage.name] = self._state(pl_module)


def _launch(*callbacks) -> LaunchConfig:
    return LaunchConfig(accelerator="cpu", progress=False, extra_callbacks=list(callbacks))


def _metric(run_dir: Path, stage: str, name: str) -> list[tuple[int, int, float]]:
    """(epoch, step, value) of each row that logged ``name``."""
    rows = []
    for path in sorted((run_dir / "logs" / stage).glob("attempt-*/metrics.csv")):
        with open(path, newline="") as handle:
            rows += [(int(r["epoch"]), int(r["step"]), float(r[name])) for r in csv.DictReader(handle) if r.get(name)]
    return rows


def _part(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k.startswith(prefix)}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def aligned_run(tiny_corpus, tmp_path_factory):
    """Stage 'align' (clip_global, LM frozen, monitor dev/loss), then 'slt' (lm_ce, visual side frozen)."""
    recipe = _recipe(
        {"name": "align", "objectives": [CLIP], "train": ["frontend", "compressor", "objectives.clip_global"],
         "monitor": "dev/loss", "max_epochs": 3},
        {"name": "slt", "objectives": [{"kind": "lm_ce"}], "train": ["mapper", "token_norm", "lm"], "max_epochs": 1},
    )  # fmt: skip
    probe = Probe()
    run_dir = tmp_path_factory.mktemp("stages") / "run"
    result = train(recipe, data_root=tiny_corpus, run_dir=run_dir, launch=_launch(probe))
    return SimpleNamespace(run_dir=run_dir, result=result, probe=probe)


@pytest.mark.slow
def test_frozen_parts_stay_bit_identical_and_trained_ones_move(aligned_run):
    start, end = aligned_run.probe.start, aligned_run.probe.end
    for stage, frozen, trained in (
        ("align", ["lm.", "mapper.", "token_norm."], ["frontend.", "compressor.", "objectives.clip_global."]),
        ("slt", ["frontend.", "compressor.", "objectives.clip_global."], ["lm.", "token_norm."]),
    ):
        for prefix in frozen:
            assert _same(_part(start[stage], prefix), _part(end[stage], prefix)), f"{stage}: {prefix} moved"
        for prefix in trained:
            assert not _same(_part(start[stage], prefix), _part(end[stage], prefix)), f"{stage}: {prefix} did not train"


@pytest.mark.slow
def test_a_stage_without_translation_monitors_its_loss_and_the_next_starts_from_its_best(aligned_run):
    run_dir, probe = aligned_run.run_dir, aligned_run.probe
    align, slt = aligned_run.result.stages
    losses = _metric(run_dir, "align", "dev/loss")
    assert [epoch for epoch, _, _ in losses] == [0, 1, 2]
    best_epoch, _, best_loss = min(losses, key=lambda row: row[2])
    assert align["monitor"] == "dev/loss" and align["best_score"] == pytest.approx(best_loss)
    assert align["best_dev_bleu4"] is None
    assert Path(align["best_checkpoint"]).name.startswith(f"best-epoch={best_epoch}-")
    assert not _metric(run_dir, "align", "dev/bleu4")  # no generation in a stage that does not translate
    assert not _metric(run_dir, "align", "dev/input_reliance")  # no lm_ce: no reliance check
    assert _metric(run_dir, "align", "dev/clip_global_acc") and _metric(run_dir, "align", "train/clip_global")
    # init_from (the previous stage by default): 'slt' starts from align's best checkpoint.
    best = read_state_dict(aligned_run.run_dir / align["best_checkpoint"])
    assert _same(probe.start["slt"], best)
    assert slt["monitor"] == "dev/bleu4" and slt["best_dev_bleu4"] is not None
    assert _metric(run_dir, "slt", "dev/bleu4") and _metric(run_dir, "slt", "dev/input_reliance")
    done = json.loads((run_dir / "stages" / "align" / "done.json").read_text())
    assert done["monitor"] == "dev/loss"
    # The exported model carries the objective's weights and loads strictly.
    trained = load_trained(run_dir)
    assert "objectives.clip_global" in trained.model.parts()
    assert _same(_part(trained.model.state_dict(), "objectives."), _part(probe.end["slt"], "objectives."))


@pytest.mark.slow
def test_init_checkpoint_with_a_prefix_map_and_step_validation(aligned_run, tiny_corpus, tmp_path):
    align = aligned_run.result.stages[0]
    source = {"path": str(aligned_run.run_dir), "stage": "align", "prefix_map": {"frontend.": "frontend."}}
    recipe = _recipe(
        {"name": "ft", "objectives": [CLIP], "train": ["compressor", "objectives.clip_global"],
         "monitor": "dev/clip_global_acc", "max_steps": 2, "val_every_n_steps": 1, "init_checkpoint": source},
    )  # fmt: skip
    probe = Probe()
    train(recipe, data_root=tiny_corpus, run_dir=tmp_path / "ft", launch=_launch(probe))
    best = read_state_dict(aligned_run.run_dir / align["best_checkpoint"])
    start = probe.start["ft"]
    assert _same(_part(start, "frontend."), _part(best, "frontend."))  # mapped prefix: loaded
    assert not _same(_part(start, "compressor."), _part(best, "compressor."))  # outside the map: fresh
    assert _same(_part(probe.end["ft"], "frontend."), _part(best, "frontend."))  # and frozen
    steps = [step for _, step, _ in _metric(tmp_path / "ft", "ft", "dev/clip_global_acc")]
    assert len(steps) == 2 and steps[0] < steps[1]  # validated after each of the 2 steps, inside epoch 0
    assert not (tmp_path / "nope").exists()
    bad = _recipe({"name": "ft", "max_epochs": 1, "init_checkpoint": {"path": str(tmp_path / "nope")}})
    with pytest.raises(ConfigError, match="stage 'ft': init_checkpoint.path .*nope: no such file or folder"):
        train(bad, data_root=tiny_corpus, run_dir=tmp_path / "bad", launch=_launch())
    assert not (tmp_path / "bad").exists()  # checked before any work


@pytest.mark.slow
def test_best_checkpoint_is_the_best_bleu_epoch_not_the_last(tiny_corpus, tmp_path, monkeypatch):
    bleu = iter([5.0, 9.0, 3.0])  # one validation per epoch; the best is epoch 1

    def fake_scores(self, hyps, refs):
        return SimpleNamespace(bleu4=next(bleu), bleu1=0.0, rouge_l=0.0, chrf=0.0)

    monkeypatch.setattr(SLTLightningModule, "score_dev", fake_scores)
    recipe = _recipe({"name": "slt", "max_epochs": 3})
    result = train(recipe, data_root=tiny_corpus, run_dir=tmp_path / "run", launch=_launch())
    stage = result.stages[0]
    assert stage["best_dev_bleu4"] == 9.0 and stage["monitor"] == "dev/bleu4"
    assert Path(stage["best_checkpoint"]).name.startswith("best-epoch=1-")
    assert [value for _, _, value in _metric(tmp_path / "run", "slt", "dev/bleu4")] == [5.0, 9.0, 3.0]


MBART_LM = [
    "model.lm.family=mbart", "model.lm.src_lang=de_DE", "model.lm.tgt_lang=de_DE",
    "model.lm.architecture={d_model: 128, encoder_layers: 1, decoder_layers: 1, encoder_attention_heads: 4, "
    "decoder_attention_heads: 4, encoder_ffn_dim: 256, decoder_ffn_dim: 256, dropout: 0.1, "
    "max_position_embeddings: 128, scale_embedding: true}",
]  # fmt: skip


@pytest.mark.slow
def test_a_text_only_stage_trains_the_lm_alone_and_the_next_stage_starts_from_it(tiny_corpus, tmp_path):
    """A stand-in for a pretrained text model: text_denoise on the train sentences (no video), then
    translation from that LM."""
    recipe = _recipe(
        {"name": "text", "objectives": [{"kind": "text_denoise"}], "train": ["lm"], "monitor": "dev/loss", "max_epochs": 2},
        {"name": "slt", "objectives": [{"kind": "lm_ce"}], "max_epochs": 1},
        overrides=MBART_LM,
    )  # fmt: skip
    probe = Probe()
    run_dir = tmp_path / "run"
    result = train(recipe, data_root=tiny_corpus, run_dir=run_dir, launch=_launch(probe))
    start, end = probe.start["text"], probe.end["text"]
    for prefix in ("frontend.", "compressor.", "token_norm."):
        assert _same(_part(start, prefix), _part(end, prefix)), f"text stage moved {prefix}"
    assert not _same(_part(start, "lm."), _part(end, "lm."))
    losses = _metric(run_dir, "text", "dev/text_denoise")
    assert len(losses) == 2 and losses[1][2] < losses[0][2]  # the dev sentences are rewritten better
    assert not _metric(run_dir, "text", "dev/bleu4") and not _metric(run_dir, "text", "dev/input_reliance")
    best = read_state_dict(run_dir / result.stages[0]["best_checkpoint"])
    assert _same(_part(probe.start["slt"], "lm."), _part(best, "lm."))
