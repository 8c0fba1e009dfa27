"""Run a recipe: its stages in order, each a Lightning ``fit`` with its own checkpoints and logs.

The engine knows no task by name: the recipe's task (:func:`glossfree.training.tasks.task_for`:
translation, multitask SLT + SSA, ISLR; :mod:`glossfree.training.tasks.base` is the interface) says
how to read the data, build the model and each stage's data module, and what the export records.
Parts are built in dependency order (as in torchtune's recipes):

1. seed, then the task's training data (the tokenizer may be trained on its texts);
2. the tokenizer (the model's vocabulary size depends on it), then the task's final recipe;
3. the task's model (adapters freeze the LM's base weights at construction: that set is recorded);
4. per stage: the task's data module (batch size is per stage), the module, the trainer; the
   optimiser and schedule are built inside ``fit`` once the number of steps is known.

Run folder::

    <run>/recipe.yaml                  resolved recipe (compared on --resume)
    <run>/tokenizer/                   trained or copied tokenizer
    <run>/stages/<stage>/checkpoints/  last.ckpt and the best one by the stage's monitor (generated
                                       dev BLEU-4 by default)
    <run>/stages/<stage>/done.json     written when the stage finished (its best score, and its best
                                       checkpoint named relative to the run: the folder can move)
    <run>/logs/<stage>/attempt-<n>/    CSV and TensorBoard logs of each attempt (first run, resumes)
    <run>/curves.png                   loss and generated dev BLEU-4 curves
    <run>/model/                       exported best model of the last stage (see glossfree.checkpoint)

``resume=True`` skips finished stages and continues an unfinished one from its ``last.ckpt`` (or,
when that file is truncated, from the newest checkpoint of the stage that is complete).

Before any work the launch options are checked (:mod:`glossfree.training.launch`: a bad
``--accelerator``, ``--devices``, ``--strategy`` or ``--num-nodes`` fails at once, not after the
tokenizer was trained), and so is the run folder (:mod:`glossfree.training.run_files`: ``--resume``
needs a run to resume, and a new run refuses a folder holding a run that has trained). A start that
fails before its first checkpoint removes what it wrote, so the same command can simply be run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import RichProgressBar
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from glossfree import __version__
from glossfree.checkpoint import export_model, load_checkpoint_weights, recipe_to_yaml
from glossfree.errors import ConfigError, DataError
from glossfree.io import atomic_write_json, atomic_write_text, read_json
from glossfree.text.tokenizers import load_tokenizer, train_tokenizer
from glossfree.training.callbacks import StageFreezing
from glossfree.training.datamodule import DatasetEpoch
from glossfree.training.init_weights import load_init_checkpoint, resolve_init_checkpoint
from glossfree.training.module import SLTLightningModule
from glossfree.training.plots import plot_training_curves
from glossfree.training.recipe import StageConfig, TokenizerConfig
from glossfree.training.launch import LaunchConfig, check_launch, quiet_lightning_noise
from glossfree.training.run_files import (
    RunCheckpoint,
    best_checkpoint,
    check_run_dir,
    has_trained,
    remove_unstarted_run,
    resume_checkpoint,
    run_relative,
)
from glossfree.training.tasks import task_for

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run did. ``data`` counts what was read and left out of it (the task's report, e.g. :func:`~glossfree.training.tasks.translation.check_train_records`)."""

    run_dir: Path
    model_dir: Path
    stages: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def prepare_tokenizer(
    config: TokenizerConfig,
    train_texts: list[str],
    out_dir: Path,
    *,
    rank: int = 0,
    wait_s: float = 600.0,
    lm: Any = None,
    split_digits: bool = False,
):
    """Load the pretrained tokenizer, or train one on the training texts (reused if already trained).

    A trained tokenizer takes the layout of the LM family (``lm``: the recipe's ``model.lm``; T5 by
    default): an mBART recipe gets mBART's special ids and language codes, not T5's.
    In a multi-process launch (torchrun, SLURM) only rank 0 trains; the other ranks wait for its files.
    """
    if config.kind == "pretrained":
        assert config.name_or_path is not None  # validated by TokenizerConfig
        return load_tokenizer(config.name_or_path)
    ready = out_dir / "tokenizer_config.json"
    if rank != 0:
        deadline = time.monotonic() + wait_s
        while not ready.is_file():
            if time.monotonic() > deadline:
                raise DataError(f"{out_dir}: rank {rank} waited {wait_s:.0f}s for rank 0's tokenizer")
            time.sleep(0.5)
    if ready.is_file():
        return load_tokenizer(str(out_dir))
    family = getattr(lm, "family", "t5")
    langs = {"src_lang": getattr(lm, "src_lang", None), "tgt_lang": getattr(lm, "tgt_lang", None)}
    return train_tokenizer(
        train_texts, out_dir, vocab_size=config.vocab_size, family=family, split_digits=split_digits,
        **(langs if family == "mbart" else {}),
    )  # fmt: skip


