"""DTW post-processing of predicted subtitle spans: no overlaps, subtitle order kept.

Paper 004 predicts each subtitle's (start, end) independently in its own 20 s window, so
neighbouring predictions may overlap or even swap. Sec. 4.2 ("Inference") runs "the dynamic time
warping (DTW) procedure from [Bull21, jang2025deep] to remove overlaps" over the whole video, and
appendix A.6 gives its input: since the LLM gives no frame-level confidence, each subtitle gets a
*plateau-decay* probability profile over its predicted span,

- 1.0 on the central ``rho`` fraction of the span (``rho = 0.2`` in the paper, Tab. A.4),
- a raised-cosine rise over the first ``(1 - rho) / 2`` of the span and a raised-cosine fall over
  the last ``(1 - rho) / 2``, reaching 0 at the predicted boundaries ("a cosine function that
  peaks at the predicted timestamp center and decreases to zero at the boundaries", Sec. 4.2);
  glossfree writes the edges as ``0.5 * (1 - cos(pi * x))`` and ``0.5 * (1 + cos(pi * x))`` for
  ``x`` in ``[0, 1]`` across each edge (the appendix's formula is not in the text we have).

Frame ``t`` is scored at its centre ``t + 0.5``. The DTW (:func:`dtw_align`) then labels every
frame with one state of the monotonic chain ``gap_0, sub_0, gap_1, sub_1, ..., sub_{K-1}, gap_K``:
a frame in ``sub_k`` scores ``P[k, t]``, a gap frame scores 0, each subtitle gets at least one
frame, gaps may be empty, and the path maximises the total score. So every subtitle keeps a
contiguous, non-empty span, spans are in subtitle order and never overlap, and an overlap is split
where the two profiles cross - a short subtitle's steep profile keeps its core against a long
neighbour's tail, unlike an equal split (A.6). Frames no profile covers stay background, so clean
non-overlapping predictions come back unchanged (up to rounding to frames).

Speed: the chain splits into independent groups wherever every earlier prediction ends before
every later one starts (and the groups are far enough apart, see :func:`_groups`); a group of one
subtitle is its own span, and only groups of overlapping, touching or out-of-order predictions run
the DP. The DP keeps, at each frame, only the states of subtitles that can be there in an optimal
path (:func:`_bands`), vectorised with numpy, so a step costs the band's width rather than the
group's size, and back-pointers take one byte per banded state and frame. The result is the exact
optimum of the whole-video DP (tested against brute force and against the unbanded DP).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from glossfree.errors import DataError

RHO = 0.2
"""Plateau fraction of paper 004 (appendix A.6, Tab. A.4)."""

# A subtitle frame that no profile covers scores a hair below a gap frame, so ties go to background.
_TIE = 1e-9


def plateau_decay(u: np.ndarray, rho: float = RHO) -> np.ndarray:
    """Profile at relative positions ``u`` in ``[0, 1]`` of a span (0 outside): 1 on the central
    ``rho``, raised-cosine edges down to 0 at ``u = 0`` and ``u = 1``."""
    if not 0.0 <= rho <= 1.0:
        raise DataError(f"rho must be in [0, 1], got {rho}")
    u = np.asarray(u, dtype=np.float64)
    edge = (1.0 - rho) / 2.0
    out = np.where((u >= edge) & (u <= 1.0 - edge), 1.0, 0.0)
    if edge > 0:
        rise = (u >= 0.0) & (u < edge)
        fall = (u > 1.0 - edge) & (u <= 1.0)
        out = np.where(rise, 0.5 * (1.0 - np.cos(np.pi * u / edge)), out)
        out = np.where(fall, 0.5 * (1.0 + np.cos(np.pi * (u - 1.0 + edge) / edge)), out)
    return out


def _prepare(spans: np.ndarray, num_frames: int) -> np.ndarray:
    """Predicted ``[K, 2]`` spans in frames (floats) made usable: ends in order, at least one frame
    wide (widened about the centre), moved inside ``[0, num_frames]``. A span predicted outside the
    timeline becomes one frame at the nearest end, so it keeps its place in the order."""
    spans = np.asarray(spans, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(spans).all():
        raise DataError("predicted spans must be finite numbers")
    start = np.minimum(spans[:, 0], spans[:, 1])
    end = np.maximum(spans[:, 0], spans[:, 1])
    centre, half = (start + end) / 2.0, np.maximum((end - start) / 2.0, 0.5)
    start, end = centre - half, centre + half
    start = np.clip(start, 0.0, num_frames - 1.0)
    end = np.clip(end, start + 1.0, float(num_frames))
    return np.stack([start, end], axis=1)


def probability_map(spans: np.ndarray, num_frames: int, *, rho: float = RHO) -> np.ndarray:
    """``[K, num_frames]`` plateau-decay profiles of ``[K, 2]`` spans given in frames (A.6)."""
    spans = _prepare(spans, num_frames)
    centres = np.arange(num_frames, dtype=np.float64) + 0.5
    u = (centres[None, :] - spans[:, :1]) / (spans[:, 1:] - spans[:, :1])
    return plateau_decay(u, rho)


def _support(spans: np.ndarray, num_frames: int) -> np.ndarray:
    """``[K, 2]`` int ``[first, stop)`` frames whose centre lies strictly inside each span (> 0 profile)."""
    first = np.floor(spans[:, 0] - 0.5).astype(np.int64) + 1  # first t with t + 0.5 > start
    stop = np.ceil(spans[:, 1] - 0.5).astype(np.int64)  # last t with t + 0.5 < end, plus one
    first = np.clip(first, 0, num_frames - 1)
    stop = np.clip(np.maximum(stop, first + 1), 1, num_frames)
    return np.stack([first, stop], axis=1)


def _groups(support: np.ndarray, num_frames: int) -> list[tuple[int, int, int, int]]:
    """Independent ``(k0, k1, f0, f1)``: subtitles ``k0..k1-1`` and the frames ``[f0, f1)`` their DP
    runs over, such that the best path of each group, put together, is the best path overall.

    A cut after subtitle ``k`` is possible when all earlier supports end before all later ones
    start. A group of ``m`` subtitles may still need up to ``m`` frames outside its supports on
    either side (out-of-order predictions push a subtitle onto a zero-score frame), so its range
    is its supports widened by ``m`` frames each way, and groups whose ranges meet are merged.
    """
    k = len(support)
    prefix_end = np.maximum.accumulate(support[:, 1])
    suffix_start = np.minimum.accumulate(support[::-1, 0])[::-1]
    cuts = np.flatnonzero(prefix_end[:-1] <= suffix_start[1:]) + 1
    bounds = [0, *cuts.tolist(), k]

    def widened(group: list[int]) -> tuple[int, int]:
        k0, k1, f0, f1 = group
        return max(0, f0 - (k1 - k0)), min(num_frames, f1 + (k1 - k0))

    merged: list[list[int]] = []
    for k0, k1 in zip(bounds[:-1], bounds[1:], strict=True):
        merged.append([k0, k1, int(support[k0:k1, 0].min()), int(prefix_end[k1 - 1])])
        while len(merged) >= 2 and widened(merged[-2])[1] > widened(merged[-1])[0]:
            a, b = merged[-2], merged.pop()
            merged[-1] = [a[0], b[1], min(a[2], b[2]), max(a[3], b[3])]
    return [(k0, k1, *widened([k0, k1, f0, f1])) for k0, k1, f0, f1 in merged]


_BLOCK = 2048  # frames of profile computed at a time inside the DP (bounds its memory)


def _group_score(spans: np.ndarray, f0: int, f1: int, rho: float) -> np.ndarray:
    """``[K_g, f1 - f0]`` frame scores of a group's prepared spans: profile minus the tie margin."""
    centres = np.arange(f0, f1, dtype=np.float64) + 0.5
    u = (centres[None, :] - spans[:, :1]) / (spans[:, 1:] - spans[:, :1])
    return plateau_decay(u, rho) - _TIE


