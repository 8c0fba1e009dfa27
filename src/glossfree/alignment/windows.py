"""SSA inference windows and the answer format: absolute times <-> frame indices in a window.

Paper 004 Sec. 4.2 ("Inference"): "For SSA, we centre the 20-second window around the midpoint
of the prior timing from audio-aligned subtitles". Sec. 3.4: the model answers "in a fixed
start-end format, where start and end denote the start and end frame indices within the input
sequence", each of three digits ("six digits (three for start, three for end)"); at 25 fps the
20 s window is 500 frames (Sec. 4.2, "Large-scale pretraining": 500 frames). The text format is
:func:`glossfree.text.prompts.format_ssa_target` (``"042-137"``: first and last frame, both
inclusive), shared with the training prompts.

Answers count frames at one **answer rate** (``ANSWER_FPS``, a recipe's ``data.ssa.answer_fps``), not
at each stream's own rate: windows are built at that rate (:func:`frames_at` gives a stream's length
in answer frames) and read from the stream by their times in seconds, so one model answers in one
unit on a 25 fps broadcast, a 30 fps phone video or a 50 fps camera.

A window is clipped to the stream, so near the start or end of a stream it is shorter than 20 s
(the prior stays at its centre unless the stream edge cuts it); with ``shift_at_edges`` it is
moved inside the stream instead, keeping its full length when the stream is long enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from glossfree.errors import DataError
from glossfree.text.prompts import format_ssa_target, parse_ssa_target

WINDOW_SECONDS = 20.0
"""Paper 004 Sec. 4.2: 20 s input windows."""

DIGITS = 3
"""Paper 004 Sec. 3.4: three digits per timestamp."""

ANSWER_FPS = 25.0
"""Paper 004: BOBSL's 25 fps, the rate its answers count frames at (a 20 s window = 500 frames)."""


def frames_at(num_frames: int, fps: float, rate: float) -> int:
    """Whole frames at ``rate`` that a stream of ``num_frames`` at ``fps`` spans (never past its end)."""
    if fps <= 0 or rate <= 0:
        raise DataError(f"need frame rates > 0, got {fps} and {rate}")
    return int(num_frames * rate / fps + 1e-9)


@dataclass(frozen=True)
class Window:
    """Frames ``[start, stop)`` of a stream at ``fps``."""

    start: int
    stop: int
    fps: float

    @property
    def num_frames(self) -> int:
        return self.stop - self.start

    @property
    def start_s(self) -> float:
        return self.start / self.fps

    @property
    def end_s(self) -> float:
        return self.stop / self.fps


@dataclass(frozen=True)
class DecodedSpan:
    """A model answer turned back into stream time. ``parsed`` is False when the answer was
    unusable and ``start``/``end`` are the fallback; ``reason`` then says why."""

    start: float
    end: float
    parsed: bool
    reason: str = ""


def ssa_window(prior_start: float, prior_end: float, *, num_frames: int, fps: float,
               seconds: float = WINDOW_SECONDS, shift_at_edges: bool = False) -> Window:  # fmt: skip
    """The ``seconds``-long window centred on the midpoint of a prior subtitle, within the stream."""
    if fps <= 0 or seconds <= 0 or num_frames <= 0:
        raise DataError(f"need fps, seconds and num_frames > 0, got {fps}, {seconds}, {num_frames}")
    if prior_end < prior_start:
        raise DataError(f"prior subtitle ends before it starts ({prior_start} -> {prior_end} s)")
    length = int(round(seconds * fps))
    if length > 10**DIGITS:
        raise DataError(f"a {seconds} s window at {fps} fps has {length} frames; {DIGITS} digits reach {10**DIGITS}")
    start = int(round((prior_start + prior_end) / 2 * fps - length / 2))
    if shift_at_edges:
        start = max(0, min(start, num_frames - length))
    first, stop = max(0, start), min(num_frames, start + length)
    if stop <= first:
        raise DataError(
            f"the prior subtitle {prior_start:.3f}-{prior_end:.3f} s lies outside the stream ({num_frames / fps:.3f} s)"
        )
    return Window(first, stop, fps)


def ssa_windows(priors: Sequence[Any], *, num_frames: int, fps: float, seconds: float = WINDOW_SECONDS,
                shift_at_edges: bool = False) -> list[Window]:  # fmt: skip
    """:func:`ssa_window` for every prior subtitle (``Cue`` or ``(start, end)`` in seconds)."""
    out = []
    for prior in priors:
        start, end = (prior.start, prior.end) if hasattr(prior, "start") else prior
        out.append(ssa_window(float(start), float(end), num_frames=num_frames, fps=fps, seconds=seconds,
                              shift_at_edges=shift_at_edges))  # fmt: skip
    return out


def encode_target(start: float, end: float, window: Window) -> str | None:
    """The SSA answer for a true span ``[start, end)`` seconds in ``window``: first and last frame
    (inclusive) relative to the window, clipped to it; ``None`` when the span misses the window
    (paper 004 Sec. 4.4 notes such lags on How2Sign; training skips those samples)."""
    if end < start:
        raise DataError(f"span ends before it starts ({start} -> {end} s)")
    first = max(int(round(start * window.fps)), window.start)
    stop = min(int(round(end * window.fps)), window.stop)
    if stop <= first:
        return None
    return format_ssa_target(first - window.start, stop - 1 - window.start, digits=DIGITS)


def decode_target(text: str, window: Window, *, fallback: tuple[float, float] | None = None) -> DecodedSpan:
    """Stream times ``[start, end)`` of a model answer in ``window``.

    An end frame past the window's end is clipped to its last frame (a window clipped at the
    stream's end is shorter than the 500 frames the model may answer for). A malformed answer
    (not ``ddd-ddd``; spaces between digits are tolerated, as in
    :func:`glossfree.text.prompts.parse_ssa_target`), a start after the end, or a start past the
    window raises :class:`DataError` naming the text and window, or, with ``fallback`` (e.g. the
    prior's times), returns the fallback with ``parsed=False`` and the reason.
    """
    try:
        first, last = parse_ssa_target(text)
        widths = [sum(c.isdigit() for c in side) for side in text.split("-")]
        if widths != [DIGITS, DIGITS]:
            raise DataError(f"expected {DIGITS} digits on each side, got {widths}")
        if first > last:
            raise DataError(f"start frame {first} is after end frame {last}")
        if first >= window.num_frames:
            raise DataError(f"start frame {first} is past the window's {window.num_frames} frames")
    except DataError as error:
        reason = f"unusable SSA answer {text!r} for window {window.start_s:.2f}-{window.end_s:.2f} s: {error}"
        if fallback is None:
            raise DataError(reason) from None
        return DecodedSpan(float(fallback[0]), float(fallback[1]), parsed=False, reason=reason)
    last = min(last, window.num_frames - 1)
    return DecodedSpan((window.start + first) / window.fps, (window.start + last + 1) / window.fps, parsed=True)
