"""``glossfree translate`` real-time factor: from ``.pose`` files, and from a video with pose extraction.

Real-time factor (RTF) = processing time / duration of the signing; below 1 is faster than real
time. Goals on 2 cores: RTF <= 0.5 from ``.pose``, RTF <= 1.0 from ``.mp4`` including MediaPipe
pose estimation. Both go through :class:`glossfree.inference.translator.Translator` (the code
path of ``glossfree translate``), whose ``TranslationResult.timings_s`` gives the breakdown
(decode = read the ``.pose`` / decode the video; poses = MediaPipe Holistic; model = keypoints +
beam search).

The model is ``--model`` (a run or model folder), else ``demo_run/run`` when it exists, else the
demo is run first into ``demo_run`` (as ``glossfree demo`` does). The ``.pose`` inputs are the test
split of ``--data``, else of the dataset the model was trained on (recorded in its recipe), else of
a small synthetic corpus generated here. The video part runs when MediaPipe is importable and the
video exists (``--video``, default: the real sample video of ``shared/data/samples``).

    .venv/bin/python benchmarks/bench_translate.py [--model RUN] [--data ROOT] [--files 8]
        [--threads 2,1] [--video PATH] [--video-repeats 3] [--json FILE]

``--threads 2,1``: the ``.pose`` files are translated at each torch thread count, alternating file
by file (side by side); the first count is the headline figure and the one used for the video.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import traceback
from pathlib import Path

import torch

from _util import CpuMeter, cpu_line, goal, machine, machine_line, median, write_json

GOAL_POSE_RTF = 0.5
GOAL_VIDEO_RTF = 1.0


def default_video() -> Path:
    """The real sample video (``$GLOSSFREE_SHARED`` or ``shared/`` beside the checkout)."""
    shared = os.environ.get("GLOSSFREE_SHARED")
    root = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return root / "data" / "samples" / "pose-format" / "tests" / "test_video.mp4"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="run or model folder (default: demo_run/run)")
    parser.add_argument("--data", type=Path, default=None, help="dataset root whose test split is translated")
    parser.add_argument("--split", default="test")
    parser.add_argument("--files", type=int, default=8, help="number of .pose files translated")
    parser.add_argument("--threads", default="2,1", help="torch thread counts (first = headline)")
    parser.add_argument("--video", type=Path, default=default_video())
    parser.add_argument("--video-repeats", type=int, default=3, help="timed runs on the video after a cold one")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    if not args.threads or min(args.files, *args.threads, args.video_repeats) < 1:
        parser.error("--files, --threads and --video-repeats must be positive")
    return args


def resolve_model(path: Path | None) -> tuple[Path, str]:
    """The model folder to benchmark, and how it was found."""
    from glossfree.checkpoint import find_model_dir

    if path is not None:
        return find_model_dir(path), "--model"
    demo_run = Path("demo_run")
    try:
        return find_model_dir(demo_run / "run"), "existing demo_run/run"
    except Exception:  # noqa: BLE001 - no finished demo here: train it
        pass
    from rich.console import Console

    from glossfree.demo import run_demo

    print("no --model and no trained demo_run/run here: running the demo first (a few minutes)")
    run_demo(demo_run, seed=0, progress=False, console=Console(quiet=True))
    return find_model_dir(demo_run / "run"), "demo run by this benchmark into demo_run"


def pose_files(trained, data: Path | None, split: str, count: int, tmp: Path) -> tuple[list[Path], str]:
    """``count`` .pose files of the split, from --data, the model's dataset, or a fresh synthetic corpus."""
    from glossfree.data.manifest import load_split

    candidates = [(data, "--data")] if data is not None else []
    if data is None and trained.recipe.data.root is not None:
        candidates.append((Path(trained.recipe.data.root), "the model's training dataset"))
    for root, origin in candidates:
        try:
            records = load_split(root, split)
        except Exception:  # noqa: BLE001 - fall through to the next source
            if origin == "--data":
                raise
            continue
        files = [root / str(r.pose) for r in records if r.pose is not None][:count]
        if files and all(f.is_file() for f in files):
            return files, f"{split} split of {root} ({origin})"
    from glossfree.data.synth import SynthConfig, generate_corpus

    root = tmp / "synth"
    generate_corpus(root, SynthConfig(seed=12345, num_train=0, num_dev=0, num_test=count), progress=False)
    records = load_split(root, split)
    return [root / str(r.pose) for r in records if r.pose is not None][:count], f"fresh synthetic corpus ({split} split)"


def aggregate(results: list) -> dict:
    """Total RTF (all processing / all signing), per-file median and max, breakdown shares."""
    processing = sum(sum(r.timings_s.values()) for r in results)
    duration = sum(r.duration_s for r in results)
    parts: dict[str, float] = {}
    for r in results:
        for name, seconds in r.timings_s.items():
            parts[name] = parts.get(name, 0.0) + seconds
    per_file = [r.real_time_factor for r in results]
    return {
        "mean_output_words": sum(len(r.text.split()) for r in results) / len(results),
        "files": len(results),
        "frames": sum(r.num_frames for r in results),
        "signing_s": duration,
        "processing_s": processing,
        "rtf": processing / duration,
        "rtf_median": median(per_file),
        "rtf_max": max(per_file),
        "breakdown_s": parts,
        "breakdown_rtf": {name: seconds / duration for name, seconds in parts.items()},
    }


