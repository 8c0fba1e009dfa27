"""MediaPipe Holistic extraction: components and values as pose-format writes them, no-person and
broken inputs, sharding, resume, and the ``glossfree poses`` command.

MediaPipe runs on the real 58-frame sample once (module fixture); other runs use tiny black clips.
Tests that run MediaPipe are skipped when the ``[video]`` extra is not installed.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from glossfree.cli.data_commands import register
from glossfree.data.pose_estimation import (
    ExtractionSummary,
    collect_inputs,
    estimate_poses,
    extract_poses,
    frames_to_pose_timed,
    has_person,
    output_path,
    shard_inputs,
    video_to_pose,
)
from glossfree.data.pose_io import read_pose
from glossfree.data.video import read_video
from glossfree.errors import ConfigError, DataError

needs_mediapipe = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None, reason="MediaPipe ([video] extra) not installed"
)

COMPONENTS = [
    ("POSE_LANDMARKS", 33),
    ("FACE_LANDMARKS", 468),
    ("LEFT_HAND_LANDMARKS", 21),
    ("RIGHT_HAND_LANDMARKS", 21),
    ("POSE_WORLD_LANDMARKS", 33),
]
HANDS = slice(33 + 468, 33 + 468 + 42)


def write_black_video(path: Path, *, frames: int = 6, fps: int = 10) -> Path:
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    for _ in range(frames):
        image = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
        for packet in stream.encode(image):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


@pytest.fixture(scope="module")
def sample_video(samples_dir: Path) -> Path:
    path = samples_dir / "pose-format" / "tests" / "test_video.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="module")
def extraction(tmp_path_factory: pytest.TempPathFactory, sample_video: Path):
    """One extract_poses run over: the real sample, a black clip, an empty and a corrupt file."""
    base = tmp_path_factory.mktemp("poses")
    inputs = base / "inputs"
    inputs.mkdir()
    blank = write_black_video(inputs / "blank.mp4")
    (inputs / "empty.mp4").write_bytes(b"")
    (inputs / "corrupt.mp4").write_bytes(bytes(range(256)) * 8)
    paths = [sample_video, blank, inputs / "empty.mp4", inputs / "corrupt.mp4"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = extract_poses(paths, base / "out", progress=False)
    return {"summary": summary, "out": base / "out", "inputs": paths, "warnings": caught, "blank": blank}


@needs_mediapipe
def test_summary_counts_every_input(extraction) -> None:
    summary: ExtractionSummary = extraction["summary"]
    assert summary.done == 2 and summary.skipped_existing == 0 and summary.total == 4
    failed = {path.name: reason for path, reason in summary.failed}
    assert set(failed) == {"empty.mp4", "corrupt.mp4"}
    assert "empty.mp4: video file is empty" in failed["empty.mp4"]
    assert "corrupt.mp4: cannot open video" in failed["corrupt.mp4"]
    assert summary.no_person == [extraction["blank"]]
    assert sorted(p.name for p in extraction["out"].iterdir()) == ["blank.pose", "test_video.pose"]


@needs_mediapipe
def test_real_video_pose(extraction) -> None:
    pose = read_pose(extraction["out"] / "test_video.pose")
    assert [(c.name, len(c.points), c.format) for c in pose.header.components] == [
        (name, count, "XYZC") for name, count in COMPONENTS
    ]
    assert (pose.header.dimensions.width, pose.header.dimensions.height) == (540, 720)
    assert pose.body.fps == pytest.approx(359 / 12)
    assert pose.body.data.shape == (58, 1, 576, 3)
    confidence = np.asarray(pose.body.confidence)[:, 0]  # [T, 576]
    assert (confidence[:, :33] > 0).all(axis=1).mean() > 0.9  # a person in (nearly) every frame
    hands = (confidence[:, HANDS] > 0).any(axis=1)
    assert 0 < hands.sum()  # hands detected in some frames
    body = np.asarray(pose.body.data)[:, 0, :33]  # [T, 33, 3] pixel coordinates
    assert 0 < np.median(body[..., 0]) < 540 and 0 < np.median(body[..., 1]) < 720
    assert (pose.body.data.mask[:, 0, :, 0] == (confidence == 0)).all()  # undetected = masked


@needs_mediapipe
def test_matches_pose_format_reference_writer(extraction, sample_video: Path) -> None:
    """Same numbers as pose_format.utils.holistic.load_holistic (the writer of the real samples)."""
    from pose_format.utils.holistic import load_holistic

    frames, fps = read_video(sample_video)
    reference = load_holistic(
        list(frames[:8]), fps=fps, width=540, height=720,
        additional_holistic_config={"static_image_mode": False}, reuse=False,
    )  # fmt: skip
    ours = read_pose(extraction["out"] / "test_video.pose")
    assert [c.points for c in ours.header.components] == [c.points for c in reference.header.components]
    assert [c.limbs for c in ours.header.components] == [c.limbs for c in reference.header.components]
    np.testing.assert_array_equal(ours.body.confidence[:8], reference.body.confidence)
    np.testing.assert_allclose(ours.body.data.filled(0)[:8], reference.body.data.filled(0), atol=1e-3)


@needs_mediapipe
def test_no_person_gives_all_masked_pose_and_warning(extraction) -> None:
    pose = read_pose(extraction["out"] / "blank.pose")
    assert pose.body.data.shape == (6, 1, 576, 3)
    assert not has_person(pose) and pose.body.data.mask.all()
    messages = [str(w.message) for w in extraction["warnings"]]
    assert any("blank.mp4: no person detected in any of 6 frames" in m for m in messages)


@needs_mediapipe
def test_resume_skips_existing_outputs(extraction) -> None:
    out = extraction["out"]
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    summary = extract_poses(extraction["inputs"], out, progress=False)
    assert (summary.done, summary.skipped_existing, len(summary.failed)) == (0, 2, 2)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


@needs_mediapipe
def test_overwrite_re_estimates(extraction) -> None:
    with pytest.warns(UserWarning, match="no person detected"):
        summary = extract_poses([extraction["blank"]], extraction["out"], overwrite=True, progress=False)
    assert (summary.done, summary.skipped_existing) == (1, 0)


def test_shards_are_disjoint_and_cover_everything() -> None:
    inputs = [Path(f"v{i}.mp4") for i in range(7)]
    shards = [shard_inputs(inputs, num_shards=3, shard_index=i) for i in range(3)]
    assert sorted(p for shard in shards for p in shard) == sorted(inputs)
    assert [len(s) for s in shards] == [3, 2, 2]
    assert shards[1] == [Path("v1.mp4"), Path("v4.mp4")]
    with pytest.raises(ConfigError, match=r"--shard-index must be in \[0, 2\], got 3"):
        shard_inputs(inputs, num_shards=3, shard_index=3)
    with pytest.raises(ConfigError, match="--num-shards must be >= 1"):
        shard_inputs(inputs, num_shards=0, shard_index=0)


@needs_mediapipe
def test_sharded_extraction_end_to_end(tmp_path: Path) -> None:
    inputs = [write_black_video(tmp_path / f"b{i}.mp4", frames=2) for i in range(3)]
    frames = tmp_path / "folder"  # a PHOENIX-style frame folder is an input too
    frames.mkdir()
    for i in range(3):
        Image.fromarray(np.zeros((20, 16, 3), np.uint8)).save(frames / f"images{i + 1:04d}.png")
    inputs.append(frames)
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = extract_poses(inputs, out, num_shards=2, shard_index=0, progress=False)
        second = extract_poses(inputs, out, num_shards=2, shard_index=1, progress=False)
    assert first.done == 2 and second.done == 2
    assert sorted(p.name for p in out.iterdir()) == ["b0.pose", "b1.pose", "b2.pose", "folder.pose"]
    folder_pose = read_pose(out / "folder.pose")
    assert folder_pose.body.fps == 25.0 and folder_pose.body.data.shape[0] == 3
    assert (folder_pose.header.dimensions.width, folder_pose.header.dimensions.height) == (16, 20)


def test_collect_inputs(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.mp4").write_bytes(b"x")
    (videos / "notes.txt").write_text("not a video")
    folder = videos / "clip"
    folder.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / "images0001.png")
    assert collect_inputs([videos]) == [videos / "a.mp4", folder]
    assert collect_inputs([folder, videos / "a.mp4", tmp_path / "gone.mp4"]) == sorted(
        [folder, videos / "a.mp4", tmp_path / "gone.mp4"]
    )
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match="nothing: no video files"):
        collect_inputs([tmp_path / "nothing"])
    assert output_path(videos / "a.mp4", tmp_path) == tmp_path / "a.pose"
    assert output_path(folder, tmp_path) == tmp_path / "clip.pose"


def test_clashing_output_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="would both be written to .*x.pose"):
        extract_poses([tmp_path / "a" / "x.mp4", tmp_path / "b" / "x.mp4"], tmp_path / "out", progress=False)


@needs_mediapipe
def test_estimate_poses_checks_frame_shape() -> None:
    with pytest.raises(DataError, match=r"frame 0: expected uint8 \[48, 64, 3\], got uint8 \[48, 60, 3\]"):
        estimate_poses(np.zeros((1, 48, 60, 3), np.uint8), fps=25, width=64, height=48)


def test_missing_mediapipe_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mediapipe.python.solutions.holistic", None)
    with pytest.raises(ImportError, match=r"pip install 'glossfree\[video\]'"):
        estimate_poses(np.zeros((1, 8, 8, 3), np.uint8), fps=25, width=8, height=8)


@needs_mediapipe
def test_frames_to_pose_timed_reports_decode_seconds(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="black.mp4: no person detected"):
        pose, decode_seconds = frames_to_pose_timed(write_black_video(tmp_path / "black.mp4", frames=3))
    assert pose.body.data.shape == (3, 1, 576, 3)
    assert 0 < decode_seconds < 60


def test_video_to_pose_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.mp4: video file not found"):
        video_to_pose(tmp_path / "nope.mp4")


# ------------------------------------------------------------------------------------ CLI


@needs_mediapipe
def test_cli_poses(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    blank = write_black_video(tmp_path / "blank.mp4", frames=2)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = runner.invoke(app, ["poses", str(blank), str(bad), "--out", str(tmp_path / "out"),
                                     "--no-progress"])  # fmt: skip
    assert result.exit_code == 1, result.output  # a partial failure shows in the exit code
    assert "no person detected" in result.output and "bad.mp4: video file is empty" in result.output
    assert "1 of 2 inputs failed" in result.output
    assert (tmp_path / "out" / "blank.pose").is_file()

    result = runner.invoke(app, ["poses", str(blank), "--out", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 0, result.output  # already there

    result = runner.invoke(app, ["poses", str(bad), "--out", str(tmp_path / "out2"), "--no-progress"])
    assert result.exit_code == 1 and "1 of 1 inputs failed" in result.output

    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["poses", str(blank), "--out", str(tmp_path / "file" / "out")])
    assert result.exit_code == 2
    assert "file/out: cannot create the --out folder: " in result.output and "is a file" in result.output

    result = runner.invoke(app, ["poses", str(blank), "--out", str(tmp_path / "out"), "--num-shards", "2",
                                 "--shard-index", "5"])  # fmt: skip
    assert result.exit_code == 2 and "--shard-index must be in [0, 1], got 5" in result.output
    shutil.rmtree(tmp_path / "out")


@needs_mediapipe
def test_cli_poses_counts_a_truncated_video_as_failed(tmp_path: Path, sample_video: Path) -> None:
    truncated = tmp_path / "trunc.mp4"  # `head -c 170000 test_video.mp4`: 22 of 58 frames decode
    truncated.write_bytes(sample_video.read_bytes()[:170_000])
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["poses", str(truncated), "--out", str(tmp_path / "out"), "--no-progress"])
    assert result.exit_code == 1
    assert "trunc.mp4: the video is truncated or corrupt: decoding stopped at 0.74 s of the 1.94 s" in result.output
    assert not (tmp_path / "out" / "trunc.pose").exists()


@needs_mediapipe
def test_mediapipe_log_noise_is_dropped(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    video = write_black_video(tmp_path / "black.mp4", frames=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        video_to_pose(video)
        print("kept", file=sys.stderr)
    err = capfd.readouterr().err
    assert "W0000" not in err and "Feedback manager" not in err and "XNNPACK" not in err
    assert "kept" in err
