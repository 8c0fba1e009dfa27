"""Frozen feature extractors: RGB frames in, ``[T', D]`` features out, built on ``transformers``.

One interface, :class:`Extractor`: built from a validated config (:mod:`glossfree.features.config`),
it has a ``signature`` (the config's hash, stored with every cached file), an output width ``dim``
and :meth:`Extractor.extract`, which takes ``uint8 [H, W, 3]`` frames and returns ``[T', D]``.

- :class:`ImageExtractor` (``kind: image``) encodes every frame on its own (``T' = T``):
  DINOv2 (``Dinov2Model``: HFA's DINOv2 ViT-S/14, CLS and/or mean patch token), CLIP vision
  (``CLIPVisionModel``: SpaMo's spatial encoder, optionally with S2 multi-scale) and ResNet
  (``ResNetModel`` global-average-pooled: SAGE's ResNet-34). Frames are streamed through in
  batches of ``batch_size``, so a long video never sits in memory as preprocessed tensors.
- :class:`VideoClipsExtractor` (``kind: video_clips``) runs VideoMAE (``VideoMAEModel``: SpaMo's
  motion encoder) on sliding clips of ``clip_length`` frames whose starts are ``stride`` frames
  apart, and mean-pools each clip's tokens (``T' = N`` clips). Clip starts are
  ``0, stride, 2 stride, ...`` while the clip fits; when the last one stops short of the end, one
  more clip ending at the last frame is added, so every frame is covered. A video shorter than a
  clip is padded by repeating its last frame (one clip). The base model's tokens are used as they
  are (``use_mean_pooling`` models have no final norm; the ``fc_norm`` of the classification
  checkpoints is not part of ``VideoMAEModel``). Clips are cut from a stream of preprocessed
  frames that holds only the frames a later clip can still use, so hour-long videos (BOBSL
  episodes) stream in bounded memory too.

**S2 multi-scale (SpaMo, paper 003 section 4.1 and "Implementation details").** For each scale
``s`` in ``s2_scales`` the preprocessed ``crop x crop`` image is resized (bicubic) to
``s*crop x s*crop`` and split into ``s x s`` tiles of ``crop x crop``; every tile goes through the
frozen encoder, the tile features (the pooled vector chosen by ``pooling``) are averaged back into
one vector per scale, and the scales are concatenated: ``D = len(s2_scales) * d`` (SpaMo's
``Z_s in R^{T x 2d}`` for scales 1 and 2). This follows the S2-Wrapper (Shi et al. 2024,
``s2wrapper.forward``), which merges tile *token maps* and area-pools them back to the scale-1 map;
for a pooled per-frame vector that is the same as averaging the tiles' mean patch tokens, and for
``cls`` we average the tiles' CLS vectors, as S2-Wrapper averages prefix tokens.

- :class:`LipReaderExtractor` (``kind: lip_reader``, paper 004's lip stream) reads the record's
  video *and* its ``.pose``: grayscale lip crops located by the face landmarks
  (:mod:`glossfree.data.lips`), encoded by Auto-AVSR's visual front-end (3D conv stem + ResNet-18,
  512-d per frame, ``T' = T`` at the video's rate) with the weights of a user's checkpoint
  (:func:`avsr_frontend_state_dict`). The 3D stem sees 2 frames on each side, so crops are encoded
  in chunks of ``batch_size`` frames with 2 frames of context each side: the result equals one
  pass over the whole video, in bounded memory.

Preprocessing (:func:`preprocess_frames`) is torch only (no torchvision): shorter side resized to
``resize`` (antialiased), centre crop ``crop``, scaled to [0, 1], normalised with the config's
mean/std (the family's published values by default).

Pretrained weights are loaded with ``from_pretrained(name_or_path, local_files_only=True)``: a
model the user does not have locally is a :class:`ConfigError` saying so, never a download. With
``model_config`` the same architecture is built from that explicit config with seeded random
weights (tests; parameter counts).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from glossfree.errors import ConfigError, DataError
from glossfree.features.config import (
    AnyExtractorConfig,
    ImageExtractorConfig,
    LipReaderExtractorConfig,
    PoseExtractorConfig,
    VideoClipsExtractorConfig,
    check_local_weights,
    config_dict,
    signature,
)
from glossfree.features.preprocess import preprocess_frames

_CLIP_CHUNK = 16
"""Frames preprocessed at a time by the clip stream."""
TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


# ---------------------------------------------------------------------------------------------
# preprocessing


def _batches(frames: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Stack consecutive frames into ``[<=size, H, W, 3]`` arrays."""
    batch: list[np.ndarray] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield np.stack(batch)
            batch = []
    if batch:
        yield np.stack(batch)


