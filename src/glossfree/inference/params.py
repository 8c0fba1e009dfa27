"""Parameter counts of a recipe's full-size architecture, per stage (``glossfree params RECIPE``).

The model is built as training builds it (:func:`glossfree.training.tasks.translation.build_model`:
frontend, compressor, mapper, LM with its adapter, every objective's module) on the ``meta``
device: no memory, no weights, nothing downloaded. Pretrained parts named by ``name_or_path`` are
built from their architecture instead: the folder's ``config.json`` when it is on this machine,
else the tokenizer folder's ``config.json`` (GFSLT-VLP ships its trimmed mBART's beside the
tokenizer), else the published configs in :data:`KNOWN_ARCHITECTURES`. Each stage's trainable count
is what the stage's freezing leaves trainable (:func:`glossfree.training.callbacks.apply_freezing`);
adapters keep their base weights frozen as in training.

Paper 001 (HFA) Tab. 3 reports trainable / total parameters of pre-training and fine-tuning; the
table printed here has one row per stage in that layout, plus the parameters the stage's objectives
run through (a pre-training stage without ``lm_ce`` never runs the LM decoder).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from glossfree.errors import ConfigError
from glossfree.models.language_model import FLAN_T5_ARCHITECTURES, architecture_keys
from glossfree.models.outputs import LM_NEEDS
from glossfree.training.callbacks import apply_freezing
from glossfree.training.engine import prepare_tokenizer
from glossfree.training.tasks.translation import build_model, prototypes_under_root

# Published configs (config.json on the Hugging Face hub) of the checkpoints the recipes name.
KNOWN_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "facebook/dinov2-small": {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6,
                              "mlp_ratio": 4, "patch_size": 14, "image_size": 518},
    "facebook/dinov2-base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                             "mlp_ratio": 4, "patch_size": 14, "image_size": 518},
    "facebook/mbart-large-cc25": {"d_model": 1024, "encoder_layers": 12, "decoder_layers": 12,
                                  "encoder_attention_heads": 16, "decoder_attention_heads": 16,
                                  "encoder_ffn_dim": 4096, "decoder_ffn_dim": 4096,
                                  "max_position_embeddings": 1024, "scale_embedding": True},
    # mBART-large-50 is mBART-cc25's architecture with 25 more language codes (vocabulary 250,054)
    "facebook/mbart-large-50": {"d_model": 1024, "encoder_layers": 12, "decoder_layers": 12,
                                "encoder_attention_heads": 16, "decoder_attention_heads": 16,
                                "encoder_ffn_dim": 4096, "decoder_ffn_dim": 4096,
                                "max_position_embeddings": 1024, "scale_embedding": True},
    "microsoft/resnet-34": {"embedding_size": 64, "hidden_sizes": [64, 128, 256, 512], "depths": [3, 4, 6, 3],
                            "layer_type": "basic", "hidden_act": "relu", "downsample_in_first_stage": False},
    **{f"google/flan-t5-{size}": arch for size, arch in FLAN_T5_ARCHITECTURES.items()},
}  # fmt: skip


@dataclasses.dataclass
class StageCount:
    """One stage's row: trainable parameters, all parameters of the model, and those its objectives run."""

    stage: str
    trainable: int
    total: int
    in_use: int


def _local_config(folder: str | Path | None) -> dict[str, Any] | None:
    if folder is None:
        return None
    path = Path(folder) / "config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _architecture(name: str, local: dict[str, Any] | None, keys: list[str] | None, what: str) -> tuple[dict[str, Any], str]:
    if local is not None:
        found = {k: v for k, v in local.items() if keys is None or k in keys}
        return found, "config.json"
    if name in KNOWN_ARCHITECTURES:
        return dict(KNOWN_ARCHITECTURES[name]), "published config"
    raise ConfigError(
        f"{what} '{name}': no config.json on this machine and not a known checkpoint "
        f"({', '.join(sorted(KNOWN_ARCHITECTURES))}); give a local folder with its config.json"
    )


