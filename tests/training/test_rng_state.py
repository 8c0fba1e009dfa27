"""Exact resume: the checkpoint's RNG states, CUDA included (its code path checked on CPU)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from glossfree.training import module
from glossfree.training.module import rng_state, set_rng_state


def test_cpu_states_round_trip():
    state = rng_state()
    assert state["cuda"] == []  # CUDA never initialised here: nothing saved, nothing initialised
    expected = (torch.rand(3), np.random.rand(), random.random())
    set_rng_state(state)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.random.rand() == expected[1] and random.random() == expected[2]


class _FakeCuda:
    """Two GPUs' RNG states, kept in a list: what torch.cuda does, without a GPU."""

    def __init__(self, devices: int = 2) -> None:
        self.states = [torch.tensor([i, 0], dtype=torch.uint8) for i in range(devices)]

    def is_initialized(self) -> bool:
        return True

    def is_available(self) -> bool:
        return True

    def device_count(self) -> int:
        return len(self.states)

    def get_rng_state_all(self) -> list[torch.Tensor]:
        return [s.clone() for s in self.states]

    def set_rng_state(self, state: torch.Tensor, device: int) -> None:
        self.states[device] = state.clone()


def test_cuda_states_are_saved_and_restored(monkeypatch):
    fake = _FakeCuda()
    monkeypatch.setattr(module.torch, "cuda", fake)
    state = rng_state()
    assert [s.tolist() for s in state["cuda"]] == [[0, 0], [1, 0]]
    fake.states = [torch.tensor([9, 9], dtype=torch.uint8)] * 2  # the GPUs drew numbers since
    set_rng_state(state)
    assert [s.tolist() for s in fake.states] == [[0, 0], [1, 0]]

    fake.states = fake.states[:1]  # resumed on one GPU: restore what fits, and say so
    with pytest.warns(UserWarning, match="CUDA RNG states of 2 GPU"):
        set_rng_state(state)
    assert fake.states[0].tolist() == [0, 0]


def test_checkpoints_without_cuda_states_still_load():
    state = rng_state()
    del state["cuda"]
    set_rng_state(state)