def _bands(first: np.ndarray, stop: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``[lo_k, hi_k)`` that hold subtitle ``k`` in some optimal path, from the supports
    ``[first_k, stop_k)`` (frames outside its support score the minimum, ``-_TIE``, for a subtitle).

    ``hi_k = max(stop_k, hi_{k-1} + 1)``: a subtitle reaching past its support can be cut back to it,
    or, if wholly past it, shrunk to one frame right after its predecessor (or at ``stop_k - 1``),
    without losing score; symmetrically ``lo_k = min(first_k, lo_{k+1} - 1)``. Applying the first
    rule for k = 0, 1, ... and then the second for k = K-1, ..., 0 turns any optimal path into one
    inside the bands, so the banded DP finds the unbanded optimum.
    """
    k = np.arange(len(first))
    lo = np.minimum.accumulate((first - k)[::-1])[::-1] + k
    hi = np.maximum.accumulate(stop - k) + k
    return np.clip(lo, 0, length), np.clip(hi, 0, length)


def _dp(spans: np.ndarray, support: np.ndarray, rho: float, f0: int, f1: int) -> np.ndarray:
    """Best monotonic path through ``gap_0, sub_0, ..., sub_{K-1}, gap_K`` over frames ``[f0, f1)``
    for a group's prepared ``[K, 2]`` spans and their ``[K, 2]`` supports (a subtitle frame scores
    its profile minus ``_TIE``, a gap frame 0). Returns ``[K, 2]`` ``[first, stop)`` per subtitle,
    relative to ``f0``.

    Only states inside the bands of :func:`_bands` are kept at each frame; they form one run of
    states (``gap_{k_first} .. gap_{k_last + 1}``), so a step costs O(band), not O(K).
    """
    k, length = len(spans), f1 - f0
    lo_sub, hi_sub = _bands(support[:, 0] - f0, support[:, 1] - f0, length)
    frames = np.arange(length)
    k_first = np.searchsorted(hi_sub, frames, side="right")  # first subtitle with hi > t
    k_last = np.searchsorted(lo_sub, frames, side="right") - 1  # last subtitle with lo <= t
    lo, hi = 2 * k_first, 2 * k_last + 3  # states [lo, hi) at frame t: gap_{k_first} .. gap_{k_last + 1}
    offsets = np.concatenate([[0], np.cumsum(hi - lo)])
    back = np.zeros(int(offsets[-1]), dtype=np.int8)  # 0: stay, 1: from the previous state, 2: skip a gap
    best = np.full(2 * k + 3, -np.inf)  # best[j + 2] is state j; two -inf in front for the shifts

    def block(t: int) -> tuple[int, np.ndarray]:
        """Scores of the subtitles banded in frames ``[t, t + _BLOCK)``: (first subtitle, [n, frames])."""
        t1 = min(length, t + _BLOCK)
        ks, ke = int(k_first[t]), int(k_last[t1 - 1]) + 1
        return ks, _group_score(spans[ks:ke], f0 + t, f0 + t1, rho)

    lo_l, hi_l, first_l, last_l, off_l = lo.tolist(), hi.tolist(), k_first.tolist(), k_last.tolist(), offsets.tolist()
    width = max(b - a for a, b in zip(lo_l, hi_l))
    candidates = np.empty((3, width))
    columns = np.arange(width)
    ks, score = block(0)
    best[2] = 0.0  # gap_0
    if hi_l[0] > 1:
        best[3] = score[0, 0]  # sub_0
    for t in range(1, length):
        if t % _BLOCK == 0:
            ks, score = block(t)
        a, b = lo_l[t], hi_l[t]
        n = b - a
        cand = candidates[:, :n]
        cand[0] = best[a + 2 : b + 2]  # stay
        cand[1] = best[a + 1 : b + 1]  # from the previous state
        cand[2] = best[a:b]  # skip an empty gap: only into a subtitle state (a is even, so odd columns)
        cand[2, ::2] = -np.inf
        step = cand.argmax(axis=0)
        new = cand[step, columns[:n]]
        new[1::2] += score[first_l[t] - ks : last_l[t] + 1 - ks, t % _BLOCK]
        best[lo_l[t - 1] + 2 : hi_l[t - 1] + 2] = -np.inf
        best[a + 2 : b + 2] = new
        back[off_l[t] : off_l[t + 1]] = step
    state = 2 * k if best[2 * k + 2] >= best[2 * k + 1] else 2 * k - 1
    if not np.isfinite(best[state + 2]):
        raise DataError(f"no alignment: {k} subtitles need at least {k} frames, got {length}")
    path = np.empty(length, dtype=np.int64)
    for t in range(length - 1, 0, -1):
        path[t] = state
        state -= int(back[off_l[t] + state - lo_l[t]])
    path[0] = state
    out = np.zeros((k, 2), dtype=np.int64)
    is_sub = path % 2 == 1
    ids, where = (path[is_sub] - 1) // 2, np.flatnonzero(is_sub)
    out[:, 0] = length
    np.minimum.at(out[:, 0], ids, where)
    np.maximum.at(out[:, 1], ids, where + 1)
    return out


def dtw_align(spans: Any, num_frames: int, *, rho: float = RHO) -> np.ndarray:
    """Non-overlapping, ordered ``[K, 2]`` int ``[first, stop)`` frames from predicted ``[K, 2]``
    spans in frames (floats allowed; any order, overlapping, reversed or outside the timeline).

    Every subtitle gets at least one frame, so ``K <= num_frames`` is required.
    """
    spans = np.asarray(spans, dtype=np.float64).reshape(-1, 2)
    k = len(spans)
    if k == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if num_frames < k:
        raise DataError(f"cannot align {k} subtitles in {num_frames} frames: each needs at least one frame")
    prepared = _prepare(spans, num_frames)
    support = _support(prepared, num_frames)
    out = np.zeros_like(support)
    for k0, k1, f0, f1 in _groups(support, num_frames):
        if k1 - k0 == 1:  # alone: the frames where it beats background (its support), else its best frame
            score = _group_score(prepared[k0:k1], f0, f1, rho)[0]
            positive = np.flatnonzero(score > 0)
            first, stop = (positive[0], positive[-1] + 1) if positive.size else (score.argmax(), score.argmax() + 1)
            out[k0] = (f0 + first, f0 + stop)
        else:
            out[k0:k1] = _dp(prepared[k0:k1], support[k0:k1], rho, f0, f1) + f0
    return out


def align_subtitles(predicted: Sequence[Any], *, num_frames: int, fps: float,
                    rho: float = RHO) -> list[tuple[float, float]]:  # fmt: skip
    """:func:`dtw_align` on ``(start, end)`` seconds (or objects with ``start``/``end``), back in seconds."""
    if fps <= 0:
        raise DataError(f"fps must be positive, got {fps}")
    pairs = [
        (float(p.start), float(p.end)) if hasattr(p, "start") else (float(p[0]), float(p[1])) for p in predicted
    ]
    frames = dtw_align(np.array(pairs, dtype=np.float64).reshape(-1, 2) * fps, num_frames, rho=rho)
    return [(first / fps, stop / fps) for first, stop in frames.tolist()]
