"""Video decoding with PyAV: probe, read, stream, resample to a frame rate, and PNG frame folders.

Frames come out as ``uint8`` RGB arrays ``[H, W, 3]`` (stacked: ``[T, H, W, 3]``), upright:
rotation metadata (the display matrix that phones write, read by PyAV as ``VideoFrame.rotation``,
or the legacy ``rotate`` stream tag) is applied, so a portrait phone clip stored landscape comes
out portrait, as a video player shows it.

Frame-rate resampling (``fps=``) picks, for each point of the target grid ``t0 + k / fps`` with
``t0`` the start time (``start`` or the first frame's timestamp), the decoded frame whose
presentation timestamp is nearest (ties go to the earlier frame). Grid points run up to the end
of the range, exclusive: ``end`` or the end of the last frame (its timestamp plus one frame
period). Downsampling therefore drops frames and upsampling repeats them; no frame is
interpolated. 20 frames at 30 fps read at 15 fps give frames 0, 2, ..., 18.

Time ranges (``start``/``end`` in seconds from the stream's first timestamp) are half-open,
``start <= t < end``. ``iter_video_frames`` decodes lazily and keeps at most two decoded frames in
memory, so hour-long broadcast episodes (BOBSL) stream in bounded memory.

PHOENIX-2014-T ships frame folders (``images0001.png`` ...), read by ``read_frame_folder`` in
natural order (``images2.png`` before ``images10.png``).

Unreadable, empty or frameless inputs raise :class:`~glossfree.errors.DataError` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from PIL import Image

from glossfree.errors import DataError

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
PHOENIX_FPS = 25.0
"""Frame rate of PHOENIX-2014-T frame folders (the release states 25 fps)."""

_EPS = 1e-6
T = TypeVar("T")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learns about a video's first video stream.

    Attributes:
        fps: average frame rate (frames per second).
        num_frames: frame count from the container header; when the container does not store it
            (some WebM/MKV files) it is estimated as ``round(duration * fps)``.
        width: width of the *upright* frames that :func:`read_video` returns.
        height: height of the upright frames (coded width and height swap when rotation is 90/270).
        rotation: counter-clockwise rotation in degrees (0, 90, 180 or 270) applied to the coded
            frames to make them upright.
        duration: stream duration in seconds.
    """

    fps: float
    num_frames: int
    width: int
    height: int
    rotation: int
    duration: float


# ---------------------------------------------------------------------------------------------
# helpers


