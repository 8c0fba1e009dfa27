"""The batch driver behind ``glossfree extract``: sharded, resumable, each file written atomically.

For every manifest record of the chosen splits (all records of ``manifest.jsonl`` by default)
the record's ``video`` (a video file or a frame folder, relative to the dataset root) is decoded
(:mod:`glossfree.data.video`: upright RGB, resampled to the config's ``fps`` if given; a record
with ``start``/``end`` decodes only that span), passed through the frozen extractor, and written to
``<root>/features/<name>/<id>.safetensors`` (:mod:`glossfree.features.cache`).

- **Shards**: record ``i`` of the id-sorted records goes to shard ``i % num_shards`` (disjoint,
  covering, sizes differ by at most one), as ``glossfree poses`` does.
- **Resume**: a file that is there, readable and has this config's signature is skipped. A file
  with another signature is *stale*: without ``overwrite`` the run stops before any work with an
  error saying how many are stale and why (config keys that differ); with ``overwrite`` they are
  re-extracted. A file that cannot be read (corrupt, wrong shape) is re-extracted and counted.
- **Failures** (missing or unreadable video, a record without ``video``, an empty span) are
  collected, each naming the record and the file, never raised; the others go on.
- ``<root>/features/<name>/extractor.json`` records the config and signature, for people.
- The ``pose`` extractor (SpaMo's streams on keypoints) reads the record's ``pose`` only (its span,
  in the config's layout, normalised, resampled to its ``fps``): no video is decoded.
- The ``lip_reader`` extractor (paper 004's lip stream) also reads the record's ``pose``: lip crops
  are cut where its face landmarks put the mouth (:func:`glossfree.data.lips.load_lip_crops`), at
  the video's own frame rate; a record without a ``pose`` fails like one without a ``video``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glossfree.data.manifest import Record, load_split, read_manifest, resolve
from glossfree.data.video import PHOENIX_FPS, iter_frame_folder, iter_video_frames, probe_video
from glossfree.errors import ConfigError, DataError
from glossfree.features.cache import FeatureCache, cache_dir, write_entry
from glossfree.features.config import (
    AnyExtractorConfig,
    PoseExtractorConfig,
    VideoClipsExtractorConfig,
    config_dict,
    signature,
)
from glossfree.features.extractors import Extractor, LipReaderExtractor, PoseStreamExtractor, build_extractor
from glossfree.io import atomic_write_json

_MAX_STALE_SHOWN = 3


@dataclass
class FeatureExtractionSummary:
    """Outcome of :func:`extract_features` for one shard.

    Attributes:
        written: records whose file was written in this run.
        skipped: records whose valid, same-signature file was already there.
        failed: ``(record id, reason)`` per record that could not be extracted (reason names the file).
        replaced_invalid: unreadable/invalid files that were re-extracted (also in ``written``).
        replaced_stale: stale files re-extracted under ``overwrite`` (also in ``written``).
        directory: the cache folder.
    """

    directory: Path
    written: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    replaced_invalid: list[str] = field(default_factory=list)
    replaced_stale: int = 0

    @property
    def total(self) -> int:
        return self.written + self.skipped + len(self.failed)


def select_records(root: str | Path, splits: list[str] | None = None) -> list[Record]:
    """Records of ``splits`` (``None``: every record of ``<root>/manifest.jsonl``), sorted by id."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset root not found")
    if splits:
        records = [record for split in splits for record in load_split(root, split)]
    elif (root / "manifest.jsonl").is_file():
        records = read_manifest(root / "manifest.jsonl")
    else:
        present = sorted(p.stem for p in root.glob("*.jsonl"))
        raise DataError(f"{root}: no manifest.jsonl; choose the split files with --split "
                        f"(found: {', '.join(present) or 'no .jsonl files'})")  # fmt: skip
    seen: set[str] = set()
    for record in records:
        if record.id in seen:
            raise DataError(f"{root}: record id '{record.id}' appears in more than one split")
        seen.add(record.id)
    return sorted(records, key=lambda r: r.id)


