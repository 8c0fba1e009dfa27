"""Issue 25: the ``sage/tiny`` recipe end to end on the synthetic signer's videos, with segments that
``glossfree segment`` wrote: they reach the batch unchanged, the contrastive pretraining trains the
VE, the translation stage leaves it as pretrained, and the exported model evaluates."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
from tiny import invoke, render_video_corpus

from glossfree.data.datasets import collate_pose
from glossfree.data.manifest import load_split
from glossfree.training.tasks import load_recipe

FAST = [
    "stages.0.max_epochs=1", "stages.0.batch_size=4", "stages.0.val_every_n_epochs=1",
    "stages.1.max_epochs=1", "stages.1.batch_size=4", "stages.1.val_every_n_epochs=1",
    "model.lm.generation.num_beams=1", "model.lm.generation.max_new_tokens=8", "tokenizer.vocab_size=100",
    "evaluation.batch_size=4",
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = render_video_corpus(tmp_path_factory.mktemp("sage") / "data", seed=6)
    result = invoke("segment", root, "--out", root / "segments_motion.jsonl", "--no-progress")
    assert result.exit_code == 0, result.output
    return root


def test_segments_written_by_glossfree_segment_reach_the_batch(corpus):
    from glossfree.models.slt import required_inputs
    from glossfree.training.datamodule import build_dataset

    recipe = load_recipe("sage/tiny", FAST)
    assert "segments" in required_inputs(recipe.model)
    records = load_split(corpus, "train")
    dataset = build_dataset(recipe.data, recipe.model, records, corpus, train=False)
    batch = collate_pose([dataset[i] for i in range(len(records))])
    written = {row["id"]: row for row in map(json.loads, (corpus / "segments_motion.jsonl").read_text().splitlines())}
    for row, record in enumerate(records):
        spans = [[sign["start"], sign["end"]] for sign in written[record.id]["signs"]]
        assert spans and written[record.id]["fps"] == 12.5  # the corpus's rate = the recipe's: same indices
        assert batch.segments[row, : int(batch.segment_mask[row].sum())].tolist() == spans


def test_sage_tiny_pretrains_then_translates(corpus, tmp_path):
    from glossfree.inference.loading import load_trained
    from glossfree.models.temporal.segment_pool import SegmentPool
    from glossfree.training.engine import LaunchConfig, train

    run = tmp_path / "run"
    train(load_recipe("sage/tiny", FAST), data_root=corpus, run_dir=run, launch=LaunchConfig(accelerator="cpu", progress=False))
    with (run / "logs" / "pretrain" / "attempt-0" / "metrics.csv").open() as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("train/clcl_hs")]
    assert rows and all(math.isfinite(float(row["train/clcl_hs"])) and math.isfinite(float(row["train/clcl_ce"])) for row in rows)

    model = load_trained(run).model
    assert isinstance(model.compressor, SegmentPool) and model.compressor.context is not None
    pretrained = torch.load(next((run / "stages" / "pretrain" / "checkpoints").glob("best-*.ckpt")), weights_only=False)["state_dict"]
    final = model.state_dict()
    ve = [name for name in final if name.startswith("compressor.context.")]
    assert ve and all(torch.equal(final[name], pretrained[f"model.{name}"]) for name in ve)  # translation drops the VE
    assert not torch.equal(final["compressor.conv.weight"], pretrained["model.compressor.conv.weight"])  # but trains the rest
    result = invoke("evaluate", run, "--data", corpus, "--split", "test", "--json", "--out", tmp_path / "eval")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["num_sentences"] == 2
