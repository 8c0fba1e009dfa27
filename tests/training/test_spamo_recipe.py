"""spamo/tiny end to end (paper 003): the two streams extracted from the synthetic signer's videos with
the built-in tiny extractor configs, the VT-Align warm-up stage training the Sign Adapter alone, then
L_ce + L_vt; the exported model carries its evaluation prompt, evaluates and translates a video."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from tiny import render_video_corpus
from typer.testing import CliRunner

from glossfree.cli.main import app
from glossfree.training.engine import LaunchConfig, train
from glossfree.training.tasks import load_recipe

SHORT = [
    "stages.0.max_steps=4", "stages.0.val_every_n_steps=2", "stages.0.batch_size=4",
    "stages.1.max_epochs=1", "stages.1.val_every_n_epochs=1", "stages.1.batch_size=4",
    "model.lm.generation.num_beams=1", "model.lm.generation.max_new_tokens=8",
    "tokenizer.vocab_size=100", "evaluation.batch_size=4",
]  # fmt: skip
ADAPTER = ("frontend.", "compressor.", "mapper.", "token_norm.", "objectives.vt_align.")


class Probe(L.Callback):
    """The model's state at the start and end of each stage."""

    def __init__(self) -> None:
        self.start: dict[str, dict[str, torch.Tensor]] = {}
        self.end: dict[str, dict[str, torch.Tensor]] = {}

    def on_train_start(self, trainer, pl_module) -> None:
        self.start[pl_module.stage.name] = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}

    def on_train_end(self, trainer, pl_module) -> None:
        self.end[pl_module.stage.name] = {k: v.detach().clone() for k, v in pl_module.model.state_dict().items()}


def _moved(start: dict[str, torch.Tensor], end: dict[str, torch.Tensor], prefix: str) -> bool:
    keys = [k for k in start if k.startswith(prefix) and start[k].is_floating_point()]
    assert keys, prefix
    return any(not torch.equal(start[k], end[k]) for k in keys)


@pytest.fixture(scope="module")
def spamo_corpus(tmp_path_factory) -> Path:
    root = render_video_corpus(tmp_path_factory.mktemp("spamo") / "data", seed=5)
    runner = CliRunner()
    for config_name, stream in (("spamo/clip_tiny", "clip_s2"), ("spamo/videomae_tiny", "videomae")):
        result = runner.invoke(app, ["extract", str(root), "--config", config_name, "--name", stream, "--no-progress"])
        assert result.exit_code == 0, result.output
    shutil.rmtree(root / "poses")  # the recipe reads cached features only
    return root


@pytest.mark.slow
def test_spamo_tiny_warm_up_trains_the_adapter_alone_then_everything(spamo_corpus, tmp_path):
    recipe = load_recipe("spamo/tiny", SHORT)
    probe = Probe()
    run_dir = tmp_path / "run"
    train(recipe, data_root=spamo_corpus, run_dir=run_dir,
          launch=LaunchConfig(accelerator="cpu", progress=False, extra_callbacks=[probe]))  # fmt: skip
    warm_start, warm_end = probe.start["vt_align_warmup"], probe.end["vt_align_warmup"]
    assert not _moved(warm_start, warm_end, "lm.")  # the LM stays as built
    assert all(_moved(warm_start, warm_end, prefix) for prefix in ("frontend.", "compressor.", "mapper."))
    assert _moved(warm_start, warm_end, "objectives.vt_align.")  # the temperature learns
    slt_start, slt_end = probe.start["slt"], probe.end["slt"]
    # stage 2 starts from the warm-up's best checkpoint: a trained adapter, the LM as built
    assert not _moved(warm_start, slt_start, "lm.") and _moved(warm_start, slt_start, "mapper.")
    assert _moved(slt_start, slt_end, "lm.") and _moved(slt_start, slt_end, "frontend.")
    # the stage losses: VT-Align alone, then both
    metrics = (run_dir / "logs" / "slt").rglob("metrics.csv")
    header = next(iter(metrics)).read_text(encoding="utf-8").splitlines()[0]
    assert "train/lm_ce" in header and "train/vt_align" in header

    metadata = json.loads((run_dir / "model" / "metadata.json").read_text(encoding="utf-8"))
    (prompt,) = metadata["prompts"].values()
    assert prompt.startswith("Translate the given sentence into German. ")
    train_texts = [json.loads(line)["text"] for line in (spamo_corpus / "manifest.jsonl").read_text().splitlines()
                   if json.loads(line)["split"] == "train"]  # fmt: skip
    assert prompt.removeprefix("Translate the given sentence into German. ") in train_texts
    result = CliRunner().invoke(app, ["evaluate", str(run_dir), "--data", str(spamo_corpus), "--split", "test",
                                      "--json", "--out", str(tmp_path / "eval")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["num_sentences"] == 2
    result = CliRunner().invoke(app, ["translate", str(spamo_corpus / "videos" / "test-00000.mp4"),
                                      "--model", str(run_dir), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert isinstance(json.loads(result.stdout)["text"], str)


@pytest.mark.slow
def test_spamo_tiny_with_lora_trains_under_two_process_ddp(spamo_corpus, tmp_path):
    # item 9 at CPU size: the T5 with LoRA on q/v reading cached features, both stages (VT-Align's
    # negatives gathered from both ranks), two processes over gloo
    run_dir = tmp_path / "ddp"
    overrides = [arg for item in SHORT for arg in ("--set", item)]
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
        "-m", "glossfree.cli.main", "train", "spamo/tiny", "--data", str(spamo_corpus), "--out", str(run_dir),
        "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--no-progress", *overrides,
        "--set", "model.lm.adapter={kind: lora, r: 4, alpha: 8, dropout: 0.1, target_modules: [q, v]}",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for stage in ("vt_align_warmup", "slt"):
        assert json.loads((run_dir / "stages" / stage / "done.json").read_text())["steps"] > 0
    assert (run_dir / "model" / "model.safetensors").is_file()
    assert "kind: lora" in (run_dir / "model" / "recipe.yaml").read_text(encoding="utf-8")