def num_beams(translator) -> int | str:
    """Beams used: the translator's, else the model's own generation setting."""
    if translator.num_beams:
        return translator.num_beams
    generation = getattr(translator.trained.recipe.model.lm, "generation", None)
    return getattr(generation, "num_beams", "model default")


def bench_poses(translator, files: list[Path], threads: list[int]) -> dict[str, dict]:
    """Each file at each thread count in turn (side by side); aggregated per thread count."""
    results: dict[int, list] = {count: [] for count in threads}
    for count in threads:
        torch.set_num_threads(count)
        translator.translate(files[0])  # warm-up: first-call allocations, lazy imports, thread pool
    for path in files:
        for count in threads:
            torch.set_num_threads(count)
            results[count].append(translator.translate(path))
    torch.set_num_threads(threads[0])
    return {str(count): aggregate(runs) for count, runs in results.items()}


def bench_video(translator, video: Path, repeats: int) -> dict:
    cold = translator.translate(video)  # MediaPipe graph and model loading happen here
    warm = [translator.translate(video) for _ in range(repeats)]
    out = aggregate(warm)
    out.update(cold_rtf=cold.real_time_factor, cold_breakdown_s=dict(cold.timings_s), text=warm[-1].text,
               fps=warm[-1].fps, frames_per_run=warm[-1].num_frames, repeats=repeats)  # fmt: skip
    return out


def video_part(translator, video: Path, repeats: int) -> dict | str:
    """The video figures, or why there are none (a failure is printed with its traceback)."""
    if importlib.util.find_spec("mediapipe") is None:
        return "skipped: mediapipe is not installed (pip install 'glossfree[video]')"
    if not video.is_file():
        return f"skipped: {video} not found (pass --video)"
    try:
        return bench_video(translator, video, repeats)
    except Exception as error:  # noqa: BLE001 - reported with its traceback, exit status 1
        traceback.print_exc()
        return f"FAILED: {type(error).__name__}: {error}"


def print_part(title: str, part: dict, goal_rtf: float) -> None:
    print(f"\n{title}: {part['files']} runs, {part['frames']} frames, {part['signing_s']:.1f} s of signing")
    print(f"  real-time factor {part['rtf']:.3f} (per run: median {part['rtf_median']:.3f}, max "
          f"{part['rtf_max']:.3f}); goal <= {goal_rtf}: {goal(part['rtf'], goal_rtf, at_most=True)}")  # fmt: skip
    breakdown = ", ".join(f"{name} {rtf:.3f}" for name, rtf in part["breakdown_rtf"].items())
    print(f"  breakdown (RTF): {breakdown}; {part['mean_output_words']:.1f} words generated per input")


def report(res: dict) -> None:
    print(machine_line(res["machine"]))
    print(f"model: {res['model']} ({res['model_origin']}); torch threads {res['threads'][0]}; "
          f"beams {res['num_beams']}")  # fmt: skip
    print(f"inputs: {res['pose_source']}")
    print_part(f"from .pose, {res['threads'][0]} torch threads", res["pose"], GOAL_POSE_RTF)
    for count, part in res["pose_by_threads"].items():
        if count != str(res["threads"][0]):
            ratio = part["rtf"] / res["pose"]["rtf"]
            print(f"  side by side, {count} torch thread(s): RTF {part['rtf']:.3f} (median {part['rtf_median']:.3f}); "
                  f"{ratio:.2f}x the time of {res['threads'][0]} threads")  # fmt: skip
    video = res.get("video")
    if isinstance(video, dict) and "rtf" in video:
        print_part(f"from video {Path(res['video_path']).name} (incl. MediaPipe pose estimation)", video, GOAL_VIDEO_RTF)
        cold = sum(video["cold_breakdown_s"].values())
        print(f"  cold first run (MediaPipe start-up): RTF {video['cold_rtf']:.3f} ({cold:.1f} s); "
              f"translation {video['text']!r}")  # fmt: skip
    else:
        print(f"\nfrom video: {video}")
    print(f"\n{cpu_line(res['cpu'])}")


def main() -> None:
    args = parse_args()
    from glossfree.inference.loading import load_trained
    from glossfree.inference.translator import Translator

    model_dir, origin = resolve_model(args.model)
    torch.set_num_threads(args.threads[0])
    trained = load_trained(model_dir)
    translator = Translator(trained)
    res: dict = {"benchmark": "translate", "machine": machine(), "model": str(model_dir), "model_origin": origin,
                 "threads": args.threads, "num_beams": num_beams(translator),
                 "goals": {"pose_rtf_at_most": GOAL_POSE_RTF, "video_rtf_at_most": GOAL_VIDEO_RTF}}  # fmt: skip
    with CpuMeter() as meter:
        with tempfile.TemporaryDirectory(prefix="glossfree-bench-translate-") as tmp:
            files, res["pose_source"] = pose_files(trained, args.data, args.split, args.files, Path(tmp))
            res["pose_by_threads"] = bench_poses(translator, files, args.threads)
            res["pose"] = res["pose_by_threads"][str(args.threads[0])]
        res["video_path"] = str(args.video)
        res["video"] = video_part(translator, args.video, args.video_repeats)
    res["cpu"] = meter.result()
    report(res)
    if args.json is not None:
        write_json(args.json, res)
    if isinstance(res["video"], str) and res["video"].startswith("FAILED"):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
