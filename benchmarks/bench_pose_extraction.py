"""Pose extraction speed: frames per second of decoding alone and of decoding + MediaPipe Holistic.

Runs ``glossfree.data.pose_estimation.video_to_pose`` (PyAV decode, upright RGB frames, Holistic
``model_complexity=1``, pose-format body) on a video, several times, and prints the median rate.
By default the video is the real 58-frame 540x720 sample from ``shared/data/samples`` (found
beside the checkout, or under ``$GLOSSFREE_SHARED``).

    .venv/bin/python benchmarks/bench_pose_extraction.py [--video PATH] [--repeats 3] [--fps 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

from glossfree.data.pose_estimation import video_to_pose
from glossfree.data.video import iter_video_frames, probe_video


def default_video() -> Path:
    shared = os.environ.get("GLOSSFREE_SHARED")
    root = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return root / "data" / "samples" / "pose-format" / "tests" / "test_video.mp4"


def rate(frames: int, seconds: list[float]) -> float:
    return frames / statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, default=default_video())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fps", type=float, default=None, help="resample to this rate first")
    args = parser.parse_args()
    if not args.video.is_file():
        parser.error(f"{args.video}: video not found (pass --video or set GLOSSFREE_SHARED)")

    info = probe_video(args.video)
    video_to_pose(args.video, fps=args.fps)  # warm-up: MediaPipe graph and model loading

    decode, holistic = [], []
    frames = 0
    for _ in range(args.repeats):
        start = time.perf_counter()
        frames = sum(1 for _ in iter_video_frames(args.video, fps=args.fps))
        decode.append(time.perf_counter() - start)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pose = video_to_pose(args.video, fps=args.fps)
        holistic.append(time.perf_counter() - start)
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"video: {args.video.name}, {info.width}x{info.height}, {info.fps:.2f} fps, "
          f"{frames} frames per run, {args.repeats} runs, {threads} CPU threads available")  # fmt: skip
    print(f"decode only:              {rate(frames, decode):8.1f} frames/s")
    print(f"decode + holistic + pose: {rate(frames, holistic):8.1f} frames/s "
          f"(median {statistics.median(holistic):.2f} s per run, {len(pose.body.data)} pose frames)")  # fmt: skip


if __name__ == "__main__":
    main()
