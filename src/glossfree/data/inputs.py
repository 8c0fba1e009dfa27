"""Model inputs beyond poses: their names, RGB clips with clip-consistent augmentation, spans and
the centred window, sign segments, and auxiliary targets.

A model declares the inputs it reads as a set of names (:meth:`glossfree.models.slt.SLTModel.required_inputs`);
:class:`glossfree.data.datasets.PoseDataset` loads those and nothing else:

- ``keypoints``: the record's ``.pose`` file (keypoints + masks, the model's layout);
- ``frames``: the record's video (or frame folder), decoded with PyAV at the data frame rate,
  preprocessed as the frame encoder's backbone expects (:func:`glossfree.features.preprocess.preprocess_frames`);
- ``lips``: grayscale lip crops of the record's video, located from the face landmarks of its
  ``.pose`` (:mod:`glossfree.data.lips`; paper 004's lip stream), with a per-frame face-detected mask;
- ``features:<stream>``: the cache ``features/<stream>/<id>.safetensors`` written by ``glossfree extract``;
- ``segments``: sign spans from ``segments.jsonl`` (frame indices at each line's ``fps``, the
  synthetic signer's format; SAGE's sign-segment tokens), counted in the sample's steps;
- ``prompts``: a per-sample LM prompt from the record's ``prompt`` key (manifest extra);
- ``targets:pseudo_gloss``: a multi-hot pseudo-gloss vector from ``glossfree pseudo-glosses``'
  ``pseudo_glosses.json`` and ``pseudo_gloss_vocab.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from glossfree.errors import ConfigError, DataError

SIMPLE_INPUTS = ("keypoints", "frames", "lips", "segments", "prompts")
PREFIXED_INPUTS = ("features", "targets")
TARGETS = ("pseudo_gloss",)


def check_input_names(names: set[str] | frozenset[str]) -> frozenset[str]:
    """The names, checked: ``keypoints``, ``frames``, ``lips``, ``segments``, ``prompts``, ``features:<stream>``,
    ``targets:pseudo_gloss``; a ConfigError lists the valid forms."""
    for name in names:
        kind, _, arg = name.partition(":")
        ok = (kind in SIMPLE_INPUTS and not arg) or (kind == "features" and arg) or (kind == "targets" and arg in TARGETS)
        if not ok:
            raise ConfigError(
                f"unknown input '{name}'; inputs are {', '.join(SIMPLE_INPUTS)}, 'features:<stream>' and "
                f"{', '.join('targets:' + t for t in TARGETS)}"
            )
    return frozenset(names)


def feature_streams(names: set[str] | frozenset[str]) -> list[str]:
    """The stream names of the ``features:<stream>`` inputs, sorted."""
    return sorted(name.partition(":")[2] for name in names if name.startswith("features:"))


# ---------------------------------------------------------------------------------------------
# spans and the centred window


def centred_window(start: float | None, end: float | None, window_s: float | None) -> tuple[float | None, float | None]:
    """The time range to read for a record with span ``[start, end)`` seconds.

    Without ``window_s`` the span itself. With it (paper 004's SSA input), a window of ``window_s``
    seconds centred on the span's middle, ``[c - w/2, c + w/2)``, moved right when it would start
    before 0 (its end beyond the file is clipped when frames are selected). A record without a span
    is read whole either way (nothing to centre on).
    """
    if window_s is None or start is None or end is None:
        return start, end
    centre = (start + end) / 2
    first = centre - window_s / 2
    if first < 0:
        first = 0.0
    return first, first + window_s


# ---------------------------------------------------------------------------------------------
# RGB clips


@dataclass(frozen=True)
class ClipAugment:
    """Clip-consistent augmentation of raw RGB frames: one draw per clip, applied to every frame.

    Args:
        crop_scale: ``(lo, hi)`` share of each side kept by a random crop (same box for all frames);
            ``(1, 1)`` turns cropping off.
        brightness: pixel values are multiplied by a factor drawn from ``1 ± brightness``.
        contrast: values are pulled to (or pushed from) the clip's mean by a factor from ``1 ± contrast``.
        rotation_deg: the affine part (paper 001: random rotation, resizing and translation, "applied
            to all frames within the video sequences with a 50 % probability") rotates by an angle
            drawn from ``± rotation_deg`` (positive: counter-clockwise on screen) ...
        scale: ... resizes by a factor drawn from ``(lo, hi)`` about the centre ...
        translate: ... and shifts by up to ``± translate`` of the width and of the height (drawn
            independently). The frame size is kept; uncovered pixels are black when the clip is
            warped by ``__call__``, the normalisation's mean colour in :func:`clip_tensor` (which warps
            the resized frames).
        p: chance that a clip gets the affine part (one coin per clip); crop and colour always apply.

    Horizontal flips are left out on purpose: they swap the dominant hand, which changes signs.
    """

    crop_scale: tuple[float, float] = (0.8, 1.0)
    brightness: float = 0.1
    contrast: float = 0.1
    rotation_deg: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    translate: float = 0.0
    p: float = 1.0

    def __post_init__(self) -> None:
        lo, hi = self.crop_scale
        if not 0 < lo <= hi <= 1:
            raise ConfigError(f"crop_scale must satisfy 0 < lo <= hi <= 1, got {self.crop_scale}")
        if not (0 <= self.brightness < 1 and 0 <= self.contrast < 1):
            raise ConfigError(f"brightness ({self.brightness}) and contrast ({self.contrast}) must be in [0, 1)")
        if not (0 <= self.rotation_deg <= 180 and 0 <= self.translate < 1 and 0 <= self.p <= 1):
            raise ConfigError(
                f"rotation_deg ({self.rotation_deg}) must be in [0, 180], translate ({self.translate}) in [0, 1) "
                f"and p ({self.p}) in [0, 1]"
            )
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ConfigError(f"scale must satisfy 0 < lo <= hi, got {self.scale}")

    @property
    def affine(self) -> bool:
        """Whether the affine part can change a clip at all."""
        return self.p > 0 and (self.rotation_deg > 0 or self.scale != (1.0, 1.0) or self.translate > 0)

    def draw(self, height: int, width: int, rng: np.random.Generator) -> tuple[tuple[int, int, int, int], float, float]:
        """``((top, left, h, w), brightness factor, contrast factor)`` for a clip of ``height x width`` frames."""
        scale = rng.uniform(*self.crop_scale)
        h, w = max(1, round(height * scale)), max(1, round(width * scale))
        top = int(rng.integers(0, height - h + 1))
        left = int(rng.integers(0, width - w + 1))
        bright = rng.uniform(1 - self.brightness, 1 + self.brightness)
        contrast = rng.uniform(1 - self.contrast, 1 + self.contrast)
        return (top, left, h, w), float(bright), float(contrast)

    def draw_affine(self, rng: np.random.Generator) -> tuple[float, float, float, float] | None:
        """``(angle in degrees, scale, x shift, y shift as shares of the side)`` for a clip, or None
        when its coin (``p``) says no. Draws nothing when the affine part is off, so clips of a
        recipe without it see the same crops and colours as before."""
        if not self.affine or rng.uniform() >= self.p:
            return None
        angle = rng.uniform(-self.rotation_deg, self.rotation_deg)
        scale = rng.uniform(*self.scale)
        shift_x, shift_y = rng.uniform(-self.translate, self.translate, size=2)
        return float(angle), float(scale), float(shift_x), float(shift_y)

    def crop_and_colour(
        self, frames: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, tuple[float, float, float, float] | None]:
        """The crop and colour change of a clip (``uint8 [T, h, w, 3]``) and its affine draw (None:
        no warp), for a caller that warps after resizing (:func:`clip_tensor`: 100x fewer pixels)."""
        (top, left, h, w), bright, contrast = self.draw(frames.shape[1], frames.shape[2], rng)
        affine = self.draw_affine(rng)
        clip = frames[:, top : top + h, left : left + w]
        if bright == 1.0 and contrast == 1.0:  # colour off: no float copy of full-size frames
            return clip, affine
        clip = clip.astype(np.float32)
        mean = clip.mean()
        clip = (clip - mean) * contrast + mean
        return np.clip(clip * bright, 0, 255).astype(np.uint8), affine

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``uint8 [T, H, W, 3]`` -> ``uint8 [T, h, w, 3]``, one transform for the whole clip."""
        clip, affine = self.crop_and_colour(frames, rng)
        if affine is None:
            return clip
        warped = warp_frames(torch.from_numpy(clip.astype(np.float32)).permute(0, 3, 1, 2), *affine)
        return np.clip(np.rint(warped.permute(0, 2, 3, 1).numpy()), 0, 255).astype(np.uint8)


def affine_clip(frames: np.ndarray, angle_deg: float, scale: float, shift_x: float, shift_y: float) -> np.ndarray:
    """:func:`warp_frames` of channels-last frames ``[T, H, W, C]`` (float)."""
    clip = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32)).permute(0, 3, 1, 2)
    return warp_frames(clip, angle_deg, scale, shift_x, shift_y).permute(0, 2, 3, 1).numpy()


