"""Dataloaders of a recipe: datasets of the inputs the model reads, length-bucketed batches, DDP
sharding by rank.

Built lazily from the trainer, so the world size and rank are those of the running process (the
same code serves one CPU, ``--devices 2`` on gloo, and torchrun/SLURM jobs).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from glossfree.data.datasets import LengthBucketBatchSampler, PoseDataset, collate_pose
from glossfree.data.transforms import build_transforms
from glossfree.data.manifest import Record, load_split
from glossfree.errors import DataError
from glossfree.text.prompts import ExemplarPool, SLTPrompter
from glossfree.training.recipe import DataConfig


def build_dataset(
    config: DataConfig,
    model_config,
    records: list[Record],
    root: Path,
    *,
    train: bool,
    seed: int = 0,
    skip_bad: bool | None = None,
) -> PoseDataset:
    """The dataset of a recipe's ``data`` section for a model of ``model_config``: it loads the
    model's required inputs (plus ``data.extra_inputs``) and nothing else; augmentations only in
    training. Used by training, evaluation and the demo alike, so spans and windows agree.
    ``model_config``: an SLT model's (``SLTModelConfig``) or an ISLR model's (``ISLRModelConfig``,
    whose ``lip`` stream may read lip crops or a lip-reader stream); the ``lips`` input is cut as
    the model's lip backbones say (:func:`~glossfree.models.slt.lip_crop_config`)."""
    from glossfree.models.slt import frame_preprocess, lip_crop_config, required_inputs

    inputs = required_inputs(model_config) | set(config.extra_inputs)
    return PoseDataset(
        records,
        root,
        layout=model_config.layout,
        normalize=config.normalize,
        transform=build_transforms(config.augment) if train and config.augment else None,
        fps=config.fps,
        cache=config.cache,
        skip_bad=config.on_error == "skip" if skip_bad is None else skip_bad,
        use_span=config.spans,
        seed=seed,
        inputs=inputs,
        frames=frame_preprocess(model_config),
        clip_augment=config.build_clip_augment() if train else None,
        window_s=config.window_s,
        folder_fps=config.folder_fps,
        lips=lip_crop_config(model_config),
        prompter=build_prompter(config, root, seed=seed),
        prompt_training=train,
        segments_file=config.segments_file,
    )


def build_prompter(config: DataConfig, root: Path, *, seed: int = 0) -> SLTPrompter | None:
    """The prompter of ``data.prompt`` (None without one): its exemplar pool is read from the
    root's training split (``data.train_split``) whatever split is being built, so no dev or test
    sentence can enter a prompt."""
    if config.prompt is None:
        return None
    pool = None
    if config.prompt.exemplars:
        sources = read_translations(config, root)
        pool = ExemplarPool.from_records(load_split(root, config.train_split), sources=sources)
    return SLTPrompter(config.prompt, pool, seed=seed)


def read_translations(config: DataConfig, root: Path) -> dict[str, list[str]] | None:
    """``data.prompt.translations`` (``{train record id: [sentence, ...]}``), or None without one."""
    if config.prompt is None or not config.prompt.translations:
        return None
    from glossfree.io import read_json

    path = Path(root) / config.prompt.translations
    sources = read_json(path, what="in-context translations file")
    if not isinstance(sources, dict) or not all(
        isinstance(v, list) and all(isinstance(t, str) for t in v) for v in sources.values()
    ):
        raise DataError(f"{path}: expected {{train record id: [sentence, ...]}}")
    return sources


class DatasetEpoch(L.Callback):
    """Forwards the epoch to the training dataset (the batch sampler gets it from Lightning itself)."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.datamodule.on_train_epoch_start(trainer.current_epoch)


class PoseDataModule(L.LightningDataModule):
    def __init__(
        self,
        config: DataConfig,
        root: Path,
        *,
        layout: str,
        batch_size: int,
        model=None,
        eval_batch_size: int,
        seed: int,
        train_records: list[Record] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.layout = layout
        self.model_config = model
        self.root = Path(root)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self._train_records = train_records
        self._train: PoseDataset | None = None
        self._dev: PoseDataset | None = None

    def _dataset(self, records: list[Record], *, train: bool) -> PoseDataset:
        if self.model_config is not None:
            return build_dataset(self.config, self.model_config, records, self.root, train=train, seed=self.seed)
        return self.pose_dataset(records, train=train)

    def pose_dataset(self, records: list[Record], *, train: bool, use_span: bool = False) -> PoseDataset:
        """Keypoints of ``records`` with the recipe's data settings (augmentation only in training)."""
        return PoseDataset(
            records,
            self.root,
            layout=self.layout,
            normalize=self.config.normalize,
            transform=build_transforms(self.config.augment) if train and self.config.augment else None,
            fps=self.config.fps,
            cache=self.config.cache,
            skip_bad=self.config.on_error == "skip",
            use_span=use_span,
            seed=self.seed,
        )

    def train_dataset(self) -> PoseDataset:
        if self._train is None:
            records = self._train_records or load_split(self.root, self.config.train_split)
            self._train = self._dataset(records, train=True)
        return self._train

    def dev_dataset(self) -> PoseDataset:
        if self._dev is None:
            records = load_split(self.root, self.config.dev_split)
            if self.config.max_dev_samples is not None:
                records = records[: self.config.max_dev_samples]
            self._dev = self._dataset(records, train=False)
        return self._dev

    def _loader(self, dataset: PoseDataset, *, batch_size: int, shuffle: bool) -> DataLoader:
        trainer = self.trainer
        sampler = LengthBucketBatchSampler(
            dataset.lengths,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=self.seed,
            num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
            tag_epoch=True,  # persistent workers never see set_epoch: the epoch travels with each index
        )
        return self.data_loader(dataset, sampler, collate_pose)

    def data_loader(self, dataset, sampler, collate_fn) -> DataLoader:
        """A loader over ``sampler``'s batches with the recipe's worker settings."""
        workers = self.config.num_workers
        on_gpu = self.trainer is not None and self.trainer.strategy.root_device.type == "cuda"
        return DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=collate_fn,
            num_workers=workers,
            persistent_workers=workers > 0,
            prefetch_factor=self.config.prefetch_factor if workers > 0 else None,
            pin_memory=on_gpu,
            # The loader draws its workers' base seed when an iterator starts: from its own generator,
            # never from the global RNG (a persistent iterator starts once per run, so drawing from
            # the global RNG would shift the dropout draws of a resumed run).
            generator=torch.Generator().manual_seed(self.seed),
        )

    def on_train_epoch_start(self, epoch: int) -> None:
        """Augmentations are seeded per (seed, epoch, sample): tell the dataset the epoch."""
        self.train_dataset().set_epoch(epoch)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_dataset(), batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dev_dataset(), batch_size=self.eval_batch_size, shuffle=False)
