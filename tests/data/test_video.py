"""Video decoding: probe, read with fps resampling and time ranges, rotation, frame folders, errors."""

from __future__ import annotations

import inspect
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from glossfree.data.video import (
    VideoInfo,
    is_frame_folder,
    iter_video_frames,
    load_frames,
    probe_video,
    read_frame_folder,
    read_video,
    rotate_frame,
)
from glossfree.errors import DataError

LEVEL = 12  # frame i is filled with grey level i * LEVEL, so its index can be read back


def write_video(
    path: Path, frames: np.ndarray, fps: int, *, rotation: int | None = None, gop: int = 250
) -> Path:
    """Encode RGB frames [T, H, W, 3] losslessly-ish with PyAV (H.264, crf 0, keyframe every gop)."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps, options={"crf": "0", "g": str(gop)})
    stream.width, stream.height = frames.shape[2], frames.shape[1]
    stream.pix_fmt = "yuv420p"
    if rotation is not None:
        stream.set_display_rotation(rotation)
    for frame in frames:
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def grey_frames(count: int, height: int = 32, width: int = 48) -> np.ndarray:
    frames = np.zeros((count, height, width, 3), dtype=np.uint8)  # [T, H, W, 3]
    for index in range(count):
        frames[index] = index * LEVEL
    return frames


def indices(frames: np.ndarray) -> list[int]:
    """Frame indices read back from the grey levels."""
    return [int(round(float(frame.mean()) / LEVEL)) for frame in frames]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 frames at 30 fps, 48x32, frame i at grey level 12 i."""
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", grey_frames(20), 30)


def test_probe(clip: Path) -> None:
    info = probe_video(clip)
    assert isinstance(info, VideoInfo)
    assert (info.fps, info.num_frames, info.width, info.height, info.rotation) == (30.0, 20, 48, 32, 0)
    assert info.duration == pytest.approx(20 / 30, abs=1e-3)


def test_read_every_frame(clip: Path) -> None:
    frames, fps = read_video(clip)
    assert frames.dtype == np.uint8 and frames.shape == (20, 32, 48, 3)
    assert fps == 30.0
    assert indices(frames) == list(range(20))
    assert np.abs(frames.astype(int) - grey_frames(20)).max() <= 2  # crf 0: near lossless


