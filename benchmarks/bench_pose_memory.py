"""Training memory and step time of the pose backbone's temporal modes (paper 004, App. B.3).

Paper 004 pre-trains its pose backbone for ISLR on 24-frame clips. For 500-frame inputs (20 s at
25 fps) it first slid the *whole backbone* over the input (window 24, stride 2: 29.6 GB at
batch 1), then ran the per-frame part (articulator AGCN encoders) over all 500 frames at once and
slid only the Conformer (5.6 GB). This script measures three ways of running the backbone on one
paper-size input, with paper 004's widths (:class:`PoseBackboneConfig` defaults, ``dim`` 512):

- ``backbone_on_windows``: keypoints cut into windows, the whole backbone (AGCN + Conformer) on
  each window: the paper's 29.6 GB setting;
- ``conformer_on_windows``: AGCN over all frames, Conformer on windows (``conformer.windowed``,
  App. B.3, the 5.6 GB setting; ``phoenix14t.yaml``);
- ``whole_sequence``: AGCN over all frames, Conformer over the whole sequence (glossfree's
  default for other recipes).

Memory is the activations saved for backward (``_memory.SavedActivations``: exact, deterministic),
counted on the ``meta`` device so that the paper-size input needs no real memory, split into the
per-frame part (AGCN, fusion) and the Conformer. Step time (forward + backward, ``train()`` mode,
real CPU tensors) is measured for the two modes that share the per-frame pass, on a smaller batch
(``--time-batch``): the Conformer alone at ``--time-frames`` and the whole backbone at
``--time-backbone-frames`` (a 500-frame backbone step needs ~15 GB of RAM on CPU), alternating the
modes over ``--rounds``.

    .venv/bin/python benchmarks/bench_pose_memory.py [--frames 500] [--batch 8] [--window 24]
        [--stride 2] [--time-batch 1] [--time-frames 500] [--time-backbone-frames 116]
        [--rounds 2] [--json FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from _memory import SavedActivations, gib, parameter_bytes
from _util import CpuMeter, cpu_line, machine, machine_line, median, write_json
from glossfree.models.frontends.pose_backbone import PoseBackbone, PoseBackboneConfig
from glossfree.models.temporal.conformer import ConformerWindows

MODES = ("backbone_on_windows", "conformer_on_windows", "whole_sequence")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=500, help="input frames (paper: 20 s at 25 fps)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--window", type=int, default=24)
    parser.add_argument("--stride", type=int, default=2)
    parser.add_argument("--time-batch", type=int, default=1, help="batch of the CPU step-time runs")
    parser.add_argument("--time-frames", type=int, default=None, help="frames of the Conformer step-time runs (default --frames)")
    parser.add_argument("--time-backbone-frames", type=int, default=116, help="frames of the whole-backbone step-time runs")
    parser.add_argument("--rounds", type=int, default=2, help="alternating timing rounds (0: memory only)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default torch's; 1 on a shared machine)")
    args = parser.parse_args()
    args.time_frames = args.time_frames or args.frames
    return args


def inputs(batch: int, frames: int, points: int, device: str):
    keypoints = torch.randn(batch, frames, points, 3, device=device)
    keypoint_mask = torch.ones(batch, frames, points, dtype=torch.bool, device=device)
    frame_mask = torch.ones(batch, frames, dtype=torch.bool, device=device)
    return keypoints, keypoint_mask, frame_mask


def cut_windows(tensor: torch.Tensor, window: int, stride: int) -> torch.Tensor:
    """[B, T, ...] -> [B * n, window, ...]: the windows of the paper's sliding-backbone setting."""
    moved = tensor.unfold(1, window, stride)  # [B, n, ..., W]
    moved = moved.movedim(-1, 2)  # [B, n, W, ...]
    return moved.flatten(0, 1)


def run_mode(backbone: PoseBackbone, mode: str, windows: ConformerWindows, keypoints, keypoint_mask, frame_mask):
    """One forward pass; returns (per-frame part bytes, Conformer bytes, output) of saved activations."""
    if mode == "backbone_on_windows":
        keypoints = cut_windows(keypoints, windows.window, windows.stride)
        keypoint_mask = cut_windows(keypoint_mask, windows.window, windows.stride)
        frame_mask = cut_windows(frame_mask, windows.window, windows.stride)
    with SavedActivations(backbone) as per_frame:
        hidden = backbone.frame_features(keypoints, keypoint_mask, frame_mask)
    with SavedActivations(backbone) as conformer:
        if mode == "conformer_on_windows":
            out = backbone.conformer.encode_windows(hidden, frame_mask, windows)
        else:
            out = backbone.conformer.encode(hidden, frame_mask)
    return per_frame.bytes, conformer.bytes, out


