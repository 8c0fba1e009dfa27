"""Training on bad input (issue 14): launch options, run folders, resume, manifests, unreadable samples.

Each case checks the message. Only two tests train (the tiny recipe, two epochs of 3 steps).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from glossfree.errors import ConfigError, DataError
from glossfree.training.engine import LaunchConfig, train


def _launch(**options) -> LaunchConfig:
    return LaunchConfig(**{"accelerator": "cpu", "progress": False, **options})


def _corpus_copy(tiny_corpus: Path, target: Path, *, edit=None) -> Path:
    """A copy of the tiny corpus; ``edit(record)`` may change each manifest record in place."""
    shutil.copytree(tiny_corpus, target)
    if edit is not None:
        manifest = target / "manifest.jsonl"
        records = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
        for record in records:
            edit(record)
        manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return target


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"accelerator": "tpu9"}, "--accelerator tpu9: unknown accelerator; choose one of auto, cpu, gpu"),
        ({"devices": "abc"}, "--devices abc: expected a number of devices per node"),
        ({"devices": 0}, "--devices 0: expected a number of devices per node"),
        ({"strategy": "bogus"}, "--strategy bogus: unknown strategy; common ones are auto, ddp"),
        ({"strategy": "fsdp"}, "--strategy fsdp: use ddp; FSDP is not supported yet"),
        ({"num_nodes": 0}, "--num-nodes 0: must be at least 1"),
    ],
)
def test_launch_options_are_checked_before_any_work(tiny_corpus, tiny_recipe, tmp_path, options, message):
    run_dir = tmp_path / "run"
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        train(tiny_recipe, data_root=tiny_corpus, run_dir=run_dir, launch=_launch(**options))
    assert not run_dir.exists()  # no recipe.yaml, no tokenizer trained


def test_a_machine_without_the_accelerator_fails_first(tiny_corpus, tiny_recipe, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="launch options --accelerator gpu .*: No supported gpu backend found"):
        train(tiny_recipe, data_root=tiny_corpus, run_dir=tmp_path / "run", launch=_launch(accelerator="gpu"))


def test_resume_needs_a_run_to_resume(tiny_corpus, tiny_recipe, tmp_path):
    with pytest.raises(ConfigError, match="typo: nothing to resume: the folder does not exist; check --out"):
        train(tiny_recipe, data_root=tiny_corpus, run_dir=tmp_path / "typo", resume=True, launch=_launch())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"empty: nothing to resume: the folder holds no glossfree run \(no recipe.yaml\)"):
        train(tiny_recipe, data_root=tiny_corpus, run_dir=tmp_path / "empty", resume=True, launch=_launch())


def test_run_folder_under_a_file(tiny_corpus, tiny_recipe, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="run: cannot create the --out run folder: .*file is a file, not a folder"):
        train(tiny_recipe, data_root=tiny_corpus, run_dir=tmp_path / "file" / "run", launch=_launch())


def test_a_failed_start_leaves_nothing_behind(tiny_corpus, tiny_recipe, tmp_path):
    data = _corpus_copy(tiny_corpus, tmp_path / "data")
    (data / "poses" / "train-00003.pose").write_bytes(b"\x00" * 100)  # unreadable: fails inside fit
    run_dir = tmp_path / "run"
    for _ in range(2):  # the rerun meets the same error, not "a run already exists here"
        with pytest.raises(DataError) as caught:
            train(tiny_recipe, data_root=data, run_dir=run_dir, launch=_launch())
        message = str(caught.value)
        assert "train-00003.pose: not a readable .pose file" in message
        assert "set data.on_error: skip in the recipe, or --set data.on_error=skip" in message
        assert not run_dir.exists()


@pytest.mark.slow
def test_skip_unreadable_samples_and_report_left_out_records(tiny_corpus, tiny_recipe, tmp_path, caplog):
    def edit(record):
        if record["id"] == "train-00005":
            record["text"] = ""
        if record["id"] == "train-00007":
            record["split"] = "trian"

    data = _corpus_copy(tiny_corpus, tmp_path / "data", edit=edit)
    (data / "poses" / "train-00003.pose").write_bytes(b"")
    run_dir = tmp_path / "run"
    (run_dir / "tokenizer").mkdir(parents=True)  # left by a start killed before its first checkpoint
    (run_dir / "recipe.yaml").write_text("recipe: stale\n")
    recipe = tiny_recipe.model_copy(update={"data": tiny_recipe.data.model_copy(update={"on_error": "skip"})})
    with caplog.at_level(logging.WARNING):
        result = train(recipe, data_root=data, run_dir=run_dir, launch=_launch())
    assert "stopped before its first checkpoint; starting afresh" in caplog.text
    assert "1 of 23 records of split 'train' have empty text and are left out of training (first: 'train-00005')" in caplog.text
    assert "manifest.jsonl: 1 record(s) with split 'trian' are ignored: the recipe reads splits 'train', 'dev'" in caplog.text
    assert "skipped 1 of 22 samples with missing or bad pose files" in caplog.text
    assert result.data == {"train_records": 22, "empty_text_left_out": 1, "ignored_splits": {"trian": 1}}
    assert result.stages[0]["skipped_samples"] == {"train": 1, "dev": 0}
    metadata = json.loads((run_dir / "model" / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["data"] == result.data and metadata["stages"][0]["skipped_samples"]["train"] == 1


@pytest.mark.slow
def test_resume_from_a_truncated_last_checkpoint(tiny_run, tiny_corpus, tiny_recipe, tmp_path, caplog):
    run_dir = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    (run_dir / "stages" / "slt" / "done.json").unlink()  # the stage did not finish
    checkpoints = run_dir / "stages" / "slt" / "checkpoints"
    last = checkpoints / "last.ckpt"
    last.write_bytes(last.read_bytes()[:5000])
    best = next(p for p in checkpoints.glob("best-*.ckpt"))
    with caplog.at_level(logging.WARNING):
        result = train(tiny_recipe, data_root=tiny_corpus, run_dir=run_dir, resume=True, launch=_launch())
    assert "last.ckpt: truncated or corrupt (File is not a zip file); renamed to last.ckpt.damaged" in caplog.text
    assert f"resuming stage 'slt' from {best}" in caplog.text
    assert result.stages[0]["steps"] == 6
    assert sorted(p.name for p in checkpoints.glob("last*")) == ["last.ckpt", "last.ckpt.damaged"]

    # Nothing whole left: say which files are damaged.
    (run_dir / "stages" / "slt" / "done.json").unlink()
    for path in checkpoints.glob("*.ckpt"):
        path.write_bytes(b"")
    with pytest.raises(DataError, match=r"last.ckpt: empty file \(0 bytes\); .*no whole checkpoint is left to resume stage 'slt'"):
        train(tiny_recipe, data_root=tiny_corpus, run_dir=run_dir, resume=True, launch=_launch())


def test_lightning_tip_and_pytree_warning_are_dropped(caplog):
    import warnings

    import lightning as L

    from glossfree.training.launch import quiet_lightning_noise

    quiet_lightning_noise()
    with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
        L.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    assert "GPU available" in caplog.text  # Lightning's other start-up lines stay
    assert "Tip" not in caplog.text and "litlogger" not in caplog.text
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        quiet_lightning_noise()
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", DeprecationWarning, stacklevel=1)
    assert not caught


def test_a_training_split_without_any_text(tiny_corpus, tiny_recipe, tmp_path):
    def edit(record):
        if record["split"] == "train":
            record["text"] = " "

    data = _corpus_copy(tiny_corpus, tmp_path / "data", edit=edit)
    with pytest.raises(DataError, match="data: all 24 records of split 'train' have empty text"):
        train(tiny_recipe, data_root=data, run_dir=tmp_path / "run", launch=_launch())
    assert not (tmp_path / "run").exists()


def _unfinished_copy(run: Path, target: Path) -> Path:
    """``run`` copied to ``target`` with its last stage unfinished and its model not exported."""
    shutil.copytree(run, target)
    (target / "stages" / "slt" / "done.json").unlink()
    shutil.rmtree(target / "model")
    return target


def _exported_weights(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(run_dir / "model" / "model.safetensors"))


@pytest.mark.slow
def test_a_copied_or_moved_run_finishes_from_its_own_checkpoints(tiny_run, tiny_corpus, tiny_recipe, tmp_path):
    """Issue 23, 1-2: a run folder is relocatable; it never reads (or exports) another run's checkpoint."""
    import torch

    from glossfree.training.init_weights import read_state_dict

    run_a = Path(shutil.copytree(tiny_run, tmp_path / "r_A"))
    run_b = _unfinished_copy(run_a, tmp_path / "r_B")
    # r_A's best checkpoint now holds other weights: r_B must not pick them up.
    best_a = next((run_a / "stages" / "slt" / "checkpoints").glob("best-*.ckpt"))
    checkpoint = torch.load(best_a, map_location="cpu", weights_only=True)
    checkpoint["state_dict"] = {k: v + 1 if v.is_floating_point() else v for k, v in checkpoint["state_dict"].items()}
    torch.save(checkpoint, best_a)

    result = train(tiny_recipe, data_root=tiny_corpus, run_dir=run_b, resume=True, launch=_launch())
    summary = json.loads((run_b / "stages" / "slt" / "done.json").read_text(encoding="utf-8"))
    assert summary["best_checkpoint"] == f"stages/slt/checkpoints/{best_a.name}"  # relative to the run
    assert result.stages[0]["best_checkpoint"] == summary["best_checkpoint"]
    own = read_state_dict(run_b / summary["best_checkpoint"])
    exported = _exported_weights(run_b)
    assert all(torch.equal(exported[key], own[key]) for key in exported)

    # Moved: the folder it was trained in is gone.
    run_m = _unfinished_copy(run_b, tmp_path / "r_mv")
    shutil.rmtree(run_b)
    train(tiny_recipe, data_root=tiny_corpus, run_dir=run_m, resume=True, launch=_launch())
    exported = _exported_weights(run_m)
    assert all(torch.equal(exported[key], own[key]) for key in exported)
