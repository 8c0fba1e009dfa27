"""Fixtures of the feature tests (helpers in ``helpers.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.helpers import make_dataset


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(10, 40, 48, 3), dtype=np.uint8)
