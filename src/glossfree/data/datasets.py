"""Datasets of every model input, padded batches and length-bucketed (DDP-aware) batch sampling.

- :class:`PoseDataset` reads, per manifest record and lazily, exactly the inputs it is given
  (``inputs``, usually ``SLTModel.required_inputs()``; see :mod:`glossfree.data.inputs`): keypoints,
  RGB frames, cached feature streams, sign segments, prompts, pseudo-gloss targets. For keypoints
  it reads one ``.pose`` file per record, selects a keypoint layout, normalises it and applies
  augmentations (seeded per ``(seed, epoch, index)``, so an
  item is the same whichever worker loads it). Bad files raise a :class:`DataError` naming the file,
  or, with ``skip_bad=True``, are found at construction, skipped, counted in ``skipped`` and
  logged — never replaced by another sample (the ssvp_slt wart named in STYLE.md).
- :func:`collate_pose` pads a list of items into a :class:`PoseBatch` (the one batch type, also
  named ``Batch``), each time series on its own axis with its own mask.
- :class:`LengthBucketBatchSampler` groups samples of similar length; with ``num_replicas > 1``
  each rank gets disjoint batches and every rank the same number of batches (the last ones padded
  with repeats, as ``torch.utils.data.DistributedSampler`` pads samples), deterministic per
  ``(seed, epoch)``. Use it with Lightning's ``use_distributed_sampler=False``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from glossfree.data.inputs import (
    ClipAugment,
    centred_window,
    check_input_names,
    clip_length,
    clip_tensor,
    feature_streams,
    load_clip,
    pseudo_gloss_targets,
    read_segments,
    segment_frames,
)
from glossfree.data.layouts import KeypointLayout, get_layout
from glossfree.data.manifest import Record, resolve
from glossfree.data.pose_io import (
    Keypoints,
    extract_keypoints,
    frame_span,
    read_pose,
    read_pose_info,
)
from glossfree.data.transforms import Transform, resample_fps, resample_indices, resampled_length
from glossfree.data.video import probe_video
from glossfree.errors import ConfigError, DataError

if TYPE_CHECKING:
    from glossfree.data.lips import LipCropConfig
    from glossfree.features.config import PreprocessConfig
    from glossfree.text.prompts import SLTPrompter

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
        cache: keep loaded (untransformed) keypoints, and decoded RGB clips (before augmentation),
            in memory; for tiny datasets. With DataLoader workers each worker holds its own cache.
        skip_bad: load every sample once at construction; samples whose file is missing or bad are
            dropped and listed in ``skipped`` as ``(id, reason)`` with a logged warning.
        allow_missing: keep layout points missing from a file as masked points (e.g. the 25 body
            points absent from pose-format ``reduce_holistic`` files) instead of an error.
        use_span: read only the record's ``[start, end)`` seconds from its pose file (for corpora
            with one pose file per video and one record per subtitle); otherwise the pose file is
            the sample.
        seed: base seed of the augmentation generators.
        inputs: what to load (:mod:`glossfree.data.inputs`; default ``{"keypoints"}``): usually the
            model's ``required_inputs()``. Nothing else is opened: a features-only model never
            reads a pose file or a video.
        frames: the frame encoder's preprocessing (``frames`` input): resize, centre crop, normalise.
        clip_augment: clip-consistent augmentation of the raw frames, drawn per ``(seed, epoch, index)``.
        lips: how the ``lips`` input is cut (:class:`~glossfree.data.lips.LipCropConfig`; default
            Auto-AVSR's 88x88); it reads the record's video and its pose.
        window_s: with ``use_span``, read a window of this many seconds centred on each record's
            span instead of the span (paper 004's SSA input); keypoints and frames.
        folder_fps: frame rate of frame folders (PHOENIX-2014-T: 25).
        prompter: builds each item's ``prompt`` (SpaMo's instruction and in-context pairs from the
            training split, :class:`~glossfree.text.prompts.SLTPrompter`); None: no built prompt.
        prompt_training: draw the in-context pairs per sample and epoch (training) instead of the
            one fixed evaluation draw.

    Items are dicts with ``id``, ``text``, ``language`` and, by input: ``keypoints`` FloatTensor
    ``[T, N, 3]`` and ``keypoint_mask`` BoolTensor ``[T, N]``; ``frames`` FloatTensor
    ``[T, 3, crop, crop]``; ``lips`` FloatTensor ``[T, size, size]`` and ``lip_mask`` BoolTensor
    ``[T]`` (True = face detected); ``features`` ``{stream: [T_s, D_s]}``; ``segments`` LongTensor
    ``[S, 2]`` (the signs' spans ``[first, stop)`` in the sample's steps: its keypoint, frame or
    lip steps, or with none of those its feature rows); ``prompt`` str; ``targets`` ``{"pseudo_gloss": [V]}``.
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
        inputs: set[str] | frozenset[str] | None = None,
        frames: PreprocessConfig | None = None,
        clip_augment: ClipAugment | None = None,
        window_s: float | None = None,
        folder_fps: float = 25.0,
        lips: LipCropConfig | None = None,
        prompter: SLTPrompter | None = None,
        prompt_training: bool = False,
        segments_file: str = "segments.jsonl",
    ) -> None:
        if fps is not None and fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if window_s is not None and window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self.inputs = check_input_names(set(inputs) if inputs is not None else {"keypoints"})
        if not self.inputs & {"keypoints", "frames", "lips"} and not feature_streams(self.inputs):
            raise ConfigError(
                f"inputs {sorted(self.inputs)} hold no time series; a sample needs keypoints, frames, lips or a feature stream"
            )
        if "frames" in self.inputs and frames is None:
            raise ConfigError("the 'frames' input needs the frame preprocessing (the frame encoder's 'preprocess')")
        if window_s is not None and feature_streams(self.inputs):
            raise ConfigError(
                "window_s re-cuts each sample from its video or pose file; cached features are stored per record "
                "already cut: extract them with the window in the records' start/end instead"
            )
        if prompter is not None and "prompts" in self.inputs:
            raise ConfigError("the 'prompts' input (each record's own 'prompt') and data.prompt (SpaMo's built prompts) "
                              "exclude each other; use one")  # fmt: skip
        self.prompter, self.prompt_training = prompter, prompt_training
        self.frames_preprocess, self.clip_augment = frames, clip_augment
        if "lips" in self.inputs and lips is None:
            from glossfree.data.lips import LipCropConfig

            lips = LipCropConfig()
        self.lips = lips
        self.window_s, self.folder_fps = window_s, folder_fps
        self.root = Path(root)
        self.layout = get_layout(layout)
        self.normalize, self.transform, self.fps = normalize, transform, fps
        self.cache, self.allow_missing, self.use_span = cache, allow_missing, use_span
        self.seed, self.epoch = seed, 0
        self.skipped: list[tuple[str, str]] = []
        self._cache: dict[int, Keypoints] = {}
        self._clips: dict[int, np.ndarray] = {}  # decoded RGB clips, with ``cache``
        self._lengths: list[int] | None = None
        self.records: list[Record] = []
        self._caches = self._feature_caches()
        self.segments_path = self.root / segments_file
        self._segments = read_segments(self.segments_path) if "segments" in self.inputs else {}
        self._targets = pseudo_gloss_targets(self.root) if "targets:pseudo_gloss" in self.inputs else None
        if skip_bad:
            self._check_all(records)
        else:
            for record in records:
                self._check_paths(record)
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

    def _feature_caches(self) -> dict[str, Any]:
        from glossfree.features.cache import FeatureCache
        from glossfree.features.dataset import stream_info

        caches = {}
        for stream in feature_streams(self.inputs):
            info = stream_info(self.root, stream)
            caches[stream] = FeatureCache(self.root, stream, signature=info.get("signature"), dim=info.get("dim"))
        return caches

    def _check_paths(self, record: Record) -> None:
        """A DataError when ``record`` lacks a path one of the inputs needs (before anything is read)."""
        if "keypoints" in self.inputs and record.pose is None:
            raise DataError(f"record '{record.id}' has no 'pose' path; the model reads keypoints from pose files")
        if "frames" in self.inputs and record.video is None:
            raise DataError(f"record '{record.id}' has no 'video' path; the model reads RGB frames")
        if "lips" in self.inputs and (record.video is None or record.pose is None):
            raise DataError(f"record '{record.id}' needs both a 'video' and a 'pose' path; the model reads lip crops "
                            "cut from the video where the pose's face landmarks put the mouth")  # fmt: skip
        if "segments" in self.inputs and record.id not in self._segments:
            raise DataError(f"record '{record.id}' has no line in {self.segments_path}")
        if "prompts" in self.inputs and not isinstance(record.extra.get("prompt"), str):
            raise DataError(f"record '{record.id}' has no 'prompt' (a string) for the 'prompts' input")
        if self._targets is not None and record.id not in self._targets[0]:
            raise DataError(f"record '{record.id}' is not in {self.root / 'pseudo_glosses.json'}; rerun "
                            "`glossfree pseudo-glosses` on the current manifest")  # fmt: skip

    def _check_all(self, records: Sequence[Record]) -> None:
        lengths = []
        for record in records:
            try:
                self._check_paths(record)
                if "keypoints" in self.inputs:
                    keypoints = self._load(record)
                    length = keypoints.num_frames
                else:
                    keypoints, length = None, self._record_length(record)
                for stream, cache in self._caches.items():
                    cache.read(record.id)
            except DataError as error:
                self.skipped.append((record.id, str(error)))
                continue
            if self.cache and keypoints is not None:
                self._cache[len(self.records)] = keypoints
            self.records.append(record)
            lengths.append(length)
        self._lengths = lengths
        # (the pose wording of the pose-only datasets is kept: users and logs grep for it)
        what = "pose files" if self.inputs == {"keypoints"} else "input files"
        if records and not self.records:
            raise DataError(
                f"all {len(records)} samples have missing or bad {what} (first: {self.skipped[0][1]})"
            )
        if self.skipped:
            logger.warning(
                "skipped %d of %d samples with missing or bad %s (first: %s)",
                len(self.skipped),
                len(records),
                what,
                self.skipped[0][1],
            )

    def _pose_path(self, record: Record) -> Path:
        path = resolve(self.root, record).pose
        if path is None:
            raise DataError(f"record '{record.id}' has no 'pose' path; PoseDataset needs pose files")
        return path

    def _span(self, record: Record) -> tuple[float | None, float | None]:
        """The seconds to read of the record's file: its span (``use_span``), or the window of
        ``window_s`` centred on it; ``(None, None)`` for the whole file."""
        if not self.use_span:
            return None, None
        return centred_window(record.start, record.end, self.window_s)

    def _video_path(self, record: Record) -> Path:
        path = resolve(self.root, record).video
        if path is None:
            raise DataError(f"record '{record.id}' has no 'video' path; the model reads RGB frames")
        return path

    def _record_length(self, record: Record) -> int:
        """Time steps of the sample's primary input: keypoints, else frames, else the first stream."""
        if "keypoints" in self.inputs:
            return self._length(record)
        if self.inputs & {"frames", "lips"}:
            start, end = self._span(record)
            return clip_length(self._video_path(record), fps=self.fps, start=start, end=end, folder_fps=self.folder_fps)
        stream = feature_streams(self.inputs)[0]
        return int(self._caches[stream].read(record.id).features.shape[0])

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
                self._cache[i].num_frames if i in self._cache else self._record_length(record)
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
        item: dict[str, Any] = {"id": record.id, "text": record.text, "language": record.language}
        rate: float | None = self.fps
        num_frames = 0
        offset, _ = self._span(record)  # seconds of the file where the sample's first step lies
        if "keypoints" in self.inputs:
            keypoints = self.keypoints(index)
            if self.transform is not None:
                rng = np.random.default_rng((self.seed, epoch, index))
                keypoints = self.transform(keypoints, rng)
            item["keypoints"] = torch.from_numpy(np.ascontiguousarray(keypoints.points, dtype=np.float32))
            item["keypoint_mask"] = torch.from_numpy(np.ascontiguousarray(keypoints.mask, dtype=bool))
            rate, num_frames = rate or keypoints.fps, keypoints.num_frames
        if "frames" in self.inputs:
            start, end = self._span(record)
            raw = self._clips.get(index)
            if raw is None:
                raw = load_clip(self._video_path(record), fps=self.fps, start=start, end=end, folder_fps=self.folder_fps)
                if self.cache:
                    self._clips[index] = raw
            # A generator of its own (not the pose transforms'), so adding frames changes no pose draw.
            rng = np.random.default_rng((self.seed, epoch, index, 1)) if self.clip_augment is not None else None
            item["frames"] = clip_tensor(raw, self.frames_preprocess, augment=self.clip_augment, rng=rng)
            if rate is None:
                rate = self.folder_fps if self._video_path(record).is_dir() else probe_video(self._video_path(record)).fps
            num_frames = num_frames or raw.shape[0]
        if "lips" in self.inputs:
            crops, detected, lip_rate = self._lips(record)
            item["lips"], item["lip_mask"] = torch.from_numpy(crops), torch.from_numpy(detected)
            rate, num_frames = rate or lip_rate, num_frames or crops.shape[0]
        if self._caches:
            entries = {stream: cache.read(record.id) for stream, cache in self._caches.items()}
            item["features"] = {stream: entry.features.float() for stream, entry in entries.items()}
            if not num_frames:  # feature-only: segments count the first stream's rows (at its own rate)
                rate, num_frames, offset = self._feature_steps(entries)
        if "segments" in self.inputs:
            if rate is None or not num_frames:
                raise ConfigError("the 'segments' input needs keypoints, frames, lips or features to count steps against")
            item["segments"] = torch.from_numpy(
                segment_frames(self._segments[record.id], offset=offset or 0.0, fps=rate, num_frames=num_frames)
            )
        if "prompts" in self.inputs:
            item["prompt"] = record.extra["prompt"]
        if self.prompter is not None:
            item["prompt"] = self.prompter.prompt(record, train=self.prompt_training, epoch=epoch, index=index)
        if self._targets is not None:
            glosses, vocab = self._targets
            item["targets"] = {"pseudo_gloss": vocab.multi_hot([glosses[record.id]])[0]}
        return item

    @staticmethod
    def _feature_steps(entries: dict[str, Any]) -> tuple[float, int, float]:
        """``(rows per second, rows, start seconds)`` of the first feature stream (sorted by name, the
        primary time axis as in :meth:`_record_length`), which segments are counted in when the model
        reads nothing else. A cache file records its ``fps`` (rows per second; a video_clips stream:
        frame rate / stride) and, for a record with a span, the ``start`` its first row was read from
        (extraction reads the span, whatever ``use_span`` says)."""
        first = next(iter(entries.values()))
        return first.fps, int(first.features.shape[0]), float(first.metadata.get("start", 0.0))

    def _lips(self, record: Record) -> tuple[np.ndarray, np.ndarray, float]:
        """``(crops float32 [T, S, S], detected bool [T], fps)`` of a record, resampled to ``fps``
        by the frame selection the keypoints use, so that both have the same steps."""
        from glossfree.data.lips import load_lip_crops

        assert self.lips is not None
        paths = resolve(self.root, record)  # both paths present: checked with the records at construction
        if paths.video.is_dir():
            raise DataError(f"{paths.video}: the 'lips' input reads video files, not frame folders")
        start, end = self._span(record)
        lips = load_lip_crops(paths.video, paths.pose, self.lips, start=start, end=end)
        crops, detected, rate = lips.crops, lips.detected, lips.fps
        if self.fps is not None and not np.isclose(self.fps, rate):
            index = resample_indices(len(crops), resampled_length(len(crops), self.fps / rate))
            crops, detected, rate = crops[index], detected[index], self.fps
        return np.ascontiguousarray(crops), np.ascontiguousarray(detected), rate