def rotate_frame(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate an ``[H, W, C]`` frame counter-clockwise by ``rotation`` degrees (a multiple of 90).

    Returns a C-contiguous array (MediaPipe and torch want contiguous memory).
    """
    quarter_turns = (int(round(rotation / 90.0))) % 4
    if quarter_turns == 0:
        return frame
    return np.ascontiguousarray(np.rot90(frame, k=quarter_turns))  # [W, H, C] for 90/270


def _normalise_rotation(degrees: float) -> int:
    """Round to the nearest quarter turn and map to 0, 90, 180 or 270 (counter-clockwise)."""
    return (int(round(degrees / 90.0)) * 90) % 360


def _frame_rotation(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """Counter-clockwise rotation that makes ``frame`` upright.

    PyAV >= 14 exposes the display matrix as ``VideoFrame.rotation`` (counter-clockwise degrees,
    FFmpeg's ``av_display_rotation_get``). Older FFmpeg builds put a legacy ``rotate`` tag in the
    stream metadata instead, which counts *clockwise* degrees.
    """
    rotation = getattr(frame, "rotation", 0) or 0
    if rotation:
        return _normalise_rotation(float(rotation))
    tag = stream.metadata.get("rotate") if stream.metadata else None
    if tag:
        try:
            return _normalise_rotation(-float(tag))
        except ValueError:
            return 0
    return 0


def _natural_key(name: str) -> list[object]:
    """Sort key treating digit runs as numbers: ``images2.png`` < ``images10.png``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise DataError(f"{path}: video file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a video file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: video file is empty (0 bytes)")
    try:
        return av.open(str(path))
    except av.FFmpegError as error:
        raise DataError(f"{path}: cannot open video: {error}") from None


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise DataError(f"{path}: no video stream (streams: {[s.type for s in container.streams]})")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _stream_fps(stream: av.video.stream.VideoStream, path: Path) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    raise DataError(f"{path}: cannot determine the frame rate of the video stream")


def _check_complete(
    path: Path, stream: av.video.stream.VideoStream, decoded_until: float, end: float | None
) -> None:
    """Raise :class:`DataError` when decoding stopped well before the stream's stated duration.

    FFmpeg stops quietly at a truncated file (the MP4 demuxer logs "partial file" and reports the
    end of the stream), so a half-copied video would otherwise read as a complete shorter one. The
    stream's own duration comes from the container index, which a truncated copy keeps. Streams
    without a duration (some WebM/MKV) cannot be checked. Tolerance: two frames or 0.1 s.
    """
    if stream.duration is None or stream.time_base is None:
        return
    duration = float(stream.duration * stream.time_base)
    expected = duration if end is None else min(duration, end)
    period = 1.0 / _stream_fps(stream, path)
    if decoded_until < expected - max(2 * period, 0.1):
        raise DataError(
            f"{path}: the video is truncated or corrupt: decoding stopped at {decoded_until:.2f} s "
            f"of the {duration:.2f} s the file declares"
        )


def _check_range(path: Path, fps: float | None, start: float | None, end: float | None) -> None:
    if fps is not None and not fps > 0:
        raise DataError(f"{path}: target fps must be > 0, got {fps}")
    if start is not None and start < 0:
        raise DataError(f"{path}: start must be >= 0 seconds, got {start}")
    if start is not None and end is not None and end <= start:
        raise DataError(f"{path}: end ({end} s) must be after start ({start} s)")


def _select(
    items: Iterable[tuple[float, T]],
    *,
    fps: float | None,
    start: float | None,
    end: float | None,
    frame_period: float,
) -> Iterator[T]:
    """Select items (sorted by time) in ``[start, end)``, resampled to ``fps`` if given.

    Without ``fps`` every item whose time falls in the range is yielded. With ``fps`` one item per
    grid point ``t0 + k / fps`` (``t0`` = ``start`` or the first item's time), the nearest in time
    (ties to the earlier), for grid points before ``end`` and before the end of the last item
    (its time + ``frame_period``). Holds at most two items at once.
    """
    lower = -np.inf if start is None else start - _EPS
    upper = np.inf if end is None else end - _EPS
    if fps is None:
        for time, item in items:
            if time >= upper:
                return
            if time >= lower:
                yield item
        return

    step = 1.0 / fps
    origin = start
    previous: tuple[float, T] | None = None
    k = 0
    for time, item in items:
        if origin is None:
            origin = time
        while True:
            grid = origin + k * step
            if grid >= upper:
                return
            if time < grid - _EPS:
                break  # this item is still before the grid point: look at later ones
            # the grid point lies in (previous.time, time]: yield the nearer of the two
            if previous is None or (time - grid) < (grid - previous[0]) - _EPS:
                yield item
            else:
                yield previous[1]
            k += 1
        previous = (time, item)
    if previous is None or origin is None:
        return
    media_end = previous[0] + frame_period
    while origin + k * step < min(upper, media_end - _EPS):
        yield previous[1]
        k += 1


# ---------------------------------------------------------------------------------------------
# videos


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's frame rate, frame count, upright size, rotation and duration.

    Decodes the first frame (to read its rotation and prove the stream decodes); raises
    :class:`DataError` naming the file if it is missing, empty, not a video or has no frames.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        fps = _stream_fps(stream, path)
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as error:
            raise DataError(f"{path}: cannot decode video: {error}") from None
        if first is None:
            raise DataError(f"{path}: the video stream has no decodable frames")
        rotation = _frame_rotation(first, stream)
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = stream.frames / fps if stream.frames else 0.0
        num_frames = int(stream.frames) if stream.frames else int(round(duration * fps))
        return VideoInfo(
            fps=fps, num_frames=num_frames, width=width, height=height, rotation=rotation,
            duration=duration,
        )  # fmt: skip
    finally:
        container.close()


def _decoded_frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    path: Path,
    fps: float,
    start: float | None,
) -> Iterator[tuple[float, av.VideoFrame]]:
    """Decoded frames with their timestamp (seconds from the stream's first timestamp)."""
    time_base = stream.time_base or Fraction(1, 1)
    origin = stream.start_time or 0
    if start is not None and start > 0:
        # seek to the keyframe before ``start`` (one frame early, for the nearest-frame choice)
        target = int((start - 1.0 / fps) / time_base) + origin
        try:
            container.seek(max(target, origin), stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            container.seek(0)  # some containers cannot seek: decode from the beginning
    last_time: float | None = None
    try:
        for frame in container.decode(stream):
            if frame.pts is not None:
                time = float((frame.pts - origin) * time_base)
            else:  # no timestamps (rare raw streams): count frames
                time = 0.0 if last_time is None else last_time + 1.0 / fps
            last_time = time
            yield time, frame
    except av.FFmpegError as error:
        raise DataError(f"{path}: cannot decode video: {error}") from None


def iter_video_frames(
    path: str | Path,
    *,
    fps: float | None = None,
    start: float | None = None,
    end: float | None = None,
) -> Iterator[np.ndarray]:
    """Yield upright RGB frames ``uint8 [H, W, 3]`` of ``path`` one by one (bounded memory).

    Args:
        path: a video file PyAV/FFmpeg can read.
        fps: target frame rate; ``None`` keeps every frame. See the module docstring for how
            frames are picked.
        start: first time (seconds) to return, inclusive; ``None`` = from the beginning.
        end: time (seconds) to stop at, exclusive; ``None`` = to the end.

    Raises:
        DataError: missing, empty or unreadable file, no video stream, no decodable frame, or a
            time range that selects no frame.
    """
    path = Path(path)
    _check_range(path, fps, start, end)
    container = _open(path)
    try:
        stream = _video_stream(container, path)
        source_fps = _stream_fps(stream, path)
        rotation: int | None = None
        decoded = 0
        produced = 0
        last_time: float | None = None
        reached_end = False  # the decoder ran out of frames (rather than ``end`` stopping us)
        cache: tuple[av.VideoFrame, np.ndarray] | None = None  # upsampling repeats a frame

        def counted() -> Iterator[tuple[float, av.VideoFrame]]:
            nonlocal decoded, last_time, reached_end
            for item in _decoded_frames(container, stream, path, source_fps, start):
                decoded += 1
                last_time = item[0]
                yield item
            reached_end = True

        selected = _select(counted(), fps=fps, start=start, end=end, frame_period=1.0 / source_fps)
        for frame in selected:
            if rotation is None:
                rotation = _frame_rotation(frame, stream)
            if cache is None or cache[0] is not frame:
                image = rotate_frame(frame.to_ndarray(format="rgb24"), rotation)  # [H, W, 3]
                cache = (frame, image)
            produced += 1
            yield cache[1]
        if decoded == 0:
            raise DataError(f"{path}: the video stream has no decodable frames")
        if reached_end and last_time is not None:
            _check_complete(path, stream, last_time + 1.0 / source_fps, end)
        if produced == 0:
            raise DataError(
                f"{path}: no frame in the requested range start={start} s, end={end} s "
                f"(the video has {decoded} decoded frames from the requested start on)"
            )
    finally:
        container.close()


def read_video(
    path: str | Path,
    *,
    fps: float | None = None,
    start: float | None = None,
    end: float | None = None,
) -> tuple[np.ndarray, float]:
    """Decode a video (or a time range of it) into memory.

    Returns:
        ``(frames, fps)``: ``uint8 [T, H, W, 3]`` upright RGB frames and their frame rate (the
        target ``fps`` if given, else the stream's average rate).
    """
    path = Path(path)
    frames = list(iter_video_frames(path, fps=fps, start=start, end=end))
    out_fps = fps if fps is not None else probe_video(path).fps
    return np.stack(frames), float(out_fps)  # [T, H, W, 3]


# ---------------------------------------------------------------------------------------------
# frame folders


def frame_folder_images(directory: str | Path) -> list[Path]:
    """Image files (png/jpg) of a frame folder in natural order; DataError if there are none."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: frame folder not found")
    images = [p for p in directory.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    if not images:
        others = sorted(p.name for p in directory.iterdir())
        held = f"it holds {len(others)} other file(s): {', '.join(others[:3])}{' ...' if len(others) > 3 else ''}"
        raise DataError(
            f"{directory}: frame folder has no {'/'.join(IMAGE_EXTENSIONS)} images ({held if others else 'it is empty'})"
        )
    return sorted(images, key=lambda p: _natural_key(p.name))


def is_frame_folder(path: str | Path) -> bool:
    """True if ``path`` is a directory holding at least one png/jpg image."""
    path = Path(path)
    return path.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir())


def _read_image(path: Path, size: tuple[int, int] | None) -> np.ndarray:
    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"), dtype=np.uint8)  # [H, W, 3]
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot read image: {error}") from None
    if size is not None and array.shape[:2] != size:
        raise DataError(f"{path}: image size {array.shape[1]}x{array.shape[0]} differs from the "
                        f"first frame's {size[1]}x{size[0]}")  # fmt: skip
    return array


def iter_frame_folder(
    directory: str | Path, *, fps: float | None = None, source_fps: float = PHOENIX_FPS
) -> Iterator[np.ndarray]:
    """Yield the RGB frames ``uint8 [H, W, 3]`` of a frame folder, resampled to ``fps`` if given.

    Image ``i`` (in natural order) has timestamp ``i / source_fps``; resampling follows the same
    nearest-timestamp rule as videos.
    """
    directory = Path(directory)
    _check_range(directory, fps, None, None)
    if not source_fps > 0:
        raise DataError(f"{directory}: source_fps must be > 0, got {source_fps}")
    images = frame_folder_images(directory)
    timed = ((index / source_fps, image) for index, image in enumerate(images))
    size: tuple[int, int] | None = None
    for image_path in _select(timed, fps=fps, start=None, end=None, frame_period=1 / source_fps):
        frame = _read_image(image_path, size)
        size = frame.shape[:2]
        yield frame


def read_frame_folder(
    directory: str | Path, *, fps: float | None = None, source_fps: float = PHOENIX_FPS
) -> np.ndarray:
    """Read a folder of frame images (PHOENIX-2014-T style) into ``uint8 [T, H, W, 3]``.

    Args:
        directory: folder of ``.png``/``.jpg`` frames, sorted naturally (``images0001.png`` ...).
        fps: target frame rate; ``None`` (or equal to ``source_fps``) keeps every image.
        source_fps: the rate the frames were recorded at (PHOENIX-2014-T: 25).
    """
    return np.stack(list(iter_frame_folder(directory, fps=fps, source_fps=source_fps)))


def load_frames(
    path: str | Path, *, fps: float | None = None, folder_fps: float = PHOENIX_FPS
) -> tuple[np.ndarray, float]:
    """Frames of a video file or a frame folder: ``(uint8 [T, H, W, 3], fps)``."""
    path = Path(path)
    if path.is_dir():
        frames = read_frame_folder(path, fps=fps, source_fps=folder_fps)
        return frames, float(fps if fps is not None else folder_fps)
    return read_video(path, fps=fps)
