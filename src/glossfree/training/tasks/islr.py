"""ISLR pre-training recipes (paper 004, Sec. 3.3, 4.2): the backbone learns isolated signs first.

A recipe with ``recipe: islr`` (``configs/islr/*.yaml``) is run by the same engine as translation
recipes (``glossfree train islr/tiny --data DIR``: :func:`glossfree.training.engine.train` runs
:class:`ISLRTask`): same run folder, stages, checkpoints, logs, resume and export. What differs:

- data: a manifest of labelled clips (:class:`ISLRDataConfig`): every record is one isolated sign
  clip and carries its class in ``data.label_field`` (default ``label``: a key of the record, e.g.
  ``{"id": "train-00007", "split": "train", "text": "wetter", "language": "de",
  "pose": "poses/train-00007.pose", "label": "WETTER"}``; ``gloss`` or ``text`` can be named
  instead). The label set is the sorted set of the training split's labels (``<run>/labels.json``
  and the exported model's ``metadata.json``); a dev clip whose label is not in it is an error.
- model: :class:`~glossfree.models.islr.ISLRModel`; the tokenizer and the LM of ``model.lm`` serve
  only to embed the label texts once (the contrastive loss's text side). With ``model.lip`` (the
  paper's lip backbone, ``kind: lip_backbone``) the datasets also load its input: lip crops cut from
  each clip's ``video`` (``source: crops``; every clip needs a video, checked before anything
  trains) or a cached lip-reader stream (``source: features``); ``islr/lips_tiny.yaml`` trains both
  streams with late fusion.
- stages: objectives ``islr_ce``, ``islr_aux``, ``islr_contrastive``; monitor the dev accuracy
  ``dev/islr_ce_top1`` (higher is better).

Order of construction (the engine's, :mod:`glossfree.training.tasks.base`): the training labels
(the tokenizer may be trained on them); the tokenizer; the label embeddings (the LM is built for
this and dropped); the model; per stage the data module, the module and the trainer.

Reuse in SLT: the exported model (or a stage's best checkpoint) holds the backbone under
``backbone.``; a translation recipe's stage loads it with ``init_checkpoint: {path: RUN, stage:
islr, prefix_map: {"backbone.": "frontend."}}`` (its ``model.frontend`` must be the same backbone).
A two-stream run loads into a two-frontend SLT model (``pose_perceiver/lips_tiny``) with
``prefix_map: {"backbone.": "frontend.branches.0.", "lip_backbone.": "frontend.branches.1."}``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field, model_validator

from glossfree.config import StrictModel
from glossfree.data.manifest import Record, load_split
from glossfree.errors import DataError
from glossfree.io import atomic_write_json
from glossfree.models.islr import ISLRModel, ISLRModelConfig, label_text_embeddings
from glossfree.models.language_model import LanguageModel
from glossfree.models.slt import required_inputs
from glossfree.objectives import ObjectiveConfig, ObjectiveSettings, build_islr_objectives
from glossfree.objectives.islr import ISLR_OBJECTIVE_KINDS
from glossfree.training.datamodule import PoseDataModule
from glossfree.training.recipe import (
    GENERATED_METRICS,
    SSA_METRICS,
    DataConfig,
    EvaluationConfig,
    StageConfig,
    TokenizerConfig,
    check_stage_names,
    check_stage_parts,
    paper_tokenizer,
    stage_objectives,
)
from glossfree.training.tasks.base import Task, TaskData, training_frame_rate
from glossfree.training.tasks.translation import datamodule_options

log = logging.getLogger(__name__)

_RECORD_FIELDS = ("text", "gloss", "signer")


class ISLRDataConfig(DataConfig):
    """:class:`~glossfree.training.recipe.DataConfig` of labelled isolated clips.

    Args:
        label_field: the record key that holds each clip's class (a pseudo-gloss or gloss): a manifest
            extra key (default ``label``) or one of the record fields ``text``, ``gloss``.
    """

    label_field: str = Field("label", min_length=1)

    @model_validator(mode="after")
    def _no_streams(self) -> ISLRDataConfig:
        if self.ssa is not None:
            raise ValueError("data.ssa (long streams for SSA) does not apply to isolated sign clips")
        return self


def _objective_part(objective) -> list[str]:
    return [f"objectives.{objective.key}"] if objective.owns_parameters else []


class ISLRRecipeConfig(StrictModel):
    """An ISLR pre-training recipe. Defaults are paper scale; ``islr/tiny.yaml`` overrides them for CPU."""

    recipe: Literal["islr"] = "islr"
    seed: int = 42
    data: ISLRDataConfig = Field(default_factory=ISLRDataConfig)
    model: ISLRModelConfig = Field(default_factory=ISLRModelConfig)
    tokenizer: TokenizerConfig = Field(default_factory=paper_tokenizer)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    stages: list[StageConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ISLRRecipeConfig:
        check_stage_names(self.stages)
        objectives = self.objective_configs()
        parts = ["backbone", "classifier", *(["lip_backbone", "lip_classifier"] if self.model.lip else [])]
        parts += sorted(part for objective in objectives for part in _objective_part(objective))
        for stage in self.stages:
            other = [o.key for o in stage.objectives if o.kind not in ISLR_OBJECTIVE_KINDS]
            if other:
                raise ValueError(
                    f"stage '{stage.name}': objective(s) {', '.join(other)} are not ISLR objectives; an ISLR "
                    f"stage lists objectives of kinds {', '.join(ISLR_OBJECTIVE_KINDS)}"
                )
            if stage.monitor in GENERATED_METRICS or stage.monitor in SSA_METRICS or stage.generate:
                raise ValueError(
                    f"stage '{stage.name}': an ISLR stage generates no text; monitor a logged metric such as "
                    "dev/islr_ce_top1 (and leave `generate` unset)"
                )
            if stage.ssa_fraction > 0:
                raise ValueError(f"stage '{stage.name}': ssa_fraction does not apply to isolated sign clips")
        check_stage_parts(self.stages, parts)
        return self

    def objective_configs(self) -> list[ObjectiveConfig]:
        """Every objective the stages name, once per name (:func:`~glossfree.training.recipe.stage_objectives`)."""
        return stage_objectives(self.stages)


# ---------------------------------------------------------------------------------------------
# labelled clips


def manifest_file(root: Path, split: str) -> Path:
    """The file a split's records come from (``{split}.jsonl``, else ``manifest.jsonl``)."""
    split_file = Path(root) / f"{split}.jsonl"
    return split_file if split_file.is_file() else Path(root) / "manifest.jsonl"


