"""Audio-aligned baseline scoring on generated broadcast streams."""

from __future__ import annotations

import json

import pytest

from glossfree.alignment.baseline import main, score_audio_baseline, shifted
from glossfree.alignment.subtitles import Cue
from glossfree.data.synth.broadcast import BroadcastConfig, generate_broadcast


def test_shifting_by_the_exact_lag_recovers_the_signing_spans(tmp_path):
    # No jitter and one fixed lag: the audio subtitles are the signing spans moved 2 s earlier.
    config = BroadcastConfig(num_streams=2, sentences_per_stream=4, lag_s=(2.0, 2.0), jitter_s=0.0, seed=5)
    generate_broadcast(tmp_path, config)
    exact = score_audio_baseline(tmp_path, shift=2.0)
    assert exact.frame_accuracy == pytest.approx(100.0)
    assert exact.cb_accuracy == pytest.approx(100.0)
    assert exact.f1 == {0.10: 100.0, 0.25: 100.0, 0.50: 100.0}
    unshifted = score_audio_baseline(tmp_path)
    assert unshifted.frame_accuracy < 90 and unshifted.f1[0.5] < 50
    assert (unshifted.streams, unshifted.subtitles) == (2, 8)


def test_shifted_clips_to_the_stream():
    cues = [Cue(0.5, 1.0, "a"), Cue(9.0, 9.8, "b")]
    assert shifted(cues, -1.0, 10.0) == [Cue(0.0, 0.0, "a"), Cue(8.0, 8.8, "b")]
    assert shifted(cues, 0.5, 10.0)[1] == Cue(9.5, 10.0, "b")


def test_command_generates_scores_and_writes_json(tmp_path, capsys):
    main([str(tmp_path), "--generate", "--num-streams", "2", "--seed", "1"])
    printed = capsys.readouterr().out
    assert "audio-aligned" in printed and "audio + 2.5 s shift" in printed
    data = json.loads((tmp_path / "baseline_scores.json").read_text())
    assert set(data) == {"audio-aligned", "audio + 2.5 s shift"}
    assert data["audio-aligned"]["streams"] == 2
