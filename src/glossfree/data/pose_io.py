"""Reading and writing ``.pose`` files (pose-format) and turning them into model-ready keypoints.

This module wraps ``pose_format.Pose`` rather than reimplementing it (see STYLE.md, section 6):

- :func:`read_pose` reads a file and checks it is usable: it exists, parses, has at least one frame
  and one person, and holds MediaPipe holistic components. OpenPose files (137 points,
  ``pose_keypoints_2d`` ...) and other skeletons are rejected with a message listing what the file
  has. Files holding only some holistic components (e.g. pose-format's right-hand-only
  ``*_hand_normalized.pose``) are read; turning them into a layout then names what is missing.
- :func:`read_pose_info` reads only the header and frame count (no keypoint data) for bucketing.
- :func:`write_pose` writes atomically.
- :func:`extract_keypoints` selects a :class:`~glossfree.data.layouts.KeypointLayout` of person 0
  and normalises it as paper 004 does (following SignCLIP / pose-format ``Pose.normalize``): the
  whole sequence is shifted so the mean shoulder midpoint is the origin and scaled so the mean
  shoulder length is 1, both averaged over the frames where both shoulders are detected, in all
  three coordinates. Points that are not detected carry ``mask = False`` and value 0 — after
  normalisation too, so a missing point is never a real-looking point (they also never influence
  the statistics). Multi-person files: only person 0 is used.
- :func:`keypoints_to_pose` builds a ``Pose`` from :class:`Keypoints` (for synthetic data, tests).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.pose_body import EmptyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

from glossfree.data.layouts import (
    BODY_LIMBS,
    BODY_POINTS,
    HAND_LIMBS,
    HAND_POINTS,
    HOLISTIC_COMPONENTS,
    LEFT_HAND,
    POSE,
    POSE_WORLD,
    RIGHT_HAND,
    KeypointLayout,
    detection_mask,
    get_layout,
    select_points,
)
from glossfree.errors import DataError
from glossfree.io import atomic_write_bytes

SHOULDERS = ((POSE, "LEFT_SHOULDER"), (POSE, "RIGHT_SHOULDER"))
_SHOULDER_LAYOUT = KeypointLayout(name="shoulders", points=SHOULDERS, groups={"body": (0, 2)})


@dataclass
class Keypoints:
    """One signing sequence in a keypoint layout.

    Attributes:
        points: float32 ``[T, N, 3]`` (x, y, z); 0 where ``mask`` is False.
        mask: bool ``[T, N]``, True = detected.
        fps: frames per second.
    """

    points: np.ndarray
    mask: np.ndarray
    fps: float

    def __post_init__(self) -> None:
        if self.points.ndim != 3 or self.mask.shape != self.points.shape[:2]:
            raise ValueError(
                f"Keypoints: points {self.points.shape} must be [T, N, C] and mask {self.mask.shape} "
                "must be [T, N]"
            )

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])

    @property
    def num_points(self) -> int:
        return int(self.points.shape[1])


@dataclass(frozen=True)
class PoseInfo:
    """What a pose header says, without the keypoint data."""

    num_frames: int
    fps: float
    num_people: int
    components: dict[str, int]  # component name -> number of points


def _describe(header: PoseHeader) -> str:
    return ", ".join(f"{c.name} ({len(c.points)} points, {c.format})" for c in header.components)


def check_supported(header: PoseHeader, source: str) -> None:
    """Raise :class:`DataError` unless the header holds MediaPipe holistic components."""
    names = [c.name for c in header.components]
    if not any(name in HOLISTIC_COMPONENTS for name in names):
        total = sum(len(c.points) for c in header.components)
        kind = "an OpenPose" if any(n.endswith("_keypoints_2d") for n in names) else "an unsupported"
        raise DataError(
            f"{source}: {kind} pose file ({total} points: {_describe(header)}); glossfree expects "
            f"MediaPipe holistic components ({', '.join(HOLISTIC_COMPONENTS)}) as written by "
            "pose-format's MediaPipe estimator; re-estimate the poses from the video with "
            "MediaPipe holistic."
        )


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"{path}: pose file not found")
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read pose file ({error})") from None


def frame_span(start: float | None, end: float | None, fps: float, num_frames: int) -> tuple[int, int]:
    """Frames ``[first, stop)`` covering ``[start, end)`` seconds (whole sequence when both None).

    ``first = floor(start * fps)``, ``stop = ceil(end * fps)`` clipped to the sequence, at least one
    frame. Raises ``ValueError`` when the span starts after the last frame.
    """
    first = 0 if start is None else math.floor(start * fps)
    stop = num_frames if end is None else min(num_frames, math.ceil(end * fps))
    if first >= num_frames:
        raise ValueError(
            f"span starts at {start} s (frame {first}) but the pose has {num_frames} frames at {fps} fps"
        )
    return first, max(stop, first + 1)


def read_pose(path: str | Path, *, start: float | None = None, end: float | None = None) -> Pose:
    """Read a ``.pose`` file, checking it holds MediaPipe holistic keypoints and at least one frame.

    ``start``/``end`` (seconds) read only the frames of that span (see :func:`frame_span`); only
    those frames are read from disk, which matters for hour-long videos.
    """
    path = Path(path)
    if start is None and end is None:
        buffer = _read_bytes(path)
        try:
            pose = Pose.read(buffer)
        except Exception as error:  # pose-format raises struct.error, ValueError, ... on corrupt files
            raise DataError(_unreadable(path, error)) from None
    else:
        info = read_pose_info(path)
        try:
            first, stop = frame_span(start, end, info.fps, info.num_frames)
        except ValueError as error:
            raise DataError(f"{path}: {error}") from None
        try:
            with path.open("rb") as handle:
                pose = Pose.read(handle, start_frame=first, end_frame=stop)
        except Exception as error:
            raise DataError(_unreadable(path, error)) from None
    check_supported(pose.header, str(path))
    frames, people = pose.body.data.shape[:2]  # [T, P, N, D]
    if frames == 0:
        raise DataError(f"{path}: pose file has 0 frames")
    if people == 0:
        raise DataError(f"{path}: pose file has 0 people")
    return pose


def _unreadable(path: Path, error: Exception) -> str:
    return f"{path}: not a readable .pose file ({type(error).__name__}: {error})"


def read_pose_info(path: str | Path) -> PoseInfo:
    """Read the header and frame count of a ``.pose`` file without its keypoint data."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: pose file not found")
    try:
        with path.open("rb") as handle:
            pose = Pose.read(handle, pose_body=EmptyPoseBody)
    except NotImplementedError:  # version 0.0 files have no header-only reader
        pose = read_pose(path)
    except Exception as error:
        raise DataError(_unreadable(path, error)) from None
    check_supported(pose.header, str(path))
    frames, people = pose.body.data.shape[:2]  # [T, P, N, D]
    if frames == 0:
        raise DataError(f"{path}: pose file has 0 frames")
    return PoseInfo(
        num_frames=int(frames),
        fps=float(pose.body.fps),
        num_people=int(people),
        components={c.name: len(c.points) for c in pose.header.components},
    )


