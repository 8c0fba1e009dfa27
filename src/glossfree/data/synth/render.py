"""Animating a gloss sequence: timing, co-articulated transitions, non-manuals, MediaPipe output.

:func:`plan_sample` decides everything random about one performance (per-token variation of
location, size and handshape, durations, transitions, blinks, head sway) and returns a
:class:`SamplePlan`; :func:`render_plan` turns a plan into clean signer-space keypoints
(:class:`Rendering`), deterministically; :func:`to_pose` maps them into the image like
pose-format's MediaPipe estimator writes them (pixels, relative z, visibility), adds jitter and
drops hand detections (masked, confidence 0) in short bursts and when a hand leaves the frame.

Timeline of a sample: rest (hands down, out of frame), rise, sign 1, transition, sign 2, ...,
sign n, fall, rest. Within a sign's frames ``[start, end)`` both hands follow the lexicon's
trajectory exactly (:func:`sign_tracks`); a transition interpolates, with smoothstep easing, from
the last pose of one sign to the first pose of the next (hand centre linearly, orientation by
normalised quaternion interpolation, handshape by joint angles), so signs co-articulate and the
stored boundaries are where the lexical movement starts and ends.

With ``num_frames`` (a PHOENIX-2014-T clip's length) :func:`plan_sample` fits the timeline to
exactly that many frames: every sign, transition, rise and fall is stretched by one per-sample
tempo factor (clipped to :data:`TEMPO_RANGE`), the rest before and after signing takes what is
left; a sentence too long for its clip even at the fastest tempo is compressed further, down to
:data:`MIN_SIGN_SECONDS` per sign (then one frame per sign, and no transition frames).
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

from glossfree.data.layouts import (
    BODY_LIMBS,
    BODY_POINTS,
    CONTOUR_FACE_POINTS,
    FACE,
    FACE_POINTS,
    HAND_LIMBS,
    HAND_POINTS,
    LEFT_HAND,
    POSE,
    POSE_WORLD,
    RIGHT_HAND,
)
from glossfree.data.synth.body import (
    FACE_CONTOUR_LIMBS,
    NUM_FACE_POINTS,
    Signer,
    anchors,
    arm_ik,
    euler_matrix,
    face_origin,
    face_template,
    hand_points,
    place_hand,
    quat_axis_angle,
    quat_from_basis,
    quat_mul,
    quat_nlerp,
    rotate,
)
from glossfree.data.synth.lexicon import DIRECTIONS, HANDSHAPE_DIM, HANDSHAPES, ORIENTATIONS, RELAXED, Sign

_MIRROR = np.array([-1.0, 1.0, 1.0])
_HIP_Z = 0.05
CONTOUR_INDICES = np.array([int(name) for name in CONTOUR_FACE_POINTS])  # the 128 face points of pose203


@lru_cache(maxsize=None)
def _orientation(name: str) -> np.ndarray:
    fingers, palm = ORIENTATIONS[name]
    quat = quat_from_basis(np.array(fingers), np.array(palm))
    quat.flags.writeable = False
    return quat


def smoothstep(t: np.ndarray) -> np.ndarray:
    """Ease in and out: 3t^2 - 2t^3 on [0, 1]."""
    return t * t * (3.0 - 2.0 * t)


# ---------------------------------------------------------------------------------------------
# Plans.


@dataclass(frozen=True, eq=False)
class SignToken:
    """One performance of a sign: its frames and this token's variation."""

    sign: Sign
    frames: int
    offset: np.ndarray  # [3] location offset (shoulder widths)
    amplitude: float  # movement size factor
    shape_noise: np.ndarray  # [12] handshape noise (radians; abduction and opposition as fractions)
    tilt: np.ndarray  # [4] small extra wrist rotation
    mouthed: bool


