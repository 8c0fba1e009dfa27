"""Extractor configs (``kind: image`` / ``video_clips`` / ``lip_reader``), their validation and their signature.

An extractor YAML file holds one of these configs, e.g. SpaMo's spatial encoder::

    kind: image
    model: clip
    name_or_path: /models/clip-vit-large-patch14      # loaded with local_files_only=True
    pooling: cls
    s2_scales: [1, 2]
    fps: null                                          # keep each video's frame rate

or a tiny architecture built from an explicit ``transformers`` config (random weights, seeded)::

    kind: image
    model: dinov2
    model_config: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2,
                   intermediate_size: 64, patch_size: 8, image_size: 32}
    preprocess: {resize: 32, crop: 32}

Exactly one of ``name_or_path`` and ``model_config`` is given. Preprocessing defaults are those of
the published image processors of each family (see :data:`DEFAULT_PREPROCESS`); they are part of
the config, so they are part of the signature.

The **signature** (:func:`signature`) is the SHA-256 of the canonical JSON of everything that
changes the numbers written: the whole validated config (model family, weights identity = the
name/path or the explicit architecture config and its init seed, pooling, S2 scales, clip length
and stride, preprocessing, fps, stored dtype) plus :data:`FORMAT_VERSION`. The cache stores it
in every file and refuses to mix files of different signatures.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, ValidationError, model_validator

from glossfree.config import StrictModel, format_validation_error, read_yaml, resolve_config_file
from glossfree.data.lips import LipCropConfig
from glossfree.errors import ConfigError

FORMAT_VERSION = 1
"""Bumped whenever the extraction code changes the numbers it writes for an unchanged config."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class PreprocessConfig(StrictModel):
    """Frame preprocessing, done in torch on ``uint8 [T, H, W, 3]`` frames.

    Attributes:
        resize: the shorter side is resized to this many pixels (aspect ratio kept).
        crop: a centre square of this side is cut out after resizing (must be <= ``resize``).
        interpolation: ``bicubic`` or ``bilinear`` (antialiased when downsampling).
        mean: per-channel mean subtracted after scaling pixels to [0, 1].
        std: per-channel standard deviation divided by.
    """

    resize: int = Field(224, ge=1)
    crop: int = Field(224, ge=1)
    interpolation: Literal["bicubic", "bilinear"] = "bicubic"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @model_validator(mode="after")
    def _crop_fits(self) -> PreprocessConfig:
        if self.crop > self.resize:
            raise ValueError(f"crop ({self.crop}) must be <= resize ({self.resize})")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be > 0, got {list(self.std)}")
        return self


# The published processors: openai/clip-vit-* (CLIPImageProcessor: shortest edge 224, bicubic,
# crop 224, CLIP mean/std); facebook/dinov2-* (BitImageProcessor: shortest edge 256, bicubic,
# crop 224, ImageNet); microsoft/resnet-* (ConvNextImageProcessor, crop_pct 0.875: 256 -> 224,
# bilinear here, ImageNet); MCG-NJU/videomae-* (VideoMAEImageProcessor: shortest edge 224,
# bilinear, crop 224, ImageNet).
DEFAULT_PREPROCESS: dict[str, dict[str, Any]] = {
    "clip": {"resize": 224, "crop": 224, "interpolation": "bicubic", "mean": CLIP_MEAN, "std": CLIP_STD},
    "dinov2": {"resize": 256, "crop": 224, "interpolation": "bicubic"},
    "resnet": {"resize": 256, "crop": 224, "interpolation": "bilinear"},
    "videomae": {"resize": 224, "crop": 224, "interpolation": "bilinear"},
}


class _ExtractorBase(StrictModel):
    """Fields shared by every extractor (see the subclasses for the meaning of each)."""

    name_or_path: str | None = None
    model_config_: dict[str, Any] | None = Field(None, alias="model_config")
    seed: int = 0
    preprocess: PreprocessConfig | None = None
    fps: float | None = Field(None, gt=0)
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    compute_dtype: Literal["float32", "float16", "bfloat16"] = "float32"

    @model_validator(mode="before")
    @classmethod
    def _family_preprocess(cls, data: Any) -> Any:
        # fill unspecified preprocessing keys with the family's published defaults
        if isinstance(data, dict):
            family = data.get("model", cls.model_fields["model"].default)
            given = data.get("preprocess") or {}
            if isinstance(given, dict) and isinstance(family, str) and family in DEFAULT_PREPROCESS:
                data = {**data, "preprocess": {**DEFAULT_PREPROCESS[family], **given}}
        return data

    @model_validator(mode="after")
    def _one_weights_source(self) -> _ExtractorBase:
        if (self.name_or_path is None) == (self.model_config_ is None):
            raise ValueError(
                "give exactly one of name_or_path (pretrained weights, a hub name or a local folder) "
                "and model_config (an explicit transformers config: random weights, for tests)"
            )
        return self


