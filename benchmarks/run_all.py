"""Run every benchmark in sequence and print a summary (``make bench``).

Order: the demo (its trained model is then reused), training throughput, translation real-time
factor on the demo model, then the pseudo-gloss and pose-extraction benchmarks when their scripts
are present. Each script runs in its own process (fresh torch thread settings, no shared state)
and writes a JSON file of its figures, which the summary reads.

    .venv/bin/python benchmarks/run_all.py [--only demo,train,translate,pseudo_gloss,pose_extraction]
        [--keep DIR]

Exit status 1 if any benchmark failed; figures that miss a goal are reported, not failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import goal, machine, machine_line

HERE = Path(__file__).resolve().parent
NAMES = ("demo", "train", "translate", "pseudo_gloss", "pose_extraction")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(NAMES), help="comma-separated subset of " + ", ".join(NAMES))
    parser.add_argument("--keep", type=Path, default=None, help="keep the demo run and JSON results here")
    args = parser.parse_args()
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(args.only) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    return args


def commands(work: Path, only: list[str]) -> list[tuple[str, list[str], Path | None]]:
    """(name, argv, JSON result path or None) of each benchmark to run."""
    demo_out = work / "demo_run"
    out = []
    if "demo" in only:
        out.append(("demo", ["bench_demo.py", "--out", str(demo_out)], work / "demo.json"))
    if "train" in only:
        out.append(("train", ["bench_train.py"], work / "train.json"))
    if "translate" in only:
        model = ["--model", str(demo_out / "run"), "--data", str(demo_out / "data")] if "demo" in only else []
        out.append(("translate", ["bench_translate.py", *model], work / "translate.json"))
    for name in ("pseudo_gloss", "pose_extraction"):
        if name in only and (HERE / f"bench_{name}.py").is_file():
            out.append((name, [f"bench_{name}.py"], None))
    return out


def run(name: str, argv: list[str], result: Path | None) -> tuple[float, int, str]:
    print(f"\n=== {name}: python benchmarks/{' '.join(argv)}", flush=True)
    cmd = [sys.executable, str(HERE / argv[0]), *argv[1:], *(["--json", str(result)] if result else [])]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    print(proc.stdout, end="")
    if proc.returncode != 0:
        print(proc.stderr, end="", file=sys.stderr)
    return seconds, proc.returncode, proc.stdout


def summary_lines(name: str, result: Path | None, stdout: str) -> list[str]:
    if result is None or not result.is_file():
        tail = [line for line in stdout.strip().splitlines() if line.strip()][-2:]
        return [f"  {line.strip()}" for line in tail]
    res = json.loads(result.read_text(encoding="utf-8"))
    if name == "demo":
        s = res["scores"]
        model, frequent, shuffled = (s[k] for k in s)
        return [
            f"  demo wall time {res['total_s']:.0f} s (goal <= 300 s: {goal(res['total_s'], 300, at_most=True)}); "
            + ", ".join(f"{k} {v:.0f} s" for k, v in res["phases_s"].items()),
            f"  test BLEU-4 {model['bleu4']:.2f} (goal >= 30: {goal(model['bleu4'], 30, at_most=False)}), "
            f"ROUGE-L {model['rouge_l']:.2f}; baselines BLEU-4 {frequent['bleu4']:.2f} (most frequent) / "
            f"{shuffled['bleu4']:.2f} (shuffled)",
        ]
    if name == "train":
        rates = ", ".join(
            f"{t} thread(s) {s['samples_per_s']:.2f} samples/s = {s['frames_per_s']:.0f} frames/s"
            for t, s in res["threads"].items()
        )
        speedup = (f"; {'/'.join(res['threads'])} threads ratio {res['speedup']:.2f}x (total time), "
                   f"{res['speedup_median_step']:.2f}x (median step)") if "speedup" in res else ""
        return [f"  {rates}{speedup}"]
    if name == "translate":
        lines = [f"  RTF from .pose {res['pose']['rtf']:.3f} (goal <= 0.5: {goal(res['pose']['rtf'], 0.5, at_most=True)})"]
        video = res.get("video")
        if isinstance(video, dict):
            parts = ", ".join(f"{k} {v:.3f}" for k, v in video["breakdown_rtf"].items())
            lines.append(f"  RTF from video {video['rtf']:.3f} (goal <= 1.0: {goal(video['rtf'], 1.0, at_most=True)}); {parts}")
        else:
            lines.append(f"  video: {video}")
        return lines
    return []


def main() -> None:
    args = parse_args()
    context = tempfile.TemporaryDirectory(prefix="glossfree-bench-") if args.keep is None else None
    work = Path(context.name) if context else args.keep
    work.mkdir(parents=True, exist_ok=True)
    outcomes = []
    try:
        for name, argv, result in commands(work, args.only):
            seconds, code, stdout = run(name, argv, result)
            outcomes.append((name, seconds, code, summary_lines(name, result, stdout) if code == 0 else []))
    finally:
        print("\n=== summary")
        print(machine_line(machine()))
        for name, seconds, code, lines in outcomes:
            print(f"{name} ({seconds:.0f} s): {'ok' if code == 0 else f'FAILED (exit {code})'}")
            for line in lines:
                print(line)
        if context:
            context.cleanup()
    if any(code != 0 for _, _, code, _ in outcomes):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