def full_size_recipe(recipe: Any) -> tuple[Any, dict[str, str]]:
    """``recipe`` with every ``name_or_path`` part replaced by its explicit architecture (random
    weights), and where each architecture came from."""
    sources: dict[str, str] = {}
    model = recipe.model
    frontends = []
    for config in model.frontend_list():
        if getattr(config, "kind", None) == "frame_encoder" and config.name_or_path is not None:
            arch, sources[f"frontend {config.name_or_path}"] = _architecture(
                config.name_or_path, _local_config(config.name_or_path), None, "frame_encoder.name_or_path"
            )
            arch = {k: v for k, v in arch.items() if k not in ("architectures", "model_type", "transformers_version", "torch_dtype")}
            config = config.model_copy(update={"name_or_path": None, "model_config_": arch})
        frontends.append(config)
    update: dict[str, Any] = {"frontends": frontends} if model.frontends is not None else {"frontend": frontends[0]}
    lm = model.lm
    if lm.name_or_path is not None:
        tokenizer_dir = recipe.tokenizer.name_or_path if recipe.tokenizer.kind == "pretrained" else None
        local = _local_config(lm.name_or_path)
        beside = _local_config(tokenizer_dir)
        if local is None and beside is not None and beside.get("model_type") == lm.family:
            local, origin = beside, f"config.json beside the tokenizer ({tokenizer_dir})"
        else:
            origin = None
        arch, source = _architecture(lm.name_or_path, local, architecture_keys(lm.family), "lm.name_or_path")
        sources[f"lm {lm.name_or_path}"] = origin or source
        arch.update(lm.architecture)  # the recipe's overrides (dropout, ...) as training applies them
        lm = lm.model_copy(update={"name_or_path": None, "architecture": arch, "trimmed_vocab": None})
        update["lm"] = lm
    return recipe.model_copy(update={"model": model.model_copy(update=update)}), sources


def _with_stand_in_prototypes(recipe: Any, folder: Path) -> Any:
    """Prototype files are buffers, not parameters: a missing one is replaced by a ``[2, dim]`` file
    (the blank and one prototype) so the objective's projection and temperatures can be counted."""
    from safetensors.torch import save_file

    stages = []
    for stage in recipe.stages:
        objectives = []
        for objective in stage.objectives:
            if objective.kind == "pseudo_gloss_bce" and not Path(objective.prototypes).is_file():
                path = folder / f"prototypes_{objective.dim}.safetensors"
                save_file({"prototypes": torch.cat([torch.zeros(1, objective.dim), torch.ones(1, objective.dim)])}, str(path))
                objective = objective.model_copy(update={"prototypes": str(path)})
            objectives.append(objective)
        stages.append(stage.model_copy(update={"objectives": objectives}))
    return recipe.model_copy(update={"stages": stages})


def count_stage_parameters(recipe: Any, tokenizer) -> list[StageCount]:
    """Trainable / total / in-use parameters of each stage of ``recipe``'s full-size model (meta device)."""
    full, _ = full_size_recipe(recipe)
    with tempfile.TemporaryDirectory() as folder:
        full = _with_stand_in_prototypes(full, Path(folder))
        with torch.device("meta"):
            model = build_model(full, tokenizer)
    base_frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    total = sum(p.numel() for p in model.parameters())
    decoder_names = model.sub_part("lm.decoder")[0]
    embeddings = {id(p) for p in model.lm.model.get_input_embeddings().parameters()}
    decoder_only = sum(p.numel() for n, p in model.named_parameters() if n in decoder_names and id(p) not in embeddings)
    rows = []
    for stage in full.stages:
        apply_freezing(model, tuple(stage.trainable_parts(model.parts())), base_frozen)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        need = max(LM_NEEDS.index(model.objectives[o.key].lm_need) for o in stage.objectives)
        in_use = total - (decoder_only if need < LM_NEEDS.index("full") else 0)
        rows.append(StageCount(stage.name, trainable, total, in_use))
    return rows


def recipe_tokenizer(recipe: Any, data_root: Path | None):
    """The recipe's tokenizer: its pretrained one (local), or one trained on the data's train texts
    as ``glossfree train`` trains it (the vocabulary size sizes the LM's embeddings)."""
    if recipe.tokenizer.kind == "pretrained":
        return prepare_tokenizer(recipe.tokenizer, [], Path(tempfile.gettempdir()))
    from glossfree.data.manifest import load_split

    root = data_root if data_root is not None else recipe.data.root
    if root is None:
        raise ConfigError(
            "this recipe trains its tokenizer on the training texts (tokenizer.kind: train), and its "
            "vocabulary sizes the LM: pass the dataset root (--data)"
        )
    texts = [record.text for record in load_split(Path(root), recipe.data.train_split) if record.text.strip()]
    with tempfile.TemporaryDirectory() as folder:
        return prepare_tokenizer(recipe.tokenizer, texts, Path(folder) / "tokenizer", lm=recipe.model.lm)


def recipe_parameters(recipe: Any, data_root: Path | None = None) -> tuple[list[StageCount], dict[str, str]]:
    """Per-stage counts of ``recipe``'s full-size model and where each pretrained architecture came
    from. ``data_root``: a trained tokenizer's texts, and the prototype files of relative paths."""
    tokenizer = recipe_tokenizer(recipe, data_root)
    if data_root is not None:
        recipe = prototypes_under_root(recipe, Path(data_root))
    _, sources = full_size_recipe(recipe)
    return count_stage_parameters(recipe, tokenizer), sources
