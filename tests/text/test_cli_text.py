"""The language-side CLI commands on a test app built with ``register``."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from glossfree.cli.text_commands import register
from glossfree.text.prototypes import load_prototypes
from glossfree.text.pseudo_gloss import GLOSSES_FILE, VOCAB_FILE, PseudoGlossVocab


@pytest.fixture()
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_pseudo_glosses_then_prototypes(app, tiny_manifest):
    runner = CliRunner()
    result = runner.invoke(app, ["pseudo-glosses", str(tiny_manifest.parent), "--max-doc-freq", "0.5"])
    assert result.exit_code == 0, result.output
    assert "6 samples (dev 1, test 1, train 4); 5 pseudo-gloss types on train" in result.output
    assert "1 samples without any pseudo-gloss" in result.output
    vocab = PseudoGlossVocab.load(tiny_manifest.parent / VOCAB_FILE)
    assert vocab.max_doc_freq == 0.5
    assert (tiny_manifest.parent / GLOSSES_FILE).is_file()
    out = tiny_manifest.parent / "protos.safetensors"
    result = runner.invoke(
        app, ["prototypes", str(tiny_manifest.parent), "--dim", "8", "--epochs", "1", "--buckets", "1000", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert load_prototypes(out, vocab).shape == (len(vocab), 8)


def test_errors_exit_2_with_one_line(app, tmp_path, tiny_manifest):
    runner = CliRunner()
    result = runner.invoke(app, ["pseudo-glosses", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "error:" in result.output and "no such manifest file or dataset folder" in result.output
    result = runner.invoke(app, ["pseudo-glosses", str(tiny_manifest), "--language", "fr"])
    assert result.exit_code == 2 and "supported: de, en" in result.output
    result = runner.invoke(app, ["prototypes", str(tiny_manifest.parent)])
    assert result.exit_code == 2 and "run `glossfree pseudo-glosses" in result.output
    result = runner.invoke(app, ["prototypes", str(tiny_manifest.parent), "--source", "word2vec"])
    assert result.exit_code == 2 and "Invalid value for '--source'" in result.output
    result = runner.invoke(app, ["prototypes", str(tiny_manifest.parent), "--on-missing", "maybe"])
    assert result.exit_code == 2 and "Invalid value for '--on-missing'" in result.output
    result = runner.invoke(app, ["prototypes", str(tiny_manifest.parent), "--source", "vectors"])
    assert result.exit_code == 2 and "--source vectors needs --vectors FILE" in result.output
    assert "prototypes.vectors" not in result.output
    result = runner.invoke(app, ["prototypes", str(tiny_manifest.parent), "--source", "lm"])
    assert result.exit_code == 2 and "--source lm needs --lm FOLDER" in result.output


def test_report_command_on_a_small_phoenix_copy(app, tmp_path, phoenix_rows):
    data = tmp_path / "p14t"
    data.mkdir()
    for split in ("train", "dev", "test"):
        rows = phoenix_rows(split, 15)
        (data / f"{split}.jsonl").write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
        )
    out = tmp_path / "docs" / "pseudo_glosses.md"
    result = CliRunner().invoke(app, ["pseudo-gloss-report", str(data), "--out", str(out), "--no-variants"])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert f"glossfree pseudo-gloss-report {data} --out {out} --no-variants" in text
    assert "| train | 15 |" in text
    result = CliRunner().invoke(app, ["pseudo-gloss-report", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 2 and "PHOENIX14T split file not found" in result.output