@dataclass(frozen=True, eq=False)
class SamplePlan:
    """Everything random about one performance; :func:`render_plan` is deterministic given it."""

    tokens: tuple[SignToken, ...]
    lead: int  # rest frames before signing
    rise: int  # frames from rest to the first sign
    transitions: tuple[int, ...]  # frames between consecutive signs
    fall: int  # frames from the last sign back to rest
    tail: int  # rest frames after signing
    sway_freq: np.ndarray  # [3] head sway frequencies (Hz) for yaw, pitch, roll
    sway_phase: np.ndarray  # [3]
    blinks: tuple[int, ...]  # frames where a blink starts
    tempo: float = 1.0  # signing frames / natural signing frames (fitted plans; below 1: faster)

    @property
    def boundaries(self) -> list[tuple[int, int]]:
        """``[start, end)`` frames of every sign."""
        spans, start = [], self.lead + self.rise
        for k, token in enumerate(self.tokens):
            spans.append((start, start + token.frames))
            start += token.frames + (self.transitions[k] if k < len(self.transitions) else 0)
        return spans

    @property
    def num_frames(self) -> int:
        signing = sum(t.frames for t in self.tokens) + sum(self.transitions)
        return self.lead + self.rise + signing + self.fall + self.tail


@dataclass(frozen=True, eq=False)
class Track:
    """One hand over some frames: centre [n, 3], orientation [n, 4], handshape [n, 12]."""

    center: np.ndarray
    quat: np.ndarray
    shape: np.ndarray


def _constant_track(center: np.ndarray, quat: np.ndarray, shape: np.ndarray, n: int) -> Track:
    return Track(np.tile(center, (n, 1)), np.tile(quat, (n, 1)), np.tile(shape, (n, 1)))


def _rest_track(places: dict[str, np.ndarray], n: int) -> Track:
    return _constant_track(places["rest"], _orientation("down_in"), RELAXED, n)


def _path(sign: Sign, amplitude: float, tau: np.ndarray, phase: float = 0.0) -> tuple[np.ndarray, ...]:
    """Movement offset [n, 3], wrist twist [n] and finger wiggle [n] at progress ``tau`` [n]."""
    direction, bulge = np.array(DIRECTIONS[sign.direction]), np.array(DIRECTIONS[sign.bulge])
    amp = sign.amplitude * amplitude
    n = len(tau)
    offset, twist, wiggle = np.zeros((n, 3)), np.zeros(n), np.zeros(n)
    movement = sign.movement
    if movement == "hold":
        offset = np.outer(np.sin(np.pi * tau) * amp, DIRECTIONS["fwd"])
    elif movement == "line":
        offset = np.outer(smoothstep(tau) - 0.5, direction) * amp
    elif movement == "arc":
        s = smoothstep(tau)
        offset = np.outer(s - 0.5, direction) * amp + np.outer(0.35 * np.sin(np.pi * s), bulge) * amp
    elif movement == "circle":
        angle = 2 * np.pi * tau + phase
        offset = 0.5 * amp * (np.outer(np.cos(angle), direction) + np.outer(np.sin(angle), bulge))
    elif movement == "repeat":
        offset = np.outer(0.5 * amp * np.sin(4 * np.pi * tau + phase), direction)
    elif movement == "tap":
        offset = np.outer(0.25 * amp * (1.0 - np.cos(4 * np.pi * tau + phase)), direction)
    elif movement == "twist":
        twist = amp * (tau - 0.5) * 2.0
    elif movement == "wiggle":
        wiggle = amp * np.sin(6 * np.pi * tau)
    return offset, twist, wiggle


_WIGGLE_PHASE = np.array([1.0, -1.0, 1.0, -1.0])  # neighbouring fingers move in opposition


def _dominant(token: SignToken, signer: Signer, places: dict[str, np.ndarray], tau: np.ndarray,
              phase: float = 0.0) -> Track:  # fmt: skip
    sign = token.sign
    offset, twist, wiggle = _path(sign, token.amplitude * signer.amplitude, tau, phase)
    center = places[sign.location] + token.offset + offset
    if sign.hands in ("symmetric", "alternating"):
        center = center + np.array([-0.18, 0.0, 0.0])  # two hands side by side, not in one place
    base_quat = quat_mul(_orientation(sign.orientation), token.tilt)
    if sign.movement == "twist":  # rotate about the fingers' axis
        quat = quat_mul(base_quat, quat_axis_angle(np.array([0.0, 1.0, 0.0]), twist))  # [n, 4]
    else:
        quat = np.tile(base_quat, (len(tau), 1))
    shape = HANDSHAPES[sign.handshape] + token.shape_noise
    shape = (1.0 - signer.laxness) * shape + signer.laxness * RELAXED
    shape = np.tile(shape, (len(tau), 1))
    shape[:, 0:8:2] += np.outer(wiggle, _WIGGLE_PHASE)
    return Track(center, quat, shape)


