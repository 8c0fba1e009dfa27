"""The translation task: sign input -> spoken-language sentence (every ``configs/*`` recipe without
``recipe: islr`` or ``data.ssa``).

- data: the manifest's training split; records with empty text are left out and counted, records
  of a split no recipe split names are counted (:func:`check_train_records`);
- tokenizer: trained on the training sentences (or pretrained); ``model.lm.trimmed_vocab: train``
  then trims the LM's vocabulary to the ids they use;
- model: :class:`~glossfree.models.slt.SLTModel` with the modules of every objective the stages
  name (:func:`build_slt_model`);
- data module: :class:`~glossfree.training.datamodule.PoseDataModule`;
- export: the frame rate the model was trained at and the extractor configs of its cached
  feature streams (``translate`` needs both to read a new video).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from glossfree.data.manifest import Record, load_split, unread_splits
from glossfree.errors import DataError
from glossfree.models.slt import SLTModel, SLTModelConfig, required_inputs
from glossfree.objectives import ObjectiveSettings, build_objectives
from glossfree.training.datamodule import PoseDataModule
from glossfree.training.recipe import RecipeConfig, StageConfig
from glossfree.training.tasks.base import Task, TaskData, training_frame_rate

log = logging.getLogger(__name__)


def build_slt_model(config: SLTModelConfig, tokenizer, objectives: Sequence[ObjectiveSettings] = ()) -> SLTModel:
    """An :class:`SLTModel` with the modules of ``objectives`` (one per name; ``lm_ce`` always),
    sized by the model's widths."""
    model = SLTModel(config, tokenizer)
    model.set_objectives(build_objectives(objectives, model.point_dims()))
    return model


def build_model(recipe: RecipeConfig, tokenizer) -> SLTModel:
    """The model of a translation recipe, with every objective its stages name."""
    return build_slt_model(recipe.model, tokenizer, recipe.objective_configs())


def check_train_records(root: Path, recipe: RecipeConfig) -> tuple[list[Record], dict[str, Any]]:
    """The training records worth training on, and what was left out (logged and returned).

    Records with empty text teach the model to say nothing: they are left out of training (the
    manifest format allows them for inference-only data). Records of ``manifest.jsonl`` whose
    split no recipe split names (a misspelt ``"trian"``) are never read: they are counted.
    """
    data = recipe.data
    records = load_split(root, data.train_split)
    load_split(root, data.dev_split)  # read again by the data module; a bad dev manifest fails here, early
    empty = [record.id for record in records if not record.text.strip()]
    if not records:
        raise DataError(f"{root}: split '{data.train_split}' has no records to train on")
    if len(empty) == len(records):
        raise DataError(f"{root}: all {len(records)} records of split '{data.train_split}' have empty text")
    if empty:
        log.warning(
            "%s: %d of %d records of split '%s' have empty text and are left out of training (first: '%s')",
            root, len(empty), len(records), data.train_split, empty[0],
        )  # fmt: skip
    unread = unread_splits(root, [data.train_split, data.dev_split, data.test_split])
    for path, split, count in unread:
        log.warning(
            "%s: %d record(s) with split '%s' are ignored: the recipe reads splits '%s', '%s' and '%s' "
            "(data.train_split, data.dev_split, data.test_split)",
            path, count, split, data.train_split, data.dev_split, data.test_split,
        )  # fmt: skip
    report = {
        "train_records": len(records) - len(empty),
        "empty_text_left_out": len(empty),
        "ignored_splits": {split: count for _, split, count in unread},
    }
    return [record for record in records if record.text.strip()], report


def trim_on_training_texts(recipe: RecipeConfig, tokenizer, texts: list[str], run_dir: Path) -> RecipeConfig:
    """``lm.trimmed_vocab: train``: keep the ids the training texts (and the prompt) use, as GFSLT-VLP
    and SAGE trim mBART; the mapping is written to ``<run>/trimmed_vocab.json`` and the recipe the model
    is built from points there (the run's recipe.yaml keeps ``train``, so a resume computes the same)."""
    lm = recipe.model.lm
    if lm.trimmed_vocab != "train":
        return recipe
    from glossfree.text.trim import TrimmedVocab, kept_token_ids

    full_size = len(tokenizer)
    if lm.name_or_path:  # the pretrained embeddings may have more rows than the tokenizer (T5: 32128)
        from transformers import AutoConfig

        full_size = max(full_size, AutoConfig.from_pretrained(lm.name_or_path, local_files_only=True).vocab_size)
    kept = kept_token_ids(tokenizer, [*texts, *([lm.prompt] if lm.prompt else [])])
    unk = getattr(tokenizer, "unk_token_id", None)
    vocab = TrimmedVocab(tuple(kept), full_size, kept.index(unk) if unk in kept else None)
    path = vocab.save(run_dir / "trimmed_vocab.json")  # every rank writes the same bytes, atomically
    log.info("vocabulary trimmed to the %d of %d ids the training texts use", len(vocab), full_size)
    lm = lm.model_copy(update={"trimmed_vocab": str(path)})
    return recipe.model_copy(update={"model": recipe.model.model_copy(update={"lm": lm})})


