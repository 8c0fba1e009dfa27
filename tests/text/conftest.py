"""Fixtures for the language-side tests: small real PHOENIX14T samples and tiny manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def read_phoenix(phoenix_dir: Path, split: str, n: int) -> list[dict]:
    """The first ``n`` records of a converted PHOENIX14T split file."""
    rows = []
    with (phoenix_dir / f"{split}.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


def write_manifest_lines(path: Path, records: list[dict]) -> Path:
    """Write manifest records (adding a pose path, required by the manifest contract)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"pose": f"poses/{r['id']}.pose", **r}, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def make_manifest():
    """``make_manifest(path, records)`` writes a manifest file and returns its path."""
    return write_manifest_lines


@pytest.fixture(scope="session")
def phoenix_rows(phoenix_dir: Path):
    """``phoenix_rows(split, n)``: the first ``n`` records of a real PHOENIX14T split."""
    return lambda split, n: read_phoenix(phoenix_dir, split, n)


@pytest.fixture(scope="session")
def phoenix_train50(phoenix_dir: Path) -> list[dict]:
    return read_phoenix(phoenix_dir, "train", 50)


@pytest.fixture()
def tiny_manifest(tmp_path: Path) -> Path:
    """A German manifest: 4 train, 1 dev, 1 test sentence (one train sentence has no content word)."""
    records = [
        {"id": "a", "split": "train", "language": "de", "text": "morgen regnet es im norden"},
        {"id": "b", "split": "train", "language": "de", "text": "am tag scheint die sonne"},
        {"id": "c", "split": "train", "language": "de", "text": "und in der"},
        {"id": "d", "split": "train", "language": "de", "text": "im süden scheint morgen die sonne"},
        {"id": "e", "split": "dev", "language": "de", "text": "nachts gibt es frost"},
        {"id": "f", "split": "test", "language": "de", "text": "der orkan tobt über bayern"},
    ]
    return write_manifest_lines(tmp_path / "data" / "manifest.jsonl", records)


@pytest.fixture(scope="session")
def mbart_tokenizer(shared_dir: Path):
    """The real trimmed mBART tokenizer of GFSLT-VLP (2,454 ids), loaded offline."""
    from glossfree.text.tokenizers import load_tokenizer

    return load_tokenizer(shared_dir / "data" / "mbart_trimmed_tokenizer", src_lang="de_DE", tgt_lang="de_DE")
