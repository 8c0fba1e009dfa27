"""Keypoint layouts: which MediaPipe holistic points a model sees, in which order, in which groups.

A :class:`KeypointLayout` is an ordered tuple of ``(component, point)`` names as written by
pose-format's MediaPipe estimator (``pose_format.utils.holistic.holistic_components()``), plus
articulator groups (index ranges into that tuple). Points are always addressed by name, never by
a raw integer offset into a file, so files with a 468- or 478-point face (refined iris), with or
without ``POSE_WORLD_LANDMARKS``, or written by pose-format's ``reduce_holistic`` all map onto the
same layout.

Two layouts ship:

- ``"holistic"``: the full MediaPipe holistic skeleton, 33 body + 468 face + 21 + 21 = 543 points.
  On a refined 478-point face the 10 iris points are not selected.
- ``"pose203"``: paper 004 ("Lost in Translation, Found in Embeddings", Sec. 3.1): 33 body +
  128 face + 21 left hand + 21 right hand = 203 points, grouped into the four articulators the
  paper encodes separately. The paper does not list its 128 face points; it cites SignCLIP
  (Jiang et al., 2024) for its keypoint preprocessing, and SignCLIP reduces the face with
  pose-format's ``reduce_holistic``, which keeps exactly the 128 points of MediaPipe's
  ``FACEMESH_CONTOURS`` (lips, eyes, eyebrows, face oval). We use that same list (in the same
  ascending order) because (1) it is the only 128-point MediaPipe face subset in the lineage the
  paper cites, (2) the contours carry the non-manual signals (mouth shape, eye gaze, brow raise)
  with far fewer points than the dense mesh, and (3) it is the exact ``FACE_LANDMARKS`` list of
  reduced pose files in the wild (pose-format's own ``tests/data/mediapipe.pose``), so such files
  load into ``pose203`` with their whole face present. The set is closed under left/right
  mirroring, so :func:`mirror_indices` is defined on it.

:func:`select_points` gathers a layout's points from a ``pose_format.Pose`` (person 0) with a
detection mask; a point that the file lacks is an error naming what is missing, or, with
``allow_missing=True``, a masked point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from glossfree.errors import ConfigError, DataError

if TYPE_CHECKING:
    from pose_format import Pose
    from pose_format.pose_header import PoseHeader

# pose-format MediaPipe holistic component names.
POSE = "POSE_LANDMARKS"
FACE = "FACE_LANDMARKS"
LEFT_HAND = "LEFT_HAND_LANDMARKS"
RIGHT_HAND = "RIGHT_HAND_LANDMARKS"
POSE_WORLD = "POSE_WORLD_LANDMARKS"
HOLISTIC_COMPONENTS = (POSE, FACE, LEFT_HAND, RIGHT_HAND, POSE_WORLD)

# Point names as pose-format writes them (mediapipe PoseLandmark / HandLandmark member names, face
# mesh indices as strings). Spelled out here so that the core does not import mediapipe (an extra).
BODY_POINTS: tuple[str, ...] = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE",
    "RIGHT_EYE_OUTER", "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER",
    "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY",
    "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX", "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP",
    "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE", "LEFT_HEEL", "RIGHT_HEEL",
    "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)  # fmt: skip
HAND_POINTS: tuple[str, ...] = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP",
    "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP",
    "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP", "RING_FINGER_MCP",
    "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP", "PINKY_MCP", "PINKY_PIP", "PINKY_DIP",
    "PINKY_TIP",
)  # fmt: skip
FACE_POINTS: tuple[str, ...] = tuple(str(i) for i in range(468))
# MediaPipe FACEMESH_CONTOURS points, as hard-coded in pose_format.utils.generic.reduce_holistic.
CONTOUR_FACE_POINTS: tuple[str, ...] = tuple(str(i) for i in (
    0, 7, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58, 61, 63, 65, 66, 67, 70, 78,
    80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109, 127, 132, 133, 136, 144, 145, 146, 148,
    149, 150, 152, 153, 154, 155, 157, 158, 159, 160, 161, 162, 163, 172, 173, 176, 178, 181, 185,
    191, 234, 246, 249, 251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296,
    297, 300, 308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362,
    365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390, 397, 398,
    400, 402, 405, 409, 415, 454, 466,
))  # fmt: skip
# MediaPipe skeleton edges (mp.solutions.holistic POSE_CONNECTIONS / HAND_CONNECTIONS).
BODY_LIMBS: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 4), (1, 2), (2, 3), (3, 7), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13),
    (11, 23), (12, 14), (12, 24), (13, 15), (14, 16), (15, 17), (15, 19), (15, 21), (16, 18),
    (16, 20), (16, 22), (17, 19), (18, 20), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (27, 31), (28, 30), (28, 32), (29, 31), (30, 32),
)  # fmt: skip
HAND_LIMBS: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 5), (0, 17), (1, 2), (2, 3), (3, 4), (5, 6), (5, 9), (6, 7), (7, 8), (9, 10),
    (9, 13), (10, 11), (11, 12), (13, 14), (13, 17), (14, 15), (15, 16), (17, 18), (18, 19),
    (19, 20),
)  # fmt: skip
# Face-mesh points on the symmetry axis (their own mirror image). Every other point i < 248 pairs,
# in ascending order, with 248, 249, ..., 467; the refined iris points pair as below. This is the
# same involution as pose_format.utils.holistic.FLIPPED_FACE_POINTS (derived there from
# MediaPipe's canonical face model), stored compactly; a test checks the two agree.
_FACE_MIDLINE = (0, 1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 94, 151, 152, 164,
                 168, 175, 195, 197, 199, 200)  # fmt: skip
_IRIS_PAIRS = ((468, 473), (469, 476), (470, 475), (471, 474), (472, 477))


def _face_mirror_table() -> tuple[int, ...]:
    table = list(range(478))
    left = [i for i in range(248) if i not in _FACE_MIDLINE]
    for a, b in [*zip(left, range(248, 468), strict=True), *_IRIS_PAIRS]:
        table[a], table[b] = b, a
    return tuple(table)


FACE_MIRROR: tuple[int, ...] = _face_mirror_table()


@dataclass(frozen=True)
class KeypointLayout:
    """An ordered set of named keypoints with articulator groups.

    Attributes:
        name: layout name (``"holistic"``, ``"pose203"``, or a custom one).
        points: ``(component, point)`` pose-format names, in model input order.
        groups: articulator group -> ``(start, stop)`` index range into ``points``.
    """

    name: str
    points: tuple[tuple[str, str], ...]
    groups: dict[str, tuple[int, int]] = field(hash=False)

    def __post_init__(self) -> None:
        for group, (start, stop) in self.groups.items():
            if not 0 <= start < stop <= len(self.points):
                raise ConfigError(
                    f"layout '{self.name}': group '{group}' range ({start}, {stop}) is outside "
                    f"0..{len(self.points)}"
                )
        if len(set(self.points)) != len(self.points):
            raise ConfigError(f"layout '{self.name}': points are not unique")

    @property
    def num_points(self) -> int:
        return len(self.points)

    def group_indices(self, group: str) -> np.ndarray:
        """Indices into ``points`` of one articulator group."""
        if group not in self.groups:
            raise ConfigError(
                f"layout '{self.name}' has no group '{group}'; groups: {', '.join(self.groups)}"
            )
        start, stop = self.groups[group]
        return np.arange(start, stop)


def _build(name: str, parts: list[tuple[str, str, tuple[str, ...]]]) -> KeypointLayout:
    points: list[tuple[str, str]] = []
    groups: dict[str, tuple[int, int]] = {}
    for group, component, names in parts:
        start = len(points)
        points.extend((component, point) for point in names)
        groups[group] = (start, len(points))
    return KeypointLayout(name=name, points=tuple(points), groups=groups)


_LAYOUTS: dict[str, KeypointLayout] = {
    "holistic": _build(
        "holistic",
        [
            ("body", POSE, BODY_POINTS),
            ("face", FACE, FACE_POINTS),
            ("left_hand", LEFT_HAND, HAND_POINTS),
            ("right_hand", RIGHT_HAND, HAND_POINTS),
        ],
    ),
    "pose203": _build(
        "pose203",
        [
            ("body", POSE, BODY_POINTS),
            ("face", FACE, CONTOUR_FACE_POINTS),
            ("left_hand", LEFT_HAND, HAND_POINTS),
            ("right_hand", RIGHT_HAND, HAND_POINTS),
        ],
    ),
}


def layout_names() -> list[str]:
    return sorted(_LAYOUTS)


def get_layout(name: str | KeypointLayout) -> KeypointLayout:
    """Return the layout called ``name`` (a layout object is returned as is)."""
    if isinstance(name, KeypointLayout):
        return name
    if name not in _LAYOUTS:
        raise ConfigError(f"unknown keypoint layout '{name}'; valid names: {', '.join(layout_names())}")
    return _LAYOUTS[name]


def _mirror_name(component: str, point: str) -> tuple[str, str]:
    """The (component, point) that a horizontal flip maps this point onto."""
    if component in (LEFT_HAND, RIGHT_HAND):
        return (RIGHT_HAND if component == LEFT_HAND else LEFT_HAND), point
    if component in (POSE, POSE_WORLD):
        swapped = point.replace("LEFT", "\0").replace("RIGHT", "LEFT").replace("\0", "RIGHT")
        return component, swapped
    if component == FACE and point.isdigit() and int(point) < len(FACE_MIRROR):
        return component, str(FACE_MIRROR[int(point)])
    return component, point


def mirror_indices(layout: KeypointLayout) -> np.ndarray:
    """Permutation ``perm`` with ``flipped[:, i] = points[:, perm[i]]`` for a left/right mirror.

    Left and right hands swap, ``LEFT_*``/``RIGHT_*`` body points swap, face-mesh points map to their
    mirror image. Raises :class:`ConfigError` if a mirror partner is not in the layout.
    """
    index = {point: i for i, point in enumerate(layout.points)}
    perm = np.empty(layout.num_points, dtype=np.int64)
    for i, point in enumerate(layout.points):
        partner = _mirror_name(*point)
        if partner not in index:
            raise ConfigError(
                f"layout '{layout.name}': point {point} has no mirror partner {partner} in the layout"
            )
        perm[i] = index[partner]
    return perm


def _point_index(header: PoseHeader) -> dict[tuple[str, str], int]:
    """(component, point) -> flat index into the pose body's point axis."""
    index: dict[tuple[str, str], int] = {}
    offset = 0
    for component in header.components:
        for i, point in enumerate(component.points):
            index.setdefault((component.name, point), offset + i)
        offset += len(component.points)
    return index


