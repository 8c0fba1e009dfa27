"""The segmenter interface: one clip in, its sign spans out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from pose_format import Pose


@dataclass(frozen=True)
class Clip:
    """What a segmenter may read of one sample.

    Attributes:
        id: the record's id (the ``file`` segmenter looks its spans up by it).
        num_frames: frames of the clip.
        fps: its frame rate.
        pose: its keypoints (``None`` for a sample without a pose file).
        first_frame: index of the clip's first frame in its file (a record with ``start``): spans
            are returned in the clip's frames, :func:`~glossfree.segmentation.run.segment_dataset`
            adds this offset when writing.
    """

    id: str
    num_frames: int
    fps: float
    pose: Pose | None = None
    first_frame: int = 0


class Segmenter(Protocol):
    """``segment(clip)`` -> int64 ``[S, 2]`` spans ``[first, stop)`` in the clip's frames: in
    order, inside ``[0, num_frames)``, never overlapping (gaps allowed: rest, transitions)."""

    def segment(self, clip: Clip) -> np.ndarray: ...


def check_spans(spans: np.ndarray, num_frames: int, *, source: str) -> np.ndarray:
    """``spans`` as int64 ``[S, 2]``, checked: non-empty, in order, no overlap, inside the clip.

    Raises ``ValueError`` naming ``source`` and the first span at fault.
    """
    spans = np.asarray(spans).reshape(-1, 2)
    if spans.size and not np.allclose(spans, np.round(spans)):
        raise ValueError(f"{source}: spans must be whole frame indices, got {spans[~np.isclose(spans, np.round(spans))][:3]}")
    spans = np.round(spans).astype(np.int64)
    for number, (first, stop) in enumerate(spans):
        if not 0 <= first < stop <= num_frames:
            raise ValueError(f"{source}: span {number} [{first}, {stop}) is empty or outside the clip's {num_frames} frames")
        if number and first < spans[number - 1, 1]:
            raise ValueError(f"{source}: span {number} [{first}, {stop}) starts before span {number - 1} ends ({spans[number - 1, 1]})")
    return spans
