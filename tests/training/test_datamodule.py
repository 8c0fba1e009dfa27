"""Data loading in worker processes: persistent workers still draw each epoch's augmentations."""

from __future__ import annotations

import torch

from glossfree.data.datasets import collate_pose
from glossfree.training.datamodule import PoseDataModule
from glossfree.training.tasks import load_recipe


def test_persistent_workers_draw_each_epochs_augmentations(tiny_corpus):
    recipe = load_recipe("pose_perceiver/tiny", ["data.num_workers=1", "data.prefetch_factor=1"])
    module = PoseDataModule(recipe.data, tiny_corpus, layout=recipe.model.layout, batch_size=8, eval_batch_size=8, seed=0)
    dataset = module.train_dataset()
    loader = module._loader(dataset, batch_size=8, shuffle=True)
    assert loader.persistent_workers
    for epoch in range(2):
        loader.batch_sampler.set_epoch(epoch)  # what Lightning does before each epoch
        keys = list(loader.batch_sampler)  # [(index, epoch), ...] per batch
        for batch, batch_keys in zip(loader, keys, strict=True):
            assert all(e == epoch for _, e in batch_keys)
            expected = collate_pose([dataset[key] for key in batch_keys])  # computed here, not in a worker
            assert torch.equal(batch.keypoints, expected.keypoints)
            other_epoch = collate_pose([dataset[(index, 1 - epoch)] for index, _ in batch_keys])
            assert not torch.equal(batch.keypoints, other_epoch.keypoints)  # the augmentation is the epoch's
