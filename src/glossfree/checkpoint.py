"""Checkpoints and the exported model folder: everything ``translate`` and ``evaluate`` need, nothing else.

```
model/
  recipe.yaml         the resolved recipe (model, data and evaluation sections are used)
  tokenizer/          the LM tokenizer (save_pretrained)
  model.safetensors   SLTModel weights (best dev BLEU-4 of the last stage), see below
  trimmed_vocab.json  the LM's kept token ids, when the recipe trims the vocabulary (lm.trimmed_vocab)
  metadata.json       glossfree version, stage history, dev scores, training frame rate (fps),
                      the pretrained base's fingerprint
```
The folder is written to a temporary sibling and renamed, so a killed export never leaves half a model.
:func:`glossfree.inference.loading.load_trained` loads it for inference.

**A frozen pretrained base is referenced, not copied.** When the LM is loaded from
``lm.name_or_path`` and trains through a LoRA/DoRA adapter, its frozen base weights are the same in
every checkpoint: Lightning ``.ckpt`` files and ``model.safetensors`` then hold only the trainable
weights, the adapters and the buffers, plus the base's fingerprint (name, shape and a checksum of a
few tensors, see :func:`glossfree.models.language_model.base_fingerprint`). Loading rebuilds the
model from the recipe (which loads the base by name or path, offline), checks the fingerprint, so
weights trained on another base are refused, and fills in the rest. Flan-T5-XL + DoRA writes tens of
megabytes per checkpoint instead of 11 GB. A from-scratch LM (no ``name_or_path``) or a fully
fine-tuned one (adapter ``none``) is saved whole.

Loading never holds a checkpoint in memory twice: ``model.safetensors`` is read one tensor at a
time into the built model (``safe_open``), and ``.ckpt`` files are memory-mapped
(``torch.load(mmap=True)``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import safe_open
from safetensors.torch import save_file

from glossfree.errors import ConfigError, DataError
from glossfree.io import atomic_path, atomic_write_json

MODEL_FILE = "model.safetensors"
TRIMMED_VOCAB_FILE = "trimmed_vocab.json"  # as glossfree.text.trim names it
BASE_KEY = "glossfree_pretrained_base"  # in .ckpt files, safetensors metadata and metadata.json


def recipe_to_yaml(recipe: Any) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# ------------------------------------------------------------------ the pretrained base
def pretrained_base(model: torch.nn.Module) -> tuple[set[str], list[dict[str, Any]]]:
    """State-dict keys of ``model`` that belong to frozen pretrained bases, and their fingerprints."""
    from glossfree.models.language_model import LanguageModel

    keys: set[str] = set()
    prints: list[dict[str, Any]] = []
    for name, module in model.named_modules():
        if isinstance(module, LanguageModel) and module.base_fingerprint is not None:
            prefix = f"{name}." if name else ""
            keys |= {prefix + key for key in module.frozen_base_keys}
            prints.append({"module": name, **module.base_fingerprint})
    return keys, prints


def check_pretrained_base(saved: list[dict[str, Any]] | None, model: torch.nn.Module, where: Any) -> None:
    """Raise :class:`ConfigError` when ``model``'s pretrained base is not the one ``saved`` was trained on."""
    if saved is None:
        return  # a checkpoint that stores everything (or predates fingerprints)
    _, current = pretrained_base(model)
    ours = {entry["module"]: entry for entry in current}
    for entry in saved:
        here = ours.get(entry["module"])
        if here is None:
            raise ConfigError(
                f"{where}: holds only the adapter of a pretrained base ('{entry['name_or_path']}'), but "
                "this model has no frozen pretrained LM to put it on (check lm.name_or_path and lm.adapter)"
            )
        fields = ("model_type", "d_model", "vocab_size", "num_tensors", "checksum")
        differ = [f"{f} {entry.get(f)} != {here.get(f)}" for f in fields if entry.get(f) != here.get(f)]
        if differ:
            raise ConfigError(
                f"{where}: trained on the pretrained base '{entry['name_or_path']}', but lm.name_or_path "
                f"'{here['name_or_path']}' loads a different one ({'; '.join(differ)}); the checkpoint holds "
                "only the adapter and trained weights, so it must be loaded onto the same base weights"
            )