@dataclass
class PoseBatch:
    """A padded batch of every input a model can read; inputs the model did not ask for are empty.

    The keypoint fields are those of a pose batch; the others were added for frame encoders,
    cached feature streams, sign segments, prompts and auxiliary targets.

    Attributes:
        ids: sample ids, ``B``.
        keypoints: FloatTensor ``[B, T, N, 3]``, 0 on padding and undetected points (None without keypoints).
        keypoint_mask: BoolTensor ``[B, T, N]``, True = detected point (False on padding).
        frame_mask: BoolTensor ``[B, T]``, True = real step of the primary input (keypoints, else
            frames, else the first feature stream).
        lengths: LongTensor ``[B]``, real steps of the primary input per sample.
        texts: target sentences, ``B``.
        languages: target languages, ``B``.
        frames: FloatTensor ``[B, T, 3, H, W]`` preprocessed RGB frames, 0 on padding.
        lips: FloatTensor ``[B, T, S, S]`` normalised grayscale lip crops, 0 on padding.
        lip_mask: BoolTensor ``[B, T]``, True where the face was detected (False on padding).
        features: ``{stream: FloatTensor [B, T_s, D_s]}`` cached streams, 0 on padding.
        masks: ``{input: BoolTensor [B, T_input]}`` for every time series loaded (``keypoints``,
            ``frames``, ``lips``, ``features:<stream>``); True = real step.
        segments: LongTensor ``[B, S, 2]`` frame spans ``[first, stop)`` of the signs, 0 on padding.
        segment_mask: BoolTensor ``[B, S]``, True = real segment.
        prompts: per-sample LM prompts (the records' ``prompt``), or None.
        targets: ``{name: FloatTensor [B, ...]}`` auxiliary targets (``pseudo_gloss``: multi-hot ``[B, V]``).
        tasks: per-sample task (``slt`` / ``ssa``), or None when every sample is SLT.
    """

    ids: list[str]
    keypoints: torch.Tensor | None
    keypoint_mask: torch.Tensor | None
    frame_mask: torch.Tensor
    lengths: torch.Tensor
    texts: list[str]
    languages: list[str]
    frames: torch.Tensor | None = None
    features: dict[str, torch.Tensor] = field(default_factory=dict)
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    segments: torch.Tensor | None = None
    segment_mask: torch.Tensor | None = None
    prompts: list[str] | None = None
    targets: dict[str, torch.Tensor] = field(default_factory=dict)
    tasks: list[str] | None = None
    lips: torch.Tensor | None = None
    lip_mask: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def _map(self, fn: Any) -> PoseBatch:
        def apply(value: Any) -> Any:
            if isinstance(value, torch.Tensor):
                return fn(value)
            if isinstance(value, dict):
                return {key: apply(inner) for key, inner in value.items()}
            return value

        return PoseBatch(**{f.name: apply(getattr(self, f.name)) for f in fields(self)})

    def to(self, device: torch.device | str) -> PoseBatch:
        return self._map(lambda tensor: tensor.to(device))

    def select(self, rows: list[int]) -> PoseBatch:
        """The samples ``rows`` (in that order) of every tensor, tensor dict and per-sample list;
        the padding is kept."""
        selected = self._map(lambda tensor: tensor[torch.as_tensor(rows, dtype=torch.long, device=tensor.device)])
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                setattr(selected, f.name, [value[i] for i in rows])
        return selected

    def pin_memory(self) -> PoseBatch:
        """Called by ``DataLoader(pin_memory=True)``."""
        return self._map(lambda tensor: tensor.pin_memory())


