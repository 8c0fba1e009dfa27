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


def _cue_name(index: int, cue: Cue) -> str:
    """``"cue 3 (line 12, 4.300-6.100 s)"``: its number in the file, and its line when read from one."""
    line = f"line {cue.line}, " if cue.line is not None else ""
    return f"cue {index + 1} ({line}{cue.start:.3f}-{cue.end:.3f} s)"


def in_time_order(cues: Sequence[Cue]) -> tuple[list[Cue], str | None]:
    """``cues`` sorted by start time (stably), and a note naming the cues that were out of order
    (None when none was): the DTW keeps the subtitles' order, so a cue listed after a later one
    would be squeezed in behind it."""
    late, latest = [], float("-inf")
    for k, cue in enumerate(cues):
        if cue.start < latest:
            late.append(k)
        latest = max(latest, cue.start)
    if not late:
        return list(cues), None
    shown = "; ".join(f"{_cue_name(k, cues[k])}" for k in late[:3]) + (" ..." if len(late) > 3 else "")
    note = (f"{len(late)} subtitle cue(s) start before a cue listed above them ({shown}); aligned and "
            "written in time order")  # fmt: skip
    return sorted(cues, key=lambda cue: cue.start), note


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
        decode_target(answer, window, fallback=(prior.start, prior.end)) if prior.text.strip()
        else DecodedSpan(prior.start, prior.end, parsed=False, reason=f"{_cue_name(k, prior)} has no text: nothing to look for")
        for k, (prior, answer, window) in enumerate(zip(priors, answers, windows, strict=True))
    ]  # fmt: skip
    spans = np.array([(d.start, d.end) for d in decoded], dtype=np.float64).reshape(-1, 2) * fps
    frames = dtw_align(spans, num_frames, rho=rho)
    cues = [
        Cue(first / fps, stop / fps, prior.text, prior.identifier)
        for prior, (first, stop) in zip(priors, frames.tolist(), strict=True)
    ]
    return AlignedStream(cues, decoded)
