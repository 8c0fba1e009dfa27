"""Run a recipe: its stages in order, each a Lightning ``fit`` with its own checkpoints and logs.

Parts are built in dependency order (as in torchtune's recipes):

1. seed, then the training texts (the tokenizer may be trained on them);
2. the tokenizer (the model's vocabulary size depends on it);
3. the model (adapters freeze the LM's base weights at construction: that set is recorded);
4. per stage: the data module (batch size is per stage), the module, the trainer; the optimiser and
   schedule are built inside ``fit`` once the number of steps is known.

Run folder::

    <run>/recipe.yaml                  resolved recipe (compared on --resume)
    <run>/tokenizer/                   trained or copied tokenizer
    <run>/stages/<stage>/checkpoints/  last.ckpt and the best one by generated dev BLEU-4
    <run>/stages/<stage>/done.json     written when the stage finished (its best score and path)
    <run>/logs/<stage>/attempt-<n>/    CSV and TensorBoard logs of each attempt (first run, resumes)
    <run>/curves.png                   loss and generated dev BLEU-4 curves
    <run>/model/                       exported best model of the last stage (see glossfree.checkpoint)

``resume=True`` skips finished stages and continues an unfinished one from its ``last.ckpt``.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from glossfree import __version__
from glossfree.checkpoint import export_model, recipe_to_yaml
from glossfree.data.manifest import load_split
from glossfree.errors import ConfigError, DataError
from glossfree.io import atomic_write_json, atomic_write_text
from glossfree.training.callbacks import StageFreezing
from glossfree.training.datamodule import DatasetEpoch, PoseDataModule
from glossfree.training.module import SLTLightningModule
from glossfree.training.plots import plot_training_curves
from glossfree.training.recipe import RecipeConfig, StageConfig, TokenizerConfig

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_dir: Path
    model_dir: Path
    stages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LaunchConfig:
    """Hardware and launch options (never part of a recipe)."""

    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    progress: bool = True
    num_sanity_val_steps: int = 0
    extra_callbacks: list[L.Callback] = field(default_factory=list)


def prepare_tokenizer(
    config: TokenizerConfig, train_texts: list[str], out_dir: Path, *, rank: int = 0, wait_s: float = 600.0
):
    """Load the pretrained tokenizer, or train one on the training texts (reused if already trained).

    In a multi-process launch (torchrun, SLURM) only rank 0 trains; the other ranks wait for its files.
    """
    from glossfree.text.tokenizers import load_tokenizer, train_tokenizer

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
    return train_tokenizer(train_texts, out_dir, vocab_size=config.vocab_size)


def build_model(recipe: RecipeConfig, tokenizer) -> torch.nn.Module:
    from glossfree.models.slt import SLTModel

    return SLTModel(recipe.model, tokenizer)


def _check_run_dir(run_dir: Path, recipe: RecipeConfig, resume: bool) -> None:
    saved = run_dir / "recipe.yaml"
    if not saved.exists() or rank_zero_only.rank != 0:  # rank 0 checks for all; the others see its file
        return
    if not resume:
        raise ConfigError(
            f"{run_dir}: a run already exists here; pass --resume to continue it or choose another --out"
        )
    if saved.read_text(encoding="utf-8") != recipe_to_yaml(recipe):
        warnings.warn(
            f"{saved}: the recipe differs from the one this run started with; resuming with the new one",
            stacklevel=2,
        )


def _load_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    prefix = "model."
    model.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})


def run_stage(
    stage: StageConfig,
    *,
    recipe: RecipeConfig,
    model: torch.nn.Module,
    base_frozen: set[str],
    data_root: Path,
    run_dir: Path,
    resume: bool,
    launch: LaunchConfig,
) -> dict[str, Any]:
    stage_dir = run_dir / "stages" / stage.name
    checkpoints = stage_dir / "checkpoints"
    checkpoint_cb = ModelCheckpoint(
        dirpath=checkpoints,
        filename="best-{epoch}-{step}",
        monitor="dev/bleu4",
        mode="max",
        save_top_k=1,
        save_last=True,
    )
    callbacks: list[L.Callback] = [StageFreezing(stage.train, base_frozen), DatasetEpoch(), checkpoint_cb]
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
        check_val_every_n_epoch=stage.val_every_n_epochs,
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
    datamodule = PoseDataModule(
        recipe.data,
        data_root,
        layout=recipe.model.layout,
        batch_size=stage.batch_size,
        eval_batch_size=recipe.evaluation.batch_size,
        seed=recipe.seed,
    )
    module = SLTLightningModule(model, stage, recipe.evaluation)
    last = checkpoints / "last.ckpt"
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if resume and last.is_file() else None)

    best_path = checkpoint_cb.best_model_path or str(last)
    best_score = checkpoint_cb.best_model_score
    _load_weights(model, Path(best_path))
    summary = {
        "stage": stage.name,
        "best_checkpoint": best_path,
        "best_dev_bleu4": float(best_score) if best_score is not None else None,
        "epochs": trainer.current_epoch,
        "steps": trainer.global_step,
    }
    if trainer.is_global_zero:
        atomic_write_json(stage_dir / "done.json", summary)
    return summary


def train(
    recipe: RecipeConfig,
    *,
    data_root: str | Path | None = None,
    run_dir: str | Path,
    resume: bool = False,
    launch: LaunchConfig | None = None,
) -> TrainResult:
    """Train ``recipe`` on the dataset at ``data_root`` (or ``recipe.data.root``) into ``run_dir``."""
    launch = launch or LaunchConfig()
    root = Path(data_root) if data_root is not None else recipe.data.root
    if root is None:
        raise ConfigError("no dataset: pass a data root (--data) or set data.root in the recipe")
    recipe = recipe.model_copy(update={"data": recipe.data.model_copy(update={"root": Path(root)})})
    run_dir = Path(run_dir)
    _check_run_dir(run_dir, recipe, resume)
    rank = rank_zero_only.rank  # from RANK / LOCAL_RANK / SLURM_PROCID, before any process group exists
    if rank == 0:
        atomic_write_text(run_dir / "recipe.yaml", recipe_to_yaml(recipe))

    L.seed_everything(recipe.seed, workers=True, verbose=False)
    train_records = load_split(Path(root), recipe.data.train_split)
    tokenizer = prepare_tokenizer(
        recipe.tokenizer, [r.text for r in train_records], run_dir / "tokenizer", rank=rank
    )
    L.seed_everything(recipe.seed, workers=True, verbose=False)
    model = build_model(recipe, tokenizer)
    base_frozen = {name for name, p in model.named_parameters() if not p.requires_grad}

    result = TrainResult(run_dir=run_dir, model_dir=run_dir / "model")
    previous: dict[str, dict[str, Any]] = {}
    for index, stage in enumerate(recipe.stages):
        done = run_dir / "stages" / stage.name / "done.json"
        if resume and done.is_file():
            summary = json.loads(done.read_text(encoding="utf-8"))
            log.info("stage %s already finished (best dev BLEU-4 %s)", stage.name, summary["best_dev_bleu4"])
        else:
            source = stage.init_from or (recipe.stages[index - 1].name if index else None)
            if source is not None:
                _load_weights(model, Path(previous[source]["best_checkpoint"]))
            summary = run_stage(
                stage,
                recipe=recipe,
                model=model,
                base_frozen=base_frozen,
                data_root=Path(root),
                run_dir=run_dir,
                resume=resume,
                launch=launch,
            )
        previous[stage.name] = summary
        result.stages.append(summary)

    _load_weights(model, Path(result.stages[-1]["best_checkpoint"]))
    if rank == 0:
        plot_training_curves(run_dir)
        export_model(
            model,
            recipe,
            tokenizer,
            result.model_dir,
            {"glossfree_version": __version__, "stages": result.stages},
        )
    return result