# ---------------------------------------------------------------------------------------------
# building the frozen transformers model


def _classes(family: str) -> tuple[type, type]:
    """``(config class, model class)`` of a family, imported when needed."""
    import transformers

    names = {
        "dinov2": ("Dinov2Config", "Dinov2Model"),
        "clip": ("CLIPVisionConfig", "CLIPVisionModel"),
        "resnet": ("ResNetConfig", "ResNetModel"),
        "videomae": ("VideoMAEConfig", "VideoMAEModel"),
    }[family]
    return getattr(transformers, names[0]), getattr(transformers, names[1])


def build_backbone(family: str, config: ImageExtractorConfig | VideoClipsExtractorConfig) -> nn.Module:
    """The frozen ``transformers`` model of ``config`` in eval mode (weights local or random+seeded)."""
    config_class, model_class = _classes(family)
    if config.name_or_path is not None:
        check_local_weights(config)
        try:
            model = model_class.from_pretrained(config.name_or_path, local_files_only=True)
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"name_or_path '{config.name_or_path}': cannot load {model_class.__name__} from local "
                f"files ({str(error).splitlines()[0]}); nothing is downloaded: give a local folder, or "
                "download the model into the Hugging Face cache first"
            ) from None
    else:
        try:
            hf_config = config_class(**(config.model_config_ or {}))
        except (TypeError, ValueError) as error:
            raise ConfigError(f"model_config: not a valid {config_class.__name__}: {error}") from None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            try:
                model = model_class(hf_config)
            except (TypeError, ValueError, RuntimeError) as error:
                raise ConfigError(f"model_config: cannot build {model_class.__name__}: {error}") from None
    model.eval()
    model.requires_grad_(False)
    return model


def pool_output(out: Any, family: str, pooling: str) -> torch.Tensor:
    """One vector per image from a backbone's output: ResNet's pooled map, else the CLS token
    (CLIP: its post-layernormed ``pooler_output``), the mean patch token, or both concatenated."""
    if family == "resnet":
        return out.pooler_output.flatten(1)  # [B, C, 1, 1] -> [B, C]
    hidden = out.last_hidden_state  # [B, 1 + patches, d]
    cls = out.pooler_output if family == "clip" else hidden[:, 0]
    mean = hidden[:, 1:].mean(dim=1)
    return {"cls": cls, "mean": mean, "cls+mean": torch.cat([cls, mean], dim=-1)}[pooling]


def pooled_dim(hf_config: Any, family: str, pooling: str) -> int:
    """Width of :func:`pool_output`."""
    if family == "resnet":
        return int(hf_config.hidden_sizes[-1])
    return int(hf_config.hidden_size) * (2 if pooling == "cls+mean" else 1)


# ---------------------------------------------------------------------------------------------
# the interface


