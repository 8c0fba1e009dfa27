"""Multitask SLT + SSA samples from long streams with subtitles, and batches that mix the two tasks.

Paper 004 trains one model on two prompted tasks (Sec. 3.2, 3.4, 4.2):

- **SLT**: the signing of one subtitle -> its text. Here the sample is the subtitle's true
  (signing-aligned) span of the stream, read with ``PoseDataset(use_span=True)``; the prompt is
  :func:`~glossfree.text.prompts.build_paper004_slt_prompt`.
- **SSA**: the window of ``window_s`` seconds (paper: 20 s) centred on the audio-aligned ("prior")
  subtitle -> ``"sss-eee"``, the first and last frame of the true signing within the window
  (:func:`glossfree.alignment.windows.encode_target`; frames at ``answer_fps``, whatever the stream's rate). The prompt
  is the SSA instruction with the subtitle text and, with ``prior_probability`` (paper: 0.5) in
  training and always at validation and inference, the prior's frames in the window. A subtitle
  whose true span misses its window gives no SSA sample (counted).
- **Mixed batches** (:class:`MixedTaskBatchSampler`): every training batch holds
  ``round(batch_size * ssa_fraction)`` SSA samples and SLT samples for the rest (paper: 80 % SLT /
  20 % SSA). An epoch visits every SLT sample once; SSA samples are drawn from a reshuffled cycle.

A stream manifest line (``manifest.jsonl`` of :mod:`glossfree.data.synth.broadcast`, or any corpus
of long pose files with two subtitle files): ``id``, ``pose``, ``signing`` (true spans),
``audio`` (priors), ``fps``, ``num_frames``; optional ``split`` and ``language``. Streams without
a split are ``train``, except the last ``dev_streams``, which are ``dev``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset, Sampler

from glossfree.alignment.subtitles import read_subtitles
from glossfree.alignment.windows import ANSWER_FPS, encode_target, frames_at, ssa_window
from glossfree.data.datasets import PoseBatch, PoseDataset, collate_pose, rank_share
from glossfree.data.manifest import Record
from glossfree.errors import DataError
from glossfree.text.prompts import build_paper004_slt_prompt, build_ssa_prompt, sample_ssa_prompt

TASKS = ("slt", "ssa")
_STREAM_KEYS = ("id", "pose", "signing", "audio", "fps", "num_frames")


def read_stream_manifest(root: str | Path) -> list[dict[str, Any]]:
    """The stream lines of ``root/manifest.jsonl`` (a missing key is a :class:`DataError` naming the line)."""
    from glossfree.data.synth.broadcast import read_broadcast_manifest

    streams = read_broadcast_manifest(root, required=_STREAM_KEYS)
    if not streams:
        raise DataError(f"{Path(root) / 'manifest.jsonl'}: no streams")
    return streams


def stream_splits(streams: Sequence[dict[str, Any]], dev_streams: int) -> list[str]:
    """Each stream's split: its own ``split``, else ``train`` but ``dev`` for the last ``dev_streams``."""
    unsplit = [k for k, entry in enumerate(streams) if not entry.get("split")]
    held = set(unsplit[len(unsplit) - dev_streams :]) if dev_streams else set()
    return [entry.get("split") or ("dev" if k in held else "train") for k, entry in enumerate(streams)]


def prior_frames(start: float, end: float, window_start: int, window_frames: int, fps: float) -> tuple[int, int]:
    """A prior subtitle's first and last frame (inclusive) within a window, clipped to it."""
    first = min(max(int(round(start * fps)) - window_start, 0), window_frames - 1)
    last = min(max(int(round(end * fps)) - 1 - window_start, first), window_frames - 1)
    return first, last