def shard_records(records: list[Record], *, num_shards: int, shard_index: int) -> list[Record]:
    """Records of one shard: item ``i`` of the id-sorted records goes to shard ``i % num_shards``."""
    if num_shards < 1:
        raise ConfigError(f"--num-shards must be >= 1, got {num_shards}")
    if not 0 <= shard_index < num_shards:
        raise ConfigError(f"--shard-index must be in [0, {num_shards - 1}], got {shard_index}")
    return sorted(records, key=lambda r: r.id)[shard_index::num_shards]


def _record_frames(root: Path, record: Record, fps: float | None, folder_fps: float) -> tuple[Any, float]:
    """``(frame iterator, frame rate)`` of a record's video or frame folder (its span only)."""
    if record.video is None:
        raise DataError(f"record '{record.id}' has no 'video' to extract features from")
    path = resolve(root, record).video
    assert path is not None
    if path.is_dir():
        if record.start is not None or record.end is not None:
            raise DataError(f"{path}: start/end spans are supported for video files, not frame folders")
        return iter_frame_folder(path, fps=fps, source_fps=folder_fps), float(fps or folder_fps)
    frame_fps = fps if fps is not None else probe_video(path).fps
    return iter_video_frames(path, fps=fps, start=record.start, end=record.end), float(frame_fps)


class _Counted:
    """Iterator that counts the frames it passes on."""

    def __init__(self, frames: Any) -> None:
        self._frames, self.count = iter(frames), 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        frame = next(self._frames)
        self.count += 1
        return frame


def _lip_features(extractor: LipReaderExtractor, root: Path, record: Record, batch_size: int) -> tuple[Any, float, int]:
    """``(features [T, D], fps, frames)`` of a record's video and pose through the lip reader."""
    from glossfree.data.lips import load_lip_crops

    paths = resolve(root, record)
    if paths.video is None or paths.pose is None:
        raise DataError(f"record '{record.id}' needs a 'video' and a 'pose' for lip features "
                        "(the crops are located by the pose's face landmarks)")  # fmt: skip
    if paths.video.is_dir():
        raise DataError(f"{paths.video}: lip features are extracted from video files, not frame folders")
    crops = load_lip_crops(paths.video, paths.pose, extractor.config.crop, start=record.start, end=record.end)
    features = extractor.encode_crops(crops.crops, batch_size=batch_size).to(extractor.dtype).contiguous()
    return features, crops.fps, int(crops.crops.shape[0])


def _pose_features(extractor: PoseStreamExtractor, root: Path, record: Record) -> tuple[Any, float, int]:
    """``(features, fps, frames)`` of a record's ``.pose`` (its span) through a fixed pose encoding."""
    path = resolve(root, record).pose
    if path is None:
        raise DataError(f"record '{record.id}' has no 'pose' to encode")
    keypoints = extractor.load(path, start=record.start, end=record.end)
    return extractor.encode(keypoints), float(keypoints.fps), keypoints.num_frames


def extract_record(extractor: Extractor | LipReaderExtractor | PoseStreamExtractor, root: Path, record: Record, *,
                   name: str, batch_size: int, folder_fps: float = PHOENIX_FPS) -> Path:  # fmt: skip
    """Extract and write one record's features; returns the file written. Raises DataError."""
    config = extractor.config
    if isinstance(extractor, LipReaderExtractor):
        features, frame_fps, count = _lip_features(extractor, root, record, batch_size)
    elif isinstance(extractor, PoseStreamExtractor):
        features, frame_fps, count = _pose_features(extractor, root, record)
    else:
        frames, frame_fps = _record_frames(root, record, config.fps, folder_fps)
        counted = _Counted(frames)
        try:
            features = extractor.extract(counted, batch_size=batch_size)
        except DataError as error:
            message = str(error)
            video = resolve(root, record).video
            raise DataError(message if str(video) in message else f"{video}: {message}") from None
        count = counted.count
    clips = isinstance(config, VideoClipsExtractorConfig) or (isinstance(config, PoseExtractorConfig) and config.encoding == "motion")
    rows_fps = frame_fps / config.stride if clips else frame_fps
    metadata: dict[str, Any] = {
        "signature": extractor.signature, "config": config_dict(config), "kind": config.kind,
        "extractor": name, "id": record.id, "fps": rows_fps, "frame_fps": frame_fps,
        "num_frames": count,
    }  # fmt: skip
    if record.start is not None:
        metadata["start"] = record.start
    if record.end is not None:
        metadata["end"] = record.end
    path = FeatureCache(root, name).path(record.id)
    write_entry(path, features, metadata)
    return path