@lru_cache(maxsize=4096)
def mouth_pattern(word: str | None, n: int) -> np.ndarray:
    """Mouthing [n, 2] (openness, width) of ``word`` over ``n`` frames, closed at both ends.

    Vowels open the mouth (a wide, i spread, o/u rounded), m/b/p close it, f/v/w nearly; vowels
    take twice a consonant's time.
    """
    out = np.zeros((n, 2))
    out.flags.writeable = False
    if not word or n < 2:
        return out
    vowels = {"a": (0.9, 0.1), "e": (0.45, 0.6), "i": (0.25, 0.85), "o": (0.6, -0.6),
              "u": (0.3, -0.9), "ä": (0.55, 0.5), "ö": (0.45, -0.5), "ü": (0.25, -0.8),
              "y": (0.25, -0.8)}  # fmt: skip
    digraphs = {"ae": "ä", "oe": "ö", "ue": "ü", "ie": "i", "ei": "ai", "eu": "oi"}
    text = word.lower()
    for pair, replacement in digraphs.items():
        text = text.replace(pair, replacement)
    targets, weights = [(0.0, 0.0)], [0.0]
    for char in text:
        if char in vowels:
            targets.append(vowels[char])
            weights.append(2.0)
        elif char in "mbp":
            targets.append((0.0, 0.0))
            weights.append(1.0)
        elif char in "fvw":
            targets.append((0.08, 0.1))
            weights.append(1.0)
        elif char.isalpha():
            targets.append((0.2, 0.05))
            weights.append(1.0)
    targets.append((0.0, 0.0))
    weights.append(1.0)
    knots = np.cumsum(weights) / np.sum(weights)
    tau = np.linspace(0.0, 1.0, n)
    values = np.array(targets)
    out = np.stack([np.interp(tau, knots, values[:, 0]), np.interp(tau, knots, values[:, 1])], axis=-1)
    out.flags.writeable = False  # cached: shared between calls
    return out


def sign_tracks(token: SignToken, signer: Signer, places: dict[str, np.ndarray], *,
                endpoints: bool = False) -> tuple[Track, Track, np.ndarray]:  # fmt: skip
    """Dominant hand, non-dominant hand (mirrored space) and mouth [n, 2] over a sign's frames
    (with ``endpoints``: only its first and last frame)."""
    sign = token.sign
    tau = np.array([0.0, 1.0]) if endpoints else np.linspace(0.0, 1.0, token.frames)
    n = len(tau)
    dominant = _dominant(token, signer, places, tau)
    if sign.hands == "symmetric":
        other = dominant
    elif sign.hands == "alternating":
        other = _dominant(token, signer, places, tau, phase=np.pi)
    elif sign.hands == "base":
        other = _constant_track(places["base_nd"], _orientation(sign.base_orientation),
                                HANDSHAPES[sign.base_handshape], n)  # fmt: skip
    else:
        other = _constant_track(places["passive"], _orientation("in_back"), RELAXED, n)
    if endpoints:
        return dominant, other, np.zeros((n, 2))
    mouth = mouth_pattern(sign.mouthing if token.mouthed else None, n) * signer.mouthing
    return dominant, other, mouth


def _transition(a: Track, b: Track, n: int) -> Track:
    """``n`` frames strictly between the last frame of ``a`` and the first of ``b``."""
    w = smoothstep(np.arange(1, n + 1) / (n + 1))
    center = a.center[-1] + w[:, None] * (b.center[0] - a.center[-1])
    shape = a.shape[-1] + w[:, None] * (b.shape[0] - a.shape[-1])
    return Track(center, quat_nlerp(a.quat[-1], b.quat[0], w), shape)


def _concat(tracks: list[Track]) -> Track:
    return Track(*(np.concatenate([getattr(t, f) for t in tracks]) for f in ("center", "quat", "shape")))


def _frames(seconds: float, fps: float, minimum: int) -> int:
    return max(minimum, int(round(seconds * fps)))


# Range of the per-sample time stretch of a fitted plan (0.5: twice the natural speed).
TEMPO_RANGE: tuple[float, float] = (0.5, 2.0)
# Shortest sign when a sentence is compressed beyond the fastest tempo (then 1 frame).
MIN_SIGN_SECONDS = 0.12