class Extractor(ABC):
    """A frozen extractor: ``uint8 [H, W, 3]`` frames in, ``[T', D]`` features out.

    Attributes:
        config: the validated extractor config.
        signature: SHA-256 of the config (:func:`glossfree.features.config.signature`).
        dim: output width ``D``.
        device: where the model runs.
    """

    def __init__(self, config: ImageExtractorConfig | VideoClipsExtractorConfig, *, device: str = "cpu") -> None:
        self.config = config
        self.signature = signature(config)
        self.device = torch.device(device)
        self.compute_dtype = TORCH_DTYPES[config.compute_dtype]
        if self.compute_dtype == torch.float16 and self.device.type == "cpu":
            raise ConfigError("compute_dtype float16 needs a GPU (--device cuda); on the CPU use bfloat16 or float32")
        self.model = build_backbone(config.model, config).to(self.device, dtype=self.compute_dtype)
        self.dtype = TORCH_DTYPES[config.dtype]

    @property
    @abstractmethod
    def dim(self) -> int:
        """Output width ``D``."""

    @abstractmethod
    def _extract(self, frames: Iterable[np.ndarray], batch_size: int) -> torch.Tensor:
        """float32 ``[T', D]`` on ``self.device``."""

    def extract(self, frames: Iterable[np.ndarray], *, batch_size: int = 32) -> torch.Tensor:
        """Features of a frame sequence: ``[T', D]`` on the CPU, in the config's ``dtype``.

        Args:
            frames: ``uint8 [H, W, 3]`` RGB frames (an array ``[T, H, W, 3]`` or any iterable).
            batch_size: frames (image) or clips (video_clips) per forward pass.

        Raises:
            DataError: no frames, or frames that are not ``[H, W, 3]``.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        with torch.inference_mode():
            features = self._extract(frames, batch_size)
        if features.shape[0] == 0:
            raise DataError("no frames to extract features from")
        return features.to(device="cpu", dtype=self.dtype).contiguous()

    def metadata(self) -> dict[str, Any]:
        """What the cache stores beside the tensor to describe this extractor."""
        return {"signature": self.signature, "config": config_dict(self.config), "dim": self.dim}


class ImageExtractor(Extractor):
    """Per-frame features of DINOv2, CLIP vision (optionally S2 multi-scale) or ResNet (see module doc)."""

    config: ImageExtractorConfig

    def __init__(self, config: ImageExtractorConfig, *, device: str = "cpu") -> None:
        super().__init__(config, device=device)
        hf = self.model.config
        crop = config.preprocess.crop if config.preprocess else None
        if config.model == "clip" and crop != hf.image_size:
            raise ConfigError(
                f"preprocess.crop ({crop}) must equal the CLIP model's image_size ({hf.image_size}): "
                "its position embeddings are fixed to that size"
            )
        self.scales = config.s2_scales or [1]

    @property
    def dim(self) -> int:
        return pooled_dim(self.model.config, self.config.model, self.config.pooling) * len(self.scales)

    def _pooled(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 3, crop, crop]`` -> ``[B, d]`` pooled as the config says."""
        out = self.model(pixel_values=x.to(self.compute_dtype))
        return pool_output(out, self.config.model, self.config.pooling).float()

    def _multiscale(self, x: torch.Tensor) -> torch.Tensor:
        """S2: ``[B, 3, c, c]`` -> ``[B, len(scales) * d]`` (tiles of each scale averaged)."""
        crop = x.shape[-1]
        outputs = []
        for scale in self.scales:
            if scale == 1:
                outputs.append(self._pooled(x))
                continue
            big = F.interpolate(x, size=(scale * crop, scale * crop), mode="bicubic", align_corners=False)
            # [B, 3, s*c, s*c] -> [B, 3, s, c, s, c] -> [B, s, s, 3, c, c] -> [B*s*s, 3, c, c]
            tiles = big.view(x.shape[0], 3, scale, crop, scale, crop).permute(0, 2, 4, 1, 3, 5)
            tiles = tiles.reshape(-1, 3, crop, crop)
            pooled = self._pooled(tiles).view(x.shape[0], scale * scale, -1)  # [B, s*s, d]
            outputs.append(pooled.mean(dim=1))
        return torch.cat(outputs, dim=-1)

    def _extract(self, frames: Iterable[np.ndarray], batch_size: int) -> torch.Tensor:
        assert self.config.preprocess is not None  # filled with family defaults by the config
        rows = []
        # S2 runs s*s tiles per frame at scale s: keep the tiles of a forward pass near batch_size
        per_pass = max(1, batch_size // max(s * s for s in self.scales)) if len(self.scales) > 1 else batch_size
        for batch in _batches(frames, per_pass):
            x = preprocess_frames(batch, self.config.preprocess, self.device)
            rows.append(self._multiscale(x) if len(self.scales) > 1 else self._pooled(x))
        if not rows:
            return torch.zeros(0, self.dim)
        return torch.cat(rows)


def clip_starts(num_frames: int, clip_length: int, stride: int) -> list[int]:
    """First frame of each sliding clip (see the module docstring); ``[0]`` for a short video."""
    if num_frames <= clip_length:
        return [0]
    starts = list(range(0, num_frames - clip_length + 1, stride))
    if starts[-1] + clip_length < num_frames:
        starts.append(num_frames - clip_length)
    return starts


class VideoClipsExtractor(Extractor):
    """VideoMAE on sliding clips, tokens mean-pooled per clip (see module doc)."""

    config: VideoClipsExtractorConfig

    def __init__(self, config: VideoClipsExtractorConfig, *, device: str = "cpu") -> None:
        super().__init__(config, device=device)
        hf = self.model.config
        crop = config.preprocess.crop if config.preprocess else None
        if config.clip_length != hf.num_frames:
            raise ConfigError(f"clip_length ({config.clip_length}) must equal the VideoMAE model's "
                              f"num_frames ({hf.num_frames})")  # fmt: skip
        if crop != hf.image_size:
            raise ConfigError(f"preprocess.crop ({crop}) must equal the VideoMAE model's image_size "
                              f"({hf.image_size}): its position embeddings are fixed to that size")  # fmt: skip

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def _clips(self, frames: Iterable[np.ndarray]) -> Iterator[torch.Tensor]:
        """Yield ``[L, 3, c, c]`` clips in :func:`clip_starts` order, holding few frames at a time.

        Frames are preprocessed in chunks; the buffer keeps only the frames a later clip can still
        use (from the next regular start, and the last ``L`` frames for a possible tail clip), so
        an hour-long video streams in bounded memory.
        """
        assert self.config.preprocess is not None
        length, stride = self.config.clip_length, self.config.stride
        buffer: list[torch.Tensor] = []  # frames [3, c, c]; buffer[0] is frame ``offset``
        offset, seen, next_start, last_start = 0, 0, 0, None
        for chunk in _batches(frames, _CLIP_CHUNK):
            buffer.extend(preprocess_frames(chunk, self.config.preprocess, self.device).unbind(0))
            seen += len(chunk)
            while next_start + length <= seen:  # the next regular clip is complete
                yield torch.stack(buffer[next_start - offset : next_start - offset + length])
                last_start, next_start = next_start, next_start + stride
            keep_from = min(next_start, max(seen - length, 0))
            del buffer[: max(keep_from - offset, 0)]
            offset = max(offset, keep_from)
        if seen == 0:
            return
        if seen <= length and last_start is None:  # short video: pad with the last frame (one clip)
            clip = buffer + [buffer[-1]] * (length - len(buffer))
            yield torch.stack(clip)
        elif last_start is None or last_start + length < seen:  # tail clip ending at the last frame
            yield torch.stack(buffer[seen - length - offset : seen - offset])

    def _encode(self, clips: list[torch.Tensor]) -> torch.Tensor:
        """``L``-frame clips ``[3, c, c]`` each -> float32 ``[len(clips), d]`` (tokens mean-pooled)."""
        x = torch.stack(clips).to(self.compute_dtype)  # [B, L, 3, c, c]
        return self.model(pixel_values=x).last_hidden_state.float().mean(dim=1)  # [B, d]

    def _extract(self, frames: Iterable[np.ndarray], batch_size: int) -> torch.Tensor:
        rows, pending = [], []
        for clip in self._clips(frames):
            pending.append(clip)
            if len(pending) == batch_size:
                rows.append(self._encode(pending))
                pending = []
        if pending:
            rows.append(self._encode(pending))
        if not rows:
            return torch.zeros(0, self.dim)
        return torch.cat(rows)


# ---------------------------------------------------------------------------------------------
# the frozen lip reader (paper 004's lip stream)

# Auto-AVSR Conv3dResNet module names -> ours (VisualFrontend): the stem Sequential is split into
# named modules; the trunk keeps Auto-AVSR's names (layer{1-4}.{i}.conv1/bn1/conv2/bn2/downsample.{0,1}).
AVSR_RENAMES = (("frontend3D.0.", "stem_conv."), ("frontend3D.1.", "stem_norm."), ("trunk.", "trunk."))
_AVSR_ANCHOR = "frontend3D.0.weight"


def _state_dict_of(checkpoint: Any, path: str) -> dict[str, torch.Tensor]:
    """The tensor dict of a loaded checkpoint: the dict itself, or its ``state_dict`` (Lightning) /
    ``model`` entry."""
    if isinstance(checkpoint, dict):
        for key in ("state_dict", "model"):
            if isinstance(checkpoint.get(key), dict):
                checkpoint = checkpoint[key]
                break
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ConfigError(f"{path}: not a state dict of tensors (an Auto-AVSR .pth, or a Lightning checkpoint with 'state_dict')")
    return checkpoint


def _frontend_prefix(state: dict[str, torch.Tensor], source: str) -> str:
    """The one key prefix in front of ``frontend3D.0.weight``; a ConfigError for none or several."""
    found = sorted({key[: -len(_AVSR_ANCHOR)] for key in state if key.endswith(_AVSR_ANCHOR)})
    if not found:
        sample = ", ".join(sorted(state)[:5])
        raise ConfigError(f"{source}: no Auto-AVSR visual front-end (no key ending in '{_AVSR_ANCHOR}'; "
                          f"keys start with: {sample}); is this a lip-reading (VSR) checkpoint?")  # fmt: skip
    if len(found) > 1:
        raise ConfigError(f"{source}: several visual front-ends ({', '.join(repr(f) for f in found)}); "
                          "choose one with key_prefix")  # fmt: skip
    return found[0]


def avsr_frontend_state_dict(state: dict[str, torch.Tensor], *, prefix: str | None = None,
                             source: str = "checkpoint") -> dict[str, torch.Tensor]:  # fmt: skip
    """The visual front-end's weights of an Auto-AVSR state dict, renamed for :class:`VisualFrontend`.

    Auto-AVSR (mpc001/auto_avsr, ``espnet/nets/pytorch_backend/backbones/conv3d_extractor.py``)
    stores the front-end under ``encoder.frontend.`` (2023 release; ``frontend.`` since the 2025
    rewrite ``bd9fc94``; ``model.`` in front in its Lightning checkpoints): ``frontend3D.0.weight`` (Conv3d 1 -> 64, 5x7x7), ``frontend3D.1.*`` (BatchNorm3d)
    and ``trunk.layer{1-4}.{0,1}.{conv1,bn1,conv2,bn2,downsample.0,downsample.1}.*``. The keys under
    ``prefix`` (by default the one prefix in front of ``frontend3D.0.weight``) are kept, the prefix
    is dropped and :data:`AVSR_RENAMES` applied; everything else (the Conformer encoder, decoders,
    CTC, an audio front-end) is ignored.

    Raises:
        ConfigError: no front-end in the checkpoint, several candidate prefixes, or keys under the
            prefix that are not front-end keys.
    """
    if prefix is None:
        prefix = _frontend_prefix(state, source)
    mapped: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix) :]
        for old, new in AVSR_RENAMES:
            if rest.startswith(old):
                mapped[new + rest[len(old) :]] = value
                break
        else:
            unknown.append(key)
    if not mapped:
        raise ConfigError(f"{source}: no key starts with key_prefix '{prefix}'")
    if unknown:
        raise ConfigError(f"{source}: unexpected keys under '{prefix}' that are not part of the Auto-AVSR visual "
                          f"front-end: {', '.join(unknown[:5])}" + (" ..." if len(unknown) > 5 else ""))  # fmt: skip
    return mapped


