"""Where inference runs: ``--accelerator``/``--devices``/``--precision`` of ``evaluate`` and ``translate``.

Inference is one process on one device (evaluation batches on it); multi-GPU work is training's,
through Lightning. A GPU asked for and absent is an error before the model loads, never a silent
fall back to the CPU (Flan-T5-XL on a CPU takes hours).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from glossfree.errors import ConfigError

ACCELERATORS = ("auto", "cpu", "gpu", "cuda")
PRECISIONS = ("32", "bf16")


@dataclass(frozen=True)
class InferenceDevice:
    """A torch device and the precision of the forward passes on it."""

    device: torch.device
    precision: str = "32"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """bf16 autocast on a GPU for ``precision="bf16"``; nothing otherwise (weights keep their dtype)."""
        if self.precision == "bf16":
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                yield
        else:
            yield


def resolve_device(accelerator: str = "cpu", devices: str | int | None = None, precision: str = "32") -> InferenceDevice:
    """Check the options and pick the device; raise :class:`ConfigError` naming the flag at fault.

    Args:
        accelerator: ``cpu``, ``gpu`` (= ``cuda``) or ``auto`` (a GPU when there is one).
        devices: the GPU index (``0``, ``"1"``; ``None`` = 0). Inference uses one device.
        precision: ``32`` (the weights' own dtype) or ``bf16`` (autocast; GPUs only).
    """
    if accelerator not in ACCELERATORS:
        raise ConfigError(f"--accelerator {accelerator}: choose one of {', '.join(ACCELERATORS)}")
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision {precision}: choose one of {', '.join(PRECISIONS)}")
    index = 0
    if devices is not None and str(devices) != "":
        text = str(devices).strip()
        if not text.isdigit():
            raise ConfigError(
                f"--devices {devices}: inference runs on one device; give its index (0, 1, ...)"
            )
        index = int(text)
    available = torch.cuda.is_available()
    if accelerator in ("gpu", "cuda") and not available:
        raise ConfigError(
            f"--accelerator {accelerator}: no CUDA GPU is available on this machine "
            "(torch.cuda.is_available() is False); use --accelerator cpu"
        )
    use_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and available)
    if not use_gpu:
        if devices is not None and index != 0:
            raise ConfigError(f"--devices {devices}: a device index needs --accelerator gpu")
        if precision == "bf16":
            raise ConfigError("--precision bf16: bf16 autocast is offered on GPUs only; use --precision 32 on a CPU")
        return InferenceDevice(torch.device("cpu"), precision)
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"--devices {devices}: this machine has {count} GPU(s) (indices 0 to {count - 1})")
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"--precision bf16: GPU {index} does not support bfloat16; use --precision 32")
    return InferenceDevice(torch.device("cuda", index), precision)
