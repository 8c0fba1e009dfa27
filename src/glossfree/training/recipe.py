"""Recipe schema: a recipe is data, model, tokenizer, evaluation and an ordered list of stages.

A YAML recipe (``configs/<method>/<dataset>.yaml``) is validated against :class:`RecipeConfig`.
Unknown keys are rejected with the file, the dotted key and the valid keys in the message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from glossfree.config import StrictModel, resolve_config_file
from glossfree.errors import ConfigError, GlossfreeError
from glossfree.models.slt import SLTModelConfig, model_parts, part_names
from glossfree.objectives import LMCrossEntropyConfig, ObjectiveConfig
from glossfree.text.prompts import SLTPromptConfig
from glossfree.training.optim import OptimizerConfig, ScheduleConfig

# Dev metrics computed from generated translations (validation decodes only when the monitor is one
# of these, or ``generate: true``). All are higher-is-better.
GENERATED_METRICS = ("dev/bleu4", "dev/bleu1", "dev/rouge_l", "dev/chrf")
# SSA dev metrics from generated answers (``ssa_fraction > 0``): higher-is-better except the L1.
SSA_METRICS: dict[str, Literal["max", "min"]] = {
    "dev/ssa_exact": "max", "dev/ssa_parsed": "max", "dev/ssa_iou50": "max", "dev/ssa_frame_l1": "min",
}  # fmt: skip


class SSADataConfig(StrictModel):
    """Multitask SLT + SSA samples from long streams (paper 004 Sec. 3.4, 4.2); see
    :mod:`glossfree.data.multitask`. The data root then holds a stream manifest (as written by
    ``glossfree.data.synth.broadcast``: ``id``, ``pose``, ``signing``, ``audio``, ``fps``,
    ``num_frames``, optional ``split`` and ``language``), not a sample manifest.

    Args:
        window_s: SSA input window centred on each audio-aligned (prior) subtitle (paper: 20 s).
        prior_probability: chance that a training SSA prompt shows the prior timing (paper: 0.5);
            validation and ``glossfree align`` always show it.
        language: subtitle language when the manifest gives none (the SLT prompt names it).
        dev_streams: streams without a ``split`` held out for dev (the last ones of the manifest).
        answer_fps: the rate the answers' frame indices count at, whatever a stream's own rate (paper:
            BOBSL's 25 fps); training targets and ``glossfree align`` both use it.
    """

    window_s: float = Field(20.0, gt=0)
    prior_probability: float = Field(0.5, ge=0, le=1)
    language: str = "en"
    dev_streams: int = Field(2, ge=0)
    answer_fps: float = Field(25.0, gt=0)

    @model_validator(mode="after")
    def _window_fits_the_digits(self) -> SSADataConfig:
        from glossfree.alignment.windows import DIGITS

        frames = round(self.window_s * self.answer_fps)
        if frames > 10**DIGITS:
            raise ValueError(
                f"a {self.window_s:g} s window at answer_fps {self.answer_fps:g} has {frames} frames, more than "
                f"{DIGITS} digits can index; lower window_s or answer_fps"
            )
        return self

    def records(self, root: str | Path, split: str) -> tuple[list, dict[str, int]]:
        """The SLT and SSA records of the ``split`` streams under ``root``, and their counts
        (:func:`glossfree.data.multitask.multitask_records` with these settings)."""
        from glossfree.data.multitask import multitask_records

        return multitask_records(root, split=split, window_s=self.window_s, language=self.language,
                                 dev_streams=self.dev_streams, answer_fps=self.answer_fps)  # fmt: skip


class DataConfig(StrictModel):
    """Where samples come from and how they are turned into tensors.

    The keypoint layout is the model's (``model.layout``): one source of truth.

    Args:
        root: dataset root (``manifest.jsonl`` or ``{split}.jsonl``); usually given on the command line.
        normalize: centre on the shoulders and scale shoulder length to 1.
        fps: resample poses to this frame rate (None keeps the file's rate).
        train_split / dev_split / test_split: split names in the manifest.
        max_dev_samples: cap on dev samples decoded at each validation (None = all).
        on_error: what an unreadable sample (missing or corrupt pose file) does: ``raise`` stops
            training with a message naming the file; ``skip`` checks every sample once before
            training, leaves out the bad ones and counts them in the run summary.
        augment: training-time pose transforms, OpenHands style:
            ``[{kind: RandomAffine, rotation_deg: 10}, {kind: TemporalResample}]`` (names from
            ``glossfree.data.transforms.TRANSFORMS``).
        cache: keep loaded keypoints and decoded RGB clips in memory (each DataLoader worker holds
            its own copy).
        num_workers: DataLoader worker processes that load and augment batches while the model
            computes (0 = in the training process). Workers persist across epochs; batches are
            copied to pinned memory when training on a GPU.
        prefetch_factor: batches each worker prepares ahead.
        spans: read only each record's ``start``/``end`` seconds of its pose file or video (BOBSL,
            YouTube-SL-25: one file per episode, one record per subtitle); records without a span
            are read whole. ``false`` treats every file as the sample.
        window_s: instead of the span, read a window of this many seconds centred on it (paper
            004's SSA input: a fixed 20 s window around each subtitle).
        extra_inputs: inputs loaded beside those the model's frontends read: ``segments``
            (``segments_file``), ``prompts`` (the records' ``prompt``), ``targets:pseudo_gloss``.
        segments_file: the sign spans the ``segments`` input reads, relative to the root:
            ``segments.jsonl`` (``glossfree synth``'s true spans) or a file ``glossfree segment
            --out`` wrote (e.g. ``segments_motion.jsonl``, the pose-motion segmenter's).
        clip_augment: clip-consistent augmentation of RGB frames in training (one random crop,
            brightness and contrast per clip, and with ``p`` one rotation, resize and translation):
            ``{crop_scale: [0.8, 1.0], brightness: 0.1, contrast: 0.1, rotation_deg: 10, scale:
            [0.9, 1.1], translate: 0.1, p: 0.5}`` (:class:`~glossfree.data.inputs.ClipAugment`); None = off.
        folder_fps: frame rate of frame folders given as ``video`` (PHOENIX-2014-T: 25).
        ssa: multitask SLT + SSA data from long streams and their subtitles (:class:`SSADataConfig`);
            a stage mixes SSA samples into its batches with ``ssa_fraction``.
        prompt: SpaMo's prompt per sample: the instruction in the record's language and in-context
            pairs from the training split only (:class:`~glossfree.text.prompts.SLTPromptConfig`);
            None: the LM's fixed ``model.lm.prompt``.
    """

    root: Path | None = None
    normalize: bool = True
    fps: float | None = Field(None, gt=0)
    train_split: str = "train"
    dev_split: str = "dev"
    test_split: str = "test"
    max_dev_samples: int | None = Field(None, gt=0)
    on_error: Literal["raise", "skip"] = "raise"
    cache: bool = False
    num_workers: int = Field(2, ge=0)
    prefetch_factor: int = Field(4, ge=1)
    augment: list[dict[str, Any]] = Field(default_factory=list)
    spans: bool = True
    window_s: float | None = Field(None, gt=0)
    extra_inputs: list[str] = Field(default_factory=list)
    segments_file: str = "segments.jsonl"
    clip_augment: dict[str, Any] | None = None
    folder_fps: float = Field(25.0, gt=0)

    @field_validator("extra_inputs")
    @classmethod
    def _known_inputs(cls, names: list[str]) -> list[str]:
        from glossfree.data.inputs import check_input_names

        try:
            check_input_names(set(names))
        except GlossfreeError as error:
            raise ValueError(str(error)) from None
        return names

    def build_clip_augment(self):
        """The :class:`~glossfree.data.inputs.ClipAugment` of ``clip_augment`` (None when off)."""
        from glossfree.data.inputs import ClipAugment

        if self.clip_augment is None:
            return None
        spec = {k: tuple(v) if isinstance(v, list) else v for k, v in self.clip_augment.items()}  # ranges
        try:
            return ClipAugment(**spec)
        except TypeError as error:
            raise ConfigError(f"data.clip_augment: {error}") from None

    @field_validator("clip_augment")
    @classmethod
    def _valid_clip_augment(cls, spec: dict[str, Any] | None) -> dict[str, Any] | None:
        from glossfree.data.inputs import ClipAugment

        if spec is not None:
            try:
                ClipAugment(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})
            except (TypeError, GlossfreeError) as error:
                raise ValueError(str(error)) from None
        return spec
    ssa: SSADataConfig | None = None
    prompt: SLTPromptConfig | None = None

    @field_validator("augment")
    @classmethod
    def _known_transforms(cls, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from glossfree.data.transforms import build_transforms

        try:
            build_transforms(specs)
        except GlossfreeError as error:
            raise ValueError(str(error)) from None
        return specs


class TokenizerConfig(StrictModel):
    """The LM tokenizer: a pretrained one by name/path, or a sentencepiece model trained on the train texts."""

    kind: Literal["pretrained", "train"] = "pretrained"
    name_or_path: str | None = None
    vocab_size: int = Field(1000, gt=8)

    @model_validator(mode="after")
    def _check(self) -> TokenizerConfig:
        if self.kind == "pretrained" and not self.name_or_path:
            raise ValueError("tokenizer.kind 'pretrained' needs tokenizer.name_or_path")
        return self


class EvaluationConfig(StrictModel):
    """How generated translations are scored (see ``glossfree.evaluation``).

    Decoding settings (beams, length) live with the model: ``model.lm.generation``.

    Args:
        min_input_reliance: the input-reliance check of every validation (dev loss with each
            sample's visual tokens swapped for another sample's, minus the real dev loss, in nats
            per target token) below which the run summary warns that the model is not reading its
            input. A model that learned only the sentence prior scores ~0; one that reads its input
            scores clearly more (the model of the demo test, 250 steps on 400 samples: 0.42).
    """

    preset: Literal["signjoey", "spamo", "sacrebleu"] = "signjoey"
    append_period: bool = False
    batch_size: int = Field(16, ge=1)
    min_input_reliance: float = Field(0.05, ge=0)


class InitCheckpointConfig(StrictModel):
    """Weights a stage starts from, taken from another run or a file.

    Args:
        path: a run folder (its exported ``model/``, or with ``stage`` that stage's best
            checkpoint), a model folder, or a file (Lightning ``.ckpt`` or ``.safetensors``).
        stage: in a run folder, the stage whose best checkpoint to read.
        prefix_map: ``{from_prefix: to_prefix}``: only source keys under a ``from_prefix`` load,
            renamed to ``to_prefix`` (``{"frontend.": "frontend."}`` loads the frontend alone). Empty:
            every key under its own name.
        strict: every selected key must find a model key of the same shape, and every model key
            under a ``to_prefix`` (all keys, without a map) must be loaded; otherwise the error
            lists the unmatched keys. ``false`` loads what matches and logs the rest.
    """

    path: Path
    stage: str | None = None
    prefix_map: dict[str, str] = Field(default_factory=dict)
    strict: bool = True


def monitor_modes(objectives: list[ObjectiveConfig]) -> dict[str, Literal["max", "min"]]:
    """Every metric a stage with ``objectives`` logs at validation, and which way is better."""
    modes: dict[str, Literal["max", "min"]] = {name: "max" for name in GENERATED_METRICS}
    modes["dev/loss"] = "min"
    modes.update(SSA_METRICS)
    if any(objective.kind == "lm_ce" for objective in objectives):
        modes.update({"dev/lm_ce": "min", "dev/lm_ce_swapped": "min", "dev/input_reliance": "max"})
    for objective in objectives:
        modes[f"dev/{objective.key}"] = "min"
        modes.update({f"dev/{objective.key}_{metric}": "max" for metric in objective.metric_names})
    return modes


class StageConfig(StrictModel):
    """One training stage.

    Args:
        name: folder name of the stage's checkpoints and logs (unique within the recipe).
        train: parts of the model whose parameters train; all others are frozen. Parts are
            ``SLTModel``'s (``frontend``, ``compressor``, ``mapper``, ``token_norm``, ``lm``) and
            ``objectives.<name>`` for each objective with weights (projections, temperature); ``lm``
            (both) or one of its pieces, ``lm.encoder`` and ``lm.decoder`` (the decoder's with the
            token embeddings and LM head: paper 001 fine-tunes mapper and decoder first).
            Default: the five model parts and this stage's objective modules. Parameters an adapter
            froze (the LM base weights under LoRA/DoRA) stay frozen. Under DDP every trainable
            parameter must get a gradient: a stage whose objectives do not reach the LM decoder
            (``clip_global`` alone) lists its parts instead of taking the default (or launches with
            ``--strategy ddp_find_unused_parameters_true``).
        objectives: weighted objectives summed into the loss (``{kind: lm_ce, weight: 1.0}`` by
            default; see :mod:`glossfree.objectives`).
        max_epochs / max_steps: stage length (at least one).
        batch_size: per-device batch size; ``accumulate`` batches per optimiser step.
        grad_clip: max gradient norm (None = off).
        precision: Lightning precision (``32-true``, ``bf16-mixed``, ``16-mixed``).
        monitor: dev metric that picks the stage's best checkpoint; better is higher for
            BLEU/ROUGE/chrF/accuracies and lower for losses (the mode follows the metric).
        generate: decode and score dev translations at each validation; default: only when the
            monitor is a generated metric (``dev/bleu4``...).
        val_every_n_epochs: validate every n epochs (default 1).
        val_every_n_steps: validate every n optimiser steps instead (long stages; needs
            ``max_steps``, a multiple of it, and no ``val_every_n_epochs``).
        init_from: stage whose best checkpoint initialises this one (default: the previous stage).
        init_checkpoint: weights from another run or file, loaded after ``init_from``'s.
        ssa_fraction: share of SSA samples in every training batch (paper 004: 0.2, i.e. 80 % SLT /
            20 % SSA); needs ``data.ssa``. 0 trains on SLT samples only.
    """

    name: str
    train: list[str] | None = None
    objectives: list[ObjectiveConfig] = Field(default_factory=lambda: [LMCrossEntropyConfig()], min_length=1)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    max_epochs: int | None = Field(None, ge=1)
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(8, ge=1)
    accumulate: int = Field(1, ge=1)
    grad_clip: float | None = Field(1.0, gt=0)
    precision: Literal["32-true", "bf16-mixed", "16-mixed", "bf16-true"] = "32-true"
    monitor: str = "dev/bleu4"
    generate: bool | None = None
    val_every_n_epochs: int | None = Field(None, ge=1)
    val_every_n_steps: int | None = Field(None, ge=1)
    init_from: str | None = None
    init_checkpoint: InitCheckpointConfig | None = None
    ssa_fraction: float = Field(0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _check(self) -> StageConfig:
        if self.max_epochs is None and self.max_steps is None:
            raise ValueError(f"stage '{self.name}' needs max_epochs or max_steps")
        if self.train is not None and not self.train:
            raise ValueError(f"stage '{self.name}' trains nothing: list model parts in `train`")
        keys = [objective.key for objective in self.objectives]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(
                f"stage '{self.name}': objective name(s) {', '.join(repeated)} used twice; give each a distinct `name`"
            )
        if self.val_every_n_epochs is not None and self.val_every_n_steps is not None:
            raise ValueError(
                f"stage '{self.name}': val_every_n_epochs and val_every_n_steps exclude each other; set one"
            )
        if self.val_every_n_steps is not None:
            if self.max_steps is None or self.max_epochs is not None or self.max_steps % self.val_every_n_steps:
                raise ValueError(
                    f"stage '{self.name}': val_every_n_steps {self.val_every_n_steps} needs the stage length "
                    f"in steps: max_steps a multiple of it (got {self.max_steps}) and no max_epochs (got "
                    f"{self.max_epochs}), so that the last step is scored and can become the best checkpoint"
                )
        elif self.max_epochs is not None and self.max_epochs % self.validate_every_epochs:
            raise ValueError(
                f"stage '{self.name}': max_epochs {self.max_epochs} is not a multiple of "
                f"val_every_n_epochs {self.val_every_n_epochs}, so the last epoch would never be "
                "scored and could not become the best checkpoint"
            )
        modes = monitor_modes(self.objectives)
        if self.monitor not in modes:
            raise ValueError(
                f"stage '{self.name}': monitor '{self.monitor}' is not logged by this stage; choose one of "
                f"{', '.join(modes)}"
            )
        if self.generate is False and (self.monitor in GENERATED_METRICS or self.monitor in SSA_METRICS):
            raise ValueError(
                f"stage '{self.name}': monitor '{self.monitor}' is scored on generated translations, "
                "but generate is false"
            )
        return self

    @property
    def validate_every_epochs(self) -> int:
        return self.val_every_n_epochs or 1

    @property
    def monitor_mode(self) -> Literal["max", "min"]:
        return monitor_modes(self.objectives)[self.monitor]

    @property
    def generates(self) -> bool:
        """Whether validation decodes and scores dev translations."""
        if self.generate is not None:
            return self.generate
        return self.monitor in GENERATED_METRICS or self.monitor in SSA_METRICS

    @property
    def objective_weights(self) -> dict[str, float]:
        return {objective.key: objective.weight for objective in self.objectives}

    def trainable_parts(self, parts: list[str]) -> list[str]:
        """The parts this stage trains among a model's ``parts`` (the default: base parts and the
        stage's own objective modules)."""
        if self.train is not None:
            return list(self.train)
        own = {f"objectives.{objective.key}" for objective in self.objectives}
        return [part for part in parts if not part.startswith("objectives.") or part in own]


def check_stage_names(stages: list[StageConfig]) -> None:
    """Stage names are unique and each ``init_from`` names an earlier stage (``ValueError`` otherwise)."""
    names = [stage.name for stage in stages]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"stage names must be unique, repeated: {', '.join(duplicates)}")
    for index, stage in enumerate(stages):
        if stage.init_from is not None and stage.init_from not in names[:index]:
            raise ValueError(
                f"stage '{stage.name}': init_from '{stage.init_from}' is not an earlier stage "
                f"(earlier: {', '.join(names[:index]) or 'none'})"
            )


def check_stage_parts(stages: list[StageConfig], parts: list[str]) -> None:
    """Every part a stage's ``train`` lists is one of the model's ``parts`` (``ValueError`` otherwise)."""
    valid = part_names(parts)  # with the pieces of a part (lm.encoder, lm.decoder)
    for stage in stages:
        unknown = [part for part in stage.train or [] if part not in valid]
        if unknown:
            raise ValueError(
                f"stage '{stage.name}': train lists {', '.join(unknown)}, not part(s) of the model; "
                f"its parts: {', '.join(valid)}"
            )


def stage_objectives(stages: list[StageConfig]) -> list[ObjectiveConfig]:
    """Every objective the stages name, once per name: the model builds one module for each.

    Stages may weight one objective differently; anything else (projection width, temperature)
    shapes the shared module and must agree.
    """
    seen: dict[str, tuple[str, ObjectiveConfig]] = {}
    for stage in stages:
        for objective in stage.objectives:
            if objective.key not in seen:
                seen[objective.key] = (stage.name, objective)
                continue
            first_stage, first = seen[objective.key]
            if first.head_settings() != objective.head_settings():
                raise ValueError(
                    f"objective '{objective.key}' is configured differently in stages '{first_stage}' "
                    f"and '{stage.name}' (only `weight` may differ: one module serves both); give one "
                    "a distinct `name` to train two"
                )
    return [objective for _, objective in seen.values()]


def paper_tokenizer() -> TokenizerConfig:
    """A recipe's default tokenizer: the paper-scale LM's (Flan-T5-XL)."""
    return TokenizerConfig(kind="pretrained", name_or_path="google/flan-t5-xl")


class RecipeConfig(StrictModel):
    """A whole recipe. Defaults are paper scale; ``tiny.yaml`` files override them for CPU."""

    recipe: str = "pose_perceiver"
    seed: int = 42
    data: DataConfig = Field(default_factory=DataConfig)
    model: SLTModelConfig = Field(default_factory=SLTModelConfig)
    tokenizer: TokenizerConfig = Field(default_factory=paper_tokenizer)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    stages: list[StageConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> RecipeConfig:
        check_stage_names(self.stages)
        mixing = [stage.name for stage in self.stages if stage.ssa_fraction > 0]
        if mixing and self.data.ssa is None:
            raise ValueError(
                f"stage(s) {', '.join(mixing)} mix SSA samples (ssa_fraction > 0) but data.ssa is not set"
            )
        objectives = self.objective_configs()  # raises on one name configured two ways
        islr = [objective.key for objective in objectives if objective.kind.startswith("islr_")]
        if islr:
            raise ValueError(
                f"objective(s) {', '.join(islr)} pre-train a backbone on isolated signs: they belong in a "
                "recipe with `recipe: islr` (e.g. islr/tiny), not in a translation recipe"
            )
        check_stage_parts(self.stages, model_parts(objectives))
        return self

    def objective_configs(self) -> list[ObjectiveConfig]:
        """Every objective the stages name, once per name (:func:`stage_objectives`)."""
        return stage_objectives(self.stages)


def builtin_configs_dir() -> Path:
    """The recipes shipped inside the package (``configs/`` in the repository points here)."""
    return Path(__file__).resolve().parents[1] / "configs"


def resolve_recipe_path(path: str | Path) -> Path:
    return resolve_config_file(path, builtin_configs_dir(), "recipe")