class ImageExtractorConfig(_ExtractorBase):
    """A frozen image backbone applied to every frame: ``[T, H, W, 3]`` -> ``[T, D]``.

    Attributes:
        kind: ``"image"``.
        model: the architecture family: ``dinov2`` (``Dinov2Model``), ``clip`` (``CLIPVisionModel``)
            or ``resnet`` (``ResNetModel``).
        name_or_path: pretrained weights (hub name in the local cache, or a folder); loaded with
            ``local_files_only=True``, nothing is downloaded.
        model_config: keyword arguments of the family's ``transformers`` config class instead of
            weights (random init with ``seed``): tests and shape checks.
        seed: init seed used with ``model_config``.
        pooling: ``cls`` (DINOv2: the final-normed CLS token; CLIP: ``pooler_output``, the
            post-layernormed CLS), ``mean`` (mean of the patch tokens), ``cls+mean`` (both,
            concatenated: HFA's DINOv2 input). ResNet accepts ``mean`` only (its global average pool).
        s2_scales: CLIP only: SpaMo's S2 multi-scale, e.g. ``[1, 2]`` (``None`` = one scale). See
            :mod:`glossfree.features.extractors`.
        preprocess: resize/crop/normalisation (family defaults for the keys not given).
        fps: resample every video to this frame rate before extraction (``None`` = keep).
        dtype: dtype the features are stored in.
        compute_dtype: dtype the frozen model runs in: ``bfloat16`` / ``float16`` halve its memory
            and speed it up on a GPU that has them (SpaMo runs its encoders in half precision);
            preprocessing and the S2 resize stay float32. Part of the signature (the numbers change).
    """

    kind: Literal["image"] = "image"
    model: Literal["dinov2", "clip", "resnet"] = "dinov2"
    pooling: Literal["cls", "mean", "cls+mean"] = "cls"
    s2_scales: list[int] | None = None

    @model_validator(mode="after")
    def _check_family_options(self) -> ImageExtractorConfig:
        if self.model == "resnet" and self.pooling != "mean":
            raise ValueError(f"model resnet has no CLS token: pooling must be 'mean', got '{self.pooling}'")
        if self.s2_scales is not None:
            if self.model != "clip":
                raise ValueError(f"s2_scales is implemented for model clip only, got model '{self.model}'")
            if not self.s2_scales or any(s < 1 for s in self.s2_scales) or 1 not in self.s2_scales:
                raise ValueError(f"s2_scales must be positive integers including 1, got {self.s2_scales}")
            if len(set(self.s2_scales)) != len(self.s2_scales):
                raise ValueError(f"s2_scales has a repeated scale: {self.s2_scales}")
        return self


class VideoClipsExtractorConfig(_ExtractorBase):
    """A frozen video backbone on sliding clips: ``[T, H, W, 3]`` -> ``[N, D]``, one row per clip.

    Attributes:
        kind: ``"video_clips"``.
        model: ``videomae`` (``VideoMAEModel``).
        clip_length: frames per clip (SpaMo: 16; must equal the model's ``num_frames``).
        stride: frames between the starts of neighbouring clips (SpaMo: 8).
        (other fields as in :class:`ImageExtractorConfig`)

    Each clip's output tokens are mean-pooled into one vector (VideoMAE's ``use_mean_pooling``
    head input, before any classifier).
    """

    kind: Literal["video_clips"] = "video_clips"
    model: Literal["videomae"] = "videomae"
    clip_length: int = Field(16, ge=1)
    stride: int = Field(8, ge=1)


class AvsrEncoderSizes(StrictModel):
    """Auto-AVSR's Conformer encoder sizes (``configs/model/visual_backbone/resnet_conformer.yaml``).

    Attributes:
        dim: encoder width (768; paper 004's lip feature size).
        heads: attention heads (12).
        hidden: feed-forward width (3072).
        num_layers: Conformer blocks (12).
        kernel_size: depthwise convolution kernel (31, odd).
    """

    dim: int = Field(768, ge=1)
    heads: int = Field(12, ge=1)
    hidden: int = Field(3072, ge=1)
    num_layers: int = Field(12, ge=1)
    kernel_size: int = Field(31, ge=1)

    @model_validator(mode="after")
    def _check(self) -> AvsrEncoderSizes:
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        return self


