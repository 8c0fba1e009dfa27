"""The training engine end to end on a tiny synthetic corpus: train, checkpoint, kill, resume, export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from glossfree.inference.loading import load_trained
from glossfree.errors import ConfigError
from glossfree.training.callbacks import KillAtEpoch, SimulatedKill
from glossfree.training.engine import LaunchConfig, train
from glossfree.training.recipe import builtin_configs_dir
from glossfree.training.tasks import load_recipe


def _train_losses(run_dir: Path) -> list[tuple[int, float]]:
    """Per-step training losses over every attempt's CSV log (a kill and a resume make two)."""
    rows = []
    for path in sorted((run_dir / "logs" / "slt").glob("attempt-*/metrics.csv")):
        with open(path, newline="") as handle:
            rows += [row for row in csv.DictReader(handle) if row.get("train/loss")]
    return sorted({(int(row["step"]), round(float(row["train/loss"]), 5)) for row in rows})


def _launch(*callbacks) -> LaunchConfig:
    return LaunchConfig(accelerator="cpu", progress=False, extra_callbacks=list(callbacks))


@pytest.mark.slow
def test_killed_run_resumes_with_the_same_losses(tiny_corpus, tiny_recipe, tmp_path):
    straight_dir = tmp_path / "straight"
    straight = train(tiny_recipe, data_root=tiny_corpus, run_dir=straight_dir, launch=_launch())

    killed = tmp_path / "killed"
    with pytest.raises(SimulatedKill):
        train(tiny_recipe, data_root=tiny_corpus, run_dir=killed, launch=_launch(KillAtEpoch(1)))
    assert (killed / "stages" / "slt" / "checkpoints" / "last.ckpt").is_file()
    assert not (killed / "model").exists()  # nothing exported from a killed run

    with pytest.raises(ConfigError, match="pass --resume"):
        train(tiny_recipe, data_root=tiny_corpus, run_dir=killed, launch=_launch())
    resumed = train(tiny_recipe, data_root=tiny_corpus, run_dir=killed, resume=True, launch=_launch())

    assert resumed.stages[0]["steps"] == straight.stages[0]["steps"] == 6  # 24 samples / 8 × 2 epochs
    assert _train_losses(killed) == _train_losses(straight_dir)
    assert len(_train_losses(straight_dir)) == 6

    # Resuming a finished run re-exports without training again.
    again = train(tiny_recipe, data_root=tiny_corpus, run_dir=killed, resume=True, launch=_launch())
    assert again.stages[0]["best_checkpoint"] == resumed.stages[0]["best_checkpoint"]

    from glossfree.training.plots import read_metrics

    assert (killed / "curves.png").is_file()
    merged = read_metrics(killed / "logs" / "slt")  # both attempts, as one curve
    assert [step for step, _ in merged["train/loss"]] == [step for step, _ in _train_losses(killed)]
    assert "dev/bleu4" in merged

    trained = load_trained(killed)
    assert trained.metadata["stages"][0]["stage"] == "slt"
    assert trained.recipe.data.root == tiny_corpus


def test_recipe_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'stages\.0\.max_epoch'.*valid keys: .*max_epochs"):
        load_recipe("pose_perceiver/tiny", ["stages.0.max_epoch=3"])
    with pytest.raises(ConfigError, match=r"unknown key 'model\.frontend\.dimm'.*valid keys: .*dim"):
        load_recipe("pose_perceiver/tiny", ["model.frontend.dimm=3"])
    with pytest.raises(ConfigError, match="no such recipe file; built-in recipes: .*pose_perceiver/tiny"):
        load_recipe("pose_perceiver/nope")
    with pytest.raises(ConfigError, match="needs max_epochs or max_steps"):
        load_recipe("pose_perceiver/tiny", ["stages.0.max_epochs=null"])
    with pytest.raises(ConfigError, match="max_epochs 5 is not a multiple of val_every_n_epochs 2"):
        load_recipe("pose_perceiver/tiny", ["stages.0.max_epochs=5", "stages.0.val_every_n_epochs=2"])
    with pytest.raises(ConfigError, match="init_from 'later' is not an earlier stage"):
        load_recipe("pose_perceiver/tiny", ["stages.0.init_from=later"])
    with pytest.raises(ConfigError, match="unknown kind 'Warp'"):
        load_recipe("pose_perceiver/tiny", ["data.augment=[{kind: Warp}]"])


def test_no_dataset_is_an_error(tiny_recipe, tmp_path):
    with pytest.raises(ConfigError, match="no dataset"):
        train(tiny_recipe, run_dir=tmp_path / "run", launch=_launch())


@pytest.mark.parametrize("path", sorted(builtin_configs_dir().rglob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_recipe_validates(path):
    recipe = load_recipe(path)
    assert recipe.stages
    first_lines = path.read_text().splitlines()[:3]
    assert first_lines[0].startswith("# Recipe:"), "recipes open with a comment naming their paper"


def test_exported_model_files_are_readable_by_others(tiny_run):
    """Issue 23, 12: every file of the exported model has the mode of a plainly created file (the
    tests run under one umask, so they all have the same), model.safetensors included."""
    import stat

    plain = tiny_run / ".plain"
    plain.write_bytes(b"")
    try:
        expected = stat.S_IMODE(plain.stat().st_mode)
    finally:
        plain.unlink()
    modes = {p.relative_to(tiny_run).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in (tiny_run / "model").rglob("*") if p.is_file()}
    assert "model/model.safetensors" in modes
    assert {name: mode for name, mode in modes.items() if mode != expected} == {}
