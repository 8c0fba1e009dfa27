"""The segmenter kinds, chosen by ``kind`` through :data:`SEGMENTERS`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import Field

from glossfree.config import StrictModel
from glossfree.segmentation.base import Segmenter
from glossfree.segmentation.fixed import FixedStrideConfig, FixedStrideSegmenter
from glossfree.segmentation.from_file import FileSpansConfig, FileSpansSegmenter
from glossfree.segmentation.motion import PoseMotionConfig, PoseMotionSegmenter

SegmenterConfig = Annotated[PoseMotionConfig | FileSpansConfig | FixedStrideConfig, Field(discriminator="kind")]

SEGMENTERS: dict[str, Callable[..., Segmenter]] = {
    "pose_motion": PoseMotionSegmenter,
    "file": FileSpansSegmenter,
    "fixed_stride": FixedStrideSegmenter,
}


def build_segmenter(config: PoseMotionConfig | FileSpansConfig | FixedStrideConfig) -> Segmenter:
    """The segmenter of ``config.kind``."""
    return SEGMENTERS[config.kind](config)


class SegmentSettings(StrictModel):
    """The ``segmenter`` section (of ``glossfree segment``'s settings or a YAML file)."""

    segmenter: SegmenterConfig
