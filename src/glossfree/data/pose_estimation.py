"""MediaPipe Holistic pose estimation: frames or videos in, pose-format ``.pose`` files out.

The output is the file that pose-format's own estimator writes
(``pose_format.utils.holistic.load_holistic``, the writer of the real samples in
``shared/data/samples``): header v0.2 with components ``POSE_LANDMARKS`` (33),
``FACE_LANDMARKS`` (468, or 478 with ``refine_face_landmarks``), ``LEFT_HAND_LANDMARKS`` (21),
``RIGHT_HAND_LANDMARKS`` (21) and ``POSE_WORLD_LANDMARKS`` (33), point format ``XYZC``, x/y in
pixels of the upright frame, z as MediaPipe returns it. The confidence is the landmark visibility
for body points and 1 for detected face/hand points; an undetected part has confidence 0 and is
masked. The per-frame conversion reuses pose-format's ``body_points``/``component_points``, so the
numbers are exactly what ``load_holistic`` gives; the frame loop is ours because ``load_holistic``
needs every frame of a video in memory at once and we stream them (hour-long BOBSL episodes).

MediaPipe is an optional dependency (``pip install 'glossfree[video]'``): ``mediapipe==0.10.21``
is the last wheel whose ``mp.solutions.holistic`` runs offline with bundled models (only
``model_complexity=1`` is bundled), and it needs ``numpy<2``. It is imported only when a pose is
estimated. Each video gets a fresh ``Holistic`` graph (about 0.1 s), so tracking state never
leaks from one video into the next.

:func:`extract_poses` is the sharded, resumable batch driver behind ``glossfree poses``: inputs
are split over ``num_shards`` workers (input ``i`` of the sorted list goes to shard
``i % num_shards``), an existing output is skipped unless ``overwrite``, outputs are written
atomically, an unreadable/empty input is reported and skipped, and a video without a person gives
an all-masked pose, a warning, and an entry in the summary.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from glossfree.data.pose_io import write_pose
from glossfree.data.video import (
    PHOENIX_FPS,
    VIDEO_EXTENSIONS,
    frame_folder_images,
    is_frame_folder,
    iter_frame_folder,
    iter_video_frames,
    probe_video,
)
from glossfree.errors import ConfigError, DataError
from glossfree.io import check_output_dir, make_output_dir

if TYPE_CHECKING:
    from pose_format import Pose

INSTALL_HINT = "pip install 'glossfree[video]'  (mediapipe==0.10.21 with numpy<2)"
POSE_SUFFIX = ".pose"


# ---------------------------------------------------------------------------------------------
# MediaPipe Holistic on frames


def _holistic_modules() -> tuple[ModuleType, ModuleType]:
    """``(mediapipe holistic solution, pose_format.utils.holistic)``, imported lazily."""
    try:
        import mediapipe.python.solutions.holistic as mp_holistic
        import pose_format.utils.holistic as pf_holistic
    except ImportError as error:
        raise ImportError(
            f"pose estimation needs MediaPipe Holistic ({error}); install it with: {INSTALL_HINT}"
        ) from error
    return mp_holistic, pf_holistic


# What MediaPipe's C++ code writes to file descriptor 2 for every graph: absl INFO/WARNING lines
# ("W0000 00:00:... inference_feedback_manager.cc:114] Feedback manager requires ...") and the
# TFLite delegate banner. Errors (E...) and fatal messages (F...) are passed on.
_MEDIAPIPE_NOISE = re.compile(
    r"^([IW]\d{4} \d\d:\d\d:|INFO: Created TensorFlow Lite|WARNING: All log messages before absl::InitializeLog)"
)


@contextmanager
def _quiet_native_logs() -> Iterator[None]:
    """Capture file descriptor 2 for the block; afterwards pass on every line but MediaPipe's routine noise.

    Environment variables (GLOG_minloglevel, TF_CPP_MIN_LOG_LEVEL) do not reach the absl logging of
    mediapipe 0.10.21, so the lines are filtered at the file descriptor. Python's own stderr output
    during the block is passed on too, only later.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not _MEDIAPIPE_NOISE.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def _progress(items: Iterable[np.ndarray], total: int | None, description: str) -> Iterator[np.ndarray]:
    from rich.progress import track

    yield from track(items, total=total, description=description, transient=True)