def _encoder_root(frontend_prefix: str, source: str) -> str:
    if not frontend_prefix.endswith("frontend."):
        raise ConfigError(f"{source}: key_prefix '{frontend_prefix}' does not end in 'frontend.'; the encoder is "
                          "found next to the front-end (use output: frontend for other layouts)")  # fmt: skip
    return frontend_prefix[: -len("frontend.")]


def avsr_encoder_state_dict(state: dict[str, torch.Tensor], *, frontend_prefix: str,
                            source: str = "checkpoint") -> dict[str, torch.Tensor]:  # fmt: skip
    """The Conformer encoder's weights of an Auto-AVSR state dict, renamed for
    :class:`~glossfree.models.frontends.avsr_encoder.AvsrConformerEncoder`.

    The encoder sits next to the front-end (``R`` = ``frontend_prefix`` without ``frontend.``), in
    one of Auto-AVSR's two layouts:

    - 2023 (``e2e_asr_conformer.py`` of the first release; front-end at ``encoder.frontend.``):
      ``R + "embed.0.*"`` (Linear 512 -> 768), ``R + "encoders.{i}.*"``, ``R + "after_norm.*"``;
    - 2025 (``bd9fc94``, front-end at ``frontend.``): ``R + "proj_encoder.*"``,
      ``R + "encoder.encoders.{i}.*"``, ``R + "encoder.after_norm.*"``.

    They become ``proj.*``, ``layers.{i}.*`` (block names unchanged) and ``after_norm.*``.

    Raises:
        ConfigError: no encoder next to the front-end, or keys in its region that do not map.
    """
    root = _encoder_root(frontend_prefix, source)
    if root + "embed.0.weight" in state:
        parts = {root + "embed.0.": "proj.", root + "encoders.": "layers.", root + "after_norm.": "after_norm."}
        region = (root + "embed.", root + "encoders.", root + "after_norm.")
    elif root + "proj_encoder.weight" in state:
        parts = {root + "proj_encoder.": "proj.", root + "encoder.encoders.": "layers.",
                 root + "encoder.after_norm.": "after_norm."}  # fmt: skip
        region = (root + "proj_encoder.", root + "encoder.")
    else:
        raise ConfigError(f"{source}: no Auto-AVSR Conformer encoder next to the front-end (neither "
                          f"'{root}embed.0.weight' nor '{root}proj_encoder.weight'); use output: frontend "
                          "for the 512-d front-end features")  # fmt: skip
    mapped: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        if not key.startswith(region):
            continue
        for old, new in parts.items():
            if key.startswith(old):
                mapped[new + key[len(old) :]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ConfigError(f"{source}: unexpected keys in the Auto-AVSR encoder that do not map: "
                          f"{', '.join(unknown[:5])}" + (" ..." if len(unknown) > 5 else ""))  # fmt: skip
    return mapped


def _load_checked(model: nn.Module, mapped: dict[str, torch.Tensor], *, what: str, sizes: str, hint: str,
                  source: str) -> nn.Module:  # fmt: skip
    """``model`` with ``mapped`` loaded strictly, frozen, in eval mode; ConfigErrors list missing
    and unexpected keys or differing shapes."""
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(mapped)), sorted(set(mapped) - set(expected))
    if missing or unexpected:
        raise ConfigError(
            f"{source}: the checkpoint's {what} does not match the architecture ({sizes}): "
            f"missing keys: {', '.join(missing[:5]) or 'none'}{' ...' if len(missing) > 5 else ''}; "
            f"unexpected keys: {', '.join(unexpected[:5]) or 'none'}{' ...' if len(unexpected) > 5 else ''}"
        )
    wrong = [f"{key} {list(mapped[key].shape)} vs {list(value.shape)}" for key, value in expected.items()
             if mapped[key].shape != value.shape]  # fmt: skip
    if wrong:
        raise ConfigError(f"{source}: {what} tensor shapes differ from the architecture (checkpoint vs model): "
                          f"{'; '.join(wrong[:3])}; set {hint} to the checkpoint's")  # fmt: skip
    model.load_state_dict(mapped, strict=True)
    model.eval()
    model.requires_grad_(False)
    return model


