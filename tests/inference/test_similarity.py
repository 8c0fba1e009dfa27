"""Issue 25, item 8: ``glossfree analyze similarity`` (paper 002, Fig. 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny import render_video_corpus
from typer.testing import CliRunner

from glossfree.cli.main import app
from glossfree.data.manifest import read_manifest
from glossfree.inference.loading import TrainedModel
from glossfree.inference.similarity import draw_similarity, token_similarity
from glossfree.text.tokenizers import train_tokenizer
from glossfree.training.tasks import load_recipe
from glossfree.training.tasks.translation import build_model


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return render_video_corpus(tmp_path_factory.mktemp("sim") / "data", seed=2, num_train=4, num_dev=1, num_test=1)


def test_similarity_rows_are_segments_and_columns_words(corpus, tmp_path):
    recipe = load_recipe("sage/tiny", ["data.segments_file=segments.jsonl", "tokenizer.vocab_size=60"])
    records = read_manifest(corpus / "manifest.jsonl")
    tokenizer = train_tokenizer([r.text for r in records] * 3, tmp_path / "tok", vocab_size=60, family="mbart")
    torch.manual_seed(0)
    trained = TrainedModel(build_model(recipe, tokenizer).eval(), recipe, tokenizer, {}, tmp_path)
    record = records[0]
    result = token_similarity(trained, corpus, record.id)
    truth = json.loads((corpus / "segments.jsonl").read_text().splitlines()[0])
    words = [w.strip(".,?!") for w in record.text.lower().split()]
    assert result.matrix.shape == (len(truth["signs"]), len(words)) and result.glosses == words
    assert result.token_labels == [f"{s['start']}-{s['end']}" for s in truth["signs"]]
    # one column by hand: the word's mean input embedding against the mapper's tokens, cosine
    with torch.no_grad():
        from glossfree.data.datasets import collate_pose
        from glossfree.training.datamodule import build_dataset

        batch = collate_pose([build_dataset(recipe.data, recipe.model, [record], corpus, train=False)[0]])
        tokens = trained.model.visual_points(batch)["tokens"].features[0]
        embeds, mask = trained.model.lm.embed_texts([words[1]])
        word = embeds[0][mask[0]].mean(dim=0)
        expected = torch.nn.functional.cosine_similarity(tokens, word[None], dim=-1)
    torch.testing.assert_close(torch.from_numpy(result.matrix[:, 1]), expected, atol=1e-5, rtol=1e-5)
    png = draw_similarity(result, tmp_path / "map.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyze_similarity_command_errors(corpus, tmp_path):
    result = CliRunner().invoke(app, ["analyze", "similarity", str(tmp_path / "none"), "x", "--data", str(corpus)])
    assert result.exit_code == 2 and "error" in result.output