def run_stage(
    stage: StageConfig,
    *,
    recipe: Any,
    model: torch.nn.Module,
    base_frozen: set[str],
    run_dir: Path,
    resume: bool,
    launch: LaunchConfig,
    datamodule: L.LightningDataModule,
) -> dict[str, Any]:
    """One stage: a Lightning ``fit`` of ``model`` on ``datamodule`` with the stage's checkpoints and
    logs; returns its summary."""
    stage_dir = run_dir / "stages" / stage.name
    checkpoints = stage_dir / "checkpoints"
    checkpoint_cb = RunCheckpoint(
        dirpath=checkpoints,
        filename="best-{epoch}-{step}",
        monitor=stage.monitor,
        mode=stage.monitor_mode,
        save_top_k=1,
        save_last=True,
    )
    train_parts = stage.trainable_parts(model.parts())
    callbacks: list[L.Callback] = [StageFreezing(train_parts, base_frozen), DatasetEpoch(), checkpoint_cb]
    if launch.progress:
        callbacks.append(RichProgressBar())
    callbacks.extend(launch.extra_callbacks)
    logs = run_dir / "logs"
    # Each attempt (first run, then every --resume) logs to its own version: nothing is overwritten.
    attempt = f"attempt-{len(list((logs / stage.name).glob('attempt-*')))}"
    trainer = L.Trainer(
        accelerator=launch.accelerator,
        devices=launch.devices,
        num_nodes=launch.num_nodes,
        strategy=launch.strategy,
        precision=stage.precision,
        max_epochs=stage.max_epochs if stage.max_epochs is not None else -1,
        max_steps=stage.max_steps if stage.max_steps is not None else -1,
        gradient_clip_val=stage.grad_clip,
        accumulate_grad_batches=stage.accumulate,
        # Step-based validation counts training batches across epochs: n optimiser steps = n × accumulate.
        check_val_every_n_epoch=None if stage.val_every_n_steps else stage.validate_every_epochs,
        val_check_interval=stage.val_every_n_steps * stage.accumulate if stage.val_every_n_steps else None,
        num_sanity_val_steps=launch.num_sanity_val_steps,
        callbacks=callbacks,
        logger=[
            CSVLogger(logs, name=stage.name, version=attempt),
            TensorBoardLogger(logs, name=stage.name, version=attempt),
        ],
        use_distributed_sampler=False,  # our length-bucketed sampler shards by rank itself
        enable_progress_bar=launch.progress,
        enable_model_summary=False,
        log_every_n_steps=1,
        deterministic=False,
    )
    module = SLTLightningModule(model, stage, recipe.evaluation)
    last = checkpoints / "last.ckpt"
    start_from = resume_checkpoint(checkpoints, stage.name) if resume else None
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(start_from) if start_from else None)
    except DataError as error:
        if recipe.data.on_error == "skip":
            raise
        raise DataError(
            f"{error} (to leave unreadable samples out and count them, set data.on_error: skip in the "
            "recipe, or --set data.on_error=skip)"
        ) from None

    best_path = checkpoint_cb.best_model_path or str(last)
    best_score = checkpoint_cb.best_model_score
    # memory-mapped; a frozen pretrained base stays as loaded
    load_checkpoint_weights(model, run_dir / run_relative(run_dir, best_path))
    best = float(best_score) if best_score is not None else None
    summary = {
        "stage": stage.name,
        "best_checkpoint": run_relative(run_dir, best_path),  # the run folder can be copied or moved
        "monitor": stage.monitor,
        "best_score": best,
        "best_dev_bleu4": best if stage.monitor == "dev/bleu4" else None,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
    }
    reliance = trainer.callback_metrics.get("dev/input_reliance")  # the last validation's
    if reliance is not None:
        summary["input_reliance"] = float(reliance)
        summary["not_reading_input"] = float(reliance) < recipe.evaluation.min_input_reliance
        if summary["not_reading_input"]:
            log.warning(
                "stage '%s': the model is not reading its input: dev loss with swapped inputs is within %.3f "
                "nats/token of the real one (evaluation.min_input_reliance %.3f); it learned the sentence prior",
                stage.name, float(reliance), recipe.evaluation.min_input_reliance,
            )  # fmt: skip
    if recipe.data.on_error == "skip":
        summary["skipped_samples"] = {
            recipe.data.train_split: len(datamodule.train_dataset().skipped),
            recipe.data.dev_split: len(datamodule.dev_dataset().skipped),
        }
    if trainer.is_global_zero:
        atomic_write_json(stage_dir / "done.json", summary)
    return summary