def write_pose(path: str | Path, pose: Pose) -> None:
    """Write ``pose`` to ``path`` atomically (:func:`glossfree.io.atomic_write_bytes`).

    The pose is serialised in memory first, so a pose that pose-format refuses to write leaves no file.
    """
    buffer = io.BytesIO()
    pose.write(buffer)
    atomic_write_bytes(path, buffer.getvalue())


def shoulder_frame(pose: Pose, *, source: str = "") -> tuple[np.ndarray, float]:
    """Centre ``[3]`` and scale of the normalisation: mean shoulder midpoint and mean shoulder length.

    Both are averaged over the frames of person 0 where both shoulders are detected (3D, as
    pose-format's ``Pose.normalize``). Raises :class:`DataError` naming ``source`` when the file
    has no shoulder points, no frame with both detected, or a zero shoulder length.
    """
    names = {(c.name, point) for c in pose.header.components for point in c.points}
    if not all(shoulder in names for shoulder in SHOULDERS):
        raise DataError(
            f"{source}: cannot normalise: the file has no POSE_LANDMARKS LEFT_SHOULDER and "
            f"RIGHT_SHOULDER points (components: {_describe(pose.header)})"
        )
    points, mask = select_points(pose, _SHOULDER_LAYOUT, source=source)  # [T, 2, D], [T, 2]
    both = mask.all(axis=1)  # [T]
    if not both.any():
        raise DataError(
            f"{source}: cannot normalise: no frame has both shoulders detected ({points.shape[0]} frames)"
        )
    left, right = points[both, 0], points[both, 1]  # [F, D]
    centre = ((left + right) / 2).mean(axis=0)  # [D]
    scale = float(np.linalg.norm(left - right, axis=-1).mean())
    if not scale > 0:
        raise DataError(f"{source}: cannot normalise: shoulder length is 0 in every frame")
    return centre.astype(np.float32), scale