def measure_memory(args, config: PoseBackboneConfig, windows: ConformerWindows) -> dict:
    with torch.device("meta"):
        backbone = PoseBackbone(config, "pose203").train()
    data = inputs(args.batch, args.frames, backbone.layout.num_points, "meta")
    rows = {}
    for mode in MODES:
        per_frame, conformer, _ = run_mode(backbone, mode, windows, *data)
        rows[mode] = {"per_frame_gib": gib(per_frame), "conformer_gib": gib(conformer), "total_gib": gib(per_frame + conformer)}
    return {"rows": rows, "parameters_gib": gib(parameter_bytes([backbone]))}


def time_step(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure_time(args, config: PoseBackboneConfig, windows: ConformerWindows) -> dict:
    torch.manual_seed(0)
    backbone = PoseBackbone(config, "pose203").train()
    keypoints, keypoint_mask, frame_mask = inputs(
        args.time_batch, args.time_backbone_frames, backbone.layout.num_points, "cpu"
    )
    hidden = torch.randn(args.time_batch, args.time_frames, config.dim, requires_grad=True)
    hidden_mask = torch.ones(args.time_batch, args.time_frames, dtype=torch.bool)

    def conformer_only(mode):
        def step():
            out = backbone.conformer.encode_windows(hidden, hidden_mask, windows) if mode == "conformer_on_windows" \
                else backbone.conformer.encode(hidden, hidden_mask)
            out.square().mean().backward()
        return step

    def full(mode):
        def step():
            backbone.zero_grad(set_to_none=True)
            out = run_mode(backbone, mode, windows, keypoints, keypoint_mask, frame_mask)[2]
            out.square().mean().backward()
        return step

    jobs = {f"{part}:{mode}": (conformer_only if part == "conformer" else full)(mode)
            for part in ("conformer", "backbone") for mode in ("conformer_on_windows", "whole_sequence")}
    for job in jobs.values():  # warm-up
        job()
    seconds = {name: [] for name in jobs}
    with CpuMeter() as meter:
        for _ in range(args.rounds):
            for name, job in jobs.items():
                seconds[name].append(time_step(job))
    return {"seconds": {name: median(values) for name, values in seconds.items()}, "cpu": meter.result()}


def main() -> None:
    args = parse_args()
    from glossfree.threads import set_threads

    set_threads(args.threads)
    config = PoseBackboneConfig()
    windows = ConformerWindows(window=args.window, stride=args.stride)
    info = machine()
    print(machine_line(info))
    print(
        f"pose backbone at paper 004 widths (dim {config.dim}, AGCN {config.agcn_channels}x{config.agcn_multipliers}, "
        f"{config.conformer.num_layers} Conformer blocks), {args.frames} frames, batch {args.batch}, "
        f"window {args.window}, stride {args.stride}; fp32 activations saved for backward (meta device, exact)"
    )
    memory = measure_memory(args, config, windows)
    rows = memory["rows"]
    print(f"{'mode':<22} {'per-frame part GiB':>19} {'Conformer GiB':>14} {'total GiB':>10} {'x conformer_on_windows':>23}")
    base = rows["conformer_on_windows"]["total_gib"]
    for mode, row in rows.items():
        print(f"{mode:<22} {row['per_frame_gib']:>19.2f} {row['conformer_gib']:>14.2f} {row['total_gib']:>10.2f} {row['total_gib'] / base:>22.2f}x")
    print(f"parameters: {memory['parameters_gib']:.3f} GiB (+ as much again for gradients, twice for AdamW state)")
    print(f"paper 004 App. B.3 (batch 1, their full pipeline): backbone_on_windows 29.6 GB -> conformer_on_windows 5.6 GB = {29.6 / 5.6:.2f}x")
    results = {"machine": info, "args": vars(args) | {"json": str(args.json) if args.json else None}, "memory": memory}
    if args.rounds > 0:
        timing = measure_time(args, config, windows)
        s = timing["seconds"]
        print(f"step time, forward + backward, CPU, batch {args.time_batch}, median of {args.rounds}:")
        for part, frames in (("conformer", args.time_frames), ("backbone", args.time_backbone_frames)):
            win, whole = s[f"{part}:conformer_on_windows"], s[f"{part}:whole_sequence"]
            print(
                f"  {part:<9} {frames:>4} frames: conformer_on_windows {win:7.2f} s   "
                f"whole_sequence {whole:7.2f} s   ratio {win / whole:.2f}x"
            )
        print(cpu_line(timing["cpu"]))
        results["timing"] = timing
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
