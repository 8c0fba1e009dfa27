"""Hand-made lip poses and matching videos (imported as ``data.lip_helpers``; ``tests/`` is on the path)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from glossfree.data.lips import LIP_LAYOUT, LIP_POINTS
from glossfree.data.pose_io import Keypoints, keypoints_to_pose, write_pose

# 20 outer then 20 inner lip points (as LIP_POINTS): an ellipse of half-width 1, half-height 0.5
_ANGLES = np.linspace(0, 2 * np.pi, 20, endpoint=False)
UNIT_LIPS = np.concatenate([
    np.stack([np.cos(_ANGLES), 0.5 * np.sin(_ANGLES)], axis=1),
    np.stack([0.6 * np.cos(_ANGLES), 0.2 * np.sin(_ANGLES)], axis=1),
])  # fmt: skip  # [40, 2], x in [-1, 1], y in [-0.5, 0.5]
assert len(UNIT_LIPS) == len(LIP_POINTS)


def lip_points(centres: np.ndarray, half_width: float) -> np.ndarray:
    """``[T, 40, 3]`` lip points: the unit mouth scaled by ``half_width`` around each ``(x, y)`` centre."""
    centres = np.asarray(centres, dtype=np.float32).reshape(-1, 2)
    xy = centres[:, None, :] + half_width * UNIT_LIPS[None].astype(np.float32)  # [T, 40, 2]
    return np.concatenate([xy, np.zeros((*xy.shape[:2], 1), np.float32)], axis=-1)


def lip_pose(centres: np.ndarray, half_width: float, *, fps: float, size: tuple[int, int], undetected=()):
    """A pose-format ``Pose`` holding only the lip points (``FACE_LANDMARKS``) of an image of
    ``size`` = (width, height); frames in ``undetected`` have no face."""
    points = lip_points(centres, half_width)
    mask = np.ones(points.shape[:2], dtype=bool)
    mask[list(undetected)] = False
    points[~mask] = 0.0
    return keypoints_to_pose(Keypoints(points, mask, fps), LIP_LAYOUT, dimensions=(size[0], size[1], 1))


def mouth_frames(centres: np.ndarray, half_width: int, size: tuple[int, int]) -> np.ndarray:
    """``uint8 [T, H, W, 3]`` dark frames with a white ``2 hw x hw`` rectangle on each mouth centre."""
    width, height = size
    frames = np.full((len(centres), height, width, 3), 30, dtype=np.uint8)
    for frame, (x, y) in zip(frames, np.asarray(centres, dtype=int)):
        frame[y - half_width // 2 : y + half_width // 2, x - half_width : x + half_width] = 255
    return frames


def write_video(path: Path, frames: np.ndarray, fps: float) -> Path:
    """Encode ``frames`` as an mp4 (PyAV, the synthetic videos' codec)."""
    import av

    from glossfree.data.synth.video import video_codec

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(video_codec(), rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_pair(root: Path, name: str, *, num_frames: int = 12, fps: float = 10.0, size=(96, 64),
               undetected=(), pose_frames: int | None = None, pose_fps: float | None = None) -> tuple[Path, Path]:  # fmt: skip
    """``(video, pose)`` of a mouth moving right by 2 px per frame; the pose can be given another
    frame count or rate to test the consistency errors."""
    centres = np.stack([40 + 2 * np.arange(num_frames), np.full(num_frames, 32)], axis=1)
    video = write_video(root / "videos" / f"{name}.mp4", mouth_frames(centres, 8, size), fps)
    count = pose_frames or num_frames
    pose_centres = np.stack([40 + 2 * np.arange(count), np.full(count, 32)], axis=1)
    pose = lip_pose(pose_centres, 8.0, fps=pose_fps or fps, size=size, undetected=undetected)
    path = root / "poses" / f"{name}.pose"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_pose(path, pose)
    return video, path
