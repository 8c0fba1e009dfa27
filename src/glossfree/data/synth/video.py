"""Stick-figure ``.mp4`` rendering of a pose file (for the RGB recipes on synthetic data).

Each frame is drawn with Pillow: the header's limbs of every image-space component (body, face,
hands; world landmarks are skipped) as lines in the component's colours, and the points as dots,
on a dark background; masked points and their limbs are not drawn. Frames are encoded with PyAV
as H.264 (``libx264``) when the bundled FFmpeg has it, else MPEG-4 part 2 (``mpeg4``), in
``yuv420p``, single-threaded so the bytes are reproducible. The file is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from pose_format import Pose

from glossfree.io import atomic_path

_SKIPPED = ("POSE_WORLD_LANDMARKS",)
_BACKGROUND = (16, 16, 24)
# Lines thinner than this many pixels are invisible after YUV 4:2:0 subsampling.
_MIN_WIDTH = 1


@lru_cache(maxsize=1)
def video_codec() -> str:
    """``libx264`` if PyAV's FFmpeg can encode H.264 with it, else ``mpeg4``."""
    import av

    try:
        av.codec.Codec("libx264", "w")
    except Exception:  # noqa: BLE001 - PyAV raises different errors across versions
        return "mpeg4"
    return "libx264"


def _color(colors: list, index: int) -> tuple[int, int, int]:
    if len(colors) == 0:
        return (255, 255, 255)
    r, g, b = (int(c) for c in colors[index % len(colors)])
    return (min(r, 255), min(g, 255), min(b, 255))


@dataclass(frozen=True)
class _Part:
    """How to draw one header component: its point range, kind, limbs and limb colours."""

    start: int
    count: int
    kind: str  # face, hand or body
    limbs: tuple[tuple[int, int], ...]
    colors: tuple[tuple[int, int, int], ...]


def _parts(pose: Pose) -> list[_Part]:
    parts, offset = [], 0
    for component in pose.header.components:
        count = len(component.points)
        if component.name not in _SKIPPED:
            kind = "face" if component.name.startswith("FACE") else "hand" if "HAND" in component.name else "body"
            limbs = tuple((int(a), int(b)) for a, b in component.limbs)
            colors = tuple((200, 200, 200) if kind == "face" else _color(component.colors, k) for k in range(len(limbs)))
            parts.append(_Part(offset, count, kind, limbs, colors))
        offset += count
    return parts


def draw_frame(pose: Pose, frame: int, size: tuple[int, int], parts: list[_Part] | None = None) -> Image.Image:
    """One stick-figure frame (person 0) as an RGB image of ``size`` (width, height)."""
    image = Image.new("RGB", size, _BACKGROUND)
    draw = ImageDraw.Draw(image)
    data = np.ma.getdata(pose.body.data[frame, 0])[:, :2].tolist()  # [P][x, y]
    valid = (~np.ma.getmaskarray(pose.body.data[frame, 0]).any(axis=-1) & (pose.body.confidence[frame, 0] > 0)).tolist()
    width = max(_MIN_WIDTH, round(min(size) / 240))
    for part in parts if parts is not None else _parts(pose):
        points = data[part.start : part.start + part.count]
        ok = valid[part.start : part.start + part.count]
        line = {"face": 1, "hand": width, "body": 2 * width}[part.kind]
        for (a, b), color in zip(part.limbs, part.colors, strict=True):
            if ok[a] and ok[b]:
                draw.line([tuple(points[a]), tuple(points[b])], fill=color, width=line)
        shown = [tuple(p) for p, v in zip(points, ok, strict=True) if v]
        if part.kind == "face":
            draw.point(shown, fill=(255, 255, 255))
        else:
            radius = width if part.kind == "hand" else width + 1
            for x, y in shown:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 255, 255))
    return image


def render_video(pose: Pose, path: str | Path, *, fps: float | None = None) -> None:
    """Write a stick-figure video of ``pose`` to ``path`` (``.mp4``), atomically.

    The frame size is the pose header's (rounded down to even numbers); ``fps`` defaults to the
    pose's.
    """
    import av

    path = Path(path)
    width = int(pose.header.dimensions.width) // 2 * 2
    height = int(pose.header.dimensions.height) // 2 * 2
    rate = Fraction(fps if fps is not None else float(pose.body.fps)).limit_denominator(1001)
    codec = video_codec()
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.thread_count = 1
        if codec == "libx264":
            stream.options = {"crf": "20", "preset": "veryfast"}
        parts = _parts(pose)
        for frame in range(pose.body.data.shape[0]):
            image = draw_frame(pose, frame, (width, height), parts)
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
