"""The synthetic signer's body: proportions, face mesh, hand skeleton and arm kinematics.

Everything here works in *signer space*: origin at the shoulder midpoint, unit = one shoulder
width, x to the image right (the signer's left), y down, z away from the camera (MediaPipe's
convention: smaller z is closer). The dominant hand is the signer's right hand (image left, x < 0).
The non-dominant hand is computed in the mirrored space (x negated), so one set of sign locations,
orientations and movements serves both hands and a symmetric two-handed sign mirrors exactly.

- :class:`Signer` holds one signer's proportions (arm, hand, face, torso), framing in the image,
  speed and non-manual habits; :func:`sample_signer` draws one.
- :func:`anchors` resolves the named sign locations against a signer's body and face.
- :func:`face_template` builds the 468-point MediaPipe face mesh procedurally (no mesh data ships
  with the package): the 128 contour points of MediaPipe's ``FACEMESH_CONTOURS`` (face oval,
  eyes, brows, outer and inner lips; exactly the face points of pose-format's ``reduce_holistic``
  and of the ``pose203`` layout) are placed on ellipses in their real loop order, the nose on its
  midline chain and nostril loop, and every other point on a Vogel spiral inside the face oval,
  mirror pairs (pose-format's ``FLIPPED_FACE_POINTS``) placed as mirror images. Four linear
  blendshapes move it: mouth opening (lower lip and jaw), mouth width (spread vs rounded lips),
  brow raise and eye blink. The proportions were read off the real MediaPipe sample in
  ``shared/data/samples/segmentation/example.pose`` (face width ~0.42 shoulder widths, eyes at
  -0.17, mouth at +0.33 face widths from the cheek line); the file is not read at run time.
- :func:`hand_points` is forward kinematics of the 21-point MediaPipe hand from joint angles;
  :func:`place_hand` orients and places it; :func:`arm_ik` finds the elbow for a wrist target.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from glossfree.data.layouts import FACE_MIRROR

# ---------------------------------------------------------------------------------------------
# Rotations as unit quaternions (w, x, y, z), vectorised over leading axes.


def quat_from_matrix(matrix: np.ndarray) -> np.ndarray:
    """Quaternion [4] of one proper rotation matrix [3, 3]."""
    m = matrix
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0, 0.0, 0.0, 0.0]
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    q = np.asarray(q, dtype=np.float64)
    return q / np.linalg.norm(q)


def quat_from_basis(fingers: np.ndarray, palm: np.ndarray) -> np.ndarray:
    """Orientation of a right hand whose fingers point along ``fingers`` and palm faces ``palm``.

    The hand frame's axes are (thumb side, fingers, palm normal); for a right hand the thumb
    side is ``fingers x palm``.
    """
    u = np.asarray(fingers, dtype=np.float64)
    p = np.asarray(palm, dtype=np.float64)
    u = u / np.linalg.norm(u)
    p = p - (p @ u) * u
    p = p / np.linalg.norm(p)
    return quat_from_matrix(np.stack([np.cross(u, p), u, p], axis=1))


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` (rotate by b, then by a), broadcasting [..., 4]."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)  # fmt: skip


def quat_axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Quaternions [..., 4] rotating by ``angle`` [...] about unit ``axis`` [..., 3] or [3]."""
    half = np.asarray(angle, dtype=np.float64)[..., None] / 2.0
    axis = np.broadcast_to(np.asarray(axis, dtype=np.float64), half.shape[:-1] + (3,))
    return np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] of quaternions [..., 4] (normalised first)."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(row, axis=-1) for row in rows], axis=-2)