def _label_value(record: Record, field: str) -> Any:
    """What the record holds in ``field`` (a record field or a manifest extra key), as written."""
    return getattr(record, field) if field in _RECORD_FIELDS else record.extra.get(field)


def clip_label(record: Record, field: str) -> str | None:
    """The record's label in ``field``; None when absent or blank (a label that is not a string is
    refused by :func:`labelled_records`)."""
    value = _label_value(record, field)
    return value.strip() if isinstance(value, str) and value.strip() else None


def labelled_records(root: Path, split: str, field: str) -> list[Record]:
    """The split's records with their label as ``text`` (what the batches carry to the model).

    A record without a label is a :class:`DataError` that names the manifest file, the key and the
    first records at fault.
    """
    records = load_split(root, split)
    path = manifest_file(root, split)
    not_text = [(r.id, value) for r in records if (value := _label_value(r, field)) is not None and not isinstance(value, str)]
    if not_text:
        listed = ", ".join(f"{sid} ({json.dumps(value, ensure_ascii=False)})" for sid, value in not_text[:3])
        raise DataError(
            f"{path}: {len(not_text)} record(s) of split '{split}' have a label in '{field}' that is not a string "
            f"(first: {listed}); an ISLR clip has one class, written as text"
        )
    missing = [record.id for record in records if clip_label(record, field) is None]
    if missing:
        raise DataError(
            f"{path}: {len(missing)} of {len(records)} record(s) of split '{split}' have no label in "
            f"'{field}' (first: {', '.join(missing[:3])}); an ISLR manifest gives every clip its class "
            f"(pseudo-gloss) in that key (data.label_field)"
        )
    return [replace(record, text=clip_label(record, field)) for record in records]  # type: ignore[arg-type]


def check_clip_inputs(records: list[Record], model: ISLRModelConfig, path: Path, split: str) -> None:
    """Clips of a model that reads lip crops (``model.lip``: ``lip_backbone``, ``source: crops``) must
    each name a ``video`` and its ``pose``; the :class:`DataError` names the file and the first clips."""

    if "lips" not in required_inputs(model):
        return
    missing = [record.id for record in records if record.video is None or record.pose is None]
    if missing:
        raise DataError(
            f"{path}: {len(missing)} of {len(records)} record(s) of split '{split}' have no 'video' (or no 'pose') "
            f"(first: {', '.join(missing[:3])}); model.lip reads lip crops cut from each clip's video where its "
            "pose's face landmarks put the mouth (the synthetic signer: `glossfree synth OUT --isolated --video`)"
        )


def check_labels(records: list[Record], labels: list[str], path: Path, split: str) -> None:
    """Every record's label (its ``text``) must be in ``labels``; the error names the file and samples."""
    known = set(labels)
    unknown = [(record.id, record.text) for record in records if record.text not in known]
    if unknown:
        listed = ", ".join(f"{sid} ({label})" for sid, label in unknown[:5])
        raise DataError(
            f"{path}: {len(unknown)} record(s) of split '{split}' have a label that no training clip has "
            f"({listed}); the label set is the {len(labels)} labels of the training split"
        )