def extract_features(
    root: str | Path,
    config: AnyExtractorConfig,
    *,
    name: str,
    splits: list[str] | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
    batch_size: int = 32,
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
    folder_fps: float = PHOENIX_FPS,
) -> FeatureExtractionSummary:
    """Extract ``<root>/features/<name>/<id>.safetensors`` for this shard's records.

    Args:
        root: dataset root (``manifest.jsonl`` or ``{split}.jsonl``).
        config: validated extractor config.
        name: cache folder name under ``features/``.
        splits: only these splits (default: every record of ``manifest.jsonl``).
        num_shards: number of workers splitting the records.
        shard_index: this worker (0-based).
        batch_size: frames (or clips) per forward pass.
        device: ``cpu`` or ``cuda`` (``cuda:1`` ...).
        overwrite: re-extract stale files (written with another config).
        progress: rich progress bar on stderr.
        folder_fps: frame rate of frame-folder videos (PHOENIX-2014-T: 25).

    Returns:
        the summary; per-record failures are in it, not raised.

    Raises:
        ConfigError: bad shard arguments, batch size, device, or weights that are not local.
        DataError: bad manifest, unknown split, or stale files without ``overwrite``.
    """
    root = Path(root)
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    directory = cache_dir(root, name)
    if directory.exists() and not directory.is_dir():
        raise DataError(f"{directory}: exists and is not a folder")
    records = shard_records(select_records(root, splits), num_shards=num_shards, shard_index=shard_index)
    expected = signature(config)
    cache = FeatureCache(root, name, signature=expected, dtype=config.dtype, expected_config=config_dict(config))
    summary = FeatureExtractionSummary(directory=directory)

    todo: list[Record] = []
    stale: list[str] = []
    for record in records:
        state, reason = cache.status(record.id)
        if state == "valid":
            summary.skipped += 1
            continue
        if state == "stale":
            stale.append(reason)
        if state == "invalid":
            summary.replaced_invalid.append(record.id)
        todo.append(record)
    if stale and not overwrite:
        shown = "\n".join(stale[:_MAX_STALE_SHOWN]) + ("\n..." if len(stale) > _MAX_STALE_SHOWN else "")
        raise DataError(
            f"{directory}: {len(stale)} cached files (of the {len(records)} records of this shard) were written with a "
            f"different extractor config; pass --overwrite to re-extract them, or --name a new folder:\n{shown}"
        )
    summary.replaced_stale = len(stale)
    if not todo:
        return summary

    extractor = build_extractor(config, device=device)  # after the checks: loading weights is slow
    atomic_write_json(directory / "extractor.json", {"name": name, **extractor.metadata()})
    iterator: Any = todo
    if progress:
        from rich.console import Console
        from rich.progress import track

        iterator = track(todo, description=f"extract {name} (shard {shard_index + 1}/{num_shards})",
                         console=Console(stderr=True), transient=True)  # fmt: skip
    for record in iterator:
        try:
            extract_record(extractor, root, record, name=name, batch_size=batch_size, folder_fps=folder_fps)
        except DataError as error:
            summary.failed.append((record.id, str(error)))
            continue
        summary.written += 1
    return summary