def quat_nlerp(q0: np.ndarray, q1: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Normalised linear interpolation [T, 4] from q0 [4] to q1 [4] at weights [T] (shortest arc)."""
    q1 = q1 if float(q0 @ q1) >= 0 else -q1
    q = (1.0 - weight)[:, None] * q0 + weight[:, None] * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def rotate(points: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Rotate points [T, P, 3] by per-frame matrices [T, 3, 3]."""
    return np.matmul(rotation, points.transpose(0, 2, 1)).transpose(0, 2, 1)  # [T, 3, P] -> [T, P, 3]


def euler_matrix(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Head rotations [T, 3, 3]: yaw about y, pitch about x, roll about z (radians, [T] each)."""
    zeros, ones = np.zeros_like(yaw), np.ones_like(yaw)
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.stack([np.stack([cy, zeros, sy], -1), np.stack([zeros, ones, zeros], -1),
                   np.stack([-sy, zeros, cy], -1)], axis=-2)  # fmt: skip
    rx = np.stack([np.stack([ones, zeros, zeros], -1), np.stack([zeros, cp, -sp], -1),
                   np.stack([zeros, sp, cp], -1)], axis=-2)  # fmt: skip
    rz = np.stack([np.stack([cr, -sr, zeros], -1), np.stack([sr, cr, zeros], -1),
                   np.stack([zeros, zeros, ones], -1)], axis=-2)  # fmt: skip
    return rz @ ry @ rx


# ---------------------------------------------------------------------------------------------
# Signers.


@dataclass(frozen=True)
class Signer:
    """One synthetic signer. Lengths are in shoulder widths unless named otherwise.

    Attributes:
        name: signer id written to the manifest (``synth-03``).
        upper_arm, forearm, hand: segment lengths (hand = wrist to middle fingertip).
        face_width: cheek-to-cheek width of the face mesh.
        face_height: height of the face's cheek line above the shoulder midpoint.
        head_x, face_z: sideways and depth offset of the face.
        torso, hip_width: shoulder-to-hip height and hip width.
        shoulder_tilt: right shoulder minus left shoulder height.
        scale_px: pixels per shoulder width; center_px: shoulder midpoint in the image.
        meters: shoulder width in metres (for ``POSE_WORLD_LANDMARKS``).
        speed: duration factor (above 1 signs slower); amplitude: movement size factor.
        location_bias: where this signer habitually places signs (added to every location).
        mouthing: mouth movement amplitude; blink_rate: blinks per second; sway: head sway (rad).
        head_pose: resting (yaw, pitch, roll) of the head.
        laxness: how far handshapes relax towards a loose hand (0 = crisp).
    """

    name: str
    upper_arm: float
    forearm: float
    hand: float
    face_width: float
    face_height: float
    head_x: float
    face_z: float
    torso: float
    hip_width: float
    shoulder_tilt: float
    scale_px: float
    center_px: tuple[float, float]
    meters: float
    speed: float
    amplitude: float
    location_bias: tuple[float, float, float]
    mouthing: float
    blink_rate: float
    sway: float
    head_pose: tuple[float, float, float]
    laxness: float

    @property
    def shoulders(self) -> np.ndarray:
        """[2, 3] right (dominant) and left shoulder."""
        half = self.shoulder_tilt / 2.0
        return np.array([[-0.5, half, 0.0], [0.5, -half, 0.0]])


def sample_signer(rng: np.random.Generator, index: int, *, width: int, height: int) -> Signer:
    """Draw signer number ``index`` framed in a ``width`` x ``height`` image."""
    u = rng.uniform
    scale = min(height * u(0.3, 0.37), width * 0.3)
    return Signer(
        name=f"synth-{index:02d}",
        upper_arm=u(0.74, 0.86),
        forearm=u(0.62, 0.72),
        hand=u(0.46, 0.54),
        face_width=u(0.38, 0.46),
        face_height=u(0.63, 0.74),
        head_x=u(-0.03, 0.03),
        face_z=u(-0.16, -0.08),
        torso=u(1.35, 1.6),
        hip_width=u(0.62, 0.8),
        shoulder_tilt=u(-0.04, 0.04),
        scale_px=float(scale),
        center_px=(float(width * u(0.44, 0.56)), float(height * u(0.53, 0.6))),
        meters=u(0.34, 0.42),
        speed=u(0.85, 1.15),
        amplitude=u(0.85, 1.15),
        location_bias=tuple(float(v) for v in rng.normal(0.0, 0.03, size=3)),
        mouthing=u(0.7, 1.1),
        blink_rate=u(0.15, 0.45),
        sway=u(0.01, 0.04),
        head_pose=tuple(float(v) for v in rng.normal(0.0, 0.04, size=3)),
        laxness=u(0.0, 0.15),
    )


def face_origin(signer: Signer) -> np.ndarray:
    """[3] the face mesh origin (midpoint of the cheek line) at rest."""
    return np.array([signer.head_x, -signer.face_height, signer.face_z])


# Sign locations relative to the face origin (in face widths, plus a depth in shoulder widths in
# front of the face) or to the body (shoulder widths), for the dominant (right) hand's centre.
_FACE_ANCHORS = {
    "forehead": (0.0, -0.45, -0.22), "eye": (-0.22, -0.17, -0.2), "nose": (0.0, 0.05, -0.25),
    "mouth": (0.0, 0.33, -0.22), "chin": (0.0, 0.62, -0.2), "cheek": (-0.42, 0.2, -0.12),
    "ear": (-0.62, -0.05, 0.0), "temple": (-0.48, -0.3, -0.1),
}  # fmt: skip
_BODY_ANCHORS = {
    "neck": (0.0, -0.18, -0.15), "chest": (0.0, 0.35, -0.2), "chest_dom": (-0.28, 0.3, -0.2),
    "chest_nd": (0.25, 0.3, -0.2), "shoulder_nd": (0.45, 0.05, -0.15), "stomach": (0.0, 0.85, -0.25),
    "neutral": (-0.1, 0.45, -0.55), "neutral_high": (-0.1, 0.0, -0.55),
    "neutral_low": (-0.1, 0.8, -0.5), "neutral_dom": (-0.55, 0.4, -0.45),
    "neutral_far": (-0.05, 0.3, -0.85),
    # The non-dominant hand as a base (centre given in the mirrored space) and the dominant hand
    # just above it.
    "base_nd": (-0.12, 0.55, -0.45), "base": (0.12, 0.45, -0.45),
    # The idle non-dominant hand during a one-handed sign, and both hands at rest (out of frame).
    "passive": (-0.25, 0.95, -0.3), "rest": (-0.62, 1.55, -0.05),
}  # fmt: skip


def anchors(signer: Signer) -> dict[str, np.ndarray]:
    """Named locations [3] in signer space for this signer's body (with its habitual bias)."""
    origin = face_origin(signer)
    bias = np.asarray(signer.location_bias)
    out = {}
    for name, (x, y, depth) in _FACE_ANCHORS.items():
        out[name] = origin + np.array([x * signer.face_width, y * signer.face_width, depth]) + bias
    for name, offset in _BODY_ANCHORS.items():
        out[name] = np.asarray(offset, dtype=np.float64) + (0.0 if name == "rest" else bias)
    return out


# ---------------------------------------------------------------------------------------------
# Face mesh.

_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
         152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip
_LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
_LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
_RIGHT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
_LEFT_EYE = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
_BROWS = ((70, 63, 105, 66, 107), (46, 53, 52, 65, 55), (300, 293, 334, 296, 336), (276, 283, 282, 295, 285))
_NOSE_BRIDGE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2)
_NOSTRILS = (98, 97, 2, 326, 327, 294, 278, 344, 440, 275, 4, 45, 220, 115, 48, 64)
_MIDLINE = {151: -0.45, 9: -0.32, 8: -0.24, 164: 0.2, 18: 0.47, 200: 0.53, 199: 0.58, 175: 0.63}
MOUTH_POINTS: tuple[int, ...] = _LIPS_OUTER + _LIPS_INNER


def _contour_limbs() -> tuple[tuple[int, int], ...]:
    limbs = []
    for loop in (_OVAL, _LIPS_OUTER, _LIPS_INNER, _RIGHT_EYE, _LEFT_EYE):
        limbs += [(loop[k], loop[(k + 1) % len(loop)]) for k in range(len(loop))]
    for chain in _BROWS:
        limbs += list(zip(chain[:-1], chain[1:], strict=True))
    return tuple(limbs)


# Edges of MediaPipe's FACEMESH_CONTOURS (oval, lips, eyes, brows), as face-mesh indices.
FACE_CONTOUR_LIMBS: tuple[tuple[int, int], ...] = _contour_limbs()
NUM_FACE_POINTS = 468
_OVAL_CY, _OVAL_A, _OVAL_B = 0.045, 0.5, 0.635


@dataclass(frozen=True, eq=False)
class FaceTemplate:
    """Face mesh in face widths: ``points`` [470, 3] (468 mesh points + right, left ear) and
    ``blendshapes`` [4, 470, 3] (mouth open, mouth width, brow raise, blink)."""

    points: np.ndarray
    blendshapes: np.ndarray


def _depth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Face depth: the cheeks' edges lie half a face width behind the centre."""
    return 0.5 * (x / _OVAL_A) ** 2 + 0.15 * ((y - _OVAL_CY) / _OVAL_B) ** 2 - 0.15


def _loop(indices: tuple[int, ...], cx: float, cy: float, rx: float, ry_low: float, ry_up: float,
          sign: float) -> dict[int, tuple[float, float]]:  # fmt: skip
    """Points of a closed loop that starts at one corner, runs along the lower edge to the other
    corner and back along the upper edge (``sign`` = -1 when it starts on the image left)."""
    n = len(indices)
    angle = 2 * np.pi * np.arange(n) / n
    x = cx + sign * rx * np.cos(angle)
    y = cy + np.where(np.sin(angle) > 0, ry_low, ry_up) * np.sin(angle)
    return {i: (float(a), float(b)) for i, a, b in zip(indices, x, y, strict=True)}


def _flip_lid(points: dict[int, tuple[float, float]]) -> dict[int, tuple[float, float]]:
    """Eye loops run along the upper lid first: mirror the loop's y about its corners' line."""
    cy = points[next(iter(points))][1]
    return {i: (x, 2 * cy - y) for i, (x, y) in points.items()}


@lru_cache(maxsize=1)
def face_template() -> FaceTemplate:
    """The procedural face mesh (see the module docstring)."""
    xy: dict[int, tuple[float, float]] = {}
    # Face oval: point 10 at the top, 454 on the image right, 152 at the chin, 234 on the left.
    keys = np.array([0, 8, 18, 28, 36])
    angles = np.interp(np.arange(36), keys, np.deg2rad([-90, 0, 90, 180, 270]))
    jaw = 1.0 - 0.22 * np.clip(np.sin(angles), 0.0, None)
    for i, angle, narrow in zip(_OVAL, angles, jaw, strict=True):
        xy[i] = (_OVAL_A * np.cos(angle) * narrow, _OVAL_CY + _OVAL_B * np.sin(angle))
    xy.update(_loop(_LIPS_OUTER, 0.0, 0.33, 0.19, 0.08, 0.075, -1.0))
    xy.update(_loop(_LIPS_INNER, 0.0, 0.325, 0.15, 0.012, 0.012, -1.0))
    xy.update(_flip_lid(_loop(_RIGHT_EYE, -0.235, -0.17, 0.115, 0.045, 0.035, -1.0)))
    xy.update(_flip_lid(_loop(_LEFT_EYE, 0.235, -0.17, 0.115, 0.045, 0.035, 1.0)))
    for side, (upper, lower) in ((-1.0, _BROWS[:2]), (1.0, _BROWS[2:])):
        t = np.linspace(0.0, 1.0, 5)
        x = side * (0.4 - 0.32 * t)
        arch = -0.36 - 0.04 * np.sin(np.pi * (0.3 + 0.7 * t))
        for i, a, b in zip(upper, x, arch - 0.025, strict=True):
            xy[i] = (float(a), float(b))
        for i, a, b in zip(lower, x, arch + 0.02, strict=True):
            xy[i] = (float(a), float(b))
    for i, y in zip(_NOSE_BRIDGE, np.linspace(-0.17, 0.17, len(_NOSE_BRIDGE)), strict=True):
        xy[i] = (0.0, float(y))
    theta = np.pi / 2 + 2 * np.pi * (np.arange(len(_NOSTRILS)) - 2) / len(_NOSTRILS)
    for i, angle in zip(_NOSTRILS, theta, strict=True):
        if i not in xy:
            xy[i] = (float(-0.1 * np.cos(angle)), float(0.12 + 0.06 * np.sin(angle)))
    for i, y in _MIDLINE.items():
        xy[i] = (0.0, y)
    _fill_spiral(xy)
    points = np.zeros((NUM_FACE_POINTS + 2, 3))
    for i, (x, y) in xy.items():
        points[i, :2] = (x, y)
    points[:NUM_FACE_POINTS, 2] = _depth(points[:NUM_FACE_POINTS, 0], points[:NUM_FACE_POINTS, 1])
    bridge = np.array(_NOSE_BRIDGE)
    points[bridge, 2] -= 0.1 + 0.25 * np.sin(np.linspace(0.2, np.pi - 0.4, len(bridge)))
    points[np.array([i for i in _NOSTRILS if i not in (2, 4)]), 2] -= 0.15
    points[NUM_FACE_POINTS:] = [[-0.56, -0.05, 0.45], [0.56, -0.05, 0.45]]  # ears
    return FaceTemplate(points=points, blendshapes=_blendshapes(points))


def _fill_spiral(xy: dict[int, tuple[float, float]]) -> None:
    """Place the remaining mesh points inside the oval: midline points on x = 0, mirror pairs
    (lower index on the image left) as mirror images on a half Vogel spiral."""
    rest = [i for i in range(NUM_FACE_POINTS) if i not in xy]
    midline = [i for i in rest if FACE_MIRROR[i] == i]
    pairs = [i for i in rest if FACE_MIRROR[i] != i and i < FACE_MIRROR[i]]
    for k, i in enumerate(midline):
        xy[i] = (0.0, float(-0.5 + 1.1 * (k + 0.5) / len(midline)))
    n = len(pairs)
    k = np.arange(n) + 0.5
    radius = np.sqrt(k / n)
    angle = k * np.pi * (3.0 - np.sqrt(5.0))  # golden angle
    x = -np.abs(0.42 * radius * np.cos(angle)) - 0.02
    y = _OVAL_CY + 0.56 * radius * np.sin(angle)
    for i, a, b in zip(pairs, x, y, strict=True):
        xy[i] = (float(a), float(b))
        xy[FACE_MIRROR[i]] = (float(-a), float(b))


def _blendshapes(points: np.ndarray) -> np.ndarray:
    """[4, 470, 3]: mouth open, mouth width, brow raise, blink (unit activation each)."""
    shapes = np.zeros((4,) + points.shape)
    x, y = points[:, 0], points[:, 1]
    n = len(_LIPS_OUTER) // 2
    lower = [*_LIPS_OUTER[1:n], *_LIPS_INNER[1:n]]
    corners = [_LIPS_OUTER[0], _LIPS_OUTER[n], _LIPS_INNER[0], _LIPS_INNER[n]]
    upper_inner = list(_LIPS_INNER[n + 1 :])
    # Opening: the jaw drops (everything below the mouth), the lower lip most, the corners half.
    below = np.clip((y - 0.36) / 0.1, 0.0, 1.0)
    below[NUM_FACE_POINTS:] = 0.0
    shapes[0, :, 1] = 0.1 * below
    shapes[0, lower, 1] = 0.16 * (0.5 + 0.5 * np.cos(np.pi * x[lower] / 0.4))
    shapes[0, corners, 1] = 0.05
    shapes[0, upper_inner, 1] = -0.02
    # Width: +1 spreads the lips ("i"), -1 rounds and protrudes them ("u").
    lips = list(MOUTH_POINTS)
    shapes[1, lips, 0] = 0.06 * x[lips] / 0.19
    shapes[1, lips, 2] = 0.04 * (1.0 - (x[lips] / 0.19) ** 2).clip(0.0, 1.0)
    # Brow raise: brows up, forehead a little.
    brows = [i for group in _BROWS for i in group]
    shapes[2, brows, 1] = -0.06
    shapes[2, :, 1] += np.where(y < -0.4, -0.02, 0.0) * (np.arange(len(y)) < NUM_FACE_POINTS)
    # Blink: the upper lid comes down onto the lower lid.
    for eye in (_RIGHT_EYE, _LEFT_EYE):
        upper = np.array(eye[1:8])
        shapes[3, upper, 1] = 0.075 * np.sin(np.pi * np.arange(1, 8) / 8)
    return shapes


# ---------------------------------------------------------------------------------------------
# Hands and arms.

# MCP joints of index, middle, ring, pinky in the hand frame (thumb side, fingers, palm normal),
# in hand lengths (wrist to middle fingertip = 1).
_MCP = np.array([[0.16, 0.44, 0.0], [0.055, 0.45, 0.0], [-0.05, 0.43, 0.0], [-0.15, 0.38, 0.0]])
_FINGER_LENGTH = np.array([0.5, 0.55, 0.51, 0.41])
_SEGMENTS = np.array([0.46, 0.3, 0.24])
_ABDUCTION = np.array([1.0, 0.0, -0.8, -1.6])
_THUMB_CMC = np.array([0.1, 0.1, 0.03])
_THUMB_SEGMENTS = np.array([0.2, 0.15, 0.12])
_THUMB_ADDUCTED = np.array([0.25, 0.97, 0.05])
_THUMB_OUT = np.array([0.8, 0.6, 0.0])
_THUMB_OPPOSED = np.array([-0.35, 0.55, 0.75])
HAND_CENTER = np.array([0.0275, 0.225, 0.0])  # midpoint of the wrist and the middle finger's MCP
_PALM = np.array([0.0, 0.0, 1.0])


def hand_points(shape: np.ndarray) -> np.ndarray:
    """Forward kinematics: handshapes [T, 12] -> 21 MediaPipe hand points [T, 21, 3], hand frame.

    Fingers flex towards the palm normal: cumulative angles MCP, MCP+PIP, MCP+1.7 PIP (the DIP
    joint follows the PIP at 0.7). The thumb's base direction blends adducted (along the index),
    abducted (out in the palm plane) and opposed (in front of the palm); then it flexes across
    the palm.
    """
    frames = shape.shape[0]
    mcp, pip = shape[:, 0:8:2], shape[:, 1:8:2]  # [T, 4]
    abduction = shape[:, 8:9] * _ABDUCTION  # [T, 4]
    phi = np.stack([mcp, mcp + pip, mcp + 1.7 * pip], axis=-1)  # [T, 4, 3]
    base = np.stack([np.sin(abduction), np.cos(abduction), np.zeros_like(abduction)], axis=-1)  # [T, 4, 3]
    dirs = np.cos(phi)[..., None] * base[:, :, None, :] + np.sin(phi)[..., None] * _PALM  # [T, 4, 3, 3]
    steps = (_FINGER_LENGTH[:, None] * _SEGMENTS)[None, :, :, None] * dirs  # [T, 4, 3, 3]
    joints = _MCP[None, :, None, :] + np.cumsum(steps, axis=2)  # [T, 4, 3, 3]
    fingers = np.concatenate([np.broadcast_to(_MCP[None, :, None, :], (frames, 4, 1, 3)), joints], axis=2)

    abduction, opposition, flexion = shape[:, 9:10], shape[:, 10:11], shape[:, 11]  # [T, 1], [T, 1], [T]
    adducted = np.clip(1.0 - abduction - opposition, 0.0, None)
    d0 = adducted * _THUMB_ADDUCTED + abduction * _THUMB_OUT + opposition * _THUMB_OPPOSED  # [T, 3]
    d0 /= np.linalg.norm(d0, axis=-1, keepdims=True)
    bend = np.array([-1.0, 0.1, 0.7]) - (d0 @ np.array([-1.0, 0.1, 0.7]))[:, None] * d0  # [T, 3]
    bend /= np.linalg.norm(bend, axis=-1, keepdims=True)
    theta = np.stack([np.zeros_like(flexion), 0.6 * flexion, 1.3 * flexion], axis=-1)  # [T, 3]
    thumb_dirs = np.cos(theta)[..., None] * d0[:, None, :] + np.sin(theta)[..., None] * bend[:, None, :]
    thumb = _THUMB_CMC + np.cumsum(_THUMB_SEGMENTS[None, :, None] * thumb_dirs, axis=1)  # [T, 3, 3]
    thumb = np.concatenate([np.broadcast_to(_THUMB_CMC, (frames, 1, 3)), thumb], axis=1)  # [T, 4, 3]

    wrist = np.zeros((frames, 1, 3))
    return np.concatenate([wrist, thumb, fingers.reshape(frames, 16, 3)], axis=1)  # [T, 21, 3]


def place_hand(local: np.ndarray, center: np.ndarray, quat: np.ndarray, length: float) -> np.ndarray:
    """Hand points [T, 21, 3] in signer space: hand-frame points [T, 21, 3] rotated by ``quat``
    [T, 4], scaled to ``length`` and moved so the hand centre lies on ``center`` [T, 3]."""
    rotation = quat_to_matrix(quat)  # [T, 3, 3]
    offsets = rotate((local - HAND_CENTER) * length, rotation)  # [T, 21, 3]
    return center[:, None, :] + offsets


def arm_ik(shoulder: np.ndarray, wrist: np.ndarray, upper: float, fore: float,
           pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Two-bone inverse kinematics: elbow [T, 3] for wrist targets [T, 3] from ``shoulder`` [3].

    The elbow bends towards ``pole`` [T, 3] or [3]. Targets out of reach are pulled in
    along the shoulder-wrist line; the reached wrist [T, 3] is returned with the elbow.
    """
    delta = wrist - shoulder  # [T, 3]
    dist = np.linalg.norm(delta, axis=-1, keepdims=True)
    reach = np.clip(dist, abs(upper - fore) + 1e-3, upper + fore - 1e-3)
    axis = delta / np.maximum(dist, 1e-9)
    reached = shoulder + axis * reach
    cos_a = (upper**2 + reach**2 - fore**2) / (2 * upper * reach)
    sin_a = np.sqrt(np.clip(1.0 - cos_a**2, 0.0, 1.0))
    normal = pole - np.sum(axis * pole, axis=-1, keepdims=True) * axis
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)
    elbow = shoulder + upper * (cos_a * axis + sin_a * normal)
    return elbow, reached