def prototypes_under_root(recipe: RecipeConfig, root: Path | None) -> RecipeConfig:
    """A ``pseudo_gloss_bce`` objective's relative ``prototypes`` path names a file under the data root
    (``glossfree prototypes`` writes it there), so one recipe serves every corpus; the model is built
    from the recipe with the resolved path (the run's recipe.yaml keeps the relative one)."""
    if root is None:
        return recipe
    stages = []
    for stage in recipe.stages:
        objectives = [
            objective.model_copy(update={"prototypes": str(Path(root) / objective.prototypes)})
            if objective.kind == "pseudo_gloss_bce" and not Path(objective.prototypes).is_absolute()
            else objective
            for objective in stage.objectives
        ]
        stages.append(stage.model_copy(update={"objectives": objectives}))
    return recipe.model_copy(update={"stages": stages})


def feature_extractors(recipe: RecipeConfig, root: Path) -> dict[str, Any]:
    """``{stream: extractor.json}`` of every cached stream the model reads."""
    from glossfree.data.inputs import feature_streams
    from glossfree.features.dataset import stream_info

    return {stream: stream_info(root, stream) for stream in feature_streams(required_inputs(recipe.model))}


class TranslationTask(Task):
    name = "translation"

    def read_data(self, recipe: RecipeConfig, root: Path, run_dir: Path, *, rank: int) -> TaskData:
        records, report = check_train_records(root, recipe)
        texts = [r.text for r in records] + prompt_texts(recipe, root, records)
        return TaskData(train_records=records, tokenizer_texts=texts, report=report)

    def prepare_recipe(self, recipe: RecipeConfig, tokenizer, data: TaskData, run_dir: Path) -> RecipeConfig:
        recipe = prototypes_under_root(recipe, recipe.data.root)  # the engine set it to the run's data root
        return trim_on_training_texts(recipe, tokenizer, data.tokenizer_texts, run_dir)

    def build_model(self, recipe: RecipeConfig, tokenizer, data: TaskData) -> torch.nn.Module:
        return build_model(recipe, tokenizer)

    def datamodule(self, recipe: RecipeConfig, stage: StageConfig, root: Path, data: TaskData) -> PoseDataModule:
        return PoseDataModule(recipe.data, root, **datamodule_options(recipe, stage, data))

    def export_metadata(self, recipe: RecipeConfig, data: TaskData, root: Path) -> dict[str, Any]:
        return {
            "data": data.report,
            # translate resamples every input to it (the recipe may not say: data.fps unset)
            "fps": training_frame_rate(recipe, data.train_records, root),
            # translate computes a features model's streams from a video with these configs
            "feature_extractors": feature_extractors(recipe, root),
            # translate has no training split to draw in-context pairs from: the evaluation prompts
            "prompts": evaluation_prompts(recipe, data.train_records, root),
        }


def prompt_texts(recipe: RecipeConfig, root: Path, records: Sequence[Record]) -> list[str]:
    """Under ``data.prompt``: the instruction in each training language and the in-context
    translations, so that a trained tokenizer learns them and a trimmed vocabulary keeps them (the
    exemplars' target side is the training texts already)."""
    if recipe.data.prompt is None:
        return []
    from glossfree.text.prompts import build_slt_prompt
    from glossfree.training.datamodule import read_translations

    texts = [build_slt_prompt(language) for language in sorted({record.language for record in records})]
    sources = read_translations(recipe.data, root) if recipe.data.prompt.exemplars else None
    train_ids = {record.id for record in records}  # the file may name others: never read theirs
    return texts + [sentence for key, sentences in (sources or {}).items() if key in train_ids for sentence in sentences]


def evaluation_prompts(recipe: RecipeConfig, records: Sequence[Record], root: Path) -> dict[str, str]:
    """``{language: prompt}`` that evaluation gives every sample of that language under
    ``data.prompt`` (empty without it): what ``translate`` gives a new video."""
    from glossfree.training.datamodule import build_prompter

    prompter = build_prompter(recipe.data, root, seed=recipe.seed)
    if prompter is None:
        return {}
    languages = sorted({record.language for record in records})
    return {language: prompter.prompt({"language": language}, train=False) for language in languages}


def datamodule_options(recipe: Any, stage: StageConfig, data: TaskData) -> dict[str, Any]:
    """The keyword arguments every task's data module takes from the recipe and the stage."""
    return dict(
        layout=recipe.model.layout, model=recipe.model, batch_size=stage.batch_size,
        eval_batch_size=recipe.evaluation.batch_size, seed=recipe.seed, train_records=data.train_records,
    )  # fmt: skip