def multitask_records(root: str | Path, *, split: str, window_s: float = 20.0, language: str = "en",
                      dev_streams: int = 2, answer_fps: float = ANSWER_FPS) -> tuple[list[Record], dict[str, int]]:  # fmt: skip
    """SLT and SSA records of the streams of ``split`` (see the module docstring), and counts.

    Record ``extra``: ``task`` (``slt``/``ssa``), ``stream``; SSA records also ``subtitle`` (the
    text the prompt carries) and ``prior`` (``[first, last]`` frames in the window). An SSA
    record's ``text`` is its target answer and ``start``/``end`` its window in seconds.
    """
    root = Path(root)
    streams = read_stream_manifest(root)
    records: list[Record] = []
    counts = {"streams": 0, "slt": 0, "ssa": 0, "ssa_outside_window": 0}
    for entry, stream_split in zip(streams, stream_splits(streams, dev_streams), strict=True):
        if stream_split != split:
            continue
        counts["streams"] += 1
        sid, fps, frames = str(entry["id"]), float(entry["fps"]), int(entry["num_frames"])
        lang = entry.get("language") or language
        truth = read_subtitles(root / entry["signing"])
        priors = read_subtitles(root / entry["audio"])
        if [c.text for c in truth] != [c.text for c in priors]:
            raise DataError(
                f"{root / entry['audio']}: subtitles differ from {root / entry['signing']} "
                "(the same texts in the same order are expected)"
            )
        for k, (true, prior) in enumerate(zip(truth, priors, strict=True)):
            common = {"split": split, "language": lang, "pose": entry["pose"]}
            if true.end > true.start and true.text.strip():
                records.append(Record(id=f"{sid}/slt/{k:04d}", text=true.text, start=true.start, end=true.end,
                                      extra={"task": "slt", "stream": sid}, **common))  # fmt: skip
                counts["slt"] += 1
            window = ssa_window(prior.start, prior.end, num_frames=frames_at(frames, fps, answer_fps), fps=answer_fps,
                                seconds=window_s)  # fmt: skip
            target = encode_target(true.start, true.end, window)
            if target is None:
                counts["ssa_outside_window"] += 1
                continue
            records.append(Record(
                id=f"{sid}/ssa/{k:04d}", text=target, start=window.start_s, end=window.end_s,
                extra={"task": "ssa", "stream": sid, "subtitle": prior.text,
                       "prior": list(prior_frames(prior.start, prior.end, window.start, window.num_frames, answer_fps))},
                **common,
            ))  # fmt: skip
            counts["ssa"] += 1
    return records, counts


def record_task(record: Record) -> str:
    return str(record.extra.get("task", "slt"))


def record_prompt(record: Record, *, rng: np.random.Generator | None = None, prior_probability: float = 1.0) -> str:
    """The task prompt of a record: SLT, or SSA with the prior shown (always without ``rng``)."""
    if record_task(record) == "slt":
        return build_paper004_slt_prompt(record.language)
    prior = tuple(record.extra["prior"]) if record.extra.get("prior") is not None else None
    if rng is None:
        return build_ssa_prompt(record.extra["subtitle"], prior=prior)  # type: ignore[arg-type]
    return sample_ssa_prompt(record.extra["subtitle"], rng, prior=prior, prior_probability=prior_probability)  # type: ignore[arg-type]


def tokenizer_texts(records: Sequence[Record]) -> list[str]:
    """What a tokenizer trained for multitask data must cover: targets (digits) and both prompts."""
    texts = [record.text for record in records]
    texts.extend(record_prompt(record) for record in records)
    return texts


class MultitaskDataset(Dataset):
    """Items of a :class:`PoseDataset` over multitask records (spans read with ``use_span``), each
    with its ``task`` and ``prompt``. In training (``sample_prior``) the SSA prompt shows the prior
    with ``prior_probability``, drawn per ``(seed, epoch, index)``; otherwise always."""

    def __init__(self, poses: PoseDataset, *, sample_prior: bool, prior_probability: float = 0.5) -> None:
        self.poses = poses
        self.sample_prior, self.prior_probability = sample_prior, prior_probability
        unknown = sorted({record_task(r) for r in poses.records} - set(TASKS))
        if unknown:
            raise DataError(f"unknown task(s) {', '.join(unknown)} in records; known: {', '.join(TASKS)}")

    @property
    def records(self) -> list[Record]:
        return self.poses.records

    @property
    def tasks(self) -> list[str]:
        return [record_task(record) for record in self.poses.records]

    @property
    def lengths(self) -> list[int]:
        return self.poses.lengths

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return self.poses.skipped

    def set_epoch(self, epoch: int) -> None:
        self.poses.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.poses)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch = key if isinstance(key, tuple) else (key, self.poses.epoch)
        item = self.poses[key]
        record = self.poses.records[index]
        rng = np.random.default_rng((self.poses.seed, epoch, index, 4)) if self.sample_prior else None
        item["task"] = record_task(record)
        item["prompt"] = record_prompt(record, rng=rng, prior_probability=self.prior_probability)
        return item


