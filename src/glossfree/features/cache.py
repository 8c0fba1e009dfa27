"""The feature cache: ``<root>/features/<extractor name>/<id>.safetensors``, one file per record.

Each file holds one tensor, ``features`` ``[T', D]``, and string metadata:

=================  ===========================================================================
``signature``      SHA-256 of the extractor config (:func:`glossfree.features.config.signature`)
``config``         that config as JSON (so a stale file says what it was extracted with)
``kind``           ``image`` or ``video_clips``
``fps``            rows per second of the features (video_clips: frame rate / stride)
``frame_fps``      frame rate the frames were decoded at
``num_frames``     frames decoded (for video_clips, ``T'`` is the number of clips)
``dtype``          the tensor's dtype (``float32``, ``float16``, ``bfloat16``)
``id``             the manifest record's id; ``start``/``end`` when only a span was extracted
``format``         ``glossfree-features``, ``format_version``
=================  ===========================================================================

Files are written atomically (:func:`glossfree.io.atomic_path`): a killed run leaves the old file
or none, never half of one. :class:`FeatureCache` reads an entry and checks it: a missing,
unreadable or truncated file, a missing ``features`` tensor, a tensor that is not 2-D, an empty
one, a width, dtype or signature other than expected each raise a
:class:`~glossfree.errors.DataError` naming the file and what is wrong. A stale signature names the
config keys that differ and tells the user to re-extract (``--overwrite``) or to use the config the
file was written with. Record ids may contain ``/`` (sub-folders); ids that would leave the cache
folder (``..``, absolute paths) are refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from glossfree.errors import DataError
from glossfree.features.config import FORMAT_VERSION
from glossfree.io import atomic_path

FEATURES_KEY = "features"
FORMAT_NAME = "glossfree-features"
SUFFIX = ".safetensors"
DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}
_MAX_DIFFS = 4


@dataclass(frozen=True)
class FeatureEntry:
    """One cached record: ``features`` ``[T', D]`` and its metadata (see the module docstring)."""

    features: torch.Tensor
    signature: str
    fps: float
    num_frames: int
    metadata: dict[str, str]

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self.metadata.get("config", "{}"))


