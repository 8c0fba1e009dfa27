"""Dataloaders of a multitask SLT + SSA recipe (``data.ssa``): mixed batches with per-sample prompts.

The records come from a stream manifest (:func:`glossfree.data.multitask.multitask_records`); each
sample's pose span is read from its stream's long pose file. A stage with ``ssa_fraction: 0``
trains and validates on the SLT samples alone (the first two stages of paper 004's curriculum); a
stage with ``ssa_fraction > 0`` mixes SSA samples into every training batch at that share and
validates on the dev streams' SLT and SSA samples (``max_dev_samples`` caps each task).
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import DataLoader

from glossfree.data.manifest import Record
from glossfree.data.multitask import MixedTaskBatchSampler, MultitaskDataset, record_task
from glossfree.training.datamodule import PoseDataModule
from glossfree.training.recipe import DataConfig


class MultitaskDataModule(PoseDataModule):
    def __init__(self, config: DataConfig, root: Path, *, ssa_fraction: float, **kwargs) -> None:
        super().__init__(config, root, **kwargs)
        assert config.ssa is not None  # chosen by the engine only for data.ssa recipes
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
        from glossfree.data.multitask import collate_multitask

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
