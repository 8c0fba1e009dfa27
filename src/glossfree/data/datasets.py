"""Pose datasets, padded batches and length-bucketed (DDP-aware) batch sampling.

- :class:`PoseDataset` reads one ``.pose`` file per manifest record, lazily, selects a keypoint
  layout, normalises it and applies augmentations (seeded per ``(seed, epoch, index)``, so an
  item is the same whichever worker loads it). Bad files raise a :class:`DataError` naming the file,
  or, with ``skip_bad=True``, are found at construction, skipped, counted in ``skipped`` and
  logged — never replaced by another sample (the ssvp_slt wart named in STYLE.md).
- :func:`collate_pose` pads a list of items into a :class:`PoseBatch` with padding masks.
- :class:`LengthBucketBatchSampler` groups samples of similar length; with ``num_replicas > 1``
  each rank gets disjoint batches and every rank the same number of batches (the last ones padded
  with repeats, as ``torch.utils.data.DistributedSampler`` pads samples), deterministic per
  ``(seed, epoch)``. Use it with Lightning's ``use_distributed_sampler=False``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from glossfree.data.layouts import KeypointLayout, get_layout
from glossfree.data.manifest import Record, resolve
from glossfree.data.pose_io import (
    Keypoints,
    extract_keypoints,
    frame_span,
    read_pose,
    read_pose_info,
)
from glossfree.data.transforms import Transform, resample_fps, resampled_length
from glossfree.errors import DataError

logger = logging.getLogger(__name__)


class PoseDataset(Dataset):
    """Keypoint sequences from the ``pose`` files of manifest records.

    Args:
        records: manifest records; each needs a ``pose`` path.
        root: dataset root the record paths are relative to.
        layout: keypoint layout (name or object).
        normalize: centre on the shoulders and scale to shoulder length 1 (see ``pose_io``).
        transform: augmentation ``(keypoints, rng) -> keypoints`` (see ``transforms``), or None.
        fps: resample every sequence to this frame rate by frame selection, or keep the file's.
        cache: keep loaded (untransformed) keypoints in memory; for tiny datasets. With DataLoader
            workers each worker holds its own cache.
        skip_bad: load every sample once at construction; samples whose file is missing or bad are
            dropped and listed in ``skipped`` as ``(id, reason)`` with a logged warning.
        allow_missing: keep layout points missing from a file as masked points (e.g. the 25 body
            points absent from pose-format ``reduce_holistic`` files) instead of an error.
        use_span: read only the record's ``[start, end)`` seconds from its pose file (for corpora
            with one pose file per video and one record per subtitle); otherwise the pose file is
            the sample.
        seed: base seed of the augmentation generators.

    Items are dicts: ``id``, ``keypoints`` FloatTensor ``[T, N, 3]``, ``keypoint_mask``
    BoolTensor ``[T, N]``, ``text``, ``language``.
    """

    def __init__(
        self,
        records: Sequence[Record],
        root: str | Path,
        *,
        layout: KeypointLayout | str = "pose203",
        normalize: bool = True,
        transform: Transform | None = None,
        fps: float | None = None,
        cache: bool = False,
        skip_bad: bool = False,
        allow_missing: bool = False,
        use_span: bool = False,
        seed: int = 0,
    ) -> None:
        if fps is not None and fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.root = Path(root)
        self.layout = get_layout(layout)
        self.normalize, self.transform, self.fps = normalize, transform, fps
        self.cache, self.allow_missing, self.use_span = cache, allow_missing, use_span
        self.seed, self.epoch = seed, 0
        self.skipped: list[tuple[str, str]] = []
        self._cache: dict[int, Keypoints] = {}
        self._lengths: list[int] | None = None
        self.records: list[Record] = []
        if skip_bad:
            self._check_all(records)
        else:
            for record in records:
                if record.pose is None:
                    raise DataError(f"record '{record.id}' has no 'pose' path; PoseDataset needs pose files")
            self.records = list(records)

    @classmethod
    def from_keypoints(
        cls,
        samples: Sequence[tuple[Record, Keypoints]],
        *,
        layout: KeypointLayout | str = "pose203",
        transform: Transform | None = None,
        seed: int = 0,
    ) -> PoseDataset:
        """A dataset over keypoints already in memory (synthetic data, precomputed caches)."""
        dataset = cls([], ".", layout=layout, transform=transform, seed=seed, cache=True)
        for index, (record, keypoints) in enumerate(samples):
            if keypoints.num_points != dataset.layout.num_points:
                raise ValueError(
                    f"sample '{record.id}' has {keypoints.num_points} points, layout "
                    f"'{dataset.layout.name}' has {dataset.layout.num_points}"
                )
            dataset.records.append(record)
            dataset._cache[index] = keypoints
        dataset._lengths = [keypoints.num_frames for _, keypoints in samples]
        return dataset

    def _check_all(self, records: Sequence[Record]) -> None:
        lengths = []
        for record in records:
            try:
                keypoints = self._load(record)
            except DataError as error:
                self.skipped.append((record.id, str(error)))
                continue
            if self.cache:
                self._cache[len(self.records)] = keypoints
            self.records.append(record)
            lengths.append(keypoints.num_frames)
        self._lengths = lengths
        if records and not self.records:
            raise DataError(
                f"all {len(records)} samples have missing or bad pose files (first: {self.skipped[0][1]})"
            )
        if self.skipped:
            logger.warning(
                "skipped %d of %d samples with missing or bad pose files (first: %s)",
                len(self.skipped),
                len(records),
                self.skipped[0][1],
            )

    def _pose_path(self, record: Record) -> Path:
        path = resolve(self.root, record).pose
        if path is None:
            raise DataError(f"record '{record.id}' has no 'pose' path; PoseDataset needs pose files")
        return path

    def _span(self, record: Record) -> tuple[float | None, float | None]:
        return (record.start, record.end) if self.use_span else (None, None)

    def _load(self, record: Record) -> Keypoints:
        path = self._pose_path(record)
        start, end = self._span(record)
        pose = read_pose(path, start=start, end=end)
        keypoints = extract_keypoints(
            pose, self.layout, normalize=self.normalize, source=str(path), allow_missing=self.allow_missing
        )
        if self.fps is not None:
            if keypoints.fps <= 0:
                raise DataError(f"{path}: header fps is {keypoints.fps}; cannot resample to {self.fps} fps")
            keypoints = resample_fps(keypoints, self.fps)
        return keypoints

    def _length(self, record: Record) -> int:
        path = self._pose_path(record)
        info = read_pose_info(path)
        frames = info.num_frames
        start, end = self._span(record)
        if start is not None or end is not None:
            try:
                first, stop = frame_span(start, end, info.fps, frames)
            except ValueError as error:
                raise DataError(f"{path}: {error}") from None
            frames = stop - first
        if self.fps is not None and info.fps > 0:
            frames = resampled_length(frames, self.fps / info.fps)
        return frames

    @property
    def lengths(self) -> list[int]:
        """Frames per sample before augmentation (read from pose headers once, then kept)."""
        if self._lengths is None:
            self._lengths = [
                self._cache[i].num_frames if i in self._cache else self._length(record)
                for i, record in enumerate(self.records)
            ]
        return self._lengths

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draws (call before each epoch's DataLoader iteration)."""
        self.epoch = epoch

    def keypoints(self, index: int) -> Keypoints:
        """Untransformed keypoints of sample ``index``."""
        if index in self._cache:
            return self._cache[index]
        keypoints = self._load(self.records[index])
        if self.cache:
            self._cache[index] = keypoints
        return keypoints

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        """Sample ``key``: an index, or ``(index, epoch)`` as :class:`LengthBucketBatchSampler` yields
        with ``tag_epoch`` (DataLoader workers hold copies of the dataset, so a persistent worker
        never sees :meth:`set_epoch`; the epoch travels with the index instead)."""
        index, epoch = key if isinstance(key, tuple) else (key, self.epoch)
        record = self.records[index]
        keypoints = self.keypoints(index)
        if self.transform is not None:
            rng = np.random.default_rng((self.seed, epoch, index))
            keypoints = self.transform(keypoints, rng)
        return {
            "id": record.id,
            "keypoints": torch.from_numpy(np.ascontiguousarray(keypoints.points, dtype=np.float32)),
            "keypoint_mask": torch.from_numpy(np.ascontiguousarray(keypoints.mask, dtype=bool)),
            "text": record.text,
            "language": record.language,
        }


