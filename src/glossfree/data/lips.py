"""Grayscale lip crops from a video and the ``.pose`` of the same video (paper 004's lip stream input).

Paper 004 (Sec. 3.1, "Lip backbone"; Fig. 3) feeds "grayscale video clips of the lip-region" to a
frozen lip reader (Auto-AVSR, Ma et al. 2023). Auto-AVSR's own preparation
(``mpc001/auto_avsr``, ``preparation/detectors/mediapipe/video_process.py`` and
``datamodule/transforms.py``) finds the face with MediaPipe, aligns it to a mean face, smooths
the landmarks over a window of frames, cuts a 96x96 mouth patch, converts it to grayscale, then
takes the centre 88x88, scales pixels to [0, 1] and normalises with mean 0.421, std 0.165.

We locate the mouth from the ``FACE_LANDMARKS`` of the ``.pose`` file that glossfree already has
for every video (MediaPipe holistic, pixel coordinates), so no second face detector runs:

1. **Lip points**: the 40 points of MediaPipe's ``FACEMESH_LIPS`` (:data:`LIP_POINTS`). They are
   all part of the 128 ``FACEMESH_CONTOURS`` points, so reduced files (pose-format's
   ``reduce_holistic``, the synthetic signer's ``contours`` faces) work as well as 468/478-point ones.
2. **Box per frame** (:func:`lip_boxes`): centre = middle of the lip points' bounding box; side =
   ``scale * max(width, height)`` of that bounding box (our choice; Auto-AVSR's fixed 96 px in a
   face-aligned frame is not reproducible without its mean face). Centre and side are smoothed
   with a centred moving average over ``smooth`` frames, over detected frames only (Auto-AVSR
   smooths its landmarks over a window of 12 frames).
3. **Frames without a face** (no lip point detected): the box of the last detected frame is carried
   forward (leading frames take the first detected box), so the crop stays where the mouth was; the
   frame's ``detected`` flag is False so that a model can ignore it. A video with no detected face
   at all is a :class:`DataError` naming the pose file.
4. **Crop** (:func:`crop_lips`): the square box (rounded to whole pixels) is cut from the grayscale
   frame (ITU-R BT.601 luma, as OpenCV's ``COLOR_RGB2GRAY``); the part of the box outside the
   image is black (0), so the mouth stays centred at image borders. The patch is resized to
   ``size x size`` (antialiased bilinear) and normalised as Auto-AVSR does. We resize the box
   straight to ``size`` (88); Auto-AVSR's 96 -> centre 88 equals a ``scale`` 88/96 of ours.

:func:`load_lip_crops` does all of it for a dataset record: it checks that the pose and the video
describe the same frames (frame rate, frame count, image size) and names both files when they do not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pose_format import Pose
from pydantic import Field, field_validator

from glossfree.config import StrictModel
from glossfree.data.layouts import FACE, KeypointLayout, select_points
from glossfree.errors import DataError

# MediaPipe face mesh FACEMESH_LIPS (mediapipe/python/solutions/face_mesh_connections.py): outer
# lip contour (20 points) then inner (20 points).
LIP_POINTS: tuple[int, ...] = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415,
)  # fmt: skip
LIP_LAYOUT = KeypointLayout(
    name="lips", points=tuple((FACE, str(i)) for i in LIP_POINTS), groups={"lips": (0, len(LIP_POINTS))}
)

# Auto-AVSR datamodule/transforms.py: Normalize(0.421, 0.165) on pixels scaled to [0, 1].
AVSR_MEAN = 0.421
AVSR_STD = 0.165


class LipCropConfig(StrictModel):
    """How lip crops are cut (defaults: Auto-AVSR's 88x88 grayscale input).

    Attributes:
        size: side of the square crop in pixels (Auto-AVSR: 88).
        scale: box side = ``scale`` x the larger side of the lip points' bounding box.
        smooth: frames of the centred moving average of box centre and side (1 = none; odd).
        mean: subtracted from pixels scaled to [0, 1] (Auto-AVSR: 0.421).
        std: divided by after the mean (Auto-AVSR: 0.165).
    """

    size: int = Field(88, ge=8)
    scale: float = Field(1.6, gt=0)
    smooth: int = Field(5, ge=1)
    mean: float = AVSR_MEAN
    std: float = Field(AVSR_STD, gt=0)

    @field_validator("smooth")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 != 1:
            raise ValueError(f"must be odd so that the window is centred on its frame (got {value})")
        return value


@dataclass
class LipCrops:
    """Lip crops of one sequence.

    Attributes:
        crops: float32 ``[T, size, size]`` normalised grayscale.
        detected: bool ``[T]``, True where the face (a lip point) was detected; other frames are
            cut at the carried box.
        boxes: float32 ``[T, 3]`` ``(centre x, centre y, side)`` in video pixels, after smoothing
            and carrying.
        fps: frames per second.
    """

    crops: np.ndarray
    detected: np.ndarray
    boxes: np.ndarray
    fps: float


def _moving_average(values: np.ndarray, valid: np.ndarray, window: int) -> np.ndarray:
    """Centred mean over ``window`` frames of ``values`` ``[T, C]``, counting only ``valid`` frames;
    frames whose window holds no valid frame keep their value."""
    if window == 1:
        return values.copy()
    half = window // 2
    weights = valid.astype(np.float64)
    summed = np.pad(values * weights[:, None], ((half, half), (0, 0)))  # [T + 2h, C]
    counts = np.pad(weights, (half, half))
    kernel = np.ones(window)
    total = np.stack([np.convolve(summed[:, c], kernel, mode="valid") for c in range(values.shape[1])], axis=1)
    count = np.convolve(counts, kernel, mode="valid")  # [T]
    out = values.copy()
    has = count > 0
    out[has] = total[has] / count[has, None]
    return out


def lip_boxes(points: np.ndarray, mask: np.ndarray, config: LipCropConfig, *, source: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Square lip boxes per frame from lip landmarks.

    Args:
        points: ``[T, K, >=2]`` lip landmark coordinates in pixels (x, y first).
        mask: bool ``[T, K]``, True = detected point.
        config: :class:`LipCropConfig` (``scale``, ``smooth``).
        source: the file named in errors.

    Returns:
        ``boxes`` float32 ``[T, 3]`` ``(cx, cy, side)`` and ``detected`` bool ``[T]`` (a frame with
        at least one detected lip point). Undetected frames carry the last detected box (leading
        ones the first).

    Raises:
        DataError: no frame has a detected lip point.
    """
    xy = np.asarray(points, dtype=np.float64)[..., :2]  # [T, K, 2]
    mask = np.asarray(mask, dtype=bool)
    detected = mask.any(axis=1)  # [T]
    if not detected.any():
        raise DataError(f"{source or 'pose'}: the face (lip landmarks) is not detected in any of its {len(mask)} frames")
    big = np.where(mask[..., None], xy, np.nan)
    low = np.nanmin(np.where(detected[:, None, None], big, 0.0), axis=1)  # [T, 2]
    high = np.nanmax(np.where(detected[:, None, None], big, 0.0), axis=1)
    centre = (low + high) / 2  # [T, 2]
    side = config.scale * np.max(high - low, axis=1)  # [T]
    raw = np.concatenate([centre, side[:, None]], axis=1)  # [T, 3]
    boxes = _moving_average(raw, detected, config.smooth)
    # carry the last detected box over undetected frames; leading ones take the first detected box
    last = np.where(detected, np.arange(len(detected)), -1)
    last = np.maximum.accumulate(last)
    first = int(np.argmax(detected))
    boxes = boxes[np.where(last >= 0, last, first)]
    boxes[:, 2] = np.maximum(boxes[:, 2], 1.0)
    return boxes.astype(np.float32), detected


def to_gray(frame: np.ndarray) -> np.ndarray:
    """``uint8 [H, W, 3]`` RGB -> float32 ``[H, W]`` luma in 0..255 (BT.601, as OpenCV's RGB2GRAY)."""
    rgb = frame.astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def box_pixels(box: np.ndarray) -> tuple[int, int, int]:
    """``(left, top, side)`` whole-pixel square of a ``(cx, cy, side)`` box."""
    side = max(1, int(round(float(box[2]))))
    left = int(np.floor(float(box[0]) - side / 2 + 0.5))
    top = int(np.floor(float(box[1]) - side / 2 + 0.5))
    return left, top, side


def cut_square(gray: np.ndarray, left: int, top: int, side: int) -> np.ndarray:
    """The ``side x side`` patch at ``(left, top)`` of ``gray`` ``[H, W]``; outside the image is 0."""
    height, width = gray.shape
    patch = np.zeros((side, side), dtype=np.float32)
    y0, y1 = max(top, 0), min(top + side, height)
    x0, x1 = max(left, 0), min(left + side, width)
    if y1 > y0 and x1 > x0:
        patch[y0 - top : y1 - top, x0 - left : x1 - left] = gray[y0:y1, x0:x1]
    return patch


def crop_lips(frames: Iterable[np.ndarray], boxes: np.ndarray, config: LipCropConfig, *, source: str = "") -> np.ndarray:
    """Cut, resize and normalise one crop per frame.

    Args:
        frames: ``uint8 [H, W, 3]`` RGB frames (an array ``[T, H, W, 3]`` or any iterable), one per box.
        boxes: ``[T, 3]`` ``(cx, cy, side)`` in the frames' pixels (:func:`lip_boxes`).
        config: :class:`LipCropConfig` (``size``, ``mean``, ``std``).
        source: the video named in errors.

    Returns:
        float32 ``[T, size, size]``: ``(pixel / 255 - mean) / std``.
    """
    out = np.empty((len(boxes), config.size, config.size), dtype=np.float32)
    count = 0
    for frame in frames:
        if count == len(boxes):
            raise DataError(f"{source or 'video'}: the video has more frames than the pose ({len(boxes)}); "
                            "lip crops need the pose of these very frames")  # fmt: skip
        patch = torch.from_numpy(cut_square(to_gray(frame), *box_pixels(boxes[count])))[None, None]
        if patch.shape[-1] != config.size:
            patch = F.interpolate(patch, size=(config.size, config.size), mode="bilinear", align_corners=False,
                                  antialias=patch.shape[-1] > config.size)  # fmt: skip
        out[count] = patch[0, 0].clamp(0, 255).numpy()
        count += 1
    if count != len(boxes):
        raise DataError(f"{source or 'video'}: the video has {count} frames, the pose {len(boxes)}; "
                        "lip crops need the pose of these very frames")  # fmt: skip
    return (out / 255.0 - config.mean) / config.std


def pose_lip_points(pose: Pose, *, source: str = "", frame_size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lip landmarks of person 0 in pixels of the video frames: ``[T, 40, 2]`` and mask ``[T, 40]``.

    ``frame_size`` ``(height, width)`` of the decoded video: coordinates are rescaled from the pose
    header's width/height when they differ (same aspect ratio required).

    Raises:
        DataError: the file has no ``FACE_LANDMARKS`` lip points (naming what it has), or its image
            size has another aspect ratio than the video's.
    """
    names = [c.name for c in pose.header.components]
    if FACE not in names:
        raise DataError(f"{source}: no {FACE} component (components: {', '.join(names)}); the lip crops are "
                        "located from the face landmarks: estimate the poses with MediaPipe holistic (`glossfree poses`)")  # fmt: skip
    points, mask = select_points(pose, LIP_LAYOUT, source=source)
    points = points[..., :2].copy()
    if frame_size is not None:
        height, width = frame_size
        dims = pose.header.dimensions
        if dims.width > 0 and dims.height > 0 and (dims.width, dims.height) != (width, height):
            sx, sy = width / dims.width, height / dims.height
            if abs(sx / sy - 1) > 0.02:
                raise DataError(f"{source}: pose image size {dims.width}x{dims.height} and video frames {width}x{height} "
                                "differ in aspect ratio; the pose was not estimated on this video")  # fmt: skip
            points *= np.array([sx, sy], dtype=np.float32)
            points[~mask] = 0.0
    return points, mask


def lip_crops(frames: np.ndarray, pose: Pose, config: LipCropConfig, *, fps: float, source: str = "") -> LipCrops:
    """Lip crops of in-memory ``uint8 [T, H, W, 3]`` frames and the pose of the same ``T`` frames."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise DataError(f"{source}: expected frames [T, H, W, 3], got {list(frames.shape)}")
    pose_frames = pose.body.data.shape[0]
    if pose_frames != frames.shape[0]:
        raise DataError(f"{source}: the pose has {pose_frames} frames, the video {frames.shape[0]}; "
                        "lip crops need the pose of these very frames")  # fmt: skip
    points, mask = pose_lip_points(pose, source=source, frame_size=frames.shape[1:3])
    boxes, detected = lip_boxes(points, mask, config, source=source)
    return LipCrops(crops=crop_lips(frames, boxes, config, source=source), detected=detected, boxes=boxes, fps=fps)


def check_same_video(pose_path: Path, pose_fps: float, pose_frames: int, video_path: Path, video_fps: float,
                     video_frames: int) -> None:  # fmt: skip
    """A :class:`DataError` naming both files when their frame rates differ by more than 1% or
    their frame counts differ."""
    if abs(pose_fps - video_fps) > 0.01 * max(video_fps, 1e-6):
        raise DataError(f"{pose_path} ({pose_fps:g} fps) and {video_path} ({video_fps:g} fps) have different frame "
                        "rates; lip crops need the pose estimated on this video at its own frame rate")  # fmt: skip
    if pose_frames != video_frames:
        raise DataError(f"{pose_path} has {pose_frames} frames, {video_path} has {video_frames}; lip crops need "
                        "the pose estimated on every frame of this video")  # fmt: skip


def load_lip_crops(video: str | Path, pose: str | Path, config: LipCropConfig, *, start: float | None = None,
                   end: float | None = None) -> LipCrops:  # fmt: skip
    """Lip crops of a video file and its ``.pose`` (its ``[start, end)`` seconds), at the video's rate.

    The pose is read for the span (:func:`glossfree.data.pose_io.read_pose`, frames
    ``floor(start * fps) .. ceil(end * fps)``), the boxes are computed from it, and the video is
    decoded for the same frames at its own frame rate and cropped frame by frame (only the crops
    are held in memory). Frame rates and counts must agree.

    Raises:
        DataError: missing/unreadable files, no face group, no detected face, or a pose and video
            that disagree (frame rate, frame count, aspect ratio), naming the files.
    """
    from glossfree.data.pose_io import frame_span, read_pose, read_pose_info
    from glossfree.data.video import iter_video_frames, probe_video

    video, pose = Path(video), Path(pose)
    info, vinfo = read_pose_info(pose), probe_video(video)
    check_same_video(pose, info.fps, info.num_frames, video, vinfo.fps, vinfo.num_frames)
    body = read_pose(pose, start=start, end=end)
    points, mask = pose_lip_points(body, source=str(pose), frame_size=(vinfo.height, vinfo.width))
    boxes, detected = lip_boxes(points, mask, config, source=str(pose))
    if start is None and end is None:
        frames = iter_video_frames(video)
    else:
        try:
            first, stop = frame_span(start, end, info.fps, info.num_frames)
        except ValueError as error:
            raise DataError(f"{pose}: {error}") from None
        # the frames of the pose span, by their times at the video's rate (first at first/fps)
        frames = iter_video_frames(video, start=first / vinfo.fps, end=stop / vinfo.fps)
    crops = crop_lips(frames, boxes, config, source=f"{video} (pose {pose})")
    return LipCrops(crops=crops, detected=detected, boxes=boxes, fps=vinfo.fps)
