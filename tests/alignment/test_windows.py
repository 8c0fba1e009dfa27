"""SSA windows and the ``ddd-ddd`` answer format."""

from __future__ import annotations

import pytest

from glossfree.alignment.subtitles import Cue
from glossfree.alignment.windows import Window, decode_target, encode_target, frames_at, ssa_window, ssa_windows
from glossfree.errors import DataError

FPS = 25.0
STREAM = 60 * 25  # a 60 s stream


def test_window_is_20_s_centred_on_the_prior():
    window = ssa_window(30.0, 34.0, num_frames=STREAM, fps=FPS)  # midpoint 32 s -> 22..42 s
    assert window == Window(550, 1050, FPS)
    assert (window.num_frames, window.start_s, window.end_s) == (500, 22.0, 42.0)


def test_window_is_clipped_to_the_stream_or_shifted_inside():
    assert ssa_window(1.0, 3.0, num_frames=STREAM, fps=FPS) == Window(0, 300, FPS)  # -8..12 s
    assert ssa_window(57.0, 59.0, num_frames=STREAM, fps=FPS) == Window(1200, 1500, FPS)  # 48..68 s
    assert ssa_window(1.0, 3.0, num_frames=STREAM, fps=FPS, shift_at_edges=True) == Window(0, 500, FPS)
    assert ssa_window(57.0, 59.0, num_frames=STREAM, fps=FPS, shift_at_edges=True) == Window(1000, 1500, FPS)
    # a stream shorter than the window: the whole stream
    assert ssa_window(1.0, 2.0, num_frames=200, fps=FPS, shift_at_edges=True) == Window(0, 200, FPS)
    windows = ssa_windows([Cue(30.0, 34.0, "a"), (1.0, 3.0)], num_frames=STREAM, fps=FPS)
    assert windows == [Window(550, 1050, FPS), Window(0, 300, FPS)]


def test_window_errors():
    with pytest.raises(DataError, match="outside the stream"):
        ssa_window(100.0, 101.0, num_frames=STREAM, fps=FPS)
    with pytest.raises(DataError, match="3 digits reach 1000"):
        ssa_window(10.0, 11.0, num_frames=STREAM, fps=60.0)
    with pytest.raises(DataError, match="ends before it starts"):
        ssa_window(10.0, 9.0, num_frames=STREAM, fps=FPS)


def test_encode_and_decode_round_trip_to_frame_precision():
    window = Window(550, 1050, FPS)  # 22..42 s
    assert encode_target(23.0, 25.0, window) == "025-074"  # frames 575..624 inclusive
    decoded = decode_target("025-074", window)
    assert (decoded.start, decoded.end, decoded.parsed) == (23.0, 25.0, True)
    # a span sticking out of the window is clipped; one missing it has no answer
    assert encode_target(20.0, 22.4, window) == "000-009"
    assert encode_target(41.0, 50.0, window) == "475-499"
    assert encode_target(10.0, 21.0, window) is None
    assert encode_target(22.0, 22.0, window) is None  # empty span


def test_decode_clips_to_the_window_and_handles_bad_answers():
    short = Window(1200, 1500, FPS)  # 48..60 s, the clipped window at the stream end
    assert decode_target("290-650", short).end == 60.0
    assert decode_target("0 2 5 - 0 7 4", Window(550, 1050, FPS)).start == 23.0  # spaced digits
    for bad in ("", "12-34", "0012-0034", "abc-def", "074-025", "025-074 and more", "300-310"):
        with pytest.raises(DataError, match="unusable SSA answer"):
            decode_target(bad, short)
        fallback = decode_target(bad, short, fallback=(50.0, 52.0))
        assert (fallback.start, fallback.end, fallback.parsed) == (50.0, 52.0, False)
        assert "unusable SSA answer" in fallback.reason


def test_frames_at_another_rate_never_pass_the_end():
    assert frames_at(1000, 50.0, 25.0) == 500
    assert frames_at(1001, 50.0, 25.0) == 500  # 20.02 s: 500 whole frames at 25 fps
    assert frames_at(299, 29.97, 25.0) == 249  # 9.977 s -> 249.4 frames
    assert frames_at(250, 25.0, 25.0) == 250
    with pytest.raises(DataError, match="frame rates > 0"):
        frames_at(10, 0.0, 25.0)
