"""The number a trained aligner must beat: audio-aligned subtitles scored as if they were the alignment.

SSA starts from audio-aligned subtitles (paper 004 Sec. 4.2 centres its windows on them), so the
first baseline is to keep them as they are; the second shifts every subtitle later by one global
offset (a "prior shift"; a constant offset needs no model). Both are scored against the true
signing spans with :mod:`glossfree.alignment.metrics` over each whole stream.

    python -m glossfree.alignment.baseline OUT_DIR [--generate] [--num-streams 50] [--seed 0] [--shift 2.5]

With ``--generate`` a broadcast set (:func:`glossfree.data.synth.broadcast.generate_broadcast`) is
written to ``OUT_DIR`` first (``--overwrite`` replaces one); the scores are printed and written to
``OUT_DIR/baseline_scores.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from glossfree.alignment.metrics import SSAScores, SSAStatistics
from glossfree.alignment.subtitles import Cue, read_subtitles
from glossfree.data.synth.broadcast import read_broadcast_manifest
from glossfree.errors import DataError
from glossfree.io import atomic_write_json


def shifted(cues: list[Cue], shift: float, duration: float) -> list[Cue]:
    """``cues`` moved ``shift`` seconds later, clipped to ``[0, duration]``."""
    out = []
    for cue in cues:
        start = min(max(cue.start + shift, 0.0), duration)
        out.append(Cue(start, min(max(cue.end + shift, start), duration), cue.text, cue.identifier))
    return out


def score_audio_baseline(root: str | Path, *, shift: float = 0.0) -> SSAScores:
    """SSA scores of the audio-aligned subtitles (moved ``shift`` s later) against the signing ones."""
    root = Path(root)
    stats = SSAStatistics()
    for entry in read_broadcast_manifest(root):
        truth = read_subtitles(root / entry["signing"])
        audio = read_subtitles(root / entry["audio"])
        if [c.text for c in audio] != [c.text for c in truth]:
            raise DataError(
                f"{root / entry['audio']}: subtitles differ from {entry['signing']} (same texts, same order expected)"
            )
        fps, frames = float(entry["fps"]), int(entry["num_frames"])
        stats.add(shifted(audio, shift, frames / fps), truth, num_frames=frames, fps=fps)
    return stats.scores()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SSA baseline: audio-aligned subtitles vs true signing spans")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--generate", action="store_true", help="write a broadcast set to OUT_DIR first")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--num-streams", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shift", type=float, default=None,
                        help="also score the audio subtitles moved this many seconds later "
                             "(default: the middle of the configured lag range)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.generate:
        from glossfree.data.synth.broadcast import BroadcastConfig, generate_broadcast

        generate_broadcast(args.out_dir, BroadcastConfig(num_streams=args.num_streams, seed=args.seed),
                           overwrite=args.overwrite)  # fmt: skip
    from glossfree.io import read_json

    config = read_json(args.out_dir / "broadcast_config.json", what="broadcast config")
    shift = args.shift if args.shift is not None else sum(config["lag_s"]) / 2
    rows = {"audio-aligned": score_audio_baseline(args.out_dir),
            f"audio + {shift:g} s shift": score_audio_baseline(args.out_dir, shift=shift)}  # fmt: skip
    first = next(iter(rows.values()))
    print(f"{first.streams} streams, {first.subtitles} subtitles, {first.frames} frames")
    print(f"{'baseline':24s}   Acc CB-Acc F1@.10 F1@.25 F1@.50")
    for name, scores in rows.items():
        print(f"{name:24s} {scores.row()}")
    atomic_write_json(args.out_dir / "baseline_scores.json", {name: s.as_dict() for name, s in rows.items()})


if __name__ == "__main__":
    main()
