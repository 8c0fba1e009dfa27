"""End to end on a generated stream: windows, answers, decoding, DTW, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from glossfree.alignment.align import align_stream, in_time_order
from glossfree.alignment.metrics import ssa_scores
from glossfree.alignment.subtitles import Cue
from glossfree.alignment.windows import encode_target, ssa_windows
from glossfree.data.synth.broadcast import BroadcastConfig, synthesize_stream
from glossfree.errors import DataError


@pytest.fixture(scope="module")
def stream():
    stream, _ = synthesize_stream(BroadcastConfig(sentences_per_stream=8, seed=7), 0)
    return stream


def _answers(stream, truth):
    windows = ssa_windows(stream.audio, num_frames=stream.num_frames, fps=stream.fps)
    return [encode_target(t.start, t.end, w) for t, w in zip(truth, windows, strict=True)]


def test_oracle_answers_give_perfect_alignment_and_beat_the_audio_prior(stream):
    answers = _answers(stream, stream.signing)
    assert None not in answers  # every true span lies in its 20 s window (lag <= 4.5 s)
    aligned = align_stream(stream.audio, answers, num_frames=stream.num_frames, fps=stream.fps)
    assert aligned.fallbacks == []
    assert [c.text for c in aligned.cues] == [c.text for c in stream.audio]
    perfect = ssa_scores(aligned.cues, stream.signing, num_frames=stream.num_frames, fps=stream.fps)
    assert (perfect.frame_accuracy, perfect.cb_accuracy, perfect.f1[0.5]) == (100.0, 100.0, 100.0)
    prior = ssa_scores(stream.audio, stream.signing, num_frames=stream.num_frames, fps=stream.fps)
    assert prior.f1[0.5] < 100.0 and prior.frame_accuracy < 100.0


def test_noisy_overlapping_answers_are_made_clean_and_a_bad_answer_falls_back(stream):
    rng = np.random.default_rng(0)
    # every predicted span widened by ~1 s each way: neighbours overlap
    noisy = [Cue(t.start - rng.uniform(0.5, 1.5), t.end + rng.uniform(0.5, 1.5), t.text) for t in stream.signing]
    answers = _answers(stream, noisy)
    answers[3] = "garbage"
    aligned = align_stream(stream.audio, answers, num_frames=stream.num_frames, fps=stream.fps)
    assert aligned.fallbacks == [3]
    assert "garbage" in aligned.decoded[3].reason
    starts = [c.start for c in aligned.cues]
    ends = [c.end for c in aligned.cues]
    assert all(e > s for s, e in zip(starts, ends)) and all(ends[k] <= starts[k + 1] for k in range(len(ends) - 1))
    scores = ssa_scores(aligned.cues, stream.signing, num_frames=stream.num_frames, fps=stream.fps)
    assert scores.f1[0.1] >= 80.0


def test_counts_must_match(stream):
    with pytest.raises(DataError, match="2 answers for 8 subtitles"):
        align_stream(stream.audio, ["000-001"] * 2, num_frames=stream.num_frames, fps=stream.fps)


def test_cues_out_of_time_order_are_sorted_and_named():
    """Issue 23, 3: the DTW keeps the subtitles' order, so they are put in time order first."""
    from glossfree.alignment.subtitles import parse_vtt

    cues = parse_vtt("WEBVTT\n\n00:13.200 --> 00:14.280\nlate\n\n00:04.300 --> 00:06.680\nearly\n")
    ordered, note = in_time_order(cues)
    assert [c.text for c in ordered] == ["early", "late"]
    assert note == ("1 subtitle cue(s) start before a cue listed above them (cue 2 (line 6, 4.300-6.680 s)); "
                    "aligned and written in time order")
    assert in_time_order(ordered) == (ordered, None)


def test_a_cue_without_text_is_named():
    """Issue 23, 5: not "unusable SSA answer ''"."""
    cues = [Cue(1.0, 2.0, "a"), Cue(3.0, 4.0, " ", line=7)]
    aligned = align_stream(cues, ["", ""], num_frames=200, fps=25.0)
    assert aligned.decoded[0].reason.startswith("unusable SSA answer ''")  # the model's answer was empty
    assert aligned.decoded[1].reason == "cue 2 (line 7, 3.000-4.000 s) has no text: nothing to look for"
    assert aligned.fallbacks == [0, 1]