def collate_multitask(items: Sequence[dict[str, Any]]) -> PoseBatch:
    """:func:`collate_pose` plus each sample's ``prompts`` and ``tasks``."""
    batch = collate_pose(items)
    return dataclasses.replace(batch, prompts=[item["prompt"] for item in items],
                               tasks=[item["task"] for item in items])  # fmt: skip


class MixedTaskBatchSampler(Sampler[list[int]]):
    """Training batches with a fixed share of SSA samples; evaluation batches by length.

    With ``shuffle``: ``n_ssa = round(batch_size * ssa_fraction)`` (at least 1 when the fraction
    is positive and SSA samples exist) SSA samples and ``batch_size - n_ssa`` SLT samples per
    batch; every SLT sample once per epoch (a short last batch keeps the SSA share), SSA samples
    from a cycle of permutations. Without it: all samples sorted by length in batches. With
    ``num_replicas`` ranks the batch list is padded by repeats to a multiple of it and rank ``r``
    takes batches ``r, r + R, ...``. Deterministic per ``(seed, epoch)``.
    """

    def __init__(self, tasks: Sequence[str], lengths: Sequence[int], *, batch_size: int, ssa_fraction: float,
                 shuffle: bool = True, seed: int = 0, num_replicas: int = 1, rank: int = 0,
                 tag_epoch: bool = False) -> None:  # fmt: skip
        if batch_size < 1 or num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"bad batch_size {batch_size}, num_replicas {num_replicas} or rank {rank}")
        if not 0.0 <= ssa_fraction < 1.0:
            raise ValueError(f"ssa_fraction must be in [0, 1), got {ssa_fraction}")
        self.tasks = np.asarray(list(tasks))
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if len(self.tasks) != len(self.lengths):
            raise ValueError(f"{len(self.tasks)} tasks for {len(self.lengths)} lengths")
        self.slt = np.flatnonzero(self.tasks == "slt")
        self.ssa = np.flatnonzero(self.tasks == "ssa")
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.num_replicas, self.rank, self.tag_epoch = num_replicas, rank, tag_epoch
        self.epoch = 0
        n_ssa = int(round(batch_size * ssa_fraction)) if len(self.ssa) else 0
        if ssa_fraction > 0 and len(self.ssa):
            n_ssa = min(max(n_ssa, 1), batch_size - 1)
        self.n_ssa, self.n_slt = n_ssa, batch_size - n_ssa
        if shuffle and not len(self.slt):
            raise DataError("no SLT samples to train on: mixed batches need SLT samples")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def global_batches(self) -> list[list[int]]:
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            return [order[i : i + self.batch_size].tolist() for i in range(0, len(order), self.batch_size)]
        rng = np.random.default_rng((self.seed, self.epoch))
        slt = self.slt[rng.permutation(len(self.slt))]
        batches = [slt[i : i + self.n_slt].tolist() for i in range(0, len(slt), self.n_slt)]
        if self.n_ssa:
            cycle: list[int] = []
            for batch in batches:
                while len(cycle) < self.n_ssa:
                    cycle.extend(self.ssa[rng.permutation(len(self.ssa))].tolist())
                batch.extend(cycle[: self.n_ssa])
                del cycle[: self.n_ssa]
        return batches

    def _per_rank(self, total: int) -> int:
        return -(-total // self.num_replicas)

    def __iter__(self) -> Iterator[list[Any]]:
        for batch in rank_share(self.global_batches(), rank=self.rank, num_replicas=self.num_replicas):
            yield [(index, self.epoch) for index in batch] if self.tag_epoch else batch

    def __len__(self) -> int:
        total = len(self.lengths) if not self.shuffle else len(self.slt)
        per_batch = self.batch_size if not self.shuffle else self.n_slt
        return self._per_rank(-(-total // per_batch)) if total else 0

