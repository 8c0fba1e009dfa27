"""``pose_motion``: sign boundaries from hand motion.

A sign is a stretch of purposeful hand movement; between two signs the hands slow down as one
movement ends and the next begins, and before and after signing they rest (in glossfree's
synthetic corpora and in most real recordings the resting hands drop out of view and are not
detected). The segmenter:

1. tracks each hand's centre (mean of its detected landmarks, image x/y) and measures its speed
   (central difference, in shoulder widths per second so that it does not depend on the camera),
   the speed of a frame being the larger of the two hands';
2. smooths the speed with a Gaussian of ``smooth_s`` seconds;
3. marks **rest**: no hand detected, or both hands slower than ``rest_speed`` for at least
   ``min_rest_s``; rest is never part of a segment, so signing stretches end where the hands rest;
4. within a signing stretch, finds the **motion minima** (valleys) and the fast movements between
   them (peaks: the transitions, movement epenthesis), dropping peaks less than ``min_prominence``
   above their valleys; each valley gives one segment, cut where the speed has risen ``cut_level``
   (half) of the way to the peak on either side;
5. drops segments shorter than ``min_segment_s`` and splits those longer than ``max_segment_s`` at
   their fastest inner frame.

Cutting at the minima themselves (the literal reading of "boundaries at motion minima") fails on
the synthetic signer, whose signs are the slow stretches and whose transitions the fast ones (boundary
F1 0.33 against 0.96 for the rule above on a 40-clip corpus): the minimum lies inside a sign, so it
is the segment's centre. Each segment becomes one visual token in SAGE (paper 002), whose own
segmenter (Hands-On, weights unreleased) this heuristic stands in for (or the ``file`` kind).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pose_format import Pose
from pydantic import Field, model_validator

from glossfree.config import StrictModel
from glossfree.data.layouts import detection_mask
from glossfree.errors import DataError
from glossfree.segmentation.base import Clip


class PoseMotionConfig(StrictModel):
    """Hand-motion segmenter (see the module docstring).

    Attributes:
        kind: ``"pose_motion"``.
        smooth_s: standard deviation of the Gaussian that smooths the speed, in seconds.
        rest_speed: below this speed (shoulder widths per second) both hands count as still.
        min_rest_s: a still stretch at least this long is rest (shorter ones are holds inside signs).
        min_segment_s: shortest segment, in seconds (shorter ones are dropped).
        max_segment_s: longest segment, in seconds (longer ones are split).
        min_prominence: a speed peak counts as a transition only this far (shoulder widths per
            second) above the slower of its two valleys.
        cut_level: where a segment ends between its valley (0) and the next peak (1).
    """

    kind: Literal["pose_motion"] = "pose_motion"
    smooth_s: float = Field(0.04, ge=0)
    rest_speed: float = Field(0.05, ge=0)
    min_rest_s: float = Field(0.5, gt=0)
    min_prominence: float = Field(0.5, ge=0)
    cut_level: float = Field(0.5, gt=0, lt=1)
    min_segment_s: float = Field(0.12, gt=0)
    max_segment_s: float = Field(1.5, gt=0)

    @model_validator(mode="after")
    def _lengths(self) -> PoseMotionConfig:
        if self.max_segment_s < 2 * self.min_segment_s:
            raise ValueError(
                f"max_segment_s {self.max_segment_s} must be at least twice min_segment_s {self.min_segment_s} "
                "(a segment too long is split in two that must each be long enough)"
            )
        return self


_HAND_NAMES = (("LEFT_HAND_LANDMARKS", "hand_left_keypoints_2d"), ("RIGHT_HAND_LANDMARKS", "hand_right_keypoints_2d"))
_SHOULDERS = ("LEFT_SHOULDER", "RIGHT_SHOULDER")


def hand_centres(pose: Pose) -> tuple[np.ndarray, np.ndarray, float]:
    """``(centres [T, 2, 2], detected [T, 2], scale)``: each hand's mean detected landmark (image x, y;
    left then right), whether it was detected, and the median shoulder width (pixels; the frame
    width when the file has no shoulders)."""
    detected_points = detection_mask(pose, 0)  # [T, P]
    data = np.ma.getdata(pose.body.data)[:, 0, :, :2].astype(np.float64)  # [T, P, 2]
    offsets, offset = {}, 0
    for component in pose.header.components:
        offsets[component.name] = (offset, component.points)
        offset += len(component.points)
    centres = np.zeros((data.shape[0], 2, 2))
    detected = np.zeros((data.shape[0], 2), dtype=bool)
    for hand, names in enumerate(_HAND_NAMES):
        name = next((n for n in names if n in offsets), None)
        if name is None:
            continue
        start, points = offsets[name]
        mask = detected_points[:, start : start + len(points)]  # [T, 21]
        count = mask.sum(axis=1)
        detected[:, hand] = count > 0
        total = (data[:, start : start + len(points)] * mask[..., None]).sum(axis=1)
        centres[:, hand] = total / np.maximum(count, 1)[:, None]
    if not any(n in offsets for names in _HAND_NAMES for n in names):
        found = ", ".join(offsets) or "none"
        raise DataError(f"pose_motion needs hand landmarks (LEFT/RIGHT_HAND_LANDMARKS); the file has: {found}")
    scale = float(pose.header.dimensions.width or 1)
    if "POSE_LANDMARKS" in offsets:
        start, points = offsets["POSE_LANDMARKS"]
        if all(s in points for s in _SHOULDERS):
            a, b = (start + points.index(s) for s in _SHOULDERS)
            both = detected_points[:, a] & detected_points[:, b]
            if both.any():
                scale = float(np.median(np.linalg.norm(data[both, a] - data[both, b], axis=-1))) or scale
    return centres, detected, scale


def hand_speed(centres: np.ndarray, detected: np.ndarray, fps: float, scale: float) -> np.ndarray:
    """``[T]`` speed of the faster detected hand (``scale`` units per second); 0 where neither hand
    was detected at a frame and its neighbours."""
    num_frames = centres.shape[0]
    speed = np.zeros(num_frames)
    for hand in range(centres.shape[1]):
        before = np.clip(np.arange(num_frames) - 1, 0, num_frames - 1)
        after = np.clip(np.arange(num_frames) + 1, 0, num_frames - 1)
        # step back or forward only onto detected frames: a hand appearing is not a movement
        before = np.where(detected[before, hand], before, np.arange(num_frames))
        after = np.where(detected[after, hand], after, np.arange(num_frames))
        steps = np.maximum(after - before, 1)
        own = np.linalg.norm(centres[after, hand] - centres[before, hand], axis=-1) / steps * fps / scale
        speed = np.maximum(speed, np.where(detected[:, hand], own, 0.0))
    return speed


def gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """``values`` convolved with a normalised Gaussian of ``sigma`` steps (edges renormalised)."""
    if sigma <= 0 or len(values) < 2:
        return values.astype(np.float64)
    radius = max(1, int(np.ceil(3 * sigma)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    weights = np.convolve(np.ones(len(values)), kernel, mode="same")
    return np.convolve(values, kernel, mode="same") / weights


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[first, stop)`` of each run of True in ``flags``."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _extrema(speed: np.ndarray, first: int, stop: int, min_prominence: float) -> tuple[list[int], list[int]]:
    """``(peaks, valleys)`` of ``speed`` in ``[first, stop)``, alternating valley, peak, valley, ...
    (a stretch's first or last frame is a valley when the speed rises from it or falls to it). A peak rising less than
    ``min_prominence`` above the higher of its two valleys is dropped with the higher valley."""
    inner = np.arange(first + 1, stop - 1)
    points: list[tuple[str, int]] = []
    for t in inner:
        if speed[t] >= speed[t - 1] and speed[t] > speed[t + 1]:
            points.append(("peak", int(t)))
        elif speed[t] <= speed[t - 1] and speed[t] < speed[t + 1]:
            points.append(("valley", int(t)))
    # the stretch's ends close it: a rise from its first frame or a fall to its last one ends in a valley
    if not points or points[0][0] == "peak":
        points.insert(0, ("valley", first))
    if points[-1][0] == "peak":
        points.append(("valley", stop - 1))
    valleys, peaks = [p for _, p in points[::2]], [p for _, p in points[1::2]]  # valley, peak, ..., valley
    while peaks:
        prominence = [speed[p] - max(speed[valleys[i]], speed[valleys[i + 1]]) for i, p in enumerate(peaks)]
        weakest = int(np.argmin(prominence))
        if prominence[weakest] >= min_prominence:
            break
        higher = weakest if speed[valleys[weakest]] >= speed[valleys[weakest + 1]] else weakest + 1
        del peaks[weakest], valleys[higher]
    return peaks, valleys


def split_stretch(speed: np.ndarray, first: int, stop: int, config: PoseMotionConfig, fps: float) -> list[tuple[int, int]]:
    """Segments of the signing stretch ``[first, stop)``: one around each valley of ``speed``, cut
    where the speed has risen ``cut_level`` of the way to the neighbouring transition's peak; segments
    shorter than ``min_segment_s`` are dropped, longer than ``max_segment_s`` split at their fastest
    inner frame."""
    min_len = max(1, round(config.min_segment_s * fps))
    max_len = max(2 * min_len, round(config.max_segment_s * fps))
    peaks, valleys = _extrema(speed, first, stop, config.min_prominence)
    segments: list[tuple[int, int]] = []
    for i, valley in enumerate(valleys):
        left, right = (peaks[i - 1] if i > 0 else None), (peaks[i] if i < len(peaks) else None)
        # a stretch that starts (ends) fast starts (ends) inside a transition: its edge is that peak
        if left is None and speed[first] - speed[valley] >= config.min_prominence:
            left = first
        if right is None and speed[stop - 1] - speed[valley] >= config.min_prominence:
            right = stop - 1
        start, end = first, stop
        if left is not None:
            cut = speed[valley] + config.cut_level * (speed[left] - speed[valley])
            below = np.flatnonzero(speed[left:valley + 1] < cut)
            start = left + int(below[0]) if len(below) else valley
        if right is not None:
            cut = speed[valley] + config.cut_level * (speed[right] - speed[valley])
            below = np.flatnonzero(speed[valley:right + 1] < cut)
            end = valley + int(below[-1]) + 1 if len(below) else valley + 1
        pending = [(start, end)]
        while pending:
            a, b = pending.pop(0)
            if b - a < min_len:
                continue
            if b - a <= max_len:
                segments.append((a, b))
                continue
            middle = np.arange(a + min_len, b - min_len + 1)
            cut_at = int(middle[np.argmax(speed[middle])])
            pending[:0] = [(a, cut_at), (cut_at, b)]
    return segments


class PoseMotionSegmenter:
    def __init__(self, config: PoseMotionConfig) -> None:
        self.config = config

    def segment_speed(self, speed: np.ndarray, active: np.ndarray, fps: float) -> np.ndarray:
        """Spans from a raw ``[T]`` hand speed and ``[T]`` hand-detected flags (steps 2-5)."""
        config = self.config
        smooth = gaussian_smooth(speed, config.smooth_s * fps)
        still = smooth < config.rest_speed
        min_rest = max(1, round(config.min_rest_s * fps))
        rest = ~active.copy()
        for a, b in _runs(still):
            if b - a >= min_rest:
                rest[a:b] = True
        spans = []
        for a, b in _runs(~rest):
            spans += split_stretch(smooth, a, b, config, fps)
        return np.asarray(spans, dtype=np.int64).reshape(-1, 2)

    def segment(self, clip: Clip) -> np.ndarray:
        if clip.pose is None:
            raise DataError(f"record '{clip.id}': the pose_motion segmenter reads poses, and it has no pose file")
        centres, detected, scale = hand_centres(clip.pose)
        speed = hand_speed(centres, detected, clip.fps, scale)
        return self.segment_speed(speed, detected.any(axis=1), clip.fps)