def load_avsr(config: LipReaderExtractorConfig) -> tuple[nn.Module, nn.Module | None]:
    """``(visual front-end, Conformer encoder or None)`` of ``config``'s sizes with the checkpoint's
    weights, frozen, in eval mode (the encoder with ``output: encoder``).

    Raises:
        ConfigError: missing/unreadable checkpoint, a key mapping error, missing or unexpected keys,
            or shapes that differ (naming the sizes to set).
    """
    from pathlib import Path

    from glossfree.models.frontends.avsr_encoder import AvsrConformerEncoder
    from glossfree.models.frontends.lip_backbone import VisualFrontend

    path = Path(config.checkpoint).expanduser()
    if not path.is_file():
        raise ConfigError(f"checkpoint '{config.checkpoint}': file not found (a local Auto-AVSR .pth; nothing is downloaded)")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - pickle, zip and torch errors alike
        raise ConfigError(f"{path}: cannot read the checkpoint ({type(error).__name__}: {str(error).splitlines()[0]})") from None
    state = _state_dict_of(loaded, str(path))
    prefix = config.key_prefix
    if prefix is None:
        prefix = _frontend_prefix(state, str(path))
    frontend = VisualFrontend(stem_channels=config.stem_channels, channels=tuple(config.channels), blocks=config.blocks, norm="batch")
    sizes = f"stem_channels={config.stem_channels}, channels={config.channels}, blocks={config.blocks}"
    frontend = _load_checked(frontend, avsr_frontend_state_dict(state, prefix=prefix, source=str(path)),
                             what="visual front-end", sizes=sizes, hint="stem_channels/channels/blocks",
                             source=str(path))  # fmt: skip
    if config.output == "frontend":
        return frontend, None
    e = config.encoder
    encoder = AvsrConformerEncoder(input_dim=frontend.output_dim, dim=e.dim, heads=e.heads, hidden=e.hidden,
                                   num_layers=e.num_layers, kernel_size=e.kernel_size)  # fmt: skip
    mapped = avsr_encoder_state_dict(state, frontend_prefix=prefix, source=str(path))
    encoder = _load_checked(encoder, mapped, what="Conformer encoder", source=str(path),
                            sizes=f"encoder={e.model_dump()}", hint="encoder.dim/heads/hidden/num_layers/kernel_size")  # fmt: skip
    return frontend, encoder


