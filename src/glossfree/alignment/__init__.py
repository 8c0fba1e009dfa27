"""Sign-subtitle alignment (SSA, paper 004): everything around the model that predicts the timestamps.

- :mod:`.subtitles` - WebVTT / SRT cues in and out;
- :mod:`.windows` - the 20 s window centred on each audio-aligned subtitle and the ``sss-eee``
  answer format, both ways;
- :mod:`.dtw` - the plateau-decay probability map (rho = 0.2) and the DTW that makes predicted
  spans ordered and non-overlapping;
- :mod:`.align` - answers -> decoded spans -> DTW -> signing-aligned cues for a stream;
- :mod:`.metrics` - frame accuracy, class-balanced accuracy, F1@{0.10, 0.25, 0.50};
- :mod:`.baseline` - the audio-aligned baseline on synthetic broadcast streams
  (:mod:`glossfree.data.synth.broadcast`).

- :mod:`.aligner` - a trained multitask (SLT + SSA) model's answers for a stream -> aligned cues
  (``glossfree align``); the model is the SLT model trained on mixed batches
  (:mod:`glossfree.data.multitask`, objective ``ssa_soft_digits``); see ``docs/alignment.md``.
"""

from glossfree.alignment.align import AlignedStream, align_stream
from glossfree.alignment.dtw import RHO, align_subtitles, dtw_align, plateau_decay, probability_map
from glossfree.alignment.metrics import F1_THRESHOLDS, SSAScores, SSAStatistics, frame_labels, ssa_scores
from glossfree.alignment.subtitles import Cue, parse_srt, parse_vtt, read_subtitles, write_subtitles
from glossfree.alignment.windows import (
    DecodedSpan,
    Window,
    decode_target,
    encode_target,
    ssa_window,
    ssa_windows,
)

__all__ = [
    "F1_THRESHOLDS",
    "RHO",
    "AlignedStream",
    "Cue",
    "DecodedSpan",
    "SSAScores",
    "SSAStatistics",
    "Window",
    "align_stream",
    "align_subtitles",
    "decode_target",
    "dtw_align",
    "encode_target",
    "frame_labels",
    "parse_srt",
    "parse_vtt",
    "plateau_decay",
    "probability_map",
    "read_subtitles",
    "ssa_scores",
    "ssa_window",
    "ssa_windows",
    "write_subtitles",
]