def allocate_frames(weights: np.ndarray, minimums: np.ndarray, total: int) -> np.ndarray:
    """Integers [n] >= ``minimums`` [n] that sum to ``total``, proportional to ``weights`` [n]
    where above the minimum (water filling, then largest remainders; ties to the earlier part)."""
    weights, minimums = np.asarray(weights, dtype=np.float64), np.asarray(minimums, dtype=np.int64)
    if minimums.sum() > total:
        raise ValueError(f"cannot fit minimums summing to {int(minimums.sum())} into {total} frames")
    fixed = np.zeros(len(weights), dtype=bool)
    while True:
        free = weights[~fixed].sum()
        scale = (total - minimums[fixed].sum()) / free if free > 0 else 0.0
        values = np.where(fixed, minimums, weights * scale)
        below = ~fixed & (values < minimums)
        if not below.any():
            break
        fixed |= below
    frames = np.floor(values).astype(np.int64)  # >= minimums: free values are not below them
    missing = total - int(frames.sum())  # 0 <= missing < n: the fractional parts sum to it
    order = np.argsort(-(values - frames), kind="stable")
    frames[order[:missing]] += 1
    return frames


def _fit(lead: float, tail: float, signing: np.ndarray, fps: float, num_frames: int) -> tuple[int, int, np.ndarray, float]:
    """Frames of lead, tail and the signing parts ``signing`` [2n + 1] (seconds: rise, sign,
    transition, sign, ..., sign, fall) so that all sum to ``num_frames``; and the tempo."""
    natural = signing * fps  # [2n + 1] frames
    stretch = float(np.clip((num_frames - (lead + tail) * fps) / natural.sum(), *TEMPO_RANGE))
    budget = min(num_frames, int(round(stretch * natural.sum())))  # signing frames; the rest goes first
    is_sign = np.arange(len(signing)) % 2 == 1
    minimums = np.where(is_sign, max(1, int(round(MIN_SIGN_SECONDS * fps))), 1)
    if minimums.sum() > num_frames:  # compressed to the bone: one frame per sign, no transitions
        minimums = is_sign.astype(np.int64)
    if minimums.sum() > num_frames:
        raise ValueError(f"{int(is_sign.sum())} signs do not fit into {num_frames} frames at {fps:g} fps")
    budget = max(budget, int(minimums.sum()))
    frames = allocate_frames(natural, minimums, budget)
    rest = num_frames - budget
    lead_frames = int(np.floor(rest * lead / (lead + tail) + 0.5))
    return lead_frames, rest - lead_frames, frames, budget / natural.sum()


def plan_sample(rng: np.random.Generator, signs: list[Sign], signer: Signer, fps: float, *,
                num_frames: int | None = None) -> SamplePlan:  # fmt: skip
    """Draw one performance of ``signs`` by ``signer``; with ``num_frames``, fitted to exactly
    that many frames (see the module docstring; ``ValueError`` if fewer frames than signs)."""
    if not signs:
        raise ValueError("a performance needs at least one sign")
    places = anchors(signer)
    tokens, seconds = [], []
    for sign in signs:
        quat_axis = rng.normal(size=3)
        seconds.append(sign.duration * signer.speed * rng.uniform(0.94, 1.06))
        tokens.append(SignToken(
            sign=sign,
            frames=_frames(seconds[-1], fps, 4),
            offset=rng.normal(0.0, 0.025, size=3),
            amplitude=float(rng.uniform(0.92, 1.08)),
            shape_noise=rng.normal(0.0, 0.05, size=HANDSHAPE_DIM),
            tilt=quat_axis_angle(quat_axis / np.linalg.norm(quat_axis), rng.normal(0.0, 0.08)),
            mouthed=bool(rng.random() < 0.95),
        ))  # fmt: skip
    tracks = [sign_tracks(token, signer, places, endpoints=True) for token in tokens]
    gaps = []  # seconds
    for (a_dom, a_nd, _), (b_dom, b_nd, _) in zip(tracks[:-1], tracks[1:], strict=True):
        distance = max(np.linalg.norm(b_dom.center[0] - a_dom.center[-1]), np.linalg.norm(b_nd.center[0] - a_nd.center[-1]))
        gaps.append((0.12 + 0.08 * distance) * signer.speed)
    rest = places["rest"]
    rise = (0.2 + 0.08 * np.linalg.norm(tracks[0][0].center[0] - rest)) * signer.speed
    fall = (0.2 + 0.08 * np.linalg.norm(tracks[-1][0].center[-1] - rest)) * signer.speed
    lead_s, tail_s = rng.uniform(0.08, 0.3), rng.uniform(0.08, 0.3)
    if num_frames is None:
        transitions = tuple(_frames(gap, fps, 2) for gap in gaps)
        rise_f, fall_f = _frames(rise, fps, 3), _frames(fall, fps, 3)
        lead, tail = _frames(lead_s, fps, 1), _frames(tail_s, fps, 1)
        tempo = 1.0
    else:
        pairs = zip(seconds, [*gaps, fall], strict=True)
        signing = np.array([rise] + [x for pair in pairs for x in pair])  # rise, sign, transition, ..., sign, fall
        lead, tail, frames, tempo = _fit(lead_s, tail_s, signing, fps, num_frames)
        rise_f, fall_f = int(frames[0]), int(frames[-1])
        transitions = tuple(int(f) for f in frames[2:-1:2])
        tokens = [dataclasses.replace(token, frames=int(f)) for token, f in zip(tokens, frames[1::2], strict=True)]
    plan = SamplePlan(tuple(tokens), lead, rise_f, transitions, fall_f, tail,
                      rng.uniform(0.2, 0.6, size=3), rng.uniform(0, 2 * np.pi, size=3), (), tempo)  # fmt: skip
    count = rng.poisson(signer.blink_rate * plan.num_frames / fps)
    blinks = tuple(sorted(int(b) for b in rng.integers(0, plan.num_frames, size=count)))
    return dataclasses.replace(plan, blinks=blinks)


