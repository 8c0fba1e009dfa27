"""Start a stage from weights: a stage of this run (``init_from``) or another run or file
(``init_checkpoint``, with a key-prefix map).

Sources: a Lightning checkpoint (``.ckpt``: its ``state_dict`` under ``model.``), an exported model
(``model.safetensors``), a model folder, or a run folder (its exported model, or with ``stage``
that stage's best checkpoint from ``done.json``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from glossfree.errors import ConfigError, DataError
from glossfree.io import read_json
from glossfree.training.recipe import InitCheckpointConfig
from glossfree.training.run_files import best_checkpoint

log = logging.getLogger(__name__)

MODEL_PREFIX = "model."  # the Lightning module holds SLTModel as ``model``
_SHOWN = 12  # unmatched keys listed in an error, then a count


def resolve_init_checkpoint(config: InitCheckpointConfig, stage: str) -> Path:
    """The file ``config.path`` points to; :class:`ConfigError` naming the stage and what was looked for."""
    path = Path(config.path)
    where = f"stage '{stage}': init_checkpoint.path {path}"
    if path.is_file():
        if config.stage is not None:
            raise ConfigError(f"{where} is a file; init_checkpoint.stage only applies to a run folder")
        return path
    if not path.is_dir():
        raise ConfigError(f"{where}: no such file or folder")
    if config.stage is not None:
        done = path / "stages" / config.stage / "done.json"
        if not done.is_file():
            stages = sorted(p.parent.name for p in path.glob("stages/*/done.json"))
            raise ConfigError(
                f"{where}: stage '{config.stage}' has not finished there (no {done}); finished stages: "
                f"{', '.join(stages) or 'none'}"
            )
        try:  # named relative to that run folder (or, written before, absolute)
            return best_checkpoint(path, read_json(done, what="stage summary"))
        except DataError as error:
            raise ConfigError(f"{where}: {error}") from None
    for candidate in (path / "model" / "model.safetensors", path / "model.safetensors"):
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"{where}: no model.safetensors in it or in its model/ folder (a run that finished exports one); "
        "for a stage's checkpoint set init_checkpoint.stage"
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The model weights in ``path`` (``.safetensors``, or a ``.ckpt`` whose keys lose ``model.``)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # safetensors, zip and unpickling errors differ by format
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DataError(f"{path}: cannot read weights ({reason})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
        return {k[len(MODEL_PREFIX):]: v for k, v in state.items() if k.startswith(MODEL_PREFIX)}
    if not isinstance(state, dict):
        raise DataError(f"{path}: holds a {type(state).__name__}, not a state dict or Lightning checkpoint")
    return state


def remap_keys(state: dict[str, torch.Tensor], prefix_map: dict[str, str]) -> dict[str, torch.Tensor]:
    """Keys under a ``from_prefix`` renamed to its ``to_prefix`` (the longest matching prefix wins);
    other keys are dropped. An empty map keeps every key."""
    if not prefix_map:
        return dict(state)
    ordered = sorted(prefix_map.items(), key=lambda item: len(item[0]), reverse=True)
    out = {}
    for key, value in state.items():
        for source, target in ordered:
            if key.startswith(source):
                out[target + key[len(source):]] = value
                break
    return out


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    return shown + (f" ... ({len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else "")


def load_weights_into(
    model: torch.nn.Module,
    state: dict[str, torch.Tensor],
    *,
    prefix_map: dict[str, str] | None = None,
    strict: bool = True,
    source: str = "checkpoint",
) -> list[str]:
    """Copy ``state`` (remapped by ``prefix_map``) into ``model``; returns the keys loaded.

    Strict: every selected key must exist in the model with the same shape, and every model key
    under a target prefix (all model keys without a map) must be given; the :class:`ConfigError`
    lists the keys that did not match. Not strict: the matching keys load and the rest is logged.
    """
    prefix_map = prefix_map or {}
    selected = remap_keys(state, prefix_map)
    if prefix_map and not selected:
        raise ConfigError(
            f"{source}: no key starts with {', '.join(repr(p) for p in prefix_map)} "
            f"(its keys start with: {_listing(sorted({k.split('.', 1)[0] + '.' for k in state}))})"
        )
    own = model.state_dict()
    targets = tuple(prefix_map.values())
    unexpected = sorted(k for k in selected if k not in own)
    mismatched = sorted(
        f"{k} {tuple(selected[k].shape)} vs {tuple(own[k].shape)}"
        for k in selected if k in own and selected[k].shape != own[k].shape
    )  # fmt: skip
    missing = sorted(k for k in own if k not in selected and (not targets or k.startswith(targets)))
    problems = []
    if unexpected:
        problems.append(f"{len(unexpected)} key(s) not in the model: {_listing(unexpected)}")
    if mismatched:
        problems.append(f"{len(mismatched)} of another shape: {_listing(mismatched)}")
    if missing:
        problems.append(f"{len(missing)} model key(s) not in the checkpoint: {_listing(missing)}")
    if problems and strict:
        raise ConfigError(
            f"{source}: the weights do not match the model ({'; '.join(problems)}); fix prefix_map, or set "
            "strict: false to load only the matching keys"
        )
    if problems:
        log.warning("%s: loading the matching keys only; %s", source, "; ".join(problems))
    loadable = {k: v for k, v in selected.items() if k in own and v.shape == own[k].shape}
    model.load_state_dict(loadable, strict=False)
    return sorted(loadable)


def load_init_checkpoint(model: torch.nn.Module, config: InitCheckpointConfig, stage: str) -> list[str]:
    path = resolve_init_checkpoint(config, stage)
    loaded = load_weights_into(
        model, read_state_dict(path), prefix_map=config.prefix_map, strict=config.strict,
        source=f"stage '{stage}': init_checkpoint {path}",
    )  # fmt: skip
    log.info("stage %s: %d tensors from %s", stage, len(loaded), path)
    return loaded