def estimate_poses(
    frames: Iterable[np.ndarray],
    *,
    fps: float,
    width: int,
    height: int,
    progress: bool = False,
    refine_face_landmarks: bool = False,
    total: int | None = None,
) -> Pose:
    """Run MediaPipe Holistic on RGB frames and build a pose-format ``Pose``.

    Args:
        frames: ``uint8 [H, W, 3]`` RGB frames (an array ``[T, H, W, 3]`` or any iterable; it is
            consumed once, so a generator streams in bounded memory).
        fps: frame rate stored in the pose body.
        width: frame width in pixels (x coordinates are scaled by it; stored in the header).
        height: frame height in pixels.
        progress: show a progress bar over frames.
        refine_face_landmarks: MediaPipe's refined face mesh (478 face points instead of 468).
        total: number of frames, for the progress bar when ``frames`` has no ``len``.

    Returns:
        ``Pose`` with ``body.data`` ``[T, 1, 576 | 586, 3]`` (masked where not detected) and
        ``body.confidence`` ``[T, 1, 576 | 586]``.

    Raises:
        DataError: a frame whose shape is not ``[height, width, 3]``, or no frames at all.
    """
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions

    mp_holistic, pf = _holistic_modules()
    face_extra = 10 if refine_face_landmarks else 0
    num_face = pf.FACE_POINTS_NUM(face_extra)
    if total is None and hasattr(frames, "__len__"):
        total = len(frames)  # type: ignore[arg-type]
    stream = _progress(frames, total, "holistic") if progress else frames

    datas: list[np.ndarray] = []
    confidences: list[np.ndarray] = []
    with _quiet_native_logs(), mp_holistic.Holistic(
        static_image_mode=False, model_complexity=1, refine_face_landmarks=refine_face_landmarks
    ) as holistic:
        for index, frame in enumerate(stream):
            if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                raise DataError(
                    f"frame {index}: expected uint8 [{height}, {width}, 3], got "
                    f"{frame.dtype} {list(frame.shape)}"
                )
            results = holistic.process(np.ascontiguousarray(frame))
            parts = [
                pf.body_points(results.pose_landmarks, width, height, 33),
                pf.component_points(results.face_landmarks, width, height, num_face),
                pf.component_points(results.left_hand_landmarks, width, height, 21),
                pf.component_points(results.right_hand_landmarks, width, height, 21),
                pf.body_points(results.pose_world_landmarks, width, height, 33),
            ]
            datas.append(np.concatenate([p[0] for p in parts]).astype(np.float32))  # [N, 3]
            confidences.append(np.concatenate([p[1] for p in parts]).astype(np.float32))  # [N]
    if not datas:
        raise DataError("no frames to estimate poses on")

    header = PoseHeader(
        version=0.2,
        dimensions=PoseHeaderDimensions(width=width, height=height, depth=0),
        components=pf.holistic_components("XYZC", face_extra),
    )
    data = np.stack(datas)[:, None]  # [T, 1, N, 3]: one person
    confidence = np.stack(confidences)[:, None]  # [T, 1, N]
    return Pose(header, NumPyPoseBody(fps=float(fps), data=data, confidence=confidence))


def has_person(pose: Pose) -> bool:
    """True if any point of any frame was detected (confidence > 0)."""
    return bool(np.any(np.asarray(pose.body.confidence) > 0))


class _TimedFrames:
    """Iterator over frames that adds up the seconds spent producing them (decoding)."""

    def __init__(self, frames: Iterable[np.ndarray]) -> None:
        self._frames = iter(frames)
        self.seconds = 0.0

    def __iter__(self) -> _TimedFrames:
        return self

    def __next__(self) -> np.ndarray:
        start = time.perf_counter()
        try:
            return next(self._frames)
        finally:
            self.seconds += time.perf_counter() - start


