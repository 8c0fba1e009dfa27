"""A stage summary names its best checkpoint inside its own run folder (issue 23, 1-2)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from glossfree.errors import DataError
from glossfree.training.run_files import RunCheckpoint, best_checkpoint, run_relative

NAME = "best-epoch=1-step=6.ckpt"


def _run(root: Path) -> Path:
    checkpoints = root / "stages" / "slt" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / NAME).write_bytes(b"ckpt")
    return root


def test_relative_names_resolve_inside_the_run(tmp_path):
    run = _run(tmp_path / "run")
    name = run_relative(run, run / "stages" / "slt" / "checkpoints" / NAME)
    assert name == f"stages/slt/checkpoints/{NAME}"
    assert best_checkpoint(run, {"stage": "slt", "best_checkpoint": name}).samefile(run / name)
    with pytest.raises(DataError, match=r"other.ckpt lies outside this run folder"):
        run_relative(run, tmp_path / "other.ckpt")
    with pytest.raises(DataError, match=r"done.json: best_checkpoint \.\./x.ckpt leads outside the run folder"):
        best_checkpoint(run, {"stage": "slt", "best_checkpoint": "../x.ckpt"})
    (run / name).unlink()
    with pytest.raises(DataError, match=rf"done.json: the best checkpoint {name} is missing from the run folder"):
        best_checkpoint(run, {"stage": "slt", "best_checkpoint": name})


def test_absolute_names_of_older_runs(tmp_path, caplog):
    run = _run(tmp_path / "run")
    inside = str(run.resolve() / "stages" / "slt" / "checkpoints" / NAME)
    assert best_checkpoint(run, {"stage": "slt", "best_checkpoint": inside}) == Path(inside)
    # Copied or moved: another run's file of the same name is replaced by this run's, with a warning.
    elsewhere = str(tmp_path / "r_A" / "stages" / "slt" / "checkpoints" / NAME)
    with caplog.at_level(logging.WARNING):
        path = best_checkpoint(run, {"stage": "slt", "best_checkpoint": elsewhere})
    assert path.samefile(run / "stages" / "slt" / "checkpoints" / NAME)
    assert f"best_checkpoint {elsewhere} lies outside this run folder (it was copied or moved); using" in caplog.text
    (path).unlink()
    with pytest.raises(DataError, match=r"is another run folder's file, and this run \(.*run\) has no stages/slt/checkpoints/best-"):
        best_checkpoint(run, {"stage": "slt", "best_checkpoint": elsewhere})


def test_checkpoint_state_moves_with_the_run(tmp_path):
    """Lightning's state names files by absolute path: a copied or moved run reads its own."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    old, new = tmp_path / "r_A" / "checkpoints", tmp_path / "r_B" / "checkpoints"
    saved = ModelCheckpoint(dirpath=old, monitor="dev/bleu4", mode="max")
    assert RunCheckpoint(dirpath=new, monitor="dev/bleu4", mode="max").state_key == saved.state_key  # older runs resume
    best = str(saved.dirpath) + "/best-epoch=1-step=6.ckpt"
    state = {**saved.state_dict(), "best_model_path": best, "kth_best_model_path": best, "best_k_models": {best: 0.5},
             "last_model_path": str(saved.dirpath) + "/last.ckpt", "best_model_score": 0.5}  # fmt: skip
    loaded = RunCheckpoint(dirpath=new, monitor="dev/bleu4", mode="max")
    loaded.load_state_dict(state)
    here = str(loaded.dirpath)
    assert loaded.best_model_path == loaded.kth_best_model_path == f"{here}/best-epoch=1-step=6.ckpt"
    assert loaded.best_k_models == {f"{here}/best-epoch=1-step=6.ckpt": 0.5} and loaded.best_model_score == 0.5
    assert loaded.last_model_path == f"{here}/last.ckpt"
