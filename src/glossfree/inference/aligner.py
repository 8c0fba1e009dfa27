"""Align the subtitles of one signing stream with a trained multitask model (paper 004 Sec. 4.2).

For each audio-aligned (prior) subtitle, the model reads the window centred on it (the window
length its recipe trained with, ``data.ssa.window_s``) with the SSA prompt (subtitle text and the
prior's frames in the window), and answers ``"sss-eee"`` by beam search; the answers are batched.
Windows and answers count frames at the recipe's ``data.ssa.answer_fps``, so a stream at another
frame rate than the training streams gets answers in the unit the model learnt. Cues listed out of
time order are sorted by start time first (the result's ``warnings`` names them).
:func:`glossfree.alignment.align.align_stream` then decodes them (an unusable answer, or a
subtitle with no text, keeps the prior's timing and is counted) and runs the DTW over the stream.

Windows are read from the stream's ``.pose`` file exactly as training read them
(``PoseDataset(use_span=True)``, resampled to the model's frame rate); a video is first turned
into a ``.pose`` file with MediaPipe (the ``video`` extra).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from glossfree.alignment.align import AlignedStream, align_stream, in_time_order
from glossfree.alignment.subtitles import Cue
from glossfree.alignment.windows import Window, frames_at, ssa_windows
from glossfree.data.datasets import PoseDataset
from glossfree.data.manifest import Record
from glossfree.data.multitask import MultitaskDataset, collate_multitask, prior_frames
from glossfree.data.pose_io import read_pose_info
from glossfree.errors import ConfigError, DataError
from glossfree.inference.loading import load_trained
from glossfree.inference.translator import VIDEO_SUFFIXES, estimate_poses
from glossfree.objectives.ssa_soft_digits import answer_format_constraint


@dataclass
class AlignmentResult:
    """The aligned cues of one stream, the raw answers, and what fell back to the prior."""

    input: str
    aligned: AlignedStream
    answers: list[str]
    windows: list[Window]
    num_frames: int
    fps: float
    window_s: float
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def cues(self) -> list[Cue]:
        return self.aligned.cues

    def summary(self) -> dict[str, Any]:
        fallbacks = self.aligned.fallbacks
        return {
            "input": self.input,
            "subtitles": len(self.cues),
            "fallbacks": len(fallbacks),
            "fallback_subtitles": fallbacks,
            "fallback_reasons": [self.aligned.decoded[k].reason for k in fallbacks],
            "num_frames": self.num_frames,
            "fps": self.fps,
            "window_s": self.window_s,
            "seconds": self.seconds,
            "warnings": self.warnings,
        }


def _ssa_settings(trained):
    ssa = trained.recipe.data.ssa
    if ssa is None:
        raise ConfigError(
            f"{trained.path}: this model was not trained for alignment (its recipe has no data.ssa); "
            "train a multitask recipe such as pose_perceiver/ssa_tiny"
        )
    return ssa


def align_pose_file(trained, pose_path: str | Path, priors: Sequence[Cue], *, num_beams: int | None = None,
                    batch_size: int = 16, language: str | None = None, constrained: bool = True,
                    progress: Callable[[Sequence[Any]], Any] | None = None) -> AlignmentResult:  # fmt: skip
    """Signing-aligned cues for ``priors`` on the stream in ``pose_path`` (see the module docstring).

    ``constrained`` restricts beam search to the answer format (:func:`answer_format_constraint`;
    glossfree's addition: paper 004 decodes freely and a malformed answer falls back to the prior).
    ``progress`` wraps the list of batches (e.g. ``rich.progress.track``).
    """
    start_time = time.perf_counter()
    pose_path = Path(pose_path).resolve()
    ssa = _ssa_settings(trained)
    window_s, rate = float(ssa.window_s), float(ssa.answer_fps)
    if not priors:
        raise DataError("no subtitles to align")
    priors, out_of_order = in_time_order(priors)
    info = read_pose_info(pose_path)
    if not info.fps > 0:
        raise DataError(f"{pose_path}: the pose header gives {info.fps:g} fps; the subtitle times cannot be placed")
    fps, frames = float(info.fps), int(info.num_frames)
    # windows and answers count frames at the model's answer rate; the poses are read by time
    windows = ssa_windows(priors, num_frames=frames_at(frames, fps, rate), fps=rate, seconds=window_s)
    recipe = trained.recipe
    lang = language or ssa.language
    records, rows = [], []
    for k, (prior, window) in enumerate(zip(priors, windows, strict=True)):
        if not prior.text.strip():
            continue  # nothing to look for: keeps its prior timing (counted as a fallback)
        records.append(Record(
            id=f"{k:05d}", split="align", text="", language=lang, pose=str(pose_path), start=window.start_s,
            end=window.end_s, extra={"task": "ssa", "subtitle": prior.text,
                                     "prior": list(prior_frames(prior.start, prior.end, window.start, window.num_frames, rate))},
        ))  # fmt: skip
        rows.append(k)
    answers = [""] * len(priors)
    if records:
        poses = PoseDataset(records, "/", layout=recipe.model.layout, normalize=recipe.data.normalize,
                            fps=trained.fps, use_span=True, allow_missing=True)  # fmt: skip
        dataset = MultitaskDataset(poses, sample_prior=False)
        batches = [list(range(i, min(i + batch_size, len(dataset)))) for i in range(0, len(dataset), batch_size)]
        model = trained.model
        device = next(model.parameters()).device
        constraint = answer_format_constraint(model.lm) if constrained else None
        iterator = progress(batches) if progress is not None else batches
        with torch.inference_mode():
            for indices in iterator:
                batch = collate_multitask([dataset[i] for i in indices]).to(device)
                for i, text in zip(indices, model.generate(batch, num_beams=num_beams, prefix_allowed_tokens_fn=constraint), strict=True):
                    answers[rows[i]] = text
    model_s = time.perf_counter() - start_time
    aligned = align_stream(priors, answers, num_frames=frames, fps=fps, windows=windows)
    seconds = {"model": model_s, "dtw": time.perf_counter() - start_time - model_s}
    return AlignmentResult(str(pose_path), aligned, answers, windows, frames, fps, window_s, seconds,
                           warnings=[out_of_order] if out_of_order else [])  # fmt: skip


def video_to_pose_file(video: str | Path, out_dir: str | Path) -> Path:
    """MediaPipe poses of a whole video at its own frame rate, written to ``out_dir/<stem>.pose``."""

    pose, _ = estimate_poses(Path(video), fps=None)
    path = Path(out_dir) / f"{Path(video).stem}.pose"
    with open(path, "wb") as handle:
        pose.write(handle)
    return path


def align_file(trained, input_path: str | Path, priors: Sequence[Cue], **kwargs) -> AlignmentResult:
    """:func:`align_pose_file` on a ``.pose`` file or a video (poses estimated first)."""

    input_path = Path(input_path)
    if not input_path.is_file():
        raise DataError(f"{input_path}: no such input file")
    suffix = input_path.suffix.lower()
    if suffix == ".pose":
        return align_pose_file(trained, input_path, priors, **kwargs)
    if suffix in VIDEO_SUFFIXES:
        with tempfile.TemporaryDirectory(prefix="glossfree-align-") as tmp:
            result = align_pose_file(trained, video_to_pose_file(input_path, tmp), priors, **kwargs)
        result.input = str(input_path)
        return result
    raise DataError(f"{input_path}: cannot align this input; give a .pose file or a video ({', '.join(VIDEO_SUFFIXES)})")


def score_broadcast(trained, root: str | Path, *, num_beams: int | None = None, batch_size: int = 16,
                    max_streams: int | None = None, constrained: bool = True) -> dict[str, Any]:  # fmt: skip
    """Align every stream of a broadcast set (``glossfree.data.synth.broadcast``) and score the
    aligned subtitles against the true signing spans, beside the audio-aligned baseline
    (:mod:`glossfree.alignment.metrics`, pooled over streams). Returns ``{"aligned", "audio",
    "fallbacks", "subtitles"}`` with :class:`~glossfree.alignment.metrics.SSAScores` as dicts."""
    from glossfree.alignment.metrics import SSAStatistics
    from glossfree.alignment.subtitles import read_subtitles
    from glossfree.data.multitask import read_stream_manifest

    root = Path(root)
    aligned, audio = SSAStatistics(), SSAStatistics()
    fallbacks = subtitles = 0
    for entry in read_stream_manifest(root)[:max_streams]:
        truth, priors = read_subtitles(root / entry["signing"]), read_subtitles(root / entry["audio"])
        result = align_pose_file(trained, root / entry["pose"], priors, num_beams=num_beams, batch_size=batch_size,
                                 constrained=constrained)  # fmt: skip
        frames, fps = int(entry["num_frames"]), float(entry["fps"])
        aligned.add(result.cues, truth, num_frames=frames, fps=fps)
        audio.add(priors, truth, num_frames=frames, fps=fps)
        fallbacks += len(result.aligned.fallbacks)
        subtitles += len(priors)
    return {"aligned": aligned.scores().as_dict(), "audio": audio.scores().as_dict(), "fallbacks": fallbacks,
            "subtitles": subtitles}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """``python -m glossfree.inference.aligner MODEL BROADCAST_DIR``: aligned vs audio-aligned scores."""
    import argparse
    import json


    parser = argparse.ArgumentParser(description="SSA scores of a trained model on a broadcast set")
    parser.add_argument("model", type=Path)
    parser.add_argument("broadcast_dir", type=Path)
    parser.add_argument("--num-beams", type=int, default=None)
    parser.add_argument("--max-streams", type=int, default=None)
    parser.add_argument("--free", action="store_true", help="decode without the answer-format constraint")
    args = parser.parse_args(argv)
    scores = score_broadcast(load_trained(args.model), args.broadcast_dir, num_beams=args.num_beams,
                             max_streams=args.max_streams, constrained=not args.free)  # fmt: skip
    print(json.dumps(scores, indent=1))


if __name__ == "__main__":
    main()
