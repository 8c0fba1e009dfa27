"""Load an exported model (``glossfree train``'s ``<run>/model``, :mod:`glossfree.checkpoint`) for
inference: ``translate``, ``evaluate``, ``align`` and the demo go through :func:`load_trained`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError

from glossfree.checkpoint import MODEL_FILE, find_model_dir, load_safetensors_weights
from glossfree.errors import ConfigError, DataError
from glossfree.io import read_json
from glossfree.text.tokenizers import load_tokenizer
from glossfree.training.tasks import load_recipe
from glossfree.training.tasks.translation import build_model, prototypes_under_root


@dataclass
class TrainedModel:
    model: torch.nn.Module
    recipe: Any  # RecipeConfig
    tokenizer: Any
    metadata: dict[str, Any]
    path: Path

    @property
    def fps(self) -> float | None:
        """The frame rate the model was trained at (None: a model exported before it was recorded)."""
        if self.recipe.data.fps is not None:
            return float(self.recipe.data.fps)
        value = self.metadata.get("fps")
        return float(value) if value else None


def load_trained(path: str | Path, *, device: str | torch.device = "cpu") -> TrainedModel:
    """Load an exported model folder (or a run folder containing ``model/``) for inference."""
    model_dir = find_model_dir(path)
    recipe = load_recipe(model_dir / "recipe.yaml")
    if recipe.recipe == "islr":
        raise ConfigError(
            f"{model_dir}: an ISLR pre-trained backbone (recipe: islr), not a translation model; start an SLT "
            "recipe from it with init_checkpoint and prefix_map {'backbone.': 'frontend.'} (docs/islr.md)"
        )
    lm = recipe.model.lm
    if lm.trimmed_vocab and not Path(lm.trimmed_vocab).is_absolute():
        lm = lm.model_copy(update={"trimmed_vocab": str(model_dir / lm.trimmed_vocab)})
        recipe = recipe.model_copy(update={"model": recipe.model.model_copy(update={"lm": lm})})
    recipe = prototypes_under_root(recipe, model_dir)  # exported with the model (checkpoint.export_model)
    # Checked here: load_tokenizer would take a missing local folder for a Hugging Face Hub id.
    tokenizer_dir = model_dir / "tokenizer"
    if not (tokenizer_dir / "tokenizer_config.json").is_file():
        raise DataError(
            f"{tokenizer_dir}: the model folder has no tokenizer (expected the files "
            "`glossfree train` saves there, tokenizer_config.json and the vocabulary); copy the "
            "whole model folder again"
        )
    tokenizer = load_tokenizer(str(tokenizer_dir))
    metadata = read_json(model_dir / "metadata.json", what="model metadata file")
    model = build_model(recipe, tokenizer)  # objective weights load too
    weights = model_dir / MODEL_FILE
    try:
        load_safetensors_weights(model, weights)
    except (SafetensorError, OSError, RuntimeError) as error:
        size = weights.stat().st_size
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DataError(
            f"{weights}: cannot load the model weights ({size} bytes; {reason}); the file is "
            "truncated, corrupt or from another model: copy or export it again"
        ) from None
    model.to(device).eval()
    return TrainedModel(model=model, recipe=recipe, tokenizer=tokenizer, metadata=metadata, path=model_dir)
