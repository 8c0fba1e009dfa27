"""Activation memory of a training step, counted exactly: the tensors autograd saves for backward.

Peak training memory on a GPU is parameters + gradients + optimiser state + the activations that
the forward pass keeps for the backward pass; only the last depends on the input length and on
how the Conformer is run. :class:`SavedActivations` counts them with
``torch.autograd.graph.saved_tensors_hooks``: every tensor packed for backward is recorded by its
storage (a storage saved twice, e.g. by two consumers of one activation, counts once), and
parameter storages are left out. The count is deterministic and device independent, and it works
on the ``meta`` device, so paper-size inputs that would need tens of GB can be measured without
allocating them. (``tracemalloc`` does not see torch's allocator; the process RSS is noisy on a
shared machine.) Caveat: the count is what autograd keeps, not the allocator's transient peak
inside one kernel; and which attention kernel runs decides whether ``[B, H, T, T]`` maps are kept
(the ``math`` path keeps them, fused flash kernels do not).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


class SavedActivations:
    """``with SavedActivations(model) as saved: loss = model(...)`` then ``saved.bytes``.

    Args:
        modules: the modules whose parameters are *not* activations (their storages are skipped).
    """

    def __init__(self, *modules: nn.Module) -> None:
        self._params = {p.untyped_storage()._cdata for m in modules for p in m.parameters()}
        self._storages: dict[int, torch.UntypedStorage] = {}

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        key = storage._cdata
        if key not in self._params:
            self._storages[key] = storage  # held, so that the key is not reused while counting
        return tensor

    def __enter__(self) -> SavedActivations:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._hooks.__exit__(*exc)

    @property
    def bytes(self) -> int:
        return sum(storage.nbytes() for storage in self._storages.values())

    def release(self) -> None:
        self._storages.clear()


def parameter_bytes(modules: Iterable[nn.Module]) -> int:
    return sum(p.numel() * p.element_size() for m in modules for p in m.parameters())


def gib(n: float) -> float:
    return n / 2**30
