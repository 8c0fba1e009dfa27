"""The exported model folder: everything ``translate`` and ``evaluate`` need, nothing else.

```
model/
  recipe.yaml         the resolved recipe (model, data and evaluation sections are used)
  tokenizer/          the LM tokenizer (save_pretrained)
  model.safetensors   SLTModel weights (best dev BLEU-4 of the last stage)
  metadata.json       glossfree version, stage history, dev scores
```
The folder is written to a temporary sibling and renamed, so a killed export never leaves half a model.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from glossfree.errors import DataError
from glossfree.io import atomic_write_json, read_json

# Kept importable for ``training/engine.py`` and ``demo.py``; new code imports from glossfree.io.

MODEL_FILE = "model.safetensors"


@dataclass
class TrainedModel:
    model: torch.nn.Module
    recipe: Any  # RecipeConfig
    tokenizer: Any
    metadata: dict[str, Any]
    path: Path


def recipe_to_yaml(recipe: Any) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def export_model(model: torch.nn.Module, recipe: Any, tokenizer: Any, out_dir: Path, metadata: dict) -> Path:
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    (tmp / "recipe.yaml").write_text(recipe_to_yaml(recipe), encoding="utf-8")
    tokenizer.save_pretrained(str(tmp / "tokenizer"))
    save_model(model, str(tmp / MODEL_FILE))
    atomic_write_json(tmp / "metadata.json", metadata)
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out_dir)
    return out_dir


def find_model_dir(path: str | Path) -> Path:
    """Accept a run folder (``<run>/model``) or the model folder itself."""
    path = Path(path)
    for candidate in (path, path / "model"):
        if (candidate / MODEL_FILE).is_file() and (candidate / "recipe.yaml").is_file():
            return candidate
    raise DataError(
        f"{path}: not a trained glossfree model (expected {MODEL_FILE} and recipe.yaml here or in "
        f"{path / 'model'}; `glossfree train` writes them)"
    )


def load_trained(path: str | Path, *, device: str | torch.device = "cpu") -> TrainedModel:
    """Load an exported model folder (or a run folder containing ``model/``) for inference."""
    from glossfree.models.slt import SLTModel
    from glossfree.text.tokenizers import load_tokenizer
    from glossfree.training.recipe import load_recipe

    model_dir = find_model_dir(path)
    recipe = load_recipe(model_dir / "recipe.yaml")
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
    model = SLTModel(recipe.model, tokenizer, recipe.objective_configs())  # objective weights load too
    weights = model_dir / MODEL_FILE
    try:
        load_model(model, str(weights), strict=True)
    except (SafetensorError, OSError, RuntimeError) as error:
        size = weights.stat().st_size
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DataError(
            f"{weights}: cannot load the model weights ({size} bytes; {reason}); the file is "
            "truncated, corrupt or from another model: copy or export it again"
        ) from None
    model.to(device).eval()
    return TrainedModel(model=model, recipe=recipe, tokenizer=tokenizer, metadata=metadata, path=model_dir)