def _missing_message(layout: KeypointLayout, missing: list[tuple[str, str]], header: PoseHeader) -> str:
    needed: dict[str, int] = {}
    for component, _ in layout.points:
        needed[component] = needed.get(component, 0) + 1
    lost: dict[str, int] = {}
    for component, _ in missing:
        lost[component] = lost.get(component, 0) + 1
    present = {c.name: len(c.points) for c in header.components}
    parts = []
    for component, count in lost.items():
        note = "" if component in present else ", component absent"
        parts.append(f"{component} ({count} of {needed[component]} points missing{note})")
    found = ", ".join(f"{name} ({n} points)" for name, n in present.items()) or "none"
    return (
        f"keypoint layout '{layout.name}' needs points the pose file lacks: {'; '.join(parts)}. "
        f"Components in the file: {found}. Re-estimate the poses with `glossfree poses` (full "
        "MediaPipe holistic), or from Python pass allow_missing=True to keep them as masked points."
    )


def detection_mask(pose: Pose, person: int = 0) -> np.ndarray:
    """``[T, P]`` bool, True where a point was detected (confidence > 0, unmasked, finite)."""
    data = pose.body.data[:, person]  # [T, P, D]
    values = np.ma.getdata(data)
    masked = np.ma.getmaskarray(data).any(axis=-1)  # [T, P]
    confidence = np.asarray(pose.body.confidence)[:, person]  # [T, P]
    return (confidence > 0) & ~masked & np.isfinite(values).all(axis=-1)


def select_points(
    pose: Pose, layout: KeypointLayout | str, *, allow_missing: bool = False, source: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Gather ``layout``'s points of person 0 from ``pose``.

    Returns:
        ``points`` float32 ``[T, N, D]`` in the file's coordinates, 0 where not detected, and
        ``mask`` bool ``[T, N]`` (True = detected).

    Raises:
        DataError: if the file lacks points of the layout (unless ``allow_missing``), listing the
        missing components with counts and the components found. ``source`` names the file.
    """
    layout = get_layout(layout)
    index = _point_index(pose.header)
    missing = [point for point in layout.points if point not in index]
    if missing and not allow_missing:
        prefix = f"{source}: " if source else ""
        raise DataError(prefix + _missing_message(layout, missing, pose.header))
    flat = np.array([index.get(point, -1) for point in layout.points], dtype=np.int64)  # [N]
    present = flat >= 0
    take = np.where(present, flat, 0)
    data = np.ma.getdata(pose.body.data)[:, 0]  # [T, P, D]
    detected = detection_mask(pose, 0)  # [T, P]
    points = data[:, take].astype(np.float32)  # [T, N, D]
    mask = detected[:, take] & present[None, :]  # [T, N]
    points[~mask] = 0.0
    return points, mask
