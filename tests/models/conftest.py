"""Fixtures for model tests: a tiny trained tokenizer, tiny configs and random pose batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from glossfree.config import validate
from glossfree.data.datasets import PoseBatch, collate_pose
from glossfree.models.slt import SLTModelConfig
from glossfree.text.tokenizers import train_tokenizer

GERMAN = [
    "und nun die wettervorhersage für morgen donnerstag den zwölften august",
    "mancherorts regnet es auch länger und ergiebig",
    "auch lokale überschwemmungen sind wieder möglich",
    "im süden und südwesten gibt es gewitter",
    "am tag sonne und wolken im wechsel",
    "in der nacht wird es frostig bei klarem himmel",
    "der wind weht schwach bis mäßig aus nordost",
    "an den küsten frische böen",
    "morgen wird es wärmer mit höchstwerten um zwanzig grad",
    "es grüßt sie das team der tagesschau",
    "schöne grüße aus köln und münchen",
    "über den höhen fällt schnee",
]

TINY_LM: dict[str, Any] = {
    "family": "t5",
    "name_or_path": None,
    "architecture": {
        "d_model": 32, "d_ff": 64, "d_kv": 8, "num_heads": 4, "num_layers": 2,
        "num_decoder_layers": 2, "dropout_rate": 0.0,
    },
    "adapter": {"kind": "none"},
    "label_smoothing": 0.1,
    "generation": {"num_beams": 2, "max_new_tokens": 6},
}  # fmt: skip

TINY_MODEL: dict[str, Any] = {
    "frontend": {
        "dim": 32, "agcn_channels": 8, "agcn_multipliers": [1, 2], "articulator_dim": 16,
        "dropout": 0.0, "conformer": {"num_layers": 1, "num_heads": 4, "dropout": 0.0},
    },
    "compressor": {"kind": "sliding_perceiver", "num_layers": 2, "num_heads": 4, "max_len": 128},
    "mapper": {"kind": "identity"},
    "lm": TINY_LM,
}  # fmt: skip


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    if "kind" in override and override["kind"] != base.get("kind"):
        return dict(override)  # another kind: its own section, nothing inherited
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


@pytest.fixture(scope="session")
def t5_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    return train_tokenizer(GERMAN, tmp_path_factory.mktemp("tokenizer") / "t5", vocab_size=120)


@pytest.fixture()
def tiny_config() -> Callable[..., SLTModelConfig]:
    def make(override: dict[str, Any] | None = None) -> SLTModelConfig:
        return validate(SLTModelConfig, merge(TINY_MODEL, override or {}), source="tiny")

    return make


def pose_item(frames: int, text: str, *, seed: int, num_points: int = 203) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(seed)
    return {
        "id": f"s{seed}",
        "keypoints": torch.randn(frames, num_points, 3, generator=generator),
        "keypoint_mask": torch.rand(frames, num_points, generator=generator) > 0.2,
        "text": text,
        "language": "de",
    }


@pytest.fixture()
def make_batch() -> Callable[..., PoseBatch]:
    def make(lengths: list[int], *, seed: int = 0, num_points: int = 203) -> PoseBatch:
        items = [
            pose_item(length, GERMAN[(seed + i) % len(GERMAN)], seed=seed + i, num_points=num_points)
            for i, length in enumerate(lengths)
        ]
        return collate_pose(items)

    return make


@pytest.fixture()
def tiny_lm_config() -> Callable[..., Any]:
    """Factory for a tiny from-scratch T5 :class:`LanguageModelConfig` with overrides."""
    from glossfree.models.language_model import LanguageModelConfig

    def make(override: dict[str, Any] | None = None):
        return validate(LanguageModelConfig, merge(TINY_LM, override or {}), source="tiny-lm")

    return make