def trainable_state(model: torch.nn.Module, state: Mapping[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
    """``state`` (``model.state_dict()`` with ``prefix``) without the frozen pretrained base."""
    base, _ = pretrained_base(model)
    drop = {prefix + key for key in base}
    return {key: value for key, value in state.items() if key not in drop}


def strip_pretrained_base(checkpoint: dict[str, Any], model: torch.nn.Module, prefix: str = "model.") -> None:
    """Lightning ``on_save_checkpoint``: drop the frozen base from ``checkpoint["state_dict"]``."""
    _, prints = pretrained_base(model)
    if prints:
        checkpoint["state_dict"] = trainable_state(model, checkpoint["state_dict"], prefix)
        checkpoint[BASE_KEY] = prints


def restore_pretrained_base(checkpoint: dict[str, Any], model: torch.nn.Module, prefix: str = "model.") -> None:
    """Lightning ``on_load_checkpoint``: check the base, then fill its keys with the loaded base tensors
    (the same tensors: nothing is copied) so that Lightning's strict loading sees a whole state."""
    check_pretrained_base(checkpoint.get(BASE_KEY), model, "checkpoint")
    if BASE_KEY not in checkpoint:
        return
    base, _ = pretrained_base(model)
    state = model.state_dict()
    for key in base:
        checkpoint["state_dict"].setdefault(prefix + key, state[key])


def load_checkpoint_weights(model: torch.nn.Module, path: str | Path, prefix: str = "model.") -> None:
    """Load the weights of a Lightning checkpoint into ``model`` (memory-mapped, checked against the base)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    check_pretrained_base(checkpoint.get(BASE_KEY), model, path)
    state = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    _load_partial(model, state.keys(), lambda keys: model.load_state_dict({k: state[k] for k in keys}, strict=False), path)


def _load_partial(model: torch.nn.Module, keys: Any, load: Any, where: Any, aliases: Mapping[str, str] = {}) -> None:
    """Load ``keys`` with ``load``; every key of ``model`` outside its frozen base must be among them."""
    expected = set(model.state_dict())
    base, _ = pretrained_base(model)
    keys = set(keys)
    unexpected = sorted(keys - expected)
    missing = sorted(expected - base - keys - set(aliases))
    if unexpected or missing:
        parts = [f"{len(missing)} missing (e.g. {missing[0]})"] if missing else []
        parts += [f"{len(unexpected)} unexpected (e.g. {unexpected[0]})"] if unexpected else []
        raise DataError(
            f"{where}: the weights do not fit this model's recipe ({', '.join(parts)}); "
            "it is from another model or recipe"
        )
    load(sorted(keys))


def _dedup_tied(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Store tied weights once (safetensors refuses shared storage): tensors and ``{alias: stored}``."""
    kept: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[int, int, tuple[int, ...]], str] = {}
    for key, tensor in state.items():
        ident = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if tensor.numel() and ident in seen:
            aliases[key] = seen[ident]
        else:
            seen[ident] = key
            kept[key] = tensor.detach().contiguous()
    return kept, aliases


def _bundle_prototypes(recipe: Any, folder: Path) -> Any:
    """Each ``pseudo_gloss_bce`` objective's prototype file travels with the model, named relative to
    its folder (``prototypes_<key>.safetensors``): the model is built with its objectives, so a model
    folder copied to another machine must not need the training corpus (``load_trained`` resolves the
    names against the folder)."""
    names: dict[str, str] = {}  # source file -> its name in the folder (one copy per file)
    stages = []
    for stage in recipe.stages:
        objectives = []
        for objective in stage.objectives:
            if objective.kind == "pseudo_gloss_bce":
                source = str(Path(objective.prototypes).resolve())
                if source not in names:
                    name = f"prototypes_{objective.key}.safetensors"
                    if name in names.values():  # the same objective name with another file in a later stage
                        name = f"prototypes_{objective.key}_{stage.name}.safetensors"
                    shutil.copyfile(source, folder / name)
                    names[source] = name
                objective = objective.model_copy(update={"prototypes": names[source]})
            objectives.append(objective)
        stages.append(stage.model_copy(update={"objectives": objectives}))
    return recipe.model_copy(update={"stages": stages})


def export_model(model: torch.nn.Module, recipe: Any, tokenizer: Any, out_dir: Path, metadata: dict) -> Path:
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    lm = recipe.model.lm
    if lm.trimmed_vocab:  # the mapping travels with the model, named relative to its folder
        shutil.copyfile(lm.trimmed_vocab, tmp / TRIMMED_VOCAB_FILE)
        lm = lm.model_copy(update={"trimmed_vocab": TRIMMED_VOCAB_FILE})
        recipe = recipe.model_copy(update={"model": recipe.model.model_copy(update={"lm": lm})})
    recipe = _bundle_prototypes(recipe, tmp)
    (tmp / "recipe.yaml").write_text(recipe_to_yaml(recipe), encoding="utf-8")
    tokenizer.save_pretrained(str(tmp / "tokenizer"))
    _, prints = pretrained_base(model)
    tensors, _ = _dedup_tied(trainable_state(model, model.state_dict()))
    header: dict[str, str] = {"format": "pt"}
    if prints:
        header[BASE_KEY] = json.dumps(prints)
        metadata = {**metadata, BASE_KEY: prints}
    with atomic_path(tmp / MODEL_FILE) as weights:  # safetensors alone would make the file 0o600
        save_file(tensors, str(weights), metadata=header)
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


def load_safetensors_weights(model: torch.nn.Module, path: Path) -> None:
    """Copy ``model.safetensors`` into ``model`` one tensor at a time (checked against the base)."""
    with safe_open(str(path), framework="pt", device="cpu") as handle:
        header = handle.metadata() or {}
        saved_base = json.loads(header[BASE_KEY]) if BASE_KEY in header else None
        check_pretrained_base(saved_base, model, path)
        targets = model.state_dict()
        stored = set(handle.keys())

        def copy(keys: list[str]) -> None:
            with torch.no_grad():
                for key in keys:
                    tensor = handle.get_tensor(key)
                    if tensor.shape != targets[key].shape:
                        raise DataError(
                            f"{path}: {key} has shape {tuple(tensor.shape)}, the model "
                            f"{tuple(targets[key].shape)}: the weights are from another model or recipe"
                        )
                    targets[key].copy_(tensor)

        _load_partial(model, stored, copy, path, _tied_elsewhere(targets, stored))


def _tied_elsewhere(state: Mapping[str, torch.Tensor], stored: set[str]) -> dict[str, str]:
    """Keys of ``state`` not in ``stored`` that share their tensor with a stored key (tied weights)."""
    by_ident: dict[tuple[int, int, tuple[int, ...]], str] = {}
    for key in stored & set(state):
        tensor = state[key]
        by_ident[(tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))] = key
    tied: dict[str, str] = {}
    for key, tensor in state.items():
        ident = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key not in stored and tensor.numel() and ident in by_ident:
            tied[key] = by_ident[ident]
    return tied