def frames_to_pose_timed(
    path: str | Path,
    *,
    fps: float | None = None,
    progress: bool = False,
    refine_face_landmarks: bool = False,
    folder_fps: float = PHOENIX_FPS,
) -> tuple[Pose, float]:
    """:func:`video_to_pose`, also returning the seconds spent probing and decoding frames.

    The rest of the wall time is MediaPipe and building the pose (``glossfree translate``
    reports the two separately).
    """
    path = Path(path)
    start = time.perf_counter()
    if path.is_dir():
        images = frame_folder_images(path)
        from PIL import Image

        try:
            with Image.open(images[0]) as first:
                width, height = first.size
        except OSError as error:
            raise DataError(f"{images[0]}: cannot read image: {error}") from None
        frames = _TimedFrames(iter_frame_folder(path, fps=fps, source_fps=folder_fps))
        out_fps = fps if fps is not None else folder_fps
        total = len(images) if fps is None else None
    else:
        info = probe_video(path)
        width, height = info.width, info.height
        frames = _TimedFrames(iter_video_frames(path, fps=fps))
        out_fps = fps if fps is not None else info.fps
        total = info.num_frames if fps is None else int(info.duration * fps) or None
    probe_seconds = time.perf_counter() - start
    try:
        pose = estimate_poses(
            frames, fps=out_fps, width=width, height=height, progress=progress,
            refine_face_landmarks=refine_face_landmarks, total=total,
        )  # fmt: skip
    except DataError as error:
        message = str(error)
        raise DataError(message if message.startswith(str(path)) else f"{path}: {message}") from None
    if not has_person(pose):
        warnings.warn(
            f"{path}: no person detected in any of {len(pose.body.data)} frames; "
            "the pose is all masked",
            stacklevel=3,
        )
    return pose, probe_seconds + frames.seconds


def video_to_pose(
    path: str | Path,
    *,
    fps: float | None = None,
    progress: bool = False,
    refine_face_landmarks: bool = False,
    folder_fps: float = PHOENIX_FPS,
) -> Pose:
    """Estimate the holistic pose of a video file or a frame folder.

    Frames are streamed (bounded memory) and upright (rotation metadata honoured); the pose keeps
    the video's frame rate, or ``fps`` if given (frames resampled as in :mod:`glossfree.data.video`).
    A frame folder is read at ``folder_fps`` (PHOENIX-2014-T: 25). A video without any detected
    person gives an all-masked pose and a ``UserWarning`` naming the file.

    Raises:
        DataError: the input is missing, empty, unreadable or has no frames.
    """
    pose, _ = frames_to_pose_timed(
        path, fps=fps, progress=progress, refine_face_landmarks=refine_face_landmarks,
        folder_fps=folder_fps,
    )  # fmt: skip
    return pose


# ---------------------------------------------------------------------------------------------
# batch extraction: inputs, shards, resume


@dataclass
class ExtractionSummary:
    """Outcome of :func:`extract_poses` for one shard.

    Attributes:
        done: inputs whose pose file was written in this run.
        skipped_existing: inputs skipped because their pose file already existed.
        failed: ``(input, reason)`` for each unreadable, empty or frameless input.
        no_person: inputs written with an all-masked pose (no person detected); also in ``done``.
    """

    done: int = 0
    skipped_existing: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    no_person: list[Path] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.done + self.skipped_existing + len(self.failed)


