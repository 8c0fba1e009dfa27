"""Recipe schema: a recipe is data, model, tokenizer, evaluation and an ordered list of stages.

A YAML recipe (``configs/<method>/<dataset>.yaml``) is validated against :class:`RecipeConfig`.
Unknown keys are rejected with the file, the dotted key and the valid keys in the message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from glossfree.config import StrictModel, load_config
from glossfree.errors import ConfigError, GlossfreeError
from glossfree.models.slt import SLTModelConfig
from glossfree.training.optim import OptimizerConfig, ScheduleConfig

# Top-level modules of SLTModel that a stage can train or freeze.
MODULE_NAMES = ("frontend", "compressor", "mapper", "token_norm", "lm")

# Objectives a stage can weight. Recipes of later issues add theirs here (pseudo_gloss_bce, clip_global,
# clcl_token, vt_align, islr_ce, ssa_soft_digits); SLTModel reports each under the same name in
# ``SLTOutput.losses``.
OBJECTIVES = ("lm_ce",)


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
        cache: keep loaded keypoints in memory (each DataLoader worker holds its own copy).
        num_workers: DataLoader worker processes that load and augment batches while the model
            computes (0 = in the training process). Workers persist across epochs; batches are
            copied to pinned memory when training on a GPU.
        prefetch_factor: batches each worker prepares ahead.
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
    """

    preset: Literal["signjoey", "spamo", "sacrebleu"] = "signjoey"
    append_period: bool = False
    batch_size: int = Field(16, ge=1)


class ObjectiveConfig(StrictModel):
    kind: Literal[OBJECTIVES] = "lm_ce"  # type: ignore[valid-type]
    weight: float = Field(1.0, ge=0)


class StageConfig(StrictModel):
    """One training stage.

    Args:
        name: folder name of the stage's checkpoints and logs (unique within the recipe).
        train: top-level modules whose parameters train (``frontend``, ``compressor``, ``mapper``,
            ``token_norm``, ``lm``); all others are frozen. Parameters an adapter froze (the LM base weights under
            LoRA/DoRA) stay frozen.
        objectives: weighted objectives summed into the loss.
        max_epochs / max_steps: stage length (at least one).
        batch_size: per-device batch size; ``accumulate`` batches per optimiser step.
        grad_clip: max gradient norm (None = off).
        precision: Lightning precision (``32-true``, ``bf16-mixed``, ``16-mixed``).
        val_every_n_epochs: how often dev translations are generated and scored.
        init_from: stage whose best checkpoint initialises this one (default: the previous stage).
    """

    name: str
    train: list[Literal["frontend", "compressor", "mapper", "token_norm", "lm"]] = Field(
        default_factory=lambda: list(MODULE_NAMES)
    )
    objectives: list[ObjectiveConfig] = Field(default_factory=lambda: [ObjectiveConfig()])
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    max_epochs: int | None = Field(None, ge=1)
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(8, ge=1)
    accumulate: int = Field(1, ge=1)
    grad_clip: float | None = Field(1.0, gt=0)
    precision: Literal["32-true", "bf16-mixed", "16-mixed", "bf16-true"] = "32-true"
    val_every_n_epochs: int = Field(1, ge=1)
    init_from: str | None = None

    @model_validator(mode="after")
    def _check(self) -> StageConfig:
        if self.max_epochs is None and self.max_steps is None:
            raise ValueError(f"stage '{self.name}' needs max_epochs or max_steps")
        if not self.train:
            raise ValueError(f"stage '{self.name}' trains nothing: list modules in `train`")
        if self.max_epochs is not None and self.max_epochs % self.val_every_n_epochs:
            raise ValueError(
                f"stage '{self.name}': max_epochs {self.max_epochs} is not a multiple of "
                f"val_every_n_epochs {self.val_every_n_epochs}, so the last epoch would never be "
                "scored and could not become the best checkpoint"
            )
        return self


class RecipeConfig(StrictModel):
    """A whole recipe. Defaults are paper scale; ``tiny.yaml`` files override them for CPU."""

    recipe: str = "pose_perceiver"
    seed: int = 42
    data: DataConfig = Field(default_factory=DataConfig)
    model: SLTModelConfig = Field(default_factory=SLTModelConfig)
    tokenizer: TokenizerConfig = Field(
        default_factory=lambda: TokenizerConfig(kind="pretrained", name_or_path="google/flan-t5-xl")
    )
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    stages: list[StageConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> RecipeConfig:
        names = [stage.name for stage in self.stages]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"stage names must be unique, repeated: {', '.join(duplicates)}")
        for index, stage in enumerate(self.stages):
            if stage.init_from is not None and stage.init_from not in names[:index]:
                raise ValueError(
                    f"stage '{stage.name}': init_from '{stage.init_from}' is not an earlier stage "
                    f"(earlier: {', '.join(names[:index]) or 'none'})"
                )
        return self


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    """Load a recipe YAML file (a path, or a built-in name such as ``pose_perceiver/tiny``)."""
    return load_config(RecipeConfig, resolve_recipe_path(path), overrides)


def builtin_configs_dir() -> Path:
    """The recipes shipped inside the package (``configs/`` in the repository points here)."""
    return Path(__file__).resolve().parents[1] / "configs"


def resolve_recipe_path(path: str | Path) -> Path:
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    builtin = builtin_configs_dir() / f"{str(path).removesuffix('.yaml')}.yaml"
    if builtin.is_file():
        return builtin
    available = sorted(
        str(p.relative_to(builtin_configs_dir()).with_suffix("")) for p in builtin_configs_dir().rglob("*.yaml")
    )
    raise ConfigError(f"{path}: no such recipe file; built-in recipes: {', '.join(available) or 'none'}")
