"""Frame preprocessing of the image backbones (torch only, no torchvision): what the feature
extractors (:mod:`glossfree.features.extractors`) and the trainable frame encoders' datasets
(:func:`glossfree.data.inputs.clip_tensor`) both apply, so that a frozen and a trained backbone see
the same pixels."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from glossfree.errors import DataError
from glossfree.features.config import PreprocessConfig


def preprocess_frames(frames: np.ndarray | torch.Tensor, config: PreprocessConfig, device: torch.device | str = "cpu") -> torch.Tensor:
    """``uint8 [T, H, W, 3]`` RGB frames -> normalised ``float32 [T, 3, crop, crop]`` on ``device``.

    The shorter side becomes ``config.resize`` (the longer one is scaled with it and rounded), then
    the centre ``crop x crop`` square is cut (offsets rounded as ``int((size - crop) / 2)``).
    """
    tensor = torch.as_tensor(np.ascontiguousarray(frames) if isinstance(frames, np.ndarray) else frames)
    if tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise DataError(f"expected frames [T, H, W, 3], got shape {list(tensor.shape)}")
    x = tensor.to(device).permute(0, 3, 1, 2).float()  # [T, 3, H, W], 0..255
    height, width = x.shape[-2:]
    scale = config.resize / min(height, width)
    size = (max(config.resize, round(height * scale)), max(config.resize, round(width * scale)))
    if (height, width) != size:
        x = F.interpolate(x, size=size, mode=config.interpolation, align_corners=False, antialias=True)
    top, left = int((size[0] - config.crop) / 2), int((size[1] - config.crop) / 2)
    x = x[:, :, top : top + config.crop, left : left + config.crop]  # [T, 3, crop, crop]
    mean = torch.tensor(config.mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(config.std, device=x.device).view(1, 3, 1, 1)
    return (x.clamp(0, 255) / 255.0 - mean) / std