# ---------------------------------------------------------------------------------------------
# Rendering.


@dataclass(frozen=True, eq=False)
class Rendering:
    """Clean keypoints in signer space: body [T, 33, 3], face [T, 468, 3], hands [T, 21, 3]."""

    body: np.ndarray
    face: np.ndarray
    left_hand: np.ndarray
    right_hand: np.ndarray


def _manual_timeline(plan: SamplePlan, signer: Signer, places: dict[str, np.ndarray]) -> tuple[Track, Track, np.ndarray]:
    tracks = [sign_tracks(token, signer, places) for token in plan.tokens]
    rest_lead, rest_tail = _rest_track(places, plan.lead), _rest_track(places, plan.tail)
    dom, nd, mouth = [rest_lead], [rest_lead], [np.zeros((plan.lead, 2))]
    at_rest = _rest_track(places, 1)  # the end points of rise and fall (lead and tail may be empty)
    previous = (at_rest, at_rest)
    gaps = [plan.rise, *plan.transitions]
    for (s_dom, s_nd, s_mouth), gap in zip(tracks, gaps, strict=True):
        dom += [_transition(previous[0], s_dom, gap), s_dom]
        nd += [_transition(previous[1], s_nd, gap), s_nd]
        mouth += [np.zeros((gap, 2)), s_mouth]
        previous = (s_dom, s_nd)
    dom += [_transition(previous[0], at_rest, plan.fall), rest_tail]
    nd += [_transition(previous[1], at_rest, plan.fall), rest_tail]
    mouth += [np.zeros((plan.fall, 2)), np.zeros((plan.tail, 2))]
    return _concat(dom), _concat(nd), np.concatenate(mouth)


