"""Fixed skeleton graphs for the articulator groups of a keypoint layout.

The adaptive graph convolution (:mod:`glossfree.models.frontends.pose_backbone`, after 2s-AGCN,
Shi et al. 2019) starts from a fixed adjacency matrix per articulator. It is built here from the
layout's point *names*, never from index offsets, with MediaPipe's own connection lists:

- body: ``POSE_CONNECTIONS`` (33 points, 35 edges),
- hands: ``HAND_CONNECTIONS`` (21 points, 21 edges; same topology for both hands),
- face: ``FACEMESH_CONTOURS`` (lips, eyes, eyebrows, face oval: 128 points, 124 edges), written
  below as polylines. On a layout whose face points are not all on a contour (the full 468-point
  ``holistic`` face) the extra points have only a self loop in the fixed graph; the learned and the
  data-dependent adjacency terms of the AGCN connect them.

An edge is kept when both of its end points are in the group. The body and hand edge lists live in
:mod:`glossfree.data.layouts` (``BODY_LIMBS``, ``HAND_LIMBS``); a test checks all three lists
against ``mediapipe.solutions`` when mediapipe is installed.
"""

from __future__ import annotations

import numpy as np

from glossfree.data.layouts import (
    BODY_LIMBS,
    BODY_POINTS,
    FACE,
    HAND_LIMBS,
    HAND_POINTS,
    LEFT_HAND,
    POSE,
    RIGHT_HAND,
    KeypointLayout,
)

# MediaPipe FACEMESH_CONTOURS as closed or open polylines of face-mesh indices
# (mediapipe/python/solutions/face_mesh_connections.py; each consecutive pair is one edge).
FACE_CONTOUR_POLYLINES: dict[str, tuple[int, ...]] = {
    "lips_outer": (0, 37, 39, 40, 185, 61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409,
                   270, 269, 267, 0),
    "lips_inner": (13, 82, 81, 80, 191, 78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415,
                   310, 311, 312, 13),
    "left_eye": (249, 263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390,
                 249),
    "left_eyebrow_lower": (276, 283, 282, 295, 285),
    "left_eyebrow_upper": (300, 293, 334, 296, 336),
    "right_eye": (7, 33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
    "right_eyebrow_lower": (46, 53, 52, 65, 55),
    "right_eyebrow_upper": (70, 63, 105, 66, 107),
    "face_oval": (10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176,
                  148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284,
                  332, 297, 338, 10),
}  # fmt: skip


def face_contour_edges() -> list[tuple[int, int]]:
    """The 124 ``FACEMESH_CONTOURS`` edges as (face-mesh index, face-mesh index) pairs."""
    edges = []
    for line in FACE_CONTOUR_POLYLINES.values():
        edges.extend(zip(line[:-1], line[1:], strict=True))
    return edges


def _named_edges() -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """All known skeleton edges as pairs of (component, point name)."""
    named: list[tuple[tuple[str, str], tuple[str, str]]] = []
    for a, b in BODY_LIMBS:
        named.append(((POSE, BODY_POINTS[a]), (POSE, BODY_POINTS[b])))
    for component in (LEFT_HAND, RIGHT_HAND):
        for a, b in HAND_LIMBS:
            named.append(((component, HAND_POINTS[a]), (component, HAND_POINTS[b])))
    for a, b in face_contour_edges():
        named.append(((FACE, str(a)), (FACE, str(b))))
    return named


def group_edges(layout: KeypointLayout, group: str) -> list[tuple[int, int]]:
    """Skeleton edges inside ``group`` as index pairs local to the group (0 = its first point)."""
    start, stop = layout.groups[group]
    local = {point: i - start for i, point in enumerate(layout.points[start:stop], start=start)}
    return [(local[a], local[b]) for a, b in _named_edges() if a in local and b in local]


def group_adjacency(layout: KeypointLayout, group: str) -> np.ndarray:
    """Symmetric 0/1 adjacency ``[N_g, N_g]`` of a group's skeleton, without self loops."""
    start, stop = layout.groups[group]
    size = stop - start
    adjacency = np.zeros((size, size), dtype=np.float32)
    for a, b in group_edges(layout, group):
        adjacency[a, b] = adjacency[b, a] = 1.0
    return adjacency


def normalized_subsets(adjacency: np.ndarray) -> np.ndarray:
    """The fixed AGCN subsets ``[2, N, N]``: self links ``I`` and ``D^-1/2 A D^-1/2`` (neighbours).

    2s-AGCN splits neighbours into centripetal/centrifugal subsets around a body centre; the face
    contours have no centre, so we use the undirected split (self, neighbours) for every group.
    Isolated points get an all-zero neighbour row.
    """
    degree = adjacency.sum(axis=1)
    inv_sqrt = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0)
    neighbours = inv_sqrt[:, None] * adjacency * inv_sqrt[None, :]
    identity = np.eye(adjacency.shape[0], dtype=np.float32)
    return np.stack([identity, neighbours.astype(np.float32)])