class LipReaderExtractorConfig(StrictModel):
    """A frozen lip-reading network on lip crops (paper 004's lip stream): video + pose -> ``[T, D]``.

    The record's video is cut into grayscale lip crops located by the face landmarks of the record's
    ``pose`` (:mod:`glossfree.data.lips`) at the video's own frame rate, and encoded by Auto-AVSR's
    visual front-end (:class:`glossfree.models.frontends.lip_backbone.VisualFrontend`: 3D conv stem
    + ResNet-18 trunk, 512-d per frame) and, with ``output: encoder`` (paper 004's 768-d features),
    its Conformer encoder (:class:`glossfree.models.frontends.avsr_encoder.AvsrConformerEncoder`),
    with the weights of ``checkpoint`` (key mapping: :func:`glossfree.features.extractors.avsr_frontend_state_dict`
    and :func:`~glossfree.features.extractors.avsr_encoder_state_dict`).

    Attributes:
        kind: ``"lip_reader"``.
        model: ``auto_avsr`` (the architecture and checkpoint layout of mpc001/auto_avsr).
        checkpoint: path of the user's checkpoint (``.pth`` state dict, or a Lightning checkpoint
            with ``state_dict``); read with ``torch.load(weights_only=True)``, nothing downloads.
        key_prefix: the checkpoint's key prefix of the visual front-end (``encoder.frontend.`` in
            Auto-AVSR's VSR models); ``None`` finds the one prefix holding ``frontend3D.0.weight``.
        output: ``encoder`` (the Conformer encoder's output, 768-d: the paper's lip features) or
            ``frontend`` (the visual front-end's 512-d per-frame features).
        stem_channels, channels, blocks: front-end sizes (Auto-AVSR: 64, [64, 128, 256, 512], 2);
            smaller values only for tests with tiny checkpoints.
        encoder: Conformer encoder sizes (``output: encoder``; Auto-AVSR's by default).
        crop: the lip crops (Auto-AVSR: 88x88, mean 0.421, std 0.165).
        dtype: dtype the features are stored in.
    """

    kind: Literal["lip_reader"] = "lip_reader"
    model: Literal["auto_avsr"] = "auto_avsr"
    checkpoint: str
    key_prefix: str | None = None
    output: Literal["encoder", "frontend"] = "encoder"
    stem_channels: int = Field(64, ge=1)
    channels: list[int] = Field(default_factory=lambda: [64, 128, 256, 512], min_length=1)
    blocks: int = Field(2, ge=1)
    encoder: AvsrEncoderSizes = AvsrEncoderSizes()
    crop: LipCropConfig = LipCropConfig()
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"

    @property
    def fps(self) -> None:
        """Lip crops are cut at the video's own rate (the pose's frames); never resampled here."""
        return None


class PoseExtractorConfig(StrictModel):
    """A fixed, parameter-free encoding of the record's ``.pose`` (SpaMo's two streams on poses,
    issue 26 item 8): ``spatial`` -> ``[T, 4 N]``, ``motion`` -> ``[N_clips, 2 K N]``.

    Attributes:
        kind: ``"pose"``.
        encoding: ``spatial``: the keypoints of every frame in ``layout``, normalised (shoulder
            centre, shoulder width) as the pose recipes read them, as ``x, y, z, detected`` per
            point (0 where undetected). ``motion``: on sliding windows of ``clip_length`` frames
            whose starts are ``stride`` apart (the clips of ``video_clips``), each point's x and y
            trajectory, centred on its window mean, projected on the cosine basis
            ``cos(pi k (t + 1/2) / L)``, ``k = 1..coefficients``, scaled by ``sqrt(2 / L)``
            (orthonormal DCT-II without the DC term: path, speed and rhythm of each point, not its
            position); frames where a point is undetected contribute 0.
        layout: keypoint layout (:func:`glossfree.data.layouts.get_layout`).
        normalize: centre on the shoulders and scale shoulder width to 1.
        clip_length, stride: motion windows (SpaMo's 16 and 8).
        coefficients: motion DCT coefficients per coordinate (``K``).
        fps: resample the poses to this rate first (``None`` keeps the file's).
        dtype: dtype the features are stored in.
    """

    kind: Literal["pose"] = "pose"
    encoding: Literal["spatial", "motion"] = "spatial"
    layout: str = "pose203"
    normalize: bool = True
    clip_length: int = Field(16, ge=2)
    stride: int = Field(8, ge=1)
    coefficients: int = Field(4, ge=1)
    fps: float | None = Field(None, gt=0)
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"

    @model_validator(mode="after")
    def _check(self) -> PoseExtractorConfig:
        from glossfree.data.layouts import get_layout

        try:
            get_layout(self.layout)
        except (KeyError, ValueError, ConfigError) as error:
            raise ValueError(str(error)) from None
        if self.coefficients >= self.clip_length:
            raise ValueError(f"coefficients ({self.coefficients}) must be < clip_length ({self.clip_length})")
        return self