def extract_keypoints(
    pose: Pose,
    layout: KeypointLayout | str,
    *,
    normalize: bool = True,
    source: str = "",
    allow_missing: bool = False,
) -> Keypoints:
    """Select ``layout`` from person 0 of ``pose`` and (optionally) normalise it.

    Args:
        pose: a pose read by :func:`read_pose` (or built in memory).
        layout: a :class:`KeypointLayout` or its name (``"pose203"``, ``"holistic"``).
        normalize: centre on the mean shoulder midpoint and scale to mean shoulder length 1.
        source: file name used in error messages.
        allow_missing: keep layout points absent from the file (e.g. the 25 body points dropped by
            ``reduce_holistic``) as masked points instead of raising.

    Returns:
        :class:`Keypoints` with float32 ``points [T, N, 3]`` (0 where not detected) and ``mask``.
        A component undetected in every frame (a hand off camera) is simply all-False in ``mask``.
    """
    source = source or "<pose>"
    if pose.body.data.shape[0] == 0:
        raise DataError(f"{source}: pose has 0 frames")
    if pose.body.data.shape[1] == 0:
        raise DataError(f"{source}: pose has 0 people")
    check_supported(pose.header, source)
    points, mask = select_points(pose, layout, allow_missing=allow_missing, source=source)
    if points.shape[-1] != 3:
        raise DataError(f"{source}: expected 3 coordinates per point (XYZC), the file has {points.shape[-1]}")
    if normalize:
        centre, scale = shoulder_frame(pose, source=source)
        points = (points - centre) / scale  # [T, N, 3]
        points[~mask] = 0.0
    return Keypoints(points=points.astype(np.float32), mask=mask, fps=float(pose.body.fps))


def missing_points(header: PoseHeader, layout: KeypointLayout | str) -> dict[str, tuple[int, int]]:
    """``{component: (points missing, points the layout takes from it)}`` for components the file lacks points of."""
    layout = get_layout(layout)
    present = {(component.name, point) for component in header.components for point in component.points}
    counts: dict[str, tuple[int, int]] = {}
    for component, point in layout.points:
        missing, needed = counts.get(component, (0, 0))
        counts[component] = (missing + ((component, point) not in present), needed + 1)
    return {component: pair for component, pair in counts.items() if pair[0]}


def _component_for(layout: KeypointLayout) -> list[tuple[str, list[str]]]:
    """Group a layout's points by component, keeping first-appearance order."""
    grouped: dict[str, list[str]] = {}
    for component, point in layout.points:
        grouped.setdefault(component, []).append(point)
    return list(grouped.items())


def _limbs(component: str, points: list[str]) -> list[tuple[int, int]]:
    if component in (POSE, POSE_WORLD):
        names, edges = BODY_POINTS, BODY_LIMBS
    elif component in (LEFT_HAND, RIGHT_HAND):
        names, edges = HAND_POINTS, HAND_LIMBS
    else:  # the face tessellation is not carried (drawing only)
        return []
    where = {name: i for i, name in enumerate(points)}
    return [(where[names[a]], where[names[b]]) for a, b in edges if names[a] in where and names[b] in where]


def keypoints_to_pose(
    keypoints: Keypoints,
    layout: KeypointLayout | str,
    *,
    dimensions: tuple[int, int, int] = (1, 1, 1),
) -> Pose:
    """Build a pose-format ``Pose`` (one person, ``XYZC``) holding ``keypoints`` in ``layout``.

    Components are named as MediaPipe holistic; undetected points get confidence 0 (masked).
    ``dimensions`` is the header's (width, height, depth).
    """
    layout = get_layout(layout)
    if keypoints.num_points != layout.num_points or keypoints.points.shape[-1] != 3:
        raise ValueError(
            f"keypoints {keypoints.points.shape} do not fit layout '{layout.name}' "
            f"({layout.num_points} points x 3)"
        )
    components = [
        PoseHeaderComponent(
            name=name, points=names, limbs=_limbs(name, names), colors=[(255, 0, 0)], point_format="XYZC"
        )
        for name, names in _component_for(layout)
    ]
    order = [layout.points.index((name, point)) for name, names in _component_for(layout) for point in names]
    width, height, depth = dimensions
    header = PoseHeader(
        version=0.2,
        dimensions=PoseHeaderDimensions(width=width, height=height, depth=depth),
        components=components,
    )
    points = keypoints.points[:, order][:, None]  # [T, 1, N, 3]
    confidence = keypoints.mask[:, order][:, None].astype(np.float32)  # [T, 1, N]
    data = np.ma.masked_array(points, mask=np.repeat(confidence[..., None] == 0, 3, axis=-1))
    return Pose(header, NumPyPoseBody(fps=keypoints.fps, data=data, confidence=confidence))


def detected_fraction(pose: Pose) -> dict[str, float]:
    """Fraction of frames in which each component of person 0 has at least one detected point."""
    mask = detection_mask(pose, 0)  # [T, P]
    result, offset = {}, 0
    for component in pose.header.components:
        count = len(component.points)
        result[component.name] = float(mask[:, offset : offset + count].any(axis=1).mean())
        offset += count
    return result
