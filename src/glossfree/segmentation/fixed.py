"""``fixed_stride``: the baseline segmenter, consecutive windows of ``length`` frames."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from glossfree.config import StrictModel
from glossfree.segmentation.base import Clip


class FixedStrideConfig(StrictModel):
    """Windows ``[k * length, min((k + 1) * length, T))`` covering the clip.

    Attributes:
        kind: ``"fixed_stride"``.
        length: frames per segment (4: one token per 4 frames, the usual ×4 downsampling).
    """

    kind: Literal["fixed_stride"] = "fixed_stride"
    length: int = Field(4, ge=1)


class FixedStrideSegmenter:
    def __init__(self, config: FixedStrideConfig) -> None:
        self.config = config

    def segment(self, clip: Clip) -> np.ndarray:
        starts = np.arange(0, clip.num_frames, self.config.length, dtype=np.int64)
        return np.stack([starts, np.minimum(starts + self.config.length, clip.num_frames)], axis=1).reshape(-1, 2)