ExtractorConfig = Annotated[
    Union[ImageExtractorConfig, VideoClipsExtractorConfig, LipReaderExtractorConfig, PoseExtractorConfig],
    Field(discriminator="kind"),
]
_BY_KIND: dict[str, type[ImageExtractorConfig | VideoClipsExtractorConfig | LipReaderExtractorConfig | PoseExtractorConfig]] = {
    "image": ImageExtractorConfig,
    "video_clips": VideoClipsExtractorConfig,
    "lip_reader": LipReaderExtractorConfig,
    "pose": PoseExtractorConfig,
}
KINDS = tuple(_BY_KIND)


AnyExtractorConfig = Union[ImageExtractorConfig, VideoClipsExtractorConfig, LipReaderExtractorConfig, PoseExtractorConfig]


def parse_extractor_config(data: Any, source: str = "<extractor config>") -> AnyExtractorConfig:
    """Validate a dict as an extractor config; :class:`ConfigError` names ``source`` and the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with a 'kind' key, got {type(data).__name__}")
    if "kind" not in data:
        raise ConfigError(f"{source}: missing key 'kind' (one of: {', '.join(KINDS)})")
    if data["kind"] not in KINDS:
        raise ConfigError(f"{source}: kind: unknown extractor kind {data.get('kind')!r}; choose from {', '.join(KINDS)}")
    model = _BY_KIND[data["kind"]]
    try:
        return model.model_validate(data)
    except ValidationError as error:
        # the field is ``model_config_`` in Python (pydantic reserves ``model_config``)
        raise ConfigError(format_validation_error(error, model, source).replace("model_config_", "model_config")) from None


def builtin_extractor_configs_dir() -> Path:
    """The extractor configs shipped inside the package (``spamo/clip_l14_s2`` ...)."""
    return Path(__file__).resolve().parent / "extractor_configs"


def resolve_extractor_config_path(path: str | Path) -> Path:
    """``path`` when it is a file, else the built-in config of that name (``spamo/clip_l14_s2``)."""
    return resolve_config_file(path, builtin_extractor_configs_dir(), "extractor config")


def load_extractor_config(path: str | Path) -> AnyExtractorConfig:
    """Read and validate an extractor YAML file or a built-in one by name (errors name the file and the key)."""
    path = resolve_extractor_config_path(path)
    config = parse_extractor_config(read_yaml(path), source=str(path))
    check_local_weights(config, source=str(path))
    return config


def check_local_weights(config: AnyExtractorConfig, source: str | None = None) -> None:
    """A ``name_or_path`` written as a path (absolute, ``./``, ``~`` or with more than one ``/``; a
    Hub name is ``name`` or ``org/name``) must be a folder: ``transformers`` reports a missing folder
    as a malformed Hub id. :class:`ConfigError` naming ``source`` (the config file) and the path."""
    name = getattr(config, "name_or_path", None)
    if name is None:
        return
    path = Path(name)
    written_as_path = name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name
    if (written_as_path or path.exists()) and not path.is_dir():
        where = f"{source}: " if source else ""
        state = "a file, not a model folder" if path.exists() else "no such folder"
        raise ConfigError(
            f"{where}name_or_path {name}: {state}; give the folder a model was saved to (save_pretrained: "
            "config.json and the weights), or a Hub name (org/name) already in the Hugging Face cache: "
            "nothing is downloaded"
        )


def config_dict(config: AnyExtractorConfig) -> dict[str, Any]:
    """The config as plain JSON data, with the YAML key names (``model_config``)."""
    return config.model_dump(mode="json", by_alias=True)


def signature(config: AnyExtractorConfig) -> str:
    """SHA-256 (hex) of the canonical JSON of the config and :data:`FORMAT_VERSION`."""
    payload = {"format_version": FORMAT_VERSION, "config": config_dict(config)}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
