"""Callbacks: stage freezing, and a simulated kill used by the resume tests."""

from __future__ import annotations

import lightning as L
import torch

from glossfree.errors import ConfigError


class StageFreezing(L.Callback):
    """Trains exactly the stage's parts; everything else is frozen (Lightning ``BaseFinetuning`` style).

    Parts are the model's own (``model.parts()``: ``frontend`` ... ``lm`` and ``objectives.<name>``),
    or a piece of one (``model.sub_parts()``: ``lm.encoder``, ``lm.decoder``).
    Runs in ``setup``, before the optimiser is configured, so the optimiser only sees trainable
    parameters. Parameters that were frozen when the model was built (an LM's base weights under
    LoRA/DoRA) stay frozen whatever the stage says.
    """

    def __init__(self, train_parts: list[str], base_frozen: set[str]) -> None:
        self.train_parts = tuple(train_parts)
        self.base_frozen = base_frozen

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        apply_freezing(pl_module.model, self.train_parts, self.base_frozen)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning puts the whole model in train mode each epoch: frozen parts go back to eval.
        set_frozen_eval(pl_module.model, self.train_parts)


def _in_part(name: str, part: str) -> bool:
    return name == part or name.startswith(f"{part}.")


def _sub_parts(model: torch.nn.Module) -> dict[str, tuple[str, ...]]:
    """The model's parts that a stage may train piece by piece (an SLT model's ``lm``: ``lm.encoder``,
    ``lm.decoder``); none for models without pieces."""
    return model.sub_parts() if hasattr(model, "sub_parts") else {}


def apply_freezing(model: torch.nn.Module, train_parts: tuple[str, ...], base_frozen: set[str]) -> None:
    parts = model.parts()
    pieces = _sub_parts(model)
    valid = [name for part in parts for name in (part, *pieces.get(part, ()))]
    unknown = [part for part in train_parts if part not in valid]
    if unknown:
        raise ConfigError(f"train lists {', '.join(unknown)}, not part(s) of the model; its parts: {', '.join(valid)}")
    whole = [part for part in train_parts if part in parts]
    piece_names = set().union(*(model.sub_part(part)[0] for part in train_parts if part not in parts))
    for name, param in model.named_parameters():
        trains = name in piece_names or any(_in_part(name, part) for part in whole)
        param.requires_grad_(trains and name not in base_frozen)
    set_frozen_eval(model, train_parts)


def set_frozen_eval(model: torch.nn.Module, train_parts: tuple[str, ...]) -> None:
    pieces = _sub_parts(model)
    for part in model.parts():
        if part in train_parts:
            continue
        # Frozen parts also stop updating running statistics / dropout randomness.
        trained = [piece for piece in pieces.get(part, ()) if piece in train_parts]
        if not trained:
            model.get_submodule(part).eval()
            continue
        for piece in pieces[part]:
            if piece not in trained:
                for module in model.sub_part(piece)[1]:
                    module.eval()


class SimulatedKill(RuntimeError):
    """Raised by :class:`KillAtEpoch` to stand in for a killed process in tests."""


class KillAtEpoch(L.Callback):
    """Stops a run as a kill would, at the start of epoch ``epoch`` (after the previous epoch's checkpoint)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch >= self.epoch:
            raise SimulatedKill(f"simulated kill at epoch {trainer.current_epoch}")
