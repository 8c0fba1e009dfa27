"""A dataset of cached feature streams: ``{id, features: {stream: [T, D]}, text}`` per record.

Each stream is a cache folder ``<root>/features/<stream>`` written by ``glossfree extract``.
Files are read (and checked, :class:`~glossfree.features.cache.FeatureCache`) when an item is
asked for. Unless a signature is given per stream, the expected one is the folder's
``extractor.json``, so a folder holding files of two different configs fails on the first odd file
with an error naming it, instead of training on a mix. :func:`collate_features` pads each stream to
its longest item and returns boolean masks (True = real step). Features come out as float32.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from glossfree.data.manifest import Record, load_split
from glossfree.errors import DataError
from glossfree.features.cache import FeatureCache, cache_dir


def stream_info(root: str | Path, stream: str) -> dict[str, Any]:
    """The ``extractor.json`` of a cache folder (signature, config, dim); DataError if absent."""
    path = cache_dir(root, stream) / "extractor.json"
    if not path.is_file():
        raise DataError(f"{path}: not found; is '{stream}' a feature stream extracted with `glossfree extract`?")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None


class FeatureDataset(Dataset):
    """Records of one split with their cached streams.

    Args:
        root: dataset root.
        split: split name (``{split}.jsonl`` or the records of ``manifest.jsonl``).
        streams: cache folder names under ``features/``.
        signatures: expected signature per stream (default: each folder's ``extractor.json``).
        records: use these records instead of reading the split.
    """

    def __init__(self, root: str | Path, split: str, streams: Sequence[str], *,
                 signatures: dict[str, str] | None = None, records: list[Record] | None = None) -> None:  # fmt: skip
        if not streams:
            raise DataError("FeatureDataset needs at least one stream")
        self.root = Path(root)
        self.records = records if records is not None else load_split(root, split)
        self.caches: dict[str, FeatureCache] = {}
        for stream in streams:
            info = stream_info(root, stream) if not signatures or stream not in signatures else {}
            expected = (signatures or {}).get(stream) or info.get("signature")
            self.caches[stream] = FeatureCache(root, stream, signature=expected, dim=info.get("dim"))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        features = {stream: cache.read(record.id).features.float() for stream, cache in self.caches.items()}
        return {"id": record.id, "features": features, "text": record.text}


def collate_features(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Pad each stream over the batch.

    Returns:
        ``{"ids": [B], "text": [B], "features": {stream: float [B, T_max, D]},
        "masks": {stream: bool [B, T_max]}}``; padded steps are zero and masked False.
    """
    if not items:
        raise ValueError("collate_features: empty batch")
    streams = list(items[0]["features"])
    features: dict[str, torch.Tensor] = {}
    masks: dict[str, torch.Tensor] = {}
    for stream in streams:
        tensors = [item["features"][stream] for item in items]
        width = {t.shape[1] for t in tensors}
        if len(width) > 1:
            raise DataError(f"stream '{stream}': items of one batch have different widths {sorted(width)}")
        lengths = torch.tensor([t.shape[0] for t in tensors])
        padded = torch.zeros(len(items), int(lengths.max()), tensors[0].shape[1], dtype=tensors[0].dtype)
        for row, tensor in enumerate(tensors):
            padded[row, : tensor.shape[0]] = tensor
        features[stream] = padded
        masks[stream] = torch.arange(padded.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)  # [B, T_max]
    return {"ids": [item["id"] for item in items], "text": [item["text"] for item in items],
            "features": features, "masks": masks}  # fmt: skip
