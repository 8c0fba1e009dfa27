"""The multitask task: translation and sign-subtitle alignment on long streams (a recipe with
``data.ssa``, paper 004 Sec. 3.4; e.g. ``pose_perceiver/ssa_tiny``).

It is the translation task (:class:`~glossfree.training.tasks.translation.TranslationTask`: same
model, objectives, vocabulary trimming and export) with other data:

- the training records are SLT and SSA samples cut from a stream manifest's long pose files; the
  tokenizer also learns the prompts and the answers' digits, one token per digit;
- each stage's data module mixes SSA samples into its batches at the stage's ``ssa_fraction``
  (:class:`MultitaskDataModule`): mixed batches with per-sample prompts.

The records come from a stream manifest (:func:`glossfree.data.multitask.multitask_records`); each
sample's pose span is read from its stream's long pose file. A stage with ``ssa_fraction: 0``
trains and validates on the SLT samples alone (the first two stages of paper 004's curriculum); a
stage with ``ssa_fraction > 0`` mixes SSA samples into every training batch at that share and
validates on the dev streams' SLT and SSA samples (``max_dev_samples`` caps each task).
"""

from __future__ import annotations

import logging
from pathlib import Path

from torch.utils.data import DataLoader

from glossfree.data.manifest import Record
from glossfree.data.multitask import (
    MixedTaskBatchSampler,
    MultitaskDataset,
    collate_multitask,
    record_task,
    tokenizer_texts,
)
from glossfree.errors import DataError
from glossfree.training.datamodule import PoseDataModule
from glossfree.training.recipe import DataConfig, RecipeConfig, StageConfig
from glossfree.training.tasks.base import TaskData
from glossfree.training.tasks.translation import TranslationTask, datamodule_options

log = logging.getLogger(__name__)


class MultitaskDataModule(PoseDataModule):
    def __init__(self, config: DataConfig, root: Path, *, ssa_fraction: float, **kwargs) -> None:
        super().__init__(config, root, **kwargs)
        assert config.ssa is not None  # chosen only for data.ssa recipes (MultitaskTask)
        self.ssa = config.ssa
        self.ssa_fraction = ssa_fraction

    def _keep(self, records: list[Record]) -> list[Record]:
        return records if self.ssa_fraction > 0 else [r for r in records if record_task(r) == "slt"]

    def _multitask(self, records: list[Record], *, train: bool) -> MultitaskDataset:
        poses = self.pose_dataset(records, train=train, use_span=True)
        return MultitaskDataset(poses, sample_prior=train, prior_probability=self.ssa.prior_probability)

    def train_dataset(self) -> MultitaskDataset:  # type: ignore[override]
        if self._train is None:
            records = self._train_records
            if records is None:
                records, _ = self.ssa.records(self.root, self.config.train_split)
            self._train = self._multitask(self._keep(records), train=True)  # type: ignore[assignment]
        return self._train  # type: ignore[return-value]

    def dev_dataset(self) -> MultitaskDataset:  # type: ignore[override]
        if self._dev is None:
            records, _ = self.ssa.records(self.root, self.config.dev_split)
            records = self._keep(records)
            cap = self.config.max_dev_samples
            if cap is not None:
                records = [r for r in records if record_task(r) == "slt"][:cap] + [
                    r for r in records if record_task(r) == "ssa"
                ][:cap]
            self._dev = self._multitask(records, train=False)  # type: ignore[assignment]
        return self._dev  # type: ignore[return-value]

    def _loader(self, dataset, *, batch_size: int, shuffle: bool) -> DataLoader:  # type: ignore[override]
        trainer = self.trainer
        sampler = MixedTaskBatchSampler(
            dataset.tasks,
            dataset.lengths,
            batch_size=batch_size,
            ssa_fraction=self.ssa_fraction if shuffle else 0.0,
            shuffle=shuffle,
            seed=self.seed,
            num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
            tag_epoch=True,
        )
        return self.data_loader(dataset, sampler, collate_multitask)


def check_stream_records(root: Path, recipe: RecipeConfig) -> tuple[list[Record], dict[str, int]]:
    """The SLT and SSA training records of the training streams, and their counts; an error when no
    stream gives an SLT sample, a warning for subtitles signed outside their window."""
    data, ssa = recipe.data, recipe.data.ssa
    assert ssa is not None
    records, counts = ssa.records(root, data.train_split)
    if not any(record.extra.get("task") == "slt" for record in records):
        raise DataError(f"{root}: no '{data.train_split}' stream gives an SLT sample to train on")
    if counts["ssa_outside_window"]:
        log.warning("%s: %d subtitle(s) are signed outside their %g s SSA window: no SSA sample for them",
                    root, counts["ssa_outside_window"], ssa.window_s)  # fmt: skip
    return records, {"train_records": len(records), **{f"train_{k}": v for k, v in counts.items()}}


class MultitaskTask(TranslationTask):
    name = "multitask"

    def read_data(self, recipe: RecipeConfig, root: Path, run_dir: Path, *, rank: int) -> TaskData:
        records, report = check_stream_records(root, recipe)
        # the tokenizer must also cover the prompts and the answers' digits, one token per digit
        return TaskData(train_records=records, tokenizer_texts=tokenizer_texts(records), report=report, split_digits=True)

    def datamodule(self, recipe: RecipeConfig, stage: StageConfig, root: Path, data: TaskData) -> MultitaskDataModule:
        return MultitaskDataModule(recipe.data, root, ssa_fraction=stage.ssa_fraction, **datamodule_options(recipe, stage, data))