Batch = PoseBatch
"""The general name of the batch type (every modality); ``PoseBatch`` is kept for existing users."""


def _pad_time(items: Sequence[dict[str, Any]], tensors: Sequence[torch.Tensor], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``[T_i, ...]`` tensors into ``[B, T_max, ...]`` (0 on padding) and a ``[B, T_max]`` mask."""
    shapes = {tuple(t.shape[1:]) for t in tensors}
    if len(shapes) != 1:
        raise ValueError(
            f"collate_pose: items have different {name} shapes "
            + ", ".join(f"{item['id']}: {tuple(t.shape)}" for item, t in zip(items, tensors))
        )
    lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.long)
    longest = int(lengths.max())
    out = torch.zeros(len(tensors), longest, *shapes.pop(), dtype=tensors[0].dtype)
    for row, tensor in enumerate(tensors):
        out[row, : tensor.shape[0]] = tensor
    return out, torch.arange(longest)[None, :] < lengths[:, None]


def collate_pose(items: Sequence[dict[str, Any]]) -> PoseBatch:
    """Pad items of :class:`PoseDataset` to the longest one; each sample's data is copied unchanged.

    Every input present in the items is padded on its own time axis with its own mask
    (``masks[name]``); the first of keypoints, frames, lips and the feature streams (sorted) gives
    ``frame_mask`` and ``lengths``.
    """
    if not items:
        raise ValueError("collate_pose: empty list of items")
    first = items[0]
    masks: dict[str, torch.Tensor] = {}
    keypoints = keypoint_mask = frames = None
    if "keypoints" in first:
        keypoints, masks["keypoints"] = _pad_time(items, [item["keypoints"] for item in items], "point")  # [B, T, N, C]
        keypoint_mask, _ = _pad_time(items, [item["keypoint_mask"] for item in items], "point mask")  # [B, T, N]
    if "frames" in first:
        frames, masks["frames"] = _pad_time(items, [item["frames"] for item in items], "frame")  # [B, T, 3, H, W]
    lips = lip_mask = None
    if "lips" in first:
        lips, masks["lips"] = _pad_time(items, [item["lips"] for item in items], "lip crop")  # [B, T, S, S]
        lip_mask, _ = _pad_time(items, [item["lip_mask"] for item in items], "lip mask")  # [B, T]
    features: dict[str, torch.Tensor] = {}
    for stream in sorted(first.get("features", {})):
        features[stream], masks[f"features:{stream}"] = _pad_time(
            items, [item["features"][stream] for item in items], f"'{stream}' feature"
        )  # [B, T_s, D_s]
    if not masks:
        raise ValueError("collate_pose: items hold no keypoints, frames, lips or features")
    frame_mask = next(iter(masks.values()))
    segments = segment_mask = None
    if "segments" in first:
        spans = [item["segments"].reshape(-1, 2) for item in items]
        count = max(1, max(len(s) for s in spans))
        segments = torch.zeros(len(items), count, 2, dtype=torch.long)  # [B, S, 2]
        segment_mask = torch.zeros(len(items), count, dtype=torch.bool)  # [B, S]
        for row, span in enumerate(spans):
            segments[row, : len(span)] = span
            segment_mask[row, : len(span)] = True
    targets = {name: torch.stack([item["targets"][name] for item in items]) for name in first.get("targets", {})}
    return PoseBatch(
        ids=[item["id"] for item in items],
        keypoints=keypoints,
        keypoint_mask=keypoint_mask,
        frame_mask=frame_mask,
        lengths=frame_mask.sum(dim=1),
        texts=[item["text"] for item in items],
        languages=[item["language"] for item in items],
        frames=frames,
        features=features,
        masks=masks,
        segments=segments,
        segment_mask=segment_mask,
        prompts=[item["prompt"] for item in items] if "prompt" in first else None,
        targets=targets,
        lips=lips,
        lip_mask=lip_mask,
    )


def rank_share(batches: list[list[int]], *, rank: int, num_replicas: int, drop_last: bool = False) -> list[list[int]]:
    """Rank ``rank``'s batches of an epoch: the list is padded by repeating its first batches (or,
    with ``drop_last``, truncated) to a multiple of ``num_replicas``; rank ``r`` takes ``r, r + R, ...``,
    so every rank gets the same number of batches, as ``DistributedSampler`` pads samples."""
    per_rank = len(batches) // num_replicas if drop_last else -(-len(batches) // num_replicas)
    padded = [batches[i % len(batches)] for i in range(per_rank * num_replicas)] if batches else []
    return padded[rank::num_replicas]


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
        share = rank_share(self.global_batches(), rank=self.rank, num_replicas=self.num_replicas, drop_last=self.drop_last)
        for batch in share:
            yield [(index, self.epoch) for index in batch] if self.tag_epoch else batch

    def __len__(self) -> int:
        total = -(-len(self.lengths) // self.batch_size)
        if self.drop_last and len(self.lengths) % self.batch_size:
            total -= 1
        return self._per_rank(total)