@dataclass
class PoseBatch:
    """A padded batch of keypoint sequences.

    Attributes:
        ids: sample ids, ``B``.
        keypoints: FloatTensor ``[B, T, N, 3]``, 0 on padding and undetected points.
        keypoint_mask: BoolTensor ``[B, T, N]``, True = detected point (False on padding).
        frame_mask: BoolTensor ``[B, T]``, True = real frame.
        lengths: LongTensor ``[B]``, real frames per sample.
        texts: target sentences, ``B``.
        languages: target languages, ``B``.
        prompts: per-sample LM prompts (multitask data, :mod:`glossfree.data.multitask`), or None
            for the model's own ``lm.prompt``.
        tasks: per-sample task (``slt`` / ``ssa``), or None when every sample is SLT.
    """

    ids: list[str]
    keypoints: torch.Tensor
    keypoint_mask: torch.Tensor
    frame_mask: torch.Tensor
    lengths: torch.Tensor
    texts: list[str]
    languages: list[str]
    prompts: list[str] | None = None
    tasks: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def _map(self, fn: Any) -> PoseBatch:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return PoseBatch(**{k: fn(v) if isinstance(v, torch.Tensor) else v for k, v in values.items()})

    def to(self, device: torch.device | str) -> PoseBatch:
        return self._map(lambda tensor: tensor.to(device))

    def pin_memory(self) -> PoseBatch:
        """Called by ``DataLoader(pin_memory=True)``."""
        return self._map(lambda tensor: tensor.pin_memory())