class ISLRDataModule(PoseDataModule):
    """:class:`PoseDataModule` over labelled clips: each record's ``text`` is its label. The datasets
    load what the ISLR model reads (:func:`~glossfree.training.datamodule.build_dataset` with the
    model config): keypoints, and for ``model.lip`` its input (``lips`` crops cut from each clip's
    video with the lip backbone's ``crop``, or a ``features:<stream>`` lip-reader stream)."""

    def __init__(self, *args: Any, label_field: str, labels: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_field = label_field
        self.labels = labels

    def dev_dataset(self):
        if self._dev is None:
            split = self.config.dev_split
            records = labelled_records(self.root, split, self.label_field)
            check_labels(records, self.labels, manifest_file(self.root, split), split)
            if self.config.max_dev_samples is not None:
                records = records[: self.config.max_dev_samples]
            self._dev = self._dataset(records, train=False)
        return self._dev


# ---------------------------------------------------------------------------------------------
# training


def build_islr_model(
    config: ISLRModelConfig, labels: Sequence[str], label_embeddings: torch.Tensor,
    objectives: Sequence[ObjectiveSettings] = (),
) -> ISLRModel:  # fmt: skip
    """An :class:`ISLRModel` with the modules of the ISLR ``objectives``, sized by the model's widths."""
    model = ISLRModel(config, labels, label_embeddings)
    model.set_objectives(build_islr_objectives(objectives, model.dims()))
    return model


def build_recipe_model(recipe: ISLRRecipeConfig, labels: list[str], tokenizer) -> ISLRModel:
    """The ISLR model of ``recipe`` for ``labels``: the label texts are embedded by the recipe's LM
    (built for it, then dropped)."""
    lm = LanguageModel(recipe.model.lm, tokenizer).eval()
    embeddings = label_text_embeddings(lm, labels)
    del lm
    return build_islr_model(recipe.model, labels, embeddings, recipe.objective_configs())


def read_labelled_clips(recipe: ISLRRecipeConfig, root: Path) -> tuple[list[Record], list[str], dict[str, Any]]:
    """The training clips, the label set (sorted training labels) and the data report; the dev
    manifest and every clip's inputs are checked now, not after an epoch."""
    data = recipe.data
    train_records = labelled_records(root, data.train_split, data.label_field)
    if not train_records:
        raise DataError(f"{manifest_file(root, data.train_split)}: split '{data.train_split}' has no clips to train on")
    labels = sorted({record.text for record in train_records})
    if len(labels) < 2:
        raise DataError(
            f"{manifest_file(root, data.train_split)}: the training clips have {len(labels)} label(s); "
            "classification needs at least 2"
        )
    dev = labelled_records(root, data.dev_split, data.label_field)
    check_labels(dev, labels, manifest_file(root, data.dev_split), data.dev_split)
    for split, records in ((data.train_split, train_records), (data.dev_split, dev)):
        check_clip_inputs(records, recipe.model, manifest_file(root, split), split)
    counts = Counter(record.text for record in train_records)
    report = {
        "train_records": len(train_records),
        "dev_records": len(dev),
        "labels": len(labels),
        "chance_top1": max(counts.values()) / len(train_records),  # always guessing the most frequent label
    }
    log.info("ISLR: %d training clips, %d labels", len(train_records), len(labels))
    return train_records, labels, report


class ISLRTask(Task):
    name = "islr"

    def read_data(self, recipe: ISLRRecipeConfig, root: Path, run_dir: Path, *, rank: int) -> TaskData:
        records, labels, report = read_labelled_clips(recipe, root)
        if rank == 0:
            atomic_write_json(run_dir / "labels.json", labels)
        # a trained tokenizer learns the label texts: they are all it ever embeds
        return TaskData(train_records=records, tokenizer_texts=labels, report=report, labels=labels)

    def build_model(self, recipe: ISLRRecipeConfig, tokenizer, data: TaskData) -> ISLRModel:
        return build_recipe_model(recipe, data.labels, tokenizer)

    def datamodule(self, recipe: ISLRRecipeConfig, stage: StageConfig, root: Path, data: TaskData) -> ISLRDataModule:
        return ISLRDataModule(
            recipe.data, root, label_field=recipe.data.label_field, labels=data.labels,
            **datamodule_options(recipe, stage, data),
        )  # fmt: skip

    def export_metadata(self, recipe: ISLRRecipeConfig, data: TaskData, root: Path) -> dict[str, Any]:
        return {
            "task": "islr",
            "labels": data.labels,
            "data": data.report,
            "fps": training_frame_rate(recipe, data.train_records, root),
        }
