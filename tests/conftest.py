"""Shared fixtures. Tests run offline on CPU; nothing downloads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing may reach a model hub at test time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    env = os.environ.get("GLOSSFREE_SHARED")
    return Path(env) if env else REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's ``shared/`` folder beside the checkout (real PHOENIX14T text, samples, tokenizer)."""
    path = _shared_dir()
    if not (path / "data").is_dir():
        pytest.skip(f"shared data folder not found at {path} (set GLOSSFREE_SHARED)")
    return path


@pytest.fixture(scope="session")
def samples_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "samples"


@pytest.fixture(scope="session")
def phoenix_dir(shared_dir: Path) -> Path:
    return shared_dir / "data" / "phoenix14t"
