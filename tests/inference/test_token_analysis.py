"""``glossfree analyze tokens``: paper 003's visual-token analysis (nearest LM words, t-SNE, KDE entropy)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from glossfree.cli.main import app
from glossfree.inference.analysis import (
    collapse_repeats,
    kde_entropy,
    nearest_vocabulary,
)


def test_nearest_vocabulary_hand_computed():
    embeddings = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    tokens = torch.tensor([[0.9, 0.1], [0.1, 0.2], [4.0, 4.0]])
    assert nearest_vocabulary(tokens, embeddings).tolist() == [1, 0, 3]
    # without entry 0: (0.1, 0.2) is 0.806 from (0, 1) and 0.922 from (1, 0)
    assert nearest_vocabulary(tokens, embeddings, exclude=[0]).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match=r"must be \[L, d\] and \[V, d\]"):
        nearest_vocabulary(tokens, embeddings[:, :1])


def test_collapse_repeats():
    assert collapse_repeats(["wind", "wind", "bleibt", "wind", "wind"]) == ["wind", "bleibt", "wind"]
    assert collapse_repeats([]) == []


def test_kde_entropy_is_equation_4():
    """2-D points with PCA to 2 dims (a rotation: distances kept): f is the Gaussian KDE with Scott's
    bandwidth n^(-1/6) evaluated at the points, H = -sum f log f."""
    pytest.importorskip("sklearn")
    points = np.random.default_rng(0).normal(size=(50, 2))
    h = 50 ** (-1 / 6)
    squared = ((points[:, None] - points[None]) ** 2).sum(-1)
    density = np.exp(-squared / (2 * h * h)).mean(axis=1) / (2 * np.pi * h * h)
    result = kde_entropy(points, components=2)
    assert result["n"] == 50 and result["components"] == 2
    assert result["kde_entropy"] == pytest.approx(-(density * np.log(density)).sum(), rel=1e-6)
    assert result["kde_entropy_mean_log"] == pytest.approx(-np.log(density).mean(), rel=1e-6)
    # a tighter cloud is denser: lower resubstitution entropy (the paper's "more compact")
    assert kde_entropy(points * 0.1)["kde_entropy_mean_log"] < result["kde_entropy_mean_log"]


def test_analyze_tokens_on_a_trained_run(tiny_run, tiny_corpus, tmp_path):
    pytest.importorskip("sklearn")
    from glossfree.data.manifest import load_split
    from glossfree.inference.loading import load_trained

    out = tmp_path / "analysis"
    result = CliRunner().invoke(app, ["analyze", "tokens", str(tiny_run), "--data", str(tiny_corpus), "--split", "dev",
                                      "--out", str(out), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    lines = [json.loads(line) for line in (out / "visual_tokens.jsonl").read_text(encoding="utf-8").splitlines()]
    dev = load_split(tiny_corpus, "dev")
    assert [line["id"] for line in lines] == [r.id for r in dev] and summary["samples"] == len(dev)
    assert [line["reference"] for line in lines] == [r.text for r in dev]
    # one nearest entry per visual token the LM reads, none of them a special token
    trained = load_trained(tiny_run)
    from glossfree.data.datasets import collate_pose
    from glossfree.training.datamodule import build_dataset

    dataset = build_dataset(trained.recipe.data, trained.recipe.model, dev[:1], tiny_corpus, train=False)
    with torch.inference_mode():
        tokens = trained.model.eval().visual_points(collate_pose([dataset[0]]))["tokens"]
    assert len(lines[0]["tokens"]) == int(tokens.mask[0].sum())
    special = set(trained.tokenizer.convert_ids_to_tokens(trained.tokenizer.all_special_ids))
    assert not special & {w for line in lines for w in line["tokens"]}
    assert lines[0]["visual_tokens"] == " ".join(collapse_repeats(lines[0]["tokens"]))
    assert summary["tokens"] == sum(len(line["tokens"]) for line in lines)
    assert np.isfinite(summary["kde_entropy"]) and (out / "tsne.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
