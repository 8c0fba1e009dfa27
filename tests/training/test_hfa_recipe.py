"""hfa/tiny end to end on stick-figure videos: pseudo-glosses and prototypes, pre-training (alignment
through the frozen text path + pseudo-gloss BCE, monitored by the dev loss; the LM encoder stays frozen), fine-tuning stage 1
(mapper + lm.decoder: the rest stays bit-identical) and stage 2, then evaluate and the baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tiny import invoke, render_video_corpus

FAST = [
    "model.frontend.preprocess.resize=32", "model.frontend.preprocess.crop=32",
    "model.compressor.num_layers=2", "model.compressor.downsample_after=1",
    "model.lm.generation.num_beams=2", "model.lm.generation.max_new_tokens=8", "tokenizer.vocab_size=80",
    "data.num_workers=0",
    *[f"stages.{i}.{key}" for i in range(3) for key in ("max_epochs=1", "val_every_n_epochs=1", "batch_size=4")],
]  # fmt: skip


@pytest.fixture(scope="module")
def hfa_corpus(tmp_path_factory) -> Path:
    root = render_video_corpus(tmp_path_factory.mktemp("hfa_corpus"), seed=3)
    assert invoke("pseudo-glosses", root).exit_code == 0
    result = invoke("prototypes", root, "--dim", 32, "--epochs", 2, "--buckets", 1000)
    assert result.exit_code == 0, result.output
    return root


class Snapshots:
    """The model's weights at the start and end of each stage (a Lightning callback)."""

    def __init__(self) -> None:
        import lightning as L

        outer = self

        class Probe(L.Callback):
            def on_train_start(self, trainer, pl_module) -> None:
                outer.start[pl_module.stage.name] = {k: v.detach().clone() for k, v in pl_module.model.named_parameters()}

            def on_train_end(self, trainer, pl_module) -> None:
                outer.end[pl_module.stage.name] = {k: v.detach().clone() for k, v in pl_module.model.named_parameters()}
                outer.pieces = {p: pl_module.model.sub_part(p)[0] for p in ("lm.encoder", "lm.decoder")}

        self.start: dict[str, dict[str, torch.Tensor]] = {}
        self.end: dict[str, dict[str, torch.Tensor]] = {}
        self.pieces: dict[str, frozenset[str]] = {}
        self.callback = Probe()


def test_pretrain_finetune_evaluate(hfa_corpus, tmp_path):
    from glossfree.training.engine import LaunchConfig, train
    from glossfree.training.tasks import load_recipe

    recipe = load_recipe("hfa/tiny", FAST)
    snapshots = Snapshots()
    run_dir = tmp_path / "run"
    result = train(recipe, data_root=hfa_corpus, run_dir=run_dir,
                   launch=LaunchConfig(accelerator="cpu", progress=False, extra_callbacks=[snapshots.callback]))  # fmt: skip
    assert [stage["stage"] for stage in result.stages] == ["pretrain", "finetune1", "finetune2"]
    metrics = (run_dir / "logs" / "pretrain").glob("attempt-*/metrics.csv")
    header = next(iter(metrics)).read_text(encoding="utf-8").splitlines()[0]
    assert "dev/clip_global" in header and "dev/pseudo_gloss_bce" in header and "dev/loss" in header
    # pre-training moves the frontend and the temporal encoder, never the LM: its encoder is the
    # frozen text encoder of L_align (trained, the sentence side collapsed: configs/hfa/tiny.yaml)
    start, end = snapshots.start["pretrain"], snapshots.end["pretrain"]
    moved = {name for name in start if not torch.equal(start[name], end[name])}
    assert any(n.startswith("frontend.") for n in moved) and any(n.startswith("compressor.") for n in moved)
    assert not moved & (snapshots.pieces["lm.encoder"] | snapshots.pieces["lm.decoder"])
    # fine-tuning stage 1: mapper (with token_norm) and decoder only
    start, end = snapshots.start["finetune1"], snapshots.end["finetune1"]
    moved = {name for name in start if not torch.equal(start[name], end[name])}
    assert moved and all(n.startswith(("mapper.", "token_norm.")) or n in snapshots.pieces["lm.decoder"] for n in moved)
    # evaluate the exported model on the test split, with the demo's baselines beside it
    result = invoke("evaluate", run_dir, "--data", hfa_corpus, "--split", "test", "--json", "--baselines",
                    "--out", tmp_path / "eval")  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["num_sentences"] == 2 and "bleu4" in scores
    assert {"baseline_most_frequent_sentence", "baseline_shuffled_inputs"} <= set(scores)


def test_shuffled_input_baseline_scores_each_video_sample_on_another_samples_input(tmp_path):
    """A video model's shuffled-input baseline: sample i is scored on the translation of another
    sample's whole input (video and span), never on its own."""
    from unittest import mock

    from glossfree.data.manifest import Record
    from glossfree.inference import evaluate as evaluate_module

    records = [Record(id=f"r{i}", split="test", text=f"satz {i}", language="de", video=f"videos/{i}.mp4",
                      start=float(i), end=float(i) + 1) for i in range(4)]  # fmt: skip
    seen = {}

    def generate(trained, given, root):  # the model's translation of each record's own input
        return {record.id: f"{record.video}@{record.start}" for record in given}

    def score(hypotheses, refs, **kwargs):
        seen["hypotheses"] = hypotheses

    with mock.patch.object(evaluate_module, "generate_records", side_effect=generate), \
            mock.patch.object(evaluate_module, "score_split", side_effect=score):  # fmt: skip
        evaluate_module.shuffled_input_baseline(None, records, tmp_path, preset="signjoey")
    hypotheses = seen["hypotheses"]
    assert sorted(hypotheses) == [r.id for r in records]
    own = {r.id: f"{r.video}@{r.start}" for r in records}
    assert all(hypotheses[sid] != own[sid] for sid in own)  # never its own input
    assert sorted(hypotheses.values()) == sorted(own.values())  # every input used once
