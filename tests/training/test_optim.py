"""Schedules and optimiser parameter groups."""

import math

import pytest
import torch

from glossfree.training.optim import (
    OptimizerConfig,
    ScheduleConfig,
    build_optimizer,
    build_scheduler,
    lr_factor,
)


def test_one_cycle_cosine_hand_computed():
    config = ScheduleConfig(kind="one_cycle_cosine", warmup_steps=2, min_lr_ratio=0.0)
    # warm-up: (step+1)/(warmup+1) -> 1/3, 2/3; then cosine over the remaining 8 steps.
    factors = [lr_factor(step, 10, config) for step in range(10)]
    assert factors[0] == pytest.approx(1 / 3)
    assert factors[1] == pytest.approx(2 / 3)
    assert factors[2] == pytest.approx(1.0)
    assert factors[6] == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 8)))
    assert factors[9] == pytest.approx(0.5 * (1 + math.cos(math.pi * 7 / 8)))
    assert all(a >= b for a, b in zip(factors[2:], factors[3:]))


def test_constant_schedule_and_min_lr():
    assert lr_factor(50, 100, ScheduleConfig(kind="constant", warmup_steps=0)) == 1.0
    config = ScheduleConfig(warmup_steps=0, min_lr_ratio=0.1)
    assert lr_factor(100, 100, config) == pytest.approx(0.1)


def test_warmup_ratio():
    config = ScheduleConfig(warmup_ratio=0.1)
    assert lr_factor(0, 100, config) == pytest.approx(1 / 11)
    assert lr_factor(10, 100, config) == pytest.approx(1.0)


def test_parameter_groups_skip_frozen_and_decay_rules():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    model[2].weight.requires_grad_(False)
    optimizer = build_optimizer(model.named_parameters(), OptimizerConfig(lr=0.01, weight_decay=0.1))
    seen = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    assert id(model[2].weight) not in seen
    assert seen[id(model[0].weight)] == 0.1
    assert seen[id(model[0].bias)] == 0.0
    assert seen[id(model[1].weight)] == 0.0


def test_lr_scale_per_module_and_scheduler_steps():
    model = torch.nn.ModuleDict({"frontend": torch.nn.Linear(2, 2), "lm": torch.nn.Linear(2, 2)})
    optimizer = build_optimizer(model.named_parameters(), OptimizerConfig(lr=1.0, lr_scale={"lm": 0.1}))
    lrs = sorted({group["lr"] for group in optimizer.param_groups})
    assert lrs == [pytest.approx(0.1), pytest.approx(1.0)]
    scheduler = build_scheduler(optimizer, 4, ScheduleConfig(kind="constant", warmup_steps=1))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5 * optimizer.param_groups[0]["initial_lr"])
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["initial_lr"])


def test_no_trainable_parameters_is_an_error():
    layer = torch.nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer(layer.named_parameters(), OptimizerConfig())


def test_sgd():
    layer = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(layer.named_parameters(), OptimizerConfig(kind="sgd", lr=0.1))
    assert isinstance(optimizer, torch.optim.SGD)


def test_spamo_schedule_peak_and_floor():
    """SpaMo (paper 003, appendix A): AdamW (0.9, 0.98), weight decay 0.01, linear warm-up to the
    peak 1e-4, cosine down to the floor 5e-5 (min_lr_ratio 0.5), hand-computed."""
    model = torch.nn.Linear(2, 2)
    optimizer = build_optimizer(model.named_parameters(), OptimizerConfig(lr=1e-4, betas=(0.9, 0.98), weight_decay=0.01))
    assert optimizer.defaults["betas"] == (0.9, 0.98)
    assert {g["weight_decay"] for g in optimizer.param_groups} == {0.01, 0.0}  # the bias is not decayed
    scheduler = build_scheduler(optimizer, 14, ScheduleConfig(warmup_steps=4, min_lr_ratio=0.5))
    lrs = []
    for _ in range(14):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:5] == pytest.approx([2e-5, 4e-5, 6e-5, 8e-5, 1e-4])  # (step + 1) / (warmup + 1)
    assert lrs[9] == pytest.approx(5e-5 + 5e-5 * 0.5 * (1 + math.cos(math.pi * 5 / 10)))  # 7.5e-5
    assert lrs[13] == pytest.approx(5e-5 + 5e-5 * 0.5 * (1 + math.cos(math.pi * 9 / 10)))
    assert min(lrs[4:]) >= 5e-5 and lr_factor(10**6, 14, ScheduleConfig(warmup_steps=4, min_lr_ratio=0.5)) == 0.5