def _head(plan: SamplePlan, signer: Signer, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head rotations [T, 3, 3], brow raise [T] and blink [T]."""
    frames = plan.num_frames
    t = np.arange(frames) / fps
    angles = np.asarray(signer.head_pose)[:, None] + signer.sway * np.sin(
        2 * np.pi * plan.sway_freq[:, None] * t + plan.sway_phase[:, None]
    )  # [3, T] yaw, pitch, roll
    brows = np.zeros(frames)
    spans = plan.boundaries
    for token, (start, end) in zip(plan.tokens, spans, strict=True):
        if token.sign.nonmanual == "headshake":
            tau = np.linspace(0.0, 1.0, end - start)
            angles[0, start:end] += 0.25 * np.sin(4 * np.pi * tau) * np.sin(np.pi * tau)
        if token.sign.nonmanual == "brows":  # a question: brows up over the whole sentence
            ramp = max(1, int(round(0.12 * fps)))
            first, last = spans[0][0], end
            brows = np.clip(np.minimum(t * fps - first + ramp, last + ramp - t * fps) / ramp, 0.0, 1.0)
            angles[1] += 0.08 * brows  # head forward
    blink = np.zeros(frames)
    length = max(2, int(round(0.12 * fps)))
    profile = np.sin(np.pi * (np.arange(length) + 0.5) / length)
    for start in plan.blinks:
        stop = min(frames, start + length)
        blink[start:stop] = np.maximum(blink[start:stop], profile[: stop - start])
    return euler_matrix(angles[0], angles[1], angles[2]), brows, blink


def _face(plan: SamplePlan, signer: Signer, mouth: np.ndarray, fps: float) -> np.ndarray:
    """Face mesh and ears [T, 470, 3] in signer space."""
    template = face_template()
    rotation, brows, blink = _head(plan, signer, fps)
    origin = face_origin(signer)
    pivot = origin + np.array([0.0, 0.3, 0.15])  # top of the neck
    # Points relative to the pivot = rest face + blendshapes, as one matrix product.
    rest = (origin - pivot) + template.points * signer.face_width  # [470, 3]
    basis = np.concatenate([rest[None], template.blendshapes * signer.face_width]).reshape(5, -1)  # [5, 470*3]
    weights = np.stack([np.ones(len(brows)), np.clip(mouth[:, 0], 0.0, 1.0), mouth[:, 1], brows, blink], axis=-1)
    points = (weights @ basis).reshape(len(brows), -1, 3)  # [T, 5] @ [5, 470*3] -> [T, 470, 3]
    return pivot + rotate(points, rotation)  # [T, 470, 3]


def _hand_and_arm(track: Track, signer: Signer, shoulder: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hand points [T, 21, 3] and elbow [T, 3] (the arm reaches the wrist, or the hand moves in)."""
    hand = place_hand(hand_points(track.shape), track.center, track.quat, signer.hand)
    # The elbow points down and out, and forward when the hand is high (at the face), back when low.
    pole = np.stack(np.broadcast_arrays(-0.45, 1.0, np.interp(hand[:, 0, 1], [-0.2, 0.7], [-0.5, 0.35])), axis=-1)
    elbow, wrist = arm_ik(shoulder, hand[:, 0], signer.upper_arm, signer.forearm, pole)
    return hand + (wrist - hand[:, 0])[:, None, :], elbow


def render_plan(plan: SamplePlan, signer: Signer, fps: float) -> Rendering:
    """Deterministic keypoints of a planned performance (signer space, no noise)."""
    places = anchors(signer)
    dom, nd, mouth = _manual_timeline(plan, signer, places)
    right_shoulder, left_shoulder = signer.shoulders
    right, right_elbow = _hand_and_arm(dom, signer, right_shoulder)
    left, left_elbow = _hand_and_arm(nd, signer, left_shoulder * _MIRROR)
    left, left_elbow = left * _MIRROR, left_elbow * _MIRROR
    face = _face(plan, signer, mouth, fps)
    frames = plan.num_frames
    body = np.zeros((frames, 33, 3))
    # Face landmarks of the body model, from the mesh: nose, eyes (inner, centre, outer), ears, mouth.
    mesh = {"NOSE": [1], "LEFT_EYE_INNER": [362], "LEFT_EYE": [386, 374], "LEFT_EYE_OUTER": [263],
            "RIGHT_EYE_INNER": [133], "RIGHT_EYE": [159, 145], "RIGHT_EYE_OUTER": [33],
            "LEFT_EAR": [NUM_FACE_POINTS + 1], "RIGHT_EAR": [NUM_FACE_POINTS], "MOUTH_LEFT": [291],
            "MOUTH_RIGHT": [61]}  # fmt: skip
    for name, indices in mesh.items():
        body[:, BODY_POINTS.index(name)] = face[:, indices].mean(axis=1)
    half_hip, torso = signer.hip_width / 2, signer.torso
    static = {
        "LEFT_SHOULDER": left_shoulder, "RIGHT_SHOULDER": right_shoulder,
        "LEFT_HIP": (half_hip, torso, _HIP_Z), "RIGHT_HIP": (-half_hip, torso, _HIP_Z),
        "LEFT_KNEE": (0.9 * half_hip, torso + 1.15, 0.0), "RIGHT_KNEE": (-0.9 * half_hip, torso + 1.15, 0.0),
        "LEFT_ANKLE": (0.28, torso + 2.25, 0.1), "RIGHT_ANKLE": (-0.28, torso + 2.25, 0.1),
        "LEFT_HEEL": (0.28, torso + 2.35, 0.18), "RIGHT_HEEL": (-0.28, torso + 2.35, 0.18),
        "LEFT_FOOT_INDEX": (0.33, torso + 2.4, -0.15), "RIGHT_FOOT_INDEX": (-0.33, torso + 2.4, -0.15),
    }  # fmt: skip
    for name, point in static.items():
        body[:, BODY_POINTS.index(name)] = point
    for side, hand, elbow in (("LEFT", left, left_elbow), ("RIGHT", right, right_elbow)):
        body[:, BODY_POINTS.index(f"{side}_ELBOW")] = elbow
        body[:, BODY_POINTS.index(f"{side}_WRIST")] = hand[:, 0]
        body[:, BODY_POINTS.index(f"{side}_PINKY")] = hand[:, 17]
        body[:, BODY_POINTS.index(f"{side}_INDEX")] = hand[:, 5]
        body[:, BODY_POINTS.index(f"{side}_THUMB")] = hand[:, 2]
    return Rendering(body=body, face=face[:, :NUM_FACE_POINTS], left_hand=left, right_hand=right)


# ---------------------------------------------------------------------------------------------
# MediaPipe-like output.


def holistic_header(width: int, height: int, *, face_points: str = "full") -> PoseHeader:
    """The MediaPipe holistic header pose-format writes (components, point names, colours).

    Built without mediapipe: names and skeleton edges come from :mod:`glossfree.data.layouts`;
    the face component lists the contour edges (eyes, brows, lips, oval) rather than the full
    2,556-edge tesselation. ``face_points="contours"``: the face component holds only the 128
    contour points, named by their mesh index (pose-format's ``reduce_holistic`` face).
    """
    face_limbs = list(FACE_CONTOUR_LIMBS)
    face_names = list(FACE_POINTS)
    if face_points == "contours":
        position = {index: k for k, index in enumerate(CONTOUR_INDICES)}
        face_names = [str(index) for index in CONTOUR_INDICES]
        face_limbs = [(position[a], position[b]) for a, b in face_limbs]
    hand_colors = [(232, 232, 232)] + [(192, 0, 0)] * 4 + [(0, 0, 192)] * 4 + [(0, 192, 0)] * 4 \
        + [(0, 192, 192)] * 4 + [(255, 128, 0)] * 4  # fmt: skip
    body = (list(BODY_POINTS), [tuple(limb) for limb in BODY_LIMBS], [(255, 0, 0)])
    components = [
        PoseHeaderComponent(POSE, *body, "XYZC"),
        PoseHeaderComponent(FACE, face_names, face_limbs, [(128, 0, 0)], "XYZC"),
        PoseHeaderComponent(LEFT_HAND, list(HAND_POINTS), [tuple(limb) for limb in HAND_LIMBS], hand_colors, "XYZC"),
        PoseHeaderComponent(RIGHT_HAND, list(HAND_POINTS), [tuple(limb) for limb in HAND_LIMBS], hand_colors, "XYZC"),
        PoseHeaderComponent(POSE_WORLD, *body, "XYZC"),
    ]
    return PoseHeader(0.2, PoseHeaderDimensions(width, height, 0), components)


@lru_cache(maxsize=8)
def _header_bytes(width: int, height: int, face_points: str) -> bytes:
    buffer = io.BytesIO()
    holistic_header(width, height, face_points=face_points).write(buffer)
    return buffer.getvalue()


def pose_bytes(pose: Pose, *, face_points: str = "full") -> bytes:
    """The ``.pose`` file of a pose from :func:`to_pose`: what ``pose.write`` gives, with the
    (constant, 5,000-name) holistic header serialised once per image size."""
    dims = pose.header.dimensions
    buffer = io.BytesIO()
    buffer.write(_header_bytes(int(dims.width), int(dims.height), face_points))
    pose.body.write(pose.header.version, buffer)
    return buffer.getvalue()


def _drop_bursts(rng: np.random.Generator, frames: int, rate: float, mean_length: float = 3.0) -> np.ndarray:
    """[T] bool, True where a detection is dropped: bursts of 1-5 frames covering ~``rate``."""
    dropped = np.zeros(frames, dtype=bool)
    if rate <= 0:
        return dropped
    starts = np.flatnonzero(rng.random(frames) < rate / mean_length)
    lengths = rng.integers(1, 2 * int(mean_length), size=len(starts))
    for start, length in zip(starts, lengths, strict=True):
        dropped[start : start + length] = True
    return dropped


def to_pose(rendering: Rendering, signer: Signer, rng: np.random.Generator, *, width: int, height: int,
            fps: float, jitter_std: float, hand_drop_rate: float, face_points: str = "full") -> Pose:  # fmt: skip
    """MediaPipe-holistic ``Pose`` of a rendering, as pose-format's estimator writes one.

    x, y in pixels; body z relative to the hips, face z relative to the face's mean depth, hand z
    relative to the wrist, all in image widths; world landmarks in metres from the hip midpoint,
    x and y multiplied by the image size (what pose-format does). ``jitter_std`` is Gaussian noise
    in shoulder widths on x and y (half on the face). A hand is dropped (masked, confidence 0) when more
    than half of it is outside the frame, and in bursts covering ``hand_drop_rate`` of frames.
    ``face_points="contours"`` keeps only the 128 contour points of the face (as pose-format's
    ``reduce_holistic`` does), which makes files 2.4 times smaller.
    """
    scale, (cx, cy) = signer.scale_px, signer.center_px
    frames = rendering.body.shape[0]
    face = rendering.face if face_points == "full" else rendering.face[:, CONTOUR_INDICES]
    z_refs = (
        np.full((frames, 1), _HIP_Z),
        rendering.face[..., 2].mean(axis=1, keepdims=True),
        rendering.left_hand[:, :1, 2],
        rendering.right_hand[:, :1, 2],
    )  # [T, 1] each: depth origin of body, face, hands
    groups = (rendering.body, face, rendering.left_hand, rendering.right_hand)
    sizes = [g.shape[1] for g in groups]
    total = sum(sizes)
    data = np.empty((frames, 1, total + 33, 3), dtype=np.float32)  # [T, 1, P + 33 world, 3]
    image = data[:, 0, :total]  # [T, P, 3] view
    start = 0
    for group, z_ref in zip(groups, z_refs, strict=True):
        block = image[:, start : start + group.shape[1]]
        block[..., :2] = np.array([cx, cy]) + scale * group[..., :2]
        block[..., 2] = (group[..., 2] - z_ref) * (scale / width)
        start += group.shape[1]
    if jitter_std > 0:
        sigma = np.repeat(np.array([1.0, 0.5, 1.0, 1.0], dtype=np.float32) * (jitter_std * scale), sizes)  # [P]
        image[..., :2] += rng.standard_normal(size=(frames, total, 2), dtype=np.float32) * sigma[:, None]

    hip_mid = rendering.body[:, [23, 24]].mean(axis=1, keepdims=True)  # [T, 1, 3]
    world = (rendering.body - hip_mid) * signer.meters
    if jitter_std > 0:
        world += rng.standard_normal(size=world.shape, dtype=np.float32) * (jitter_std * signer.meters * 0.5)
    data[:, 0, total:] = world * np.array([width, height, 1.0])

    def inside(points: np.ndarray) -> np.ndarray:  # [T, n] bool
        return (points[..., 0] >= 0) & (points[..., 0] < width) & (points[..., 1] >= 0) & (points[..., 1] < height)

    confidence = np.ones((frames, 1, total + 33), dtype=np.float32)  # [T, 1, P + 33]
    body_inside = inside(image[:, : sizes[0]])
    visibility = np.where(body_inside, rng.uniform(0.97, 0.9999, size=body_inside.shape),
                          rng.uniform(0.0002, 0.05, size=body_inside.shape))  # fmt: skip
    confidence[:, 0, : sizes[0]] = visibility
    confidence[:, 0, total:] = visibility
    mask = np.zeros(data.shape, dtype=bool)
    for start in (sizes[0] + sizes[1], sizes[0] + sizes[1] + 21):
        hand = slice(start, start + 21)
        dropped = (inside(image[:, hand]).mean(axis=1) < 0.5) | _drop_bursts(rng, frames, hand_drop_rate)  # [T]
        confidence[dropped, 0, hand] = 0.0
        data[dropped, 0, hand] = 0.0
        mask[dropped, 0, hand] = True
    header = holistic_header(width, height, face_points=face_points)
    return Pose(header, NumPyPoseBody(fps=fps, data=np.ma.masked_array(data, mask=mask), confidence=confidence))
