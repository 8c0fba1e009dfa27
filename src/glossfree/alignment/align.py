"""From a model's SSA answers to signing-aligned subtitles (paper 004 Sec. 4.2, "Inference").

For each audio-aligned (prior) subtitle the model sees the 20 s window centred on it
(:func:`glossfree.alignment.windows.ssa_windows`) and answers ``"sss-eee"``. :func:`align_stream`
turns the answers back into stream time (an unusable answer falls back to the prior's own times,
clipped to the stream), then runs the DTW post-processing over the whole stream so that the
subtitles keep their order and never overlap (:func:`glossfree.alignment.dtw.dtw_align`).
Whatever produces the answers - the trained model, or in tests an oracle - is the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glossfree.alignment.dtw import RHO, dtw_align
from glossfree.alignment.subtitles import Cue
from glossfree.alignment.windows import DecodedSpan, Window, decode_target, ssa_windows
from glossfree.errors import DataError


@dataclass(frozen=True)
class AlignedStream:
    """Signing-aligned cues (the priors' texts and identifiers) and how each answer was read."""

    cues: list[Cue]
    decoded: list[DecodedSpan]

    @property
    def fallbacks(self) -> list[int]:
        """Indices of subtitles whose answer was unusable (their prior timing was used)."""
        return [k for k, span in enumerate(self.decoded) if not span.parsed]


def align_stream(priors: Sequence[Cue], answers: Sequence[str], *, num_frames: int, fps: float,
                 windows: Sequence[Window] | None = None, rho: float = RHO) -> AlignedStream:  # fmt: skip
    """Signing-aligned subtitles of one stream from the model's answers for its prior subtitles.

    ``windows`` are the windows the answers refer to (default: :func:`ssa_windows` of the priors,
    the paper's 20 s centred windows).
    """
    if len(answers) != len(priors):
        raise DataError(f"{len(answers)} answers for {len(priors)} subtitles")
    windows = list(windows) if windows is not None else ssa_windows(priors, num_frames=num_frames, fps=fps)
    if len(windows) != len(priors):
        raise DataError(f"{len(windows)} windows for {len(priors)} subtitles")
    decoded = [
        decode_target(answer, window, fallback=(prior.start, prior.end))
        for prior, answer, window in zip(priors, answers, windows, strict=True)
    ]
    spans = np.array([(d.start, d.end) for d in decoded], dtype=np.float64).reshape(-1, 2) * fps
    frames = dtw_align(spans, num_frames, rho=rho)
    cues = [
        Cue(first / fps, stop / fps, prior.text, prior.identifier)
        for prior, (first, stop) in zip(priors, frames.tolist(), strict=True)
    ]
    return AlignedStream(cues, decoded)