def warp_frames(clip: torch.Tensor, angle_deg: float, scale: float, shift_x: float, shift_y: float) -> torch.Tensor:
    """One affine warp of every frame of ``clip`` ``[T, C, H, W]`` (float), about the frame centre:
    rotate by ``angle_deg`` (counter-clockwise on screen), scale by ``scale``, then shift by
    ``shift_x * W`` and ``shift_y * H`` pixels (right, down). Bilinear; outside pixels are 0."""
    height, width = clip.shape[-2:]
    # Output pixel -> input pixel, in pixels about the centre: in = R(angle)^-1 (out - shift) / scale.
    # Image rows grow downwards, so counter-clockwise on screen is clockwise in (x, y) = (col, row).
    a = math.radians(angle_deg)
    inverse = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64) / scale
    half = torch.tensor([width / 2, height / 2], dtype=torch.float64)
    linear = inverse * half[None, :] / half[:, None]  # the same map in grid_sample's [-1, 1] units
    shift = torch.tensor([2 * shift_x, 2 * shift_y], dtype=torch.float64)
    theta = torch.cat([linear, (-linear @ shift)[:, None]], dim=1).to(clip.dtype)  # [2, 3]
    grid = F.affine_grid(theta.expand(clip.shape[0], 2, 3), list(clip.shape), align_corners=False)
    return F.grid_sample(clip, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def load_clip(
    path: Path,
    *,
    fps: float | None,
    start: float | None = None,
    end: float | None = None,
    folder_fps: float = 25.0,
) -> np.ndarray:
    """Raw RGB frames ``uint8 [T, H, W, 3]`` of a video file (its ``[start, end)`` range) or a frame folder."""
    from glossfree.data.video import iter_video_frames, read_frame_folder

    if path.is_dir():
        if start is not None or end is not None:
            raise DataError(f"{path}: start/end spans are supported for video files, not frame folders")
        return read_frame_folder(path, fps=fps, source_fps=folder_fps)
    return np.stack(list(iter_video_frames(path, fps=fps, start=start, end=end)))


def clip_tensor(frames: np.ndarray, preprocess, *, augment: ClipAugment | None = None,
                rng: np.random.Generator | None = None) -> torch.Tensor:  # fmt: skip
    """Raw frames -> the backbone's input ``float32 [T, 3, crop, crop]``: the clip's crop and colour
    (when given), the feature extractors' own preprocessing (resize, centre crop, normalise), then the
    clip's affine warp."""
    from glossfree.features.preprocess import preprocess_frames

    affine = None
    if augment is not None:
        if rng is None:
            raise ValueError("clip augmentation needs a generator")
        frames, affine = augment.crop_and_colour(frames, rng)
    pixels = preprocess_frames(frames, preprocess)  # [T, 3, crop, crop]
    # The affine warp runs on the resized frames (the same geometry at a fraction of the cost);
    # uncovered pixels are 0 after normalisation: the normalisation's mean colour.
    return pixels if affine is None else warp_frames(pixels, *affine)


def clip_length(path: Path, *, fps: float | None, start: float | None, end: float | None, folder_fps: float = 25.0) -> int:
    """Frames :func:`load_clip` returns, from the header (not exact for odd containers; for bucketing)."""
    from glossfree.data.video import frame_folder_images, probe_video

    if path.is_dir():
        count, source = len(frame_folder_images(path)), folder_fps
    else:
        info = probe_video(path)
        count, source = info.num_frames, info.fps
    first = 0.0 if start is None else start
    last = count / source if end is None else min(end, count / source)
    return max(1, math.floor((last - first) * (fps or source) + 1e-6))


# ---------------------------------------------------------------------------------------------
# segments, prompts, targets


def read_segments(path: str | Path) -> dict[str, np.ndarray]:
    """``{id: float64 [S, 2]}`` sign spans ``[start, end)`` in seconds from a ``segments.jsonl``.

    The file's one unit is frames: each line is ``{"id", "fps", "num_frames", "signs": [{"gloss",
    "start", "end"}]}``, ``start``/``end`` frame indices (end exclusive) of the record's whole file
    (not of its span) at the line's ``fps``, which every line must state. This is what
    ``glossfree synth`` writes and what the aligner, the SSA windows and the baseline read; a
    segmenter that thinks in seconds writes ``"fps": 1`` (indices may be fractional). The spans
    are turned into seconds here (``frame / fps``), so a sample read at another frame rate or from
    a span of the file (:func:`segment_frames`) keeps its signs where they were.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: segments file not found (the 'segments' input reads <root>/segments.jsonl)")
    out: dict[str, np.ndarray] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            fps = float(row["fps"])
            spans = [(float(sign["start"]), float(sign["end"])) for sign in row["signs"]]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise DataError(f"{path}:{number}: not a segments line ({type(error).__name__}: {error}); a line is "
                            '{"id", "fps", "signs": [{"start", "end"}]} with frame indices at fps') from None  # fmt: skip
        if not fps > 0:
            raise DataError(f"{path}:{number}: fps {fps} is not positive (spans are frame indices at that rate)")
        out[str(row["id"])] = np.asarray(spans, dtype=np.float64).reshape(-1, 2) / fps
    return out


def segment_frames(seconds: np.ndarray, *, offset: float, fps: float, num_frames: int) -> np.ndarray:
    """Sign spans in seconds of the file -> ``int64 [S, 2]`` frame spans ``[first, stop)`` of a sample
    that starts at ``offset`` seconds and has ``num_frames`` frames at ``fps``:
    ``first = floor((start - offset) * fps)``, ``stop = ceil((end - offset) * fps)``, clipped to the
    sample; spans left empty are dropped."""
    first = np.floor((seconds[:, 0] - offset) * fps + 1e-9)
    stop = np.ceil((seconds[:, 1] - offset) * fps - 1e-9)
    frames = np.clip(np.stack([first, stop], axis=1), 0, num_frames).astype(np.int64).reshape(-1, 2)
    return frames[frames[:, 1] > frames[:, 0]]


def pseudo_gloss_targets(root: Path) -> tuple[dict[str, list[str]], object]:
    """``(glosses by id, vocabulary)`` of a dataset annotated by ``glossfree pseudo-glosses``."""
    from glossfree.text.pseudo_gloss import GLOSSES_FILE, VOCAB_FILE, PseudoGlossVocab, load_pseudo_glosses

    for name in (GLOSSES_FILE, VOCAB_FILE):
        if not (root / name).is_file():
            raise DataError(f"{root / name}: not found; run `glossfree pseudo-glosses` on the dataset first "
                            "(the 'targets:pseudo_gloss' input reads it)")  # fmt: skip
    return load_pseudo_glosses(root / GLOSSES_FILE), PseudoGlossVocab.load(root / VOCAB_FILE)