class LipReaderExtractor:
    """Frozen lip reader: a video's frames and its pose -> ``[T, 768]`` (Auto-AVSR's Conformer
    encoder, ``output: encoder``) or ``[T, 512]`` (its visual front-end, ``output: frontend``).

    The same surface as :class:`Extractor` (``config``, ``signature``, ``dim``, ``device``,
    ``extract``, ``metadata``), but :meth:`extract` also needs the pose of the frames.
    """

    def __init__(self, config: LipReaderExtractorConfig, *, device: str = "cpu") -> None:
        self.config = config
        self.signature = signature(config)
        self.device = torch.device(device)
        frontend, encoder = load_avsr(config)
        self.model, self.encoder = frontend.to(self.device), encoder.to(self.device) if encoder is not None else None
        self.dtype = TORCH_DTYPES[config.dtype]

    @property
    def dim(self) -> int:
        return int(self.encoder.dim if self.encoder is not None else self.model.output_dim)

    def encode_crops(self, crops: np.ndarray | torch.Tensor, *, batch_size: int = 32) -> torch.Tensor:
        """Normalised crops ``[T, S, S]`` -> float32 ``[T, dim]`` on the CPU. The front-end runs on
        ``batch_size`` frames (plus 2 of context each side) per pass, equal to one pass over all
        frames; the encoder (global self-attention) then runs once over the whole sequence, so a
        record should be an utterance-sized span (Auto-AVSR trains on clips of a few seconds)."""
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        crops = torch.as_tensor(crops, dtype=torch.float32)
        if crops.ndim != 3 or crops.shape[0] == 0:
            raise DataError(f"expected lip crops [T, S, S] with T >= 1, got {list(crops.shape)}")
        context, total, rows = self.model.context, crops.shape[0], []
        with torch.inference_mode():
            for start in range(0, total, batch_size):
                stop = min(start + batch_size, total)
                lo, hi = max(0, start - context), min(total, stop + context)
                chunk = crops[lo:hi].to(self.device)[None]  # [1, L, S, S]
                out = self.model(chunk, torch.ones(1, hi - lo, dtype=torch.bool, device=self.device))[0]
                rows.append(out[start - lo : stop - lo])
            features = torch.cat(rows)  # [T, 512]
            if self.encoder is not None:
                features = self.encoder(features[None])[0]  # [T, 768]
        return features.float().cpu()

    def extract(self, frames: Any, *, pose: Any, fps: float, batch_size: int = 32, source: str = "") -> torch.Tensor:
        """Features ``[T, dim]`` (CPU, the config's dtype) of ``uint8 [T, H, W, 3]`` frames and the
        pose-format ``Pose`` of the same frames (:func:`glossfree.data.lips.lip_crops`)."""
        from glossfree.data.lips import lip_crops

        crops = lip_crops(np.asarray(frames), pose, self.config.crop, fps=fps, source=source)
        return self.encode_crops(crops.crops, batch_size=batch_size).to(self.dtype).contiguous()

    def metadata(self) -> dict[str, Any]:
        """What the cache stores beside the tensor to describe this extractor."""
        return {"signature": self.signature, "config": config_dict(self.config), "dim": self.dim}


