"""Shared fixtures. Tests run offline on CPU; nothing downloads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiny import FAST_RECIPE

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


# --------------------------------------------------------------------- tiny corpus and trained run
@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """24/4/4 synthetic samples at 12.5 fps (as the demo's corpus)."""
    from glossfree.data.synth import SynthConfig, generate_corpus

    root = tmp_path_factory.mktemp("corpus")
    config = SynthConfig(seed=3, num_train=24, num_dev=4, num_test=4, fps=12.5, face_points="contours")
    generate_corpus(root, config, progress=False)
    return root


@pytest.fixture()
def tiny_recipe():
    from glossfree.training.tasks import load_recipe

    return load_recipe("pose_perceiver/tiny", FAST_RECIPE)


@pytest.fixture(scope="session")
def tiny_run(tiny_corpus, tmp_path_factory) -> Path:
    """A run folder trained once per session on the tiny corpus (for CLI and inference tests)."""
    from glossfree.training.engine import LaunchConfig, train
    from glossfree.training.tasks import load_recipe

    run_dir = tmp_path_factory.mktemp("run") / "run"
    recipe = load_recipe("pose_perceiver/tiny", FAST_RECIPE)
    train(recipe, data_root=tiny_corpus, run_dir=run_dir, launch=LaunchConfig(accelerator="cpu", progress=False))
    return run_dir
