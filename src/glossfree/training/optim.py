"""Optimisers and learning-rate schedules named by a stage config.

Schedules are per optimiser *step* (after gradient accumulation): the stage computes the total
number of steps once the dataloader length is known, then builds the schedule (the order matters,
as in torchtune's recipe: the LR schedule comes after steps-per-epoch is known).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import torch
from pydantic import Field

from glossfree.config import StrictModel


class OptimizerConfig(StrictModel):
    """Optimiser of one stage.

    Args:
        kind: ``adamw`` or ``sgd``.
        lr: peak learning rate.
        weight_decay: decoupled weight decay (AdamW) or L2 (SGD); never applied to biases and norms.
        betas: AdamW betas.
        momentum: SGD momentum.
        nesterov: SGD with Nesterov momentum (when ``momentum`` > 0); ``false`` is the classical
            heavy-ball update (SAGE, paper 002: "SGD ... momentum of 0.9").
        lr_scale: per-module LR multipliers, keyed by top-level module name (``lm: 0.1``).
    """

    kind: Literal["adamw", "sgd"] = "adamw"
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = Field(0.9, ge=0, lt=1)
    nesterov: bool = True
    lr_scale: dict[str, float] = Field(default_factory=dict)


class ScheduleConfig(StrictModel):
    """Learning-rate schedule of one stage.

    Args:
        kind: ``one_cycle_cosine`` (linear warm-up to ``lr`` then cosine decay to ``min_lr_ratio·lr``),
            ``constant`` (after the same warm-up) or ``inverse_sqrt`` (after the warm-up,
            ``lr * sqrt(warmup / step)``: the Transformer schedule of Vaswani et al. 2017 as fairseq
            and joeynmt implement it, used by the SLT Transformer of Camgoz et al. 2020).
        warmup_ratio: fraction of the stage's optimiser steps used for warm-up (ignored when
            ``warmup_steps`` is given).
        warmup_steps: explicit number of warm-up steps.
        min_lr_ratio: final LR as a fraction of the peak.
    """

    kind: Literal["one_cycle_cosine", "constant", "inverse_sqrt"] = "one_cycle_cosine"
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    warmup_steps: int | None = Field(None, ge=0)
    min_lr_ratio: float = Field(0.0, ge=0, le=1)


def _no_decay(name: str, param: torch.nn.Parameter) -> bool:
    return param.ndim < 2 or name.endswith(".bias") or "norm" in name.lower()


def parameter_groups(
    named_params: Iterable[tuple[str, torch.nn.Parameter]], config: OptimizerConfig
) -> list[dict]:
    """Group trainable parameters by (LR scale, weight decay yes/no)."""
    groups: dict[tuple[float, bool], list[torch.nn.Parameter]] = {}
    for name, param in named_params:
        if not param.requires_grad:
            continue
        scale = config.lr_scale.get(name.split(".", 1)[0], 1.0)
        groups.setdefault((scale, _no_decay(name, param)), []).append(param)
    return [
        {
            "params": params,
            "lr": config.lr * scale,
            "weight_decay": 0.0 if no_decay else config.weight_decay,
        }
        for (scale, no_decay), params in sorted(groups.items())
    ]


def build_optimizer(
    named_params: Iterable[tuple[str, torch.nn.Parameter]], config: OptimizerConfig
) -> torch.optim.Optimizer:
    groups = parameter_groups(named_params, config)
    if not groups:
        raise ValueError("no trainable parameters: check the stage's `train` list")
    if config.kind == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov and config.momentum > 0)


def lr_factor(step: int, total_steps: int, config: ScheduleConfig) -> float:
    """LR multiplier at optimiser step ``step`` (0-based) of ``total_steps``."""
    total_steps = max(1, total_steps)
    warmup = config.warmup_steps if config.warmup_steps is not None else int(config.warmup_ratio * total_steps)
    warmup = min(warmup, total_steps - 1) if total_steps > 1 else 0
    if warmup > 0 and step < warmup:
        return (step + 1) / (warmup + 1)
    if config.kind == "constant":
        return 1.0
    if config.kind == "inverse_sqrt":
        return math.sqrt(max(warmup, 1) / (step + 1))
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * cosine


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, config: ScheduleConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, config))


def optimizer_step(
    loss: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    parameters: Iterable[torch.nn.Parameter],
    grad_clip: float = 0.0,
) -> None:
    """One plain-loop optimiser step: backward, clip the gradient norm (``grad_clip`` > 0), step, schedule."""
    optimizer.zero_grad()
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
    optimizer.step()
    scheduler.step()
