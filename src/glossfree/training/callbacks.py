"""Callbacks: stage freezing, and a simulated kill used by the resume tests."""

from __future__ import annotations

import lightning as L
import torch

from glossfree.training.recipe import MODULE_NAMES


class StageFreezing(L.Callback):
    """Trains exactly the stage's modules; everything else is frozen (Lightning ``BaseFinetuning`` style).

    Runs in ``setup``, before the optimiser is configured, so the optimiser only sees trainable
    parameters. Parameters that were frozen when the model was built (an LM's base weights under
    LoRA/DoRA) stay frozen whatever the stage says.
    """

    def __init__(self, train_modules: list[str], base_frozen: set[str]) -> None:
        self.train_modules = tuple(train_modules)
        self.base_frozen = base_frozen

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        apply_freezing(pl_module.model, self.train_modules, self.base_frozen)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning puts the whole model in train mode each epoch: frozen modules go back to eval.
        set_frozen_eval(pl_module.model, self.train_modules)


def apply_freezing(model: torch.nn.Module, train_modules: tuple[str, ...], base_frozen: set[str]) -> None:
    for name, param in model.named_parameters():
        top = name.split(".", 1)[0]
        param.requires_grad_(top in train_modules and name not in base_frozen)
    set_frozen_eval(model, train_modules)


def set_frozen_eval(model: torch.nn.Module, train_modules: tuple[str, ...]) -> None:
    for top in MODULE_NAMES:
        module = getattr(model, top, None)
        if isinstance(module, torch.nn.Module) and top not in train_modules:
            # Frozen modules also stop updating running statistics / dropout randomness.
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