@pytest.mark.parametrize(
    ("fps", "expected"),
    [
        (15, list(range(0, 20, 2))),  # 20 frames at 30 fps -> 10 frames
        (10, [0, 3, 6, 9, 12, 15, 18]),  # grid k/10 s < 2/3 s, nearest frame i/30 s
        (60, [i // 2 for i in range(40)]),  # upsampling repeats; ties go to the earlier frame
        (30, list(range(20))),
    ],
)
def test_fps_resampling_picks_nearest_frames(clip: Path, fps: float, expected: list[int]) -> None:
    frames, out_fps = read_video(clip, fps=fps)
    assert out_fps == fps
    assert indices(frames) == expected


def test_time_range_is_half_open(clip: Path) -> None:
    frames, _ = read_video(clip, start=0.2, end=0.4)  # frames 6/30 .. 11/30
    assert indices(frames) == [6, 7, 8, 9, 10, 11]
    frames, _ = read_video(clip, fps=15, start=0.2, end=0.4)  # grid 0.2, 0.267, 0.333
    assert indices(frames) == [6, 8, 10]
    frames, _ = read_video(clip, start=0.5)
    assert indices(frames) == [15, 16, 17, 18, 19]


def test_start_seeks_to_a_keyframe_and_decodes_from_there(tmp_path: Path) -> None:
    path = write_video(tmp_path / "gop.mp4", grey_frames(21), 10, gop=4)  # keyframes 0, 4, 8 ...
    frames, _ = read_video(path, start=1.05, end=1.65)  # frames 11..16 (t = i / 10 s)
    assert indices(frames) == [11, 12, 13, 14, 15, 16]
    frames, _ = read_video(path, fps=5, start=1.0)  # grid 1.0, 1.2, ... < 2.1 s
    assert indices(frames) == [10, 12, 14, 16, 18, 20]


def test_iter_video_frames_is_lazy(clip: Path) -> None:
    stream = iter_video_frames(clip, fps=15)
    assert inspect.isgenerator(stream)
    first = next(stream)
    assert first.shape == (32, 48, 3) and indices(first[None]) == [0]
    stream.close()  # stopping early closes the container


def test_rotate_frame_counter_clockwise() -> None:
    image = np.arange(6).reshape(2, 3, 1)  # [[0, 1, 2], [3, 4, 5]]
    assert rotate_frame(image, 90)[..., 0].tolist() == [[2, 5], [1, 4], [0, 3]]
    assert rotate_frame(image, 270)[..., 0].tolist() == [[3, 0], [4, 1], [5, 2]]
    assert rotate_frame(image, -90)[..., 0].tolist() == [[3, 0], [4, 1], [5, 2]]
    assert rotate_frame(image, 180)[..., 0].tolist() == [[5, 4, 3], [2, 1, 0]]
    assert rotate_frame(image, 0) is image
    assert rotate_frame(image, 90).flags["C_CONTIGUOUS"]


@pytest.mark.parametrize(("rotation", "expected", "bright_rows"), [(90, 90, (48, 64)), (-90, 270, (0, 16))])
def test_display_matrix_rotation_is_applied(
    tmp_path: Path, rotation: int, expected: int, bright_rows: tuple[int, int]
) -> None:
    frames = np.zeros((3, 32, 64, 3), dtype=np.uint8)  # landscape, bright left quarter
    frames[:, :, :16] = 255
    path = write_video(tmp_path / "rotated.mp4", frames, 30, rotation=rotation)
    info = probe_video(path)
    assert (info.rotation, info.width, info.height) == (expected, 32, 64)
    decoded, _ = read_video(path)
    assert decoded.shape == (3, 64, 32, 3)  # portrait, as a player shows it
    assert np.abs(decoded[0].astype(int) - rotate_frame(frames[0], expected)).max() <= 4
    rows = np.flatnonzero(decoded[0, :, :, 0].mean(axis=1) > 128)
    assert (rows.min(), rows.max() + 1) == bright_rows  # counter-clockwise 90: left -> bottom


def test_real_sample_video(samples_dir: Path) -> None:
    path = samples_dir / "pose-format" / "tests" / "test_video.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    info = probe_video(path)
    assert (info.width, info.height, info.num_frames, info.rotation) == (540, 720, 58, 0)
    assert info.fps == pytest.approx(359 / 12)
    frames, fps = read_video(path)
    assert frames.shape == (58, 720, 540, 3) and fps == pytest.approx(359 / 12)
    assert frames.std() > 10  # real content, not a blank decode
    half, _ = read_video(path, fps=15)
    assert len(half) == 30  # grid k/15 s below 58 / 29.92 s = 1.939 s


# ----------------------------------------------------------------------------------- errors


def test_missing_empty_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="missing.mp4: video file not found"):
        probe_video(tmp_path / "missing.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match="empty.mp4: video file is empty"):
        read_video(empty)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match="corrupt.mp4: cannot open video"):
        read_video(corrupt)
    with pytest.raises(DataError, match="is a directory"):
        probe_video(tmp_path)


def test_truncated_video_is_an_error_not_a_shorter_video(samples_dir: Path, tmp_path: Path) -> None:
    # FFmpeg stops quietly at the cut (the demuxer only logs "partial file"); the stream's declared
    # duration shows that frames are missing. `head -c 170000 test_video.mp4` keeps 22 of 58 frames.
    path = samples_dir / "pose-format" / "tests" / "test_video.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    truncated = tmp_path / "trunc.mp4"
    truncated.write_bytes(path.read_bytes()[:170_000])
    message = r"trunc.mp4: the video is truncated or corrupt: decoding stopped at 0.74 s of the 1.94 s"
    for fps in (None, 12.5):
        with pytest.raises(DataError, match=message):
            read_video(truncated, fps=fps)
    assert len(read_video(truncated, start=0.2, end=0.6)[0]) == 12  # the range before the cut is intact


def test_bad_ranges(clip: Path) -> None:
    with pytest.raises(DataError, match="clip.mp4: no frame in the requested range start=5"):
        read_video(clip, start=5.0)
    with pytest.raises(DataError, match=r"end \(0.1 s\) must be after start \(0.2 s\)"):
        read_video(clip, start=0.2, end=0.1)
    with pytest.raises(DataError, match="target fps must be > 0"):
        read_video(clip, fps=0)


# ----------------------------------------------------------------------------- frame folders


def write_folder(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    for index in range(count):  # unpadded names: natural order must put images2 before images10
        Image.fromarray(np.full((8, 6, 3), index * LEVEL, dtype=np.uint8)).save(folder / f"images{index + 1}.png")
    return folder


def test_frame_folder_natural_order_and_fps(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "name", 12)
    assert is_frame_folder(folder) and not is_frame_folder(tmp_path / "nothing")
    frames = read_frame_folder(folder)
    assert frames.shape == (12, 8, 6, 3) and frames.dtype == np.uint8
    assert indices(frames) == list(range(12))
    assert indices(read_frame_folder(folder, fps=12.5)) == list(range(0, 12, 2))  # 25 -> 12.5 fps
    assert indices(read_frame_folder(folder, fps=12.5, source_fps=12.5)) == list(range(12))
    loaded, fps = load_frames(folder)
    assert fps == 25.0 and len(loaded) == 12


def test_frame_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: frame folder has no"):
        read_frame_folder(tmp_path / "empty")
    with pytest.raises(DataError, match="absent: frame folder not found"):
        read_frame_folder(tmp_path / "absent")
    broken = write_folder(tmp_path / "broken", 2)
    (broken / "images3.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="images3.png: cannot read image"):
        read_frame_folder(broken)
    mixed = write_folder(tmp_path / "mixed", 2)
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(mixed / "images3.png")
    with pytest.raises(DataError, match="images3.png: image size 4x4 differs from the first frame's 6x8"):
        read_frame_folder(mixed)


def test_load_frames_dispatches_on_file(clip: Path) -> None:
    frames, fps = load_frames(clip, fps=15)
    assert len(frames) == 10 and fps == 15.0
