"""Composable keypoint augmentations (the OpenHands ``pose_transforms`` API, without its warts).

Each transform is a small class: parameters in ``__init__``, ``__call__(keypoints, rng)`` returning
a *new* :class:`~glossfree.data.pose_io.Keypoints` (the input is never changed), randomness drawn
only from the explicit ``np.random.Generator``. Validity comes from the mask, never from testing
coordinates for zero: a point that is masked stays masked with value 0 after every transform.

Config files name transforms by class through the closed table :data:`TRANSFORMS`
(:func:`build_transforms`), never by an import string.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from glossfree.data.layouts import KeypointLayout, get_layout, mirror_indices
from glossfree.data.pose_io import Keypoints
from glossfree.errors import ConfigError


class Transform(Protocol):
    def __call__(self, keypoints: Keypoints, rng: np.random.Generator) -> Keypoints: ...


def _masked(points: np.ndarray, mask: np.ndarray, fps: float) -> Keypoints:
    points = points.astype(np.float32, copy=True)
    points[~mask] = 0.0
    return Keypoints(points=points, mask=mask.copy(), fps=fps)


class Compose:
    """Apply transforms in order.

    Args:
        transforms: the transforms, first applied first.
    """

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, keypoints: Keypoints, rng: np.random.Generator) -> Keypoints:
        for transform in self.transforms:
            keypoints = transform(keypoints, rng)
        return keypoints


class RandomAffine:
    """Rotate in the image plane, scale and shift the whole sequence by one random draw.

    Args:
        rotation_deg: rotation angle drawn from ``[-rotation_deg, rotation_deg]`` about the origin
            (the shoulder midpoint after normalisation), in the x-y plane.
        scale: uniform scale factor range ``(low, high)``, applied to x, y and z.
        shift: x and y shifts drawn from ``[-shift, shift]`` (shoulder lengths when normalised).
    """

    def __init__(
        self, rotation_deg: float = 15.0, scale: tuple[float, float] = (0.9, 1.1), shift: float = 0.1
    ) -> None:
        if rotation_deg < 0 or shift < 0 or not 0 < scale[0] <= scale[1]:
            raise ConfigError(
                f"RandomAffine: need rotation_deg >= 0, shift >= 0, 0 < scale[0] <= scale[1]; got "
                f"rotation_deg={rotation_deg}, scale={scale}, shift={shift}"
            )
        self.rotation_deg, self.scale, self.shift = rotation_deg, tuple(scale), shift

    def __call__(self, keypoints: Keypoints, rng: np.random.Generator) -> Keypoints:
        angle = math.radians(rng.uniform(-self.rotation_deg, self.rotation_deg))
        factor = rng.uniform(*self.scale)
        offset = rng.uniform(-self.shift, self.shift, size=2)
        cos, sin = math.cos(angle), math.sin(angle)
        matrix = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]]) * factor  # [3, 3]
        points = keypoints.points @ matrix.T  # [T, N, 3]
        points[..., :2] += offset
        return _masked(points, keypoints.mask, keypoints.fps)


def resampled_length(num_frames: int, factor: float) -> int:
    """Frames left after resampling ``num_frames`` to ``factor`` times as many (at least 1)."""
    return max(1, round(num_frames * factor))


def resample_indices(num_frames: int, length: int) -> np.ndarray:
    """``length`` frame indices spread evenly over ``num_frames`` frames (nearest-frame selection)."""
    positions = (np.arange(length) + 0.5) * num_frames / length  # [length]
    return np.minimum(positions.astype(np.int64), num_frames - 1)


def _take_frames(keypoints: Keypoints, indices: np.ndarray, fps: float) -> Keypoints:
    return Keypoints(points=keypoints.points[indices].copy(), mask=keypoints.mask[indices].copy(), fps=fps)


def resample_fps(keypoints: Keypoints, fps: float) -> Keypoints:
    """Resample to ``fps`` frames per second by selecting frames (no interpolation, masks kept)."""
    if fps <= 0 or keypoints.fps <= 0:
        raise ValueError(f"cannot resample from {keypoints.fps} fps to {fps} fps")
    if math.isclose(fps, keypoints.fps):
        return keypoints
    length = resampled_length(keypoints.num_frames, fps / keypoints.fps)
    return _take_frames(keypoints, resample_indices(keypoints.num_frames, length), fps)


class TemporalResample:
    """Play the sequence faster or slower: pick frames so that ``T' = round(T / speed)``.

    Frames are selected, not interpolated, so a missing point never becomes a blend of a real
    point and a zero. ``fps`` is kept (the signing itself gets faster or slower).

    Args:
        speed_range: ``(low, high)`` range of the speed factor (``> 1`` means fewer frames).
    """

    def __init__(self, speed_range: tuple[float, float] = (0.8, 1.25)) -> None:
        if not 0 < speed_range[0] <= speed_range[1]:
            raise ConfigError(
                f"TemporalResample: need 0 < speed_range[0] <= speed_range[1], got {speed_range}"
            )
        self.speed_range = tuple(speed_range)

    def __call__(self, keypoints: Keypoints, rng: np.random.Generator) -> Keypoints:
        speed = rng.uniform(*self.speed_range)
        length = resampled_length(keypoints.num_frames, 1.0 / speed)
        return _take_frames(keypoints, resample_indices(keypoints.num_frames, length), keypoints.fps)


class RandomPointDropout:
    """Mask each (frame, point) independently with probability ``p`` (mask False, value 0).

    Args:
        p: drop probability in ``[0, 1]``.
    """

    def __init__(self, p: float = 0.05) -> None:
        if not 0 <= p <= 1:
            raise ConfigError(f"RandomPointDropout: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, keypoints: Keypoints, rng: np.random.Generator) -> Keypoints:
        keep = rng.random(keypoints.mask.shape) >= self.p  # [T, N]
        return _masked(keypoints.points, keypoints.mask & keep, keypoints.fps)


class HorizontalFlip:
    """Mirror the signer left-right with probability ``p``.

    x becomes ``2 * center_x - x`` and every point takes its mirror partner's place (left and right
    hands swap, ``LEFT_*``/``RIGHT_*`` body points swap, face-mesh points swap with their mirror).
    This changes handedness: a right-handed signer becomes a left-handed one, which is a real
    variation across signers but can change meaning for lateralised signs.

    Args:
        layout: the layout of the keypoints (name or object); needed to know which points pair up.
        p: flip probability.
        center_x: mirror axis; 0 for normalised keypoints (centred on the shoulders).
    """

    def __init__(
        self, layout: KeypointLayout | str = "pose203", p: float = 0.5, center_x: float = 0.0
    ) -> None:
        if not 0 <= p <= 1:
            raise ConfigError(f"HorizontalFlip: p must be in [0, 1], got {p}")
        self.layout = get_layout(layout)
        self.permutation = mirror_indices(self.layout)  # [N]
        self.p, self.center_x = p, center_x

    def __call__(self, keypoints: Keypoints, rng: np.random.Generator) -> Keypoints:
        if keypoints.num_points != self.layout.num_points:
            raise ValueError(
                f"HorizontalFlip: keypoints have {keypoints.num_points} points, layout "
                f"'{self.layout.name}' has {self.layout.num_points}"
            )
        if rng.random() >= self.p:
            return keypoints
        points = keypoints.points[:, self.permutation].copy()  # [T, N, 3]
        points[..., 0] = 2 * self.center_x - points[..., 0]
        return _masked(points, keypoints.mask[:, self.permutation], keypoints.fps)


TRANSFORMS: dict[str, type] = {
    "RandomAffine": RandomAffine,
    "TemporalResample": TemporalResample,
    "RandomPointDropout": RandomPointDropout,
    "HorizontalFlip": HorizontalFlip,
}


def build_transforms(specs: Sequence[dict[str, Any]]) -> Compose:
    """Build a :class:`Compose` from ``[{"kind": "RandomAffine", "rotation_deg": 10}, ...]``."""
    transforms = []
    for position, spec in enumerate(specs):
        kwargs = dict(spec)
        kind = kwargs.pop("kind", None)
        if kind not in TRANSFORMS:
            raise ConfigError(
                f"transforms[{position}]: unknown kind {kind!r}; valid kinds: {', '.join(TRANSFORMS)}"
            )
        try:
            transforms.append(TRANSFORMS[kind](**kwargs))
        except TypeError as error:
            raise ConfigError(f"transforms[{position}] ({kind}): {error}") from None
    return Compose(transforms)
