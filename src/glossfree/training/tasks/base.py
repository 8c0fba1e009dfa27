"""The task interface: what the training engine asks of a kind of training, and nothing more.

A *task* is translation (:mod:`~glossfree.training.tasks.translation`), translation + sign-subtitle
alignment on long streams (:mod:`~glossfree.training.tasks.multitask`) or isolated sign
recognition pre-training (:mod:`~glossfree.training.tasks.islr`). The engine
(:func:`glossfree.training.engine.train`) runs the same life cycle for each, in this order (every
step needs the one before it)::

    data = task.read_data(recipe, root, run_dir, rank=rank)       # training records, texts, report
    tokenizer = prepare_tokenizer(recipe.tokenizer, data.tokenizer_texts, ...)
    recipe = task.prepare_recipe(recipe, tokenizer, data, run_dir)  # e.g. the trimmed vocabulary
    model = task.build_model(recipe, tokenizer, data)             # model + its objectives
    for each stage: task.datamodule(recipe, stage, root, data)    # then Lightning fit, checkpoints
    export_model(model, ..., metadata=task.export_metadata(recipe, data, root))

A new kind of training (HFA's pre-training, SAGE's segment tokens, SpaMo's feature-only inputs)
adds a task here, or parts below, without touching the engine. Metrics and monitors live with the
task's recipe schema (which stage monitors it accepts) and its model's objectives (what they log).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch

from glossfree.data.manifest import Record
from glossfree.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class TaskData:
    """What a task read before the tokenizer and the model exist.

    Attributes:
        train_records: the records the training split gives (after the task's checks).
        tokenizer_texts: the texts a trained tokenizer learns from.
        report: counts of what was read and left out (the run summary's ``data``).
        split_digits: a trained tokenizer splits digits into one token each (SSA answers).
        labels: the class names of a classification task (ISLR), in class-index order.
    """

    train_records: list[Record]
    tokenizer_texts: list[str]
    report: dict[str, Any] = field(default_factory=dict)
    split_digits: bool = False
    labels: list[str] = field(default_factory=list)


class Task(ABC):
    """One kind of training, as the engine sees it (see the module docstring for the order of calls)."""

    name: str

    @abstractmethod
    def read_data(self, recipe: Any, root: Path, run_dir: Path, *, rank: int) -> TaskData:
        """Read and check the training data (and what must be checked before anything trains)."""

    def prepare_recipe(self, recipe: Any, tokenizer: Any, data: TaskData, run_dir: Path) -> Any:
        """The recipe the model is built from, once the tokenizer exists (default: unchanged)."""
        return recipe

    @abstractmethod
    def build_model(self, recipe: Any, tokenizer: Any, data: TaskData) -> torch.nn.Module:
        """The model with its objectives' modules; it has ``parts()`` (what stages train or freeze)."""

    @abstractmethod
    def datamodule(self, recipe: Any, stage: Any, root: Path, data: TaskData) -> L.LightningDataModule:
        """The data module of one stage (its batch size is per stage)."""

    @abstractmethod
    def export_metadata(self, recipe: Any, data: TaskData, root: Path) -> dict[str, Any]:
        """What the exported model records beside its weights (``metadata.json``), beyond the
        engine's own entries (version, stages)."""


def training_frame_rate(recipe: Any, records: list[Record], root: Path, *, sample: int = 200) -> float | None:
    """The frame rate the model was trained at: ``data.fps``, else the training files' own rate.

    Without ``data.fps`` the training poses are used at their files' rate: the headers of up to
    ``sample`` training files (spread over the split) are read and the most common rate is taken
    (a mix is logged). None when no header can be read (e.g. feature-only data).
    """
    if recipe.data.fps is not None:
        return float(recipe.data.fps)
    from glossfree.data.pose_io import read_pose_info

    with_pose = [record for record in records if record.pose]
    step = max(1, len(with_pose) // sample)
    rates: Counter[float] = Counter()
    for record in with_pose[::step][:sample]:
        try:
            rate = read_pose_info(root / record.pose).fps
        except DataError:
            continue
        if rate > 0:
            rates[round(rate, 3)] += 1
    if not rates:
        return _video_frame_rate(records, root, sample)
    if len(rates) > 1:
        log.warning(
            "training poses have several frame rates (%s); the model records the most common one; set "
            "data.fps to resample them all to one rate",
            ", ".join(f"{rate:g} fps x{count}" for rate, count in rates.most_common()),
        )
    return rates.most_common(1)[0][0]


def _video_frame_rate(records: list[Record], root: Path, sample: int) -> float | None:
    """The most common frame rate of the training videos (a frames model without ``data.fps``)."""
    from glossfree.data.video import probe_video

    rates: Counter[float] = Counter()
    with_video = [record for record in records if record.video and not (root / record.video).is_dir()]
    for record in with_video[:: max(1, len(with_video) // sample)][:sample]:
        try:
            rates[round(probe_video(root / record.video).fps, 3)] += 1
        except DataError:
            continue
    return rates.most_common(1)[0][0] if rates else None
