"""Tiny videos, a tiny dataset root and tiny extractor configs (the real architectures, width 32).

Imported by the tests as ``features.helpers`` (``tests/`` is on the path).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

VIT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
       "patch_size": 8, "image_size": 32}  # fmt: skip
SMALL = {"resize": 32, "crop": 32}
TINY_CONFIGS = {
    "dinov2": {"kind": "image", "model": "dinov2", "model_config": VIT, "pooling": "cls+mean", "preprocess": SMALL},
    "clip": {"kind": "image", "model": "clip", "model_config": VIT, "pooling": "cls", "s2_scales": [1, 2],
             "preprocess": SMALL},
    "resnet": {"kind": "image", "model": "resnet", "pooling": "mean", "preprocess": SMALL,
               "model_config": {"embedding_size": 16, "hidden_sizes": [16, 32], "depths": [1, 1], "layer_type": "basic"}},
    "videomae": {"kind": "video_clips", "model": "videomae", "clip_length": 4, "stride": 2, "preprocess": SMALL,
                 "model_config": {**VIT, "num_frames": 4, "tubelet_size": 2}},
}  # fmt: skip


def write_video(path: Path, num_frames: int = 20, fps: int = 10, size: tuple[int, int] = (48, 40)) -> Path:
    """A small mp4: a bright square moving over a gradient (width x height = ``size``)."""
    import av

    from glossfree.data.synth.video import video_codec

    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(video_codec(), rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(num_frames):
            image = np.zeros((height, width, 3), dtype=np.uint8)
            image[..., 0] = np.linspace(0, 200, width, dtype=np.uint8)[None, :]
            x = (index * 2) % (width - 8)
            image[10:18, x : x + 8] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_dataset(root: Path) -> Path:
    """Four records: two videos, one span of the second (0.5-1.5 s), a dev record."""
    write_video(root / "videos" / "a.mp4", num_frames=20)
    write_video(root / "videos" / "b.mp4", num_frames=30)
    records = [
        {"id": "a", "split": "train", "text": "guten morgen", "language": "de", "video": "videos/a.mp4"},
        {"id": "b", "split": "train", "text": "es regnet", "language": "de", "video": "videos/b.mp4"},
        {"id": "b_span", "split": "train", "text": "regnet", "language": "de", "video": "videos/b.mp4",
         "start": 0.5, "end": 1.5},
        {"id": "dev/c", "split": "dev", "text": "morgen", "language": "de", "video": "videos/a.mp4"},
    ]  # fmt: skip
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return root