def train(
    recipe: Any,
    *,
    data_root: str | Path | None = None,
    run_dir: str | Path,
    resume: bool = False,
    launch: LaunchConfig | None = None,
) -> TrainResult:
    """Train ``recipe`` on the dataset at ``data_root`` (or ``recipe.data.root``) into ``run_dir``."""
    launch = launch or LaunchConfig()
    quiet_lightning_noise()
    check_launch(launch)
    root = Path(data_root) if data_root is not None else recipe.data.root
    if root is None:
        raise ConfigError("no dataset: pass a data root (--data) or set data.root in the recipe")
    recipe = recipe.model_copy(update={"data": recipe.data.model_copy(update={"root": Path(root)})})
    run_dir = Path(run_dir)
    check_run_dir(run_dir, recipe, resume)
    rank = rank_zero_only.rank  # from RANK / LOCAL_RANK / SLURM_PROCID, before any process group exists
    fresh_start = rank == 0 and not resume
    if rank == 0:
        atomic_write_text(run_dir / "recipe.yaml", recipe_to_yaml(recipe))
    try:
        return _train(recipe, Path(root), run_dir, resume=resume, launch=launch, rank=rank)
    except BaseException:
        if fresh_start and not has_trained(run_dir):
            remove_unstarted_run(run_dir)  # so that the same command can simply run again
        raise


@dataclass
class BuiltRun:
    """What ``train`` builds before its first stage: the task, its data, the tokenizer, the recipe
    prepared for them, and the model with the names of the parameters frozen at build time."""

    task: Any
    data: Any
    tokenizer: Any
    recipe: Any
    model: torch.nn.Module
    base_frozen: set[str]


def build_run(recipe: Any, root: Path, run_dir: Path, *, rank: int = 0) -> BuiltRun:
    """Read the data, prepare the tokenizer (in ``run_dir/tokenizer``) and build the model, seeded,
    as ``train`` does before its stages (benchmarks build the same way)."""
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    task = task_for(recipe)
    data = task.read_data(recipe, root, run_dir, rank=rank)
    tokenizer = prepare_tokenizer(recipe.tokenizer, data.tokenizer_texts, run_dir / "tokenizer", rank=rank,
                                  lm=recipe.model.lm, split_digits=data.split_digits)  # fmt: skip
    recipe = task.prepare_recipe(recipe, tokenizer, data, run_dir)
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    model = task.build_model(recipe, tokenizer, data)
    base_frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    return BuiltRun(task, data, tokenizer, recipe, model, base_frozen)


def _train(recipe: Any, root: Path, run_dir: Path, *, resume: bool, launch: LaunchConfig, rank: int) -> TrainResult:
    for stage in recipe.stages:  # a wrong path fails now, not after the stages before it trained
        if stage.init_checkpoint is not None:
            resolve_init_checkpoint(stage.init_checkpoint, stage.name)
    built = build_run(recipe, root, run_dir, rank=rank)
    task, data, tokenizer, recipe, model, base_frozen = (
        built.task, built.data, built.tokenizer, built.recipe, built.model, built.base_frozen)  # fmt: skip

    result = TrainResult(run_dir=run_dir, model_dir=run_dir / "model", data=data.report)
    result.stages = run_stages(
        recipe, model, base_frozen=base_frozen, run_dir=run_dir, resume=resume, launch=launch,
        make_datamodule=lambda stage: task.datamodule(recipe, stage, root, data),
    )  # fmt: skip

    load_checkpoint_weights(model, best_checkpoint(run_dir, result.stages[-1]))
    if rank == 0:
        plot_training_curves(run_dir)
        metadata = {"glossfree_version": __version__, "stages": result.stages, **task.export_metadata(recipe, data, root)}
        export_model(model, recipe, tokenizer, result.model_dir, metadata)
    return result


def run_stages(
    recipe: Any,
    model: torch.nn.Module,
    *,
    base_frozen: set[str],
    run_dir: Path,
    resume: bool,
    launch: LaunchConfig,
    make_datamodule: Callable[[StageConfig], L.LightningDataModule],
) -> list[dict[str, Any]]:
    """The recipe's stages in order, each from the best checkpoint of the stage before it (or its
    ``init_from``) and its ``init_checkpoint``; finished stages of a resumed run are skipped.
    ``make_datamodule(stage)`` gives a stage's data module (the task's)."""
    summaries: list[dict[str, Any]] = []
    previous: dict[str, dict[str, Any]] = {}
    for index, stage in enumerate(recipe.stages):
        done = run_dir / "stages" / stage.name / "done.json"
        if resume and done.is_file():
            summary = read_json(done, what="stage summary")
            log.info(
                "stage %s already finished (best %s %s)",
                stage.name, summary.get("monitor", "dev/bleu4"), summary.get("best_score", summary["best_dev_bleu4"]),
            )  # fmt: skip
        else:
            source = stage.init_from or (recipe.stages[index - 1].name if index else None)
            if source is not None:
                load_checkpoint_weights(model, best_checkpoint(run_dir, previous[source]))
            if stage.init_checkpoint is not None:
                load_init_checkpoint(model, stage.init_checkpoint, stage.name)
            summary = run_stage(
                stage,
                recipe=recipe,
                model=model,
                base_frozen=base_frozen,
                run_dir=run_dir,
                resume=resume,
                launch=launch,
                datamodule=make_datamodule(stage),
            )
        previous[stage.name] = summary
        summaries.append(summary)

    return summaries
