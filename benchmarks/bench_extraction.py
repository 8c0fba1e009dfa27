"""Feature extraction throughput (frames/s) of SpaMo's tiny extractors on the CPU (issue 26).

Two figures per built-in extractor config (``spamo/clip_tiny``: CLIP with S2 at 32 and 64 px,
``spamo/videomae_tiny``: VideoMAE on 16-frame clips, stride 8; ``spamo/pose_spatial`` /
``spamo/pose_motion``: the fixed pose encodings of ``spamo/poses_mid``):

- **model**: ``extractor.extract`` on frames already in memory (64x64 RGB, or keypoints already
  loaded), the frozen model alone, median of ``--repeats`` after one warm-up;
- **end to end**: ``extract_features`` over a small synthetic corpus with stick-figure videos (and
  poses): decoding, preprocessing, the model and the atomic cache writes, a fresh cache each time.

Frames/s counts input frames (a VideoMAE clip of 16 frames starts every 8). ``OMP_NUM_THREADS``
follows ``--threads`` (default 1: the machine is shared).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_extraction.py [--frames 256] [--repeats 5]
        [--samples 12] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import CpuMeter, cpu_line, machine, machine_line, median, write_json  # noqa: E402

from glossfree.features.config import load_extractor_config  # noqa: E402
from glossfree.features.extract import extract_features  # noqa: E402
from glossfree.features.extractors import build_extractor  # noqa: E402

VIDEO = ("spamo/clip_tiny", "spamo/videomae_tiny")
POSE = ("spamo/pose_spatial", "spamo/pose_motion")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=256, help="frames per in-memory run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--samples", type=int, default=12, help="train samples of the end-to-end corpus")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median(times)


def corpus(root: Path, samples: int) -> int:
    from glossfree.data.synth import SynthConfig, generate_corpus

    config = SynthConfig(seed=0, num_train=samples, num_dev=0, num_test=0, fps=12.5, width=64, height=64,
                         render_video=True, face_points="contours")  # fmt: skip
    summary = generate_corpus(root, config, progress=False)
    return round(summary.mean_frames * samples)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(args.frames, 64, 64, 3), dtype=np.uint8)
    res: dict = {"machine": machine(), "frames": args.frames, "threads": args.threads, "model": {}, "end_to_end": {}}
    print(machine_line(res["machine"]))
    with CpuMeter() as meter, tempfile.TemporaryDirectory(prefix="glossfree-bench-extract-") as tmp:
        root = Path(tmp) / "data"
        total = corpus(root, args.samples)
        res["corpus_frames"] = total
        for name in VIDEO:
            extractor = build_extractor(load_extractor_config(name))
            seconds = timed(lambda e=extractor: e.extract(frames, batch_size=32), args.repeats)
            res["model"][name] = args.frames / seconds
        keypoints = build_extractor(load_extractor_config(POSE[0])).load(root / "poses" / "train-00000.pose")
        for name in POSE:
            extractor = build_extractor(load_extractor_config(name))
            seconds = timed(lambda e=extractor: e.encode(keypoints), args.repeats)
            res["model"][name] = keypoints.num_frames / seconds
        for name in (*VIDEO, *POSE):
            config = load_extractor_config(name)

            def run(config=config) -> None:
                shutil.rmtree(root / "features", ignore_errors=True)
                summary = extract_features(root, config, name="bench", progress=False)
                assert summary.written == args.samples and not summary.failed, summary.failed

            res["end_to_end"][name] = total / timed(run, max(1, args.repeats // 2))
    res["cpu"] = meter.result()
    print(f"{'extractor':<22} {'model frames/s':>15} {'end to end frames/s':>20}")
    for name in (*VIDEO, *POSE):
        print(f"{name:<22} {res['model'][name]:>15.1f} {res['end_to_end'][name]:>20.1f}")
    print(f"end to end: {args.samples} stick-figure videos of 64x64 at 12.5 fps, {total} frames")
    print(cpu_line(res["cpu"]))
    if args.json:
        write_json(args.json, res)


if __name__ == "__main__":
    main()