# ---------------------------------------------------------------------------------------------
# fixed encodings of poses (SpaMo's two streams on keypoints, issue 26 item 8)


def motion_basis(length: int, coefficients: int) -> np.ndarray:
    """Orthonormal DCT-II rows ``k = 1..coefficients`` over ``length`` steps: ``[K, L]``."""
    t = np.arange(length, dtype=np.float64)
    k = np.arange(1, coefficients + 1, dtype=np.float64)[:, None]
    return (np.sqrt(2.0 / length) * np.cos(np.pi * k * (t + 0.5) / length)).astype(np.float32)


def spatial_encoding(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``[T, N, 3]`` keypoints and ``[T, N]`` detections -> ``[T, 4 N]`` (x, y, z, detected per point)."""
    present = mask.astype(np.float32)[..., None]
    return np.concatenate([points * present, present], axis=-1).reshape(points.shape[0], -1)


def motion_encoding(points: np.ndarray, mask: np.ndarray, *, clip_length: int, stride: int,
                    coefficients: int) -> np.ndarray:  # fmt: skip
    """Each window's centred x/y trajectories on the DCT basis: ``[N_clips, 2 K N]`` (see
    :class:`~glossfree.features.config.PoseExtractorConfig`). Windows are :func:`clip_starts`'s; a
    sequence shorter than a window repeats its last frame."""
    frames = points.shape[0]
    if frames == 0:
        raise DataError("no frames to encode")
    if frames < clip_length:  # pad as the video clips do
        extra = clip_length - frames
        points = np.concatenate([points, np.repeat(points[-1:], extra, axis=0)])
        mask = np.concatenate([mask, np.repeat(mask[-1:], extra, axis=0)])
    starts = np.asarray(clip_starts(points.shape[0], clip_length, stride))
    index = starts[:, None] + np.arange(clip_length)[None, :]  # [C, L]
    xy, seen = points[index][..., :2], mask[index].astype(np.float32)[..., None]  # [C, L, N, 2], [C, L, N, 1]
    mean = (xy * seen).sum(axis=1, keepdims=True) / np.maximum(seen.sum(axis=1, keepdims=True), 1.0)
    centred = (xy - mean) * seen  # [C, L, N, 2]
    coeffs = np.einsum("kl,clnd->cndk", motion_basis(clip_length, coefficients), centred)  # [C, N, 2, K]
    return coeffs.reshape(len(starts), -1).astype(np.float32)


class PoseStreamExtractor:
    """A fixed encoding of a pose sequence (``kind: pose``): the record's ``.pose`` in ``layout``
    -> ``[T, 4 N]`` (``spatial``) or ``[N_clips, 2 K N]`` (``motion``). No weights, no device.

    The same surface as :class:`Extractor` (``config``, ``signature``, ``dim``, ``metadata``);
    :meth:`encode` takes :class:`~glossfree.data.pose_io.Keypoints`.
    """

    def __init__(self, config: PoseExtractorConfig, *, device: str = "cpu") -> None:
        from glossfree.data.layouts import get_layout

        self.config = config
        self.signature = signature(config)
        self.device = torch.device(device)
        self.layout = get_layout(config.layout)
        self.dtype = TORCH_DTYPES[config.dtype]

    @property
    def dim(self) -> int:
        points = self.layout.num_points
        return 4 * points if self.config.encoding == "spatial" else 2 * self.config.coefficients * points

    def encode(self, keypoints: Any) -> torch.Tensor:
        """Features (CPU, the config's dtype) of keypoints already in ``layout`` and normalised."""
        c = self.config
        if keypoints.num_frames == 0:
            raise DataError("no frames to encode")
        if c.encoding == "spatial":
            out = spatial_encoding(keypoints.points, keypoints.mask)
        else:
            out = motion_encoding(keypoints.points, keypoints.mask, clip_length=c.clip_length, stride=c.stride,
                                  coefficients=c.coefficients)  # fmt: skip
        return torch.from_numpy(np.ascontiguousarray(out)).to(self.dtype).contiguous()

    def load(self, path: Any, *, start: float | None = None, end: float | None = None) -> Any:
        """The keypoints of a ``.pose`` file (its span), in ``layout``, normalised and resampled as configured."""
        from glossfree.data.pose_io import extract_keypoints, read_pose
        from glossfree.data.transforms import resample_fps

        keypoints = extract_keypoints(read_pose(path, start=start, end=end), self.layout,
                                      normalize=self.config.normalize, source=str(path))  # fmt: skip
        if self.config.fps is not None:
            if keypoints.fps <= 0:
                raise DataError(f"{path}: header fps is {keypoints.fps}; cannot resample to {self.config.fps} fps")
            keypoints = resample_fps(keypoints, self.config.fps)
        return keypoints

    def metadata(self) -> dict[str, Any]:
        """What the cache stores beside the tensor to describe this extractor."""
        return {"signature": self.signature, "config": config_dict(self.config), "dim": self.dim}


_BY_KIND: dict[str, type[Extractor] | type[LipReaderExtractor] | type[PoseStreamExtractor]] = {
    "image": ImageExtractor,
    "video_clips": VideoClipsExtractor,
    "lip_reader": LipReaderExtractor,
    "pose": PoseStreamExtractor,
}


def build_extractor(config: AnyExtractorConfig, *, device: str = "cpu") -> Extractor | LipReaderExtractor | PoseStreamExtractor:
    """The extractor of a validated config, its model frozen on ``device``."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: CUDA is not available on this machine (torch {torch.__version__})")
    return _BY_KIND[config.kind](config, device=device)  # type: ignore[arg-type]