def collate_pose(items: Sequence[dict[str, Any]]) -> PoseBatch:
    """Pad items of :class:`PoseDataset` to the longest one; each sample's data is copied unchanged."""
    if not items:
        raise ValueError("collate_pose: empty list of items")
    shapes = {tuple(item["keypoints"].shape[1:]) for item in items}
    if len(shapes) != 1:
        raise ValueError(
            "collate_pose: items have different point shapes "
            + ", ".join(f"{item['id']}: {tuple(item['keypoints'].shape)}" for item in items)
        )
    (num_points, channels), batch = shapes.pop(), len(items)
    lengths = torch.tensor([item["keypoints"].shape[0] for item in items], dtype=torch.long)
    longest = int(lengths.max())
    keypoints = torch.zeros(batch, longest, num_points, channels, dtype=torch.float32)  # [B, T, N, C]
    keypoint_mask = torch.zeros(batch, longest, num_points, dtype=torch.bool)  # [B, T, N]
    for row, item in enumerate(items):
        frames = item["keypoints"].shape[0]
        keypoints[row, :frames] = item["keypoints"]
        keypoint_mask[row, :frames] = item["keypoint_mask"]
    frame_mask = torch.arange(longest)[None, :] < lengths[:, None]  # [B, T]
    return PoseBatch(
        ids=[item["id"] for item in items],
        keypoints=keypoints,
        keypoint_mask=keypoint_mask,
        frame_mask=frame_mask,
        lengths=lengths,
        texts=[item["text"] for item in items],
        languages=[item["language"] for item in items],
    )


class LengthBucketBatchSampler(Sampler[list[int]]):
    """Batches of samples of similar length; disjoint per rank, same batch count on every rank.

    With ``shuffle``, indices are permuted, cut into windows of ``window_batches * batch_size``,
    sorted by length inside each window and cut into batches, and the batch order is shuffled.
    Without it, all indices are sorted by length. Only the last batch can be short; ``drop_last``
    drops it. Across ``num_replicas`` ranks, rank ``r`` takes batches ``r, r + R, ...``; the batch
    list is first padded by repeating its first batches (or, with ``drop_last``, truncated) to a
    multiple of ``R``, so every rank yields ``len(self)`` batches.

    Args:
        lengths: frames per sample (e.g. ``PoseDataset.lengths``).
        batch_size: samples per batch.
        shuffle: random windows and batch order, drawn from ``(seed, epoch)``.
        seed: base seed, identical on every rank.
        drop_last: drop a short last batch and the batches beyond a multiple of ``num_replicas``.
        num_replicas: number of ranks (the trainer's world size).
        rank: this rank, ``0 <= rank < num_replicas``.
        window_batches: batches per sorting window when shuffling (larger = tighter buckets, less
            randomness).
        tag_epoch: yield ``(index, epoch)`` pairs instead of indices, so that datasets in
            persistent DataLoader workers draw this epoch's augmentations.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        *,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
        window_batches: int = 50,
        tag_epoch: bool = False,
    ) -> None:
        if batch_size < 1 or num_replicas < 1 or window_batches < 1:
            raise ValueError(
                f"batch_size ({batch_size}), num_replicas ({num_replicas}) and window_batches "
                f"({window_batches}) must be >= 1"
            )
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is outside 0..{num_replicas - 1}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size, self.shuffle, self.seed, self.drop_last = batch_size, shuffle, seed, drop_last
        self.num_replicas, self.rank, self.window_batches = num_replicas, rank, window_batches
        self.tag_epoch = tag_epoch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _split(self, order: np.ndarray) -> list[list[int]]:
        return [order[i : i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]

    def global_batches(self) -> list[list[int]]:
        """All batches of this epoch, before distribution over ranks."""
        if len(self.lengths) == 0:
            return []
        rng = np.random.default_rng((self.seed, self.epoch))
        if self.shuffle:
            order = rng.permutation(len(self.lengths))
            window = self.window_batches * self.batch_size
            batches: list[list[int]] = []
            for start in range(0, len(order), window):
                chunk = order[start : start + window]
                chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
                batches.extend(self._split(chunk))
        else:
            batches = self._split(np.argsort(self.lengths, kind="stable"))
        if self.drop_last and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def _per_rank(self, total: int) -> int:
        if self.drop_last:
            return total // self.num_replicas
        return -(-total // self.num_replicas)

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.global_batches()
        needed = self._per_rank(len(batches)) * self.num_replicas
        padded = [batches[i % len(batches)] for i in range(needed)] if batches else []
        for batch in padded[self.rank :: self.num_replicas]:
            yield [(index, self.epoch) for index in batch] if self.tag_epoch else batch

    def __len__(self) -> int:
        total = -(-len(self.lengths) // self.batch_size)
        if self.drop_last and len(self.lengths) % self.batch_size:
            total -= 1
        return self._per_rank(total)
