"""DTW post-processing speed: hours of signing aligned per hour of one CPU core.

Builds ``--hours`` of synthetic broadcast timeline at 25 fps (one subtitle every ~3.3 s, back to
back with short gaps, as signing-aligned subtitles are), perturbs every boundary with Gaussian
noise of ``--noise`` seconds (so neighbouring predictions overlap, touch or swap, as independent
20 s-window predictions do), and times :func:`glossfree.alignment.dtw.dtw_align` over the whole
timeline. Also times a worst case where every prediction is widened by 2 s each way, so that the
whole video is one chain of overlaps and the DP runs over every frame.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_alignment.py [--hours 1] [--repeats 3] [--json FILE]

Process CPU time is the figure (single-threaded numpy); wall time is printed beside it. Nothing
is asserted: the machine is shared, figures are reported.

With ``--model RUN --broadcast DIR`` it times the whole aligner instead, as ``glossfree align`` runs it
on every stream of a broadcast set (reading the windows, the model's constrained beam search, the
DTW): wall seconds per stream and hours of signing aligned per hour, with ``--threads`` threads.

    .venv/bin/python benchmarks/bench_alignment.py --model runs/ssa_tiny --broadcast bc_test --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _util import machine, machine_line, write_json

from glossfree.alignment.dtw import dtw_align

FPS = 25.0


def timeline(hours: float, noise_s: float, widen_s: float, seed: int) -> tuple[np.ndarray, int]:
    """``[K, 2]`` predicted spans (frames) and the number of frames of ``hours`` of signing."""
    rng = np.random.default_rng(seed)
    seconds = hours * 3600.0
    durations = rng.uniform(1.5, 5.0, size=int(seconds / 3.0) + 1)
    gaps = rng.uniform(0.0, 0.6, size=durations.size)
    starts = np.cumsum(np.concatenate([[0.5], (durations + gaps)[:-1]]))
    keep = starts + durations < seconds
    truth = np.stack([starts[keep], starts[keep] + durations[keep]], axis=1)
    predicted = truth + rng.normal(0.0, noise_s, size=truth.shape) + np.array([-widen_s, widen_s])
    return predicted * FPS, int(seconds * FPS)


def measure(spans: np.ndarray, num_frames: int, repeats: int) -> tuple[float, float]:
    """Median process-CPU and wall seconds of aligning ``spans``."""
    cpu, wall = [], []
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        out = dtw_align(spans, num_frames)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        assert (out[1:, 0] >= out[:-1, 1]).all()
    return statistics.median(cpu), statistics.median(wall)


def measure_aligner(run: str, root: str, threads: int) -> dict:
    """Wall seconds of :func:`align_pose_file` on every stream of a broadcast set (model + DTW)."""
    from pathlib import Path

    import torch

    from glossfree.inference.aligner import align_pose_file
    from glossfree.alignment.subtitles import read_subtitles
    from glossfree.inference.loading import load_trained
    from glossfree.data.multitask import read_stream_manifest

    torch.set_num_threads(threads)
    trained = load_trained(run)
    root_path = Path(root)
    entries = read_stream_manifest(root_path)
    signing = model_s = dtw_s = wall = 0.0
    for entry in entries:
        started = time.perf_counter()
        result = align_pose_file(trained, root_path / entry["pose"], read_subtitles(root_path / entry["audio"]))
        wall += time.perf_counter() - started
        model_s += result.seconds["model"]
        dtw_s += result.seconds["dtw"]
        signing += int(entry["num_frames"]) / float(entry["fps"])
    return {"streams": len(entries), "signing_s": signing, "wall_s": wall, "model_s": model_s, "dtw_s": dtw_s,
            "threads": threads, "hours_per_hour": signing / wall}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--noise", type=float, default=0.5, help="boundary noise, seconds (std)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--model", default=None, help="a trained SSA run: time the whole aligner instead of the DTW")
    parser.add_argument("--broadcast", default=None, help="with --model: a broadcast set to align")
    parser.add_argument("--threads", type=int, default=2, help="with --model: torch threads")
    args = parser.parse_args()

    info = machine()
    print(machine_line(info))
    results = {}
    if args.model:
        if not args.broadcast:
            parser.error("--model needs --broadcast DIR")
        results = measure_aligner(args.model, args.broadcast, args.threads)
        print(f"aligner: {results['streams']} streams, {results['signing_s'] / 60:.1f} min of signing in "
              f"{results['wall_s']:.1f} s wall (model {results['model_s']:.1f} s, DTW {results['dtw_s']:.2f} s) -> "
              f"{results['hours_per_hour']:,.0f} hours of signing aligned per hour on {args.threads} thread(s)")  # fmt: skip
        if args.json:
            write_json(args.json, {"machine": info, "args": vars(args), "results": results})
        return
    for name, widen in (("typical", 0.0), ("worst (one chain)", 2.0)):
        spans, frames = timeline(args.hours, args.noise, widen, args.seed)
        overlaps = int((spans[1:, 0] < spans[:-1, 1]).sum())
        cpu, wall = measure(spans, frames, args.repeats)
        rate = args.hours * 3600.0 / cpu
        results[name] = {"subtitles": len(spans), "frames": frames, "overlapping_neighbours": overlaps,
                         "cpu_s": cpu, "wall_s": wall, "hours_per_hour": rate}  # fmt: skip
        print(
            f"{name:18s} {args.hours:g} h, {len(spans)} subtitles, {overlaps} overlapping neighbours: "
            f"{cpu:.3f} s CPU ({wall:.3f} s wall) -> {rate:,.0f} hours of signing aligned per hour on 1 core"
        )
    if args.json:
        write_json(args.json, {"machine": info, "args": vars(args), "results": results})


if __name__ == "__main__":
    main()