def test_sgd_heavy_ball_momentum_by_hand():
    # SAGE's SGD (momentum 0.9, weight decay 1e-3, no Nesterov): v1 = g1, v2 = 0.9 v1 + g2, p -= lr v
    weight = torch.nn.Parameter(torch.tensor([[1.0]]))
    config = OptimizerConfig(kind="sgd", lr=0.5, momentum=0.9, weight_decay=1e-3, nesterov=False)
    optimizer = build_optimizer([("layer.weight", weight)], config)
    assert optimizer.param_groups[0]["nesterov"] is False and optimizer.param_groups[0]["weight_decay"] == 1e-3
    expected, velocity = 1.0, 0.0
    for gradient in (2.0, -1.0):
        weight.grad = torch.tensor([[gradient]])
        optimizer.step()
        velocity = 0.9 * velocity + gradient + 1e-3 * expected
        expected -= 0.5 * velocity
        assert weight.item() == pytest.approx(expected, abs=1e-6)
    nesterov = build_optimizer([("w", torch.nn.Parameter(torch.ones(2, 2)))], OptimizerConfig(kind="sgd"))
    assert nesterov.param_groups[0]["nesterov"] is True  # the default stays Nesterov


def test_inverse_sqrt_values():
    config = ScheduleConfig(kind="inverse_sqrt", warmup_steps=500)
    # linear warm-up (step + 1) / (warmup + 1), then sqrt(warmup / (step + 1))
    assert lr_factor(0, 5000, config) == pytest.approx(1 / 501)
    assert lr_factor(249, 5000, config) == pytest.approx(250 / 501)
    assert lr_factor(499, 5000, config) == pytest.approx(500 / 501)
    assert lr_factor(500, 5000, config) == pytest.approx(math.sqrt(500 / 501))
    assert lr_factor(1999, 5000, config) == pytest.approx(0.5)
    assert lr_factor(7999, 5000, config) == pytest.approx(0.25)  # no end: it keeps decaying
    # without warm-up it starts at the peak
    assert lr_factor(0, 100, ScheduleConfig(kind="inverse_sqrt", warmup_steps=0)) == pytest.approx(1.0)
    assert lr_factor(3, 100, ScheduleConfig(kind="inverse_sqrt", warmup_steps=0)) == pytest.approx(0.5)


def test_schedules_through_the_scheduler_at_given_steps():
    """The LR the optimiser holds after k scheduler steps, for each kind (peak 7e-4, 500-step warm-up)."""
    expected = {
        "inverse_sqrt": {0: 7e-4 / 501, 665: 7e-4 * math.sqrt(500 / 666), 1331: 7e-4 * math.sqrt(500 / 1332)},
        "one_cycle_cosine": {0: 7e-4 / 501, 665: 7e-4 * 0.5 * (1 + math.cos(math.pi * 165 / 832)), 1331: 7e-4 * 0.5 * (1 + math.cos(math.pi * 831 / 832))},
        "constant": {0: 7e-4 / 501, 665: 7e-4, 1331: 7e-4},
    }  # fmt: skip
    for kind, values in expected.items():
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=7e-4)
        scheduler = build_scheduler(optimizer, 1332, ScheduleConfig(kind=kind, warmup_steps=500))
        seen = {}
        for step in range(1332):
            seen[step] = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
        for step, lr in values.items():
            assert seen[step] == pytest.approx(lr), (kind, step)