def cache_dir(root: str | Path, name: str) -> Path:
    """``<root>/features/<name>``; the name must be one plain folder name."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise DataError(f"extractor name {name!r} must be a plain folder name (no '/', not '.' or '..')")
    return Path(root) / "features" / name


def entry_path(directory: Path, record_id: str) -> Path:
    """``<directory>/<id>.safetensors``; ids with ``/`` map to sub-folders, ``..`` is refused."""
    parts = PurePosixPath(record_id).parts
    if not parts or record_id.startswith("/") or any(p in ("..", ".") for p in parts):
        raise DataError(f"record id {record_id!r} cannot name a cache file (no absolute paths, '.' or '..')")
    return directory.joinpath(*parts[:-1], parts[-1] + SUFFIX)


def write_entry(path: str | Path, features: torch.Tensor, metadata: dict[str, Any]) -> None:
    """Write ``features`` ``[T', D]`` and ``metadata`` (values turned into strings) atomically."""
    if features.ndim != 2 or features.shape[0] == 0:
        raise DataError(f"{path}: refusing to cache features of shape {list(features.shape)} (expected [T > 0, D])")
    if features.dtype not in DTYPE_NAMES:
        raise DataError(f"{path}: refusing to cache dtype {features.dtype} (use one of {', '.join(DTYPE_NAMES.values())})")
    meta = {key: value if isinstance(value, str) else json.dumps(value) for key, value in metadata.items()}
    meta.update({"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION), "dtype": DTYPE_NAMES[features.dtype]})
    with atomic_path(path) as tmp:
        save_file({FEATURES_KEY: features.detach().cpu().contiguous()}, str(tmp), metadata=meta)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data}


def config_differences(stored: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """``key: stored -> expected`` for each flattened config key that differs."""
    a, b = _flatten(stored), _flatten(expected)
    return [f"{key}: {a.get(key)!r} -> {b.get(key)!r}" for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]


class FeatureCache:
    """Reader (and checker) of one extractor's cache folder ``<root>/features/<name>``.

    Args:
        root: dataset root.
        name: extractor name (the folder).
        signature: expected signature (``None``: accept any, e.g. when training reads a stream
            whose files all share one signature; see :meth:`read`).
        dim: expected width ``D`` (``None``: any).
        dtype: expected dtype name (``None``: any).
    """

    def __init__(self, root: str | Path, name: str, *, signature: str | None = None, dim: int | None = None,
                 dtype: str | None = None, expected_config: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.root = Path(root)
        self.name = name
        self.directory = cache_dir(root, name)
        self.signature = signature
        self.dim = dim
        self.dtype = dtype
        self.expected_config = expected_config

    def path(self, record_id: str) -> Path:
        return entry_path(self.directory, record_id)

    def _open(self, path: Path) -> tuple[dict[str, str], torch.Tensor]:
        if not path.is_file():
            raise DataError(f"{path}: cached features not found (run `glossfree extract` for extractor '{self.name}')")
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                keys = list(handle.keys())
                if FEATURES_KEY not in keys:
                    raise DataError(f"{path}: no '{FEATURES_KEY}' tensor in the file (found: {', '.join(keys) or 'none'})")
                tensor = handle.get_tensor(FEATURES_KEY)
        except (SafetensorError, OSError, ValueError, RuntimeError) as error:
            raise DataError(f"{path}: cannot read cached features (corrupt or truncated safetensors file: "
                            f"{error}); delete it and run `glossfree extract` again") from None  # fmt: skip
        return metadata, tensor

    def _check_file(self, path: Path, metadata: dict[str, str], tensor: torch.Tensor) -> None:
        """What any feature file must satisfy, whatever extractor wrote it."""
        if metadata.get("format") != FORMAT_NAME:
            raise DataError(f"{path}: not a glossfree feature file (metadata 'format' is {metadata.get('format')!r})")
        if tensor.ndim != 2 or tensor.shape[0] == 0:
            raise DataError(f"{path}: features have shape {list(tensor.shape)}, expected [T > 0, D]")
        stored_dtype = DTYPE_NAMES.get(tensor.dtype, str(tensor.dtype))
        if metadata.get("dtype") != stored_dtype:
            raise DataError(f"{path}: the tensor is {stored_dtype} but the metadata says {metadata.get('dtype')!r}")
        for key in ("signature", "fps", "num_frames"):
            if key not in metadata:
                raise DataError(f"{path}: metadata has no '{key}'")

    def _check_expected(self, path: Path, tensor: torch.Tensor) -> None:
        """The width and dtype this cache was asked for."""
        stored_dtype = DTYPE_NAMES.get(tensor.dtype, str(tensor.dtype))
        if self.dtype is not None and stored_dtype != self.dtype:
            raise DataError(f"{path}: features are {stored_dtype}, expected {self.dtype}")
        if self.dim is not None and tensor.shape[1] != self.dim:
            raise DataError(f"{path}: features are {tensor.shape[1]}-d, expected {self.dim}-d")

    def _is_stale(self, metadata: dict[str, str]) -> bool:
        return self.signature is not None and metadata["signature"] != self.signature

    def stale_message(self, path: Path, metadata: dict[str, str]) -> str:
        """Why a file's signature differs, and what to do."""
        differences: list[str] = []
        if self.expected_config is not None:
            try:
                differences = config_differences(json.loads(metadata.get("config", "{}")), self.expected_config)
            except json.JSONDecodeError:
                differences = []
        if not differences and metadata.get("format_version") != str(FORMAT_VERSION):
            differences = [f"format_version: {metadata.get('format_version')} -> {FORMAT_VERSION}"]
        shown = "; ".join(differences[:_MAX_DIFFS]) + (" ..." if len(differences) > _MAX_DIFFS else "")
        detail = f" (config differs: {shown})" if shown else ""
        return (
            f"{path}: stale cached features: written by extractor signature {metadata['signature'][:12]}, "
            f"expected {str(self.signature)[:12]}{detail}; re-extract with `glossfree extract --overwrite`, "
            f"or pass the extractor config these files were written with"
        )

    def read(self, record_id: str) -> FeatureEntry:
        """The checked entry of ``record_id``; :class:`DataError` naming the file if anything is wrong."""
        path = self.path(record_id)
        metadata, tensor = self._open(path)
        self._check_file(path, metadata, tensor)
        if self._is_stale(metadata):
            raise DataError(self.stale_message(path, metadata))
        self._check_expected(path, tensor)
        try:
            fps, num_frames = float(metadata["fps"]), int(metadata["num_frames"])
        except ValueError:
            raise DataError(f"{path}: metadata fps/num_frames are not numbers "
                            f"({metadata['fps']!r}, {metadata['num_frames']!r})") from None  # fmt: skip
        return FeatureEntry(features=tensor, signature=metadata["signature"], fps=fps, num_frames=num_frames,
                            metadata=metadata)  # fmt: skip

    def status(self, record_id: str) -> tuple[str, str]:
        """``(state, reason)``; state is ``missing``, ``valid``, ``stale`` or ``invalid``."""
        path = self.path(record_id)
        if not path.exists():
            return "missing", ""
        try:
            metadata, tensor = self._open(path)
            self._check_file(path, metadata, tensor)
            if self._is_stale(metadata):
                return "stale", self.stale_message(path, metadata)
            self._check_expected(path, tensor)
        except DataError as error:
            return "invalid", str(error)
        return "valid", ""