def collect_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Expand command-line inputs into videos and frame folders.

    A file is taken as is (whatever its extension; a non-video is reported when it fails to
    decode). A directory that holds images is one frame folder. Any other directory contributes
    the video files (by extension) directly inside it and its sub-directories that are frame
    folders (PHOENIX-2014-T ``fullFrame-210x260px/train/``). A path that does not exist is kept,
    so it is reported as failed with the others. Duplicates are dropped; order is sorted.

    Raises:
        DataError: a directory with neither videos nor frame folders.
    """
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            found.add(path)
        elif is_frame_folder(path):
            found.add(path)
        else:
            children = sorted(path.iterdir())
            members = [c for c in children if c.is_file() and c.suffix.lower() in VIDEO_EXTENSIONS]
            members += [c for c in children if c.is_dir() and is_frame_folder(c)]
            if not members:
                raise DataError(
                    f"{path}: no video files ({', '.join(VIDEO_EXTENSIONS)}) or frame folders inside"
                )
            found.update(members)
    return sorted(found)


def output_path(input_path: Path, out_dir: Path) -> Path:
    """``out_dir/<stem>.pose`` for a video, ``out_dir/<folder name>.pose`` for a frame folder."""
    name = input_path.name if input_path.is_dir() else input_path.stem
    return out_dir / f"{name}{POSE_SUFFIX}"


def shard_inputs(inputs: Sequence[Path], *, num_shards: int, shard_index: int) -> list[Path]:
    """Inputs of one shard: item ``i`` of the sorted inputs goes to shard ``i % num_shards``.

    Shards are disjoint, cover every input, and differ in size by at most one.
    """
    if num_shards < 1:
        raise ConfigError(f"--num-shards must be >= 1, got {num_shards}")
    if not 0 <= shard_index < num_shards:
        raise ConfigError(f"--shard-index must be in [0, {num_shards - 1}], got {shard_index}")
    return sorted(inputs)[shard_index::num_shards]


def _check_unique_outputs(inputs: Sequence[Path], out_dir: Path) -> None:
    seen: dict[Path, Path] = {}
    for path in inputs:
        target = output_path(path, out_dir)
        if target in seen:
            raise DataError(f"{seen[target]} and {path} would both be written to {target}; "
                            "rename one or extract them into different --out folders")  # fmt: skip
        seen[target] = path


def extract_poses(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    num_shards: int = 1,
    shard_index: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    fps: float | None = None,
    refine_face_landmarks: bool = False,
    folder_fps: float = PHOENIX_FPS,
) -> ExtractionSummary:
    """Estimate and write ``out_dir/<name>.pose`` for each video or frame folder of one shard.

    Args:
        inputs: video files and frame folders (see :func:`collect_inputs` to expand directories).
        out_dir: output folder (created if needed).
        num_shards: number of workers splitting the inputs.
        shard_index: which of them this call is (0-based).
        overwrite: re-estimate inputs whose output already exists (default: skip them, resume).
        progress: progress bar over this shard's inputs.
        fps: resample every input to this frame rate (default: keep each video's rate).
        refine_face_landmarks: 478-point refined face mesh.
        folder_fps: frame rate of frame folders.

    Returns:
        :class:`ExtractionSummary`; failures are collected there, never raised.

    Raises:
        ConfigError: bad shard arguments.
        DataError: two inputs that map to the same output file.
        ImportError: MediaPipe is not installed (with the install command).
    """
    paths = sorted({Path(p) for p in inputs})
    out_dir = check_output_dir(out_dir, what="--out folder")
    _check_unique_outputs(paths, out_dir)  # on all inputs, so every shard agrees
    mine = shard_inputs(paths, num_shards=num_shards, shard_index=shard_index)
    make_output_dir(out_dir, what="--out folder")
    summary = ExtractionSummary()
    todo: list[Path] = []
    for path in mine:
        if output_path(path, out_dir).exists() and not overwrite:
            summary.skipped_existing += 1
        else:
            todo.append(path)
    if todo:
        _holistic_modules()  # fail early with the install hint, before any work

    iterator: Iterable[Path] = todo
    if progress and todo:
        from rich.progress import track

        iterator = track(todo, description=f"poses (shard {shard_index + 1}/{num_shards})")
    for path in iterator:
        try:
            pose = video_to_pose(
                path, fps=fps, refine_face_landmarks=refine_face_landmarks, folder_fps=folder_fps
            )
        except DataError as error:
            summary.failed.append((path, str(error)))
            continue
        if not has_person(pose):
            summary.no_person.append(path)
        write_pose(output_path(path, out_dir), pose)  # atomic
        summary.done += 1
    return summary
